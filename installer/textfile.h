/*
 * textfile.h - read a small file whole, with a size cap.
 *
 * For configuration-sized inputs (facts, catalogs, sysfs attributes, the
 * os-release and KVP files): the read stops with an error naming the file as
 * soon as it passes the cap, so a huge or endless file cannot exhaust memory.
 * The buffer is malloc'd, NUL-terminated (not counted in len) and owned by
 * the caller.
 */
#ifndef IBDRV_TEXTFILE_H
#define IBDRV_TEXTFILE_H

#include "err.h"

#include <stddef.h>

/* A missing file is IB_EINPUT; a file larger than max bytes is IB_EINPUT too. */
int ib_read_file(const char *path, size_t max, char **data, size_t *len, struct ib_err *err);

#endif
