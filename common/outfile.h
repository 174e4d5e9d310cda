/*
 * outfile.h - write a file under a temporary name, then rename it into place.
 *
 * Nothing half-written is ever visible under the final name: ib_outfile_open
 * creates "<path>.tmp-<random>" beside path; ib_outfile_commit syncs it
 * (unless no_sync) and renames it over path; ib_outfile_abort (safe to call after commit, or
 * twice) deletes the temporary file. The struct owns both path copies.
 */
#ifndef IBDRV_OUTFILE_H
#define IBDRV_OUTFILE_H

#include "err.h"

#include <stdio.h>

struct ib_outfile {
	char *path;
	char *tmp_path;
	FILE *fp; /* write here between open and commit */
	/*
	 * Set before commit to skip the sync: only for a file whose loss or
	 * damage in a crash is detected and repaired when it is next used
	 * (the download cache, verified in full on every use).
	 */
	int no_sync;
};

/* mode is the permission bits of the final file (0600 for secret keys). */
int ib_outfile_open(struct ib_outfile *out, const char *path, int mode, struct ib_err *err);

/* With overwrite == 0, refuses (IB_EEXIST) when path already exists. */
int ib_outfile_commit(struct ib_outfile *out, int overwrite, struct ib_err *err);

void ib_outfile_abort(struct ib_outfile *out);

/* Writes a small file (0644) in one go from a printf format: open, write, commit over any old one.
 */
int ib_outfile_printf(const char *path, struct ib_err *err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* IB_EEXIST ("already exists (use -f to overwrite)") when path exists, before any work starts. */
int ib_outfile_refuse_existing(const char *path, struct ib_err *err);

#endif
