#include "minisign.h"

#include "outfile.h"
#include "platform.h"
#include "readfile.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGALG "Ed"
#define SIGALG_HASHED "ED"
#define KDFALG "Sc"
#define KDFNONE "\0\0"
#define CHKALG "B2"
#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define DEFAULT_SIG_COMMENT "signature from minisign secret key"
/* minisign 0.11 writes this comment whether or not the key is encrypted. */
#define SECKEY_COMMENT "minisign encrypted secret key"

/*
 * minisign reads each line with fgets into a buffer of IB_*_COMMENT_MAX bytes
 * that must also hold the newline and the terminating NUL: longer comments
 * would be cut there, so they are refused on both sides.
 */
#define UNTRUSTED_TEXT_MAX (IB_UNTRUSTED_COMMENT_MAX - sizeof UNTRUSTED_PREFIX - 1)
#define TRUSTED_TEXT_MAX (IB_TRUSTED_COMMENT_MAX - sizeof TRUSTED_PREFIX - 1)

/* Large enough for any key or signature file; anything bigger is not one. */
#define SMALL_FILE_MAX 16384

/* The binary layouts of minisign.h; all members are byte arrays, so no padding. */
struct keynum_sk {
	unsigned char keynum[IB_KEYNUM_BYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	unsigned char chk[crypto_generichash_BYTES];
};

struct seckey_blob {
	unsigned char sig_alg[2];
	unsigned char kdf_alg[2];
	unsigned char chk_alg[2];
	unsigned char kdf_salt[crypto_pwhash_scryptsalsa208sha256_SALTBYTES];
	unsigned char kdf_opslimit_le[8];
	unsigned char kdf_memlimit_le[8];
	struct keynum_sk keynum_sk;
};

_Static_assert(sizeof(struct seckey_blob) == 158, "minisign secret key layout");
_Static_assert(sizeof(struct ib_pubkey) == 42, "minisign public key layout");
/* The signature line's bytes: alg, keynum, sig. */
#define SIG_LINE_BYTES offsetof(struct ib_sig, trusted_comment)
_Static_assert(SIG_LINE_BYTES == 74 && offsetof(struct ib_sig, sig) == 10,
               "minisign signature layout");
_Static_assert(offsetof(struct ib_sig, trusted_comment) == offsetof(struct ib_sig, sig) + 64,
               "the comment signature's message is contiguous");

struct ib_seckey {
	struct seckey_blob blob;
	int encrypted;
	char *path; /* malloc'd, for messages */
};

static uint64_t le64_load(const unsigned char p[8])
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = (x << 8) | p[i];
	return x;
}

static void le64_store(unsigned char p[8], uint64_t x)
{
	for (int i = 0; i < 8; i++, x >>= 8)
		p[i] = (unsigned char)x;
}

void ib_keyid_str(const unsigned char keynum[IB_KEYNUM_BYTES], char out[17])
{
	snprintf(out, 17, "%016llX", (unsigned long long)le64_load(keynum));
}

/* Algorithm tags are two ASCII letters; show anything else in hex. */
static const char *alg_str(const unsigned char alg[2], char out[16])
{
	if (alg[0] > 0x20 && alg[0] < 0x7f && alg[1] > 0x20 && alg[1] < 0x7f)
		snprintf(out, 16, "\"%c%c\"", alg[0], alg[1]);
	else
		snprintf(out, 16, "0x%02x%02x", alg[0], alg[1]);
	return out;
}

/* Reads a secret key file into buf (cap bytes, NUL-terminated), unbuffered. */
static int read_small(const char *path, char *buf, size_t cap, size_t *len, const char *what,
                      struct ib_err *err)
{
	FILE *fp = NULL;
	int rc = plat_open_read(path, &fp, err);

	if (rc)
		return rc;
	/* Unbuffered: secret key text goes straight to buf, not through a stdio buffer. */
	setvbuf(fp, NULL, _IONBF, 0);
	*len = fread(buf, 1, cap - 1, fp);
	if (ferror(fp))
		rc = ib_fail(err, IB_EIO, "%s: read error", path);
	else if (*len == cap - 1 && fgetc(fp) != EOF)
		rc = ib_fail(err, IB_EINPUT, "%s: too large for a %s", path, what);
	else if (*len == 0)
		rc = ib_fail(err, IB_EINPUT, "%s: empty file, not a %s", path, what);
	buf[*len] = '\0';
	fclose(fp);
	return rc;
}

struct lines {
	const char *p, *end;
	unsigned no; /* number of the line last returned, from 1 */
};

/* The next line without its "\n" or "\r\n"; returns 0 at the end of the text. */
static int next_line(struct lines *it, const char **line, size_t *len)
{
	const char *nl;

	if (it->p >= it->end)
		return 0;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	*line = it->p;
	*len = (size_t)((nl ? nl : it->end) - it->p);
	it->p = nl ? nl + 1 : it->end;
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	it->no++;
	return 1;
}

/* Only blank lines may follow the last field. */
static int expect_end(struct lines *it, const char *source, struct ib_err *err)
{
	const char *line;
	size_t len;

	while (next_line(it, &line, &len))
		if (len > 0)
			return ib_fail(err, IB_EINPUT, "%s: unexpected text on line %u", source,
			               it->no);
	return 0;
}

/* Text files must not hide anything behind a NUL or a lone carriage return. */
static int check_text(const char *text, size_t len, const char *source, struct ib_err *err)
{
	const char *bad = memchr(text, '\0', len), *what = "NUL byte";

	if (!bad) {
		what = "stray carriage return";
		for (bad = text; (bad = memchr(bad, '\r', len - (size_t)(bad - text))); bad++)
			if (bad + 1 == text + len || bad[1] != '\n')
				break;
	}
	if (bad)
		return ib_fail(err, IB_EINPUT, "%s: %s at byte %zu, not a text file", source, what,
		               (size_t)(bad - text));
	return 0;
}

static int has_prefix(const char *line, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);

	return len >= plen && memcmp(line, prefix, plen) == 0;
}

/* Decodes one base64 line that must hold exactly outlen bytes. */
static int b64_field(const char *line, size_t len, unsigned char *out, size_t outlen,
                     const char *source, unsigned line_no, const char *what, struct ib_err *err)
{
	size_t want = (outlen + 2) / 3 * 4; /* padded base64 */
	const char *end = NULL;
	size_t got = 0;

	for (size_t i = 0; i < len; i++)
		if (!((line[i] >= 'A' && line[i] <= 'Z') || (line[i] >= 'a' && line[i] <= 'z') ||
		      (line[i] >= '0' && line[i] <= '9') || (line[i] && strchr("+/=", line[i])))) {
			end = line + i;
			goto bad;
		}
	if (len != want)
		return ib_fail(
		        err, IB_EINPUT,
		        "%s: %s on line %u has the wrong length (%zu base64 characters, not %zu)",
		        source, what, line_no, len, want);
	if (sodium_base642bin(out, outlen, line, len, NULL, &got, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != line + len || got != outlen)
		goto bad; /* misplaced padding: the column where decoding stopped */
	return 0;
bad:
	return ib_fail(err, IB_EINPUT, "%s: bad base64 in the %s on line %u (column %zu)", source,
	               what, line_no, (size_t)((end ? end : line) - line) + 1);
}

/* Checks a "<prefix><comment>" line (line line_no of a what) and its comment's length. */
static int comment_line(const char *line, size_t len, const char *prefix, size_t max,
                        unsigned line_no, const char *source, const char *what, struct ib_err *err)
{
	size_t plen = strlen(prefix);

	if (!has_prefix(line, len, prefix))
		return ib_fail(err, IB_EINPUT, "%s: not a %s: line %u does not start with \"%s\"",
		               source, what, line_no, prefix);
	if (len - plen > max)
		return ib_fail(err, IB_EINPUT, "%s: %.*s too long (%zu bytes, at most %zu)", source,
		               (int)(plen - 2), prefix, len - plen, max);
	return 0;
}

/* Checks the "untrusted comment: ..." line of any minisign file. */
static int untrusted_line(struct lines *it, const char *source, const char *what,
                          struct ib_err *err)
{
	const char *line;
	size_t len;

	if (!next_line(it, &line, &len))
		return ib_fail(err, IB_EINPUT, "%s: empty, not a %s", source, what);
	return comment_line(line, len, UNTRUSTED_PREFIX, UNTRUSTED_TEXT_MAX, 1, source, what, err);
}

/* The signature algorithm must be want. */
static int check_alg(const unsigned char alg[2], const char *want, const char *source,
                     struct ib_err *err)
{
	char shown[16];

	if (memcmp(alg, want, 2) == 0)
		return 0;
	return ib_fail(err, IB_EINPUT, "%s: unsupported signature algorithm %s (expected \"%s\")",
	               source, alg_str(alg, shown), want);
}

/* The next line, which must exist: a missing one means the file was cut short. */
static int field_line(struct lines *it, const char *source, const char *what, const char **line,
                      size_t *len, struct ib_err *err)
{
	if (!next_line(it, line, len))
		return ib_fail(err, IB_EINPUT, "%s: truncated, the %s (line %u) is missing", source,
		               what, it->no + 1);
	return 0;
}

/* The next line, which must exist and be the base64 of exactly outlen bytes. */
static int b64_line(struct lines *it, const char *source, const char *what, void *out,
                    size_t outlen, struct ib_err *err)
{
	const char *line = NULL;
	size_t len = 0;
	int rc = field_line(it, source, what, &line, &len, err);

	return rc ? rc : b64_field(line, len, out, outlen, source, it->no, what, err);
}

int ib_pubkey_parse(const char *text, size_t len, const char *source, struct ib_pubkey *out,
                    struct ib_err *err)
{
	struct lines it = {text, text + len, 0};
	const char *line = NULL;
	size_t llen = 0;
	int inline_key, rc;

	rc = check_text(text, len, source, err);
	if (rc)
		return rc;
	/* A lone base64 line is a key given inline (minisign -P). */
	inline_key = !has_prefix(text, len, UNTRUSTED_PREFIX) && next_line(&it, &line, &llen) &&
	             it.p == it.end;
	if (inline_key) {
		rc = b64_field(line, llen, (unsigned char *)out, sizeof *out, source, it.no,
		               "public key", err);
	} else {
		it.p = text;
		it.no = 0;
		rc = untrusted_line(&it, source, "minisign public key", err);
		if (!rc)
			rc = b64_line(&it, source, "public key", out, sizeof *out, err);
	}
	if (!rc)
		rc = check_alg(out->alg, SIGALG, source, err);
	return rc ? rc : expect_end(&it, source, err);
}

/* Reads a public key (sig NULL) or a signature file and parses it into key or sig. */
static int load_parsed(const char *path, struct ib_pubkey *key, struct ib_sig *sig,
                       struct ib_err *err)
{
	char *buf;
	size_t len;
	int rc = ib_read_file(path, SMALL_FILE_MAX - 1, &buf, &len, err);

	if (!rc)
		rc = sig ? ib_sig_parse(buf, len, path, sig, err)
		         : ib_pubkey_parse(buf, len, path, key, err);
	free(buf);
	return rc;
}

int ib_pubkey_load(const char *path, struct ib_pubkey *out, struct ib_err *err)
{
	return load_parsed(path, out, NULL, err);
}

static void seckey_chk(const struct seckey_blob *b, unsigned char chk[crypto_generichash_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&st, b->sig_alg, sizeof b->sig_alg);
	crypto_generichash_update(&st, b->keynum_sk.keynum, sizeof b->keynum_sk.keynum);
	crypto_generichash_update(&st, b->keynum_sk.sk, sizeof b->keynum_sk.sk);
	crypto_generichash_final(&st, chk, crypto_generichash_BYTES);
	sodium_memzero(&st, sizeof st);
}

/*
 * An Ed25519 secret key is seed || public key: the two halves must agree.
 * This catches corruption that the checksum cannot (minisign leaves the
 * checksum of unencrypted keys zero).
 */
static int seckey_consistent(const struct seckey_blob *b)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	int ok;

	crypto_sign_seed_keypair(pk, sk, b->keynum_sk.sk);
	ok = sodium_memcmp(sk, b->keynum_sk.sk, sizeof sk) == 0;
	sodium_memzero(sk, sizeof sk);
	return ok;
}

/* minisign 0.11 leaves the checksum of unencrypted keys zero; allow_zero accepts that. */
static int seckey_chk_ok(const struct seckey_blob *b, int allow_zero)
{
	static const unsigned char zero[crypto_generichash_BYTES];
	unsigned char chk[crypto_generichash_BYTES];
	int ok;

	seckey_chk(b, chk);
	ok = sodium_memcmp(chk, b->keynum_sk.chk, sizeof chk) == 0 ||
	     (allow_zero && sodium_memcmp(zero, b->keynum_sk.chk, sizeof chk) == 0);
	sodium_memzero(chk, sizeof chk);
	return ok;
}

static int seckey_check_halves(const struct ib_seckey *k, struct ib_err *err)
{
	if (!seckey_consistent(&k->blob))
		return ib_fail(err, IB_EINPUT,
		               "%s: corrupted secret key (its two halves do not match)", k->path);
	return 0;
}

void ib_seckey_free(struct ib_seckey *sk)
{
	if (!sk)
		return;
	free(sk->path);
	sodium_free(sk); /* wipes the whole allocation */
}

static int seckey_parse(struct ib_seckey *k, const char *text, size_t len, struct ib_err *err)
{
	struct lines it = {text, text + len, 0};
	char alg[16];
	uint64_t ops, mem;
	int rc;

	rc = check_text(text, len, k->path, err);
	if (!rc)
		rc = untrusted_line(&it, k->path, "minisign secret key", err);
	if (!rc)
		rc = b64_line(&it, k->path, "secret key", &k->blob, sizeof k->blob, err);
	if (!rc)
		rc = expect_end(&it, k->path, err);
	if (rc)
		return rc;
	rc = check_alg(k->blob.sig_alg, SIGALG, k->path, err);
	if (rc)
		return rc;
	if (memcmp(k->blob.chk_alg, CHKALG, 2) != 0)
		return ib_fail(err, IB_EINPUT,
		               "%s: unsupported checksum algorithm %s (expected \"" CHKALG "\")",
		               k->path, alg_str(k->blob.chk_alg, alg));
	if (memcmp(k->blob.kdf_alg, KDFNONE, 2) == 0) {
		if (!seckey_chk_ok(&k->blob, 1))
			return ib_fail(err, IB_EINPUT,
			               "%s: corrupted secret key (checksum mismatch)", k->path);
		return seckey_check_halves(k, err);
	}
	if (memcmp(k->blob.kdf_alg, KDFALG, 2) != 0)
		return ib_fail(err, IB_EINPUT,
		               "%s: unsupported key derivation algorithm %s (expected \"" KDFALG
		               "\" or none)",
		               k->path, alg_str(k->blob.kdf_alg, alg));
	/* A hostile key file must not make us spend unbounded memory or time. */
	ops = le64_load(k->blob.kdf_opslimit_le);
	mem = le64_load(k->blob.kdf_memlimit_le);
	if (ops > crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE ||
	    mem > crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE)
		return ib_fail(err, IB_EINPUT,
		               "%s: scrypt limits above minisign's (opslimit %llu, memlimit %llu)",
		               k->path, (unsigned long long)ops, (unsigned long long)mem);
	k->encrypted = 1;
	return 0;
}

int ib_seckey_load(const char *path, struct ib_seckey **out, struct ib_err *err)
{
	struct ib_seckey *k = sodium_malloc(sizeof *k);
	char *buf = sodium_malloc(SMALL_FILE_MAX);
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!k || !buf) {
		rc = ib_oom(err);
		goto out;
	}
	memset(k, 0, sizeof *k);
	k->path = strdup(path);
	if (!k->path) {
		rc = ib_oom(err);
		goto out;
	}
	rc = read_small(path, buf, SMALL_FILE_MAX, &len, "minisign secret key", err);
	if (!rc)
		rc = seckey_parse(k, buf, len, err);
out:
	if (buf)
		sodium_free(buf);
	if (rc)
		ib_seckey_free(k);
	else
		*out = k;
	return rc;
}

int ib_seckey_is_encrypted(const struct ib_seckey *sk)
{
	return sk->encrypted;
}

static void xor_buf(unsigned char *dst, const unsigned char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] ^= src[i];
}

int ib_seckey_decrypt(struct ib_seckey *sk, const char *passphrase, struct ib_err *err)
{
	unsigned char *stream;
	int rc;

	if (!sk->encrypted)
		return 0;
	stream = sodium_malloc(sizeof sk->blob.keynum_sk);
	if (!stream)
		return ib_oom(err);
	if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof sk->blob.keynum_sk, passphrase,
	                                       strlen(passphrase), sk->blob.kdf_salt,
	                                       le64_load(sk->blob.kdf_opslimit_le),
	                                       (size_t)le64_load(sk->blob.kdf_memlimit_le)) != 0) {
		rc = ib_fail(err, IB_ENOMEM,
		             "%s: cannot derive the key from the passphrase (scrypt needs %llu "
		             "MiB of memory)",
		             sk->path,
		             (unsigned long long)(le64_load(sk->blob.kdf_memlimit_le) >> 20));
		goto out;
	}
	xor_buf((unsigned char *)&sk->blob.keynum_sk, stream, sizeof sk->blob.keynum_sk);
	if (!seckey_chk_ok(&sk->blob, 0)) {
		/* Back to the encrypted form, so that another passphrase can be tried. */
		xor_buf((unsigned char *)&sk->blob.keynum_sk, stream, sizeof sk->blob.keynum_sk);
		rc = ib_fail(err, IB_EVERIFY, "%s: wrong passphrase (checksum mismatch)", sk->path);
		goto out;
	}
	sk->encrypted = 0;
	rc = seckey_check_halves(sk, err);
out:
	sodium_free(stream);
	return rc;
}

/* Encrypts b in place with minisign's scrypt limits, halved while memory is short. */
static int seckey_encrypt(struct seckey_blob *b, const char *passphrase, const char *path,
                          struct ib_err *err)
{
	unsigned long long ops = crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE;
	size_t mem = crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE;
	unsigned char *stream = sodium_malloc(sizeof b->keynum_sk);
	int rc = 0;

	if (!stream)
		return ib_oom(err);
	memcpy(b->kdf_alg, KDFALG, 2);
	randombytes_buf(b->kdf_salt, sizeof b->kdf_salt);
	while (crypto_pwhash_scryptsalsa208sha256(stream, sizeof b->keynum_sk, passphrase,
	                                          strlen(passphrase), b->kdf_salt, ops, mem) != 0) {
		ops /= 2;
		mem /= 2;
		if (ops < crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN ||
		    mem < crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN) {
			rc = ib_fail(err, IB_ENOMEM,
			             "%s: not enough memory to derive a key from the passphrase",
			             path);
			goto out;
		}
	}
	le64_store(b->kdf_opslimit_le, ops);
	le64_store(b->kdf_memlimit_le, mem);
	xor_buf((unsigned char *)&b->keynum_sk, stream, sizeof b->keynum_sk);
out:
	sodium_free(stream);
	return rc;
}

/*
 * Writes "untrusted comment: <comment>\n<base64 of bin>\n" to a freshly opened
 * output, unbuffered so that no copy of secret key text stays in a stdio buffer.
 */
static int write_key_file(struct ib_outfile *of, const char *comment, const void *bin, size_t len,
                          struct ib_err *err)
{
	size_t b64_len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = sodium_malloc(b64_len);
	int ok;

	if (!b64)
		return ib_oom(err);
	sodium_bin2base64(b64, b64_len, bin, len, sodium_base64_VARIANT_ORIGINAL);
	ok = setvbuf(of->fp, NULL, _IONBF, 0) == 0 && fputs(UNTRUSTED_PREFIX, of->fp) != EOF &&
	     fputs(comment, of->fp) != EOF && fputc('\n', of->fp) != EOF &&
	     fwrite(b64, 1, b64_len - 1, of->fp) == b64_len - 1 && fputc('\n', of->fp) != EOF;
	sodium_free(b64);
	if (!ok)
		return ib_fail(err, IB_EIO, "%s: cannot write", of->tmp_path);
	return 0;
}

int ib_keygen(const char *pub_path, const char *sec_path, const char *passphrase, int force,
              struct ib_err *err)
{
	struct seckey_blob *sk = sodium_malloc(sizeof *sk);
	struct ib_outfile pub_of = {0}, sec_of = {0};
	struct ib_pubkey pk;
	char keyid[17];
	char comment[64];
	int rc = 0;

	if (!sk)
		return ib_oom(err);
	if (strcmp(pub_path, sec_path) == 0) {
		rc = ib_fail(err, IB_EUSAGE, "%s: the public and secret key files must differ",
		             pub_path);
		goto out;
	}
	if (!force) {
		rc = ib_outfile_refuse_existing(pub_path, err);
		if (!rc)
			rc = ib_outfile_refuse_existing(sec_path, err);
		if (rc)
			goto out;
	}
	memset(sk, 0, sizeof *sk);
	memcpy(sk->sig_alg, SIGALG, 2);
	memcpy(sk->chk_alg, CHKALG, 2);
	randombytes_buf(sk->keynum_sk.keynum, sizeof sk->keynum_sk.keynum);
	crypto_sign_keypair(pk.pk, sk->keynum_sk.sk);
	memcpy(pk.alg, SIGALG, 2);
	memcpy(pk.keynum, sk->keynum_sk.keynum, sizeof pk.keynum);
	/* Unlike minisign, unencrypted keys get a checksum too: it costs nothing. */
	seckey_chk(sk, sk->keynum_sk.chk);
	if (passphrase) {
		rc = seckey_encrypt(sk, passphrase, sec_path, err);
		if (rc)
			goto out;
	}
	ib_keyid_str(pk.keynum, keyid);
	snprintf(comment, sizeof comment, "minisign public key %s", keyid);
	rc = ib_outfile_open(&sec_of, sec_path, 0600, err);
	if (!rc)
		rc = write_key_file(&sec_of, SECKEY_COMMENT, sk, sizeof *sk, err);
	if (!rc)
		rc = ib_outfile_open(&pub_of, pub_path, 0644, err);
	if (!rc)
		rc = write_key_file(&pub_of, comment, &pk, sizeof pk, err);
	if (!rc)
		rc = ib_outfile_commit(&sec_of, force, err);
	if (!rc)
		rc = ib_outfile_commit(&pub_of, force, err);
out:
	ib_outfile_abort(&sec_of);
	ib_outfile_abort(&pub_of);
	sodium_free(sk);
	return rc;
}

static int check_comment_text(const char *text, size_t max, const char *what, struct ib_err *err)
{
	size_t len = strlen(text);

	if (strpbrk(text, "\r\n"))
		return ib_fail(err, IB_EINPUT, "the %s must be a single line", what);
	if (len > max)
		return ib_fail(err, IB_EINPUT, "the %s is too long (%zu bytes, at most %zu)", what,
		               len, max);
	return 0;
}

int ib_sign_hash(const struct ib_seckey *sk, const unsigned char hash[IB_HASH_SIG_BYTES],
                 const char *trusted_comment, const char *untrusted_comment, char **out,
                 struct ib_err *err)
{
	struct ib_sig sig;
	char sig_b64[sodium_base64_ENCODED_LEN(SIG_LINE_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char global_b64[sodium_base64_ENCODED_LEN(sizeof sig.global_sig,
	                                          sodium_base64_VARIANT_ORIGINAL)];
	size_t tc_len, total;
	int rc;

	*out = NULL;
	if (sk->encrypted)
		return ib_fail(err, IB_EINTERNAL, "%s: secret key used before decryption",
		               sk->path);
	if (!untrusted_comment)
		untrusted_comment = DEFAULT_SIG_COMMENT;
	rc = check_comment_text(trusted_comment, TRUSTED_TEXT_MAX, "trusted comment", err);
	if (!rc)
		rc = check_comment_text(untrusted_comment, UNTRUSTED_TEXT_MAX, "untrusted comment",
		                        err);
	if (rc)
		return rc;
	memcpy(sig.alg, SIGALG_HASHED, 2);
	memcpy(sig.keynum, sk->blob.keynum_sk.keynum, sizeof sig.keynum);
	crypto_sign_detached(sig.sig, NULL, hash, IB_HASH_SIG_BYTES, sk->blob.keynum_sk.sk);
	/* Checked above: it fits. */
	tc_len = strlen(trusted_comment);
	memcpy(sig.trusted_comment, trusted_comment, tc_len);
	crypto_sign_detached(sig.global_sig, NULL, sig.sig, sizeof sig.sig + tc_len,
	                     sk->blob.keynum_sk.sk);

	sodium_bin2base64(sig_b64, sizeof sig_b64, (const unsigned char *)&sig, SIG_LINE_BYTES,
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(global_b64, sizeof global_b64, sig.global_sig, sizeof sig.global_sig,
	                  sodium_base64_VARIANT_ORIGINAL);
	total = sizeof UNTRUSTED_PREFIX + strlen(untrusted_comment) + sizeof sig_b64 +
	        sizeof TRUSTED_PREFIX + tc_len + sizeof global_b64 + 4;
	*out = malloc(total);
	if (!*out)
		return ib_oom(err);
	snprintf(*out, total, UNTRUSTED_PREFIX "%s\n%s\n" TRUSTED_PREFIX "%s\n%s\n",
	         untrusted_comment, sig_b64, trusted_comment, global_b64);
	return 0;
}

int ib_sig_parse(const char *text, size_t len, const char *source, struct ib_sig *out,
                 struct ib_err *err)
{
	struct lines it = {text, text + len, 0};
	const char *line = NULL;
	size_t llen = 0;
	int rc;

	rc = check_text(text, len, source, err);
	if (!rc)
		rc = untrusted_line(&it, source, "minisign signature", err);
	if (!rc)
		rc = b64_line(&it, source, "signature", out, SIG_LINE_BYTES, err);
	if (rc)
		return rc;
	if (memcmp(out->alg, SIGALG, 2) == 0)
		return ib_fail(err, IB_EINPUT,
		               "%s: legacy (non-prehashed) minisign signature; sign without -l",
		               source);
	rc = check_alg(out->alg, SIGALG_HASHED, source, err);
	if (!rc)
		rc = field_line(&it, source, "trusted comment", &line, &llen, err);
	if (!rc)
		rc = comment_line(line, llen, TRUSTED_PREFIX, TRUSTED_TEXT_MAX, it.no, source,
		                  "minisign signature", err);
	if (rc)
		return rc;
	line += strlen(TRUSTED_PREFIX);
	llen -= strlen(TRUSTED_PREFIX);
	memcpy(out->trusted_comment, line, llen);
	out->trusted_comment[llen] = '\0';
	rc = b64_line(&it, source, "comment signature", out->global_sig, sizeof out->global_sig,
	              err);
	return rc ? rc : expect_end(&it, source, err);
}

char *ib_sig_path_for(const char *file)
{
	size_t len = strlen(file) + sizeof ".minisig";
	char *path = malloc(len);

	if (path)
		snprintf(path, len, "%s.minisig", file);
	return path;
}

int ib_sig_load(const char *path, struct ib_sig *out, struct ib_err *err)
{
	return load_parsed(path, NULL, out, err);
}

/* sig was made by none of keys; a single key is named in the message. */
static int unknown_key(const struct ib_sig *sig, const struct ib_pubkey *keys, size_t nkeys,
                       struct ib_err *err)
{
	char id[17], want[17] = "";
	int one = nkeys == 1;

	ib_keyid_str(sig->keynum, id);
	if (one)
		ib_keyid_str(keys->keynum, want);
	return ib_fail(err, IB_EVERIFY, "signed by unknown key ID %s%s%s%s", id,
	               one ? " (expected " : "", want, one ? ")" : "");
}

int ib_sig_check_comment(const struct ib_sig *sig, const struct ib_pubkey *keys, size_t nkeys,
                         size_t *which, struct ib_err *err)
{
	size_t i;

	for (i = 0; i < nkeys; i++)
		if (memcmp(keys[i].keynum, sig->keynum, IB_KEYNUM_BYTES) == 0)
			break;
	if (i == nkeys)
		return unknown_key(sig, keys, nkeys, err);
	/* The message is sig followed by the trusted comment, which is where they lie. */
	if (crypto_sign_verify_detached(sig->global_sig, sig->sig,
	                                sizeof sig->sig + strlen(sig->trusted_comment),
	                                keys[i].pk) != 0)
		return ib_fail(
		        err, IB_EVERIFY,
		        "comment signature verification failed: trusted comment tampered with");
	if (which)
		*which = i;
	return 0;
}

int ib_sig_check_hash(const struct ib_sig *sig, const struct ib_pubkey *key,
                      const unsigned char hash[IB_HASH_SIG_BYTES], struct ib_err *err)
{
	if (memcmp(key->keynum, sig->keynum, IB_KEYNUM_BYTES) != 0)
		return unknown_key(sig, key, 1, err);
	if (crypto_sign_verify_detached(sig->sig, hash, IB_HASH_SIG_BYTES, key->pk) != 0)
		return ib_fail(err, IB_EVERIFY, "signature verification failed");
	return 0;
}

int ib_tc_get(const char *trusted_comment, const char *key, char *out, size_t cap,
              struct ib_err *err)
{
	size_t klen = strlen(key);
	const char *p = trusted_comment;
	const char *found = NULL, *why = " more than once";
	size_t found_len = 0;

	while (*p) {
		size_t flen = strcspn(p, "\t");

		if (!strncmp(p, key, klen) && p[klen] == ':') {
			if (found)
				goto bad;
			found = p + klen + 1;
			found_len = flen - klen - 1;
		}
		p += flen;
		if (*p == '\t')
			p++;
	}
	why = " too long";
	if (found && found_len < cap) {
		memcpy(out, found, found_len);
		out[found_len] = '\0';
		return 0;
	}
bad:
	return ib_fail(err, IB_EVERIFY, "trusted comment has %s\"%s\" field%s",
	               found ? "the " : "no ", key, found ? why : "");
}
