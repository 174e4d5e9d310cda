/*
 * manifest.c - strict reading and canonical writing of bundle manifests
 * (docs/manifest.md).
 *
 * ib_json_parse (json.h) refuses what cJSON lets through but JSON forbids;
 * every object is read by the schema reader from a table of its keys (see
 * "the model"), in a fixed order, so the one error reported for a file is
 * always the same. The writer
 * does not use cJSON's printer: it writes every number as an integer and every
 * string byte-for-byte, so its output does not depend on the locale or on
 * floating-point formatting.
 */

#include "manifest.h"

#include "json.h"
#include "path.h"
#include "platform.h"

#include <cJSON.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 64
#define MAX_DESCRIPTION 1024
#define MAX_ARG 4096
#define MAX_DRIVERS 256
#define MAX_OS 64
#define MAX_FILES 10000
#define MAX_ARGS 64
#define MAX_CODES 64
#define MAX_TIMEOUT 86400

enum form { FORM_INPUT, FORM_RESOLVED };

/* The walker's context, with what the input form adds. */
struct pctx {
	struct ib_json_ctx j;
	const char *dir;     /* input form: the manifest's folder */
	const char *payload; /* input form: the current driver's "source" */
	ib_json_check input; /* input form only */
};

static const char *const platforms[] = {"windows", "linux"};
static const char *const products[] = {"server", "workstation"};
static const char *const modes[] = {"0644", "0755"};
static const char *const nic_names[] = {"CX3-Pro", "CX4", "CX5", "CX6", "CX7"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- messages ---- */

/* s matches [A-Za-z0-9] followed by characters of the set (plus letters and digits). */
static int word_ok(const char *s, const char *punct, int upper)
{
	for (const char *p = s; *p; p++) {
		int alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		            (upper && *p >= 'A' && *p <= 'Z');
		if (!alnum && (p == s || !strchr(punct, *p)))
			return 0;
	}
	return *s != '\0';
}

/* The message for a name that word_ok refused; chars lists what it allows. */
static int bad_word(struct ib_json_ctx *c, const char *chars, const char *s)
{
	char got[80];

	return ib_json_fail(c, "expected up to %d of %s, starting with a letter or digit, got %s",
	                    MAX_NAME, chars, ib_json_quote(got, sizeof got, s));
}

/* "10", "10.0.17763": numbers separated by single dots. */
static int dotted_ok(const char *s)
{
	int digits = 0;

	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.' && digits)
			digits = 0;
		else
			return 0;
	}
	return digits > 0;
}

/* Compares at most n bytes (up to a NUL) as strncmp does; with fold, ignoring ASCII letter case. */
static int keyncmp(const char *a, const char *b, size_t n, int fold)
{
	for (size_t i = 0; i < n; i++) {
		int x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (fold && x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (fold && y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y || x == 0)
			return x - y;
	}
	return 0;
}

/* Why Windows cannot create a file of this name, or NULL. */
static const char *windows_name_problem(const char *rel)
{
	/* Three letters each; the last two take a digit 1-9. */
	static const char devices[] = "CONPRNAUXNULCOMLPT";

	if (rel[strcspn(rel, "<>:\"|?*")])
		return "has a character Windows forbids (< > : \" | ? *)";
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/"), stem = strcspn(p, "./");
		int reserved = 0;

		if (p[n - 1] == '.' || p[n - 1] == ' ')
			return "has a name ending in a dot or space, which Windows drops";
		for (size_t i = 0; i < 6; i++)
			reserved |= !keyncmp(p, devices + 3 * i, 3, 1) &&
			            (i < 4 ? stem == 3 : stem == 4 && p[3] >= '1' && p[3] <= '9');
		if (reserved)
			return "uses a Windows device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9)";
		p += n;
		if (*p == '/')
			p++;
	}
	return NULL;
}

/* ---- sorting with the original positions kept for messages ---- */

struct sortent {
	const char *key;
	size_t idx;
	int fold; /* compared ignoring letter case */
};

/* By key, then by position. */
static int cmp_ents(const void *pa, const void *pb)
{
	const struct sortent *a = pa, *b = pb;
	int r = keyncmp(a->key, b->key, (size_t)-1, a->fold);

	return r ? r : (a->idx > b->idx) - (a->idx < b->idx);
}

/* Compares the first len bytes of prefix, taken as a whole string, with key. */
static int prefix_cmp(const char *prefix, size_t len, const char *key, int fold)
{
	int r = keyncmp(prefix, key, len, fold);

	if (r)
		return r;
	return key[len] ? -1 : 0;
}

/* The entry whose key equals prefix[0..len), or NULL. */
static const struct sortent *find_prefix(const struct sortent *ents, size_t n, const char *prefix,
                                         size_t len, int fold)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = prefix_cmp(prefix, len, ents[mid].key, fold);
		if (r == 0)
			return &ents[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Orders items that start with their key (a string) by it. */
static int cmp_items(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

enum { UNIQ_FOLD = 1, UNIQ_SORT = 2 };

/*
 * The n items (stride bytes each, starting with their key, a path or an id)
 * must unpack side by side: no key twice, and no key inside another that is a
 * file. With UNIQ_FOLD, the same with letter case ignored, as on Windows; with
 * UNIQ_SORT, the items are then sorted by key. c->path is the array's, named
 * arr; key names the key in messages.
 */
static int check_unique(struct ib_json_ctx *c, void *items, size_t n, size_t stride, int how,
                        const char *arr, const char *key)
{
	struct sortent *ents = malloc((n ? n : 1) * sizeof *ents);
	int fold = how & UNIQ_FOLD, rc = 0;
	char a[80], b[80];

	if (!ents)
		return ib_oom(c->err);
	for (size_t i = 0; i < n; i++) {
		ents[i].key = *(char **)((char *)items + i * stride);
		ents[i].idx = i;
		ents[i].fold = fold;
	}
	qsort(ents, n, sizeof *ents, cmp_ents);
	for (size_t i = 1; i < n; i++) {
		if (keyncmp(ents[i - 1].key, ents[i].key, (size_t)-1, fold) == 0) {
			/* cmp_* put the earlier position first among equals. */
			size_t first = ents[i - 1].idx;
			ib_json_push(c, NULL, ents[i].idx);
			ib_json_push(c, key, 0);
			ib_json_quote(a, sizeof a, ents[i].key);
			if (fold)
				rc = ib_json_fail(
				        c,
				        "%s differs from %s[%zu].%s %s only in case, which "
				        "Windows ignores",
				        a, arr, first, key,
				        ib_json_quote(b, sizeof b, ents[i - 1].key));
			else
				rc = ib_json_fail(c, "%s is listed twice (also %s[%zu])", a, arr,
				                  first);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = *(char **)((char *)items + i * stride);
		for (const char *slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
			const struct sortent *hit =
			        find_prefix(ents, n, p, (size_t)(slash - p), fold);
			if (hit) {
				ib_json_push(c, NULL, i);
				ib_json_push(c, key, 0);
				rc = ib_json_fail(c, "%s would be inside file %s (%s[%zu])",
				                  ib_json_quote(a, sizeof a, p),
				                  ib_json_quote(b, sizeof b, hit->key), arr,
				                  hit->idx);
				goto out;
			}
		}
	}
	/* The keys are unique by now, so the order is fully determined. */
	if ((how & UNIQ_SORT) && n > 1)
		qsort(items, n, stride, cmp_items);
out:
	free(ents);
	return rc;
}

/* ---- the model ---- */

/*
 * One table of rows a kind of object, in the order of docs/manifest.md (the order keys are
 * checked in). What a row cannot say (a driver's kind against its platform, duplicate file
 * paths, ...) is done by its check. The rules' form 0 is the input manifest, form 1 the
 * resolved one.
 */

static const char *const kind_names[] = {"nd", "winof", "winof2", "mlnx-ofed", "rdma-core"};

/* The first three kinds are Windows drivers, the others Linux ones; all but "nd" serve SR-IOV
 * sizes. */
#define KIND_PLATFORM(k) platforms[(k) >= 3]
#define KIND_SRIOV(k) ((k) != 0)

static size_t kind_index(const char *kind)
{
	size_t k = 0;

	while (k + 1 < COUNT(kind_names) && strcmp(kind, kind_names[k]))
		k++;
	return k;
}

static int check_format(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const struct ib_manifest *m = obj;

	(void)v, (void)i;
	if (m->format != IB_MANIFEST_FORMAT)
		return ib_json_fail(c, "format %d is not supported (this ibdrv reads %d)",
		                    m->format, IB_MANIFEST_FORMAT);
	return 0;
}

static int check_name(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)obj, (void)i;
	if (!word_ok(v->valuestring, "._-", 1))
		return bad_word(c, "A-Z a-z 0-9 . _ -", v->valuestring);
	return 0;
}

static int check_id(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const char *why;
	char got[80];

	(void)obj, (void)i;
	if (!word_ok(v->valuestring, "._-", 0))
		return bad_word(c, "a-z 0-9 . _ -", v->valuestring);
	/* The id names the driver's folder when unpacked, on Windows too. */
	if ((why = windows_name_problem(v->valuestring)))
		return ib_json_fail(c, "%s %s", ib_json_quote(got, sizeof got, v->valuestring),
		                    why);
	return 0;
}

static int check_kind(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const struct ib_driver *d = obj;
	size_t k = kind_index(d->kind);

	(void)v, (void)i;
	/* Both are validated names: "windows" or "linux". */
	if (KIND_PLATFORM(k)[0] != d->platform[0])
		return ib_json_fail(c, "\"%s\" is a %s driver, but platform is \"%s\"", d->kind,
		                    KIND_PLATFORM(k), d->platform);
	return 0;
}

static int check_version(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)obj, (void)i;
	if (!word_ok(v->valuestring, "._+~-", 1))
		return bad_word(c, "A-Z a-z 0-9 . _ + ~ -", v->valuestring);
	return 0;
}

static int same_opt(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* No two os entries alike. */
static int check_os(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const struct ib_driver *d = obj;

	for (size_t j = 0; v && j < i; j++) {
		const struct ib_os_match *a = &d->os[j], *b = &d->os[i];
		if (same_opt(a->product, b->product) && same_opt(a->id, b->id) &&
		    same_opt(a->version, b->version))
			return ib_json_fail(c, "same as os[%zu]", j);
	}
	return 0;
}

static const char nd_sizes[] = "Network Direct is for sizes without SR-IOV";

static int check_nics(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const struct ib_driver *d = obj;
	size_t k = kind_index(d->kind); /* 0: nd, 1: winof, 2: winof2 */
	int nd = k == 0;

	if (!v && nd && d->n_nics > 0)
		return ib_json_fail(c, "must be empty for kind \"nd\" (%s)", nd_sizes);
	if (!v && !nd && d->n_nics == 0)
		return ib_json_fail(c, "must list the ConnectX generations kind \"%s\" is for",
		                    d->kind);
	if (!v)
		return 0;
	for (size_t j = 0; j < i; j++)
		if (!strcmp(d->nics[j], d->nics[i]))
			return ib_json_fail(c, "\"%s\" is listed twice", d->nics[i]);
	if (k == 1 && strcmp(d->nics[i], "CX3-Pro"))
		return ib_json_fail(
		        c, "WinOF drives ConnectX-3 Pro only; \"%s\" needs kind \"winof2\"",
		        d->nics[i]);
	if (k == 2 && !strcmp(d->nics[i], "CX3-Pro"))
		return ib_json_fail(c,
		                    "WinOF-2 drives ConnectX-4 and newer; \"CX3-Pro\" needs kind "
		                    "\"winof\"");
	return 0;
}

static int check_sriov(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const struct ib_driver *d = obj;
	size_t k = kind_index(d->kind);

	(void)v, (void)i;
	if (d->sriov != KIND_SRIOV(k))
		return ib_json_fail(c, "must be %s for kind \"%s\" (%s)",
		                    KIND_SRIOV(k) ? "true" : "false", d->kind,
		                    KIND_SRIOV(k) ? "its drivers are for SR-IOV sizes" : nd_sizes);
	return 0;
}

/*
 * The input form's own work, which only ib_manifest_load_input links in: with
 * v, the driver's "source", its payload folder, kept for its files; else a
 * file (obj) whose source it sets.
 */
static int input_check(struct ib_json_ctx *j, void *obj, const cJSON *v, size_t i)
{
	struct pctx *c = (struct pctx *)j; /* j is the first member of c */
	struct ib_file *file = obj;
	char got[80], *base;
	const char *dir = strcmp(c->dir, ".") ? c->dir : "";

	(void)i;
	if (v) {
		const char *s = v->valuestring;
		const char *why = strcmp(s, ".") ? ib_path_unsafe_reason(s) : NULL;
		if (why)
			return ib_json_fail(j, "%s %s", ib_json_quote(got, sizeof got, s), why);
		c->payload = s;
		return 0;
	}
	/* "." is the manifest's own folder; "./x" would read worse in messages. */
	base = strcmp(c->payload, ".") ? ib_path_join(dir, c->payload) : strdup(dir);
	file->source = base ? ib_path_join(base, file->path) : NULL;
	free(base);
	return file->source ? 0 : ib_oom(j->err);
}

/* Input form: the driver's payload folder (see input_check). */
static int check_source(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	return ((struct pctx *)c)->input(c, obj, v, i);
}

/* Checks the files side by side (on Windows also ignoring case), then sorts them by path. */
static int check_files(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_driver *d = obj;
	int rc = 0;

	if (v)
		return 0;
	for (i = c->windows ? 0 : UNIQ_SORT; rc == 0 && i <= UNIQ_SORT; i++)
		rc = check_unique(c, d->files, d->n_files, sizeof *d->files, (int)i, "files",
		                  "path");
	return rc;
}

static int check_family(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const struct ib_os_match *os = obj;

	(void)v, (void)i;
	/* Both are validated names: "windows" or "linux". */
	if (os->family[0] != ((const struct ib_driver *)c->obj[1])->platform[0])
		return ib_json_fail(c, "\"%s\" does not match the driver's platform \"%s\"",
		                    os->family, ((const struct ib_driver *)c->obj[1])->platform);
	return 0;
}

static int check_os_id(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)obj, (void)i;
	if (v && !word_ok(v->valuestring, "._-", 0))
		return ib_json_expected(c, v, "an os-release ID (a-z 0-9 . _ -)");
	return 0;
}

static int check_os_version(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)obj, (void)i;
	if (v && !dotted_ok(v->valuestring))
		return ib_json_expected(c, v,
		                        "numbers separated by dots (\"10.0.17763\", \"22.04\")");
	return 0;
}

static int check_path(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_file *file = obj;
	const char *s = file->path, *why;
	char got[80];

	(void)v, (void)i;
	why = ib_path_unsafe_reason(s);
	if (!why && c->windows)
		why = windows_name_problem(s);
	if (why)
		return ib_json_fail(c, "%s %s", ib_json_quote(got, sizeof got, s), why);
	return ((struct pctx *)c)->input ? ((struct pctx *)c)->input(c, file, NULL, 0) : 0;
}

/* Also when absent (input form): "0644", the default. */
static int check_mode(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_file *file = obj;

	(void)c, (void)i;
	file->mode = v && !strcmp(v->valuestring, "0755") ? 0755 : 0644;
	return 0;
}

static int check_blake2b(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_file *file = obj;
	const char *s = v->valuestring;
	size_t n = 0;

	(void)i;
	_Static_assert(IB_HASH_FILE_BYTES == 32, "the message says 64 hex digits");
	while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))
		n++;
	if (s[n] || n != 2 * IB_HASH_FILE_BYTES)
		return ib_json_expected(c, v, "64 lower-case hex digits");
	/* Cannot fail on the 64 hex digits checked above. */
	(void)sodium_hex2bin(file->blake2b, sizeof file->blake2b, s, n, NULL, NULL, NULL);
	return 0;
}

/* Exit code i of codes: Windows reports 32 bits (shown signed, as %ERRORLEVEL% does), POSIX 8. */
static int check_code(struct ib_json_ctx *c, const int *codes, size_t i)
{
	if (!c->windows && (codes[i] < 0 || codes[i] > 255))
		return ib_json_fail(c, "expected a Linux exit status (0 to 255), got %d", codes[i]);
	for (size_t j = 0; j < i; j++)
		if (codes[j] == codes[i])
			return ib_json_fail(c, "%d is listed twice", codes[i]);
	return 0;
}

static int check_success(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_install *in = obj;

	if (v)
		return check_code(c, in->success_codes, i);
	/* Absent in the input form: [0]. */
	if (in->success_codes)
		return 0;
	in->success_codes = calloc(1, sizeof(int));
	in->n_success = 1;
	return in->success_codes ? 0 : ib_oom(c->err);
}

static int check_reboot(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_install *in = obj;
	int rc;

	if (v) {
		if ((rc = check_code(c, in->reboot_codes, i)))
			return rc;
		for (size_t k = 0; k < in->n_success; k++)
			if (in->reboot_codes[i] == in->success_codes[k])
				return ib_json_fail(c, "%d is also a success code",
				                    in->reboot_codes[i]);
		return 0;
	}
	/* Absent: empty, but never NULL: callers may hand it to memcmp or bsearch. */
	if (!in->reboot_codes && !(in->reboot_codes = calloc(1, sizeof(int))))
		return ib_oom(c->err);
	return 0;
}

static int check_drivers(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i);

static const struct ib_json_row os_rows[] = {
        {"family", 0, COUNT(platforms), IB_K_REQ, IB_T_ENUM, 0,
         IB_FIELD(struct ib_os_match, family), 0, platforms, check_family},
        {"product", 0, COUNT(products), IB_K_WIN_ONLY, IB_T_ENUM, 0,
         IB_FIELD(struct ib_os_match, product), 0, products, NULL},
        {"id", 1, 32, IB_K_LINUX_ONLY, IB_T_STR, 0, IB_FIELD(struct ib_os_match, id), 0, NULL,
         check_os_id},
        {"version", 1, 32, IB_K_OPT, IB_T_STR, 0, IB_FIELD(struct ib_os_match, version), 0, NULL,
         check_os_version},
};

static const struct ib_json_row file_rows[] = {
        {"path", 1, 4096, IB_K_REQ, IB_T_STR, 0, IB_FIELD(struct ib_file, path), 0, NULL,
         check_path},
        {"mode", 0, COUNT(modes), IB_K_REQ1, IB_T_ENUM, 0, IB_NOSTORE, 0, modes, check_mode},
        {"size", 0, 0, IB_K_NOT0 | IB_K_REQ1, IB_T_BIG, 0, IB_FIELD(struct ib_file, size), 0, NULL,
         NULL},
        {"blake2b", 1, 256, IB_K_NOT0 | IB_K_REQ1, IB_T_STR, 0, IB_NOSTORE, 0, NULL, check_blake2b},
        /* Set by check_path in the input form; here so that ib_manifest_free frees it. */
        {"source", 1, 0, IB_K_NO, IB_T_STR, 0, IB_FIELD(struct ib_file, source), 0, NULL, NULL},
};

static const struct ib_json_row install_rows[] = {
        {"argv", 1, MAX_ARG, IB_K_REQ, IB_T_STR, 1, IB_ARRAY(struct ib_install, argv, argc, char *),
         MAX_ARGS, NULL, NULL},
        {"timeout_seconds", 1, MAX_TIMEOUT, IB_K_REQ, IB_T_INT, 0,
         IB_FIELD(struct ib_install, timeout_seconds), 0, NULL, NULL},
        {"success_codes", INT32_MIN, INT32_MAX, IB_K_REQ1, IB_T_INT, 1,
         IB_ARRAY(struct ib_install, success_codes, n_success, int), MAX_CODES, NULL,
         check_success},
        {"reboot_codes", INT32_MIN, INT32_MAX, IB_K_REQ1, IB_T_INT, 0,
         IB_ARRAY(struct ib_install, reboot_codes, n_reboot, int), MAX_CODES, NULL, check_reboot},
};

static const struct ib_json_row driver_rows[] = {
        {"id", 1, MAX_NAME, IB_K_REQ, IB_T_STR, 0, IB_FIELD(struct ib_driver, id), 0, NULL,
         check_id},
        {"platform", 0, COUNT(platforms), IB_K_REQ, IB_T_ENUM, 0,
         IB_FIELD(struct ib_driver, platform), 0, platforms, ib_json_check_windows},
        {"kind", 0, COUNT(kind_names), IB_K_REQ, IB_T_ENUM, 0, IB_FIELD(struct ib_driver, kind), 0,
         kind_names, check_kind},
        {"version", 1, MAX_NAME, IB_K_REQ, IB_T_STR, 0, IB_FIELD(struct ib_driver, version), 0,
         NULL, check_version},
        {"description", 1, MAX_DESCRIPTION, IB_K_OPT, IB_T_STR, 0,
         IB_FIELD(struct ib_driver, description), 0, NULL, NULL},
        {"os", 0, COUNT(os_rows), IB_K_REQ, IB_T_OBJ, 1,
         IB_ARRAY(struct ib_driver, os, n_os, struct ib_os_match), MAX_OS, os_rows, check_os},
        {"nics", 0, COUNT(nic_names), IB_K_REQ, IB_T_ENUM, 0,
         IB_ARRAY(struct ib_driver, nics, n_nics, char *), COUNT(nic_names), nic_names, check_nics},
        {"sriov", 0, 0, IB_K_REQ, IB_T_BOOL, 0, IB_FIELD(struct ib_driver, sriov), 0, NULL,
         check_sriov},
        {"source", 1, 4096, IB_K_REQ | IB_K_NOT1, IB_T_STR, 0, IB_NOSTORE, 0, NULL, check_source},
        {"files", 0, COUNT(file_rows), IB_K_REQ, IB_T_OBJ, 1,
         IB_ARRAY(struct ib_driver, files, n_files, struct ib_file), MAX_FILES, file_rows,
         check_files},
        {"install", 0, COUNT(install_rows), IB_K_REQ, IB_T_OBJ, 0,
         IB_FIELD(struct ib_driver, install), 0, install_rows, NULL},
};

static const struct ib_json_row top_rows[] = {
        {"format", 1, INT32_MAX, IB_K_REQ, IB_T_INT, 0, IB_FIELD(struct ib_manifest, format), 0,
         NULL, check_format},
        {"name", 1, MAX_NAME, IB_K_REQ, IB_T_STR, 0, IB_FIELD(struct ib_manifest, name), 0, NULL,
         check_name},
        {"sequence", 1, 0, IB_K_REQ, IB_T_BIG, 0, IB_FIELD(struct ib_manifest, sequence), 0, NULL,
         NULL},
        {"created", 0, 0, IB_K_NOT0 | IB_K_REQ1, IB_T_BIG, 0, IB_FIELD(struct ib_manifest, created),
         0, NULL, NULL},
        {"drivers", 0, COUNT(driver_rows), IB_K_REQ, IB_T_OBJ, 1,
         IB_ARRAY(struct ib_manifest, drivers, n_drivers, struct ib_driver), MAX_DRIVERS,
         driver_rows, check_drivers},
};

/* Driver ids are unique; then the drivers are sorted by id. */
static int check_drivers(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_manifest *m = obj;

	(void)i;
	if (v)
		return 0;
	return check_unique(c, m->drivers, m->n_drivers, sizeof *m->drivers, UNIQ_SORT, "drivers",
	                    "id");
}

/* input is input_check for the input form, NULL for the resolved form. */
static int parse_text(const char *text, size_t len, const char *source, const char *dir,
                      ib_json_check input, struct ib_manifest **out, struct ib_err *err)
{
	struct pctx c = {
	        .j = {.source = source,
	              .err = err,
	              .form = input ? FORM_INPUT : FORM_RESOLVED,
	              .refused = "written by ibdrv-build; not allowed in an input manifest",
	              .utf8 = 1},
	        .dir = dir,
	        .input = input};
	struct ib_manifest *m = NULL;
	cJSON *root = NULL;
	int rc;

	*out = NULL;
	if (len > IB_MANIFEST_MAX_BYTES)
		return ib_fail(
		        err, IB_EINPUT,
		        "%s: %zu bytes, larger than the %d-byte (1 MiB) limit for a manifest",
		        source, len, IB_MANIFEST_MAX_BYTES);
	if ((rc = ib_json_parse(text, len, source, &root, err)))
		return rc;
	m = calloc(1, sizeof *m);
	if (!m) {
		rc = ib_oom(err);
		goto out;
	}
	if ((rc = ib_json_read(&c.j, root, top_rows, COUNT(top_rows), m)))
		goto out;
	*out = m;
	m = NULL;
out:
	ib_manifest_free(m);
	cJSON_Delete(root);
	return rc;
}

/* ---- public: reading ---- */

int ib_manifest_load_input(const char *path, struct ib_manifest **out, struct ib_err *err)
{
	char *text = NULL, *dir = NULL;
	FILE *f = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = plat_open_read(path, &f, err)))
		return rc;
	/* One byte more than the limit tells "too large" without trusting a stat. */
	text = malloc(IB_MANIFEST_MAX_BYTES + 2);
	dir = ib_path_dirname(path);
	if (!text || !dir) {
		rc = ib_oom(err);
		goto out;
	}
	len = fread(text, 1, IB_MANIFEST_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = ib_fail(err, IB_EIO, "%s: cannot read", path);
		goto out;
	}
	if (len > IB_MANIFEST_MAX_BYTES) {
		rc = ib_fail(err, IB_EINPUT,
		             "%s: larger than the %d-byte (1 MiB) limit for a manifest", path,
		             IB_MANIFEST_MAX_BYTES);
		goto out;
	}
	text[len] = '\0';
	rc = parse_text(text, len, path, dir, input_check, out, err);
out:
	if (f)
		fclose(f);
	free(text);
	free(dir);
	return rc;
}

int ib_manifest_parse_resolved(const char *json, size_t len, const char *source,
                               struct ib_manifest **out, struct ib_err *err)
{
	return parse_text(json, len, source, NULL, NULL, out, err);
}

/* ---- public: writing ---- */

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void put_n(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void put(struct buf *b, const char *s)
{
	put_n(b, s, strlen(s));
}

/* A JSON string; NULL becomes null, which the check after writing refuses. */
static void put_str(struct buf *b, const char *s)
{
	if (!s) {
		put(b, "null");
		return;
	}
	put(b, "\"");
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		char esc[8];

		if (ch >= 0x20 && ch != '"' && ch != '\\') {
			put_n(b, p, 1);
			continue;
		}
		if (ch == '"' || ch == '\\')
			snprintf(esc, sizeof esc, "\\%c", ch);
		else
			snprintf(esc, sizeof esc, "\\u%04x", ch);
		put(b, esc);
	}
	put(b, "\"");
}

/*
 * A tiny printf: %s copies a string, %q writes it as a JSON string, %u writes
 * a uint64_t and %d a long long, in plain decimal.
 */
static void putf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char num[32];

	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		size_t run = strcspn(p, "%");
		if (run) {
			put_n(b, p, run);
			p += run - 1;
			continue;
		}
		switch (*++p) {
		case 's':
			put(b, va_arg(ap, const char *));
			break;
		case 'q':
			put_str(b, va_arg(ap, const char *));
			break;
		case 'u':
			snprintf(num, sizeof num, "%" PRIu64, va_arg(ap, uint64_t));
			put(b, num);
			break;
		case 'd':
			snprintf(num, sizeof num, "%lld", va_arg(ap, long long));
			put(b, num);
			break;
		}
	}
	va_end(ap);
}

static void put_codes(struct buf *b, const int *codes, size_t n)
{
	put(b, "[");
	for (size_t i = 0; i < n; i++)
		putf(b, "%s%d", i ? ", " : "", (long long)codes[i]);
	put(b, "]");
}

static void put_strings(struct buf *b, char *const *s, size_t n)
{
	put(b, "[");
	for (size_t i = 0; i < n; i++)
		putf(b, "%s%q", i ? ", " : "", s[i]);
	put(b, "]");
}

/* Positions of n items sorted by key (NULL keys first), for writing in order. */
static struct sortent *sorted(size_t n, const char *(*key)(const void *, size_t), const void *arr)
{
	struct sortent *ents = malloc((n ? n : 1) * sizeof *ents);

	if (!ents)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *k = key(arr, i);
		ents[i].key = k ? k : "";
		ents[i].idx = i;
		ents[i].fold = 0;
	}
	qsort(ents, n, sizeof *ents, cmp_ents);
	return ents;
}

static const char *driver_key(const void *arr, size_t i)
{
	return ((const struct ib_driver *)arr)[i].id;
}

static const char *file_key(const void *arr, size_t i)
{
	return ((const struct ib_file *)arr)[i].path;
}

static int write_driver(struct buf *b, const struct ib_driver *d)
{
	struct sortent *files = sorted(d->n_files, file_key, d->files);
	const struct ib_install *in = &d->install;

	if (!files)
		return -1;
	putf(b,
	     "    {\n      \"id\": %q,\n      \"platform\": %q,\n      \"kind\": %q,\n"
	     "      \"version\": %q,\n",
	     d->id, d->platform, d->kind, d->version);
	if (d->description)
		putf(b, "      \"description\": %q,\n", d->description);
	put(b, "      \"os\": [\n");
	for (size_t i = 0; i < d->n_os; i++) {
		const struct ib_os_match *os = &d->os[i];
		putf(b, "        {\"family\": %q", os->family);
		if (os->product)
			putf(b, ", \"product\": %q", os->product);
		if (os->id)
			putf(b, ", \"id\": %q", os->id);
		if (os->version)
			putf(b, ", \"version\": %q", os->version);
		put(b, i + 1 < d->n_os ? "},\n" : "}\n");
	}
	put(b, "      ],\n      \"nics\": ");
	put_strings(b, d->nics, d->n_nics);
	putf(b, ",\n      \"sriov\": %s,\n      \"files\": [\n", d->sriov ? "true" : "false");
	for (size_t i = 0; i < d->n_files; i++) {
		const struct ib_file *f = &d->files[files[i].idx];
		char hex[IB_HASH_FILE_HEX];

		sodium_bin2hex(hex, sizeof hex, f->blake2b, sizeof f->blake2b);
		putf(b, "        {\"path\": %q, \"mode\": %s, \"size\": %u, \"blake2b\": %q}%s\n",
		     f->path,
		     f->mode == 0755   ? "\"0755\""
		     : f->mode == 0644 ? "\"0644\""
		                       : "null",
		     f->size, hex, i + 1 < d->n_files ? "," : "");
	}
	put(b, "      ],\n      \"install\": {\n        \"argv\": ");
	put_strings(b, in->argv, in->argc);
	putf(b, ",\n        \"timeout_seconds\": %d,\n        \"success_codes\": ",
	     (long long)in->timeout_seconds);
	put_codes(b, in->success_codes, in->n_success);
	put(b, ",\n        \"reboot_codes\": ");
	put_codes(b, in->reboot_codes, in->n_reboot);
	put(b, "\n      }\n    }");
	free(files);
	return 0;
}

int ib_manifest_serialize(const struct ib_manifest *m, char **json, size_t *len, struct ib_err *err)
{
	struct buf b = {0};
	struct sortent *drivers = sorted(m->n_drivers, driver_key, m->drivers);
	struct ib_manifest *check = NULL;
	int rc = 0;

	*json = NULL;
	*len = 0;
	if (!drivers) {
		rc = ib_oom(err);
		goto out;
	}
	/* Out-of-range numbers are written as they are; the check below refuses them. */
	putf(&b,
	     "{\n  \"format\": %d,\n  \"name\": %q,\n  \"sequence\": %u,\n  \"created\": %u,\n"
	     "  \"drivers\": [\n",
	     (long long)m->format, m->name, m->sequence, m->created);
	for (size_t i = 0; i < m->n_drivers; i++) {
		if (write_driver(&b, &m->drivers[drivers[i].idx]))
			b.oom = 1;
		put(&b, i + 1 < m->n_drivers ? ",\n" : "\n");
	}
	put(&b, "  ]\n}\n");
	if (b.oom) {
		rc = ib_oom(err);
		goto out;
	}
	/* Never hand out (and get signed) a manifest that installers would refuse. */
	if ((rc = ib_manifest_parse_resolved(b.p, b.len, IB_MANIFEST_ENTRY, &check, err)))
		goto out;
	*json = b.p;
	*len = b.len;
	b.p = NULL;
out:
	ib_manifest_free(check);
	free(drivers);
	free(b.p);
	return rc;
}

/* ---- public: lookups and cleanup ---- */

const struct ib_driver *ib_manifest_driver(const struct ib_manifest *m, const char *id)
{
	for (size_t i = 0; i < m->n_drivers; i++)
		if (m->drivers[i].id && !strcmp(m->drivers[i].id, id))
			return &m->drivers[i];
	return NULL;
}

char *ib_manifest_entry_name(const struct ib_driver *d, const struct ib_file *f)
{
	size_t len = strlen(IB_DRIVER_PREFIX) + strlen(d->id) + 1 + strlen(f->path) + 1;
	char *name = malloc(len);

	if (name)
		snprintf(name, len, "%s%s/%s", IB_DRIVER_PREFIX, d->id, f->path);
	return name;
}

void ib_manifest_free(struct ib_manifest *m)
{
	if (!m)
		return;
	ib_json_free(top_rows, COUNT(top_rows), m);
	free(m);
}
