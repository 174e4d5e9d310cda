/*
 * state.h - where ibdrv keeps things on the machine, and what it remembers.
 *
 * Every system path goes through struct ib_paths, so that --root (or the
 * environment variable IBDRV_ROOT) moves all of them under a test folder.
 *
 * The installed state (state.json) says which driver ibdrv installed last,
 * from which bundle, and the extension code of the last run. It is written
 * atomically and read strictly: a damaged file is an error naming the file
 * and key, never silently treated as "nothing installed".
 *
 * The journal (inprogress.json) exists exactly while an install command may
 * be changing the system. A run that finds it was preceded by a run that was
 * killed; see docs/design.md, "State and crash safety", for the protocol.
 */
#ifndef IBDRV_STATE_H
#define IBDRV_STATE_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define IB_STATE_FORMAT 1
#define IB_ROOT_ENV "IBDRV_ROOT"

/* All strings malloc'd and owned by the struct; free with ib_paths_free. */
struct ib_paths {
	char *root;         /* "" or the prefix, without a trailing '/' */
	char *state_dir;    /* <root>/var/lib/ibdrv (Windows: %ProgramData%/ibdrv) */
	char *state_file;   /* <state_dir>/state.json: what is installed */
	char *journal_file; /* <state_dir>/inprogress.json: an install under way */
	char *run_lock;     /* <state_dir>/run.lock: one engine run (apply, worker) at a time */
	char *handler_lock; /* <state_dir>/handler.lock: the handler's bookkeeping */
	char *worker_lock;  /* <state_dir>/worker.lock: held by the running handler worker */
	char *staging_dir;  /* <state_dir>/staging: unpacked drivers, scratch */
	char *cache_dir;    /* <state_dir>/cache: downloaded bundles */
	char *bundles_dir;  /* <state_dir>/bundles: bundles an operator placed */
	char *log_dir;      /* <root>/var/log/ibdrv (Windows: %ProgramData%/ibdrv/logs) */
};

/* root NULL: IBDRV_ROOT when set, else none. */
int ib_paths_init(struct ib_paths *p, const char *root, struct ib_err *err);
void ib_paths_free(struct ib_paths *p);

/* Any other absolute system path with the root in front (malloc'd; NULL: out of memory). */
char *ib_paths_system(const struct ib_paths *p, const char *path);

/* Creates the state folder (0755) when missing. */
int ib_paths_ensure_state_dir(const struct ib_paths *p, struct ib_err *err);

/* Extension codes a state may record. */
int ib_state_code_valid(int code);

struct ib_state {
	char driver[128]; /* driver id, "" when ibdrv has not installed one */
	char kind[32];
	char version[64];
	char bundle[128];         /* name of the bundle it came from */
	uint64_t bundle_sequence; /* highest bundle sequence accepted: refuse lower ones */
	char installed_at[32];    /* "YYYY-MM-DDTHH:MM:SSZ", "" with no driver */
	int last_code;            /* extension code of the last run: 0, 3010, 100, 240, 840, -1 */
	char last_run_at[32];
};

/* A missing file gives *found = 0 and a zeroed state; a damaged one is IB_EINPUT. */
int ib_state_load(const char *path, struct ib_state *st, int *found, struct ib_err *err);

/* Checks the fields (as load would) and writes the file atomically. */
int ib_state_save(const char *path, const struct ib_state *st, struct ib_err *err);

struct ib_journal {
	char driver[128]; /* being installed */
	char kind[32];
	char version[64];
	char bundle[128];
	uint64_t bundle_sequence;
	char started_at[32];
	int64_t pid; /* of the run that wrote it */
};

/*
 * A journal begins with the members of the state its install leads to, driver to
 * bundle_sequence, at the same offsets: state.c reads and writes both files with one table.
 */
#define IB_STATE_SAME(a, b)                                                                        \
	_Static_assert(offsetof(struct ib_state, a) == offsetof(struct ib_journal, b) &&           \
	                       sizeof((struct ib_state *)0)->a ==                                  \
	                               sizeof((struct ib_journal *)0)->b,                          \
	               #a " differs")
IB_STATE_SAME(driver, driver);
IB_STATE_SAME(kind, kind);
IB_STATE_SAME(version, version);
IB_STATE_SAME(bundle, bundle);
IB_STATE_SAME(bundle_sequence, bundle_sequence);
IB_STATE_SAME(installed_at, started_at);

/* Written (atomically) right before an install command runs. */
int ib_journal_begin(const char *path, const struct ib_journal *j, struct ib_err *err);

/* Reads the journal; missing gives *found = 0. */
int ib_journal_load(const char *path, struct ib_journal *j, int *found, struct ib_err *err);

/* Removed once the outcome of the install is recorded in the state. Missing is fine. */
int ib_journal_end(const char *path, struct ib_err *err);

/*
 * The first step of every run, under the run lock: removes what a killed run
 * may have left (the staging folder, temporary files beside the state) and
 * reports an interrupted install in *interrupted (*found = 1) and in the log,
 * as one the caller installs again, leaving the journal in place for the redo to end. A damaged
 * journal still counts as an interrupted install, of an unknown driver (interrupted->driver "").
 */
int ib_state_recover(const struct ib_paths *p, struct ib_journal *interrupted, int *found,
                     struct ib_err *err);

#endif
