/*
 * ibdrv-build extension: the Azure VM extension package of ibdrv-install, a
 * zip holding HandlerManifest.json, the installer, the trusted public keys,
 * ibdrv.json (which names the keys and the default download URLs) and,
 * optionally, a signed bundle with its .minisig. The zip is byte-for-byte
 * reproducible: entries sorted by name, fixed times (SOURCE_DATE_EPOCH or
 * 2000-01-01) and owners. A bundle is verified against the keys first, so a
 * package never ships a bundle its own installer would refuse.
 */
#include "bundle.h"
#include "commands.h"

#include "minisign.h"
#include "outfile.h"
#include "path.h"
#include "platform.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_KEYS 16
#define MAX_URLS 16
#define DEFAULT_MTIME 946684800 /* 2000-01-01T00:00:00Z */
#define CHUNK 65536

struct entry {
	char *name;         /* inside the zip */
	const char *source; /* file to copy, or NULL */
	char *data;         /* generated content when source is NULL */
	size_t size;
	int mode;
};

struct ext_opts {
	const char *installer;
	const char *keys[MAX_KEYS];
	size_t n_keys;
	const char *urls[MAX_URLS];
	size_t n_urls;
	const char *bundle;
	char *bundle_sig; /* "<bundle>.minisig", owned */
	const char *name;
	const char *output;
	int force;
};

static int parse_args(int argc, char **argv, struct ext_opts *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
			o->force = 1;
			continue;
		}
		if (!v)
			return cli_usage("extension: %s needs a value", a);
		i++;
		if (!strcmp(a, "--installer")) {
			o->installer = v;
		} else if (!strcmp(a, "--pubkey")) {
			if (o->n_keys == MAX_KEYS)
				return cli_usage("extension: at most %d --pubkey", MAX_KEYS);
			o->keys[o->n_keys++] = v;
		} else if (!strcmp(a, "--url")) {
			if (o->n_urls == MAX_URLS)
				return cli_usage("extension: at most %d --url", MAX_URLS);
			o->urls[o->n_urls++] = v;
		} else if (!strcmp(a, "--bundle")) {
			o->bundle = v;
		} else if (!strcmp(a, "--name")) {
			o->name = v;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			o->output = v;
		} else {
			return cli_usage("extension: unknown option '%s'", a);
		}
	}
	if (!o->installer || !o->n_keys || !o->output)
		return cli_usage("extension: --installer, --pubkey and -o are required");
	return 0;
}

static int valid_url(const char *u)
{
	const char *host = !strncmp(u, "https://", 8)  ? u + 8
	                   : !strncmp(u, "http://", 7) ? u + 7
	                                               : NULL;

	if (!host || !host[0] || host[0] == '/' || strlen(u) > 2048)
		return 0;
	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return 0;
	return 1;
}

/* mtime of every entry: SOURCE_DATE_EPOCH when set (and sane), else a fixed date. */
static int entry_mtime(time_t *out, struct ib_err *err)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	*out = DEFAULT_MTIME;
	if (!s)
		return 0;
	v = strtoll(s, &end, 10);
	/* Zip times start in 1980 and end in 2107. */
	if (!s[0] || *end || v < 315532800 || v > 4354819199LL)
		return ib_fail(err, IB_EUSAGE,
		               "SOURCE_DATE_EPOCH=\"%s\" is not a time zip can hold (1980..2107)",
		               s);
	*out = (time_t)v;
	return 0;
}

/* The bundle must verify, entries and all, with the package's keys, as the installer will. */
static int verify_bundle(const char *bundle, const char *sig_path, const struct ib_pubkey *keys,
                         size_t n_keys, struct ib_err *err)
{
	struct ib_read_opts o = {.keys = keys, .n_keys = n_keys, .sig_path = sig_path, .quiet = 1};
	struct ib_bundle b;
	int rc = ib_bundle_read(bundle, &o, &b, err);

	if (rc == 0)
		ib_bundle_release(&b);
	return rc;
}

static char *handler_manifest(const char *name, const char *program)
{
	static const char *const commands[][2] = {
	        {"installCommand", "install"}, {"uninstallCommand", "uninstall"},
	        {"updateCommand", "update"},   {"enableCommand", "enable"},
	        {"disableCommand", "disable"},
	};
	cJSON *root = cJSON_CreateArray(), *h = cJSON_CreateObject(), *m = cJSON_CreateObject();
	char cmd[512];
	char *text = NULL;
	int ok = root && h && m;

	if (!ok) {
		cJSON_Delete(root);
		cJSON_Delete(h);
		cJSON_Delete(m);
		return NULL;
	}
	cJSON_AddItemToArray(root, h);
	ok = cJSON_AddStringToObject(h, "name", name) && cJSON_AddRawToObject(h, "version", "1.0");
	cJSON_AddItemToObject(h, "handlerManifest", m);
	for (size_t i = 0; ok && i < sizeof commands / sizeof commands[0]; i++) {
		snprintf(cmd, sizeof cmd, "%s %s", program, commands[i][1]);
		ok = cJSON_AddStringToObject(m, commands[i][0], cmd) != NULL;
	}
	/* Install does no work and enable hands the driver install to a detached worker,
	   so no step of the agent's update needs to be retried or block an update. */
	ok = ok && cJSON_AddFalseToObject(m, "rebootAfterInstall") &&
	     cJSON_AddFalseToObject(m, "reportHeartbeat") &&
	     cJSON_AddStringToObject(m, "updateMode", "UpdateWithInstall") &&
	     cJSON_AddTrueToObject(m, "continueOnUpdateFailure") &&
	     cJSON_AddFalseToObject(m, "supportsMultipleExtensions");
	if (ok)
		text = cJSON_Print(root);
	cJSON_Delete(root);
	return text;
}

static char *package_config(char *const *key_names, size_t n_keys, const char *const *urls,
                            size_t n_urls)
{
	cJSON *root = cJSON_CreateObject(), *keys = cJSON_CreateArray(), *u = cJSON_CreateArray();
	char *text = NULL;
	int ok = root && keys && u && cJSON_AddNumberToObject(root, "format", 1);

	for (size_t i = 0; ok && i < n_keys; i++) {
		cJSON *s = cJSON_CreateString(key_names[i]);
		ok = s != NULL;
		cJSON_AddItemToArray(keys, s);
	}
	for (size_t i = 0; ok && i < n_urls; i++) {
		cJSON *s = cJSON_CreateString(urls[i]);
		ok = s != NULL;
		cJSON_AddItemToArray(u, s);
	}
	if (ok) {
		cJSON_AddItemToObject(root, "keys", keys);
		cJSON_AddItemToObject(root, "urls", u);
		keys = u = NULL;
		text = cJSON_Print(root);
	}
	cJSON_Delete(keys);
	cJSON_Delete(u);
	cJSON_Delete(root);
	return text;
}

static int cmp_entries(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static int add_file(struct entry *e, size_t *n, const char *name, const char *source, int mode,
                    struct ib_err *err)
{
	enum plat_kind kind;
	uint64_t size;
	int rc = plat_lstat(source, &kind, &size, err);

	if (rc)
		return rc;
	if (kind != PLAT_REGULAR)
		return ib_fail(err, IB_EINPUT, "%s: not a regular file", source);
	e[*n].name = strdup(name);
	if (!e[*n].name)
		return ib_oom(err);
	e[*n].source = source;
	e[*n].size = (size_t)size;
	e[*n].mode = mode;
	(*n)++;
	return 0;
}

static int add_data(struct entry *e, size_t *n, const char *name, char *data, struct ib_err *err)
{
	e[*n].name = strdup(name);
	if (!e[*n].name || !data) {
		free(e[*n].name);
		free(data);
		return ib_oom(err);
	}
	e[*n].data = data;
	e[*n].size = strlen(data);
	e[*n].mode = 0644;
	(*n)++;
	return 0;
}

static int archive_fail(struct archive *a, const char *what, struct ib_err *err)
{
	return ib_fail(err, IB_EIO, "%s: %s", what,
	               archive_error_string(a) ? archive_error_string(a) : "archive error");
}

static int write_entry(struct archive *a, const struct entry *e, time_t mtime, const char *output,
                       unsigned char *buf, struct ib_err *err)
{
	struct archive_entry *ae = archive_entry_new();
	FILE *f = NULL;
	size_t done = 0;
	int rc = 0;

	if (!ae)
		return ib_oom(err);
	archive_entry_set_pathname_utf8(ae, e->name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, (mode_t)e->mode);
	archive_entry_set_size(ae, (la_int64_t)e->size);
	archive_entry_set_mtime(ae, mtime, 0);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	if (archive_write_header(a, ae) != ARCHIVE_OK) {
		rc = archive_fail(a, output, err);
		goto out;
	}
	if (e->data) {
		if (archive_write_data(a, e->data, e->size) != (la_ssize_t)e->size)
			rc = archive_fail(a, output, err);
		goto out;
	}
	rc = plat_open_read(e->source, &f, err);
	while (rc == 0) {
		size_t got = fread(buf, 1, CHUNK, f);

		if (got == 0)
			break;
		if (done + got > e->size) {
			rc = ib_fail(err, IB_EINPUT, "%s: changed while being packed", e->source);
			break;
		}
		if (archive_write_data(a, buf, got) != (la_ssize_t)got)
			rc = archive_fail(a, output, err);
		done += got;
	}
	if (rc == 0 && (ferror(f) || done != e->size))
		rc = ib_fail(err, IB_EINPUT, "%s: changed while being packed", e->source);
out:
	if (f)
		fclose(f);
	archive_entry_free(ae);
	return rc;
}

static int write_zip(const struct ext_opts *o, struct entry *e, size_t n, time_t mtime,
                     struct ib_err *err)
{
	struct ib_outfile out;
	struct archive *a = NULL;
	unsigned char *buf = malloc(CHUNK);
	int rc;

	if (!buf)
		return ib_oom(err);
	rc = ib_outfile_open(&out, o->output, 0644, err);
	if (rc)
		goto out_buf;
	/* Zip keeps DOS times in local time: the same bytes in every time zone. */
	plat_use_utc_localtime();
	a = archive_write_new();
	if (!a || archive_write_set_format_zip(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_set_options(a, "zip:compression=deflate") != ARCHIVE_OK ||
	    archive_write_open_FILE(a, out.fp) != ARCHIVE_OK) {
		rc = a ? archive_fail(a, o->output, err) : ib_oom(err);
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = write_entry(a, &e[i], mtime, o->output, buf, err);
	if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
		rc = archive_fail(a, o->output, err);
out:
	if (a)
		archive_write_free(a);
	if (rc == 0)
		rc = ib_outfile_commit(&out, o->force, err);
	else
		ib_outfile_abort(&out);
out_buf:
	free(buf);
	return rc;
}

/* Everything the package holds, checked, sorted by name. */
static int collect(const struct ext_opts *o, struct entry *e, size_t *n, struct ib_err *err)
{
	struct ib_pubkey keys[MAX_KEYS];
	char *key_names[MAX_KEYS] = {NULL};
	const char *program = ib_path_basename(o->installer);
	size_t plen = strlen(program);
	int windows = plen > 4 && !strcmp(program + plen - 4, ".exe");
	char name[600];
	int rc = 0;

	*n = 0;
	if (!ib_path_is_safe_relative(program) || strchr(program, ' '))
		return ib_fail(err, IB_EUSAGE, "%s: unusable installer file name", o->installer);
	for (size_t i = 0; i < o->n_urls; i++)
		if (!valid_url(o->urls[i]))
			return ib_fail(err, IB_EUSAGE,
			               "--url %s: expected an http:// or https:// URL", o->urls[i]);
	rc = add_file(e, n, program, o->installer, 0755, err);
	for (size_t i = 0; rc == 0 && i < o->n_keys; i++) {
		const char *base = ib_path_basename(o->keys[i]);

		rc = ib_pubkey_load(o->keys[i], &keys[i], err);
		if (rc)
			break;
		for (size_t j = 0; j < i; j++) {
			if (!memcmp(keys[j].keynum, keys[i].keynum, IB_KEYNUM_BYTES))
				rc = ib_fail(err, IB_EUSAGE, "%s: same key as %s", o->keys[i],
				             o->keys[j]);
			else if (!strcmp(ib_path_basename(o->keys[j]), base))
				rc = ib_fail(err, IB_EUSAGE,
				             "%s and %s: two keys with the same file name",
				             o->keys[j], o->keys[i]);
		}
		if (rc)
			break;
		snprintf(name, sizeof name, "keys/%s", base);
		if (strlen(base) > 255 || !ib_path_is_safe_relative(name)) {
			rc = ib_fail(err, IB_EUSAGE, "%s: unusable key file name", o->keys[i]);
			break;
		}
		key_names[i] = strdup(name);
		if (!key_names[i])
			rc = ib_oom(err);
		else
			rc = add_file(e, n, name, o->keys[i], 0644, err);
	}
	if (rc == 0 && o->bundle) {
		const char *base = ib_path_basename(o->bundle);

		snprintf(name, sizeof name, "bundle/%s", base);
		if (strlen(base) > 240 || !ib_path_is_safe_relative(name))
			rc = ib_fail(err, IB_EUSAGE, "%s: unusable bundle file name", o->bundle);
		if (rc == 0)
			rc = verify_bundle(o->bundle, o->bundle_sig, keys, o->n_keys, err);
		if (rc == 0)
			rc = add_file(e, n, name, o->bundle, 0644, err);
		if (rc == 0) {
			snprintf(name, sizeof name, "bundle/%s.minisig", base);
			rc = add_file(e, n, name, o->bundle_sig, 0644, err);
		}
	}
	if (rc == 0)
		rc = add_data(e, n, "ibdrv.json",
		              package_config(key_names, o->n_keys, o->urls, o->n_urls), err);
	if (rc == 0)
		rc = add_data(
		        e, n, "HandlerManifest.json",
		        handler_manifest(o->name   ? o->name
		                         : windows ? "Microsoft.HpcCompute.InfiniBandDriverWindows"
		                                   : "Microsoft.HpcCompute.InfiniBandDriverLinux",
		                         program),
		        err);
	for (size_t i = 1; rc == 0 && i < *n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(e[i].name, e[j].name))
				rc = ib_fail(err, IB_EUSAGE, "%s would be in the package twice",
				             e[i].name);
	if (rc == 0)
		qsort(e, *n, sizeof *e, cmp_entries);
	for (size_t i = 0; i < MAX_KEYS; i++)
		free(key_names[i]);
	return rc;
}

static void free_entries(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].data);
	}
}

int cmd_extension(int argc, char **argv)
{
	struct entry entries[MAX_KEYS + 8];
	struct ext_opts o;
	struct ib_err err;
	time_t mtime;
	size_t n = 0;
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc;
	ib_err_clear(&err);
	memset(entries, 0, sizeof entries);
	if (o.bundle) {
		o.bundle_sig = ib_sig_path_for(o.bundle);
		if (!o.bundle_sig)
			return cli_exit(ib_oom(&err), &err);
	}
	rc = entry_mtime(&mtime, &err);
	if (rc == 0)
		rc = collect(&o, entries, &n, &err);
	if (rc == 0)
		rc = write_zip(&o, entries, n, mtime, &err);
	if (rc == 0)
		printf("%s: %zu entries\n", o.output, n);
	free_entries(entries, n);
	free(o.bundle_sig);
	return cli_exit(rc, &err);
}
