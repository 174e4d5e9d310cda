#include "hash.h"

#include "platform.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * libsodium's BLAKE2b code may use aligned vector loads on the state. C11's
 * aligned_alloc is missing from the Windows C runtimes, so the state is carved
 * out of a larger malloc block, which is what gets freed. Not wiped: only
 * public data (bundles, signed files) is hashed here.
 */
#define STATE_ALIGN 64

int ib_hash_init(struct ib_hash *h, size_t outlen, struct ib_err *err)
{
	h->outlen = outlen;
	h->block = malloc(sizeof(crypto_generichash_state) + STATE_ALIGN - 1);
	if (!h->block)
		return ib_oom(err);
	h->state = (crypto_generichash_state *)(((uintptr_t)h->block + STATE_ALIGN - 1) &
	                                        ~(uintptr_t)(STATE_ALIGN - 1));
	/* Fails only for an output length out of range. */
	if (crypto_generichash_init(h->state, NULL, 0, outlen) != 0) {
		ib_hash_abort(h);
		return ib_fail(err, IB_EINTERNAL, "hash length %zu out of range", outlen);
	}
	return 0;
}

void ib_hash_update(struct ib_hash *h, const void *data, size_t len)
{
	crypto_generichash_update(h->state, data, len);
}

void ib_hash_final(struct ib_hash *h, unsigned char *out)
{
	crypto_generichash_final(h->state, out, h->outlen);
	ib_hash_abort(h);
}

void ib_hash_abort(struct ib_hash *h)
{
	free(h->block);
	h->block = NULL;
	h->state = NULL;
}

#define FILE_CHUNK 65536

int ib_hash_file(const char *path, size_t outlen, unsigned char *out, struct ib_err *err)
{
	struct ib_hash h = {0};
	unsigned char *buf = malloc(FILE_CHUNK);
	FILE *fp = NULL;
	size_t n;
	int rc;

	if (!buf)
		return ib_oom(err);
	rc = plat_open_read(path, &fp, err);
	if (!rc)
		rc = ib_hash_init(&h, outlen, err);
	if (rc)
		goto out;
	while ((n = fread(buf, 1, FILE_CHUNK, fp)) > 0)
		ib_hash_update(&h, buf, n);
	if (ferror(fp)) {
		rc = ib_fail(err, IB_EIO, "%s: read error", path);
		goto out;
	}
	ib_hash_final(&h, out);
out:
	ib_hash_abort(&h);
	if (fp)
		fclose(fp);
	free(buf);
	return rc;
}

void ib_hex(char *out, const unsigned char *bin, size_t len)
{
	sodium_bin2hex(out, len * 2 + 1, bin, len);
}
