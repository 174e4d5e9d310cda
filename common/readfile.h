/*
 * readfile.h - read a whole small file (settings, state, JSON documents).
 *
 * The buffer is malloc'd, NUL-terminated (len excludes the NUL) and owned by
 * the caller. Files larger than max are refused rather than truncated, so a
 * runaway file cannot exhaust memory.
 */
#ifndef IBDRV_READFILE_H
#define IBDRV_READFILE_H

#include "err.h"

#include <stddef.h>

/* IB_EINPUT when path is missing, not a regular file, or larger than max bytes. */
int ib_read_file(const char *path, size_t max, char **out, size_t *len, struct ib_err *err);

#endif
