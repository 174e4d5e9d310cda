/*
 * readfile.h - read a whole small file (settings, state, facts, catalogs,
 * sysfs attributes, os-release, the KVP pool).
 *
 * The read stops with an error naming the file as soon as it passes the cap,
 * so a huge or endless file cannot exhaust memory. The buffer is malloc'd,
 * NUL-terminated (len excludes the NUL) and owned by the caller.
 */
#ifndef IBDRV_READFILE_H
#define IBDRV_READFILE_H

#include "err.h"

#include <stddef.h>

/* IB_EINPUT when path is missing, not a regular file, or larger than max bytes. */
int ib_read_file(const char *path, size_t max, char **data, size_t *len, struct ib_err *err);

#endif
