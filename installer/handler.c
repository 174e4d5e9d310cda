#include "handler.h"

#include "json.h"
#include "log.h"
#include "outfile.h"
#include "path.h"
#include "platform.h"
#include "readfile.h"

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

void ib_handler_free_strings(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

int ib_handler_dir(const char *dir, char **out, struct ib_err *err)
{
	char *exe = NULL;
	int rc;

	*out = NULL;
	if (!dir || !dir[0])
		dir = getenv(IB_HANDLER_DIR_ENV);
	if (dir && dir[0]) {
		*out = strdup(dir);
		return *out ? 0 : ib_oom(err);
	}
	rc = plat_exe_path(&exe, err);
	if (rc)
		return rc;
	*out = ib_path_dirname(exe);
	free(exe);
	return *out ? 0 : ib_oom(err);
}

static char *join(const char *dir, const char *name, struct ib_err *err)
{
	char *p = ib_path_join(dir, name);

	if (!p)
		ib_oom(err);
	return p;
}

/* Copies an optional string member; a wrong type is an error, absence leaves *out NULL. */
static int dup_member(const cJSON *obj, const char *key, int optional, const char *source,
                      char **out, struct ib_err *err)
{
	const char *s = NULL;
	int rc = ib_json_string(obj, key, !optional, &s, source, "", err);

	*out = NULL;
	if (rc || !s)
		return rc;
	if (!s[0])
		return optional ? 0 : ib_fail(err, IB_EINPUT, "%s: %s: empty", source, key);
	*out = strdup(s);
	return *out ? 0 : ib_oom(err);
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

int ib_handler_env_load(const char *handler_dir, struct ib_handler_env *env, struct ib_err *err)
{
	char *path = NULL;
	cJSON *root = NULL;
	const cJSON *first, *he;
	int rc;

	memset(env, 0, sizeof *env);
	path = join(handler_dir, "HandlerEnvironment.json", err);
	if (!path)
		return IB_ENOMEM;
	rc = ib_json_load(path, AGENT_FILE_MAX, &root, err);
	if (rc)
		goto out;
	first = cJSON_IsArray(root) ? cJSON_GetArrayItem(root, 0) : root;
	if (!cJSON_IsObject(first)) {
		rc = ib_fail(err, IB_EINPUT, "%s: expected [{\"name\", \"handlerEnvironment\"}]",
		             path);
		goto out;
	}
	he = cJSON_GetObjectItemCaseSensitive(first, "handlerEnvironment");
	if (!cJSON_IsObject(he)) {
		rc = ib_fail(err, IB_EINPUT, "%s: handlerEnvironment: missing or not an object",
		             path);
		goto out;
	}
	if ((rc = dup_member(first, "name", 1, path, &env->name, err)) ||
	    (rc = dup_member(he, "logFolder", 0, path, &env->log_dir, err)) ||
	    (rc = dup_member(he, "configFolder", 0, path, &env->config_dir, err)) ||
	    (rc = dup_member(he, "statusFolder", 0, path, &env->status_dir, err)) ||
	    (rc = dup_member(he, "heartbeatFile", 1, path, &env->heartbeat_file, err)))
		goto out;
	if (!env->name) {
		env->name = strdup(IB_HANDLER_DEFAULT_NAME);
		if (!env->name)
			rc = ib_oom(err);
	}
out:
	cJSON_Delete(root);
	free(path);
	if (rc)
		ib_handler_env_free(env);
	return rc;
}

int ib_handler_manifest_heartbeat(const char *handler_dir, int *report, struct ib_err *err)
{
	char *path = join(handler_dir, "HandlerManifest.json", err);
	cJSON *root = NULL;
	const cJSON *first, *hm, *v;
	int rc;

	*report = 0;
	if (!path)
		return IB_ENOMEM;
	rc = ib_json_load(path, AGENT_FILE_MAX, &root, err);
	if (rc)
		goto out;
	first = cJSON_IsArray(root) ? cJSON_GetArrayItem(root, 0) : root;
	hm = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "handlerManifest")
	                           : NULL;
	if (!cJSON_IsObject(hm)) {
		rc = ib_fail(err, IB_EINPUT, "%s: expected [{\"handlerManifest\": {...}}]", path);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(hm, "reportHeartbeat");
	if (v && !cJSON_IsBool(v)) {
		rc = ib_fail(err, IB_EINPUT, "%s: reportHeartbeat: expected true or false", path);
		goto out;
	}
	*report = cJSON_IsTrue(v);
out:
	cJSON_Delete(root);
	free(path);
	return rc;
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

	*seq = -1;
	if (var) {
		*seq = parse_seq(var, strlen(var));
		if (*seq < 0)
			return ib_fail(err, IB_EINPUT, "%s=\"%s\" is not a sequence number",
			               IB_HANDLER_SEQ_ENV, var);
		return 0;
	}
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
		path = join(env->config_dir, names[i], err);
		if (!path) {
			rc = IB_ENOMEM;
			break;
		}
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
	ib_handler_free_strings(s->urls, s->n_urls);
	free(s->cacert);
	memset(s, 0, sizeof *s);
}

static int is_absolute(const char *p)
{
	return p[0] == '/' || p[0] == '\\' ||
	       (((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':' &&
	        (p[2] == '/' || p[2] == '\\'));
}

static int valid_url(const char *u)
{
	const char *host;

	if (!strncmp(u, "https://", 8))
		host = u + 8;
	else if (!strncmp(u, "http://", 7))
		host = u + 7;
	else
		return 0;
	if (strlen(u) > URL_MAX || host[0] == '\0' || host[0] == '/')
		return 0;
	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return 0;
	return 1;
}

/*
 * A list of min..URLS_MAX strings, each passing ok() (items and what name them in messages),
 * copied to *out, or joined to base when base is not NULL. Fills *out and *n as it goes:
 * on failure the caller frees what is there.
 */
static int string_list(const cJSON *v, const char *source, const char *key, int min,
                       int (*ok)(const char *), const char *items, const char *what,
                       const char *base, char ***out, size_t *n, struct ib_err *err)
{
	int count = cJSON_GetArraySize(v);
	const cJSON *item;

	if (!cJSON_IsArray(v) || count < min || count > URLS_MAX)
		return ib_fail(err, IB_EINPUT, "%s: %s: expected a list of %d to %d %s", source,
		               key, min, URLS_MAX, items);
	*out = calloc((size_t)count + 1, sizeof **out);
	if (!*out)
		return ib_oom(err);
	cJSON_ArrayForEach(item, v)
	{
		char *copy;

		if (!cJSON_IsString(item) || !ok(item->valuestring))
			return ib_fail(err, IB_EINPUT, "%s: %s[%zu]: expected %s", source, key, *n,
			               what);
		copy = base ? ib_path_join(base, item->valuestring) : strdup(item->valuestring);
		if (!copy)
			return ib_oom(err);
		(*out)[(*n)++] = copy;
	}
	return 0;
}

static int path_setting(const cJSON *v, const char *source, const char *key, char **out,
                        struct ib_err *err)
{
	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > PATH_SETTING_MAX ||
	    !is_absolute(v->valuestring))
		return ib_fail(err, IB_EINPUT, "%s: publicSettings.%s: expected an absolute path",
		               source, key);
	for (const char *c = v->valuestring; *c; c++)
		if ((unsigned char)*c < 0x20)
			return ib_fail(err, IB_EINPUT,
			               "%s: publicSettings.%s: control character in path", source,
			               key);
	*out = strdup(v->valuestring);
	return *out ? 0 : ib_oom(err);
}

static int parse_public(const cJSON *pub, const char *source, struct ib_handler_settings *s,
                        struct ib_err *err)
{
	static const char *const known[] = {"bundlePath",     "caCertPath",
	                                    "bundleUrls",     "downloadTimeoutSeconds",
	                                    "allowDowngrade", NULL};
	const cJSON *v;
	int rc = 0;

	/* Unknown names first: a misspelt setting explains many an error that follows. */
	cJSON_ArrayForEach(v, pub)
	{
		size_t i;

		for (i = 0; known[i] && strcmp(v->string, known[i]); i++)
			;
		if (!known[i])
			ib_warn("%s: publicSettings: unknown setting \"%s\" ignored", source,
			        v->string);
	}
	cJSON_ArrayForEach(v, pub)
	{
		const char *k = v->string;

		if (!strcmp(k, "bundlePath")) {
			rc = path_setting(v, source, k, &s->bundle_path, err);
		} else if (!strcmp(k, "caCertPath")) {
			rc = path_setting(v, source, k, &s->cacert, err);
		} else if (!strcmp(k, "bundleUrls")) {
			rc = string_list(v, source, "publicSettings.bundleUrls", 1, valid_url,
			                 "URLs", URL_ITEM, NULL, &s->urls, &s->n_urls, err);
		} else if (!strcmp(k, "downloadTimeoutSeconds")) {
			double t = cJSON_IsNumber(v) ? v->valuedouble : 0;

			if (t < 1 || t > DOWNLOAD_TIMEOUT_MAX || t != (double)(unsigned)t)
				rc = ib_fail(
				        err, IB_EINPUT,
				        "%s: publicSettings.downloadTimeoutSeconds: expected whole "
				        "seconds from 1 to %d",
				        source, DOWNLOAD_TIMEOUT_MAX);
			else
				s->download_timeout_s = (unsigned)t;
		} else if (!strcmp(k, "allowDowngrade")) {
			if (!cJSON_IsBool(v))
				rc = ib_fail(
				        err, IB_EINPUT,
				        "%s: publicSettings.allowDowngrade: expected true or false",
				        source);
			s->allow_downgrade = cJSON_IsTrue(v);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int ib_handler_settings_load(const struct ib_handler_env *env, int64_t seq,
                             struct ib_handler_settings *s, struct ib_err *err)
{
	char name[32], *path = NULL, *text = NULL;
	cJSON *root = NULL;
	const cJSON *rs, *first, *hs, *pub, *prot;
	size_t len, i;
	int rc;

	memset(s, 0, sizeof *s);
	snprintf(name, sizeof name, "%lld.settings", (long long)seq);
	path = join(env->config_dir, name, err);
	if (!path)
		return IB_ENOMEM;
	rc = ib_read_file(path, AGENT_FILE_MAX, &text, &len, err);
	if (rc)
		goto out;
	for (i = 0; i < len && strchr(" \t\r\n", text[i]); i++)
		;
	if (i == len)
		goto out; /* the agent writes an empty file when there are no settings */
	rc = ib_json_parse(text, len, path, &root, err);
	if (rc)
		goto out;
	rs = cJSON_GetObjectItemCaseSensitive(root, "runtimeSettings");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(rs)) {
		rc = ib_fail(err, IB_EINPUT, "%s: expected {\"runtimeSettings\": [...]}", path);
		goto out;
	}
	first = cJSON_GetArrayItem(rs, 0);
	if (!first)
		goto out;
	hs = cJSON_GetObjectItemCaseSensitive(first, "handlerSettings");
	if (!cJSON_IsObject(first) || (hs && !cJSON_IsNull(hs) && !cJSON_IsObject(hs))) {
		rc = ib_fail(err, IB_EINPUT,
		             "%s: runtimeSettings[0].handlerSettings: expected an object", path);
		goto out;
	}
	if (!cJSON_IsObject(hs))
		goto out;
	prot = cJSON_GetObjectItemCaseSensitive(hs, "protectedSettings");
	s->has_protected = prot && !cJSON_IsNull(prot) &&
	                   !(cJSON_IsString(prot) && prot->valuestring[0] == '\0');
	pub = cJSON_GetObjectItemCaseSensitive(hs, "publicSettings");
	if (!pub || cJSON_IsNull(pub))
		goto out;
	if (!cJSON_IsObject(pub)) {
		rc = ib_fail(err, IB_EINPUT, "%s: publicSettings: expected an object", path);
		goto out;
	}
	rc = parse_public(pub, path, s, err);
out:
	cJSON_Delete(root);
	free(text);
	free(path);
	if (rc)
		ib_handler_settings_free(s);
	return rc;
}

int ib_handler_mrseq_read(const char *handler_dir, int64_t *seq, struct ib_err *err)
{
	char *path = join(handler_dir, "mrseq", err), *text = NULL;
	enum plat_kind kind;
	size_t len;
	int rc;

	*seq = -1;
	if (!path)
		return IB_ENOMEM;
	rc = plat_lstat(path, &kind, NULL, err);
	if (rc || kind == PLAT_MISSING)
		goto out;
	rc = ib_read_file(path, 64, &text, &len, err);
	if (rc)
		goto out;
	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		len--;
	*seq = parse_seq(text, len);
	if (*seq < 0)
		rc = ib_fail(err, IB_EINPUT, "%s: not a sequence number", path);
out:
	free(text);
	free(path);
	return rc;
}

int ib_handler_mrseq_write(const char *handler_dir, int64_t seq, struct ib_err *err)
{
	char *path = join(handler_dir, "mrseq", err);
	struct ib_outfile out;
	int rc;

	if (!path)
		return IB_ENOMEM;
	rc = ib_outfile_open(&out, path, 0644, err);
	if (rc == 0) {
		fprintf(out.fp, "%lld", (long long)seq);
		rc = ib_outfile_commit(&out, 1, err);
	}
	free(path);
	return rc;
}

const char *ib_status_name(enum ib_status st)
{
	switch (st) {
	case IB_STATUS_TRANSITIONING:
		return "transitioning";
	case IB_STATUS_SUCCESS:
		return "success";
	case IB_STATUS_ERROR:
		return "error";
	case IB_STATUS_WARNING:
		return "warning";
	default:
		return "none";
	}
}

int ib_status_terminal(enum ib_status st)
{
	return st == IB_STATUS_SUCCESS || st == IB_STATUS_ERROR;
}

static char *status_path(const struct ib_handler_env *env, int64_t seq, struct ib_err *err)
{
	char name[32];

	snprintf(name, sizeof name, "%lld.status", (long long)seq);
	return join(env->status_dir, name, err);
}

/* At most max bytes of s, not cutting a UTF-8 character in two; malloc'd and cleaned. */
static char *clip_message(const char *s, size_t max)
{
	char *clean = ib_json_clean_utf8(s);
	size_t len;

	if (!clean)
		return NULL;
	len = strlen(clean);
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)clean[len] & 0xc0) == 0x80)
			len--;
		clean[len] = '\0';
	}
	return clean;
}

/* Writes text to path atomically (0644). */
static int write_atomic(const char *path, const char *text, struct ib_err *err)
{
	struct ib_outfile out;
	int rc = ib_outfile_open(&out, path, 0644, err);

	if (rc)
		return rc;
	if (fputs(text, out.fp) < 0) {
		ib_outfile_abort(&out);
		return ib_fail(err, IB_EIO, "%s: cannot write", path);
	}
	return ib_outfile_commit(&out, 1, err);
}

/*
 * Writes [{"version": "1.0", "timestampUTC": stamp, key: body}] to path atomically, adding
 * to body "formattedMessage": {"lang": "en-US", "message": message} and, in a status file
 * (stamp not NULL), "substatus": []. body is taken over, whatever happens.
 */
static int write_agent_file(const char *path, const char *stamp, const char *key, cJSON *body,
                            const char *message, size_t max, struct ib_err *err)
{
	cJSON *root = cJSON_CreateArray(), *entry = cJSON_CreateObject(), *fm = NULL;
	char *clean = clip_message(message ? message : "", IB_HANDLER_MESSAGE_MAX), *text = NULL;
	int ok, rc;

	if (!cJSON_AddItemToArray(root, entry)) {
		cJSON_Delete(entry);
		entry = NULL;
	}
	ok = clean && entry && cJSON_AddStringToObject(entry, "version", "1.0") &&
	     (!stamp || cJSON_AddStringToObject(entry, "timestampUTC", stamp)) &&
	     (fm = cJSON_AddObjectToObject(body, "formattedMessage")) &&
	     cJSON_AddStringToObject(fm, "lang", "en-US") &&
	     cJSON_AddStringToObject(fm, "message", clean) &&
	     (!stamp || cJSON_AddArrayToObject(body, "substatus"));
	if (ok && cJSON_AddItemToObject(entry, key, body))
		body = NULL;
	text = ok && !body ? cJSON_PrintUnformatted(root) : NULL;
	if (!text)
		rc = ib_oom(err);
	else if (strlen(text) > max)
		rc = ib_fail(err, IB_EINTERNAL, "%s: status would exceed %zu bytes", path, max);
	else
		rc = write_atomic(path, text, err);
	cJSON_Delete(body);
	cJSON_Delete(root);
	cJSON_free(text);
	free(clean);
	return rc;
}

int ib_handler_status_write(const struct ib_handler_env *env, int64_t seq, const char *operation,
                            enum ib_status st, int code, const char *message, struct ib_err *err)
{
	char stamp[32], *path = status_path(env, seq, err);
	cJSON *status = cJSON_CreateObject();
	int rc;

	plat_utc_timestamp(stamp);
	if (!path || !cJSON_AddStringToObject(status, "name", env->name) ||
	    !cJSON_AddStringToObject(status, "operation", operation) ||
	    !cJSON_AddStringToObject(status, "status", ib_status_name(st)) ||
	    !cJSON_AddNumberToObject(status, "code", code)) {
		cJSON_Delete(status);
		free(path);
		return ib_oom(err);
	}
	rc = write_agent_file(path, stamp, "status", status, message, IB_HANDLER_STATUS_MAX, err);
	if (rc == 0)
		ib_info("status %lld: %s, code %d: %s", (long long)seq, ib_status_name(st), code,
		        message ? message : "");
	free(path);
	return rc;
}

int ib_handler_status_read(const struct ib_handler_env *env, int64_t seq, enum ib_status *st,
                           int *code, struct ib_err *err)
{
	static const enum ib_status all[] = {IB_STATUS_TRANSITIONING, IB_STATUS_SUCCESS,
	                                     IB_STATUS_ERROR, IB_STATUS_WARNING};
	char *path = status_path(env, seq, err);
	cJSON *root = NULL;
	const cJSON *status, *name, *c;
	enum plat_kind kind;
	int rc;

	*st = IB_STATUS_NONE;
	*code = 0;
	if (!path)
		return IB_ENOMEM;
	rc = plat_lstat(path, &kind, NULL, err);
	if (rc || kind == PLAT_MISSING)
		goto out;
	rc = ib_json_load(path, AGENT_FILE_MAX, &root, err);
	if (rc)
		goto out;
	status = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(root, 0), "status");
	name = cJSON_GetObjectItemCaseSensitive(status, "status");
	c = cJSON_GetObjectItemCaseSensitive(status, "code");
	if (!cJSON_IsArray(root) || !cJSON_IsString(name) || (c && !cJSON_IsNumber(c))) {
		rc = ib_fail(err, IB_EINPUT, "%s: expected [{\"status\": {\"status\", \"code\"}}]",
		             path);
		goto out;
	}
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!strcmp(name->valuestring, ib_status_name(all[i])))
			*st = all[i];
	if (*st == IB_STATUS_NONE) {
		rc = ib_fail(err, IB_EINPUT, "%s: status: unknown value \"%s\"", path,
		             name->valuestring);
		goto out;
	}
	*code = c ? (int)c->valuedouble : 0;
out:
	cJSON_Delete(root);
	free(path);
	return rc;
}

int ib_handler_heartbeat_write(const struct ib_handler_env *env, int ready, const char *message,
                               struct ib_err *err)
{
	cJSON *hb;

	if (!env->heartbeat_file)
		return 0;
	hb = cJSON_CreateObject();
	if (!cJSON_AddStringToObject(hb, "status", ready ? "Ready" : "NotReady") ||
	    !cJSON_AddNumberToObject(hb, "code", 0)) {
		cJSON_Delete(hb);
		return ib_oom(err);
	}
	return write_agent_file(env->heartbeat_file, NULL, "heartbeat", hb, message, SIZE_MAX, err);
}

void ib_package_config_free(struct ib_package_config *c)
{
	ib_handler_free_strings(c->keys, c->n_keys);
	ib_handler_free_strings(c->urls, c->n_urls);
	memset(c, 0, sizeof *c);
}

int ib_package_config_load(const char *handler_dir, struct ib_package_config *c, struct ib_err *err)
{
	static const char *const keys[] = {"format", "keys", "urls", NULL};
	char *path = join(handler_dir, IB_HANDLER_PACKAGE_CONFIG, err);
	cJSON *root = NULL;
	const cJSON *k;
	int64_t format;
	int rc;

	memset(c, 0, sizeof *c);
	if (!path)
		return IB_ENOMEM;
	rc = ib_json_load(path, AGENT_FILE_MAX, &root, err);
	if (rc)
		goto out;
	if (!cJSON_IsObject(root)) {
		rc = ib_fail(err, IB_EINPUT, "%s: expected a JSON object", path);
		goto out;
	}
	if ((rc = ib_json_object(root, keys, path, "", err)) ||
	    (rc = ib_json_int(root, "format", 1, 1, 1, &format, path, "", err)))
		goto out;
	rc = string_list(ib_json_member(root, "keys"), path, "keys", 1, ib_path_is_safe_relative,
	                 "key files", "a relative path inside the package", handler_dir, &c->keys,
	                 &c->n_keys, err);
	k = ib_json_member(root, "urls");
	if (rc == 0 && k)
		rc = string_list(k, path, "urls", 0, valid_url, "URLs", URL_ITEM, NULL, &c->urls,
		                 &c->n_urls, err);
out:
	cJSON_Delete(root);
	free(path);
	if (rc)
		ib_package_config_free(c);
	return rc;
}
