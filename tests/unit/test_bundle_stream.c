/*
 * Packing and reading bundles larger than the hashing workers' rings: the
 * same bytes every time, extraction of the chosen driver, and a damaged entry
 * named by its check.
 */
#include "bundle.h"
#include "check.h"
#include "platform.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG_SIZE (6u * 1024 * 1024 + 77)
#define TEXT_SIZE (3u * 1024 * 1024)

static char dir[2048];

/* dir/name, in one of a few rotating buffers (names are short). */
static char *in_dir(const char *name)
{
	static char bufs[8][4096];
	static int next;
	char *p = bufs[next++ % 8];

	if (snprintf(p, sizeof bufs[0], "%s/%s", dir, name) >= (int)sizeof bufs[0])
		abort();
	return p;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(data, 1, len, f) == len;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok;
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	long size;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)size + 1);
		if (data && fread(data, 1, (size_t)size, f) == (size_t)size)
			*len = (size_t)size;
	}
	fclose(f);
	return data;
}

static const char manifest[] =
        "{\"format\": 1, \"name\": \"stream\", \"sequence\": 7, \"drivers\": ["
        "{\"id\": \"a-ofed\", \"platform\": \"linux\", \"kind\": \"mlnx-ofed\", \"version\": "
        "\"1.0\", \"os\": [{\"family\": \"linux\", \"id\": \"ubuntu\", \"version\": \"22.04\"}], "
        "\"nics\": [\"CX6\"], \"sriov\": true, \"source\": \"a\", \"files\": ["
        "{\"path\": \"big.bin\"}, {\"path\": \"install.sh\", \"mode\": \"0755\"}], "
        "\"install\": {\"argv\": [\"sh\", \"install.sh\"], \"timeout_seconds\": 60, "
        "\"success_codes\": [0], \"reboot_codes\": []}},"
        "{\"id\": \"b-ofed\", \"platform\": \"linux\", \"kind\": \"mlnx-ofed\", \"version\": "
        "\"1.0\", \"os\": [{\"family\": \"linux\", \"id\": \"ubuntu\", \"version\": \"20.04\"}], "
        "\"nics\": [\"CX5\"], \"sriov\": true, \"source\": \"b\", \"files\": ["
        "{\"path\": \"doc/text.txt\"}], "
        "\"install\": {\"argv\": [\"sh\", \"install.sh\"], \"timeout_seconds\": 60, "
        "\"success_codes\": [0], \"reboot_codes\": []}}]}";

static int choose_a(void *ctx, const struct ib_manifest *m, const struct ib_driver **driver,
                    struct ib_err *err)
{
	(void)ctx;
	(void)err;
	*driver = &m->drivers[0];
	return 0;
}

static int pack(const struct ib_seckey *sk, enum ib_compression c, const char *out,
                struct ib_err *err)
{
	struct ib_pack_opts o = {.manifest_path = in_dir("bundle.json"),
	                         .out_path = out,
	                         .compression = c,
	                         .level = 1,
	                         .timestamp = 1700000000,
	                         .quiet = 1,
	                         .overwrite = 1};
	struct ib_pack_result res;

	return ib_bundle_pack(&o, sk, &res, err);
}

static int same_files(const char *x, const char *y)
{
	size_t lx, ly;
	unsigned char *a = read_file(x, &lx), *b = read_file(y, &ly);
	int same = a && b && lx == ly && memcmp(a, b, lx) == 0;

	free(a);
	free(b);
	return same;
}

int main(void)
{
	const char *tmp = getenv("IBDRV_TEST_TMP");
	unsigned char rnd[6], *big = malloc(BIG_SIZE), *text = malloc(TEXT_SIZE), *bundle;
	struct ib_read_opts ro = {0};
	struct ib_seckey *sk = NULL;
	struct ib_pubkey pk;
	struct ib_bundle b;
	struct ib_err err;
	enum plat_kind kind;
	size_t len;
	char hex[13];

	if (sodium_init() < 0 || !tmp || !big || !text)
		return 1;
	randombytes_buf(rnd, sizeof rnd);
	ib_hex(hex, rnd, sizeof rnd);
	snprintf(dir, sizeof dir, "%s/test_bundle_stream.%s", tmp, hex);
	CHECK(plat_mkdir_p(in_dir("a"), 0700, &err) == 0);
	CHECK(plat_mkdir_p(in_dir("b/doc"), 0700, &err) == 0);
	randombytes_buf(big, BIG_SIZE);
	for (size_t i = 0; i < TEXT_SIZE; i++)
		text[i] = (unsigned char)(i % 77 == 76 ? '\n' : 'a' + (i * 131 + i / 977) % 26);
	CHECK(write_file(in_dir("a/big.bin"), big, BIG_SIZE));
	CHECK(write_file(in_dir("a/install.sh"), "exit 0\n", 7));
	CHECK(write_file(in_dir("b/doc/text.txt"), text, TEXT_SIZE));
	CHECK(write_file(in_dir("bundle.json"), manifest, strlen(manifest)));
	CHECK(ib_keygen(in_dir("k.pub"), in_dir("k.sec"), NULL, 0, &err) == 0);
	CHECK(ib_seckey_load(in_dir("k.sec"), &sk, &err) == 0);
	CHECK(ib_pubkey_load(in_dir("k.pub"), &pk, &err) == 0);
	if (!sk)
		return check_report();

	/* The same bytes every time, whatever the workers' timing. */
	CHECK(pack(sk, IB_COMPRESS_ZSTD, in_dir("z1.ibb"), &err) == 0);
	CHECK(pack(sk, IB_COMPRESS_ZSTD, in_dir("z2.ibb"), &err) == 0);
	CHECK(same_files(in_dir("z1.ibb"), in_dir("z2.ibb")));
	CHECK(pack(sk, IB_COMPRESS_NONE, in_dir("n.ibb"), &err) == 0);

	/* Read with extraction of the first driver. */
	ro.keys = &pk;
	ro.n_keys = 1;
	ro.choose = choose_a;
	ro.extract_dir = in_dir("x");
	ro.quiet = 1;
	CHECK(plat_mkdir_p(in_dir("x"), 0700, &err) == 0);
	CHECK(ib_bundle_read(in_dir("z1.ibb"), &ro, &b, &err) == 0);
	if (b.manifest) {
		CHECK(b.manifest->sequence == 7);
		CHECK(b.chosen == &b.manifest->drivers[0]);
		ib_bundle_release(&b);
	}
	bundle = read_file(in_dir("x/big.bin"), &len);
	CHECK(bundle && len == BIG_SIZE && memcmp(bundle, big, BIG_SIZE) == 0);
	free(bundle);
	CHECK(same_files(in_dir("x/install.sh"), in_dir("a/install.sh")));
	CHECK(plat_lstat(in_dir("x/doc"), &kind, NULL, &err) == 0 && kind == PLAT_MISSING);

	ro.choose = NULL;
	ro.extract_dir = NULL;
	CHECK(ib_bundle_read(in_dir("n.ibb"), &ro, &b, &err) == 0);
	ib_bundle_release(&b);

	/*
	 * One byte changed in the middle of big.bin, beyond the first ring's worth
	 * of data, in a copy re-signed as it is: the entry's hash check names it.
	 */
	bundle = read_file(in_dir("n.ibb"), &len);
	CHECK(bundle && len > BIG_SIZE);
	if (bundle) {
		struct ib_sig sig;
		unsigned char whole[IB_HASH_SIG_BYTES];
		char *text_sig = NULL;

		bundle[5u * 1024 * 1024] ^= 1;
		CHECK(write_file(in_dir("t.ibb"), bundle, len));
		crypto_generichash(whole, sizeof whole, bundle, len, NULL, 0);
		CHECK(ib_sig_load(in_dir("n.ibb.minisig"), &sig, &err) == 0);
		CHECK(ib_sign_hash(sk, whole, sig.trusted_comment, NULL, &text_sig, &err) == 0);
		CHECK(text_sig && write_file(in_dir("t.ibb.minisig"), text_sig, strlen(text_sig)));
		free(text_sig);
		ib_err_clear(&err);
		CHECK(ib_bundle_read(in_dir("t.ibb"), &ro, &b, &err) == IB_EVERIFY);
		CHECK_CONTAINS(err.msg,
		               "entry 'drivers/a-ofed/big.bin' does not match its BLAKE2b-256");
		CHECK(strchr(err.msg, '\n') == NULL);
		free(bundle);
	}

	ib_seckey_free(sk);
	plat_remove_tree(dir, NULL);
	free(big);
	free(text);
	return check_report();
}
