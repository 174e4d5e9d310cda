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

void ib_paths_free(struct ib_paths *p)
{
	char **fields[] = {&p->root,      &p->state_dir,    &p->state_file,  &p->journal_file,
	                   &p->run_lock,  &p->handler_lock, &p->worker_lock, &p->staging_dir,
	                   &p->cache_dir, &p->bundles_dir,  &p->log_dir};

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		free(*fields[i]);
		*fields[i] = NULL;
	}
}

int ib_paths_init(struct ib_paths *p, const char *root, struct ib_err *err)
{
	static const struct {
		size_t offset;
		const char *name;
	} in_state[] = {
	        {offsetof(struct ib_paths, state_file), "state.json"},
	        {offsetof(struct ib_paths, journal_file), "inprogress.json"},
	        {offsetof(struct ib_paths, run_lock), "run.lock"},
	        {offsetof(struct ib_paths, handler_lock), "handler.lock"},
	        {offsetof(struct ib_paths, worker_lock), "worker.lock"},
	        {offsetof(struct ib_paths, staging_dir), "staging"},
	        {offsetof(struct ib_paths, cache_dir), "cache"},
	        {offsetof(struct ib_paths, bundles_dir), "bundles"},
	};
	char *sys_state = NULL, *sys_log = NULL;
	size_t len;
	int rc = 0;

	memset(p, 0, sizeof *p);
	if (!root)
		root = getenv(IB_ROOT_ENV);
	if (!root)
		root = "";
	p->root = strdup(root);
	sys_state = plat_system_dir(PLAT_SYSDIR_STATE);
	sys_log = plat_system_dir(PLAT_SYSDIR_LOG);
	if (!p->root || !sys_state || !sys_log)
		goto oom;
	len = strlen(p->root);
	while (len > 1 && p->root[len - 1] == '/')
		p->root[--len] = '\0';
	if (!strcmp(p->root, "/"))
		p->root[0] = '\0';
	p->state_dir = prefix_root(p->root, sys_state);
	p->log_dir = prefix_root(p->root, sys_log);
	if (!p->state_dir || !p->log_dir)
		goto oom;
	for (size_t i = 0; i < sizeof in_state / sizeof in_state[0]; i++) {
		char **field = (char **)((char *)p + in_state[i].offset);

		*field = ib_path_join(p->state_dir, in_state[i].name);
		if (!*field)
			goto oom;
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

	if (strlen(s) != sizeof pattern - 1)
		return 0;
	for (size_t i = 0; pattern[i]; i++)
		if (pattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pattern[i])
			return 0;
	return 1;
}

/* The driver fields shared by the state and the journal. */
static int check_driver(const char *source, const char *driver, const char *kind,
                        const char *version, const char *bundle, int optional, struct ib_err *err)
{
	if (!driver[0] && optional) {
		if (kind[0] || version[0])
			return ib_fail(err, IB_EINPUT,
			               "%s: kind and version must be empty without a driver",
			               source);
	} else {
		if (!valid_id(driver))
			return ib_fail(err, IB_EINPUT, "%s: driver: \"%s\" is not a driver id",
			               source, driver);
		if (!valid_id(kind))
			return ib_fail(err, IB_EINPUT, "%s: kind: \"%s\" is not a driver kind",
			               source, kind);
		if (!valid_word(version))
			return ib_fail(err, IB_EINPUT, "%s: version: \"%s\" is not a version",
			               source, version);
	}
	if (bundle[0] ? !valid_word(bundle) : !optional)
		return ib_fail(err, IB_EINPUT, "%s: bundle: \"%s\" is not a bundle name", source,
		               bundle);
	return 0;
}

static int check_state(const char *source, const struct ib_state *st, struct ib_err *err)
{
	int rc = check_driver(source, st->driver, st->kind, st->version, st->bundle, 1, err);

	if (rc)
		return rc;
	if (st->driver[0] ? !valid_time(st->installed_at) : st->installed_at[0] != '\0')
		return ib_fail(
		        err, IB_EINPUT,
		        "%s: installed_at: \"%s\" is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)%s",
		        source, st->installed_at, st->driver[0] ? "" : " or empty");
	if (st->bundle_sequence > (uint64_t)JSON_SAFE_MAX)
		return ib_fail(err, IB_EINPUT, "%s: bundle_sequence: too large", source);
	if (!ib_state_code_valid(st->last_code))
		return ib_fail(
		        err, IB_EINPUT,
		        "%s: last_code: %d is not an extension code (0, 3010, 100, 240, 840, -1)",
		        source, st->last_code);
	if (!valid_time(st->last_run_at))
		return ib_fail(err, IB_EINPUT,
		               "%s: last_run_at: \"%s\" is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)",
		               source, st->last_run_at);
	return 0;
}

static int load_object(const char *path, cJSON **root, int *found, struct ib_err *err)
{
	enum plat_kind kind;
	int rc;

	*root = NULL;
	*found = 0;
	rc = plat_lstat(path, &kind, NULL, err);
	if (rc || kind == PLAT_MISSING)
		return rc;
	rc = ib_json_load(path, STATE_FILE_MAX, root, err);
	if (rc)
		return rc;
	if (!cJSON_IsObject(*root)) {
		cJSON_Delete(*root);
		*root = NULL;
		return ib_fail(err, IB_EINPUT, "%s: expected a JSON object", path);
	}
	*found = 1;
	return 0;
}

static int get_format(const cJSON *root, const char *path, struct ib_err *err)
{
	int64_t format;
	int rc = ib_json_int(root, "format", 1, 0, 1000000, &format, path, "", err);

	if (rc == 0 && format != IB_STATE_FORMAT)
		rc = ib_fail(err, IB_EINPUT, "%s: format: %lld is not supported (expected %d)",
		             path, (long long)format, IB_STATE_FORMAT);
	return rc;
}

/* Both files in the order they are written; "format" is read and written by hand. */
static const struct ib_json_field state_rows[] = {
        IB_JSON_OWN_ROW("format"),
        IB_JSON_TEXT_ROW(struct ib_state, driver),
        IB_JSON_TEXT_ROW(struct ib_state, kind),
        IB_JSON_TEXT_ROW(struct ib_state, version),
        IB_JSON_TEXT_ROW(struct ib_state, bundle),
        IB_JSON_INT_ROW(struct ib_state, bundle_sequence, 0, JSON_SAFE_MAX),
        IB_JSON_TEXT_ROW(struct ib_state, installed_at),
        IB_JSON_INT_ROW(struct ib_state, last_code, -1, 3010),
        IB_JSON_TEXT_ROW(struct ib_state, last_run_at),
};

static const struct ib_json_field journal_rows[] = {
        IB_JSON_OWN_ROW("format"),
        IB_JSON_TEXT_ROW(struct ib_journal, driver),
        IB_JSON_TEXT_ROW(struct ib_journal, kind),
        IB_JSON_TEXT_ROW(struct ib_journal, version),
        IB_JSON_TEXT_ROW(struct ib_journal, bundle),
        IB_JSON_INT_ROW(struct ib_journal, bundle_sequence, 0, JSON_SAFE_MAX),
        IB_JSON_TEXT_ROW(struct ib_journal, started_at),
        IB_JSON_INT_ROW(struct ib_journal, pid, 1, 0x7fffffff),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Reads a state or journal file into out (size bytes, zeroed on failure or when missing). */
static int load_rows(const char *path, const struct ib_json_field *rows, size_t n, void *out,
                     size_t size, int *found, struct ib_err *err)
{
	cJSON *root = NULL;
	int rc;

	memset(out, 0, size);
	rc = load_object(path, &root, found, err);
	if (rc || !*found)
		return rc;
	rc = get_format(root, path, err);
	if (rc == 0)
		rc = ib_json_bind_read(root, rows, n, out, path, "", err);
	cJSON_Delete(root);
	if (rc) {
		memset(out, 0, size);
		*found = 0;
	}
	return rc;
}

int ib_state_load(const char *path, struct ib_state *st, int *found, struct ib_err *err)
{
	int rc = load_rows(path, state_rows, COUNT(state_rows), st, sizeof *st, found, err);

	if (rc == 0 && *found && (rc = check_state(path, st, err))) {
		memset(st, 0, sizeof *st);
		*found = 0;
	}
	return rc;
}

/* Writes root as pretty JSON to path atomically. Takes ownership of root. */
static int save_object(const char *path, cJSON *root, struct ib_err *err)
{
	struct ib_outfile out;
	char *text = NULL;
	int rc;

	if (!root)
		return ib_oom(err);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return ib_oom(err);
	rc = ib_outfile_open(&out, path, 0644, err);
	if (rc == 0) {
		if (fputs(text, out.fp) < 0 || fputc('\n', out.fp) == EOF) {
			ib_outfile_abort(&out);
			rc = ib_fail(err, IB_EIO, "%s: cannot write", path);
		} else {
			rc = ib_outfile_commit(&out, 1, err);
		}
	}
	cJSON_free(text);
	return rc;
}

/* Writes the rows of in, "format" first. */
static int save_rows(const char *path, const struct ib_json_field *rows, size_t n, const void *in,
                     struct ib_err *err)
{
	cJSON *root = cJSON_CreateObject();

	if (!root || !cJSON_AddNumberToObject(root, "format", IB_STATE_FORMAT) ||
	    ib_json_bind_write(root, rows, n, in)) {
		cJSON_Delete(root);
		return ib_oom(err);
	}
	return save_object(path, root, err);
}

int ib_state_save(const char *path, const struct ib_state *st, struct ib_err *err)
{
	int rc = check_state(path, st, err);

	return rc ? rc : save_rows(path, state_rows, COUNT(state_rows), st, err);
}

static int check_journal(const char *source, const struct ib_journal *j, struct ib_err *err)
{
	int rc = check_driver(source, j->driver, j->kind, j->version, j->bundle, 0, err);

	if (rc)
		return rc;
	if (j->bundle_sequence > (uint64_t)JSON_SAFE_MAX)
		return ib_fail(err, IB_EINPUT, "%s: bundle_sequence: too large", source);
	if (!valid_time(j->started_at))
		return ib_fail(err, IB_EINPUT,
		               "%s: started_at: \"%s\" is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)",
		               source, j->started_at);
	if (j->pid <= 0 || j->pid > (int64_t)0x7fffffff)
		return ib_fail(err, IB_EINPUT, "%s: pid: %lld is not a process id", source,
		               (long long)j->pid);
	return 0;
}

int ib_journal_begin(const char *path, const struct ib_journal *j, struct ib_err *err)
{
	int rc = check_journal(path, j, err);

	return rc ? rc : save_rows(path, journal_rows, COUNT(journal_rows), j, err);
}

int ib_journal_load(const char *path, struct ib_journal *j, int *found, struct ib_err *err)
{
	int rc = load_rows(path, journal_rows, COUNT(journal_rows), j, sizeof *j, found, err);

	if (rc == 0 && *found && (rc = check_journal(path, j, err))) {
		memset(j, 0, sizeof *j);
		*found = 0;
	}
	return rc;
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
		ib_warn("%s; treating it as an interrupted install of an unknown driver", err->msg);
		memset(interrupted, 0, sizeof *interrupted);
		*found = 1;
		return 0;
	}
	if (rc == 0 && *found)
		ib_warn("the install of %s %s started at %s (pid %lld) did not finish; it will be "
		        "done again from the start",
		        interrupted->driver, interrupted->version, interrupted->started_at,
		        (long long)interrupted->pid);
	return rc;
}
