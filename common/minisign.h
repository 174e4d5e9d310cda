/*
 * minisign.h - minisign-compatible Ed25519 keys and signatures.
 *
 * Files are byte-compatible with minisign 0.11: public keys, secret keys
 * (scrypt-encrypted or not), and prehashed ("ED") .minisig signatures over the
 * BLAKE2b-512 of a file. Legacy "Ed" signatures are refused.
 * Secret key material lives in sodium_malloc'd memory and is wiped on free.
 */
#ifndef IBDRV_MINISIGN_H
#define IBDRV_MINISIGN_H

#include "err.h"
#include "hash.h"

#include <stddef.h>

#define IB_KEYNUM_BYTES 8
#define IB_TRUSTED_COMMENT_MAX 8192
#define IB_UNTRUSTED_COMMENT_MAX 1024

/* As a minisign public key's 42 bytes lie: decoded in place. */
struct ib_pubkey {
	unsigned char alg[2];
	unsigned char keynum[IB_KEYNUM_BYTES];
	unsigned char pk[32];
};

struct ib_seckey; /* opaque, sodium_malloc'd */

/* "A1B2..." upper-case key id as minisign prints it (little-endian keynum). */
void ib_keyid_str(const unsigned char keynum[IB_KEYNUM_BYTES], char out[17]);

/*
 * Generates a key pair and writes both files atomically (secret key mode 0600).
 * passphrase NULL writes the secret key unencrypted (minisign -W).
 * Refuses to replace existing files unless force.
 */
int ib_keygen(const char *pub_path, const char *sec_path, const char *passphrase, int force,
              struct ib_err *err);

/*
 * Reads a public key file, or the base64 line alone (source names it in
 * errors). On failure *out holds no key.
 */
int ib_pubkey_load(const char *path, struct ib_pubkey *out, struct ib_err *err);
int ib_pubkey_parse(const char *text, size_t len, const char *source, struct ib_pubkey *out,
                    struct ib_err *err);

/* Reads and parses a secret key file; decrypt it before signing if encrypted. */
int ib_seckey_load(const char *path, struct ib_seckey **out, struct ib_err *err);
int ib_seckey_is_encrypted(const struct ib_seckey *sk);
/* Decrypts in place; a wrong passphrase gives IB_EVERIFY ("wrong passphrase"). */
int ib_seckey_decrypt(struct ib_seckey *sk, const char *passphrase, struct ib_err *err);
void ib_seckey_free(struct ib_seckey *sk);

/*
 * Signs a BLAKE2b-512 file hash. Returns the complete .minisig text in *out
 * (malloc'd, caller frees). untrusted_comment NULL gives minisign's default.
 */
int ib_sign_hash(const struct ib_seckey *sk, const unsigned char hash[IB_HASH_SIG_BYTES],
                 const char *trusted_comment, const char *untrusted_comment, char **out,
                 struct ib_err *err);

/*
 * alg, keynum and sig lie as the signature line's 74 bytes do, which are
 * decoded into them in place; sig and trusted_comment are adjacent: the
 * comment signature covers them as one message.
 */
struct ib_sig {
	unsigned char alg[2];
	unsigned char keynum[IB_KEYNUM_BYTES];
	unsigned char sig[64];
	char trusted_comment[IB_TRUSTED_COMMENT_MAX + 1];
	unsigned char global_sig[64];
};

/* Parses .minisig text (source names the file in errors). On failure *out holds no signature. */
int ib_sig_parse(const char *text, size_t len, const char *source, struct ib_sig *out,
                 struct ib_err *err);
int ib_sig_load(const char *path, struct ib_sig *out, struct ib_err *err);

/* minisign's signature file for file: "<file>.minisig" (malloc'd; NULL when out of memory). */
char *ib_sig_path_for(const char *file);

/*
 * Finds the trusted key that made sig (by key id) and checks the trusted
 * comment's signature with it, so the comment's fields can be relied on
 * before the file itself is read. *which gets the key's index.
 * Errors: IB_EVERIFY "signed by unknown key ID ...", "comment signature
 * verification failed: trusted comment tampered with".
 */
int ib_sig_check_comment(const struct ib_sig *sig, const struct ib_pubkey *keys, size_t nkeys,
                         size_t *which, struct ib_err *err);

/* Checks the file signature over the file's BLAKE2b-512 with key (IB_EVERIFY if not). */
int ib_sig_check_hash(const struct ib_sig *sig, const struct ib_pubkey *key,
                      const unsigned char hash[IB_HASH_SIG_BYTES], struct ib_err *err);

/*
 * Trusted comments are tab-separated "key:value" fields, as minisign's own
 * "timestamp:...\tfile:...\thashed". Copies the value of key into out.
 * Returns 0, or IB_EVERIFY when the key is absent or the value too long.
 */
int ib_tc_get(const char *trusted_comment, const char *key, char *out, size_t cap,
              struct ib_err *err);

#endif
