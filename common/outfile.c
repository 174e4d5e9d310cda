/* strdup is POSIX, not C11. */

#include "outfile.h"

#include "platform.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int ib_outfile_open(struct ib_outfile *out, const char *path, int mode, struct ib_err *err)
{
	unsigned char rnd[8];
	char hex[sizeof rnd * 2 + 1];
	size_t len = strlen(path) + sizeof hex + 8;
	int rc;

	memset(out, 0, sizeof *out);
	out->path = strdup(path);
	out->tmp_path = malloc(len);
	if (!out->path || !out->tmp_path) {
		ib_outfile_abort(out);
		return ib_oom(err);
	}
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
	snprintf(out->tmp_path, len, "%s.tmp-%s", path, hex);
	rc = plat_create_excl(out->tmp_path, mode, &out->fp, err);
	if (rc) {
		ib_err_prefix(err, "cannot write %s", path);
		free(out->tmp_path);
		out->tmp_path = NULL;
		ib_outfile_abort(out);
	}
	return rc;
}

int ib_outfile_commit(struct ib_outfile *out, int overwrite, struct ib_err *err)
{
	FILE *fp = out->fp;
	int rc;

	out->fp = NULL;
	rc = out->no_sync ? plat_close(fp, out->tmp_path, err)
	                  : plat_sync_close(fp, out->tmp_path, err);
	if (rc)
		goto out;
	if (!overwrite) {
		rc = ib_outfile_refuse_existing(out->path, err);
		if (rc)
			goto out;
	}
	rc = plat_rename_replace(out->tmp_path, out->path, err);
	if (rc == 0) {
		free(out->tmp_path);
		out->tmp_path = NULL;
	}
out:
	ib_outfile_abort(out);
	return rc;
}

void ib_outfile_abort(struct ib_outfile *out)
{
	if (out->fp)
		fclose(out->fp);
	if (out->tmp_path)
		plat_remove(out->tmp_path, NULL);
	free(out->tmp_path);
	free(out->path);
	memset(out, 0, sizeof *out);
}

int ib_outfile_refuse_existing(const char *path, struct ib_err *err)
{
	enum plat_kind kind;
	int rc = plat_lstat(path, &kind, NULL, err);

	if (rc == 0 && kind != PLAT_MISSING)
		rc = ib_fail(err, IB_EEXIST, "%s: already exists (use -f to overwrite)", path);
	return rc;
}

int ib_outfile_printf(const char *path, struct ib_err *err, const char *fmt, ...)
{
	struct ib_outfile out;
	va_list ap;
	int rc = ib_outfile_open(&out, path, 0644, err), n;

	if (rc)
		return rc;
	va_start(ap, fmt);
	n = vfprintf(out.fp, fmt, ap);
	va_end(ap);
	if (n < 0) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", out.tmp_path);
		ib_outfile_abort(&out);
		return rc;
	}
	return ib_outfile_commit(&out, 1, err);
}
