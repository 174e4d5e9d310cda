#include "state.h"

#include "json.h"
#include "log.h"
#include "outfile.h"
#include "path.h"
#include "platform.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_FILE_MAX 65536

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

static const struct ib_json_valid id = {valid_id, "a driver id"},
                                  kind = {valid_id, "a driver kind"},
                                  version = {valid_word, "a version"},
                                  bundle = {valid_word, "a bundle name"},
                                  utc = {valid_time, "a UTC time YYYY-MM-DDTHH:MM:SSZ"};

/*
 * The files are read with c->form 1 for a state, 0 for a journal. A state without a driver
 * ("" driver) has "" kind, version and installed_at, and may have a bundle or not.
 */
static int without_driver(const struct ib_json_ctx *c, const void *obj)
{
	return c->form && !((const struct ib_state *)obj)->driver[0];
}

/* The driver and the bundle: "" in a state without a driver, else what the row's sub says. */
static int check_optional(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	return without_driver(c, obj) && !v->valuestring[0] ? 0 : ib_json_check_valid(c, obj, v, i);
}

/* What describes the driver: "" without one, else what the row's sub says. */
static int check_described(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	if (!without_driver(c, obj))
		return ib_json_check_valid(c, obj, v, i);
	return v->valuestring[0] ? ib_json_fail(c, "must be empty without a driver") : 0;
}

static int check_code(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	(void)i;
	if (!ib_state_code_valid(((const struct ib_state *)obj)->last_code))
		return ib_json_expected(c, v, "an extension code (0, 3010, 100, 240, 840, -1)");
	return 0;
}

/* A string member of both files, with its check (against sub), or an integer from lo to hi. */
#define TEXT(type, m, sub, check)                                                                  \
	{                                                                                          \
#m, 0, 0, IB_K_REQ, IB_T_BUF, 0, IB_FIELD(type, m), 0, sub, check                  \
	}
#define INT(type, m, lo, hi, check)                                                                \
	{                                                                                          \
#m, lo, hi, IB_K_REQ, IB_T_INT, 0, IB_FIELD(type, m), 0, NULL, check               \
	}

/*
 * The rows of both files, in the order they are written: the journal's are the first
 * JOURNAL_ROWS, the state's all but the first two (the members they share are at the same
 * offsets, see state.h). "format", stored nowhere, is written as its only value. Saving reads
 * the written document back with them, so that a file is only written as it would be read.
 */
static const struct ib_json_row rows[] = {
        TEXT(struct ib_journal, started_at, &utc, ib_json_check_valid),
        INT(struct ib_journal, pid, 1, 0x7fffffff, NULL),
        {"format", IB_STATE_FORMAT, IB_STATE_FORMAT, IB_K_REQ, IB_T_INT, 0, IB_NOSTORE, 0, NULL,
         NULL},
        TEXT(struct ib_state, driver, &id, check_optional),
        TEXT(struct ib_state, kind, &kind, check_described),
        TEXT(struct ib_state, version, &version, check_described),
        TEXT(struct ib_state, bundle, &bundle, check_optional),
        {"bundle_sequence", 0, 0, IB_K_REQ, IB_T_BIG, 0, IB_FIELD(struct ib_state, bundle_sequence),
         0, NULL, NULL},
        TEXT(struct ib_state, installed_at, &utc, check_described),
        INT(struct ib_state, last_code, -1, 3010, check_code),
        TEXT(struct ib_state, last_run_at, &utc, ib_json_check_valid),
};

#define JOURNAL_ROWS 8
/* The rows of a state (state != 0) or journal, and their count. */
#define ROWS(state)                                                                                \
	rows + ((state) ? 2 : 0), (state) ? sizeof rows / sizeof rows[0] - 2 : JOURNAL_ROWS

/* A state (state != 0) or journal read from root into out. */
static int read_rows(cJSON *root, const char *path, void *out, int state, struct ib_err *err)
{
	struct ib_json_ctx c = {.source = path, .err = err, .form = state};

	return ib_json_read(&c, root, ROWS(state), out);
}

/* Reads a state (state != 0) or journal file into out (zeroed on failure or when missing). */
static int load(const char *path, void *out, int state, int *found, struct ib_err *err)
{
	enum plat_kind kind;
	cJSON *root = NULL;
	int rc = plat_lstat(path, &kind, NULL, err);

	memset(out, 0, state ? sizeof(struct ib_state) : sizeof(struct ib_journal));
	*found = rc == 0 && kind != PLAT_MISSING;
	if (!*found)
		return rc;
	rc = ib_json_load(path, STATE_FILE_MAX, &root, err);
	if (rc == 0)
		rc = read_rows(root, path, out, state, err);
	cJSON_Delete(root);
	if (rc) {
		memset(out, 0, state ? sizeof(struct ib_state) : sizeof(struct ib_journal));
		*found = 0;
	}
	return rc;
}

/* Writes a state (state != 0) or journal atomically, once it reads back as written. */
static int save(const char *path, const void *in, int state, struct ib_err *err)
{
	union {
		struct ib_state st;
		struct ib_journal j;
	} back;
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	int rc = !root || ib_json_write(root, ROWS(state), in) ? ib_oom(err) : 0;

	if (rc == 0)
		rc = read_rows(root, path, &back, state, err);
	if (rc == 0 && !(text = cJSON_Print(root)))
		rc = ib_oom(err);
	cJSON_Delete(root);
	if (rc == 0)
		rc = ib_outfile_printf(path, err, "%s\n", text);
	cJSON_free(text);
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
