#include "handler.h"

#include "json.h"
#include "log.h"
#include "outfile.h"
#include "path.h"
#include "platform.h"
#include "readfile.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_FILE_MAX (1024 * 1024)
#define URL_MAX 2048
#define URL_ITEM "an http:// or https:// URL of at most 2048 characters" /* URL_MAX */
#define URLS_MAX 16
#define PATH_SETTING_MAX 4096
#define DOWNLOAD_TIMEOUT_MAX 86400
#define NOT_OBJECT "%s: %s: expected an object" /* as json.c says it */

int ib_handler_dir(const char *dir, char **out, struct ib_err *err)
{
	char *exe = NULL;
	int rc;

	*out = NULL;
	if (!dir || !dir[0])
		dir = getenv(IB_HANDLER_DIR_ENV);
	if (dir && dir[0]) {
		*out = strdup(dir);
	} else {
		rc = plat_exe_path(&exe, err);
		if (rc)
			return rc;
		*out = ib_path_dirname(exe);
		free(exe);
	}
	return *out ? 0 : ib_oom(err);
}

/*
 * *path = dir/name (the caller frees it, whatever happens). With missing_ok, a missing file
 * is 1; else 0 or an error.
 */
static int file_at(const char *dir, const char *name, int missing_ok, char **path,
                   struct ib_err *err)
{
	enum plat_kind kind = PLAT_REGULAR;
	int rc = 0;

	*path = ib_path_join(dir, name);
	if (!*path)
		return ib_oom(err);
	if (missing_ok)
		rc = plat_lstat(*path, &kind, NULL, err);
	return rc ? rc : kind == PLAT_MISSING;
}

enum { MISSING_OK = 1, EMPTY_OK = 2 };

/*
 * Reads dir/name as JSON and hands it to fn, with path naming the file in messages. A missing
 * file (with MISSING_OK) or one of only whitespace (with EMPTY_OK) is 0 without calling fn.
 */
static int read_json(const char *dir, const char *name, int flags,
                     int (*fn)(const cJSON *root, const char *path, void *out, struct ib_err *err),
                     void *out, struct ib_err *err)
{
	char *path, *text = NULL;
	cJSON *root = NULL;
	size_t len;
	int rc = file_at(dir, name, flags & MISSING_OK, &path, err);

	if (rc == 0)
		rc = ib_read_file(path, AGENT_FILE_MAX, &text, &len, err);
	if (rc == 0)
		rc = strspn(text, " \t\r\n") == len && (flags & EMPTY_OK);
	if (rc == 0 && (rc = ib_json_parse(text, len, path, &root, err)) == 0)
		rc = fn(root, path, out, err);
	cJSON_Delete(root);
	free(text);
	free(path);
	return rc > 0 ? 0 : rc;
}

/* The object obj.key; NULL when absent or null and optional. */
static int section(const cJSON *obj, const char *key, int optional, const char *source,
                   const cJSON **out, struct ib_err *err)
{
	const cJSON *v = ib_json_member(obj, key);

	*out = cJSON_IsObject(v) ? v : NULL;
	if (*out || (optional && (!v || v->type == cJSON_NULL)))
		return 0;
	return ib_fail(err, IB_EINPUT, NOT_OBJECT, source, key);
}

/* The first entry of the agent's [{...}] files (older agents write the object alone). */
static const cJSON *first_entry(const cJSON *root)
{
	return cJSON_IsArray(root) ? root->child : root;
}

void ib_handler_env_free(struct ib_handler_env *env)
{
	free(env->name);
	free(env->log_dir);
	free(env->config_dir);
	free(env->status_dir);
	free(env->heartbeat_file);
	memset(env, 0, sizeof *env);
}

static int env_from(const cJSON *root, const char *path, void *out, struct ib_err *err)
{
	/*
	 * The fields in the order of the keys: name is in the entry, the folders in its
	 * handlerEnvironment; the first and the last are optional, and may be "".
	 */
	static const unsigned char fields[] = {offsetof(struct ib_handler_env, name),
	                                       offsetof(struct ib_handler_env, log_dir),
	                                       offsetof(struct ib_handler_env, config_dir),
	                                       offsetof(struct ib_handler_env, status_dir),
	                                       offsetof(struct ib_handler_env, heartbeat_file)};
	const char *key = "name\0logFolder\0configFolder\0statusFolder\0heartbeatFile";
	struct ib_handler_env *env = out;
	const cJSON *first = first_entry(root), *he;
	int rc = section(first, "handlerEnvironment", 0, path, &he, err);

	for (size_t i = 0; rc == 0 && i < sizeof fields; i++, key += strlen(key) + 1) {
		char **field = (char **)((char *)env + fields[i]);
		int optional = i % 4 == 0;
		const char *s = NULL;

		rc = ib_json_string(i ? he : first, key, !optional, &s, path, "", err);
		if (optional && (!s || !s[0])) /* absent: no heartbeat file, the default name */
			s = i ? NULL : IB_HANDLER_DEFAULT_NAME;
		if (rc || !s)
			continue;
		if (!s[0])
			rc = ib_fail(err, IB_EINPUT, "%s: %s: empty", path, key);
		else if (!(*field = strdup(s)))
			rc = ib_oom(err);
	}
	return rc;
}

int ib_handler_env_load(const char *handler_dir, struct ib_handler_env *env, struct ib_err *err)
{
	int rc;

	memset(env, 0, sizeof *env);
	rc = read_json(handler_dir, "HandlerEnvironment.json", 0, env_from, env, err);
	if (rc)
		ib_handler_env_free(env);
	return rc;
}

static int manifest_from(const cJSON *root, const char *path, void *out, struct ib_err *err)
{
	const cJSON *hm;
	int rc = section(first_entry(root), "handlerManifest", 0, path, &hm, err);

	return rc ? rc : ib_json_bool(hm, "reportHeartbeat", 0, out, path, "handlerManifest", err);
}

int ib_handler_manifest_heartbeat(const char *handler_dir, int *report, struct ib_err *err)
{
	*report = 0;
	return read_json(handler_dir, "HandlerManifest.json", 0, manifest_from, report, err);
}

/* Parses a non-negative decimal sequence number; -1 when s is not one. */
static int64_t parse_seq(const char *s, size_t len)
{
	int64_t v = 0;

	if (len == 0 || len > 9)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int ib_handler_seq(const struct ib_handler_env *env, int64_t *seq, struct ib_err *err)
{
	const char *var = getenv(IB_HANDLER_SEQ_ENV);
	char **names = NULL;
	size_t count = 0;
	int64_t best_time = 0;
	int rc;

	if (var) {
		*seq = parse_seq(var, strlen(var));
		if (*seq < 0)
			return ib_fail(err, IB_EINPUT, "%s=\"%s\" is not a sequence number",
			               IB_HANDLER_SEQ_ENV, var);
		return 0;
	}
	*seq = -1;
	rc = plat_list_dir(env->config_dir, &names, &count, err);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		size_t len = strlen(names[i]);
		int64_t n, t;
		char *path;

		if (len <= 9 || strcmp(names[i] + len - 9, ".settings"))
			continue;
		n = parse_seq(names[i], len - 9);
		if (n < 0)
			continue;
		rc = file_at(env->config_dir, names[i], 0, &path, err);
		if (rc == 0)
			rc = plat_mtime_ns(path, &t, err);
		free(path);
		if (rc == 0 && (*seq < 0 || t > best_time || (t == best_time && n > *seq))) {
			*seq = n;
			best_time = t;
		}
	}
	plat_free_names(names, count);
	if (rc == 0 && *seq < 0)
		rc = ib_fail(err, IB_EINPUT, "%s: no <n>.settings file and %s is not set",
		             env->config_dir, IB_HANDLER_SEQ_ENV);
	return rc;
}

void ib_handler_settings_free(struct ib_handler_settings *s)
{
	free(s->bundle_path);
	plat_free_names(s->urls, s->n_urls);
	free(s->cacert);
	memset(s, 0, sizeof *s);
}

static int valid_url(const char *u)
{
	const char *host, *c = u;

	if (strncmp(u, "http", 4))
		return 0;
	host = u + 4 + (u[4] == 's');
	if (strncmp(host, "://", 3))
		return 0;
	host += 3;
	for (; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return 0;
	return c - u <= URL_MAX && host[0] != '\0' && host[0] != '/';
}

/*
 * A list of min..URLS_MAX strings: key files (relative paths inside the package), joined to
 * base, when base is not NULL, else URLs. Fills *out and *n as it goes: on failure the caller
 * frees what is there.
 */
static int string_list(const cJSON *v, const char *source, const char *key, int min,
                       const char *base, char ***out, size_t *n, struct ib_err *err)
{
	const cJSON *item;
	int count = 0;

	cJSON_ArrayForEach(item, v) count++;
	if (!cJSON_IsArray(v) || count < min || count > URLS_MAX)
		return ib_fail(err, IB_EINPUT, "%s: %s: expected a list of %d to %d %s", source,
		               key, min, URLS_MAX, base ? "key files" : "URLs");
	*out = calloc((size_t)count + 1, sizeof **out);
	if (!*out)
		return ib_oom(err);
	cJSON_ArrayForEach(item, v)
	{
		const char *s = cJSON_IsString(item) ? item->valuestring : NULL;
		char *copy;

		if (!s || !(base ? ib_path_is_safe_relative(s) : valid_url(s)))
			return ib_fail(err, IB_EINPUT, "%s: %s[%zu]: expected %s", source, key, *n,
			               base ? "a relative path inside the package" : URL_ITEM);
		copy = base ? ib_path_join(base, s) : strdup(s);
		if (!copy)
			return ib_oom(err);
		(*out)[(*n)++] = copy;
	}
	return 0;
}

/* An absolute path of at most PATH_SETTING_MAX bytes without control characters. */
static int path_setting(const cJSON *pub, const char *key, const char *source, char **out,
                        struct ib_err *err)
{
	const cJSON *v = ib_json_member(pub, key);
	const char *p = cJSON_IsString(v) ? v->valuestring : "";
	size_t i = 0;

	if (!v)
		return 0;
	while ((unsigned char)p[i] >= 0x20)
		i++;
	/* p[i] is the end or a control character. */
	if (p[i] || !i || i > PATH_SETTING_MAX ||
	    !(p[0] == '/' || p[0] == '\\' ||
	      ((unsigned)((p[0] | 0x20) - 'a') < 26 && p[1] == ':' &&
	       (p[2] == '/' || p[2] == '\\'))))
		return ib_fail(err, IB_EINPUT,
		               "%s: publicSettings.%s: expected an absolute path without control "
		               "characters",
		               source, key);
	*out = strdup(p);
	return *out ? 0 : ib_oom(err);
}

static int parse_public(const cJSON *pub, const char *source, struct ib_handler_settings *s,
                        struct ib_err *err)
{
	const char *k[5],
	        *p = "bundlePath\0caCertPath\0bundleUrls\0downloadTimeoutSeconds\0allowDowngrade";
	const cJSON *v;
	int64_t timeout = 0;
	int rc;

	/* The known settings, k[0] to k[4], from one string (no table of pointers). */
	for (size_t i = 0; i < 5; i++, p += strlen(p) + 1)
		k[i] = p;
	/* Unknown names first: a misspelt setting explains many an error that follows. */
	cJSON_ArrayForEach(v, pub)
	{
		size_t i = 0;

		while (i < 5 && strcmp(v->string, k[i]))
			i++;
		if (i == 5)
			ib_warn("%s: publicSettings: unknown setting \"%s\" ignored", source,
			        v->string);
	}
	v = ib_json_member(pub, k[2]);
	if ((rc = path_setting(pub, k[0], source, &s->bundle_path, err)) ||
	    (rc = path_setting(pub, k[1], source, &s->cacert, err)) ||
	    (v && (rc = string_list(v, source, "publicSettings.bundleUrls", 1, NULL, &s->urls,
	                            &s->n_urls, err))) ||
	    (rc = ib_json_int(pub, k[3], 0, 1, DOWNLOAD_TIMEOUT_MAX, &timeout, source,
	                      "publicSettings", err)))
		return rc;
	s->download_timeout_s = (unsigned)timeout;
	return ib_json_bool(pub, k[4], 0, &s->allow_downgrade, source, "publicSettings", err);
}

static int settings_from(const cJSON *root, const char *path, void *out, struct ib_err *err)
{
	struct ib_handler_settings *s = out;
	const cJSON *rs, *first, *hs, *pub, *prot;
	int rc = ib_json_array(root, "runtimeSettings", 1, &rs, path, "", err);

	if (rc || !(first = rs->child))
		return rc;
	if (!cJSON_IsObject(first))
		return ib_fail(err, IB_EINPUT, NOT_OBJECT, path, "runtimeSettings[0]");
	rc = section(first, "handlerSettings", 1, path, &hs, err);
	if (rc || !hs)
		return rc;
	prot = ib_json_member(hs, "protectedSettings");
	s->has_protected = prot && prot->type != cJSON_NULL &&
	                   !(cJSON_IsString(prot) && prot->valuestring[0] == '\0');
	rc = section(hs, "publicSettings", 1, path, &pub, err);
	return rc || !pub ? rc : parse_public(pub, path, s, err);
}

int ib_handler_settings_load(const struct ib_handler_env *env, int64_t seq,
                             struct ib_handler_settings *s, struct ib_err *err)
{
	char name[32];
	int rc;

	memset(s, 0, sizeof *s);
	snprintf(name, sizeof name, "%lld.settings", (long long)seq);
	/* The agent writes an empty file when there are no settings. */
	rc = read_json(env->config_dir, name, EMPTY_OK, settings_from, s, err);
	if (rc)
		ib_handler_settings_free(s);
	return rc;
}

int ib_handler_mrseq_read(const char *handler_dir, int64_t *seq, struct ib_err *err)
{
	char *path, *text = NULL;
	size_t len;
	int rc = file_at(handler_dir, "mrseq", 1, &path, err);

	*seq = -1;
	if (rc || (rc = ib_read_file(path, 64, &text, &len, err)))
		goto out;
	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		len--;
	*seq = parse_seq(text, len);
	if (*seq < 0)
		rc = ib_fail(err, IB_EINPUT, "%s: not a sequence number", path);
out:
	free(text);
	free(path);
	return rc > 0 ? 0 : rc;
}

/*
 * Renames the file written into place (0644), unless writing failed (n < 0, what fprintf
 * returns) or gave more than IB_HANDLER_STATUS_MAX bytes, which the agent would ignore.
 */
static int write_end(struct ib_outfile *out, int n, struct ib_err *err)
{
	if (n >= 0 && n <= IB_HANDLER_STATUS_MAX)
		return ib_outfile_commit(out, 1, err);
	ib_outfile_abort(out);
	return n < 0 ? ib_fail(err, IB_EIO, "%s: cannot write", out->path)
	             : ib_fail(err, IB_EINTERNAL, "%s: status would exceed %d bytes", out->path,
	                       IB_HANDLER_STATUS_MAX);
}

int ib_handler_mrseq_write(const char *handler_dir, int64_t seq, struct ib_err *err)
{
	char *path;
	int rc = file_at(handler_dir, "mrseq", 0, &path, err);

	if (rc == 0)
		rc = ib_outfile_printf(path, err, "%lld", (long long)seq);
	free(path);
	return rc;
}

static const char *const status_names[] = {"none", "transitioning", "success", "error", "warning"};

const char *ib_status_name(enum ib_status st)
{
	return status_names[(unsigned)st <= IB_STATUS_WARNING ? st : 0];
}

int ib_status_terminal(enum ib_status st)
{
	return st == IB_STATUS_SUCCESS || st == IB_STATUS_ERROR;
}

/* s as a JSON string, quoted and escaped (NULL when out of memory); cJSON_free it. */
static char *quoted(const char *s)
{
	cJSON *v = cJSON_CreateString(s);
	char *q = v ? cJSON_Print(v) : NULL;

	cJSON_Delete(v);
	return q;
}

static void status_name(char name[32], int64_t seq)
{
	snprintf(name, 32, "%lld.status", (long long)seq);
}

/*
 * Writes a status file (operation not NULL) or the heartbeat to path atomically. The message
 * is cut to IB_HANDLER_MESSAGE_MAX bytes at a character boundary and cleaned to UTF-8; the
 * strings that are not ours go through cJSON, so the text is always valid JSON.
 */
static int write_agent_file(const char *path, const struct ib_handler_env *env,
                            const char *operation, const char *status, int code,
                            const char *message, struct ib_err *err)
{
	char stamp[32], *clean = ib_json_clean_utf8(message ? message : "");
	char *msg = NULL, *name = quoted(env->name);
	struct ib_outfile out;
	size_t len;
	int rc, n;

	plat_utc_timestamp(stamp);
	if (clean) {
		len = strlen(clean);
		if (len > IB_HANDLER_MESSAGE_MAX) {
			len = IB_HANDLER_MESSAGE_MAX;
			while (len > 0 && ((unsigned char)clean[len] & 0xc0) == 0x80)
				len--;
			clean[len] = '\0';
		}
		msg = quoted(clean);
	}
	rc = msg && name ? ib_outfile_open(&out, path, 0644, err) : ib_oom(err);
	if (rc)
		goto out;
	n = operation ? fprintf(out.fp,
	                        "[{\"version\":\"1.0\",\"timestampUTC\":\"%s\",\"status\":{"
	                        "\"name\":%s,\"operation\":\"%s\",",
	                        stamp, name, operation)
	              : fprintf(out.fp, "[{\"version\":\"1.0\",\"heartbeat\":{");
	if (n >= 0) {
		int tail = fprintf(out.fp,
		                   "\"status\":\"%s\",\"code\":%d,\"formattedMessage\":{\"lang\":"
		                   "\"en-US\",\"message\":%s}%s}}]",
		                   status, code, msg, operation ? ",\"substatus\":[]" : "");
		n = tail < 0 ? tail : n + tail;
	}
	rc = write_end(&out, n, err);
out:
	cJSON_free(name);
	cJSON_free(msg);
	free(clean);
	return rc;
}

int ib_handler_status_write(const struct ib_handler_env *env, int64_t seq, const char *operation,
                            enum ib_status st, int code, const char *message, struct ib_err *err)
{
	char name[32], *path;
	int rc;

	status_name(name, seq);
	rc = file_at(env->status_dir, name, 0, &path, err);

	if (rc >= 0)
		rc = write_agent_file(path, env, operation, ib_status_name(st), code, message, err);
	if (rc == 0)
		ib_info("status %lld: %s, code %d: %s", (long long)seq, ib_status_name(st), code,
		        message ? message : "");
	free(path);
	return rc;
}

/* out: the status and the code. */
static int status_from(const cJSON *root, const char *path, void *out, struct ib_err *err)
{
	int *r = out;
	const cJSON *status = ib_json_member(cJSON_IsArray(root) ? root->child : NULL, "status");
	const char *name = "";
	int64_t code = 0;
	int rc = ib_json_string(status, "status", 1, &name, path, "[0].status", err);

	for (int i = IB_STATUS_TRANSITIONING; i <= IB_STATUS_WARNING; i++)
		if (!strcmp(name, status_names[i]))
			r[0] = i;
	if (rc == 0 && r[0] == IB_STATUS_NONE)
		rc = ib_fail(err, IB_EINPUT, "%s: %s: unexpected value '%s'", path, "status", name);
	if (rc == 0)
		rc = ib_json_int(status, "code", 0, INT32_MIN, INT32_MAX, &code, path, "[0].status",
		                 err);
	r[1] = (int)code;
	return rc;
}

int ib_handler_status_read(const struct ib_handler_env *env, int64_t seq, enum ib_status *st,
                           int *code, struct ib_err *err)
{
	char name[32];
	int r[2] = {IB_STATUS_NONE, 0};
	int rc;

	status_name(name, seq);
	rc = read_json(env->status_dir, name, MISSING_OK, status_from, r, err);
	*st = rc ? IB_STATUS_NONE : (enum ib_status)r[0];
	*code = r[1];
	return rc;
}

int ib_handler_heartbeat_write(const struct ib_handler_env *env, int ready, const char *message,
                               struct ib_err *err)
{
	if (!env->heartbeat_file)
		return 0;
	return write_agent_file(env->heartbeat_file, env, NULL, ready ? "Ready" : "NotReady", 0,
	                        message, err);
}

void ib_package_config_free(struct ib_package_config *c)
{
	plat_free_names(c->keys, c->n_keys);
	plat_free_names(c->urls, c->n_urls);
	memset(c, 0, sizeof *c);
}

struct package {
	const char *dir;
	struct ib_package_config *c;
};

static int package_from(const cJSON *root, const char *path, void *out, struct ib_err *err)
{
	/* format is the only one there is; the lists are read below. */
	static const struct ib_json_row rows[] = {
	        {"format", 1, {IB_K_REQ}, IB_T_INT, 0, IB_NOSTORE, 0, 1, NULL, NULL},
	        {"keys", 0, {IB_K_OPT}, IB_T_RAW, 0, IB_NOSTORE, 0, 0, NULL, NULL},
	        {"urls", 0, {IB_K_OPT}, IB_T_RAW, 0, IB_NOSTORE, 0, 0, NULL, NULL},
	};
	struct package *p = out;
	struct ib_package_config *c = p->c;
	struct ib_json_ctx ctx = {.source = path, .err = err};
	const cJSON *urls = ib_json_member(root, "urls");
	int rc = ib_json_read(&ctx, root, rows, 3, NULL);

	if (rc == 0)
		rc = string_list(ib_json_member(root, "keys"), path, "keys", 1, p->dir, &c->keys,
		                 &c->n_keys, err);
	if (rc == 0 && urls)
		rc = string_list(urls, path, "urls", 0, NULL, &c->urls, &c->n_urls, err);
	return rc;
}

int ib_package_config_load(const char *handler_dir, int missing_ok, struct ib_package_config *c,
                           struct ib_err *err)
{
	struct package p = {handler_dir, c};
	int rc;

	memset(c, 0, sizeof *c);
	rc = read_json(handler_dir, IB_HANDLER_PACKAGE_CONFIG, missing_ok ? MISSING_OK : 0,
	               package_from, &p, err);
	if (rc)
		ib_package_config_free(c);
	return rc;
}
