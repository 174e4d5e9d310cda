/*
 * Packing: hash every payload (the manifest, which goes first, needs the
 * sizes and hashes), then stream the manifest and payloads through libarchive
 * into a temporary file while hashing the output for the signature. Payloads
 * are hashed again as they are archived, so a file that changes during the
 * pack is caught instead of silently mismatching its manifest entry.
 *
 * Work is spread over threads; the bytes written never depend on it. The
 * first pass hashes two files at a time. In the second, the main thread
 * compresses while a readahead reads and re-hashes the payloads and a
 * two-stage hashpipe hashes and writes the compressed output.
 */
#include "bundle.h"

#include "hashpipe.h"
#include "outfile.h"
#include "path.h"
#include "platform.h"
#include "progress.h"
#include "readahead.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define IO_CHUNK (256u << 10)
#define HASH_THREADS 2

/* Writing ahead of the final sync keeps it short without flooding the cache. */
#define WRITE_BEHIND_BYTES (8u << 20)

struct sink {
	FILE *fp;
	const char *path;
	struct ib_hash whole; /* BLAKE2b-512 of every byte written: what gets signed */
	struct ib_hashpipe *pipe;
	uint64_t written; /* by the main thread */
	size_t unsynced;  /* by the writing worker */
};

/* The output's two workers: stage 0 hashes each chunk, stage 1 writes it. */
static int sink_consume(void *ctx, int stage, const unsigned char *data, size_t len,
                        struct ib_err *err)
{
	struct sink *s = ctx;

	if (stage == 0) {
		ib_hash_update(&s->whole, data, len);
		return 0;
	}
	if (fwrite(data, 1, len, s->fp) != len)
		return ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", s->path);
	s->unsynced += len;
	if (s->unsynced < WRITE_BEHIND_BYTES)
		return 0;
	s->unsynced = 0;
	return plat_write_behind(s->fp, s->path, err);
}

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;
	struct ib_err err;

	if (ib_hashpipe_write(s->pipe, sink_consume, s, buf, len, &err)) {
		archive_set_error(a, EIO, "%s", err.msg);
		return -1;
	}
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
		return ib_oom(err);
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

/* A file of the first pass; index is its place in the manifest. */
struct hash_task {
	struct ib_file *file;
	uint64_t size;
	size_t index;
};

/* The first pass, shared by its threads; every field after tasks is guarded by mon. */
struct hash_batch {
	struct plat_monitor *mon;
	struct hash_task *tasks; /* biggest first, so that the threads end together */
	size_t n_tasks;
	size_t next;
	struct ib_progress bar;
	int rc; /* the failure of the lowest-indexed failed file */
	size_t fail_index;
	struct ib_err err;
};

static int hash_one(struct hash_batch *b, struct ib_file *f, unsigned char *buf, struct ib_err *err)
{
	struct ib_hash h = {0};
	FILE *fp = NULL;
	uint64_t size = 0;
	size_t n;
	int rc;

	rc = plat_open_read(f->source, &fp, err);
	if (rc == 0)
		rc = ib_hash_init(&h, IB_HASH_FILE_BYTES, err);
	if (rc)
		goto out;
	while ((n = fread(buf, 1, IO_CHUNK, fp)) > 0) {
		ib_hash_update(&h, buf, n);
		size += n;
		plat_monitor_enter(b->mon);
		ib_progress_add(&b->bar, n);
		plat_monitor_leave(b->mon);
	}
	if (ferror(fp)) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot read", f->source);
		goto out;
	}
	ib_hash_final(&h, f->blake2b);
	f->size = size;
out:
	ib_hash_abort(&h);
	if (fp)
		fclose(fp);
	return rc;
}

/* Each thread takes the next file until none is left or one has failed. */
static void hash_worker(void *arg)
{
	struct hash_batch *b = arg;
	unsigned char *buf = malloc(IO_CHUNK);
	struct ib_err err;

	plat_monitor_enter(b->mon);
	while (b->next < b->n_tasks && b->rc == 0) {
		struct hash_task *t = &b->tasks[b->next++];
		int rc;

		plat_monitor_leave(b->mon);
		ib_err_clear(&err);
		rc = buf ? hash_one(b, t->file, buf, &err) : ib_oom(&err);
		plat_monitor_enter(b->mon);
		if (rc && (b->rc == 0 || t->index < b->fail_index)) {
			b->rc = rc;
			b->fail_index = t->index;
			b->err = err;
		}
	}
	plat_monitor_leave(b->mon);
	free(buf);
}

static int by_size_desc(const void *x, const void *y)
{
	const struct hash_task *a = x, *b = y;

	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* First pass: sizes and hashes for the manifest. */
static int hash_payloads(const struct ib_pack_opts *o, struct ib_manifest *m, uint64_t *total,
                         struct ib_err *err)
{
	char *base = ib_path_dirname(o->manifest_path);
	struct hash_batch batch = {0};
	struct plat_thread *threads[HASH_THREADS - 1] = {0};
	size_t n_files = 0, n_threads = 0;
	uint64_t sum = 0;
	int rc = 0;

	if (!base)
		return ib_oom(err);
	for (size_t i = 0; i < m->n_drivers; i++)
		n_files += m->drivers[i].n_files;
	batch.tasks = calloc(n_files ? n_files : 1, sizeof *batch.tasks);
	if (!batch.tasks) {
		rc = ib_oom(err);
		goto out;
	}
	for (size_t i = 0; i < m->n_drivers; i++) {
		for (size_t j = 0; j < m->drivers[i].n_files; j++) {
			struct ib_file *f = &m->drivers[i].files[j];
			struct hash_task *t = &batch.tasks[batch.n_tasks];

			rc = check_ascii_name(o->manifest_path, &m->drivers[i], f, err);
			if (rc == 0)
				rc = check_input_path(base, f->source, err);
			if (rc == 0)
				rc = plat_lstat(f->source, &(enum plat_kind){0}, &t->size, err);
			if (rc)
				goto out;
			t->file = f;
			t->index = batch.n_tasks++;
			sum += t->size;
		}
	}
	qsort(batch.tasks, batch.n_tasks, sizeof *batch.tasks, by_size_desc);
	rc = plat_monitor_new(&batch.mon, err);
	if (rc)
		goto out;
	ib_progress_start(&batch.bar, "hashing", sum, o->quiet);
	while (n_threads < HASH_THREADS - 1 && n_threads + 1 < batch.n_tasks) {
		rc = plat_thread_start(&threads[n_threads], hash_worker, &batch, err);
		if (rc)
			break;
		n_threads++;
	}
	if (rc == 0) {
		hash_worker(&batch);
	} else {
		/* The threads already started stop at once. */
		plat_monitor_enter(batch.mon);
		batch.next = batch.n_tasks;
		plat_monitor_leave(batch.mon);
	}
	for (size_t i = 0; i < n_threads; i++)
		plat_thread_join(threads[i]);
	ib_progress_end(&batch.bar);
	if (rc == 0 && batch.rc) {
		rc = batch.rc;
		if (err)
			*err = batch.err;
	}
	if (rc == 0)
		*total = sum;
out:
	plat_monitor_free(batch.mon);
	free(batch.tasks);
	free(base);
	return rc;
}

/* Second pass over one payload: read and hashed again on the readahead's thread. */
static int archive_payload(struct archive *a, struct ib_readahead *ra, const struct ib_file *f,
                           struct ib_progress *bar, struct ib_err *err)
{
	struct ib_hash h = {0};
	unsigned char digest[IB_HASH_FILE_BYTES];
	const unsigned char *buf;
	FILE *fp = NULL;
	uint64_t size = 0;
	size_t n;
	int rc;

	rc = plat_open_read(f->source, &fp, err);
	if (rc == 0)
		rc = ib_hash_init(&h, IB_HASH_FILE_BYTES, err);
	if (rc)
		goto out;
	ib_readahead_open(ra, fp, &h, f->source);
	while ((rc = ib_readahead_next(ra, &buf, &n, err)) == 0 && n > 0) {
		size += n;
		ib_progress_add(bar, n);
		if (archive_write_data(a, buf, n) != (la_ssize_t)n) {
			rc = ib_fail(err, IB_EIO, "%s: %s", f->source,
			             archive_error_string(a) ? archive_error_string(a)
			                                     : "changed while packing");
			goto out;
		}
	}
	if (rc)
		goto out;
	ib_hash_final(&h, digest);
	if (size != f->size || sodium_memcmp(digest, f->blake2b, sizeof digest))
		rc = ib_fail(err, IB_EINPUT, "%s: changed while packing", f->source);
out:
	ib_readahead_close(ra);
	ib_hash_abort(&h);
	if (fp)
		fclose(fp);
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
		return ib_oom(err);
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
                         struct ib_err *err)
{
	struct archive *a = archive_write_new();
	struct ib_readahead *ra = NULL;
	struct ib_progress bar;
	int rc = 0;

	if (!a)
		return ib_oom(err);
	ib_progress_start(&bar, "packing", total, o->quiet);
	rc = ib_readahead_start(&ra, err);
	if (rc)
		goto out;
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

			if (!name) {
				rc = ib_oom(err);
				goto out;
			}
			rc = write_entry_header(a, name, f->size, f->mode, o->timestamp, err);
			free(name);
			if (rc == 0)
				rc = archive_payload(a, ra, f, &bar, err);
			if (rc)
				goto out;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = ib_fail(err, IB_EIO, "%s: %s", o->out_path, archive_error_string(a));
out:
	ib_progress_end(&bar);
	archive_write_free(a);
	ib_readahead_stop(ra);
	return rc;
}

int ib_bundle_pack(const struct ib_pack_opts *o, const struct ib_seckey *sk,
                   struct ib_pack_result *result, struct ib_err *err)
{
	struct ib_manifest *m = NULL;
	struct ib_outfile bundle_out = {0}, sig_out = {0};
	struct sink sink = {0};
	unsigned char manifest_digest[IB_HASH_FILE_BYTES], whole_digest[IB_HASH_SIG_BYTES];
	char *json = NULL, *sig_text = NULL, *sig_path = NULL;
	char comment[IB_TRUSTED_COMMENT_MAX];
	struct ib_err sink_err;
	size_t json_len = 0;
	uint64_t total = 0;
	int rc, sync_rc;

	memset(result, 0, sizeof *result);
	sig_path = ib_sig_path_for(o->out_path);
	if (!sig_path) {
		rc = ib_oom(err);
		goto out;
	}
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
	rc = hash_payloads(o, m, &total, err);
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
	sink.path = o->out_path;
	rc = ib_hash_init(&sink.whole, IB_HASH_SIG_BYTES, err);
	if (rc == 0)
		rc = ib_hashpipe_start(&sink.pipe, 2, err);
	if (rc)
		goto out;
	rc = write_archive(o, m, json, json_len, total, &sink, err);
	/* A failed write of the output explains any archive failure that followed it. */
	sync_rc = ib_hashpipe_sync(sink.pipe, &sink_err);
	if (sync_rc) {
		rc = sync_rc;
		if (err)
			*err = sink_err;
	}
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
	/* Before the hash and the file it uses go. */
	ib_hashpipe_stop(sink.pipe);
	ib_hash_abort(&sink.whole);
	ib_outfile_abort(&bundle_out);
	ib_outfile_abort(&sig_out);
	ib_manifest_free(m);
	free(json);
	free(sig_text);
	free(sig_path);
	return rc;
}
