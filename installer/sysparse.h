/*
 * sysparse.h - pure parsers of what Linux reports about the machine.
 *
 * No file access here: detect_posix.c reads the files and hands their bytes
 * to these functions, so they are tested on fixtures and stay portable.
 * Returned strings are malloc'd and owned by the caller, but for ib_sysfs_line's,
 * which is the text it was given.
 */
#ifndef IBDRV_SYSPARSE_H
#define IBDRV_SYSPARSE_H

#include "err.h"

#include <stddef.h>

/* The Hyper-V KVP pool files hold fixed-size records: a key, then a value, NUL-padded. */
#define IB_KVP_KEY_BYTES 512
#define IB_KVP_VALUE_BYTES 2048
#define IB_KVP_RECORD_BYTES (IB_KVP_KEY_BYTES + IB_KVP_VALUE_BYTES)

/*
 * The value of variable key in os-release text, NUL-terminated (os-release(5):
 * KEY=VALUE lines, values optionally in single or double quotes, backslash
 * escapes in double quotes, '#' comments). *value is NULL when the key is
 * absent. Reads uevent files too ("PCI_SLOT_NAME=0101:00:00.0" lines).
 */
int ib_os_release_get(const char *text, const char *key, char **value, struct ib_err *err);

/*
 * Looks key up in the records of a KVP pool file. Returns 1 and sets *value
 * (NULL when the value is not printable ASCII) when found, 0 when not, or a
 * negative IB_E* code. An incomplete final record is ignored, as the daemon
 * that writes the pool does.
 */
int ib_kvp_lookup(const unsigned char *data, size_t len, const char *key, char **value,
                  struct ib_err *err);

/*
 * A sysfs hex attribute ("0x15b3\n") as lower-case hex without "0x" into out:
 * digits must be exactly the length of out minus one (4 for ids, 6 for a
 * class). Returns 0, or -1 when the text is not such a number.
 */
int ib_sysfs_hex(const char *text, char *out, size_t out_size);

/* Cuts a sysfs attribute after its first line ("InfiniBand\n" becomes "InfiniBand"); returns
 * text. */
char *ib_sysfs_line(char *text);

#endif
