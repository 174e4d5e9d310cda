#include "jsonstrict.h"

#include <stdio.h>
#include <string.h>

int ib_json_parse(const char *text, size_t len, const char *source, cJSON **out, struct ib_err *err)
{
	const char *end = NULL;
	cJSON *root;
	size_t used;

	*out = NULL;
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0;
		return ib_fail(err, IB_EINPUT, "%s: not valid JSON (near byte %zu)", source, at);
	}
	used = (size_t)(end - text);
	while (used < len && strchr(" \t\r\n", text[used]) && text[used] != '\0')
		used++;
	if (used < len) {
		cJSON_Delete(root);
		return ib_fail(err, IB_EINPUT,
		               "%s: unexpected data after the JSON value at byte %zu", source,
		               used);
	}
	*out = root;
	return 0;
}

const char *ib_json_path(char *buf, size_t cap, const char *path, const char *key)
{
	if (path[0])
		snprintf(buf, cap, "%s.%s", path, key);
	else
		snprintf(buf, cap, "%s", key);
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

int ib_json_object(const cJSON *v, const char *const *allowed, const char *source, const char *path,
                   struct ib_err *err)
{
	char p[IB_JSON_PATH_MAX];

	if (!cJSON_IsObject(v))
		return ib_fail(err, IB_EINPUT, "%s: %s: expected an object", source, where(path));
	for (const cJSON *c = v->child; c; c = c->next) {
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], c->string))
				break;
		if (!allowed[i])
			return ib_fail(err, IB_EINPUT, "%s: %s: unknown key", source,
			               ib_json_path(p, sizeof p, path, c->string));
		for (const cJSON *d = v->child; d != c; d = d->next)
			if (!strcmp(d->string, c->string))
				return ib_fail(err, IB_EINPUT, "%s: %s: duplicate key", source,
				               ib_json_path(p, sizeof p, path, c->string));
	}
	return 0;
}

const cJSON *ib_json_member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int missing(const char *key, int required, const char *source, const char *path,
                   struct ib_err *err)
{
	char p[IB_JSON_PATH_MAX];

	if (!required)
		return 0;
	return ib_fail(err, IB_EINPUT, "%s: %s: missing", source,
	               ib_json_path(p, sizeof p, path, key));
}

static int wrong(const char *key, const char *what, const char *source, const char *path,
                 struct ib_err *err)
{
	char p[IB_JSON_PATH_MAX];

	return ib_fail(err, IB_EINPUT, "%s: %s: expected %s", source,
	               ib_json_path(p, sizeof p, path, key), what);
}

int ib_json_string(const cJSON *obj, const char *key, int required, const char **out,
                   const char *source, const char *path, struct ib_err *err)
{
	const cJSON *v = ib_json_member(obj, key);

	if (!v)
		return missing(key, required, source, path, err);
	if (!cJSON_IsString(v))
		return wrong(key, "a string", source, path, err);
	*out = v->valuestring;
	return 0;
}

int ib_json_bool(const cJSON *obj, const char *key, int required, int *out, const char *source,
                 const char *path, struct ib_err *err)
{
	const cJSON *v = ib_json_member(obj, key);

	if (!v)
		return missing(key, required, source, path, err);
	if (!cJSON_IsBool(v))
		return wrong(key, "true or false", source, path, err);
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return 0;
}

int ib_json_uint(const cJSON *obj, const char *key, int required, unsigned long max,
                 unsigned long *out, const char *source, const char *path, struct ib_err *err)
{
	const cJSON *v = ib_json_member(obj, key);
	char what[64];

	if (!v)
		return missing(key, required, source, path, err);
	snprintf(what, sizeof what, "an integer from 0 to %lu", max);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)max ||
	    v->valuedouble != (double)(unsigned long)v->valuedouble)
		return wrong(key, what, source, path, err);
	*out = (unsigned long)v->valuedouble;
	return 0;
}

int ib_json_array(const cJSON *obj, const char *key, int required, const cJSON **out,
                  const char *source, const char *path, struct ib_err *err)
{
	const cJSON *v = ib_json_member(obj, key);

	*out = NULL;
	if (!v)
		return missing(key, required, source, path, err);
	if (!cJSON_IsArray(v))
		return wrong(key, "an array", source, path, err);
	*out = v;
	return 0;
}
