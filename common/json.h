/*
 * json.h - strict reading of JSON documents with cJSON.
 *
 * cJSON on its own accepts trailing garbage and duplicate keys; these helpers
 * refuse both (duplicates at any depth), refuse unknown keys, and check types. Every error message
 * names the source (a file name) and the key path: "f.json: nics[0].device:
 * expected a string". A path is "" for the top level.
 */
#ifndef IBDRV_JSON_H
#define IBDRV_JSON_H

#include "err.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define IB_JSON_PATH_MAX 256

/* Parses exactly one JSON value from text[0..len) (only whitespace may follow). Free with
 * cJSON_Delete. */
int ib_json_parse(const char *text, size_t len, const char *source, cJSON **out,
                  struct ib_err *err);

/* Reads the file at path (at most max bytes) and parses it as ib_json_parse does. */
int ib_json_load(const char *path, size_t max, cJSON **out, struct ib_err *err);

/* Checks that v (at path) is an object whose keys are all in allowed (NULL-ended); v comes from
 * ib_json_parse or ib_json_load, which refuse duplicate keys. */
int ib_json_object(const cJSON *v, const char *const *allowed, const char *source, const char *path,
                   struct ib_err *err);

/* The member named key (case-sensitive), or NULL. */
const cJSON *ib_json_member(const cJSON *obj, const char *key);

/* "path.key", or "key" at the top level, into buf. */
const char *ib_json_path(char *buf, size_t cap, const char *path, const char *key);
/* "path[i]" into buf. */
const char *ib_json_index(char *buf, size_t cap, const char *path, size_t i);

/*
 * Typed members. A missing member is an error when required, else the output
 * is left untouched and 0 is returned.
 */
int ib_json_string(const cJSON *obj, const char *key, int required, const char **out,
                   const char *source, const char *path, struct ib_err *err);
int ib_json_bool(const cJSON *obj, const char *key, int required, int *out, const char *source,
                 const char *path, struct ib_err *err);
/* ib_json_int from 0 to max. */
int ib_json_uint(const cJSON *obj, const char *key, int required, unsigned long max,
                 unsigned long *out, const char *source, const char *path, struct ib_err *err);
/* An array member; *out is NULL when absent and not required. */
int ib_json_array(const cJSON *obj, const char *key, int required, const cJSON **out,
                  const char *source, const char *path, struct ib_err *err);

/* A signed integer member within [min, max] (and within 2^53, where doubles are exact). */
int ib_json_int(const cJSON *obj, const char *key, int required, int64_t min, int64_t max,
                int64_t *out, const char *source, const char *path, struct ib_err *err);
/* A string member copied into out; longer than cap - 1 bytes is an error. */
int ib_json_string_buf(const cJSON *obj, const char *key, int required, char *out, size_t cap,
                       const char *source, const char *path, struct ib_err *err);

/*
 * A table binding an object's members to the fields of a struct, one row a member in the
 * order they are written. Reading checks the object as ib_json_object does, then every row
 * in table order (all required) with the messages of ib_json_string_buf and ib_json_int.
 * IB_JSON_OWN rows are members the caller reads and writes itself: allowed, never touched.
 */
enum ib_json_kind { IB_JSON_OWN, IB_JSON_TEXT, IB_JSON_INT };

struct ib_json_field {
	const char *key;
	unsigned char kind;
	unsigned short offset; /* of the field in the struct */
	unsigned short size;   /* TEXT: of the char array; INT: of the integer (int or int64_t) */
	int64_t min, max;      /* INT: the range */
};

#define IB_JSON_OWN_ROW(key)                                                                       \
	{                                                                                          \
		key, IB_JSON_OWN, 0, 0, 0, 0                                                       \
	}
#define IB_JSON_TEXT_ROW(type, member)                                                             \
	{                                                                                          \
#member, IB_JSON_TEXT, offsetof(type, member), sizeof((type *)0)->member, 0, 0     \
	}
#define IB_JSON_INT_ROW(type, member, lo, hi)                                                      \
	{                                                                                          \
#member, IB_JSON_INT, offsetof(type, member), sizeof((type *)0)->member, lo, hi    \
	}

int ib_json_bind_read(const cJSON *obj, const struct ib_json_field *rows, size_t n, void *out,
                      const char *source, const char *path, struct ib_err *err);
/* Adds the rows but IB_JSON_OWN ones to obj; -1 when out of memory. */
int ib_json_bind_write(cJSON *obj, const struct ib_json_field *rows, size_t n, const void *in);

/* Non-zero when s is well-formed UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF): cJSON passes any bytes through. */
int ib_json_utf8_valid(const char *s);

/* A copy of s with invalid UTF-8 bytes replaced by '?' (cJSON writes strings as given). */
char *ib_json_clean_utf8(const char *s);

#endif
