/*
 * proc.h - running other programs, and the handler's detached worker.
 *
 * ib_proc_run starts an argument vector (no shell) in a process group of its
 * own (POSIX: a new session; Windows: a job object), with no input, and logs
 * every line of its merged stdout and stderr as it comes, keeping only the
 * last IB_PROC_TAIL_LINES for error messages: memory does not grow with the
 * output. At the timeout the whole group is asked to stop, then killed after
 * a grace period, grandchildren included. When the program exits on its own,
 * whatever it left running in its group is stopped too (asked, then killed
 * once it lets go of the output or the grace period ends), so nothing it
 * started outlives it (daemons that start their own session escape, as they
 * are meant to). Descriptors of the caller are not inherited.
 *
 * ib_proc_spawn_detached starts a program that outlives the caller and is
 * not killed with the caller's process group (the guest agent kills the
 * group of a handler command that runs too long).
 */
#ifndef IBDRV_PROC_H
#define IBDRV_PROC_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define IB_PROC_TAIL_LINES 20
#define IB_PROC_LINE_MAX 400 /* longer output lines are split */
#define IB_PROC_GRACE_MS_DEFAULT 5000

struct ib_proc_opts {
	/* argv[0] is a path (a relative one is taken from cwd) or a name looked up in PATH. */
	const char *const *argv;
	const char *cwd;        /* NULL: the caller's current folder */
	const char *const *env; /* NULL-terminated "NAME=value" added to, or replacing, the
	                           inherited environment; NULL for none */
	unsigned timeout_s;     /* 0: wait for ever */
	unsigned grace_ms;      /* from the polite stop to the kill; 0: IB_PROC_GRACE_MS_DEFAULT */
	const char *log_tag;    /* lines are logged as "<tag>: <line>"; NULL: argv[0]'s basename */
};

enum ib_proc_how { IB_PROC_EXITED, IB_PROC_SIGNALED, IB_PROC_TIMED_OUT };

struct ib_proc_result {
	enum ib_proc_how how;
	int exit_code; /* IB_PROC_EXITED: the program's exit status (Windows: all 32 bits) */
	int signal;    /* IB_PROC_SIGNALED: the signal that ended it (POSIX only) */
	/* The last lines of output, oldest first, each ending in '\n'. */
	char tail[IB_PROC_TAIL_LINES * (IB_PROC_LINE_MAX + 1) + 1];
};

/*
 * Runs the program and waits for it. Returns 0 when it ran to its end, however
 * it ended (see result->how and exit_code); IB_ETIMEOUT when it was killed at
 * the timeout (result filled, err says so); IB_EINPUT when the program or cwd
 * cannot be found or executed; IB_EIO/IB_ENOMEM when the system refused.
 */
int ib_proc_run(const struct ib_proc_opts *opts, struct ib_proc_result *result, struct ib_err *err);

/* The last max_lines lines of result's output joined with " | ", for one-line messages. */
void ib_proc_tail_oneline(const struct ib_proc_result *result, size_t max_lines, char *out,
                          size_t cap);

/*
 * Starts argv detached: in a session of its own, stdin from the null device,
 * stdout and stderr appended to log_path (NULL: the null device), cwd as its
 * folder (NULL: the caller's). *pid gets its process id. Fails (IB_EINPUT)
 * when the program cannot be executed.
 */
int ib_proc_spawn_detached(const char *const *argv, const char *cwd, const char *log_path,
                           int64_t *pid, struct ib_err *err);

/* Non-zero while a process with this id exists (a zombie still counts). */
int ib_proc_alive(int64_t pid);

/* The id of the calling process. */
int64_t ib_proc_self(void);

#endif
