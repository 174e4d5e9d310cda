/*
 * minisign keys and signatures: round trips, every kind of tampering, the
 * encrypted key format (also built here independently from minisign's
 * layout), strict parsing of damaged or foreign files, trusted comment fields.
 */
#include "check.h"
#include "minisign.h"
#include "platform.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Offsets in minisign's secret key structure (minisign.h: SeckeyStruct). */
#define SK_KDF_ALG 2
#define SK_CHK_ALG 4
#define SK_SALT 6
#define SK_OPSLIMIT 38
#define SK_MEMLIMIT 46
#define SK_KEYNUM 54
#define SK_SK 62
#define SK_CHK 126
#define SK_SIZE 158

static char dir[4096];

static const char *at(const char *name)
{
	static char paths[8][4096];
	static int next;
	char *p = paths[next++ % 8];

	CHECK(snprintf(p, sizeof paths[0], "%s/%s", dir, name) < (int)sizeof paths[0]);
	return p;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	CHECK(f && fwrite(data, 1, len, f) == len);
	if (f)
		fclose(f);
}

static void write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

/* The whole file as a NUL-terminated string (caller frees). */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 65536);
	size_t n = 0;

	if (f && buf)
		n = fread(buf, 1, 65535, f);
	if (f)
		fclose(f);
	CHECK(n > 0);
	return buf;
}

static void b64_line(char *out, size_t cap, const unsigned char *bin, size_t len)
{
	sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

/* Decodes line 2 of a key file into blob; returns its length. */
static size_t key_blob(const char *path, unsigned char *blob, size_t cap)
{
	char *text = read_text(path);
	char *line = strchr(text, '\n');
	size_t len = 0;

	CHECK(line != NULL);
	if (line) {
		line++;
		CHECK(sodium_base642bin(blob, cap, line, strcspn(line, "\n"), NULL, &len, NULL,
		                        sodium_base64_VARIANT_ORIGINAL) == 0);
	}
	free(text);
	return len;
}

/* Writes a key file with comment line comment and blob as its key line. */
static void write_key(const char *path, const char *comment, const unsigned char *blob, size_t len)
{
	char b64[512], text[1024];

	b64_line(b64, sizeof b64, blob, len);
	snprintf(text, sizeof text, "untrusted comment: %s\n%s\n", comment, b64);
	write_text(path, text);
}

/* A copy of the key file src with n bytes at off of its binary key replaced. */
static void patched_key(const char *src, const char *dst, size_t off, const void *bytes, size_t n)
{
	unsigned char blob[256];
	size_t len = key_blob(src, blob, sizeof blob);

	memcpy(blob + off, bytes, n);
	write_key(dst, "patched", blob, len);
}

/* dst: src with the byte at off inverted, so that it differs whatever it was. */
static void flipped_key(const char *src, const char *dst, size_t off)
{
	unsigned char blob[256];
	size_t len = key_blob(src, blob, sizeof blob);

	blob[off] ^= 0xff;
	write_key(dst, "flipped", blob, len);
}

static void le64(unsigned char *p, unsigned long long x)
{
	for (int i = 0; i < 8; i++, x >>= 8)
		p[i] = (unsigned char)x;
}

/*
 * An encrypted key pair built from minisign's layout without our writer, with
 * the cheapest scrypt limits, so that the reader is checked against the format
 * itself and the test stays fast.
 */
static void make_cheap_encrypted(const char *pub_path, const char *sec_path, const char *pass,
                                 unsigned long long ops, unsigned long long mem)
{
	unsigned char blob[SK_SIZE] = {0}, stream[SK_SIZE - SK_KEYNUM], pk[42];
	crypto_generichash_state st;

	memcpy(blob, "EdScB2", 6);
	randombytes_buf(blob + SK_SALT, 32);
	le64(blob + SK_OPSLIMIT, ops);
	le64(blob + SK_MEMLIMIT, mem);
	randombytes_buf(blob + SK_KEYNUM, 8);
	crypto_sign_keypair(pk + 10, blob + SK_SK);
	memcpy(pk, "Ed", 2);
	memcpy(pk + 2, blob + SK_KEYNUM, 8);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, blob, 2);
	crypto_generichash_update(&st, blob + SK_KEYNUM, 8 + 64);
	crypto_generichash_final(&st, blob + SK_CHK, 32);
	CHECK(crypto_pwhash_scryptsalsa208sha256(stream, sizeof stream, pass, strlen(pass),
	                                         blob + SK_SALT, ops, mem) == 0);
	for (size_t i = 0; i < sizeof stream; i++)
		blob[SK_KEYNUM + i] ^= stream[i];
	write_key(sec_path, "minisign encrypted secret key", blob, sizeof blob);
	write_key(pub_path, "minisign public key", pk, sizeof pk);
}

static void digest(const char *data, unsigned char hash[IB_HASH_SIG_BYTES])
{
	crypto_generichash(hash, IB_HASH_SIG_BYTES, (const unsigned char *)data, strlen(data), NULL,
	                   0);
}

/* Signs data with sk and parses the result back; returns the .minisig text. */
static char *sign_parse(const struct ib_seckey *sk, const char *data, const char *tc,
                        struct ib_sig *sig)
{
	unsigned char hash[IB_HASH_SIG_BYTES];
	struct ib_err err;
	char *text = NULL;

	digest(data, hash);
	CHECK(ib_sign_hash(sk, hash, tc, NULL, &text, &err) == 0);
	CHECK(text && ib_sig_parse(text, strlen(text), "test.minisig", sig, &err) == 0);
	return text;
}

static void test_keyid(void)
{
	unsigned char keynum[IB_KEYNUM_BYTES] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0x0e};
	char id[17];

	ib_keyid_str(keynum, id);
	CHECK_STR(id, "0ECDAB8967452301");
}

static void test_roundtrip_and_tampering(void)
{
	struct ib_pubkey key, other, keys[2];
	struct ib_seckey *sk = NULL, *other_sk = NULL;
	unsigned char hash[IB_HASH_SIG_BYTES];
	struct ib_sig sig, bad;
	struct ib_err err;
	char *text, *pub_text;
	char id[17], line[128];
	size_t which = 99;

	CHECK(ib_keygen(at("a.pub"), at("a.sec"), NULL, 0, &err) == 0);
	CHECK(ib_keygen(at("b.pub"), at("b.sec"), NULL, 0, &err) == 0);
	CHECK(ib_pubkey_load(at("a.pub"), &key, &err) == 0);
	CHECK(ib_pubkey_load(at("b.pub"), &other, &err) == 0);
	CHECK(ib_seckey_load(at("a.sec"), &sk, &err) == 0);
	CHECK(ib_seckey_load(at("b.sec"), &other_sk, &err) == 0);
	if (!sk || !other_sk)
		goto out;
	CHECK(!ib_seckey_is_encrypted(sk));

	/* minisign's file formats, to the byte. */
	pub_text = read_text(at("a.pub"));
	ib_keyid_str(key.keynum, id);
	snprintf(line, sizeof line, "untrusted comment: minisign public key %s\nRW", id);
	CHECK(strncmp(pub_text, line, strlen(line)) == 0);
	CHECK(strlen(pub_text) == strlen(line) - 2 + 56 + 1);
	free(pub_text);
	pub_text = read_text(at("a.sec"));
	{
		static const char head[] =
		        "untrusted comment: minisign encrypted secret key\nRWQAAEIy";

		CHECK(strncmp(pub_text, head, strlen(head)) == 0);
	}
	free(pub_text);

	text = sign_parse(sk, "payload", "timestamp:1\tfile:payload\thashed", &sig);
	CHECK(strncmp(text, "untrusted comment: signature from minisign secret key\nRU", 56) == 0);
	CHECK_CONTAINS(text, "\ntrusted comment: timestamp:1\tfile:payload\thashed\n");
	free(text);
	CHECK_STR(sig.trusted_comment, "timestamp:1\tfile:payload\thashed");
	CHECK(memcmp(sig.keynum, key.keynum, IB_KEYNUM_BYTES) == 0);

	digest("payload", hash);
	CHECK(ib_sig_check_hash(&sig, &key, hash, &err) == 0);
	CHECK(ib_sig_check_comment(&sig, &key, 1, &which, &err) == 0);
	CHECK(which == 0);
	keys[0] = other;
	keys[1] = key;
	CHECK(ib_sig_check_comment(&sig, keys, 2, &which, &err) == 0);
	CHECK(which == 1);

	/* Another file. */
	digest("payloaD", hash);
	CHECK(ib_sig_check_hash(&sig, &key, hash, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "signature verification failed");
	digest("payload", hash);

	/* A changed signature fails both checks. */
	bad = sig;
	bad.sig[10] ^= 0x01;
	CHECK(ib_sig_check_hash(&bad, &key, hash, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "signature verification failed");
	CHECK(ib_sig_check_comment(&bad, &key, 1, NULL, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "tampered");

	/* A changed trusted comment: the file signature alone still holds. */
	bad = sig;
	memcpy(bad.trusted_comment, "timestamp:2", 11);
	CHECK(ib_sig_check_hash(&bad, &key, hash, &err) == 0);
	CHECK(ib_sig_check_comment(&bad, &key, 1, NULL, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "trusted comment");
	bad = sig;
	bad.global_sig[0] ^= 0x80;
	CHECK(ib_sig_check_comment(&bad, &key, 1, NULL, &err) == IB_EVERIFY);

	/* The wrong key. */
	CHECK(ib_sig_check_hash(&sig, &other, hash, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "signed by unknown key ID");
	CHECK_CONTAINS(err.msg, id);
	CHECK(ib_sig_check_comment(&sig, &other, 1, NULL, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "unknown key ID");
	/* The wrong key claiming the right key ID. */
	memcpy(other.keynum, key.keynum, IB_KEYNUM_BYTES);
	CHECK(ib_sig_check_hash(&sig, &other, hash, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "signature verification failed");
	CHECK(ib_sig_check_comment(&sig, &other, 1, NULL, &err) == IB_EVERIFY);

	/* Another secret key signing in the name of this public key. */
	text = sign_parse(other_sk, "payload", "x", &bad);
	free(text);
	CHECK(ib_sig_check_hash(&bad, &key, hash, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "signed by unknown key ID");

	/* Comments: one line each, within minisign's limits; the default untrusted one. */
	{
		char *long_tc = malloc(8200);
		char *long_uc = malloc(1100);

		memset(long_tc, 't', 8173);
		long_tc[8173] = '\0';
		text = sign_parse(sk, "payload", long_tc, &bad);
		free(text);
		CHECK(strlen(bad.trusted_comment) == 8173);
		CHECK(ib_sig_check_comment(&bad, &key, 1, NULL, &err) == 0);
		strcat(long_tc, "t");
		text = (char *)1;
		CHECK(ib_sign_hash(sk, hash, long_tc, NULL, &text, &err) == IB_EINPUT);
		CHECK(text == NULL);
		CHECK_CONTAINS(err.msg, "trusted comment is too long");
		CHECK(ib_sign_hash(sk, hash, "two\nlines", NULL, &text, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "single line");
		memset(long_uc, 'u', 1004);
		long_uc[1004] = '\0';
		CHECK(ib_sign_hash(sk, hash, "tc", long_uc, &text, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "untrusted comment is too long");
		long_uc[1003] = '\0';
		CHECK(ib_sign_hash(sk, hash, "tc", long_uc, &text, &err) == 0);
		CHECK(text && ib_sig_parse(text, strlen(text), "t", &bad, &err) == 0);
		free(text);
		CHECK(ib_sign_hash(sk, hash, "tc", "my comment", &text, &err) == 0);
		CHECK(text && strncmp(text, "untrusted comment: my comment\n", 30) == 0);
		free(text);
		free(long_tc);
		free(long_uc);
	}
out:
	ib_seckey_free(sk);
	ib_seckey_free(other_sk);
}

static void test_keygen_overwrite(void)
{
	struct ib_pubkey before, after;
	struct ib_err err;

	CHECK(ib_keygen(at("o.pub"), at("o.sec"), NULL, 0, &err) == 0);
	CHECK(ib_pubkey_load(at("o.pub"), &before, &err) == 0);
	CHECK(ib_keygen(at("o.pub"), at("fresh.sec"), NULL, 0, &err) == IB_EEXIST);
	CHECK_CONTAINS(err.msg, "o.pub: already exists");
	CHECK(ib_keygen(at("fresh.pub"), at("o.sec"), NULL, 0, &err) == IB_EEXIST);
	CHECK_CONTAINS(err.msg, "o.sec: already exists");
	CHECK(ib_keygen(at("same"), at("same"), NULL, 1, &err) == IB_EUSAGE);
	{
		enum plat_kind kind = PLAT_REGULAR;

		CHECK(plat_lstat(at("fresh.sec"), &kind, NULL, &err) == 0 && kind == PLAT_MISSING);
		CHECK(plat_lstat(at("fresh.pub"), &kind, NULL, &err) == 0 && kind == PLAT_MISSING);
	}
	CHECK(ib_pubkey_load(at("o.pub"), &after, &err) == 0);
	CHECK(memcmp(&before, &after, sizeof before) == 0);
	CHECK(ib_keygen(at("o.pub"), at("o.sec"), NULL, 1, &err) == 0);
	CHECK(ib_pubkey_load(at("o.pub"), &after, &err) == 0);
	CHECK(memcmp(&before, &after, sizeof before) != 0);
}

static void test_sig_parsing(void)
{
	struct ib_seckey *sk = NULL;
	struct ib_sig sig;
	struct ib_err err;
	char *text, *nl, buf[20000];
	unsigned char blob[74];
	char b64[200];
	size_t len;

	CHECK(ib_seckey_load(at("a.sec"), &sk, &err) == 0);
	if (!sk)
		return;
	text = sign_parse(sk, "data", "timestamp:5\tfile:data\thashed", &sig);

	/* Line endings: CRLF and a missing final newline are fine. */
	{
		char crlf[4096];
		size_t o = 0;

		for (const char *p = text; *p; p++) {
			if (*p == '\n')
				crlf[o++] = '\r';
			crlf[o++] = *p;
		}
		CHECK(ib_sig_parse(crlf, o, "crlf.minisig", &sig, &err) == 0);
		CHECK_STR(sig.trusted_comment, "timestamp:5\tfile:data\thashed");
		CHECK(ib_sig_parse(text, strlen(text) - 1, "nonl.minisig", &sig, &err) == 0);
		crlf[5] = '\r';
		CHECK(ib_sig_parse(crlf, o, "cr.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "carriage return");
	}

	/* Cut after each line. */
	nl = text;
	for (int line = 1; line <= 3; line++) {
		nl = strchr(nl, '\n') + 1;
		len = (size_t)(nl - text);
		CHECK(ib_sig_parse(text, len, "cut.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "cut.minisig: truncated");
	}
	CHECK(ib_sig_parse("", 0, "empty.minisig", &sig, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "empty.minisig");

	/* Wrong first line, extra text, a NUL byte. */
	snprintf(buf, sizeof buf, "comment%s", text + strlen("untrusted comment"));
	CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "does not start with \"untrusted comment: \"");
	snprintf(buf, sizeof buf, "%s\nmore\n", text);
	CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "unexpected text on line 6");
	snprintf(buf, sizeof buf, "%s\n\n", text);
	CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == 0);
	memcpy(buf, text, strlen(text));
	buf[30] = '\0';
	CHECK(ib_sig_parse(buf, strlen(text), "x.minisig", &sig, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "NUL");

	/* Trusted comment line: its prefix and length. */
	{
		const char *l3 = strstr(text, "\ntrusted comment: ") + 1;
		size_t head = (size_t)(l3 - text);
		char *big = malloc(20000);

		memcpy(buf, text, head);
		snprintf(buf + head, sizeof buf - head, "trusted: x\n%s", strchr(l3, '\n') + 1);
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "line 3 does not start with \"trusted comment: \"");
		memset(big, 'c', 8174);
		big[8174] = '\0';
		snprintf(buf + head, sizeof buf - head, "trusted comment: %s\n%s", big,
		         strchr(l3, '\n') + 1);
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "trusted comment too long");
		memset(big, 'u', 1004);
		big[1004] = '\0';
		snprintf(buf, sizeof buf, "untrusted comment: %s%s", big, strchr(text, '\n'));
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "untrusted comment too long");
		big[1003] = '\0';
		snprintf(buf, sizeof buf, "untrusted comment: %s%s", big, strchr(text, '\n'));
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == 0);
		free(big);
	}

	/* The signature line: base64, length, algorithm. */
	{
		const char *l2 = strchr(text, '\n') + 1;
		size_t head = (size_t)(l2 - text);
		const char *rest = strchr(l2, '\n');

		CHECK(sodium_base642bin(blob, sizeof blob, l2, (size_t)(rest - l2), NULL, &len,
		                        NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
		      len == sizeof blob);
		memcpy(buf, text, head);
		snprintf(buf + head, sizeof buf - head, "RUQ*%s", l2 + 4);
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "bad base64 in the signature on line 2 (column 4)");

		b64_line(b64, sizeof b64, blob, 70);
		snprintf(buf + head, sizeof buf - head, "%s%s", b64, rest);
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "wrong length (96 base64 characters, not 100)");

		memcpy(blob, "Ed", 2);
		b64_line(b64, sizeof b64, blob, sizeof blob);
		snprintf(buf + head, sizeof buf - head, "%s%s", b64, rest);
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "x.minisig: legacy (non-prehashed)");

		memcpy(blob, "Xy", 2);
		b64_line(b64, sizeof b64, blob, sizeof blob);
		snprintf(buf + head, sizeof buf - head, "%s%s", b64, rest);
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "unsupported signature algorithm \"Xy\"");
	}

	/* The comment signature line. */
	{
		const char *l4 = strrchr(text, '\n');
		size_t head;

		while (l4 > text && l4[-1] != '\n')
			l4--;
		head = (size_t)(l4 - text);
		memcpy(buf, text, head);
		snprintf(buf + head, sizeof buf - head, "%.40s\n", l4);
		CHECK(ib_sig_parse(buf, strlen(buf), "x.minisig", &sig, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "comment signature on line 4");
	}

	/* From a file: named in errors, and a missing one too. */
	write_text(at("s.minisig"), text);
	CHECK(ib_sig_load(at("s.minisig"), &sig, &err) == 0);
	CHECK(ib_sig_load(at("none.minisig"), &sig, &err) != 0);
	CHECK_CONTAINS(err.msg, "none.minisig");
	free(text);
	ib_seckey_free(sk);
}

static void expect_seckey_error(const char *path, int code, const char *msg)
{
	struct ib_seckey *sk = (struct ib_seckey *)1;
	struct ib_err err;

	CHECK(ib_seckey_load(path, &sk, &err) == code);
	CHECK(sk == NULL);
	CHECK_CONTAINS(err.msg, path);
	CHECK_CONTAINS(err.msg, msg);
}

static void expect_pubkey_error(const char *path, const char *msg)
{
	struct ib_pubkey key;
	struct ib_err err;

	CHECK(ib_pubkey_load(path, &key, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, path);
	CHECK_CONTAINS(err.msg, msg);
}

static void test_bad_key_files(void)
{
	unsigned char blob[256], zero[32] = {0};
	struct ib_pubkey key, inline_key;
	struct ib_err err;
	char *text;
	size_t len;

	/* Truncated secret keys. */
	text = read_text(at("a.sec"));
	write_bytes(at("t1.sec"), text, (size_t)(strchr(text, '\n') + 1 - text));
	expect_seckey_error(at("t1.sec"), IB_EINPUT, "truncated");
	write_bytes(at("t2.sec"), text, strlen(text) / 2);
	expect_seckey_error(at("t2.sec"), IB_EINPUT, "wrong length");
	write_bytes(at("t3.sec"), text, 0);
	expect_seckey_error(at("t3.sec"), IB_EINPUT, "empty");
	free(text);
	expect_seckey_error(at("nonexistent.sec"), IB_EINPUT, "nonexistent.sec");

	/* Foreign algorithms and damage. */
	patched_key(at("a.sec"), at("f1.sec"), 0, "XX", 2);
	expect_seckey_error(at("f1.sec"), IB_EINPUT, "unsupported signature algorithm \"XX\"");
	patched_key(at("a.sec"), at("f2.sec"), SK_KDF_ALG, "Ar", 2);
	expect_seckey_error(at("f2.sec"), IB_EINPUT, "unsupported key derivation algorithm \"Ar\"");
	patched_key(at("a.sec"), at("f3.sec"), SK_CHK_ALG, "\x01\x02", 2);
	expect_seckey_error(at("f3.sec"), IB_EINPUT, "unsupported checksum algorithm 0x0102");
	flipped_key(at("a.sec"), at("f4.sec"), SK_SK + 3);
	expect_seckey_error(at("f4.sec"), IB_EINPUT, "corrupted secret key (checksum mismatch)");
	/* minisign 0.11 writes unencrypted keys with a zero checksum. */
	patched_key(at("a.sec"), at("z.sec"), SK_CHK, zero, sizeof zero);
	{
		struct ib_seckey *sk = NULL;

		CHECK(ib_seckey_load(at("z.sec"), &sk, &err) == 0);
		ib_seckey_free(sk);
	}
	len = key_blob(at("z.sec"), blob, sizeof blob);
	CHECK(len == SK_SIZE);
	blob[SK_SK + 40] ^= 1; /* in the public half */
	write_key(at("f5.sec"), "x", blob, len);
	expect_seckey_error(at("f5.sec"), IB_EINPUT, "two halves do not match");
	write_text(at("ssh.sec"),
	           "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n");
	expect_seckey_error(at("ssh.sec"), IB_EINPUT, "not a minisign secret key");
	/* A public key given as the secret key. */
	expect_seckey_error(at("a.pub"), IB_EINPUT, "wrong length (56 base64 characters, not 212)");

	/* Public keys. */
	text = read_text(at("a.pub"));
	write_bytes(at("t1.pub"), text, (size_t)(strchr(text, '\n') + 1 - text));
	expect_pubkey_error(at("t1.pub"), "truncated");
	write_bytes(at("t2.pub"), text, strlen(text) - 10);
	expect_pubkey_error(at("t2.pub"), "wrong length");
	CHECK(ib_pubkey_load(at("a.pub"), &key, &err) == 0);
	/* The key line alone, as minisign -P takes it. */
	{
		const char *l2 = strchr(text, '\n') + 1;

		CHECK(ib_pubkey_parse(l2, strlen(l2) - 1, "inline", &inline_key, &err) == 0);
		CHECK(memcmp(&key, &inline_key, sizeof key) == 0);
	}
	free(text);
	patched_key(at("a.pub"), at("f1.pub"), 0, "ED", 2);
	expect_pubkey_error(at("f1.pub"), "unsupported signature algorithm \"ED\"");
	write_text(at("ssh.pub"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx5 user@host\n");
	expect_pubkey_error(at("ssh.pub"), "bad base64");
	write_text(at("pem.pub"), "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n");
	expect_pubkey_error(at("pem.pub"), "not a minisign public key");
	expect_pubkey_error(at("a.sec"), "wrong length (212 base64 characters, not 56)");
}

static void test_encrypted(void)
{
	struct ib_seckey *sk = NULL;
	struct ib_pubkey key;
	unsigned char hash[IB_HASH_SIG_BYTES], blob[256];
	struct ib_sig sig;
	struct ib_err err;
	char *text = NULL;

	/* Made outside our writer, with cheap limits. */
	make_cheap_encrypted(at("c.pub"), at("c.sec"), "correct horse",
	                     crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN,
	                     crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN);
	CHECK(ib_pubkey_load(at("c.pub"), &key, &err) == 0);
	CHECK(ib_seckey_load(at("c.sec"), &sk, &err) == 0);
	if (!sk)
		return;
	CHECK(ib_seckey_is_encrypted(sk));
	digest("enc", hash);
	CHECK(ib_sign_hash(sk, hash, "tc", NULL, &text, &err) == IB_EINTERNAL);
	CHECK(ib_seckey_decrypt(sk, "correct hors", &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "c.sec: wrong passphrase");
	CHECK(ib_seckey_is_encrypted(sk));
	CHECK(ib_seckey_decrypt(sk, "correct horse", &err) == 0);
	CHECK(!ib_seckey_is_encrypted(sk));
	CHECK(ib_seckey_decrypt(sk, "anything", &err) == 0);
	free(sign_parse(sk, "enc", "tc", &sig));
	CHECK(ib_sig_check_hash(&sig, &key, hash, &err) == 0);
	CHECK(ib_sig_check_comment(&sig, &key, 1, NULL, &err) == 0);
	ib_seckey_free(sk);
	sk = NULL;

	/* A key file asking for more than minisign ever uses is refused before any work. */
	make_cheap_encrypted(at("h.pub"), at("h.sec"), "p",
	                     crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN,
	                     crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN);
	{
		unsigned char huge[8];

		le64(huge, 1ULL << 40);
		patched_key(at("h.sec"), at("h2.sec"), SK_MEMLIMIT, huge, 8);
		expect_seckey_error(at("h2.sec"), IB_EINPUT, "scrypt limits");
	}

	/* Our writer, with minisign's real (sensitive) limits: one derivation each way. */
	CHECK(ib_keygen(at("e.pub"), at("e.sec"), "pass phrase", 0, &err) == 0);
	CHECK(key_blob(at("e.sec"), blob, sizeof blob) == SK_SIZE);
	CHECK(memcmp(blob, "EdScB2", 6) == 0);
	{
		unsigned long long ops = 0, mem = 0;

		for (int i = 7; i >= 0; i--) {
			ops = ops << 8 | blob[SK_OPSLIMIT + i];
			mem = mem << 8 | blob[SK_MEMLIMIT + i];
		}
		CHECK(ops == crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE);
		CHECK(mem == crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE);
	}
	CHECK(ib_pubkey_load(at("e.pub"), &key, &err) == 0);
	CHECK(ib_seckey_load(at("e.sec"), &sk, &err) == 0);
	if (!sk)
		return;
	CHECK(ib_seckey_is_encrypted(sk));
	CHECK(ib_seckey_decrypt(sk, "pass phrase", &err) == 0);
	free(sign_parse(sk, "enc", "tc", &sig));
	CHECK(ib_sig_check_hash(&sig, &key, hash, &err) == 0);
	CHECK(ib_sig_check_comment(&sig, &key, 1, NULL, &err) == 0);
	ib_seckey_free(sk);
}

static void test_tc_get(void)
{
	const char *tc = "timestamp:1700000000\tfile:a:b.ibb\thashed\tempty:\tfilename:other";
	struct ib_err err;
	char out[16];

	CHECK(ib_tc_get(tc, "timestamp", out, sizeof out, &err) == 0);
	CHECK_STR(out, "1700000000");
	CHECK(ib_tc_get(tc, "file", out, sizeof out, &err) == 0);
	CHECK_STR(out, "a:b.ibb");
	CHECK(ib_tc_get(tc, "filename", out, sizeof out, &err) == 0);
	CHECK_STR(out, "other");
	CHECK(ib_tc_get(tc, "empty", out, sizeof out, &err) == 0);
	CHECK_STR(out, "");
	CHECK(ib_tc_get(tc, "hashed", out, sizeof out, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "no \"hashed\" field");
	CHECK(ib_tc_get(tc, "size", out, sizeof out, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "no \"size\" field");
	CHECK(ib_tc_get(tc, "time", out, sizeof out, &err) == IB_EVERIFY);
	CHECK(ib_tc_get(tc, "timestamp", out, 10, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "too long");
	CHECK(ib_tc_get(tc, "timestamp", out, 11, &err) == 0);
	CHECK(ib_tc_get("size:1\tsize:2", "size", out, sizeof out, &err) == IB_EVERIFY);
	CHECK_CONTAINS(err.msg, "more than once");
	CHECK(ib_tc_get("", "size", out, sizeof out, &err) == IB_EVERIFY);
}

int main(void)
{
	const char *tmp = getenv("IBDRV_TEST_TMP");
	unsigned char rnd[6];
	char hex[13];
	struct ib_err err;

	if (sodium_init() < 0 || !tmp)
		return 1;
	randombytes_buf(rnd, sizeof rnd);
	ib_hex(hex, rnd, sizeof rnd);
	CHECK(snprintf(dir, sizeof dir, "%s/test_minisign.%s", tmp, hex) < (int)sizeof dir);
	CHECK(plat_mkdir_p(dir, 0700, &err) == 0);

	test_keyid();
	test_roundtrip_and_tampering();
	test_keygen_overwrite();
	test_sig_parsing();
	test_bad_key_files();
	test_encrypted();
	test_tc_get();

	plat_remove_tree(dir, NULL);
	return check_report();
}
