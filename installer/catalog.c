#include "catalog.h"

#include "facts.h"
#include "json.h"
#include "readfile.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated at build time from manifests/catalog.json, gzip-compressed (cmake/embed.cmake). */
extern const unsigned char ib_catalog_builtin_json[];
extern const size_t ib_catalog_builtin_json_zlen;
extern const size_t ib_catalog_builtin_json_len;

#define SIZE_PREFIX "Standard_"
#define SOURCE_MAX 1024

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int starts_nocase(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (lower((unsigned char)*s) != lower((unsigned char)*prefix))
			return 0;
	return 1;
}

static const char *strip_prefix(const char *name)
{
	return starts_nocase(name, SIZE_PREFIX) ? name + strlen(SIZE_PREFIX) : name;
}

static int same_size(const char *a, const char *b)
{
	a = strip_prefix(a);
	b = strip_prefix(b);
	for (; *a && *b; a++, b++)
		if (lower((unsigned char)*a) != lower((unsigned char)*b))
			return 0;
	return *a == *b;
}

const struct ib_size *ib_catalog_size(const struct ib_catalog *c, const char *vm_size)
{
	for (size_t i = 0; vm_size && i < c->n_sizes; i++)
		if (same_size(c->sizes[i].name, vm_size))
			return &c->sizes[i];
	return NULL;
}

int ib_version_has_prefix(const char *version, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!version || n == 0 || strncmp(version, prefix, n))
		return 0;
	return version[n] == '\0' || version[n] == '.';
}

int ib_os_support_matches(const struct ib_os_support *s, const char *family, const char *product,
                          const char *id, const char *version)
{
	if (!family || strcmp(s->family, family))
		return 0;
	if (s->product && (!product || strcmp(s->product, product)))
		return 0;
	if (s->id && (!id || strcmp(s->id, id)))
		return 0;
	for (size_t i = 0; i < s->n_versions; i++)
		if (ib_version_has_prefix(version, s->versions[i]))
			return 1;
	return 0;
}

void ib_catalog_free(struct ib_catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_os; i++) {
		free(c->os[i].versions);
		free(c->os[i].nics);
	}
	free(c->sizes);
	free(c->os);
	cJSON_Delete(c->doc);
	free(c);
}

/* The number of items of an array. */
static size_t count(const cJSON *arr)
{
	const cJSON *v;
	size_t n = 0;

	cJSON_ArrayForEach(v, arr) n++;
	return n;
}

struct ctx {
	const char *source;
	struct ib_err *err;
};

static int bad_at(struct ctx *c, const char *fullpath, const char *what)
{
	return ib_fail(c->err, IB_EINPUT, "%s: %s: %s", c->source, fullpath, what);
}

static int valid_source(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SOURCE_MAX)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

#define RATES "SDR, DDR, QDR, FDR, EDR, HDR, NDR, XDR"

/* One of RATES: three letters found at the start of an entry. */
static int valid_rate(const char *s)
{
	const char *at = strstr(RATES, s);

	return strlen(s) == 3 && at && (at - RATES) % 5 == 0;
}

static int valid_size_name(const char *s)
{
	return starts_nocase(s, SIZE_PREFIX) && s[strlen(SIZE_PREFIX)] && ib_valid_vm_size(s);
}

/* Non-zero when s is one of words (each NUL-terminated, an empty one last). */
static int one_of(const char *words, const char *s)
{
	for (; *words; words += strlen(words) + 1)
		if (!strcmp(words, s))
			return 1;
	return 0;
}

static int valid_family(const char *s)
{
	return one_of("windows\0linux\0", s);
}

static int valid_product(const char *s)
{
	return one_of("server\0workstation\0", s);
}

/* A string member (at path.key, fullpath) that valid accepts into *out. */
static int take(struct ctx *c, const cJSON *o, const char *path, const char *key,
                const char *fullpath, int required, int (*valid)(const char *), const char *what,
                char **out)
{
	const char *s = NULL;
	int rc = ib_json_string(o, key, required, &s, c->source, path, c->err);

	if (rc || !s)
		return rc;
	if (!valid(s))
		return bad_at(c, fullpath, what);
	*out = (char *)s;
	return 0;
}

#define GENERATIONS "CX3, CX3-Pro, CX4, CX5, CX6, CX7"

/* A generation (or null where null_ok) at fullpath into *out. */
static int take_generation(struct ctx *c, const cJSON *v, const char *fullpath, int null_ok,
                           const char **out)
{
	if (null_ok && v->type == cJSON_NULL) {
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsString(v) || !(*out = ib_generation_canonical(v->valuestring)))
		return bad_at(c, fullpath,
		              null_ok ? "expected one of " GENERATIONS " or null"
		                      : "expected one of " GENERATIONS);
	return 0;
}

/*
 * The array member key (at p): OS versions (at least one) or generations
 * (gens != 0; the static strings of facts.h), each once, into *items and the count after it.
 */
static int take_list(struct ctx *c, const cJSON *o, const char *path, const char *key,
                     const char *p, int gens, const char ***items)
{
	size_t *n = (size_t *)(items + 1);
	const cJSON *arr, *v;
	char ep[IB_JSON_PATH_MAX];
	int rc = ib_json_array(o, key, 1, &arr, c->source, path, c->err);

	if (rc)
		return rc;
	if (!gens && !arr->child)
		return bad_at(c, p, "expected at least one version");
	*items = calloc(count(arr) + 1, sizeof **items);
	if (!*items)
		return ib_oom(c->err);
	cJSON_ArrayForEach(v, arr)
	{
		const char *item = v->valuestring;

		ib_json_index(ep, sizeof ep, p, *n);
		if (gens)
			rc = take_generation(c, v, ep, 0, &item);
		else if (!cJSON_IsString(v) || !ib_valid_version(item))
			rc = bad_at(c, ep,
			            "expected a version such as \"10.0.17763\" or \"20.04\"");
		if (rc)
			return rc;
		for (size_t i = 0; i < *n; i++)
			if (!strcmp((*items)[i], item))
				return bad_at(c, ep, "listed twice");
		(*items)[(*n)++] = item;
	}
	return 0;
}

_Static_assert(offsetof(struct ib_os_support, n_versions) ==
                               offsetof(struct ib_os_support, versions) + sizeof(char **) &&
                       offsetof(struct ib_os_support, n_nics) ==
                               offsetof(struct ib_os_support, nics) + sizeof(char **),
               "a list's count follows it");

/* How a member is read: a string (required, or only for one OS family) a check accepts, ... */
enum { TEXT, WINDOWS_TEXT, LINUX_TEXT, FLAG, GENERATION_OR_NULL, VERSIONS, GENERATIONS_LIST };

/* The checks of a string member, indexed by the names below. */
enum { SIZE_NAME, RATE, SOURCE, OS_NAME, FAMILY, PRODUCT, OS_ID };

static const struct {
	int (*valid)(const char *);
	const char *what;
} checks[] = {
        {valid_size_name, "expected a size name starting with \"Standard_\""},
        {valid_rate, "expected one of " RATES},
        {valid_source, "expected 1 to 1024 printable characters"},
        {ib_valid_text, "expected 1 to 256 printable characters"},
        {valid_family, "expected \"windows\" or \"linux\""},
        {valid_product, "expected \"server\" or \"workstation\""},
        {ib_valid_os_id, "expected an os-release ID (a-z, 0-9, '.', '_', '-')"},
};

/* One member: how it is read, where it goes, the check of a string. */
struct spec {
	unsigned char type, offset, check;
};

/* Reads the members keys[i] (NULL-ended, all allowed ones) of o into obj as spec[i] says. */
static int take_members(struct ctx *c, const cJSON *o, const char *path, const char *const *keys,
                        const struct spec *spec, void *obj)
{
	int rc = ib_json_object(o, keys, c->source, path, c->err);

	for (size_t i = 0; rc == 0 && keys[i]; i++) {
		const char *key = keys[i];
		void *field = (char *)obj + spec[i].offset;
		int type = spec[i].type, required = 1;
		char p[IB_JSON_PATH_MAX];

		ib_json_path(p, sizeof p, path, key);
		switch (type) {
		case WINDOWS_TEXT:
		case LINUX_TEXT:
			/* family is read before them: see os_keys */
			required = !strcmp(((struct ib_os_support *)obj)->family, "windows") ==
			           (type == WINDOWS_TEXT);
			if (!required && ib_json_member(o, key))
				return bad_at(c, p,
				              type == WINDOWS_TEXT ? "only for windows"
				                                   : "only for linux");
			/* fall through */
		case TEXT:
			rc = take(c, o, path, key, p, required, checks[spec[i].check].valid,
			          checks[spec[i].check].what, field);
			break;
		case FLAG:
			rc = ib_json_bool(o, key, 1, field, c->source, path, c->err);
			break;
		case GENERATION_OR_NULL:
			if (!ib_json_member(o, key))
				return bad_at(c, p, "missing (null when not confirmed)");
			rc = take_generation(c, ib_json_member(o, key), p, 1, field);
			break;
		default:
			rc = take_list(c, o, path, key, p, type == GENERATIONS_LIST, field);
		}
	}
	return rc;
}

#define SIZE_AT(member) offsetof(struct ib_size, member)
#define OS_AT(member) offsetof(struct ib_os_support, member)

/* The sizes and the OS releases: the members of their entries and how each is read. */
static const char *const size_keys[] = {"name", "ib_rate", "nic", "sriov", "source", NULL};
static const struct spec size_spec[] = {
        {TEXT, SIZE_AT(name), SIZE_NAME},
        {TEXT, SIZE_AT(ib_rate), RATE},
        {GENERATION_OR_NULL, SIZE_AT(generation), 0},
        {FLAG, SIZE_AT(sriov), 0},
        {TEXT, SIZE_AT(source), SOURCE},
};
/* family before product and id, which depend on it */
static const char *const os_keys[] = {"name", "family", "product", "id", "versions",
                                      "nics", "nd",     "source",  NULL};
static const struct spec os_spec[] = {
        {TEXT, OS_AT(name), OS_NAME},
        {TEXT, OS_AT(family), FAMILY},
        {WINDOWS_TEXT, OS_AT(product), PRODUCT},
        {LINUX_TEXT, OS_AT(id), OS_ID},
        {VERSIONS, OS_AT(versions), 0},
        {GENERATIONS_LIST, OS_AT(nics), 0},
        {FLAG, OS_AT(nd), 0},
        {TEXT, OS_AT(source), SOURCE},
};

_Static_assert(offsetof(struct ib_catalog, n_sizes) ==
                               offsetof(struct ib_catalog, sizes) + sizeof(void *) &&
                       offsetof(struct ib_catalog, n_os) ==
                               offsetof(struct ib_catalog, os) + sizeof(void *),
               "an array's count follows it");

/* A size named like an earlier one (with or without "Standard_", in any case) is refused. */
static int check_unique(struct ctx *c, const struct ib_catalog *cat, const char *path)
{
	const struct ib_size *s = &cat->sizes[cat->n_sizes - 1];

	for (const struct ib_size *t = cat->sizes; t < s; t++)
		if (same_size(t->name, s->name))
			return ib_fail(c->err, IB_EINPUT, "%s: %s.name: %s is already listed as %s",
			               c->source, path, s->name, t->name);
	return 0;
}

static int parse_root(struct ctx *c, const cJSON *root, struct ib_catalog *cat)
{
	static const char *const keys[] = {"format", "sizes", "os", NULL};
	int64_t format = 0;
	int rc;

	rc = ib_json_object(root, keys, c->source, "", c->err);
	/* "expected an integer from 1 to 1": the formats this installer reads */
	if (!rc)
		rc = ib_json_int(root, "format", 1, IB_CATALOG_FORMAT, IB_CATALOG_FORMAT, &format,
		                 c->source, "", c->err);
	/* sizes (os == 0), then os: an array of entries, each read into the next slot */
	for (int os = 0; !rc && os < 2; os++) {
		const char *key = keys[1 + os];
		size_t size = os ? sizeof *cat->os : sizeof *cat->sizes;
		char **items = os ? (char **)&cat->os : (char **)&cat->sizes;
		size_t *n = (size_t *)(items + 1);
		const cJSON *arr, *v;
		char p[IB_JSON_PATH_MAX];

		rc = ib_json_array(root, key, 1, &arr, c->source, "", c->err);
		if (rc)
			break;
		*items = calloc(count(arr) + 1, size);
		if (!*items)
			return ib_oom(c->err);
		cJSON_ArrayForEach(v, arr)
		{
			ib_json_index(p, sizeof p, key, *n);
			rc = take_members(c, v, p, os ? os_keys : size_keys,
			                  os ? os_spec : size_spec, *items + (*n)++ * size);
			if (!rc && !os)
				rc = check_unique(c, cat, p);
			if (rc)
				break;
		}
	}
	return rc;
}

int ib_catalog_parse(const char *json, size_t len, const char *source, struct ib_catalog **out,
                     struct ib_err *err)
{
	struct ctx c = {source, err};
	struct ib_catalog *cat = calloc(1, sizeof *cat);
	int rc = cat ? ib_json_parse(json, len, source, &cat->doc, err) : ib_oom(err);

	if (rc == 0)
		rc = parse_root(&c, cat->doc, cat);
	if (rc) {
		ib_catalog_free(cat);
		cat = NULL;
	}
	*out = cat;
	return rc;
}

int ib_catalog_load(const char *path, struct ib_catalog **out, struct ib_err *err)
{
	char *data = NULL;
	size_t len;
	int rc;

	*out = NULL;
	rc = ib_read_file(path, IB_CATALOG_MAX_BYTES, &data, &len, err);
	if (!rc)
		rc = ib_catalog_parse(data, len, path, out, err);
	free(data);
	return rc;
}

/*
 * Hands libarchive the whole embedded stream at once, then the end (archive_read_open's reader
 * is already in use for bundles; archive_read_open_memory would be one more import).
 */
static la_ssize_t read_embedded(struct archive *a, void *done, const void **buf)
{
	(void)a;
	*buf = ib_catalog_builtin_json;
	if (*(int *)done)
		return 0;
	*(int *)done = 1;
	return (la_ssize_t)ib_catalog_builtin_json_zlen;
}

int ib_catalog_builtin(struct ib_catalog **out, struct ib_err *err)
{
	static const char source[] = "built-in catalog";
	size_t len = ib_catalog_builtin_json_len, got = 0;
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *json = malloc(len + 1);
	la_ssize_t n = 0;
	int rc, done = 0;

	*out = NULL;
	if (!a || !json) {
		rc = ib_oom(err);
		goto out;
	}
	if (archive_read_support_filter_gzip(a) || archive_read_support_format_raw(a) ||
	    archive_read_open(a, &done, NULL, read_embedded, NULL) ||
	    archive_read_next_header(a, &e))
		n = -1;
	/* Room for one byte more than embedded, so a stream of the wrong length shows. */
	while (n >= 0 && got <= len && (n = archive_read_data(a, json + got, len + 1 - got)) > 0)
		got += (size_t)n;
	if (n < 0 || got != len) {
		const char *why = archive_error_string(a);

		rc = ib_fail(err, IB_EINTERNAL, "%s: cannot decompress: %s", source,
		             why ? why : "wrong length");
		goto out;
	}
	rc = ib_catalog_parse(json, len, source, out, err);
out:
	archive_read_free(a);
	free(json);
	return rc;
}

int ib_catalog_open(const char *path, struct ib_catalog **out, struct ib_err *err)
{
	return path ? ib_catalog_load(path, out, err) : ib_catalog_builtin(out, err);
}
