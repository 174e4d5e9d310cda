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
#define URLS_MAX 16
#define PATH_SETTING_MAX 4096
#define DOWNLOAD_TIMEOUT_MAX 86400

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

/* Reads a document with the schema reader, c naming the file; out is what is filled. */
typedef int (*reader)(struct ib_json_ctx *c, const cJSON *root, void *out);

/*
 * Reads dir/name as JSON and hands it to fn. A missing file (with MISSING_OK) or one of only
 * whitespace (with EMPTY_OK) is 0 without calling fn. The agent's files (agent) may hold keys
 * of their own, and null for what is absent.
 */
static int read_json(const char *dir, const char *name, int flags, int agent, reader fn, void *out,
                     struct ib_err *err)
{
	struct ib_json_ctx c = {.err = err, .agent = agent};
	char *path, *text = NULL;
	cJSON *root = NULL;
	size_t len;
	int rc = file_at(dir, name, flags & MISSING_OK, &path, err);

	c.source = path;
	if (rc == 0)
		rc = ib_read_file(path, AGENT_FILE_MAX, &text, &len, err);
	if (rc == 0)
		rc = strspn(text, " \t\r\n") == len && (flags & EMPTY_OK);
	if (rc == 0 && (rc = ib_json_parse(text, len, path, &root, err)) == 0)
		rc = fn(&c, root, out);
	cJSON_Delete(root);
	free(text);
	free(path);
	return rc > 0 ? 0 : rc;
}

/* The first entry of the agent's [{...}] files (older agents write the object alone). */
static const cJSON *first_entry(struct ib_json_ctx *c, const cJSON *root)
{
	if ((root->type & 0xff) != cJSON_Array || !root->child)
		return root;
	ib_json_push(c, NULL, 0);
	return root->child;
}

void ib_handler_env_free(struct ib_handler_env *env)
{
	/* It holds only strings: walked as an array of them. */
	char **fields = (char **)env;

	for (size_t i = 0; i < sizeof *env / sizeof *fields; i++)
		free(fields[i]);
	memset(env, 0, sizeof *env);
}

#define ENV_AT(m) IB_FIELD(struct ib_handler_env, m)

/* The folders, in the entry's handlerEnvironment; the heartbeat file is optional. */
static const struct ib_json_row folder_rows[] = {
        {"logFolder", 1, PATH_SETTING_MAX, IB_K_REQ, IB_T_STR, 0, ENV_AT(log_dir), 0, NULL, NULL},
        {"configFolder", 1, PATH_SETTING_MAX, IB_K_REQ, IB_T_STR, 0, ENV_AT(config_dir), 0, NULL,
         NULL},
        {"statusFolder", 1, PATH_SETTING_MAX, IB_K_REQ, IB_T_STR, 0, ENV_AT(status_dir), 0, NULL,
         NULL},
        {"heartbeatFile", 0, PATH_SETTING_MAX, IB_K_OPT, IB_T_STR, 0, ENV_AT(heartbeat_file), 0,
         NULL, NULL},
};
/* A T_OBJ row that stores nothing reads its object into the same struct. */
static const struct ib_json_row env_rows[] = {
        {"name", 0, 256, IB_K_OPT, IB_T_STR, 0, ENV_AT(name), 0, NULL, NULL},
        {"handlerEnvironment", 0, IB_JSON_COUNT(folder_rows), IB_K_REQ, IB_T_OBJ, 0, IB_NOSTORE, 0,
         folder_rows, NULL},
};

static int env_from(struct ib_json_ctx *c, const cJSON *root, void *out)
{
	struct ib_handler_env *env = out;
	int rc = ib_json_read(c, first_entry(c, root), env_rows, IB_JSON_COUNT(env_rows), env);

	/* "" is no heartbeat file, and the default name. */
	if (rc == 0 && env->heartbeat_file && !env->heartbeat_file[0]) {
		free(env->heartbeat_file);
		env->heartbeat_file = NULL;
	}
	if (rc == 0 && (!env->name || !env->name[0])) {
		free(env->name);
		env->name = strdup(IB_HANDLER_DEFAULT_NAME);
		rc = env->name ? 0 : ib_oom(c->err);
	}
	return rc;
}

int ib_handler_env_load(const char *handler_dir, struct ib_handler_env *env, struct ib_err *err)
{
	int rc;

	memset(env, 0, sizeof *env);
	rc = read_json(handler_dir, "HandlerEnvironment.json", 0, 1, env_from, env, err);
	if (rc)
		ib_handler_env_free(env);
	return rc;
}

static int manifest_from(struct ib_json_ctx *c, const cJSON *root, void *out)
{
	static const struct ib_json_row hb_rows[] = {
	        {"reportHeartbeat", 0, 0, IB_K_OPT, IB_T_BOOL, 0, sizeof(int), 0, 0, NULL, NULL},
	};
	static const struct ib_json_row rows[] = {
	        {"handlerManifest", 0, IB_JSON_COUNT(hb_rows), IB_K_REQ, IB_T_OBJ, 0, IB_NOSTORE, 0,
	         hb_rows, NULL},
	};

	return ib_json_read(c, first_entry(c, root), rows, IB_JSON_COUNT(rows), out);
}

int ib_handler_manifest_heartbeat(const char *handler_dir, int *report, struct ib_err *err)
{
	*report = 0;
	return read_json(handler_dir, "HandlerManifest.json", 0, 1, manifest_from, report, err);
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

/* An http:// or https:// URL with a host, without spaces or control characters. */
static int check_url(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const char *u = v ? v->valuestring : NULL, *host;

	(void)obj, (void)i;
	if (!u)
		return 0;
	host = u + 4 + (u[4] == 's');
	if (strncmp(u, "http", 4) || strncmp(host, "://", 3) || !host[3] || host[3] == '/' ||
	    strchr(u, ' '))
		return ib_json_expected(c, v, "an http:// or https:// URL");
	return 0;
}

/* A key file: a relative path inside the package, resolved against its folder (c->source's). */
static int check_key(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_package_config *p = obj;
	char *dir, *path;

	if (!v)
		return 0;
	if (!ib_path_is_safe_relative(p->keys[i]))
		return ib_json_expected(c, v, "a relative path inside the package");
	dir = ib_path_dirname(c->source);
	path = dir ? ib_path_join(dir, p->keys[i]) : NULL;
	free(dir);
	if (!path)
		return ib_oom(c->err);
	free(p->keys[i]);
	p->keys[i] = path;
	return 0;
}

/* An absolute path (POSIX, or Windows with or without a drive). */
static int check_abs_path(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	const char *p = v ? v->valuestring : NULL;

	(void)obj, (void)i;
	if (p && !(p[0] == '/' || p[0] == '\\' ||
	           ((unsigned)((p[0] | 0x20) - 'a') < 26 && p[1] == ':' &&
	            (p[2] == '/' || p[2] == '\\'))))
		return ib_json_expected(c, v, "an absolute path");
	return 0;
}

/* Protected settings are only noted as given: never read, never shown. */
static int check_protected(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)c, (void)i;
	((struct ib_handler_settings *)obj)->has_protected =
	        v && !((v->type & 0xff) == cJSON_String && !v->valuestring[0]);
	return 0;
}

static const struct ib_json_row public_rows[5];

/*
 * publicSettings: unknown names are warned about first (a misspelt setting explains many an
 * error that follows), not refused: the agent may pass settings of other versions.
 */
static int check_public(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)i;
	if (!v)
		return 0;
	for (const cJSON *m = (v->type & 0xff) == cJSON_Object ? v->child : NULL; m; m = m->next) {
		size_t k = 0;

		while (k < IB_JSON_COUNT(public_rows) && strcmp(m->string, public_rows[k].key))
			k++;
		if (k == IB_JSON_COUNT(public_rows))
			ib_warn("%s: publicSettings: unknown setting \"%s\" ignored", c->source,
			        m->string);
	}
	return ib_json_read(c, v, public_rows, IB_JSON_COUNT(public_rows), obj);
}

#define SET_AT(m) IB_FIELD(struct ib_handler_settings, m)

static const struct ib_json_row public_rows[5] = {
        {"bundlePath", 1, PATH_SETTING_MAX, IB_K_OPT, IB_T_STR, 0, SET_AT(bundle_path), 0, NULL,
         check_abs_path},
        {"caCertPath", 1, PATH_SETTING_MAX, IB_K_OPT, IB_T_STR, 0, SET_AT(cacert), 0, NULL,
         check_abs_path},
        {"bundleUrls", 1, URL_MAX, IB_K_OPT, IB_T_STR, 1,
         IB_ARRAY(struct ib_handler_settings, urls, n_urls, char *), URLS_MAX, NULL, check_url},
        {"downloadTimeoutSeconds", 1, DOWNLOAD_TIMEOUT_MAX, IB_K_OPT, IB_T_INT, 0,
         SET_AT(download_timeout_s), 0, NULL, NULL},
        {"allowDowngrade", 0, 0, IB_K_OPT, IB_T_BOOL, 0, SET_AT(allow_downgrade), 0, NULL, NULL},
};
/* The T_OBJ row that stores nothing reads its object into the same struct, as check_public does. */
static const struct ib_json_row handler_rows[] = {
        {"protectedSettings", 0, 0, IB_K_OPT, IB_T_RAW, 0, IB_NOSTORE, 0, NULL, check_protected},
        {"publicSettings", 0, 0, IB_K_OPT, IB_T_RAW, 0, IB_NOSTORE, 0, NULL, check_public},
};
static const struct ib_json_row entry_rows[] = {
        {"handlerSettings", 0, IB_JSON_COUNT(handler_rows), IB_K_OPT, IB_T_OBJ, 0, IB_NOSTORE, 0,
         handler_rows, NULL},
};

/* The first entry of runtimeSettings (none: no settings). */
static int check_runtime(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)i;
	if ((v->type & 0xff) != cJSON_Array)
		return ib_json_expected(c, v, "an array");
	return v->child ? ib_json_read(c, first_entry(c, v), entry_rows, IB_JSON_COUNT(entry_rows),
	                               obj)
	                : 0;
}

static int settings_from(struct ib_json_ctx *c, const cJSON *root, void *out)
{
	static const struct ib_json_row rows[] = {
	        {"runtimeSettings", 0, 0, IB_K_REQ, IB_T_RAW, 0, IB_NOSTORE, 0, NULL,
	         check_runtime},
	};

	return ib_json_read(c, root, rows, IB_JSON_COUNT(rows), out);
}

int ib_handler_settings_load(const struct ib_handler_env *env, int64_t seq,
                             struct ib_handler_settings *s, struct ib_err *err)
{
	char name[32];
	int rc;

	memset(s, 0, sizeof *s);
	snprintf(name, sizeof name, "%lld.settings", (long long)seq);
	/* The agent writes an empty file when there are no settings. */
	rc = read_json(env->config_dir, name, EMPTY_OK, 1, settings_from, s, err);
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

/* out: the status (its position in status_names after "none") and the code. */
static int status_from(struct ib_json_ctx *c, const cJSON *root, void *out)
{
	static const struct ib_json_row fields[] = {
	        {"status", 0, 4, IB_K_REQ, IB_T_INDEX, 0, sizeof(int), 0, 0, status_names + 1,
	         NULL},
	        {"code", INT32_MIN, INT32_MAX, IB_K_OPT, IB_T_INT, 0, sizeof(int), sizeof(int), 0,
	         NULL, NULL},
	};
	static const struct ib_json_row rows[] = {
	        {"status", 0, IB_JSON_COUNT(fields), IB_K_REQ, IB_T_OBJ, 0, IB_NOSTORE, 0, fields,
	         NULL},
	};

	if ((root->type & 0xff) != cJSON_Array)
		return ib_json_expected(c, root, "an array");
	return ib_json_read(c, first_entry(c, root), rows, IB_JSON_COUNT(rows), out);
}

int ib_handler_status_read(const struct ib_handler_env *env, int64_t seq, enum ib_status *st,
                           int *code, struct ib_err *err)
{
	char name[32];
	int r[2] = {IB_STATUS_NONE - 1, 0}; /* r[0] + 1 is the status: none when missing */
	int rc;

	status_name(name, seq);
	rc = read_json(env->status_dir, name, MISSING_OK, 1, status_from, r, err);
	*st = rc ? IB_STATUS_NONE : (enum ib_status)(r[0] + 1);
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

static int package_from(struct ib_json_ctx *c, const cJSON *root, void *out)
{
	/* format is the only one there is */
	static const struct ib_json_row rows[] = {
	        {"format", 1, 1, IB_K_REQ, IB_T_INT, 0, IB_NOSTORE, 0, NULL, NULL},
	        {"keys", 1, PATH_SETTING_MAX, IB_K_REQ, IB_T_STR, 1,
	         IB_ARRAY(struct ib_package_config, keys, n_keys, char *), URLS_MAX, NULL,
	         check_key},
	        {"urls", 1, URL_MAX, IB_K_OPT, IB_T_STR, 0,
	         IB_ARRAY(struct ib_package_config, urls, n_urls, char *), URLS_MAX, NULL,
	         check_url},
	};

	return ib_json_read(c, root, rows, IB_JSON_COUNT(rows), out);
}

int ib_package_config_load(const char *handler_dir, int missing_ok, struct ib_package_config *c,
                           struct ib_err *err)
{
	int rc;

	memset(c, 0, sizeof *c);
	rc = read_json(handler_dir, IB_HANDLER_PACKAGE_CONFIG, missing_ok ? MISSING_OK : 0, 0,
	               package_from, c, err);
	if (rc)
		ib_package_config_free(c);
	return rc;
}
