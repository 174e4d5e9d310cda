#include "json.h"

#include <stdlib.h>
#include <string.h>

#define JSON_SAFE_INT 9007199254740992.0 /* 2^53: doubles hold every integer up to here */

static int find_duplicate(const cJSON *node, const char *source, struct ib_err *err)
{
	for (const cJSON *c = node ? node->child : NULL; c; c = c->next) {
		if (cJSON_IsObject(node)) {
			for (const cJSON *d = c->next; d; d = d->next)
				if (c->string && d->string && !strcmp(c->string, d->string))
					return ib_fail(err, IB_EINPUT, "%s: duplicate key \"%s\"",
					               source, c->string);
		}
		if (find_duplicate(c, source, err))
			return IB_EINPUT;
	}
	return 0;
}

int ib_json_parse(const char *text, size_t len, const char *source, cJSON **out, struct ib_err *err)
{
	const char *end = NULL;
	cJSON *root;

	*out = NULL;
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0;
		return ib_fail(err, IB_EINPUT, "%s: not valid JSON (at byte %zu)", source, at);
	}
	while (end && (size_t)(end - text) < len &&
	       (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	if (!end || (size_t)(end - text) != len) {
		cJSON_Delete(root);
		return ib_fail(err, IB_EINPUT,
		               "%s: unexpected data after the JSON value (at byte %zu)", source,
		               end ? (size_t)(end - text) : 0);
	}
	if (find_duplicate(root, source, err)) {
		cJSON_Delete(root);
		return IB_EINPUT;
	}
	*out = root;
	return 0;
}

int ib_json_only_keys(const cJSON *obj, const char *const *allowed, const char *source,
                      const char *where, struct ib_err *err)
{
	for (const cJSON *c = obj->child; c; c = c->next) {
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (!strcmp(c->string, allowed[i]))
				break;
		if (!allowed[i])
			return ib_fail(err, IB_EINPUT, "%s: %sunknown key \"%s\"", source, where,
			               c->string);
	}
	return 0;
}

int ib_json_string(const cJSON *obj, const char *key, int optional, const char *source,
                   const char **out, struct ib_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!v) {
		if (optional)
			return 0;
		return ib_fail(err, IB_EINPUT, "%s: %s: missing", source, key);
	}
	if (!cJSON_IsString(v) || !v->valuestring)
		return ib_fail(err, IB_EINPUT, "%s: %s: expected a string", source, key);
	*out = v->valuestring;
	return 0;
}

int ib_json_string_buf(const cJSON *obj, const char *key, const char *source, char *out, size_t cap,
                       struct ib_err *err)
{
	const char *s;
	int rc = ib_json_string(obj, key, 0, source, &s, err);

	if (rc)
		return rc;
	if (strlen(s) >= cap)
		return ib_fail(err, IB_EINPUT, "%s: %s: longer than %zu bytes", source, key,
		               cap - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int ib_json_int(const cJSON *obj, const char *key, int64_t min, int64_t max, const char *source,
                int64_t *out, struct ib_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (!v)
		return ib_fail(err, IB_EINPUT, "%s: %s: missing", source, key);
	if (!cJSON_IsNumber(v))
		return ib_fail(err, IB_EINPUT, "%s: %s: expected a number", source, key);
	d = v->valuedouble;
	if (d != d || d < -JSON_SAFE_INT || d > JSON_SAFE_INT || d != (double)(int64_t)d)
		return ib_fail(err, IB_EINPUT, "%s: %s: expected an integer", source, key);
	if ((int64_t)d < min || (int64_t)d > max)
		return ib_fail(err, IB_EINPUT, "%s: %s: %lld is out of range [%lld, %lld]", source,
		               key, (long long)d, (long long)min, (long long)max);
	*out = (int64_t)d;
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
