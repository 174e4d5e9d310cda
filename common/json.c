#include "json.h"

#include "readfile.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Refuses a key given twice in any object of the tree, naming its path (c's). */
static int find_duplicate(struct ib_json_ctx *c, const cJSON *node)
{
	int object = (node->type & 0xff) == cJSON_Object;
	size_t i = 0;

	for (const cJSON *e = node->child; e; e = e->next, i++) {
		size_t saved = ib_json_push(c, object ? e->string : NULL, i);

		for (const cJSON *d = e->next; object && d; d = d->next)
			if (!strcmp(e->string, d->string))
				return ib_json_fail(c, "duplicate key");
		if (find_duplicate(c, e))
			return IB_EINPUT;
		ib_json_pop(c, saved);
	}
	return 0;
}

/* "<source>: <what> byte N (line L, column C)" for a 0-based byte offset. */
static int fail_at(struct ib_err *err, const char *source, const char *text, size_t off,
                   const char *what)
{
	size_t line = 1, col_start = 0;

	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			col_start = i + 1;
		}
	}
	return ib_fail(err, IB_EINPUT, "%s: %s byte %zu (line %zu, column %zu)", source, what, off,
	               line, off - col_start + 1);
}

static int is_json_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/*
 * Refuses what cJSON accepts but JSON does not, in text cJSON has parsed up to
 * end: "\u0000" (it would cut the string short) and control characters other
 * than the four JSON whitespace characters between tokens.
 */
static int scan_text(const char *source, const char *text, size_t end, struct ib_err *err)
{
	int in_string = 0;

	for (size_t i = 0; i < end; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (in_string) {
			if (ch == '"') {
				in_string = 0;
			} else if (ch == '\\') {
				if (i + 5 < end && text[i + 1] == 'u' &&
				    !memcmp(text + i + 2, "0000", 4)) {
					return fail_at(err, source, text, i,
					               "\\u0000 (NUL) in a string at");
				}
				i++;
			}
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch < 0x20 && !is_json_space((char)ch)) {
			char what[32];
			snprintf(what, sizeof what, "control character 0x%02x at", ch);
			return fail_at(err, source, text, i, what);
		}
	}
	return 0;
}

int ib_json_parse(const char *text, size_t len, const char *source, cJSON **out, struct ib_err *err)
{
	struct ib_json_ctx c = {.source = source, .err = err};
	const char *end = NULL, *nul = memchr(text, '\0', len);
	cJSON *root = nul ? NULL : cJSON_ParseWithLengthOpts(text, len, &end, 0);
	size_t at = end && end >= text && (size_t)(end - text) <= len ? (size_t)(end - text) : 0;
	size_t lead = 0;
	int rc;

	*out = NULL;
	if (nul)
		return fail_at(err, source, text, (size_t)(nul - text), "NUL byte at");
	while (lead < len && is_json_space(text[lead]))
		lead++;
	if (lead == len)
		return ib_fail(err, IB_EINPUT, "%s: empty; expected a JSON value", source);
	if (!root)
		return fail_at(err, source, text, at, "not valid JSON at");
	rc = scan_text(source, text, at, err);
	while (at < len && is_json_space(text[at]))
		at++;
	if (rc == 0 && at < len)
		rc = fail_at(err, source, text, at, "unexpected data after the JSON value at");
	if (rc == 0)
		rc = find_duplicate(&c, root);
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

/* ---- the schema reader ---- */

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 */

const char *ib_json_quote(char *buf, size_t cap, const char *s)
{
	/* Room for one more escape, a character's last bytes, "...", the quote and NUL. */
	size_t o = 0, limit = cap - 12;

	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (o >= limit && (*p & 0xc0) != 0x80) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (*p < 0x20 || *p == 0x7f) {
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
		} else {
			if (*p == '"' || *p == '\\')
				buf[o++] = '\\';
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* What a value is, for "expected X, got Y". */
static const char *describe(const cJSON *v, char *buf, size_t cap)
{
	double d = v->valuedouble;
	int small = d >= -(double)MAX_SAFE_INT && d <= (double)MAX_SAFE_INT;

	switch (v->type & 0xff) {
	case cJSON_String:
		return ib_json_quote(buf, cap, v->valuestring);
	case cJSON_Number:
		if (small && (double)(long long)d == d) {
			snprintf(buf, cap, "%lld", (long long)d);
			return buf;
		}
		return small ? "a fractional number" : "a number of magnitude 2^53 or more";
	case cJSON_True:
		return "true";
	case cJSON_False:
		return "false";
	case cJSON_NULL:
		return "null";
	case cJSON_Array:
		return "an array";
	default:
		return "an object";
	}
}

size_t ib_json_push(struct ib_json_ctx *c, const char *key, size_t i)
{
	size_t saved = c->plen;
	int n = key ? snprintf(c->path + saved, sizeof c->path - saved, "%s%s", saved ? "." : "",
	                       key)
	            : snprintf(c->path + saved, sizeof c->path - saved, "[%zu]", i);

	c->plen += n > 0 ? (size_t)n : 0;
	if (c->plen >= sizeof c->path)
		c->plen = sizeof c->path - 1;
	return saved;
}

/* saved came from ib_json_push, so it is within the buffer. */
void ib_json_pop(struct ib_json_ctx *c, size_t saved)
{
	c->plen = saved;
	c->path[saved] = '\0';
}

int ib_json_fail(struct ib_json_ctx *c, const char *fmt, ...)
{
	char msg[IB_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ib_fail(c->err, IB_EINPUT, "%s: %s%s%s", c->source, c->path, c->plen ? ": " : "",
	               msg);
}

int ib_json_expected(struct ib_json_ctx *c, const cJSON *v, const char *what)
{
	char got[80];

	return ib_json_fail(c, "expected %s, got %s", what, describe(v, got, sizeof got));
}

int ib_json_check_windows(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)obj, (void)i;
	c->windows = !strcmp(v->valuestring, "windows");
	return 0;
}

int ib_json_check_valid(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const struct ib_json_valid *t = c->row->sub;

	(void)obj, (void)i;
	return v && !t->ok(v->valuestring) ? ib_json_expected(c, v, t->what) : 0;
}

/* A string of lo..max bytes without control characters (and valid UTF-8 where c->utf8). */
static int get_str(struct ib_json_ctx *c, const cJSON *v, size_t lo, size_t max, const char **out)
{
	char got[80];
	size_t len;

	if ((v->type & 0xff) != cJSON_String)
		return ib_json_expected(c, v, "a string");
	len = strlen(v->valuestring);
	if (len < lo)
		return ib_json_fail(c, "must not be empty");
	if (len > max)
		return ib_json_fail(c, "longer than %zu bytes", max);
	if (c->utf8 && !ib_json_utf8_valid(v->valuestring))
		return ib_json_fail(c, "not valid UTF-8");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v->valuestring[i];
		if (ch < 0x20 || ch == 0x7f)
			return ib_json_fail(c, "contains a control character: %s",
			                    ib_json_quote(got, sizeof got, v->valuestring));
	}
	*out = v->valuestring;
	return 0;
}

static int get_int(struct ib_json_ctx *c, const cJSON *v, long long lo, long long hi,
                   long long *out)
{
	char what[64];
	double d = v->valuedouble;

	/* The comparisons are false for NaN; the casts are defined once d is in range. */
	if (!(v->type & cJSON_Number) || !(d >= (double)lo && d <= (double)hi) ||
	    (double)(long long)d != d) {
		/* One allowed value is named alone: the format then leaves hi unused. */
		snprintf(what, sizeof what, lo == hi ? "%lld" : "an integer from %lld to %lld", lo,
		         hi);
		return ib_json_expected(c, v, what);
	}
	*out = (long long)d;
	return 0;
}

/* One of values[]; *idx is its position. */
static int get_enum(struct ib_json_ctx *c, const cJSON *v, const char *const *values, size_t n,
                    size_t *idx)
{
	char list[256] = "";
	size_t o = 0;

	if ((v->type & 0xff) == cJSON_String) {
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(v->valuestring, values[i])) {
				*idx = i;
				return 0;
			}
		}
	}
	for (size_t i = 0; i < n && o < sizeof list; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"",
		                      i == 0       ? (n > 2 ? "one of " : "")
		                      : i + 1 == n ? (n == 2 ? " or " : ", or ")
		                                   : ", ",
		                      values[i]);
	return ib_json_expected(c, v, list);
}

/* An array of min..max items; *n is its length. */
static int get_array(struct ib_json_ctx *c, const cJSON *v, size_t min, size_t max, size_t *n)
{
	size_t count = 0;

	if ((v->type & 0xff) != cJSON_Array)
		return ib_json_expected(c, v, "an array");
	for (const cJSON *it = v->child; it; it = it->next)
		count++;
	if (count < min)
		return ib_json_fail(c, "must have at least %zu item%s", min, min == 1 ? "" : "s");
	if (count > max)
		return ib_json_fail(c, "has %zu items, at most %zu allowed", count, max);
	*n = count;
	return 0;
}

/* The rule of row r in c's form: IB_K_* bits, with those of the forms resolved. */
static int rule_of(const struct ib_json_ctx *c, const struct ib_json_row *r)
{
	int rule = r->rule;

	if (!c->form)
		return rule;
	if (rule & IB_K_NOT1)
		rule |= IB_K_NO;
	if (rule & IB_K_REQ1)
		rule |= IB_K_REQ;
	return rule & ~IB_K_NOT0;
}

/* The size_t count of the array of row r in obj, after its pointer. */
static size_t *count_of(const struct ib_json_row *r, const void *obj)
{
	return (size_t *)((char *)obj + r->off + sizeof(void *));
}

/*
 * Checks that v is an object whose keys all belong to rows (in this form; ib_json_parse has
 * refused keys given twice). found[i] gets the value of rows[i] or NULL (ib_json_read refuses a
 * missing required key when its row's turn comes).
 */
static int take_keys(struct ib_json_ctx *c, const cJSON *v, const struct ib_json_row *rows,
                     size_t n, const cJSON **found)
{
	char got[80];

	if ((v->type & 0xff) != cJSON_Object)
		return ib_json_expected(c, v, "an object");
	for (size_t i = 0; i < n; i++)
		found[i] = NULL;
	for (const cJSON *it = v->child; it; it = it->next) {
		const char *key = it->string;
		size_t k = 0, saved, plain = 1;
		int rule = IB_K_NO;

		for (; k < n; k++) {
			if (!strcmp(key, rows[k].key)) {
				rule = rule_of(c, &rows[k]);
				break;
			}
		}
		/* A key that is no word is quoted, so that the message stays one clear line. */
		for (const char *p = key; *p; p++)
			plain &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			         (*p >= '0' && *p <= '9') || (p > key && strchr("_-.", *p));
		if (c->agent && (rule & IB_K_NO || (it->type & 0xff) == cJSON_NULL))
			continue;
		saved = ib_json_push(c, plain && *key ? key : ib_json_quote(got, sizeof got, key),
		                     0);
		if (rule & IB_K_NO) {
			char list[512];
			size_t o = 0;
			list[0] = '\0';
			for (size_t i = 0; i < n && o < sizeof list; i++)
				if (!(rule_of(c, &rows[i]) & (IB_K_NO | IB_K_NOT0)))
					o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
					                      o ? ", " : "", rows[i].key);
			return ib_json_fail(c, "unknown key (expected %s)", list);
		}
		if (rule & IB_K_NOT0)
			return ib_json_fail(c, "%s", c->refused);
		found[k] = it;
		ib_json_pop(c, saved);
	}
	return 0;
}

/* Reads value v of row r into dst (the field, or the array item). */
static int read_value(struct ib_json_ctx *c, const struct ib_json_row *r, const cJSON *v, void *dst)
{
	const char *s = NULL;
	long long n = 0;
	size_t idx = 0;
	int rc = 0;

	switch (r->type) {
	case IB_T_STR:
		if ((rc = get_str(c, v, (size_t)r->lo, (size_t)r->hi, &s)) == 0 && r->size &&
		    !(*(char **)dst = strdup(s)))
			rc = ib_oom(c->err);
		break;
	case IB_T_BUF:
		if ((rc = get_str(c, v, (size_t)r->lo, r->size - 1u, &s)) == 0)
			memcpy(dst, s, strlen(s) + 1);
		break;
	case IB_T_ENUM:
	case IB_T_INDEX:
		if ((rc = get_enum(c, v, r->sub, (size_t)r->hi, &idx)) || !r->size)
			break;
		if (r->type == IB_T_INDEX)
			*(int *)dst = (int)idx;
		else if (!(*(char **)dst = strdup(((const char *const *)r->sub)[idx])))
			rc = ib_oom(c->err);
		break;
	case IB_T_INT:
	case IB_T_BIG:
		if ((rc = get_int(c, v, r->lo, r->type == IB_T_BIG ? MAX_SAFE_INT : r->hi, &n)) ||
		    !r->size)
			break;
		if (r->size == sizeof(int))
			*(int *)dst = (int)n;
		else
			*(int64_t *)dst = n;
		break;
	case IB_T_BOOL:
		if (!(v->type & (cJSON_True | cJSON_False)))
			rc = ib_json_expected(c, v, "true or false");
		else
			*(int *)dst = (v->type & cJSON_True) != 0;
		break;
	case IB_T_OBJ:
		rc = ib_json_read(c, v, r->sub, (size_t)r->hi, dst);
		break;
	}
	return rc;
}

/* Calls the row's check, with c->row set for it. */
static int run_check(struct ib_json_ctx *c, const struct ib_json_row *r, void *obj, const cJSON *v,
                     size_t i)
{
	c->row = r;
	return r->check ? r->check(c, obj, v, i) : 0;
}

/* An array of row r: allocated with one zeroed item more, so that argv ends in NULL. */
static int read_array(struct ib_json_ctx *c, const struct ib_json_row *r, const cJSON *v, void *obj)
{
	char *items;
	size_t n = 0, i = 0;
	int rc;

	if ((rc = get_array(c, v, r->min, r->max, &n)))
		return rc;
	items = calloc(n + 1, r->size);
	if (!items)
		return ib_oom(c->err);
	*(void **)((char *)obj + r->off) = items;
	*count_of(r, obj) = n;
	for (const cJSON *it = v->child; it; it = it->next, i++) {
		size_t saved = ib_json_push(c, NULL, i);
		if ((rc = read_value(c, r, it, items + i * r->size)) ||
		    (rc = run_check(c, r, obj, it, i)))
			return rc;
		ib_json_pop(c, saved);
	}
	return run_check(c, r, obj, NULL, n);
}

int ib_json_read(struct ib_json_ctx *c, const cJSON *v, const struct ib_json_row *rows, size_t n,
                 void *obj)
{
	const cJSON *found[16];
	int rc;

	if (n > sizeof found / sizeof *found)
		return ib_fail(c->err, IB_EINTERNAL, "%s: a table of %zu rows (at most 16)",
		               c->source, n);
	if ((rc = take_keys(c, v, rows, n, found)))
		return rc;
	c->obj[c->depth++] = obj;
	for (size_t k = 0; k < n && rc == 0; k++) {
		const struct ib_json_row *r = &rows[k];
		int rule = rule_of(c, r);
		size_t saved;

		if (rule & (IB_K_NO | IB_K_NOT0))
			continue; /* not of this form: take_keys refused it */
		saved = ib_json_push(c, r->key, 0);
		if (found[k] && rule >> (2 + c->windows) & 1)
			rc = ib_json_fail(c, "only for %s", c->windows ? "linux" : "windows");
		else if (!found[k] && rule >> c->windows & 1)
			rc = ib_json_fail(c, "missing");
		else if (!found[k])
			rc = run_check(c, r, obj, NULL, 0);
		else if (r->max)
			rc = read_array(c, r, found[k], obj);
		else if ((rc = read_value(c, r, found[k], (char *)obj + r->off)) == 0)
			rc = run_check(c, r, obj, found[k], 0);
		if (rc == 0)
			ib_json_pop(c, saved);
	}
	c->depth--;
	return rc;
}

void ib_json_free(const struct ib_json_row *rows, size_t n, void *obj)
{
	for (size_t k = 0; k < n; k++) {
		const struct ib_json_row *r = &rows[k];
		char *items = (char *)obj + r->off;
		size_t count = 1;

		if (!r->size)
			continue;
		if (r->max) {
			items = *(char **)items;
			count = items ? *count_of(r, obj) : 0;
		}
		for (size_t i = 0; i < count; i++) {
			char *item = items + i * r->size;
			if (r->type == IB_T_OBJ)
				ib_json_free(r->sub, (size_t)r->hi, item);
			else if (r->type == IB_T_STR || r->type == IB_T_ENUM)
				free(*(char **)item);
		}
		if (r->max)
			free(items);
	}
}

int ib_json_read_new(cJSON *root, int rc, struct ib_json_ctx *c, const struct ib_json_row *rows,
                     size_t n, size_t size, void **out)
{
	void *obj = NULL;

	if (rc == 0 && !(obj = calloc(1, size)))
		rc = ib_oom(c->err);
	if (rc == 0)
		rc = ib_json_read(c, root, rows, n, obj);
	cJSON_Delete(root);
	if (rc && obj) {
		ib_json_free(rows, n, obj);
		free(obj);
		obj = NULL;
	}
	*out = obj;
	return rc;
}

/* Adds field (row r) to obj; -1 when out of memory. Absent optional values are left out. */
static int write_value(cJSON *obj, const struct ib_json_row *r, const char *field)
{
	const char *s = NULL;
	cJSON *v = NULL;

	switch (r->type) {
	case IB_T_STR:
	case IB_T_ENUM:
		s = *(const char *const *)field;
		break;
	case IB_T_BUF:
		s = field[0] || (r->rule & IB_K_REQ) ? field : NULL; /* "" left out if optional */
		break;
	case IB_T_INT:
	case IB_T_BIG:
		return cJSON_AddNumberToObject(obj, r->key,
		                               !r->size ? r->lo
		                               : r->size == sizeof(int)
		                                       ? *(const int *)field
		                                       : (double)*(const int64_t *)field)
		               ? 0
		               : -1;
	case IB_T_INDEX:
		s = ((const char *const *)r->sub)[*(const int *)field];
		break;
	case IB_T_RAW:
		if (!(s = *(const char *const *)field))
			return cJSON_AddNullToObject(obj, r->key) ? 0 : -1;
		break;
	case IB_T_BOOL:
		v = cJSON_CreateBool(*(const int *)field);
		break;
	case IB_T_OBJ:
		v = cJSON_CreateObject();
		break;
	}
	if (r->type != IB_T_BOOL && r->type != IB_T_OBJ)
		return !s || cJSON_AddStringToObject(obj, r->key, s) ? 0 : -1;
	if (!v || !cJSON_AddItemToObject(obj, r->key, v)) {
		cJSON_Delete(v);
		return -1;
	}
	return r->type == IB_T_OBJ ? ib_json_write(v, r->sub, (size_t)r->hi, field) : 0;
}

int ib_json_write(cJSON *obj, const struct ib_json_row *rows, size_t n, const void *in)
{
	for (size_t k = 0; k < n; k++) {
		const struct ib_json_row *r = &rows[k];
		const char *field = (const char *)in + r->off;
		cJSON *arr;

		if (r->rule & IB_K_NO)
			continue;
		if (!r->max) {
			if (write_value(obj, r, field))
				return -1;
			continue;
		}
		/* Arrays the writer knows are arrays of objects. */
		if (!(arr = cJSON_CreateArray()) || !cJSON_AddItemToObject(obj, r->key, arr)) {
			cJSON_Delete(arr);
			return -1;
		}
		field = *(const char *const *)field;
		for (size_t i = 0; i < *count_of(r, in); i++) {
			cJSON *e = cJSON_CreateObject();

			if (!e || !cJSON_AddItemToArray(arr, e)) {
				cJSON_Delete(e);
				return -1;
			}
			if (ib_json_write(e, r->sub, (size_t)r->hi, field + i * r->size))
				return -1;
		}
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
