/* The manifest model: the demo manifest, canonical writing, and every refusal. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "manifest.h"
#include "path.h"
#include "platform.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *src_dir;
static char *tmp_dir;

static char *cat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

static void write_file(const char *path, const char *data, size_t len)
{
	struct ib_err err;
	FILE *f;

	plat_remove(path, &err);
	CHECK(plat_create_excl(path, 0644, &f, &err) == 0);
	CHECK(fwrite(data, 1, len, f) == len);
	CHECK(plat_sync_close(f, path, &err) == 0);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	struct ib_err err;
	unsigned char *buf = malloc(1 << 20);
	FILE *f;

	*len = 0;
	if (plat_open_read(path, &f, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return buf;
	}
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* Files below dir, as "a/b" paths, bytewise sorted. */
static void list_tree(const char *dir, const char *prefix, char **out, size_t *n, size_t cap)
{
	struct ib_err err;
	char **names;
	size_t count;

	CHECK(plat_list_dir(dir, &names, &count, &err) == 0);
	for (size_t i = 0; i < count; i++) {
		char *full = ib_path_join(dir, names[i]);
		char *rel = prefix[0] ? ib_path_join(prefix, names[i]) : strdup(names[i]);
		enum plat_kind kind;
		CHECK(plat_lstat(full, &kind, NULL, &err) == 0);
		if (kind == PLAT_DIR) {
			list_tree(full, rel, out, n, cap);
			free(rel);
		} else if (*n < cap) {
			out[(*n)++] = rel;
		} else {
			free(rel);
		}
		free(full);
	}
	plat_free_names(names, count);
}

static int same_opt(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Field-by-field equality of two manifests, sources aside (only inputs have them). */
static int manifests_equal(const struct ib_manifest *a, const struct ib_manifest *b)
{
	if (a->format != b->format || strcmp(a->name, b->name) || a->sequence != b->sequence ||
	    a->created != b->created || a->n_drivers != b->n_drivers)
		return 0;
	for (size_t i = 0; i < a->n_drivers; i++) {
		const struct ib_driver *x = &a->drivers[i], *y = &b->drivers[i];
		const struct ib_install *p = &x->install, *q = &y->install;
		if (strcmp(x->id, y->id) || strcmp(x->platform, y->platform) ||
		    strcmp(x->kind, y->kind) || strcmp(x->version, y->version) ||
		    !same_opt(x->description, y->description) || x->n_os != y->n_os ||
		    x->n_nics != y->n_nics || x->sriov != y->sriov || x->n_files != y->n_files)
			return 0;
		for (size_t j = 0; j < x->n_os; j++)
			if (!same_opt(x->os[j].family, y->os[j].family) ||
			    !same_opt(x->os[j].product, y->os[j].product) ||
			    !same_opt(x->os[j].id, y->os[j].id) ||
			    !same_opt(x->os[j].version, y->os[j].version))
				return 0;
		for (size_t j = 0; j < x->n_nics; j++)
			if (strcmp(x->nics[j], y->nics[j]))
				return 0;
		for (size_t j = 0; j < x->n_files; j++)
			if (strcmp(x->files[j].path, y->files[j].path) ||
			    x->files[j].size != y->files[j].size ||
			    x->files[j].mode != y->files[j].mode ||
			    memcmp(x->files[j].blake2b, y->files[j].blake2b, IB_HASH_FILE_BYTES))
				return 0;
		if (p->argc != q->argc || p->timeout_seconds != q->timeout_seconds ||
		    p->n_success != q->n_success || p->n_reboot != q->n_reboot ||
		    p->argv[p->argc] || q->argv[q->argc])
			return 0;
		for (size_t j = 0; j < p->argc; j++)
			if (strcmp(p->argv[j], q->argv[j]))
				return 0;
		if (memcmp(p->success_codes, q->success_codes, p->n_success * sizeof(int)) ||
		    memcmp(p->reboot_codes, q->reboot_codes, p->n_reboot * sizeof(int)))
			return 0;
	}
	return 1;
}

static struct ib_manifest *load_demo(void)
{
	char *path = cat(src_dir, "/manifests/demo/bundle.json");
	struct ib_manifest *m = NULL;
	struct ib_err err;
	int rc = ib_manifest_load_input(path, &m, &err);

	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(rc == 0);
	free(path);
	return m;
}

static void test_demo(void)
{
	struct ib_manifest *m = load_demo();
	const struct ib_driver *d;
	char *want;

	if (!m)
		return;
	CHECK(m->format == 1);
	CHECK_STR(m->name, "ibdrv-demo");
	CHECK(m->sequence == 1);
	CHECK(m->created == 0);
	CHECK(m->n_drivers == 4);
	if (m->n_drivers != 4)
		goto out;
	/* Sorted by id, whatever the order in the file. */
	CHECK_STR(m->drivers[0].id, "mlnx-ofed-linux");
	CHECK_STR(m->drivers[1].id, "nd-windows");
	CHECK_STR(m->drivers[2].id, "winof-windows");
	CHECK_STR(m->drivers[3].id, "winof2-windows");

	d = ib_manifest_driver(m, "nd-windows");
	CHECK(d == &m->drivers[1]);
	CHECK(ib_manifest_driver(m, "nd") == NULL);
	CHECK_STR(d->platform, "windows");
	CHECK_STR(d->kind, "nd");
	CHECK(d->sriov == 0);
	CHECK(d->n_nics == 0);
	CHECK(d->n_os == 5);
	CHECK_STR(d->os[0].product, "workstation");
	CHECK_STR(d->os[0].version, "10.0");
	CHECK(d->os[0].id == NULL);
	CHECK_STR(d->os[4].version, "10.0.17763");
	CHECK(d->n_files == 3);
	CHECK_STR(d->files[0].path, "demo-standin.cmd");
	CHECK_STR(d->files[1].path, "driver/ibdrv-demo-nd.inf");
	CHECK_STR(d->files[2].path, "install.cmd");
	CHECK(d->files[0].mode == 0755);
	CHECK(d->files[1].mode == 0644);
	CHECK(d->files[1].size == 0);
	want = cat(src_dir, "/manifests/demo/windows/nd/driver/ibdrv-demo-nd.inf");
	CHECK_STR(d->files[1].source, want);
	free(want);
	{
		char *entry = ib_manifest_entry_name(d, &d->files[1]);
		CHECK_STR(entry, "drivers/nd-windows/driver/ibdrv-demo-nd.inf");
		free(entry);
	}
	CHECK(d->install.argc == 4);
	CHECK_STR(d->install.argv[3], "install.cmd");
	CHECK(d->install.argv[4] == NULL);
	CHECK(d->install.timeout_seconds == 600);
	CHECK(d->install.n_success == 2 && d->install.success_codes[1] == 259);
	CHECK(d->install.n_reboot == 1 && d->install.reboot_codes[0] == 3010);

	d = &m->drivers[2];
	CHECK_STR(d->kind, "winof");
	CHECK(d->sriov == 1);
	CHECK(d->n_nics == 1);
	CHECK_STR(d->nics[0], "CX3-Pro");
	CHECK(d->n_os == 3);

	d = &m->drivers[3];
	CHECK_STR(d->kind, "winof2");
	CHECK(d->n_nics == 4);
	CHECK_STR(d->nics[0], "CX4");
	CHECK_STR(d->nics[3], "CX7");
	CHECK_STR(d->os[5].version, "10.0.20348");
	CHECK(d->install.n_reboot == 2 && d->install.reboot_codes[1] == 1641);

	d = &m->drivers[0];
	CHECK_STR(d->platform, "linux");
	CHECK_STR(d->kind, "mlnx-ofed");
	CHECK_STR(d->version, "23.10-3.2.2.0");
	CHECK_STR(d->os[2].family, "linux");
	CHECK_STR(d->os[2].id, "rhel");
	CHECK_STR(d->os[2].version, "8");
	CHECK(d->os[2].product == NULL);
	CHECK_STR(d->install.argv[0], "/bin/sh");
	CHECK(d->install.reboot_codes[0] == 194);
	CHECK(d->files[0].mode == 0755);
	CHECK(d->files[1].mode == 0644);

	/* The demo folders hold exactly the listed payloads: nothing missing, nothing extra. */
	for (size_t i = 0; i < m->n_drivers; i++) {
		d = &m->drivers[i];
		char *dir = ib_path_dirname(d->files[0].source);
		size_t depth = 0;
		for (const char *p = d->files[0].path; (p = strchr(p, '/')); p++)
			depth++;
		for (size_t k = 0; k < depth; k++) {
			char *up = ib_path_dirname(dir);
			free(dir);
			dir = up;
		}
		char *found[64];
		size_t n = 0;
		list_tree(dir, "", found, &n, 64);
		CHECK(n == d->n_files);
		for (size_t k = 0; k < n && k < d->n_files; k++)
			CHECK_STR(found[k], d->files[k].path);
		for (size_t k = 0; k < n; k++)
			free(found[k]);
		free(dir);
	}
out:
	ib_manifest_free(m);
}

static void hash_payloads(struct ib_manifest *m)
{
	for (size_t i = 0; i < m->n_drivers; i++) {
		for (size_t j = 0; j < m->drivers[i].n_files; j++) {
			struct ib_file *f = &m->drivers[i].files[j];
			size_t len;
			unsigned char *data = read_all(f->source, &len);
			CHECK(len > 0);
			f->size = len;
			crypto_generichash(f->blake2b, sizeof f->blake2b, data, len, NULL, 0);
			free(data);
		}
	}
}

static void test_roundtrip(void)
{
	struct ib_manifest *m = load_demo(), *back = NULL;
	char *json = NULL, *again = NULL, *third = NULL, hex[IB_HASH_FILE_HEX], want[256];
	size_t len = 0, len2 = 0, len3 = 0;
	const struct ib_file *f;
	struct ib_err err;
	int rc;

	if (!m)
		return;
	hash_payloads(m);
	m->created = 1700000000;
	rc = ib_manifest_serialize(m, &json, &len, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(rc == 0);
	if (rc)
		goto out;
	CHECK(strlen(json) == len);
	CHECK(!strncmp(
	        json,
	        "{\n  \"format\": 1,\n  \"name\": \"ibdrv-demo\",\n  \"sequence\": 1,\n"
	        "  \"created\": 1700000000,\n  \"drivers\": [\n    {\n"
	        "      \"id\": \"mlnx-ofed-linux\",\n",
	        strlen("{\n  \"format\": 1,\n  \"name\": \"ibdrv-demo\",\n  \"sequence\": 1,\n"
	               "  \"created\": 1700000000,\n  \"drivers\": [\n    {\n"
	               "      \"id\": \"mlnx-ofed-linux\",\n")));
	CHECK(len > 2 && !strcmp(json + len - 2, "}\n"));
	CHECK(strstr(json, "\"source\"") == NULL);
	CHECK(strstr(json, "\"id\": \"nd-windows\"") < strstr(json, "\"id\": \"winof-windows\""));
	CHECK(strstr(json, "\"id\": \"winof-windows\"") <
	      strstr(json, "\"id\": \"winof2-windows\""));
	/* Default mode made explicit, real size and hash. */
	f = &m->drivers[0].files[1];
	sodium_bin2hex(hex, sizeof hex, f->blake2b, sizeof f->blake2b);
	snprintf(want, sizeof want,
	         "{\"path\": \"packages.txt\", \"mode\": \"0644\", \"size\": %llu, \"blake2b\": "
	         "\"%s\"}",
	         (unsigned long long)f->size, hex);
	CHECK_CONTAINS(json, want);

	rc = ib_manifest_parse_resolved(json, len, "demo.json", &back, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(rc == 0);
	if (rc)
		goto out;
	CHECK(manifests_equal(m, back));
	CHECK(back->drivers[0].files[0].source == NULL);
	CHECK(ib_manifest_serialize(back, &again, &len2, &err) == 0);
	CHECK(ib_manifest_serialize(m, &third, &len3, &err) == 0);
	CHECK(again && len2 == len && !memcmp(again, json, len));
	CHECK(third && len3 == len && !memcmp(third, json, len));
out:
	free(json);
	free(again);
	free(third);
	ib_manifest_free(back);
	ib_manifest_free(m);
}

/* The canonical form, pinned byte for byte; any change here changes every bundle. */
static const char canonical[] =
        "{\n"
        "  \"format\": 1,\n"
        "  \"name\": \"Golden_1.0\",\n"
        "  \"sequence\": 9007199254740991,\n"
        "  \"created\": 0,\n"
        "  \"drivers\": [\n"
        "    {\n"
        "      \"id\": \"a-linux\",\n"
        "      \"platform\": \"linux\",\n"
        "      \"kind\": \"rdma-core\",\n"
        "      \"version\": \"50.0\",\n"
        "      \"description\": \"quote \\\" backslash \\\\ slash / caf\xc3\xa9\",\n"
        "      \"os\": [\n"
        "        {\"family\": \"linux\"},\n"
        "        {\"family\": \"linux\", \"id\": \"ubuntu\", \"version\": \"24.04\"}\n"
        "      ],\n"
        "      \"nics\": [\"CX7\", \"CX3-Pro\"],\n"
        "      \"sriov\": true,\n"
        "      \"files\": [\n"
        "        {\"path\": \"a/b\", \"mode\": \"0644\", \"size\": 0, \"blake2b\": "
        "\"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8\"},\n"
        "        {\"path\": \"a0\", \"mode\": \"0755\", \"size\": 9007199254740991, \"blake2b\": "
        "\"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}\n"
        "      ],\n"
        "      \"install\": {\n"
        "        \"argv\": [\"/bin/sh\", \"-c\", \"exit 0\"],\n"
        "        \"timeout_seconds\": 86400,\n"
        "        \"success_codes\": [0, 255],\n"
        "        \"reboot_codes\": []\n"
        "      }\n"
        "    },\n"
        "    {\n"
        "      \"id\": \"b-windows\",\n"
        "      \"platform\": \"windows\",\n"
        "      \"kind\": \"nd\",\n"
        "      \"version\": \"1\",\n"
        "      \"os\": [\n"
        "        {\"family\": \"windows\", \"product\": \"server\"}\n"
        "      ],\n"
        "      \"nics\": [],\n"
        "      \"sriov\": false,\n"
        "      \"files\": [\n"
        "        {\"path\": \"x.cmd\", \"mode\": \"0755\", \"size\": 1, \"blake2b\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\"}\n"
        "      ],\n"
        "      \"install\": {\n"
        "        \"argv\": [\"x.cmd\"],\n"
        "        \"timeout_seconds\": 1,\n"
        "        \"success_codes\": [-2147483648, 2147483647],\n"
        "        \"reboot_codes\": [3010]\n"
        "      }\n"
        "    }\n"
        "  ]\n"
        "}\n";

/* The same content, reordered and re-spaced: it must come out as canonical[]. */
static const char scrambled[] =
        "{\"drivers\":[{\"install\":{\"reboot_codes\":[3010],\"success_codes\":[-2147483648,"
        "2147483647],\"timeout_seconds\":1,\"argv\":[\"x.cmd\"]},\"files\":[{\"blake2b\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1,"
        "\"mode\":\"0755\",\"path\":\"x.cmd\"}],\"sriov\":false,\"nics\":[],\"os\":[{\"product\":"
        "\"server\",\"family\":\"windows\"}],\"version\":\"1\",\"kind\":\"nd\",\"platform\":"
        "\"windows\",\"id\":\"b-windows\"},{\"id\":\"a-linux\",\"platform\":\"linux\",\"kind\":"
        "\"rdma-core\",\"version\":\"50.0\",\"description\":\"quote \\\" backslash \\\\ slash "
        "\\/ caf\\u00e9\",\"os\":[{\"family\":\"linux\"},{\"version\":\"24.04\",\"id\":\"ubuntu\","
        "\"family\":\"linux\"}],\"nics\":[\"CX7\",\"CX3-Pro\"],\"sriov\":true,\"files\":[{"
        "\"path\":\"a0\",\"mode\":\"0755\",\"size\":9007199254740991.0,\"blake2b\":"
        "\"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"},{\"path\":\"a/b\","
        "\"mode\":\"0644\",\"size\":0,\"blake2b\":"
        "\"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8\"}],\"install\":{"
        "\"argv\":[\"/bin/sh\",\"-c\",\"exit 0\"],\"timeout_seconds\":86400,\"success_codes\":[0,"
        "255],\"reboot_codes\":[]}}],\"created\":0,\"sequence\":9007199254740991,\"name\":"
        "\"Golden_1.0\",\"format\":1}\r\n\t ";

static void test_canonical(void)
{
	const char *texts[] = {canonical, scrambled};

	for (size_t i = 0; i < 2; i++) {
		struct ib_manifest *m = NULL;
		struct ib_err err;
		char *json = NULL;
		size_t len = 0;
		int rc = ib_manifest_parse_resolved(texts[i], strlen(texts[i]), "golden", &m, &err);

		if (rc)
			fprintf(stderr, "%s\n", err.msg);
		CHECK(rc == 0);
		if (rc)
			continue;
		CHECK(m->sequence == 9007199254740991ULL);
		CHECK(m->drivers[0].files[1].size == 9007199254740991ULL);
		CHECK(m->drivers[0].files[0].blake2b[0] == 0x0e);
		CHECK(m->drivers[1].install.success_codes[0] == -2147483647 - 1);
		CHECK_STR(m->drivers[0].description, "quote \" backslash \\ slash / caf\xc3\xa9");
		CHECK(ib_manifest_serialize(m, &json, &len, &err) == 0);
		CHECK(json && len == strlen(canonical) && !strcmp(json, canonical));
		if (json && strcmp(json, canonical))
			fprintf(stderr, "got:\n%s\n", json);
		free(json);
		ib_manifest_free(m);
	}
}

/* Input-only conveniences: defaults, source ".", sorting of what is written unsorted. */
static void test_input_defaults(void)
{
	static const char text[] =
	        "{\"format\":1,\"name\":\"t\",\"sequence\":7,\"drivers\":["
	        "{\"id\":\"z\",\"platform\":\"linux\",\"kind\":\"rdma-core\",\"version\":\"1\","
	        "\"os\":[{\"family\":\"linux\"}],\"nics\":[\"CX6\"],\"sriov\":true,\"source\":\"."
	        "\","
	        "\"files\":[{\"path\":\"run.sh\",\"mode\":\"0755\"},{\"path\":\"data/"
	        "b\"},{\"path\":"
	        "\"data/a\"}],\"install\":{\"argv\":[\"./run.sh\"],\"timeout_seconds\":5}},"
	        "{\"id\":\"a\",\"platform\":\"windows\",\"kind\":\"winof2\",\"version\":\"2\","
	        "\"os\":[{\"family\":\"windows\"}],\"nics\":[\"CX5\"],\"sriov\":true,\"source\":"
	        "\"win/a\",\"files\":[{\"path\":\"i.cmd\"}],\"install\":{\"argv\":[\"i.cmd\"],"
	        "\"timeout_seconds\":5,\"success_codes\":[0,-1073741819]}}]}";
	char *path = cat(tmp_dir, "/defaults.json"), *want;
	struct ib_manifest *m = NULL;
	struct ib_err err;
	int rc;

	write_file(path, text, strlen(text));
	rc = ib_manifest_load_input(path, &m, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(rc == 0);
	if (rc)
		goto out;
	CHECK(m->sequence == 7);
	CHECK_STR(m->drivers[0].id, "a");
	CHECK_STR(m->drivers[1].id, "z");
	CHECK(m->drivers[0].files[0].mode == 0644);
	CHECK(m->drivers[0].install.n_success == 2);
	CHECK(m->drivers[0].install.success_codes[1] == -1073741819);
	CHECK(m->drivers[0].install.n_reboot == 0);
	want = cat(tmp_dir, "/win/a/i.cmd");
	CHECK_STR(m->drivers[0].files[0].source, want);
	free(want);
	CHECK(m->drivers[1].install.n_success == 1 && m->drivers[1].install.success_codes[0] == 0);
	CHECK(m->drivers[1].install.n_reboot == 0 && m->drivers[1].install.reboot_codes != NULL);
	CHECK_STR(m->drivers[1].files[0].path, "data/a");
	CHECK_STR(m->drivers[1].files[1].path, "data/b");
	CHECK_STR(m->drivers[1].files[2].path, "run.sh");
	want = cat(tmp_dir, "/data/a");
	CHECK_STR(m->drivers[1].files[0].source, want);
	free(want);
out:
	ib_manifest_free(m);
	free(path);
}

/* ---- refusals ---- */

#define TOP(drivers) "{\"format\":1,\"name\":\"t\",\"sequence\":1,\"drivers\":[" drivers "]}"
#define DRIVER(id, plat, kind, ver, os, nics, sriov, src, files, inst)                             \
	"{\"id\":" id ",\"platform\":" plat ",\"kind\":" kind ",\"version\":" ver ",\"os\":" os    \
	",\"nics\":" nics ",\"sriov\":" sriov ",\"source\":" src ",\"files\":" files               \
	",\"install\":" inst "}"
#define L_OS "[{\"family\":\"linux\",\"id\":\"ubuntu\",\"version\":\"22.04\"}]"
#define L_FILES "[{\"path\":\"install.sh\",\"mode\":\"0755\"}]"
#define L_INST "{\"argv\":[\"/bin/sh\",\"install.sh\"],\"timeout_seconds\":60}"
/* A good Linux driver with one part replaced. */
#define LX(os, nics, sriov, files, inst)                                                           \
	DRIVER("\"d1\"", "\"linux\"", "\"mlnx-ofed\"", "\"5.8\"", os, nics, sriov, "\"p\"", files, \
	       inst)
#define LGOOD LX(L_OS, "[\"CX5\"]", "true", L_FILES, L_INST)
#define W_OS "[{\"family\":\"windows\",\"product\":\"server\",\"version\":\"10.0.17763\"}]"
#define W_INST "{\"argv\":[\"cmd.exe\",\"/c\",\"install.cmd\"],\"timeout_seconds\":60}"
/* A good Windows driver of a kind, with its NIC list, files and os replaceable. */
#define WX(kind, os, nics, sriov, files)                                                           \
	DRIVER("\"w1\"", "\"windows\"", kind, "\"2.22.50000\"", os, nics, sriov, "\"w\"", files,   \
	       W_INST)
#define WFILES(paths) "[" paths "]"

static const struct {
	const char *json;
	const char *want;
} bad[] = {
        /* Syntax. */
        {"{\"format\": 1,,}", ": not valid JSON at byte 14 (line 1, column 15)"},
        {"{\n  \"format\": 1\n  \"name\": \"x\"\n}",
         ": not valid JSON at byte 18 (line 3, column 3)"},
        {TOP(LGOOD) " x",
         ": unexpected data after the JSON value at byte 325 (line 1, column 326)"},
        {TOP(LGOOD) "{}",
         ": unexpected data after the JSON value at byte 324 (line 1, column 325)"},
        {"", ": empty; expected a JSON value"},
        {" \n\t", ": empty; expected a JSON value"},
        {"{\x01\"format\":1}", ": control character 0x01 at byte 1 (line 1, column 2)"},
        {"{\"na\\u0000me\":1}", ": \\u0000 (NUL) in a string at byte 4 (line 1, column 5)"},
        {"[]", ": expected an object, got an array"},
        /* Keys. */
        {"{\"format\":1,\"name\":\"t\",\"sequence\":1,\"drivers\":[" LGOOD "],\"extra\":1}",
         ": extra: unknown key (expected format, name, sequence, drivers)"},
        {"{\"format\":1,\"Name\":\"t\",\"sequence\":1,\"drivers\":[" LGOOD "]}",
         ": Name: unknown key"},
        {"{\"format\":1,\"na me\":\"t\",\"sequence\":1,\"drivers\":[" LGOOD "]}",
         ": \"na me\": unknown key"},
        {"{\"format\":1,\"name\":\"t\",\"drivers\":[" LGOOD "]}", ": sequence: missing"},
        {"{\"format\":1,\"name\":\"t\",\"name\":\"u\",\"sequence\":1,\"drivers\":[" LGOOD "]}",
         ": name: duplicate key"},
        {"{\"format\":1,\"name\":\"t\",\"sequence\":1,\"created\":5,\"drivers\":[" LGOOD "]}",
         ": created: written by ibdrv-build; not allowed in an input manifest"},
        {TOP("{\"id\":\"d1\",\"platform\":\"linux\",\"sriovv\":true}"),
         ": drivers[0].sriovv: unknown key (expected id, platform, kind, version, description, "
         "os, nics, sriov, source, files, install)"},
        {TOP("{\"id\":\"d1\",\"platform\":\"linux\",\"version\":\"1\",\"os\":[],\"nics\":[],"
             "\"sriov\":true,\"source\":\"p\",\"files\":[],\"install\":{}}"),
         ": drivers[0].kind: missing"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"a\"],\"argv\":[\"b\"],\"timeout_seconds\":60}")),
         ": drivers[0].install.argv: duplicate key"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"install.sh\",\"size\":5}]", L_INST)),
         ": drivers[0].files[0].size: written by ibdrv-build; not allowed in an input manifest"},
        /* Types and ranges. */
        {"{\"format\":2,\"name\":\"t\",\"sequence\":1,\"drivers\":[" LGOOD "]}",
         ": format: format 2 is not supported (this ibdrv reads 1)"},
        {"{\"format\":1,\"name\":\"t\",\"sequence\":\"3\",\"drivers\":[" LGOOD "]}",
         ": sequence: expected an integer from 1 to 9007199254740991, got \"3\""},
        {"{\"format\":1,\"name\":\"t\",\"sequence\":0,\"drivers\":[" LGOOD "]}",
         ": sequence: expected an integer from 1 to 9007199254740991, got 0"},
        {"{\"format\":1,\"name\":\"t\",\"sequence\":1.5,\"drivers\":[" LGOOD "]}",
         ": sequence: expected an integer from 1 to 9007199254740991, got a fractional number"},
        {"{\"format\":1,\"name\":\"t\",\"sequence\":9007199254740992,\"drivers\":[" LGOOD "]}",
         ": sequence: expected an integer from 1 to 9007199254740991, got a number of magnitude "
         "2^53 or more"},
        {"{\"format\":1,\"name\":\"t\",\"sequence\":1e400,\"drivers\":[" LGOOD "]}",
         "got a number of magnitude 2^53 or more"},
        {"{\"format\":1,\"name\":\"a b\",\"sequence\":1,\"drivers\":[" LGOOD "]}",
         ": name: expected up to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit, got "
         "\"a b\""},
        {"{\"format\":1,\"name\":\".x\",\"sequence\":1,\"drivers\":[" LGOOD "]}",
         ": name: expected up to 64 of"},
        {"{\"format\":1,\"name\":\"t\",\"sequence\":1,\"drivers\":{}}",
         ": drivers: expected an array, got an object"},
        {TOP(""), ": drivers: must have at least 1 item"},
        {TOP("\"x\""), ": drivers[0]: expected an object, got \"x\""},
        {TOP(DRIVER("\"D1\"", "\"linux\"", "\"mlnx-ofed\"", "\"5.8\"", L_OS, "[\"CX5\"]", "true",
                    "\"p\"", L_FILES, L_INST)),
         ": drivers[0].id: expected up to 64 of a-z 0-9 . _ -, starting with a letter or digit, "
         "got \"D1\""},
        {TOP(DRIVER("\"aux.1\"", "\"linux\"", "\"mlnx-ofed\"", "\"5.8\"", L_OS, "[\"CX5\"]", "true",
                    "\"p\"", L_FILES, L_INST)),
         ": drivers[0].id: \"aux.1\" uses a Windows device name"},
        {TOP(DRIVER("\"a123456789a123456789a123456789a123456789a123456789a123456789abcde\"",
                    "\"linux\"", "\"mlnx-ofed\"", "\"5.8\"", L_OS, "[\"CX5\"]", "true", "\"p\"",
                    L_FILES, L_INST)),
         ": drivers[0].id: longer than 64 bytes"},
        {TOP(DRIVER("\"d1\"", "\"macos\"", "\"mlnx-ofed\"", "\"5.8\"", L_OS, "[\"CX5\"]", "true",
                    "\"p\"", L_FILES, L_INST)),
         ": drivers[0].platform: expected \"windows\" or \"linux\", got \"macos\""},
        {TOP(DRIVER("\"d1\"", "\"linux\"", "\"ofed\"", "\"5.8\"", L_OS, "[\"CX5\"]", "true",
                    "\"p\"", L_FILES, L_INST)),
         ": drivers[0].kind: expected one of \"nd\", \"winof\", \"winof2\", \"mlnx-ofed\", or "
         "\"rdma-core\", got \"ofed\""},
        {TOP(DRIVER("\"d1\"", "\"linux\"", "\"winof2\"", "\"5.8\"", L_OS, "[\"CX5\"]", "true",
                    "\"p\"", L_FILES, L_INST)),
         ": drivers[0].kind: \"winof2\" is a windows driver, but platform is \"linux\""},
        {TOP(DRIVER("\"d1\"", "\"linux\"", "\"mlnx-ofed\"", "\"5.8 beta\"", L_OS, "[\"CX5\"]",
                    "true", "\"p\"", L_FILES, L_INST)),
         ": drivers[0].version: expected up to 64 of A-Z a-z 0-9 . _ + ~ -"},
        {TOP(DRIVER("\"d1\"", "\"linux\"", "\"mlnx-ofed\"", "\"5.8\",\"description\":\"a\\nb\"",
                    L_OS, "[\"CX5\"]", "true", "\"p\"", L_FILES, L_INST)),
         ": drivers[0].description: contains a control character: \"a\\x0ab\""},
        {TOP(DRIVER("\"d1\"", "\"linux\"", "\"mlnx-ofed\"", "\"5.8\",\"description\":\"a\xff\"",
                    L_OS, "[\"CX5\"]", "true", "\"p\"", L_FILES, L_INST)),
         ": drivers[0].description: not valid UTF-8"},
        {TOP(DRIVER("\"d1\"", "\"linux\"", "\"mlnx-ofed\"", "\"5.8\",\"description\":\"\xc0\xaf\"",
                    L_OS, "[\"CX5\"]", "true", "\"p\"", L_FILES, L_INST)),
         ": drivers[0].description: not valid UTF-8"},
        /* OS entries. */
        {TOP(LX("[]", "[\"CX5\"]", "true", L_FILES, L_INST)),
         ": drivers[0].os: must have at least 1 item"},
        {TOP(LX("[{\"family\":\"windows\"}]", "[\"CX5\"]", "true", L_FILES, L_INST)),
         ": drivers[0].os[0].family: \"windows\" does not match the driver's platform \"linux\""},
        {TOP(LX("[{\"family\":\"linux\",\"product\":\"server\"}]", "[\"CX5\"]", "true", L_FILES,
                L_INST)),
         ": drivers[0].os[0].product: only for windows"},
        {TOP(WX("\"winof2\"", "[{\"family\":\"windows\",\"id\":\"ubuntu\"}]", "[\"CX5\"]", "true",
                WFILES("{\"path\":\"install.cmd\"}"))),
         ": drivers[0].os[0].id: only for linux"},
        {TOP(WX("\"winof2\"", "[{\"family\":\"windows\",\"product\":\"datacenter\"}]", "[\"CX5\"]",
                "true", WFILES("{\"path\":\"install.cmd\"}"))),
         ": drivers[0].os[0].product: expected \"server\" or \"workstation\", got \"datacenter\""},
        {TOP(LX("[{\"family\":\"linux\",\"version\":\"22.04a\"}]", "[\"CX5\"]", "true", L_FILES,
                L_INST)),
         ": drivers[0].os[0].version: expected numbers separated by dots"},
        {TOP(LX("[{\"family\":\"linux\",\"version\":\"8.\"}]", "[\"CX5\"]", "true", L_FILES,
                L_INST)),
         ": drivers[0].os[0].version: expected numbers separated by dots"},
        {TOP(LX("[{\"family\":\"linux\",\"id\":\"Ubuntu\"}]", "[\"CX5\"]", "true", L_FILES,
                L_INST)),
         ": drivers[0].os[0].id: expected an os-release ID"},
        {TOP(LX("[{\"family\":\"linux\",\"id\":\"rhel\",\"version\":\"8\"},{\"version\":\"8\","
                "\"family\":\"linux\",\"id\":\"rhel\"}]",
                "[\"CX5\"]", "true", L_FILES, L_INST)),
         ": drivers[0].os[1]: same as os[0]"},
        /* NICs and SR-IOV. */
        {TOP(WX("\"nd\"", W_OS, "[\"CX5\"]", "false", WFILES("{\"path\":\"install.cmd\"}"))),
         ": drivers[0].nics: must be empty for kind \"nd\""},
        {TOP(WX("\"winof2\"", W_OS, "[]", "true", WFILES("{\"path\":\"install.cmd\"}"))),
         ": drivers[0].nics: must list the ConnectX generations kind \"winof2\" is for"},
        {TOP(LX(L_OS, "[\"CX8\"]", "true", L_FILES, L_INST)),
         ": drivers[0].nics[0]: expected one of \"CX3-Pro\", \"CX4\", \"CX5\", \"CX6\", or "
         "\"CX7\", "
         "got \"CX8\""},
        {TOP(LX(L_OS, "[\"CX5\",\"CX6\",\"CX5\"]", "true", L_FILES, L_INST)),
         ": drivers[0].nics[2]: \"CX5\" is listed twice"},
        {TOP(WX("\"winof\"", W_OS, "[\"CX3-Pro\",\"CX5\"]", "true",
                WFILES("{\"path\":\"install.cmd\"}"))),
         ": drivers[0].nics[1]: WinOF drives ConnectX-3 Pro only; \"CX5\" needs kind \"winof2\""},
        {TOP(WX("\"winof2\"", W_OS, "[\"CX3-Pro\"]", "true", WFILES("{\"path\":\"install.cmd\"}"))),
         ": drivers[0].nics[0]: WinOF-2 drives ConnectX-4 and newer"},
        {TOP(WX("\"nd\"", W_OS, "[]", "true", WFILES("{\"path\":\"install.cmd\"}"))),
         ": drivers[0].sriov: must be false for kind \"nd\""},
        {TOP(LX(L_OS, "[\"CX5\"]", "false", L_FILES, L_INST)),
         ": drivers[0].sriov: must be true for kind \"mlnx-ofed\""},
        {TOP(LX(L_OS, "[\"CX5\"]", "\"yes\"", L_FILES, L_INST)),
         ": drivers[0].sriov: expected true or false, got \"yes\""},
        /* Files and paths. */
        {TOP(DRIVER("\"d1\"", "\"linux\"", "\"mlnx-ofed\"", "\"5.8\"", L_OS, "[\"CX5\"]", "true",
                    "\"../p\"", L_FILES, L_INST)),
         ": drivers[0].source: \"../p\" has a \".\" or \"..\" component"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[]", L_INST)),
         ": drivers[0].files: must have at least 1 item"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"/etc/passwd\"}]", L_INST)),
         ": drivers[0].files[0].path: \"/etc/passwd\" is absolute"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"a/../../x\"}]", L_INST)),
         ": drivers[0].files[0].path: \"a/../../x\" has a \".\" or \"..\" component"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"a\\\\b\"}]", L_INST)),
         ": drivers[0].files[0].path: \"a\\\\b\" contains a backslash"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"a//b\"}]", L_INST)),
         ": drivers[0].files[0].path: \"a//b\" has an empty component"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"a/\"}]", L_INST)),
         ": drivers[0].files[0].path: \"a/\" has an empty component"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"C:x\"}]", L_INST)),
         ": drivers[0].files[0].path: \"C:x\" starts with a drive letter"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"\"}]", L_INST)),
         ": drivers[0].files[0].path: must not be empty"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"a\"},{\"path\":\"b\"},{\"path\":\"a\"}]",
                L_INST)),
         ": drivers[0].files[2].path: \"a\" is listed twice (also files[0])"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true",
                "[{\"path\":\"a/b/c\"},{\"path\":\"a-b\"},{\"path\":\"a/b\"}]", L_INST)),
         ": drivers[0].files[0].path: \"a/b/c\" would be inside file \"a/b\" (files[2])"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"Setup.exe\"},{\"path\":\"setup.exe\"}]",
                L_INST)),
         NULL /* Linux file names are case-sensitive: accepted. */},
        {TOP(WX("\"winof2\"", W_OS, "[\"CX5\"]", "true",
                WFILES("{\"path\":\"Setup.exe\"},{\"path\":\"setup.exe\"}"))),
         ": drivers[0].files[1].path: \"setup.exe\" differs from files[0].path \"Setup.exe\" only "
         "in case, which Windows ignores"},
        {TOP(WX("\"winof2\"", W_OS, "[\"CX5\"]", "true",
                WFILES("{\"path\":\"Lib/x\"},{\"path\":\"lib\"}"))),
         ": drivers[0].files[0].path: \"Lib/x\" would be inside file \"lib\""},
        {TOP(WX("\"winof2\"", W_OS, "[\"CX5\"]", "true", WFILES("{\"path\":\"d/nul.txt\"}"))),
         ": drivers[0].files[0].path: \"d/nul.txt\" uses a Windows device name"},
        {TOP(WX("\"winof2\"", W_OS, "[\"CX5\"]", "true", WFILES("{\"path\":\"ab:c\"}"))),
         ": drivers[0].files[0].path: \"ab:c\" has a character Windows forbids"},
        {TOP(WX("\"winof2\"", W_OS, "[\"CX5\"]", "true", WFILES("{\"path\":\"x./y\"}"))),
         ": drivers[0].files[0].path: \"x./y\" has a name ending in a dot or space"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"i.sh\",\"mode\":\"0777\"}]", L_INST)),
         ": drivers[0].files[0].mode: expected \"0644\" or \"0755\", got \"0777\""},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[{\"path\":\"i.sh\",\"mode\":493}]", L_INST)),
         ": drivers[0].files[0].mode: expected \"0644\" or \"0755\", got 493"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", "[\"i.sh\"]", L_INST)),
         ": drivers[0].files[0]: expected an object, got \"i.sh\""},
        /* The install command. */
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES, "{\"argv\":[],\"timeout_seconds\":60}")),
         ": drivers[0].install.argv: must have at least 1 item"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES, "{\"argv\":\"sh\",\"timeout_seconds\":60}")),
         ": drivers[0].install.argv: expected an array, got \"sh\""},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"sh\",\"\"],\"timeout_seconds\":60}")),
         ": drivers[0].install.argv[1]: must not be empty"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"sh\",1],\"timeout_seconds\":60}")),
         ": drivers[0].install.argv[1]: expected a string, got 1"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES, "{\"argv\":[\"sh\"]}")),
         ": drivers[0].install.timeout_seconds: missing"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"sh\"],\"timeout_seconds\":86401}")),
         ": drivers[0].install.timeout_seconds: expected an integer from 1 to 86400, got 86401"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"sh\"],\"timeout_seconds\":null}")),
         ": drivers[0].install.timeout_seconds: expected an integer from 1 to 86400, got null"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"sh\"],\"timeout_seconds\":9,\"success_codes\":[]}")),
         ": drivers[0].install.success_codes: must have at least 1 item"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"sh\"],\"timeout_seconds\":9,\"success_codes\":[0,1,0]}")),
         ": drivers[0].install.success_codes[2]: 0 is listed twice"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"sh\"],\"timeout_seconds\":9,\"reboot_codes\":[3010]}")),
         ": drivers[0].install.reboot_codes[0]: expected a Linux exit status (0 to "
         "255), got 3010"},
        {TOP(LX(L_OS, "[\"CX5\"]", "true", L_FILES,
                "{\"argv\":[\"sh\"],\"timeout_seconds\":9,\"reboot_codes\":[194,0]}")),
         ": drivers[0].install.reboot_codes[1]: 0 is also a success code"},
        {TOP(WX("\"winof2\"", W_OS, "[\"CX5\"]", "true", WFILES("{\"path\":\"install.cmd\"}"))) "x",
         ": unexpected data after the JSON value"},
        {TOP(LGOOD "," LGOOD), ": drivers[1].id: \"d1\" is listed twice (also drivers[0])"},
};

static void test_bad_inputs(void)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "/bad-%02zu.json", i);
		char *path = cat(tmp_dir, name);
		struct ib_manifest *m = NULL;
		struct ib_err err;
		int rc;

		write_file(path, bad[i].json, strlen(bad[i].json));
		ib_err_clear(&err);
		rc = ib_manifest_load_input(path, &m, &err);
		if (!bad[i].want) {
			CHECK(rc == 0 && m != NULL);
		} else {
			if (rc != IB_EINPUT)
				fprintf(stderr, "case %zu: rc %d\n", i, rc);
			CHECK(rc == IB_EINPUT);
			CHECK(m == NULL);
			CHECK(err.code == IB_EINPUT);
			/* One line, starting with the file's name. */
			CHECK(!strncmp(err.msg, path, strlen(path)));
			CHECK(strchr(err.msg, '\n') == NULL);
			CHECK_CONTAINS(err.msg, bad[i].want);
		}
		ib_manifest_free(m);
		free(path);
	}
}

static void test_bad_bytes(void)
{
	char *path = cat(tmp_dir, "/nul.json");
	struct ib_manifest *m = NULL;
	struct ib_err err;
	char *big;

	write_file(path, "{\n\"format\"\0:1}", 14);
	CHECK(ib_manifest_load_input(path, &m, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "nul.json: NUL byte at byte 10 (line 2, column 9)");

	/* Past the limit, refused before any parsing. */
	big = malloc(IB_MANIFEST_MAX_BYTES + 1);
	memset(big, ' ', IB_MANIFEST_MAX_BYTES + 1);
	big[0] = '{';
	big[IB_MANIFEST_MAX_BYTES] = '}';
	write_file(path, big, IB_MANIFEST_MAX_BYTES + 1);
	CHECK(ib_manifest_load_input(path, &m, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "nul.json: larger than the 1048576-byte (1 MiB) limit");
	CHECK(ib_manifest_parse_resolved(big, IB_MANIFEST_MAX_BYTES + 1, "b.tar:manifest.json", &m,
	                                 &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "b.tar:manifest.json: 1048577 bytes, larger than the 1048576-byte");
	free(big);

	plat_remove(path, &err);
	CHECK(ib_manifest_load_input(path, &m, &err) != 0);
	CHECK_CONTAINS(err.msg, "nul.json");
	CHECK(m == NULL);
	free(path);
}

/* The resolved form has its own required and forbidden keys. */
static void test_bad_resolved(void)
{
	static const struct {
		const char *from, *to, *want;
	} edits[] = {
	        {"  \"created\": 0,\n", "", "golden: created: missing"},
	        {"\"version\": \"1\",", "\"version\": \"1\", \"source\": \"w\",",
	         "golden: drivers[1].source: unknown key (expected id, platform, kind, version, "
	         "description, os, nics, sriov, files, install)"},
	        {"\"ffffffff", "\"FFFFFFFF",
	         "golden: drivers[0].files[1].blake2b: expected 64 lower-case hex digits"},
	        {"\"0e5751c0", "\"0e5751c",
	         "golden: drivers[0].files[0].blake2b: expected 64 lower-case hex digits"},
	        {"\"size\": 1,", "\"size\": -1,",
	         "golden: drivers[1].files[0].size: expected an integer from 0 to "
	         "9007199254740991, "
	         "got -1"},
	        {"\"mode\": \"0755\", \"size\": 1,", "\"size\": 1,",
	         "golden: drivers[1].files[0].mode: missing"},
	        {"        \"reboot_codes\": [3010]\n", "        \"x\": 1\n",
	         "golden: drivers[1].install.x: unknown key"},
	        {"        \"success_codes\": [0, 255],\n", "",
	         "golden: drivers[0].install.success_codes: missing"},
	        {"\n}\n", "\n}\n}", "golden: unexpected data after the JSON value at byte"},
	};

	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		const char *at = strstr(canonical, edits[i].from);
		size_t pre, flen = strlen(edits[i].from), tlen = strlen(edits[i].to);
		struct ib_manifest *m = NULL;
		struct ib_err err;
		char *text;

		CHECK(at != NULL);
		if (!at)
			continue;
		pre = (size_t)(at - canonical);
		text = malloc(sizeof canonical + tlen);
		memcpy(text, canonical, pre);
		memcpy(text + pre, edits[i].to, tlen);
		strcpy(text + pre + tlen, at + flen);
		CHECK(ib_manifest_parse_resolved(text, strlen(text), "golden", &m, &err) ==
		      IB_EINPUT);
		CHECK(m == NULL);
		CHECK_CONTAINS(err.msg, edits[i].want);
		free(text);
	}
}

/* What the writer is given must be what readers accept: it checks before handing out. */
static void test_serialize_refuses(void)
{
	struct ib_manifest *m = NULL;
	struct ib_err err;
	char *json = (char *)"unchanged";
	size_t len = 1;

	CHECK(ib_manifest_parse_resolved(canonical, strlen(canonical), "golden", &m, &err) == 0);
	if (!m)
		return;
	m->drivers[1].files[0].mode = 0600;
	CHECK(ib_manifest_serialize(m, &json, &len, &err) == IB_EINPUT);
	CHECK(json == NULL && len == 0);
	CHECK_CONTAINS(err.msg, "manifest.json: drivers[1].files[0].mode: expected \"0644\" or "
	                        "\"0755\", got null");
	m->drivers[1].files[0].mode = 0755;
	free(m->name);
	m->name = NULL;
	CHECK(ib_manifest_serialize(m, &json, &len, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "manifest.json: name: expected a string, got null");
	m->name = strdup("ok");
	m->sequence = 9007199254740992ULL;
	CHECK(ib_manifest_serialize(m, &json, &len, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "manifest.json: sequence: expected an integer from 1 to");
	ib_manifest_free(m);
}

int main(void)
{
	struct ib_err err;
	const char *tmp = getenv("IBDRV_TEST_TMP");

	src_dir = getenv("IBDRV_SRC");
	if (!src_dir || !tmp || sodium_init() < 0) {
		fprintf(stderr, "test_manifest: needs IBDRV_SRC and IBDRV_TEST_TMP\n");
		return 1;
	}
	tmp_dir = cat(tmp, "/test_manifest");
	plat_remove_tree(tmp_dir, &err);
	CHECK(plat_mkdir_p(tmp_dir, 0755, &err) == 0);

	test_demo();
	test_roundtrip();
	test_canonical();
	test_input_defaults();
	test_bad_inputs();
	test_bad_bytes();
	test_bad_resolved();
	test_serialize_refuses();

	plat_remove_tree(tmp_dir, &err);
	free(tmp_dir);
	return check_report();
}
