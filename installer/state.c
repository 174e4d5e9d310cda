#include "state.h"

#include "json.h"
#include "log.h"
#include "outfile.h"
#include "path.h"
#include "platform.h"
#include "readfile.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_FILE_MAX 65536
#define JSON_SAFE_MAX 9007199254740991LL /* 2^53 - 1 */

/* Joins root and an absolute system path; a Windows drive ("C:") is dropped under a root. */
static char *prefix_root(const char *root, const char *path)
{
	if (root[0] == '\0')
		return strdup(path);
	if (((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
	    path[1] == ':')
		path += 2;
	while (path[0] == '/')
		path++;
	return ib_path_join(root, path);
}

char *ib_paths_system(const struct ib_paths *p, const char *path)
{
	return prefix_root(p->root, path);
}

/* struct ib_paths holds only strings: it is walked as an array of them. */
#define PATHS_N (sizeof(struct ib_paths) / sizeof(char *))

void ib_paths_free(struct ib_paths *p)
{
	char **fields = (char **)p;

	for (size_t i = 0; i < PATHS_N; i++) {
		free(fields[i]);
		fields[i] = NULL;
	}
}

int ib_paths_init(struct ib_paths *p, const char *root, struct ib_err *err)
{
	/* The files and folders in the state folder, in the order of struct ib_paths. */
	static const char in_state[] = "state.json\0inprogress.json\0run.lock\0handler.lock\0"
	                               "worker.lock\0staging\0cache\0bundles";
	const char *name = in_state;
	char *sys_state = NULL, *sys_log = NULL;
	size_t len;
	int rc = 0;

	memset(p, 0, sizeof *p);
	if (!root)
		root = getenv(IB_ROOT_ENV);
	p->root = strdup(root ? root : "");
	sys_state = plat_system_dir(PLAT_SYSDIR_STATE);
	sys_log = plat_system_dir(PLAT_SYSDIR_LOG);
	if (!p->root || !sys_state || !sys_log)
		goto oom;
	len = strlen(p->root);
	while (len > 0 && p->root[len - 1] == '/') /* "/" is no root at all */
		p->root[--len] = '\0';
	p->state_dir = prefix_root(p->root, sys_state);
	p->log_dir = prefix_root(p->root, sys_log);
	if (!p->state_dir || !p->log_dir)
		goto oom;
	for (char **field = &p->state_file; field <= &p->bundles_dir; field++) {
		*field = ib_path_join(p->state_dir, name);
		if (!*field)
			goto oom;
		name += strlen(name) + 1;
	}
	goto out;
oom:
	ib_paths_free(p);
	rc = ib_oom(err);
out:
	free(sys_state);
	free(sys_log);
	return rc;
}

int ib_paths_ensure_state_dir(const struct ib_paths *p, struct ib_err *err)
{
	return plat_mkdir_p(p->state_dir, 0755, err);
}

int ib_state_code_valid(int code)
{
	return code == 0 || code == 3010 || code == 100 || code == 240 || code == 840 || code == -1;
}

/* [a-z0-9][a-z0-9._-]*, the form of driver ids and kinds. */
static int valid_id(const char *s)
{
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '_' || *c == '-'))
			return 0;
	return 1;
}

/* Printable ASCII without spaces: versions and bundle names. */
static int valid_word(const char *s)
{
	if (!s[0])
		return 0;
	for (const char *c = s; *c; c++)
		if (*c <= ' ' || *c > '~')
			return 0;
	return 1;
}

/* "YYYY-MM-DDTHH:MM:SSZ" as plat_utc_timestamp writes it. */
static int valid_time(const char *s)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";

	/* A shorter s fails at its NUL, before anything past it is read. */
	for (size_t i = 0; pattern[i]; i++)
		if (pattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pattern[i])
			return 0;
	return s[sizeof pattern - 1] == '\0';
}

static int bad_text(struct ib_err *err, const char *source, const char *key, const char *value,
                    const char *what)
{
	return ib_fail(err, IB_EINPUT, "%s: %s: \"%s\" is not %s", source, key, value, what);
}

static int bad_number(struct ib_err *err, const char *source, const char *key, long long value,
                      const char *what)
{
	return ib_fail(err, IB_EINPUT, "%s: %s: %lld is not %s", source, key, value, what);
}

#define UTC_TIME "a UTC time YYYY-MM-DDTHH:MM:SSZ"

/*
 * The fields shared by the state and the journal (the same members at the same offsets, see
 * state.h), then the time the struct records: the journal's started_at, or the
 * state's installed_at ("" without a driver, where optional).
 */
static int check_common(const char *source, const struct ib_journal *j, int optional,
                        const char *time_key, struct ib_err *err)
{
	if (!j->driver[0] && optional) {
		if (j->kind[0] || j->version[0] || j->started_at[0])
			return ib_fail(err, IB_EINPUT,
			               "%s: kind, version and %s must be empty without a driver",
			               source, time_key);
	} else {
		if (!valid_id(j->driver))
			return bad_text(err, source, "driver", j->driver, "a driver id");
		if (!valid_id(j->kind))
			return bad_text(err, source, "kind", j->kind, "a driver kind");
		if (!valid_word(j->version))
			return bad_text(err, source, "version", j->version, "a version");
		if (!valid_time(j->started_at))
			return bad_text(err, source, time_key, j->started_at, UTC_TIME);
	}
	if (j->bundle[0] ? !valid_word(j->bundle) : !optional)
		return bad_text(err, source, "bundle", j->bundle, "a bundle name");
	if (j->bundle_sequence > (uint64_t)JSON_SAFE_MAX)
		return ib_fail(err, IB_EINPUT, "%s: bundle_sequence: too large", source);
	return 0;
}

/* Checks a state (state != 0) or a journal as it is loaded or before it is saved. */
static int check(const char *source, const void *in, int state, struct ib_err *err)
{
	const struct ib_state *st = in;
	const struct ib_journal *j = in;
	int rc = check_common(source, j, state, state ? "installed_at" : "started_at", err);

	if (rc || !state) {
		if (rc == 0 && (j->pid <= 0 || j->pid > (int64_t)0x7fffffff))
			rc = bad_number(err, source, "pid", j->pid, "a process id");
		return rc;
	}
	if (!ib_state_code_valid(st->last_code))
		return bad_number(err, source, "last_code", st->last_code,
		                  "an extension code (0, 3010, 100, 240, 840, -1)");
	if (!valid_time(st->last_run_at))
		return bad_text(err, source, "last_run_at", st->last_run_at, UTC_TIME);
	return 0;
}

/* A member of both files: a string of the char array, or an integer from lo to hi. */
#define TEXT(type, m)                                                                              \
	{                                                                                          \
#m, 0, 0, IB_K_REQ, IB_T_BUF, 0, IB_FIELD(type, m), 0, NULL, NULL                  \
	}
#define INT(type, m, lo, hi)                                                                       \
	{                                                                                          \
#m, lo, hi, IB_K_REQ, IB_T_INT, 0, IB_FIELD(type, m), 0, NULL, NULL                \
	}

/*
 * The rows of both files, in the order they are written: the journal's are the first
 * JOURNAL_ROWS, the state's all but the first two (the members they share are at the same
 * offsets, see state.h). "format", stored nowhere, is written as its only value.
 */
static const struct ib_json_row rows[] = {
        TEXT(struct ib_journal, started_at),
        INT(struct ib_journal, pid, 1, 0x7fffffff),
        {"format", IB_STATE_FORMAT, IB_STATE_FORMAT, IB_K_REQ, IB_T_INT, 0, IB_NOSTORE, 0, NULL,
         NULL},
        TEXT(struct ib_state, driver),
        TEXT(struct ib_state, kind),
        TEXT(struct ib_state, version),
        TEXT(struct ib_state, bundle),
        {"bundle_sequence", 0, 0, IB_K_REQ, IB_T_BIG, 0, IB_FIELD(struct ib_state, bundle_sequence),
         0, NULL, NULL},
        TEXT(struct ib_state, installed_at),
        INT(struct ib_state, last_code, -1, 3010),
        TEXT(struct ib_state, last_run_at),
};

#define JOURNAL_ROWS 8
/* The rows of a state (state != 0) or journal, and their count. */
#define ROWS(state)                                                                                \
	rows + ((state) ? 2 : 0), (state) ? sizeof rows / sizeof rows[0] - 2 : JOURNAL_ROWS

/* Reads a state (state != 0) or journal file into out (zeroed on failure or when missing). */
static int load(const char *path, void *out, int state, int *found, struct ib_err *err)
{
	struct ib_json_ctx c = {.source = path, .err = err};
	enum plat_kind kind;
	cJSON *root = NULL;
	int rc = plat_lstat(path, &kind, NULL, err);

	memset(out, 0, state ? sizeof(struct ib_state) : sizeof(struct ib_journal));
	*found = rc == 0 && kind != PLAT_MISSING;
	if (!*found)
		return rc;
	rc = ib_json_load(path, STATE_FILE_MAX, &root, err);
	if (rc == 0)
		rc = ib_json_read(&c, root, ROWS(state), out);
	if (rc == 0)
		rc = check(path, out, state, err);
	cJSON_Delete(root);
	if (rc) {
		memset(out, 0, state ? sizeof(struct ib_state) : sizeof(struct ib_journal));
		*found = 0;
	}
	return rc;
}

/* Checks a state (state != 0) or journal and writes it atomically, "format" first. */
static int save(const char *path, const void *in, int state, struct ib_err *err)
{
	cJSON *root;
	char *text;
	int rc = check(path, in, state, err);

	if (rc)
		return rc;
	root = cJSON_CreateObject();
	if (!root || ib_json_write(root, ROWS(state), in)) {
		cJSON_Delete(root);
		return ib_oom(err);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return ib_oom(err);
	rc = ib_outfile_printf(path, err, "%s\n", text);
	free(text);
	return rc;
}

int ib_state_load(const char *path, struct ib_state *st, int *found, struct ib_err *err)
{
	return load(path, st, 1, found, err);
}

int ib_state_save(const char *path, const struct ib_state *st, struct ib_err *err)
{
	return save(path, st, 1, err);
}

int ib_journal_begin(const char *path, const struct ib_journal *j, struct ib_err *err)
{
	return save(path, j, 0, err);
}

int ib_journal_load(const char *path, struct ib_journal *j, int *found, struct ib_err *err)
{
	return load(path, j, 0, found, err);
}

int ib_journal_end(const char *path, struct ib_err *err)
{
	return plat_remove(path, err);
}

int ib_state_recover(const struct ib_paths *p, struct ib_journal *interrupted, int *found,
                     struct ib_err *err)
{
	char **names = NULL;
	size_t count = 0;
	enum plat_kind kind;
	int rc;

	*found = 0;
	rc = plat_lstat(p->staging_dir, &kind, NULL, err);
	if (rc == 0 && kind != PLAT_MISSING) {
		ib_info("removing %s left by an earlier run", p->staging_dir);
		rc = plat_remove_tree(p->staging_dir, err);
	}
	if (rc)
		return rc;
	rc = plat_lstat(p->state_dir, &kind, NULL, err);
	if (rc || kind == PLAT_MISSING)
		return rc;
	rc = plat_list_dir(p->state_dir, &names, &count, err);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		char *tmp;

		/* ib_outfile's temporary names: "<name>.tmp-<random>". */
		if (!strstr(names[i], ".tmp-"))
			continue;
		tmp = ib_path_join(p->state_dir, names[i]);
		if (!tmp) {
			rc = ib_oom(err);
			break;
		}
		rc = plat_remove(tmp, err);
		free(tmp);
	}
	plat_free_names(names, count);
	if (rc)
		return rc;
	rc = ib_journal_load(p->journal_file, interrupted, found, err);
	if (rc == IB_EINPUT) {
		/* Only a hint for the redo: damaged, it still says that some install was cut short.
		 */
		ib_warn("%s; an install was cut short: installing again", err->msg);
		memset(interrupted, 0, sizeof *interrupted);
		*found = 1;
		return 0;
	}
	if (rc == 0 && *found)
		ib_warn("install of %s %s (started %s, pid %lld) was cut short: installing again",
		        interrupted->driver, interrupted->version, interrupted->started_at,
		        (long long)interrupted->pid);
	return rc;
}
