/*
 * json.h - strict JSON parsing on top of cJSON.
 *
 * cJSON alone accepts trailing garbage and duplicate keys (lookups then see
 * the first one only); ib_json_parse refuses both, and names the source and
 * the byte offset of a syntax error. The tree belongs to the caller
 * (cJSON_Delete). The getters check types and name the key in errors as
 * "<source>: <key>: expected ...".
 */
#ifndef IBDRV_JSON_H
#define IBDRV_JSON_H

#include "err.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

int ib_json_parse(const char *text, size_t len, const char *source, cJSON **out,
                  struct ib_err *err);

/* Refuses any member of obj whose name is not in allowed (NULL-terminated). */
int ib_json_only_keys(const cJSON *obj, const char *const *allowed, const char *source,
                      const char *where, struct ib_err *err);

/* The string member key of obj. Missing: IB_EINPUT unless optional (then *out = NULL). */
int ib_json_string(const cJSON *obj, const char *key, int optional, const char *source,
                   const char **out, struct ib_err *err);

/* Copies the string member key into out (cap bytes, NUL included); too long is an error. */
int ib_json_string_buf(const cJSON *obj, const char *key, const char *source, char *out, size_t cap,
                       struct ib_err *err);

/* An integral number member in [min, max] (both within +-2^53). */
int ib_json_int(const cJSON *obj, const char *key, int64_t min, int64_t max, const char *source,
                int64_t *out, struct ib_err *err);

/*
 * A copy of s with every byte that is not part of valid UTF-8 replaced by '?':
 * cJSON prints strings byte for byte, and readers of our JSON want UTF-8.
 * malloc'd; NULL when out of memory.
 */
char *ib_json_clean_utf8(const char *s);

#endif
