/* The hashing workers: order, hashes equal to one-shot ones, ring wrap-around, failures. */
#include "check.h"
#include "hash.h"
#include "hashpipe.h"
#include "platform.h"
#include "readahead.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More than the rings hold, and not a multiple of a chunk. */
#define BIG (IB_HASHPIPE_SLOTS * IB_HASHPIPE_CHUNK * 2 + 12345)

struct order {
	size_t calls;
	size_t next_seq; /* chunks carry their sequence number in their first bytes */
	int out_of_order;
};

static int record_order(void *ctx, int stage, const unsigned char *data, size_t len,
                        struct ib_err *err)
{
	struct order *o = ctx;
	size_t seq;

	(void)stage;
	(void)err;
	memcpy(&seq, data, sizeof seq);
	if (len < sizeof seq || seq != o->next_seq)
		o->out_of_order = 1;
	o->next_seq++;
	o->calls++;
	return 0;
}

struct refuse {
	size_t calls;
	size_t refuse_at;
};

static int refuse_later(void *ctx, int stage, const unsigned char *data, size_t len,
                        struct ib_err *err)
{
	struct refuse *r = ctx;

	(void)stage;
	(void)data;
	(void)len;
	if (++r->calls == r->refuse_at)
		return ib_fail(err, IB_EIO, "chunk %zu: cannot write", r->calls);
	return 0;
}

static void hash_of(const unsigned char *data, size_t len, unsigned char out[IB_HASH_FILE_BYTES])
{
	crypto_generichash(out, IB_HASH_FILE_BYTES, data, len, NULL, 0);
}

static void test_buffers_in_order(const unsigned char *data)
{
	struct ib_hashpipe *p = NULL;
	struct ib_hash h = {0};
	struct order o = {0};
	unsigned char want[IB_HASH_FILE_BYTES], got[IB_HASH_FILE_BYTES], *buf;
	size_t off = 0, chunks = 0;
	struct ib_err err;

	CHECK(ib_hashpipe_start(&p, 1, &err) == 0);
	CHECK(ib_hash_init(&h, IB_HASH_FILE_BYTES, &err) == 0);
	/* Uneven lengths, some full; each buffer is hashed once and in order. */
	while (off < BIG) {
		size_t len = chunks % 3 == 0 ? IB_HASHPIPE_CHUNK : 1000 + chunks * 17;

		if (len > BIG - off)
			len = BIG - off;
		CHECK(ib_hashpipe_buffer(p, &buf, &err) == 0);
		memcpy(buf, data + off, len);
		ib_hashpipe_submit(p, ib_hashpipe_hash, &h, len);
		off += len;
		chunks++;
	}
	CHECK(ib_hashpipe_sync(p, &err) == 0);
	ib_hash_final(&h, got);
	hash_of(data, BIG, want);
	CHECK(memcmp(want, got, sizeof want) == 0);

	for (size_t seq = 0; seq < 3 * IB_HASHPIPE_SLOTS; seq++) {
		CHECK(ib_hashpipe_buffer(p, &buf, &err) == 0);
		memcpy(buf, &seq, sizeof seq);
		ib_hashpipe_submit(p, record_order, &o, sizeof seq);
	}
	CHECK(ib_hashpipe_sync(p, &err) == 0);
	CHECK(o.calls == 3 * IB_HASHPIPE_SLOTS);
	CHECK(!o.out_of_order);
	ib_hashpipe_stop(p);
}

/* Small writes are gathered; switching to another hash flushes what was gathered. */
static void test_writes_two_hashes(const unsigned char *data)
{
	struct ib_hashpipe *p = NULL;
	struct ib_hash a = {0}, b = {0};
	unsigned char want_a[IB_HASH_FILE_BYTES], want_b[IB_HASH_FILE_BYTES];
	unsigned char got[IB_HASH_FILE_BYTES];
	size_t half = BIG / 2, step = 10240, off;
	struct ib_err err;
	int rc = 0;

	CHECK(ib_hashpipe_start(&p, 1, &err) == 0);
	CHECK(ib_hash_init(&a, IB_HASH_FILE_BYTES, &err) == 0);
	CHECK(ib_hash_init(&b, IB_HASH_FILE_BYTES, &err) == 0);
	for (off = 0; off < half && rc == 0; off += step) {
		size_t len = half - off < step ? half - off : step;

		rc = ib_hashpipe_write(p, ib_hashpipe_hash, &a, data + off, len, &err);
		if (rc == 0 && off % (7 * step) == 0)
			rc = ib_hashpipe_write(p, ib_hashpipe_hash, &b, data + half + off, len,
			                       &err);
	}
	CHECK(rc == 0);
	CHECK(ib_hashpipe_sync(p, &err) == 0);
	ib_hash_final(&a, got);
	hash_of(data, half, want_a);
	CHECK(memcmp(want_a, got, sizeof got) == 0);

	/* b got every seventh piece of the second half. */
	{
		struct ib_hash ref = {0};

		CHECK(ib_hash_init(&ref, IB_HASH_FILE_BYTES, &err) == 0);
		for (off = 0; off < half; off += 7 * step)
			ib_hash_update(&ref, data + half + off,
			               half - off < step ? half - off : step);
		ib_hash_final(&ref, want_b);
	}
	ib_hash_final(&b, got);
	CHECK(memcmp(want_b, got, sizeof got) == 0);
	ib_hashpipe_stop(p);
}

/* Stage 0 hashes, stage 1 copies out: both see every chunk before its buffer is reused. */
struct copy_out {
	struct ib_hash h;
	unsigned char *out;
	size_t len;
};

static int hash_and_copy(void *ctx, int stage, const unsigned char *data, size_t len,
                         struct ib_err *err)
{
	struct copy_out *c = ctx;

	if (stage == 0)
		return ib_hashpipe_hash(&c->h, stage, data, len, err);
	memcpy(c->out + c->len, data, len);
	c->len += len;
	return 0;
}

static void test_two_stages(const unsigned char *data)
{
	struct ib_hashpipe *p = NULL;
	struct copy_out c = {.out = malloc(BIG)};
	unsigned char want[IB_HASH_FILE_BYTES], got[IB_HASH_FILE_BYTES];
	struct ib_err err;
	int rc = 0;

	CHECK(c.out != NULL);
	CHECK(ib_hashpipe_start(&p, 3, &err) == IB_EINTERNAL);
	CHECK(ib_hashpipe_start(&p, 2, &err) == 0);
	CHECK(ib_hash_init(&c.h, IB_HASH_FILE_BYTES, &err) == 0);
	for (size_t off = 0; off < BIG && rc == 0 && c.out; off += 4096)
		rc = ib_hashpipe_write(p, hash_and_copy, &c, data + off,
		                       BIG - off < 4096 ? BIG - off : 4096, &err);
	CHECK(rc == 0);
	CHECK(ib_hashpipe_sync(p, &err) == 0);
	ib_hash_final(&c.h, got);
	hash_of(data, BIG, want);
	CHECK(memcmp(want, got, sizeof want) == 0);
	CHECK(c.len == BIG && memcmp(c.out, data, BIG) == 0);
	ib_hashpipe_stop(p);
	free(c.out);
}

/* The first failure sticks, with its message; later chunks are not consumed. */
static void test_failure(void)
{
	struct ib_hashpipe *p = NULL;
	struct refuse r = {.refuse_at = 3};
	unsigned char *buf;
	struct ib_err err;
	int rc = 0;

	CHECK(ib_hashpipe_start(&p, 1, &err) == 0);
	for (size_t i = 0; i < 4 * IB_HASHPIPE_SLOTS && rc == 0; i++) {
		rc = ib_hashpipe_buffer(p, &buf, &err);
		if (rc == 0)
			ib_hashpipe_submit(p, refuse_later, &r, 1);
	}
	if (rc == 0)
		rc = ib_hashpipe_sync(p, &err);
	CHECK(rc == IB_EIO);
	CHECK_STR(err.msg, "chunk 3: cannot write");
	CHECK(r.calls == 3);
	ib_err_clear(&err);
	CHECK(ib_hashpipe_write(p, refuse_later, &r, "x", 1, &err) == IB_EIO);
	CHECK_STR(err.msg, "chunk 3: cannot write");
	CHECK(ib_hashpipe_sync(p, &err) == IB_EIO);
	ib_hashpipe_stop(p);

	/* Stopping with chunks still queued drops them. */
	CHECK(ib_hashpipe_start(&p, 1, &err) == 0);
	r.calls = 0;
	r.refuse_at = 0;
	for (size_t i = 0; i < IB_HASHPIPE_SLOTS; i++) {
		CHECK(ib_hashpipe_buffer(p, &buf, &err) == 0);
		ib_hashpipe_submit(p, refuse_later, &r, 1);
	}
	ib_hashpipe_stop(p);
	CHECK(r.calls <= IB_HASHPIPE_SLOTS);
	ib_hashpipe_stop(NULL);
}

static int write_file(const char *path, const unsigned char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(data, 1, len, f) == len;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok;
}

/* Reads path through r, checking every piece against data; returns the bytes seen. */
static size_t read_through(struct ib_readahead *r, FILE *fp, const unsigned char *data,
                           size_t max_pieces, unsigned char digest[IB_HASH_FILE_BYTES])
{
	struct ib_hash h = {0};
	const unsigned char *piece, *prev = NULL;
	size_t off = 0, len = 1, pieces = 0;
	struct ib_err err;

	CHECK(ib_hash_init(&h, IB_HASH_FILE_BYTES, &err) == 0);
	ib_readahead_open(r, fp, &h, "data.bin");
	while (pieces < max_pieces && ib_readahead_next(r, &piece, &len, &err) == 0 && len > 0) {
		/* A piece is intact while it is held, and the ring moves on. */
		CHECK(memcmp(piece, data + off, len) == 0);
		CHECK(piece != prev);
		prev = piece;
		off += len;
		pieces++;
	}
	if (len == 0)
		ib_hash_final(&h, digest);
	ib_readahead_close(r);
	ib_hash_abort(&h);
	return off;
}

static void test_readahead(const char *dir, const unsigned char *data)
{
	struct ib_readahead *r = NULL;
	unsigned char want[IB_HASH_FILE_BYTES], got[IB_HASH_FILE_BYTES];
	char big[4096], empty[4096];
	const unsigned char *piece;
	struct ib_hash h = {0};
	struct ib_err err;
	size_t len;
	FILE *fp;

	CHECK(snprintf(big, sizeof big, "%s/big.bin", dir) < (int)sizeof big);
	CHECK(snprintf(empty, sizeof empty, "%s/empty.bin", dir) < (int)sizeof empty);
	CHECK(write_file(big, data, BIG));
	CHECK(write_file(empty, data, 0));
	CHECK(ib_readahead_start(&r, &err) == 0);

	fp = fopen(big, "rb");
	CHECK(fp != NULL);
	CHECK(read_through(r, fp, data, SIZE_MAX, got) == BIG);
	hash_of(data, BIG, want);
	CHECK(memcmp(want, got, sizeof want) == 0);
	fclose(fp);

	/* Left after two pieces, then the next file is read from its start. */
	fp = fopen(big, "rb");
	CHECK(read_through(r, fp, data, 2, got) == 2 * IB_READAHEAD_CHUNK);
	fclose(fp);
	fp = fopen(empty, "rb");
	CHECK(read_through(r, fp, data, SIZE_MAX, got) == 0);
	hash_of(data, 0, want);
	CHECK(memcmp(want, got, sizeof want) == 0);
	fclose(fp);

	/* A folder opens but cannot be read: the error names it. */
	fp = fopen(dir, "rb");
	CHECK(fp != NULL);
	if (fp) {
		CHECK(ib_hash_init(&h, IB_HASH_FILE_BYTES, &err) == 0);
		ib_readahead_open(r, fp, &h, dir);
		CHECK(ib_readahead_next(r, &piece, &len, &err) == IB_EIO);
		CHECK(len == 0);
		CHECK_CONTAINS(err.msg, dir);
		CHECK_CONTAINS(err.msg, "read error");
		CHECK_CONTAINS(err.msg, strerror(EISDIR));
		ib_readahead_close(r);
		ib_hash_abort(&h);
		fclose(fp);
	}

	/* Stopping while a file is half read lets go of it first. */
	fp = fopen(big, "rb");
	CHECK(ib_hash_init(&h, IB_HASH_FILE_BYTES, &err) == 0);
	ib_readahead_open(r, fp, &h, big);
	CHECK(ib_readahead_next(r, &piece, &len, &err) == 0 && len == IB_READAHEAD_CHUNK);
	ib_readahead_stop(r);
	ib_hash_abort(&h);
	fclose(fp);
	ib_readahead_stop(NULL);
}

int main(void)
{
	const char *tmp = getenv("IBDRV_TEST_TMP");
	unsigned char rnd[6], *data = malloc(BIG);
	char dir[2048], hex[13];
	struct ib_err err;

	if (sodium_init() < 0 || !tmp || !data)
		return 1;
	randombytes_buf(data, BIG);
	randombytes_buf(rnd, sizeof rnd);
	ib_hex(hex, rnd, sizeof rnd);
	CHECK(snprintf(dir, sizeof dir, "%s/test_hashpipe.%s", tmp, hex) < (int)sizeof dir);
	CHECK(plat_mkdir_p(dir, 0700, &err) == 0);

	test_buffers_in_order(data);
	test_writes_two_hashes(data);
	test_two_stages(data);
	test_failure();
	test_readahead(dir, data);

	plat_remove_tree(dir, NULL);
	free(data);
	return check_report();
}
