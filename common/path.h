/*
 * path.h - pure string helpers for '/'-separated paths (no file system access).
 * Returned strings are malloc'd and owned by the caller; NULL means out of memory.
 */
#ifndef IBDRV_PATH_H
#define IBDRV_PATH_H

/* "a" + "/" + "b"; an empty a gives a copy of b. */
char *ib_path_join(const char *a, const char *b);

/* Everything before the last '/', or "." when there is none. */
char *ib_path_dirname(const char *path);

/* The part after the last '/'. Points into path; not allocated. */
const char *ib_path_basename(const char *path);

/*
 * Non-zero when rel is a safe relative path inside a folder: not empty, not
 * absolute, no drive letter or backslash, no empty, "." or ".." component,
 * no control characters, at most 255 bytes.
 */
int ib_path_is_safe_relative(const char *rel);

/* Why rel is not a safe relative path ("is absolute", "has an empty component", ...), or NULL
 * when it is one. A static string. */
const char *ib_path_unsafe_reason(const char *rel);

#endif
