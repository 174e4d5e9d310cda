#include "catalog.h"

#include "facts.h"
#include "json.h"

#include <archive.h>
#include <archive_entry.h>
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

static const struct ib_json_valid size_name = {valid_size_name,
                                               "a size name starting with \"Standard_\""};
static const struct ib_json_valid rate = {valid_rate, "one of " RATES};
static const struct ib_json_valid os_id = {ib_valid_os_id, "an os-release ID (a-z 0-9 . _ -)"};

/* A size's confirmed generation, or null. */
static int check_nic(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)i;
	return ib_generation_read(c, v, 1, &((struct ib_size *)obj)->generation);
}

/* The check of a list of strings (an array of char * at c->row's off), each once. */
static int check_once(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const char *const *items = *(const char *const *const *)((char *)obj + c->row->off);

	for (size_t j = 0; v && j < i; j++)
		if (!strcmp(items[j], items[i]))
			return ib_json_fail(c, "listed twice");
	return 0;
}

static int check_version(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	if (v && !ib_valid_version(v->valuestring))
		return ib_json_expected(c, v, "a version such as \"10.0.17763\" or \"20.04\"");
	return check_once(c, obj, v, i);
}

/* The generations an OS supports: the static strings of facts.h, each once. */
static int check_generations(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_os_support *s = obj;
	int rc = v ? ib_generation_read(c, v, 0, &s->nics[i]) : 0;

	return rc ? rc : check_once(c, obj, v, i);
}

/* A size named like an earlier one (with or without "Standard_", in any case) is refused. */
static int check_sizes(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const struct ib_catalog *cat = obj;

	for (size_t j = 0; v && j < i; j++)
		if (same_size(cat->sizes[j].name, cat->sizes[i].name)) {
			ib_json_push(c, "name", 0);
			return ib_json_fail(c, "%s is already listed as %s", cat->sizes[i].name,
			                    cat->sizes[j].name);
		}
	return 0;
}

#define SIZE_AT(m) IB_FIELD(struct ib_size, m)
#define OS_AT(m) IB_FIELD(struct ib_os_support, m)

static const struct ib_json_row size_rows[] = {
        {"name", 1, 64, IB_K_REQ, IB_T_STR, 0, SIZE_AT(name), 0, &size_name, ib_json_check_valid},
        {"ib_rate", 1, 64, IB_K_REQ, IB_T_STR, 0, SIZE_AT(ib_rate), 0, &rate, ib_json_check_valid},
        {"nic", 0, 0, IB_K_REQ, IB_T_RAW, 0, IB_NOSTORE, 0, NULL, check_nic},
        {"sriov", 0, 0, IB_K_REQ, IB_T_BOOL, 0, SIZE_AT(sriov), 0, NULL, NULL},
        {"source", 1, SOURCE_MAX, IB_K_REQ, IB_T_STR, 0, SIZE_AT(source), 0, NULL, NULL},
};
/* family before product and id, which depend on it */
static const struct ib_json_row os_rows[] = {
        {"name", 1, 256, IB_K_REQ, IB_T_STR, 0, OS_AT(name), 0, NULL, NULL},
        {"family", 0, 2, IB_K_REQ, IB_T_ENUM, 0, OS_AT(family), 0, ib_os_families,
         ib_json_check_windows},
        {"product", 0, 2, IB_K_REQ_WIN | IB_K_WIN_ONLY, IB_T_ENUM, 0, OS_AT(product), 0,
         ib_os_products, NULL},
        {"id", 1, 64, IB_K_REQ_LINUX | IB_K_LINUX_ONLY, IB_T_STR, 0, OS_AT(id), 0, &os_id,
         ib_json_check_valid},
        {"versions", 1, 64, IB_K_REQ, IB_T_STR, 1,
         IB_ARRAY(struct ib_os_support, versions, n_versions, char *), 0xffff, NULL, check_version},
        {"nics", 0, 0, IB_K_REQ, IB_T_RAW, 0, IB_ARRAY(struct ib_os_support, nics, n_nics, char *),
         0xffff, NULL, check_generations},
        {"nd", 0, 0, IB_K_REQ, IB_T_BOOL, 0, OS_AT(nd), 0, NULL, NULL},
        {"source", 1, SOURCE_MAX, IB_K_REQ, IB_T_STR, 0, OS_AT(source), 0, NULL, NULL},
};
/* "format" is the only one there is: any other is "expected 1". */
static const struct ib_json_row root_rows[] = {
        {"format", IB_CATALOG_FORMAT, IB_CATALOG_FORMAT, IB_K_REQ, IB_T_INT, 0, IB_NOSTORE, 0, NULL,
         NULL},
        {"sizes", 0, IB_JSON_COUNT(size_rows), IB_K_REQ, IB_T_OBJ, 0,
         IB_ARRAY(struct ib_catalog, sizes, n_sizes, struct ib_size), 0xffff, size_rows,
         check_sizes},
        {"os", 0, IB_JSON_COUNT(os_rows), IB_K_REQ, IB_T_OBJ, 0,
         IB_ARRAY(struct ib_catalog, os, n_os, struct ib_os_support), 0xffff, os_rows, NULL},
};

void ib_catalog_free(struct ib_catalog *c)
{
	if (c)
		ib_json_free(root_rows, IB_JSON_COUNT(root_rows), c);
	free(c);
}

/* The catalog of a parsed document (or rc, when parsing failed); frees doc. */
static int catalog_of(cJSON *doc, int rc, const char *source, struct ib_catalog **out,
                      struct ib_err *err)
{
	struct ib_json_ctx c = {.source = source, .err = err};
	void *cat;

	rc = ib_json_read_new(doc, rc, &c, root_rows, IB_JSON_COUNT(root_rows), sizeof **out, &cat);
	*out = cat;
	return rc;
}

int ib_catalog_parse(const char *json, size_t len, const char *source, struct ib_catalog **out,
                     struct ib_err *err)
{
	cJSON *doc;
	int rc = ib_json_parse(json, len, source, &doc, err);

	return catalog_of(doc, rc, source, out, err);
}

int ib_catalog_load(const char *path, struct ib_catalog **out, struct ib_err *err)
{
	cJSON *doc;
	int rc = ib_json_load(path, IB_CATALOG_MAX_BYTES, &doc, err);

	return catalog_of(doc, rc, path, out, err);
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
