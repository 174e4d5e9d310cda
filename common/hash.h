/*
 * hash.h - streaming BLAKE2b (libsodium's crypto_generichash).
 *
 * BLAKE2b-512 (64 bytes) is what minisign signs; BLAKE2b-256 (32 bytes) is the
 * per-file hash in bundle manifests. The state is heap-allocated with the
 * 64-byte alignment libsodium wants; ib_hash_final frees it.
 */
#ifndef IBDRV_HASH_H
#define IBDRV_HASH_H

#include "err.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define IB_HASH_SIG_BYTES 64
#define IB_HASH_FILE_BYTES 32
#define IB_HASH_FILE_HEX (IB_HASH_FILE_BYTES * 2 + 1)

struct ib_hash {
	crypto_generichash_state *state; /* inside block */
	void *block;
	size_t outlen;
};

int ib_hash_init(struct ib_hash *h, size_t outlen, struct ib_err *err);
void ib_hash_update(struct ib_hash *h, const void *data, size_t len);
/* Writes h->outlen bytes to out and releases the state. */
void ib_hash_final(struct ib_hash *h, unsigned char *out);
/* Releases the state without a result (safe on a zeroed or finished struct). */
void ib_hash_abort(struct ib_hash *h);

/*
 * Hashes the whole regular file at path into out (outlen bytes), reading it
 * in 64 KiB chunks so that memory does not grow with the file's size.
 */
int ib_hash_file(const char *path, size_t outlen, unsigned char *out, struct ib_err *err);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void ib_hex(char *out, const unsigned char *bin, size_t len);

#endif
