/* Streaming BLAKE2b: published vectors, chunking, whole files and hex. */
#include "check.h"
#include "hash.h"
#include "platform.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex_of(const unsigned char *bin, size_t len, char *out)
{
	ib_hex(out, bin, len);
}

static void test_vectors(void)
{
	struct ib_hash h = {0};
	unsigned char out[IB_HASH_SIG_BYTES];
	char hex[IB_HASH_SIG_BYTES * 2 + 1];
	struct ib_err err;

	/* RFC 7693, appendix A. */
	CHECK(ib_hash_init(&h, IB_HASH_SIG_BYTES, &err) == 0);
	ib_hash_update(&h, "abc", 3);
	ib_hash_final(&h, out);
	CHECK(h.state == NULL);
	hex_of(out, IB_HASH_SIG_BYTES, hex);
	CHECK_STR(hex, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
	               "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");

	CHECK(ib_hash_init(&h, IB_HASH_FILE_BYTES, &err) == 0);
	ib_hash_final(&h, out);
	hex_of(out, IB_HASH_FILE_BYTES, hex);
	CHECK_STR(hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");

	CHECK(ib_hash_init(&h, 65, &err) == IB_EINTERNAL);
	CHECK(h.state == NULL);
}

static void test_chunks_and_abort(void)
{
	unsigned char data[1000], one[IB_HASH_FILE_BYTES], many[IB_HASH_FILE_BYTES];
	struct ib_hash h = {0};
	struct ib_err err;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7);
	crypto_generichash(one, sizeof one, data, sizeof data, NULL, 0);
	CHECK(ib_hash_init(&h, sizeof many, &err) == 0);
	CHECK(((uintptr_t)h.state % 64) == 0);
	for (size_t off = 0; off < sizeof data; off += 37)
		ib_hash_update(&h, data + off, sizeof data - off < 37 ? sizeof data - off : 37);
	ib_hash_final(&h, many);
	CHECK(memcmp(one, many, sizeof one) == 0);

	/* Abort is safe on a fresh, a running and a finished hash. */
	memset(&h, 0, sizeof h);
	ib_hash_abort(&h);
	CHECK(ib_hash_init(&h, IB_HASH_SIG_BYTES, &err) == 0);
	ib_hash_update(&h, data, 10);
	ib_hash_abort(&h);
	CHECK(h.state == NULL);
	ib_hash_abort(&h);
}

static void test_file(const char *dir)
{
	size_t size = 3 * 65536 + 123; /* several read chunks and a partial one */
	unsigned char *data = malloc(size);
	unsigned char want[IB_HASH_SIG_BYTES], got[IB_HASH_SIG_BYTES];
	char path[4096];
	struct ib_err err;
	FILE *f;

	snprintf(path, sizeof path, "%s/data.bin", dir);
	randombytes_buf(data, size);
	f = fopen(path, "wb");
	CHECK(f && fwrite(data, 1, size, f) == size);
	if (f)
		fclose(f);
	crypto_generichash(want, sizeof want, data, size, NULL, 0);
	CHECK(ib_hash_file(path, sizeof got, got, &err) == 0);
	CHECK(memcmp(want, got, sizeof want) == 0);
	free(data);

	snprintf(path, sizeof path, "%s/missing.bin", dir);
	CHECK(ib_hash_file(path, sizeof got, got, &err) != 0);
	CHECK_CONTAINS(err.msg, "missing.bin");
}

int main(void)
{
	const char *tmp = getenv("IBDRV_TEST_TMP");
	unsigned char rnd[6];
	char dir[4096], hex[13];
	struct ib_err err;

	if (sodium_init() < 0 || !tmp)
		return 1;
	randombytes_buf(rnd, sizeof rnd);
	ib_hex(hex, rnd, sizeof rnd);
	CHECK(strlen(hex) == 12);
	snprintf(dir, sizeof dir, "%s/test_hash.%s", tmp, hex);
	CHECK(plat_mkdir_p(dir, 0700, &err) == 0);

	test_vectors();
	test_chunks_and_abort();
	test_file(dir);

	plat_remove_tree(dir, NULL);
	return check_report();
}
