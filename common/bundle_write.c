/*
 * Packing: hash every payload (the manifest, which goes first, needs the
 * sizes and hashes), then stream the manifest and payloads through libarchive
 * into a temporary file while hashing the output for the signature. Payloads
 * are hashed again as they are archived, so a file that changes during the
 * pack is caught instead of silently mismatching its manifest entry.
 */
#include "bundle.h"

#include "outfile.h"
#include "path.h"
#include "platform.h"
#include "progress.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define IO_CHUNK (256u << 10)

struct sink {
	FILE *fp;
	struct ib_hash whole; /* BLAKE2b-512 of every byte written: what gets signed */
	uint64_t written;
};

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;

	if (fwrite(buf, 1, len, s->fp) != len) {
		archive_set_error(a, errno, "cannot write: %s", strerror(errno));
		return -1;
	}
	ib_hash_update(&s->whole, buf, len);
	s->written += len;
	return (la_ssize_t)len;
}

/* Refuses symlinks, devices and folders anywhere below the manifest's folder. */
static int check_input_path(const char *base, const char *full, struct ib_err *err)
{
	size_t base_len = strlen(base);
	char *prefix = strdup(full);
	int rc = 0;

	if (!prefix)
		return ib_fail(err, IB_ENOMEM, "out of memory");
	for (char *p = prefix + base_len + 1;; p++) {
		char saved = *p;
		enum plat_kind kind;

		if (saved != '/' && saved != '\0')
			continue;
		*p = '\0';
		rc = plat_lstat(prefix, &kind, NULL, err);
		if (rc)
			goto out;
		if (kind == PLAT_MISSING) {
			rc = ib_fail(err, IB_EINPUT, "%s: payload file is missing", prefix);
			goto out;
		}
		if (kind == PLAT_SYMLINK) {
			rc = ib_fail(err, IB_EINPUT,
			             "%s: is a symbolic link (not allowed in inputs)", prefix);
			goto out;
		}
		if (saved == '\0') {
			if (kind != PLAT_REGULAR)
				rc = ib_fail(err, IB_EINPUT, "%s: not a regular file", prefix);
			goto out;
		}
		if (kind != PLAT_DIR) {
			rc = ib_fail(err, IB_EINPUT, "%s: not a folder", prefix);
			goto out;
		}
		*p = saved;
	}
out:
	free(prefix);
	return rc;
}

/* Streams a payload file, hashing it (BLAKE2b-256) and passing each chunk to archive a if set. */
static int stream_payload(const char *path, struct archive *a, unsigned char *buf,
                          struct ib_progress *bar, unsigned char digest[IB_HASH_FILE_BYTES],
                          uint64_t *size, struct ib_err *err)
{
	struct ib_hash h = {0};
	FILE *fp = NULL;
	size_t n;
	int rc;

	*size = 0;
	rc = plat_open_read(path, &fp, err);
	if (rc)
		goto out;
	rc = ib_hash_init(&h, IB_HASH_FILE_BYTES, err);
	if (rc)
		goto out;
	while ((n = fread(buf, 1, IO_CHUNK, fp)) > 0) {
		ib_hash_update(&h, buf, n);
		*size += n;
		ib_progress_add(bar, n);
		if (a && archive_write_data(a, buf, n) != (la_ssize_t)n) {
			rc = ib_fail(err, IB_EIO, "%s: %s", path,
			             archive_error_string(a) ? archive_error_string(a)
			                                     : "changed while packing");
			goto out;
		}
	}
	if (ferror(fp)) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot read", path);
		goto out;
	}
	ib_hash_final(&h, digest);
out:
	ib_hash_abort(&h);
	if (fp)
		fclose(fp);
	return rc;
}

static int check_ascii_name(const char *manifest_path, const struct ib_driver *d,
                            const struct ib_file *f, struct ib_err *err)
{
	for (const char *p = f->path; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return ib_fail(err, IB_EINPUT,
			               "%s: driver '%s': file '%s': only printable ASCII names are "
			               "allowed",
			               manifest_path, d->id, f->path);
	return 0;
}

/* First pass: sizes and hashes for the manifest. */
static int hash_payloads(const struct ib_pack_opts *o, struct ib_manifest *m, unsigned char *buf,
                         uint64_t *total, struct ib_err *err)
{
	char *base = ib_path_dirname(o->manifest_path);
	struct ib_progress bar;
	uint64_t sum = 0;
	int rc = 0;

	if (!base)
		return ib_fail(err, IB_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n_drivers; i++) {
		for (size_t j = 0; j < m->drivers[i].n_files; j++) {
			struct ib_file *f = &m->drivers[i].files[j];
			uint64_t size;

			rc = check_ascii_name(o->manifest_path, &m->drivers[i], f, err);
			if (rc == 0)
				rc = check_input_path(base, f->source, err);
			if (rc == 0)
				rc = plat_lstat(f->source, &(enum plat_kind){0}, &size, err);
			if (rc)
				goto out;
			sum += size;
		}
	}
	ib_progress_start(&bar, "hashing", sum, o->quiet);
	for (size_t i = 0; i < m->n_drivers; i++) {
		for (size_t j = 0; j < m->drivers[i].n_files; j++) {
			struct ib_file *f = &m->drivers[i].files[j];

			rc = stream_payload(f->source, NULL, buf, &bar, f->blake2b, &f->size, err);
			if (rc)
				goto out_bar;
		}
	}
	*total = sum;
out_bar:
	ib_progress_end(&bar);
out:
	free(base);
	return rc;
}

static struct archive_entry *file_entry(const char *name, uint64_t size, unsigned mode,
                                        uint64_t timestamp)
{
	struct archive_entry *e = archive_entry_new();

	if (!e)
		return NULL;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, (mode_t)mode);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)timestamp, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	return e;
}

static int write_entry_header(struct archive *a, const char *name, uint64_t size, unsigned mode,
                              uint64_t timestamp, struct ib_err *err)
{
	struct archive_entry *e = file_entry(name, size, mode, timestamp);
	int rc = 0;

	if (!e)
		return ib_fail(err, IB_ENOMEM, "out of memory");
	if (archive_write_header(a, e) != ARCHIVE_OK)
		rc = ib_fail(err, IB_EIO, "%s: cannot write entry header: %s", name,
		             archive_error_string(a));
	archive_entry_free(e);
	return rc;
}

static int set_filter(struct archive *a, const struct ib_pack_opts *o, struct ib_err *err)
{
	char level[16];
	int r = ARCHIVE_OK;

	snprintf(level, sizeof level, "%d", o->level);
	switch (o->compression) {
	case IB_COMPRESS_NONE:
		return 0;
	case IB_COMPRESS_GZIP:
		r = archive_write_add_filter_gzip(a);
		/* No time in the gzip header: the bundle must be reproducible. */
		if (r == ARCHIVE_OK)
			r = archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
		if (r == ARCHIVE_OK && o->level >= 0)
			r = archive_write_set_filter_option(a, "gzip", "compression-level", level);
		break;
	case IB_COMPRESS_ZSTD:
		r = archive_write_add_filter_zstd(a);
		if (r == ARCHIVE_OK && o->level >= 0)
			r = archive_write_set_filter_option(a, "zstd", "compression-level", level);
		break;
	}
	if (r != ARCHIVE_OK)
		return ib_fail(err, IB_EUSAGE, "compression: %s", archive_error_string(a));
	/* Compressed output needs no padding to tar's 10 KiB records. */
	archive_write_set_bytes_in_last_block(a, 1);
	return 0;
}

static int write_archive(const struct ib_pack_opts *o, const struct ib_manifest *m,
                         const char *json, size_t json_len, uint64_t total, struct sink *sink,
                         unsigned char *buf, struct ib_err *err)
{
	struct archive *a = archive_write_new();
	struct ib_progress bar;
	int rc = 0;

	if (!a)
		return ib_fail(err, IB_ENOMEM, "out of memory");
	ib_progress_start(&bar, "packing", total, o->quiet);
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK) {
		rc = ib_fail(err, IB_EINTERNAL, "tar writer: %s", archive_error_string(a));
		goto out;
	}
	rc = set_filter(a, o, err);
	if (rc)
		goto out;
	if (archive_write_open(a, sink, NULL, sink_write, NULL) != ARCHIVE_OK) {
		rc = ib_fail(err, IB_EIO, "%s: %s", o->out_path, archive_error_string(a));
		goto out;
	}
	rc = write_entry_header(a, IB_MANIFEST_ENTRY, json_len, 0644, o->timestamp, err);
	if (rc)
		goto out;
	if (archive_write_data(a, json, json_len) != (la_ssize_t)json_len) {
		rc = ib_fail(err, IB_EIO, "%s: %s", o->out_path, archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; i < m->n_drivers; i++) {
		const struct ib_driver *d = &m->drivers[i];

		for (size_t j = 0; j < d->n_files; j++) {
			const struct ib_file *f = &d->files[j];
			char *name = ib_manifest_entry_name(d, f);
			unsigned char digest[IB_HASH_FILE_BYTES];
			uint64_t size;

			if (!name) {
				rc = ib_fail(err, IB_ENOMEM, "out of memory");
				goto out;
			}
			rc = write_entry_header(a, name, f->size, f->mode, o->timestamp, err);
			free(name);
			if (rc == 0)
				rc = stream_payload(f->source, a, buf, &bar, digest, &size, err);
			if (rc)
				goto out;
			if (size != f->size || sodium_memcmp(digest, f->blake2b, sizeof digest)) {
				rc = ib_fail(err, IB_EINPUT, "%s: changed while packing",
				             f->source);
				goto out;
			}
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = ib_fail(err, IB_EIO, "%s: %s", o->out_path, archive_error_string(a));
out:
	ib_progress_end(&bar);
	archive_write_free(a);
	return rc;
}

int ib_bundle_pack(const struct ib_pack_opts *o, const struct ib_seckey *sk,
                   struct ib_pack_result *result, struct ib_err *err)
{
	struct ib_manifest *m = NULL;
	struct ib_outfile bundle_out = {0}, sig_out = {0};
	struct sink sink = {0};
	unsigned char *buf = NULL;
	unsigned char manifest_digest[IB_HASH_FILE_BYTES], whole_digest[IB_HASH_SIG_BYTES];
	char *json = NULL, *sig_text = NULL, *sig_path = NULL;
	char comment[IB_TRUSTED_COMMENT_MAX];
	size_t json_len = 0;
	uint64_t total = 0;
	int rc;

	memset(result, 0, sizeof *result);
	sig_path = malloc(strlen(o->out_path) + sizeof ".minisig");
	buf = malloc(IO_CHUNK);
	if (!sig_path || !buf) {
		rc = ib_fail(err, IB_ENOMEM, "out of memory");
		goto out;
	}
	sprintf(sig_path, "%s.minisig", o->out_path);
	if (!o->overwrite) {
		rc = ib_outfile_refuse_existing(o->out_path, err);
		if (rc == 0)
			rc = ib_outfile_refuse_existing(sig_path, err);
		if (rc)
			goto out;
	}
	rc = ib_manifest_load_input(o->manifest_path, &m, err);
	if (rc)
		goto out;
	rc = hash_payloads(o, m, buf, &total, err);
	if (rc)
		goto out;
	m->created = o->timestamp;
	rc = ib_manifest_serialize(m, &json, &json_len, err);
	if (rc)
		goto out;
	crypto_generichash(manifest_digest, sizeof manifest_digest, (const unsigned char *)json,
	                   json_len, NULL, 0);
	ib_hex(result->manifest_hash, manifest_digest, sizeof manifest_digest);

	rc = ib_outfile_open(&bundle_out, o->out_path, 0644, err);
	if (rc)
		goto out;
	sink.fp = bundle_out.fp;
	rc = ib_hash_init(&sink.whole, IB_HASH_SIG_BYTES, err);
	if (rc)
		goto out;
	rc = write_archive(o, m, json, json_len, total, &sink, buf, err);
	if (rc)
		goto out;
	ib_hash_final(&sink.whole, whole_digest);

	snprintf(comment, sizeof comment,
	         "%s\tname:%s\tsize:%" PRIu64 "\tsequence:%" PRIu64
	         "\tmanifest-blake2b:%s\tfile:%s",
	         IB_BUNDLE_TC_TAG, m->name, sink.written, m->sequence, result->manifest_hash,
	         ib_path_basename(o->out_path));
	rc = ib_sign_hash(sk, whole_digest, comment, NULL, &sig_text, err);
	if (rc)
		goto out;
	rc = ib_outfile_open(&sig_out, sig_path, 0644, err);
	if (rc)
		goto out;
	if (fputs(sig_text, sig_out.fp) == EOF) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", sig_path);
		goto out;
	}
	rc = ib_outfile_commit(&bundle_out, o->overwrite, err);
	if (rc)
		goto out;
	rc = ib_outfile_commit(&sig_out, 1, err);
	if (rc) {
		/* A bundle without its signature is useless and misleading. */
		plat_remove(o->out_path, NULL);
		goto out;
	}
	result->bundle_size = sink.written;
	result->payload_bytes = total;
	result->n_drivers = m->n_drivers;
	for (size_t i = 0; i < m->n_drivers; i++)
		result->n_files += m->drivers[i].n_files;
out:
	ib_hash_abort(&sink.whole);
	ib_outfile_abort(&bundle_out);
	ib_outfile_abort(&sig_out);
	ib_manifest_free(m);
	free(json);
	free(sig_text);
	free(sig_path);
	free(buf);
	return rc;
}
