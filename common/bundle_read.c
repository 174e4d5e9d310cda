/*
 * Reading a bundle in one pass over the file. The signature's trusted comment
 * is checked first, so the signed size and manifest hash can be relied on
 * before the bundle is read; the manifest is then authenticated by that hash
 * before it is parsed, and every entry by its manifest hash. Every raw byte
 * goes through read_cb (no skip callback, so libarchive cannot jump over
 * bytes) into the BLAKE2b-512 that the signature covers; whatever libarchive
 * leaves unread after the end of the archive is hashed by drain().
 *
 * Two workers take the hashing off the main thread, which decompresses: a
 * readahead reads and hashes the raw bytes in file order, ahead of libarchive,
 * whose read callback hands out its buffers (each valid until the next call),
 * and a hashpipe hashes each entry's data (and, on a second stage, writes the
 * chosen driver's files).
 */
#include "bundle.h"

#include "hashpipe.h"
#include "path.h"
#include "platform.h"
#include "progress.h"
#include "readahead.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define IO_CHUNK IB_HASHPIPE_CHUNK

/* What a bundle's name may hold: a download names the cached bundle after it. */
#define NAME_CHARS "+.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/* One format for every size that differs from what the signature says. */
#define FILE_SIZE_FMT "%s: is %s%" PRIu64 " bytes, its signature says %" PRIu64 " (%s)"

struct source {
	const char *path;
	FILE *fp;
	struct ib_hash whole;
	struct ib_readahead *raw;    /* reads raw bytes, hashing them into whole (not for a peek) */
	struct ib_hashpipe *entries; /* hashes and extracts entry data */
	uint64_t read;
	uint64_t limit;
	struct ib_progress bar;
	int raw_rc; /* first failure to get raw bytes (libarchive sees a failed read) */
	struct ib_err raw_err;
};

/*
 * Reads the next raw chunk into a buffer that stays valid until the next
 * call. Messages name the bundle: the readahead's (path) and the download's
 * (URL) do too.
 */
static int read_raw(struct source *s, const unsigned char **buf, size_t *len, struct ib_err *err)
{
	int rc = ib_readahead_next(s->raw, buf, len, err);

	if (rc)
		return rc;
	s->read += *len;
	if (s->read > s->limit)
		return ib_fail(err, IB_EVERIFY, FILE_SIZE_FMT, s->path, "at least ", s->read,
		               s->limit, "extended");
	ib_progress_add(&s->bar, *len);
	return 0;
}

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **out)
{
	struct source *s = ctx;
	const unsigned char *buf;
	size_t n;

	(void)a;
	/* libarchive's own message for this would be vague: the caller reports raw_err. */
	if ((s->raw_rc = read_raw(s, &buf, &n, &s->raw_err)) != 0)
		return -1;
	*out = buf;
	return (la_ssize_t)n;
}

/*
 * When the raw bytes failed (a read error, a download that gave up, more
 * bytes than signed), that failure is the cause; libarchive only saw a failed
 * read.
 */
static int raw_cause(struct source *s, int rc, struct ib_err *err)
{
	if (rc && s->raw_rc) {
		rc = s->raw_rc;
		*err = s->raw_err;
	}
	return rc;
}

static int drain(struct source *s, struct ib_err *err)
{
	const unsigned char *buf;
	size_t n;
	int rc;

	while ((rc = read_raw(s, &buf, &n, err)) == 0 && n > 0)
		;
	return rc;
}

int ib_bundle_is_bundle_comment(const char *tc)
{
	size_t len = strlen(IB_BUNDLE_TC_TAG);

	return !strncmp(tc, IB_BUNDLE_TC_TAG, len) && (tc[len] == '\t' || tc[len] == '\0');
}

/* A decimal number: digits only, no sign or space, within 64 bits. */
static int parse_u64(const char *text, uint64_t *out)
{
	uint64_t v = 0;

	do {
		unsigned d = (unsigned)(*text - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	} while (*++text);
	*out = v;
	return 0;
}

int ib_bundle_parse_claims(const char *tc, struct ib_bundle_claims *c, struct ib_err *err)
{
	enum { TEXT, NUMBER, HASH, NAME, NUM_CAP = 32 };
	/* Numbers go through num; the others are copied as they are. */
	static const struct {
		const char *key;
		unsigned short offset, cap;
		unsigned char kind;
	} fields[] = {
	        {"name", offsetof(struct ib_bundle_claims, name), sizeof c->name, NAME},
	        {"manifest-blake2b", offsetof(struct ib_bundle_claims, manifest_hash),
	         sizeof c->manifest_hash, HASH},
	        {"size", offsetof(struct ib_bundle_claims, size), NUM_CAP, NUMBER},
	        {"sequence", offsetof(struct ib_bundle_claims, sequence), NUM_CAP, NUMBER},
	        {"file", offsetof(struct ib_bundle_claims, file), sizeof c->file, TEXT},
	};
	char num[NUM_CAP];

	memset(c, 0, sizeof *c);
	if (!ib_bundle_is_bundle_comment(tc))
		return ib_fail(err, IB_EVERIFY, "trusted comment is not an ibdrv bundle's");
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		char *dst = (char *)c + fields[i].offset;
		char *text = fields[i].kind == NUMBER ? num : dst;
		int rc = ib_tc_get(tc, fields[i].key, text, fields[i].cap, err);
		const char *bad = NULL;

		if (rc)
			return rc;
		if (fields[i].kind == NUMBER && parse_u64(num, (uint64_t *)(void *)dst))
			bad = "a number";
		if (fields[i].kind == HASH && strlen(text) != IB_HASH_FILE_BYTES * 2)
			bad = "a hash";
		if (fields[i].kind == NAME &&
		    (!*text || *text == '.' || *text == '-' || text[strspn(text, NAME_CHARS)]))
			bad = "a file name";
		if (bad)
			return ib_fail(err, IB_EVERIFY, "trusted comment: %s '%s' is not %s",
			               fields[i].key, text, bad);
	}
	return 0;
}

/* libarchive's message for its last failure; it may have set none. */
static const char *archive_why(struct archive *a)
{
	const char *why = archive_error_string(a);

	return why ? why : "unreadable";
}

static int open_reader(struct source *s, struct archive **out, struct ib_err *err)
{
	struct archive *a = archive_read_new();

	*out = a;
	if (!a)
		return ib_oom(err);
	/* Plain tar needs no filter: libarchive reads it as it is. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, s, NULL, read_cb, NULL) != ARCHIVE_OK)
		return ib_fail(err, IB_EVERIFY, "%s: not a bundle: %s", s->path, archive_why(a));
	return 0;
}

/* Next header; ARCHIVE_WARN counts as failure (e.g. an external decompressor stood in). */
static int next_header(struct archive *a, struct source *s, struct archive_entry **e, int *eof,
                       size_t index, struct ib_err *err)
{
	int r = archive_read_next_header(a, e);

	*eof = r == ARCHIVE_EOF;
	if (r == ARCHIVE_OK || r == ARCHIVE_EOF)
		return 0;
	return ib_fail(err, IB_EVERIFY, "%s: entry %zu: %s", s->path, index, archive_why(a));
}

/* Reads the entry to its end, or to cap bytes: how many, or -1 when libarchive fails. */
static la_ssize_t read_to_end(struct archive *a, char *buf, size_t cap)
{
	size_t got = 0;
	la_ssize_t n;

	while (got < cap && (n = archive_read_data(a, buf + got, cap - got)) != 0) {
		if (n < 0)
			return -1;
		got += (size_t)n;
	}
	return (la_ssize_t)got;
}

static int check_regular(struct archive_entry *e, const char *path, size_t index,
                         struct ib_err *err)
{
	/*
	 * The callers have compared the name already: it is there. libarchive's tar reader makes a
	 * symbolic link AE_IFLNK, but a hard link with data (pax) AE_IFREG: hence both checks. The
	 * header's size needs none: a file's data is read to the manifest's size, and the
	 * manifest's own entry must give a size above 0 (an unset one reads as 0).
	 */
	if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
		return ib_fail(err, IB_EVERIFY, "%s: entry %zu '%s' is not a regular file", path,
		               index, archive_entry_pathname(e));
	return 0;
}

/* The next entry, which must be the regular file want: entry index in manifest order. */
static int next_entry(struct archive *a, struct source *s, size_t index, const char *want,
                      struct archive_entry **e, struct ib_err *err)
{
	const char *got;
	int eof, rc = next_header(a, s, e, &eof, index, err);

	if (rc)
		return rc;
	if (eof)
		return ib_fail(err, IB_EVERIFY, "%s: entry '%s' is missing", s->path, want);
	if (strcmp(got = archive_entry_pathname(*e), want) != 0)
		return ib_fail(err, IB_EVERIFY, "%s: entry %zu is '%s', expected '%s'", s->path,
		               index, got, want);
	return check_regular(*e, s->path, index, err);
}

static int read_manifest(struct archive *a, struct source *s, const struct ib_bundle_claims *claims,
                         struct ib_manifest **out, struct ib_err *err)
{
	struct archive_entry *e;
	unsigned char digest[IB_HASH_FILE_BYTES];
	char hex[IB_HASH_FILE_HEX];
	char *json = NULL;
	struct ib_hash h;
	la_ssize_t size;
	int rc;

	rc = next_entry(a, s, 0, IB_MANIFEST_ENTRY, &e, err);
	if (rc)
		return rc;
	/*
	 * Read to the entry's end whatever its header says, at most one byte past the limit. The
	 * signed hash is checked before the parser (which refuses an empty or larger manifest)
	 * sees a byte.
	 */
	json = malloc(IB_MANIFEST_MAX_BYTES + 1);
	if (!json)
		return ib_oom(err);
	size = read_to_end(a, json, IB_MANIFEST_MAX_BYTES + 1);
	if (size < 0) {
		rc = ib_fail(err, IB_EVERIFY, "%s: entry '%s': %s", s->path, IB_MANIFEST_ENTRY,
		             archive_why(a));
		goto out;
	}
	rc = ib_hash_init(&h, IB_HASH_FILE_BYTES, err);
	if (rc)
		goto out;
	ib_hash_update(&h, json, (size_t)size);
	ib_hash_final(&h, digest);
	ib_hex(hex, digest, sizeof digest);
	/* An oversized manifest is reported as such by the parser, which refuses it unread. */
	if (strcmp(hex, claims->manifest_hash) != 0 && size <= IB_MANIFEST_MAX_BYTES)
		goto differs;
	rc = ib_manifest_parse_resolved(json, (size_t)size, s->path, out, err);
	if (rc == 0 &&
	    (strcmp((*out)->name, claims->name) != 0 || (*out)->sequence != claims->sequence))
		goto differs;
out:
	free(json);
	return rc;
differs:
	/* *out, NULL (the caller's zeroed bundle) until parsed, tells which. */
	rc = ib_fail(err, IB_EVERIFY, "%s: %s %s does not match the trusted comment", s->path,
	             IB_MANIFEST_ENTRY, *out ? "name or sequence" : "hash");
	goto out;
}

/* Creates the file an entry is extracted to; *target (its path) is the caller's to free. */
static int open_extract_target(const char *dir, const struct ib_file *f, FILE **fp, char **target,
                               struct ib_err *err)
{
	char *parent;
	int rc;

	*target = ib_path_join(dir, f->path);
	parent = *target ? ib_path_dirname(*target) : NULL;
	if (!parent) {
		rc = ib_oom(err);
		goto out;
	}
	rc = plat_mkdir_p(parent, 0700, err);
	if (rc == 0)
		rc = plat_create_excl(*target, (int)f->mode, fp, err);
out:
	free(parent);
	return rc;
}

/*
 * What the entries' workers do with each chunk of one entry: stage 0 hashes
 * it; stage 1, there when extracting, writes the chosen driver's files.
 */
struct entry_sink {
	struct ib_hash h;
	FILE *out;          /* NULL: not extracted */
	const char *target; /* for messages: extract_dir/path */
};

static int entry_consume(void *ctx, int stage, const unsigned char *data, size_t len,
                         struct ib_err *err)
{
	struct entry_sink *e = ctx;

	if (stage == 0) {
		ib_hash_update(&e->h, data, len);
		return 0;
	}
	if (!e->out)
		return 0;
	if (fwrite(data, 1, len, e->out) != len)
		return ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", e->target);
	return 0;
}

/*
 * Streams one entry's data: size and hash checked; written to extract_dir when
 * wanted. The size is the manifest's, whatever the tar header says: a header
 * that differs shows as too many or too few bytes here.
 */
static int read_entry_data(struct archive *a, struct source *s, const char *name,
                           const struct ib_file *f, const char *extract_dir, struct ib_err *err)
{
	struct entry_sink sink = {.h = {0}};
	unsigned char digest[IB_HASH_FILE_BYTES];
	unsigned char *chunk;
	char *target = NULL;
	uint64_t total = 0;
	la_ssize_t n = 0;
	int rc, sync_rc;

	rc = ib_hash_init(&sink.h, IB_HASH_FILE_BYTES, err);
	if (rc == 0 && extract_dir)
		rc = open_extract_target(extract_dir, f, &sink.out, &target, err);
	if (rc)
		goto out;
	sink.target = target;
	for (;;) {
		rc = ib_hashpipe_buffer(s->entries, &chunk, err);
		if (rc)
			goto out;
		n = archive_read_data(a, chunk, IO_CHUNK);
		if (n <= 0 || (total += (uint64_t)n) > f->size)
			break;
		ib_hashpipe_submit(s->entries, entry_consume, &sink, (size_t)n);
	}
	if (n < 0)
		rc = ib_fail(err, IB_EVERIFY, "%s: entry '%s': %s", s->path, name, archive_why(a));
	else if (total != f->size)
		rc = ib_fail(err, IB_EVERIFY,
		             "%s: entry '%s' %s %" PRIu64 " bytes, manifest says %" PRIu64, s->path,
		             name, n > 0 ? "is at least" : "is", total, f->size);
out:
	/* The worker may still be using the sink; a failed write comes out here. */
	sync_rc = ib_hashpipe_sync(s->entries, rc ? NULL : err);
	if (rc == 0)
		rc = sync_rc;
	if (rc == 0) {
		ib_hash_final(&sink.h, digest);
		/* Public data: the comparison need not take constant time. */
		if (memcmp(digest, f->blake2b, sizeof digest) != 0)
			rc = ib_fail(err, IB_EVERIFY,
			             "%s: entry '%s' does not match its BLAKE2b-256 hash", s->path,
			             name);
	}
	if (sink.out) {
		int close_rc = plat_close(sink.out, target, rc ? NULL : err);
		if (rc == 0)
			rc = close_rc;
	}
	ib_hash_abort(&sink.h);
	free(target);
	return rc;
}

static int in_manifest(const struct ib_manifest *m, const char *name)
{
	int found = !strcmp(name, IB_MANIFEST_ENTRY);

	for (size_t i = 0; !found && i < m->n_drivers; i++) {
		for (size_t j = 0; !found && j < m->drivers[i].n_files; j++) {
			char *entry =
			        ib_manifest_entry_name(&m->drivers[i], &m->drivers[i].files[j]);

			found = entry && !strcmp(entry, name);
			free(entry);
		}
	}
	return found;
}

/* Entries must come exactly in manifest order: name by name, nothing more. */
static int read_entries(struct archive *a, struct source *s, const struct ib_manifest *m,
                        const struct ib_driver *chosen, const char *extract_dir, struct ib_err *err)
{
	struct archive_entry *e;
	const char *got;
	size_t index = 1;
	int eof, rc = 0;

	for (size_t i = 0; i < m->n_drivers; i++) {
		const struct ib_driver *d = &m->drivers[i];

		for (size_t j = 0; j < d->n_files; j++, index++) {
			const struct ib_file *f = &d->files[j];
			char *name = ib_manifest_entry_name(d, f);

			if (!name)
				return ib_oom(err);
			rc = next_entry(a, s, index, name, &e, err);
			if (rc == 0)
				rc = read_entry_data(a, s, name, f,
				                     d == chosen ? extract_dir : NULL, err);
			free(name);
			if (rc)
				return rc;
		}
	}
	rc = next_header(a, s, &e, &eof, index, err);
	if (rc == 0 && !eof) {
		got = archive_entry_pathname(e);
		rc = ib_fail(err, IB_EVERIFY, "%s: entry %zu '%s' is %s", s->path, index, got,
		             in_manifest(m, got) ? "a duplicate" : "not in the manifest");
	}
	return rc;
}

/* The signature and its claims: given (a download) or loaded from the signature file. */
static int load_signature(const char *path, const struct ib_read_opts *o, struct ib_bundle *b,
                          struct ib_err *err)
{
	char *default_sig = NULL;
	const char *sig_file = o->sig_path;
	int rc;

	if (o->sig) {
		b->sig = *o->sig;
		sig_file = path;
	} else {
		if (!sig_file) {
			default_sig = ib_sig_path_for(path);
			if (!default_sig)
				return ib_oom(err);
			sig_file = default_sig;
		}
		rc = ib_sig_load(sig_file, &b->sig, err);
		if (rc)
			goto out;
	}
	rc = ib_sig_check_comment(&b->sig, o->keys, o->n_keys, &b->key_index, err);
	if (rc == 0)
		rc = ib_bundle_parse_claims(b->sig.trusted_comment, &b->claims, err);
	if (rc)
		ib_err_prefix(err, "%s", sig_file);
out:
	free(default_sig);
	return rc;
}

int ib_bundle_signed_claims(const char *bundle_path, const struct ib_pubkey *keys, size_t n_keys,
                            struct ib_bundle_claims *claims, struct ib_err *err)
{
	struct ib_read_opts o = {.keys = keys, .n_keys = n_keys};
	struct ib_bundle b;
	int rc = load_signature(bundle_path, &o, &b, err);

	if (rc == 0)
		*claims = b.claims;
	return rc;
}

/* The bundle file must be a regular file of the signed size. */
static int check_file(const char *path, uint64_t signed_size, struct ib_err *err)
{
	enum plat_kind kind;
	uint64_t size;
	int rc = plat_lstat(path, &kind, &size, err);

	if (rc)
		return rc;
	if (kind != PLAT_REGULAR)
		return ib_fail(err, kind == PLAT_MISSING ? IB_EINPUT : IB_EVERIFY, "%s: %s", path,
		               kind == PLAT_MISSING ? "no such bundle" : "not a regular file");
	if (size != signed_size)
		return ib_fail(err, IB_EVERIFY, FILE_SIZE_FMT, path, "", size, signed_size,
		               size < signed_size ? "truncated" : "extended");
	return 0;
}

int ib_bundle_read(const char *path, const struct ib_read_opts *o, struct ib_bundle *b,
                   struct ib_err *err)
{
	struct source s = {.path = path};
	struct archive *a = NULL;
	unsigned char digest[IB_HASH_SIG_BYTES];
	int rc;

	memset(b, 0, sizeof *b);
	rc = load_signature(path, o, b, err);
	if (rc == 0 && o->prepare)
		rc = o->prepare(o->prepare_ctx, path, &b->claims, err);
	if (rc == 0 && !o->produce)
		rc = check_file(path, b->claims.size, err);
	if (rc)
		goto out;
	s.limit = b->claims.size;
	if (!o->produce)
		rc = plat_open_read(path, &s.fp, err);
	if (rc == 0)
		rc = ib_hash_init(&s.whole, IB_HASH_SIG_BYTES, err);
	if (rc == 0)
		rc = ib_readahead_start(&s.raw, err);
	if (rc == 0)
		rc = ib_hashpipe_start(&s.entries, o->extract_dir ? 2 : 1, err);
	if (rc)
		goto out;
	ib_readahead_open_producer(s.raw, o->produce ? o->produce : ib_readahead_file,
	                           o->produce ? o->produce_ctx : (void *)s.fp, &s.whole, path);
	ib_progress_start(&s.bar, "verifying", s.limit, o->quiet);
	rc = open_reader(&s, &a, err);
	if (rc == 0)
		rc = read_manifest(a, &s, &b->claims, &b->manifest, err);
	if (rc == 0 && o->choose)
		rc = o->choose(o->choose_ctx, b->manifest, &b->chosen, err);
	if (rc == 0)
		rc = read_entries(a, &s, b->manifest, b->chosen, o->extract_dir, err);
	if (rc == 0)
		rc = drain(&s, err);
	if (rc)
		goto out;
	/*
	 * Fewer bytes than signed (a file cut while being read; check_file and
	 * the download ensured the size before) fail the signature.
	 */
	ib_hash_final(&s.whole, digest);
	rc = ib_sig_check_hash(&b->sig, &o->keys[b->key_index], digest, err);
	if (rc)
		ib_err_prefix(err, "%s", path);
out:
	rc = raw_cause(&s, rc, err);
	ib_progress_end(&s.bar);
	archive_read_free(a);
	/* Before the hash they feed and the buffers libarchive was given go. */
	ib_readahead_stop(s.raw);
	ib_hashpipe_stop(s.entries);
	ib_hash_abort(&s.whole);
	if (s.fp)
		fclose(s.fp);
	if (rc)
		ib_bundle_release(b);
	return rc;
}

int ib_bundle_peek_manifest(const char *path, struct ib_manifest **out, uint64_t *bundle_size,
                            struct ib_err *err)
{
	struct source s = {.path = path, .limit = UINT64_MAX};
	struct archive *a = NULL;
	struct archive_entry *e;
	char *json = NULL;
	enum plat_kind kind;
	la_ssize_t size;
	int eof, rc;

	*out = NULL;
	rc = plat_lstat(path, &kind, bundle_size, err);
	if (rc == 0 && kind != PLAT_REGULAR)
		rc = ib_fail(err, IB_EINPUT, "%s: %s", path,
		             kind == PLAT_MISSING ? "no such bundle" : "not a regular file");
	if (rc)
		return rc;
	rc = plat_open_read(path, &s.fp, err);
	if (rc == 0)
		rc = ib_readahead_start(&s.raw, err);
	if (rc)
		goto out;
	ib_readahead_open(s.raw, s.fp, NULL, path);
	s.bar.active = 0;
	rc = open_reader(&s, &a, err);
	if (rc == 0)
		rc = next_header(a, &s, &e, &eof, 0, err);
	if (rc == 0 && (eof || strcmp(archive_entry_pathname(e), IB_MANIFEST_ENTRY) != 0))
		rc = ib_fail(err, IB_EINPUT, "%s: first entry is not %s", path, IB_MANIFEST_ENTRY);
	if (rc == 0)
		rc = check_regular(e, path, 0, err);
	if (rc)
		goto out;
	json = malloc(IB_MANIFEST_MAX_BYTES + 1);
	if (!json) {
		rc = ib_oom(err);
		goto out;
	}
	size = read_to_end(a, json, IB_MANIFEST_MAX_BYTES + 1);
	if (size < 0)
		rc = ib_fail(err, IB_EINPUT, "%s: entry '%s': %s", path, IB_MANIFEST_ENTRY,
		             archive_why(a));
	else
		rc = ib_manifest_parse_resolved(json, (size_t)size, path, out, err);
out:
	rc = raw_cause(&s, rc, err);
	archive_read_free(a);
	ib_readahead_stop(s.raw);
	if (s.fp)
		fclose(s.fp);
	free(json);
	return rc;
}

void ib_bundle_release(struct ib_bundle *b)
{
	ib_manifest_free(b->manifest);
	b->manifest = NULL;
	b->chosen = NULL;
}
