#include "json.h"

#include "readfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_SAFE_INT 9007199254740992.0 /* 2^53: doubles hold every integer up to here */

/* Every message about a member: "<source>: <path>.<key>: <pre><what>". */
static int at_key(const char *source, const char *path, const char *key, const char *pre,
                  const char *what, struct ib_err *err)
{
	char p[IB_JSON_PATH_MAX];

	return ib_fail(err, IB_EINPUT, "%s: %s: %s%s", source, ib_json_path(p, sizeof p, path, key),
	               pre, what);
}

/* Refuses a key given twice in any object of the tree, naming its path. */
static int find_duplicate(const cJSON *node, const char *path, const char *source,
                          struct ib_err *err)
{
	char child[IB_JSON_PATH_MAX];
	size_t i = 0;

	for (const cJSON *c = node->child; c; c = c->next, i++) {
		if (cJSON_IsObject(node)) {
			ib_json_path(child, sizeof child, path, c->string);
			for (const cJSON *d = c->next; d; d = d->next)
				if (!strcmp(c->string, d->string))
					return at_key(source, path, c->string, "", "duplicate key",
					              err);
		} else {
			ib_json_index(child, sizeof child, path, i);
		}
		if (find_duplicate(c, child, source, err))
			return IB_EINPUT;
	}
	return 0;
}

int ib_json_parse(const char *text, size_t len, const char *source, cJSON **out, struct ib_err *err)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	size_t at = end && end >= text ? (size_t)(end - text) : 0;
	int rc;

	*out = NULL;
	while (root && at < len &&
	       (text[at] == ' ' || text[at] == '\t' || text[at] == '\r' || text[at] == '\n'))
		at++;
	if (!root || at != len)
		rc = ib_fail(err, IB_EINPUT, "%s: %s (at byte %zu)", source,
		             root ? "unexpected data after the JSON value" : "not valid JSON", at);
	else
		rc = find_duplicate(root, "", source, err);
	if (rc)
		cJSON_Delete(root);
	else
		*out = root;
	return rc;
}

int ib_json_load(const char *path, size_t max, cJSON **out, struct ib_err *err)
{
	char *text = NULL;
	size_t len;
	int rc = ib_read_file(path, max, &text, &len, err);

	*out = NULL;
	if (rc == 0)
		rc = ib_json_parse(text, len, path, out, err);
	free(text);
	return rc;
}

const char *ib_json_path(char *buf, size_t cap, const char *path, const char *key)
{
	snprintf(buf, cap, "%s%s%s", path, path[0] ? "." : "", key);
	return buf;
}

const char *ib_json_index(char *buf, size_t cap, const char *path, size_t i)
{
	snprintf(buf, cap, "%s[%zu]", path, i);
	return buf;
}

static const char *where(const char *path)
{
	return path[0] ? path : "top level";
}

/* The key of row i of a table whose rows are stride bytes and start with a key; NULL ends. */
static const char *key_at(const void *table, size_t stride, size_t i)
{
	return *(const char *const *)((const char *)table + i * stride);
}

/* ib_json_object for the first n keys of a table (or up to a NULL key); ib_json_parse has
 * refused duplicate keys already. */
static int check_keys(const cJSON *v, const void *table, size_t stride, size_t n,
                      const char *source, const char *path, struct ib_err *err)
{
	if (!cJSON_IsObject(v))
		return ib_fail(err, IB_EINPUT, "%s: %s: expected an object", source, where(path));
	for (const cJSON *c = v->child; c; c = c->next) {
		size_t i;

		for (i = 0; i < n && key_at(table, stride, i); i++)
			if (!strcmp(key_at(table, stride, i), c->string))
				break;
		if (i == n || !key_at(table, stride, i))
			return at_key(source, path, c->string, "", "unknown key", err);
	}
	return 0;
}

int ib_json_object(const cJSON *v, const char *const *allowed, const char *source, const char *path,
                   struct ib_err *err)
{
	return check_keys(v, allowed, sizeof *allowed, SIZE_MAX, source, path, err);
}

const cJSON *ib_json_member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int missing(const char *key, int required, const char *source, const char *path,
                   struct ib_err *err)
{
	return required ? at_key(source, path, key, "", "missing", err) : 0;
}

static int wrong(const char *key, const char *what, const char *source, const char *path,
                 struct ib_err *err)
{
	return at_key(source, path, key, "expected ", what, err);
}

/*
 * The member named key, when its cJSON type is one of the type bits (else "expected <what>");
 * *out is NULL when absent.
 */
static int typed(const cJSON *obj, const char *key, int required, int type, const char *what,
                 const cJSON **out, const char *source, const char *path, struct ib_err *err)
{
	const cJSON *v = ib_json_member(obj, key);

	*out = NULL;
	if (!v)
		return missing(key, required, source, path, err);
	if (!(v->type & type))
		return wrong(key, what, source, path, err);
	*out = v;
	return 0;
}

int ib_json_string(const cJSON *obj, const char *key, int required, const char **out,
                   const char *source, const char *path, struct ib_err *err)
{
	const cJSON *v;
	int rc = typed(obj, key, required, cJSON_String, "a string", &v, source, path, err);

	if (v)
		*out = v->valuestring;
	return rc;
}

int ib_json_bool(const cJSON *obj, const char *key, int required, int *out, const char *source,
                 const char *path, struct ib_err *err)
{
	const cJSON *v;
	int rc = typed(obj, key, required, cJSON_True | cJSON_False, "true or false", &v, source,
	               path, err);

	if (v)
		*out = (v->type & cJSON_True) != 0;
	return rc;
}

int ib_json_uint(const cJSON *obj, const char *key, int required, unsigned long max,
                 unsigned long *out, const char *source, const char *path, struct ib_err *err)
{
	int64_t v = -1;
	int rc = ib_json_int(obj, key, required, 0, max > INT64_MAX ? INT64_MAX : (int64_t)max, &v,
	                     source, path, err);

	if (v >= 0)
		*out = (unsigned long)v;
	return rc;
}

int ib_json_array(const cJSON *obj, const char *key, int required, const cJSON **out,
                  const char *source, const char *path, struct ib_err *err)
{
	return typed(obj, key, required, cJSON_Array, "an array", out, source, path, err);
}

int ib_json_int(const cJSON *obj, const char *key, int required, int64_t min, int64_t max,
                int64_t *out, const char *source, const char *path, struct ib_err *err)
{
	const cJSON *v;
	char what[96];
	double d;
	int rc;

	/* One allowed value is named alone: the format then leaves max unused. */
	snprintf(what, sizeof what, min == max ? "%lld" : "an integer from %lld to %lld",
	         (long long)min, (long long)max);
	rc = typed(obj, key, required, cJSON_Number, what, &v, source, path, err);
	if (!v)
		return rc;
	d = v->valuedouble;
	if (d != d || d < -JSON_SAFE_INT || d > JSON_SAFE_INT || d != (double)(int64_t)d ||
	    (int64_t)d < min || (int64_t)d > max)
		return wrong(key, what, source, path, err);
	*out = (int64_t)d;
	return 0;
}

int ib_json_string_buf(const cJSON *obj, const char *key, int required, char *out, size_t cap,
                       const char *source, const char *path, struct ib_err *err)
{
	const char *s = NULL;
	char what[64];
	int rc = ib_json_string(obj, key, required, &s, source, path, err);

	if (rc || !s)
		return rc;
	if (strlen(s) >= cap) {
		snprintf(what, sizeof what, "a string of at most %zu bytes", cap - 1);
		return wrong(key, what, source, path, err);
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int ib_json_bind_read(const cJSON *obj, const struct ib_json_field *rows, size_t n, void *out,
                      const char *source, const char *path, struct ib_err *err)
{
	int rc = check_keys(obj, rows, sizeof *rows, n, source, path, err);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct ib_json_field *r = &rows[i];
		char *field = (char *)out + r->offset;
		int64_t v;

		if (r->kind == IB_JSON_TEXT)
			rc = ib_json_string_buf(obj, r->key, 1, field, r->size, source, path, err);
		if (r->kind != IB_JSON_INT)
			continue;
		rc = ib_json_int(obj, r->key, 1, r->min, r->max, &v, source, path, err);
		if (rc == 0 && r->size == sizeof(int))
			*(int *)field = (int)v;
		else if (rc == 0)
			*(int64_t *)field = v;
	}
	return rc;
}

int ib_json_bind_write(cJSON *obj, const struct ib_json_field *rows, size_t n, const void *in)
{
	for (size_t i = 0; i < n; i++) {
		const struct ib_json_field *r = &rows[i];
		const char *field = (const char *)in + r->offset;

		if (r->kind == IB_JSON_OWN)
			continue;
		if (!(r->kind == IB_JSON_TEXT
		              ? cJSON_AddStringToObject(obj, r->key, field)
		              : cJSON_AddNumberToObject(obj, r->key,
		                                        r->size == sizeof(int)
		                                                ? *(const int *)field
		                                                : (double)*(const int64_t *)field)))
			return -1;
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int ib_json_utf8_valid(const char *s)
{
	for (size_t n; *s; s += n)
		if ((n = utf8_len((const unsigned char *)s)) == 0)
			return 0;
	return 1;
}

char *ib_json_clean_utf8(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len((const unsigned char *)s + i);

		if (n == 0) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}
