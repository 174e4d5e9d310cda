#define _GNU_SOURCE

#include "proc.h"

#include "log.h"
#include "path.h"
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* How long to keep reading output once the group has been killed. */
#define DRAIN_MS 2000
/* How often to look whether the program has exited while it stays silent. */
#define POLL_MS 100

/* In a freshly forked child: undoes signal settings that exec would otherwise keep. */
static void reset_signals(void)
{
	sigset_t none;

	/* Every classic signal (SIGKILL and SIGSTOP refuse, harmlessly): ignored ones stay ignored
	   across exec (SIGPIPE above all). */
	for (int sig = 1; sig < 32; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Tells the parent why exec failed, then leaves. */
static void child_fail(int fd, int stage)
{
	int msg[2] = {stage, errno};
	ssize_t w = write(fd, msg, sizeof msg);

	(void)w;
	_exit(127);
}

/* read() again when a signal interrupted it. */
static ssize_t read_retry(int fd, void *buf, size_t len)
{
	ssize_t got;

	do
		got = read(fd, buf, len);
	while (got < 0 && errno == EINTR);
	return got;
}

enum { STAGE_CWD = 1, STAGE_STDIO, STAGE_EXEC };

/* environ with the extra entries added or replacing; the array is malloc'd, the strings borrowed.
 */
static int build_env(const char *const *extra, char ***out, struct ib_err *err)
{
	size_t n_env = 0, n_extra = 0, o = 0;
	char **envp;

	*out = NULL;
	while (environ && environ[n_env])
		n_env++;
	while (extra && extra[n_extra])
		n_extra++;
	for (size_t i = 0; i < n_extra; i++)
		if (!strchr(extra[i], '=') || extra[i][0] == '=')
			return ib_fail(err, IB_EINPUT, "environment entry '%s' is not NAME=value",
			               extra[i]);
	envp = calloc(n_env + n_extra + 1, sizeof *envp);
	if (!envp)
		return ib_oom(err);
	for (size_t i = 0; i < n_env; i++) {
		size_t name_len = strcspn(environ[i], "=");
		int replaced = 0;

		for (size_t j = 0; j < n_extra && !replaced; j++)
			replaced = !strncmp(extra[j], environ[i], name_len) &&
			           extra[j][name_len] == '=';
		if (!replaced)
			envp[o++] = environ[i];
	}
	for (size_t j = 0; j < n_extra; j++)
		envp[o++] = (char *)extra[j];
	*out = envp;
	return 0;
}

/* Waits for pid to end and reaps it; info says how it ended (zeroed if it cannot be waited for). */
static void reap(pid_t pid, siginfo_t *info)
{
	memset(info, 0, sizeof *info);
	while (waitid(P_PID, (id_t)pid, info, WEXITED) != 0 && errno == EINTR)
		;
}

/*
 * Starts argv (looked up in envp's PATH when it has no '/') in a session of its own,
 * stdin from the null device, envp as its environment, and stdout and stderr to a pipe
 * whose reading end goes to *pipe_rd. Without pipe_rd it is detached: output to out
 * (-1: the null device), and an intermediate process forks it and leaves, so the
 * program is not a session leader (never gets a terminal) and not our child. Every
 * other descriptor is closed in the program, so nothing of the caller (its lock
 * files above all) leaks into it. *pid gets its id once exec has succeeded.
 */
static int start(const char *const *argv, const char *cwd, char **envp, int out, int *pipe_rd,
                 pid_t *pid, struct ib_err *err)
{
	/* The report pipe, the output pipe and the null device: all closed at the end. */
	int fds[5] = {-1, -1, -1, -1, open("/dev/null", O_RDWR | O_CLOEXEC)};
	int *rep = fds, *o = fds + 2, in = fds[4], msg[2], rc = 0, detached = !pipe_rd;
	siginfo_t info;
	pid_t child;
	ssize_t got;

	*pid = 0;
	if (!argv || !argv[0] || !argv[0][0]) {
		rc = ib_fail(err, IB_EINPUT, "no program to run");
		goto out;
	}
	/* A failure to set up fails like fork(), with errno saying why. */
	child = -1;
	if (in >= 0 && pipe2(rep, O_CLOEXEC) == 0 && (!pipe_rd || pipe2(o, O_CLOEXEC) == 0))
		child = fork();
	if (child == 0) {
		setsid();
		if (detached && fork() != 0)
			_exit(0);
		reset_signals();
		child = getpid();
		got = write(rep[1], &child, sizeof child);
		if (cwd && chdir(cwd) != 0)
			child_fail(rep[1], STAGE_CWD);
		if (pipe_rd)
			out = o[1];
		else if (out < 0)
			out = in;
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
		    (rep[1] != 3 && dup2(rep[1], 3) < 0))
			child_fail(rep[1], STAGE_STDIO);
		fcntl(3, F_SETFD, FD_CLOEXEC);
		closefrom(4);
		/* execvp looks PATH up in, and passes on, environ. */
		environ = envp;
		execvp(argv[0], (char *const *)argv);
		child_fail(3, STAGE_EXEC);
	}
	if (child < 0) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot start", argv[0]);
		goto out;
	}
	close(rep[1]);
	rep[1] = -1;
	got = read_retry(rep[0], pid, sizeof *pid);
	if (detached || got != (ssize_t)sizeof *pid)
		reap(child, &info);
	if (got != (ssize_t)sizeof *pid) {
		*pid = 0;
		rc = ib_fail(err, IB_EIO, "%s: cannot start", argv[0]);
		goto out;
	}
	got = read_retry(rep[0], msg, sizeof msg);
	if (got == (ssize_t)sizeof msg) {
		if (!detached)
			reap(*pid, &info);
		*pid = 0;
		rc = ib_fail_errno(err, msg[0] == STAGE_STDIO ? IB_EIO : IB_EINPUT, msg[1],
		                   "%s: %s", msg[0] == STAGE_CWD ? cwd : argv[0],
		                   msg[0] == STAGE_CWD     ? "cannot use as working folder"
		                   : msg[0] == STAGE_STDIO ? "cannot set up standard streams"
		                   : msg[1] == ENOENT && !strchr(argv[0], '/')
		                           ? "program not found in PATH"
		                           : "cannot execute");
	} else if (pipe_rd) {
		*pipe_rd = o[0];
		o[0] = -1;
	}
out:
	for (int i = 0; i < 5; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

struct line_buf {
	const char *tag;
	char line[IB_PROC_LINE_MAX + 1];
	size_t len;
	char ring[IB_PROC_TAIL_LINES][IB_PROC_LINE_MAX + 1];
	size_t next; /* ring slot for the next line */
	size_t count;
};

static void emit_line(struct line_buf *lb)
{
	if (lb->len == 0)
		return;
	lb->line[lb->len] = '\0';
	ib_info("%s: %s", lb->tag, lb->line);
	memcpy(lb->ring[lb->next], lb->line, lb->len + 1);
	lb->next = (lb->next + 1) % IB_PROC_TAIL_LINES;
	if (lb->count < IB_PROC_TAIL_LINES)
		lb->count++;
	lb->len = 0;
}

static void feed(struct line_buf *lb, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\n' || c == '\r') {
			emit_line(lb);
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			c = '?';
		lb->line[lb->len++] = (char)c;
		if (lb->len == IB_PROC_LINE_MAX)
			emit_line(lb);
	}
}

static void fill_tail(const struct line_buf *lb, struct ib_proc_result *r)
{
	size_t o = 0;
	size_t first = (lb->next + IB_PROC_TAIL_LINES - lb->count) % IB_PROC_TAIL_LINES;

	for (size_t i = 0; i < lb->count; i++) {
		const char *l = lb->ring[(first + i) % IB_PROC_TAIL_LINES];
		size_t n = strlen(l);

		memcpy(r->tail + o, l, n);
		o += n;
		r->tail[o++] = '\n';
	}
	r->tail[o] = '\0';
}

/* Reads what is available on fd into lb for up to wait_ms; returns 1 at end of file. */
static int pump(int fd, struct line_buf *lb, int wait_ms)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	char buf[4096];
	ssize_t got;
	int pr = poll(&pfd, 1, wait_ms < 0 ? 0 : wait_ms);

	if (pr <= 0)
		return 0;
	/* poll() saw data or the end: read() does not block. A failed read ends the output too. */
	got = read_retry(fd, buf, sizeof buf);
	if (got <= 0)
		return 1;
	feed(lb, buf, (size_t)got);
	return 0;
}

/* Non-zero once the child has ended; it stays a zombie so its group id cannot be reused. */
static int child_ended(pid_t pid)
{
	siginfo_t info;

	memset(&info, 0, sizeof info);
	if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno == ECHILD;
	return info.si_pid == pid;
}

/*
 * Stops the group politely, waits up to grace_ms for the leader to end and the
 * output to close, then kills whatever remains and reaps the leader.
 */
static void stop_group(pid_t pid, int fd, int *eof, struct line_buf *lb, unsigned grace_ms,
                       siginfo_t *info)
{
	uint64_t deadline = plat_monotonic_ms() + grace_ms;

	kill(-pid, SIGTERM);
	while (plat_monotonic_ms() < deadline && !(*eof && child_ended(pid))) {
		if (!*eof)
			*eof = pump(fd, lb, POLL_MS);
		else
			poll(NULL, 0, POLL_MS);
	}
	kill(-pid, SIGKILL);
	reap(pid, info);
	deadline = plat_monotonic_ms() + DRAIN_MS;
	while (!*eof && plat_monotonic_ms() < deadline)
		*eof = pump(fd, lb, POLL_MS);
}

int ib_proc_run(const struct ib_proc_opts *opts, struct ib_proc_result *result, struct ib_err *err)
{
	struct line_buf *lb = NULL;
	char **envp = NULL;
	int out = -1;
	int eof = 0, rc, exit_wait_ms = 1;
	siginfo_t info;
	unsigned grace = opts->grace_ms ? opts->grace_ms : IB_PROC_GRACE_MS_DEFAULT;
	uint64_t deadline =
	        opts->timeout_s ? plat_monotonic_ms() + (uint64_t)opts->timeout_s * 1000u : 0;
	pid_t pid;

	memset(result, 0, sizeof *result);
	rc = build_env(opts->env, &envp, err);
	if (rc)
		goto out;
	lb = calloc(1, sizeof *lb);
	if (!lb) {
		rc = ib_oom(err);
		goto out;
	}
	rc = start(opts->argv, opts->cwd, envp, -1, &out, &pid, err);
	if (rc)
		goto out;
	lb->tag = opts->log_tag ? opts->log_tag : ib_path_basename(opts->argv[0]);
	for (;;) {
		int wait_ms = eof ? exit_wait_ms : POLL_MS;

		if (deadline) {
			uint64_t now = plat_monotonic_ms();
			if (now >= deadline)
				break;
			if (deadline - now < (uint64_t)wait_ms)
				wait_ms = (int)(deadline - now);
		}
		if (!eof) {
			eof = pump(out, lb, wait_ms);
		} else {
			poll(NULL, 0, wait_ms);
			/* The exit follows the end of the output closely: look again soon. */
			if (exit_wait_ms < POLL_MS)
				exit_wait_ms *= 2;
		}
		if (child_ended(pid))
			break;
	}
	if (!child_ended(pid)) {
		/* Logged now, while the stop takes its time; the error once it is done. */
		result->how = IB_PROC_TIMED_OUT;
		rc = ib_fail(err, IB_ETIMEOUT,
		             "%s: timed out after %u s; stopping it and all it started",
		             opts->argv[0], opts->timeout_s);
		ib_warn("%s", err->msg);
	}
	stop_group(pid, out, &eof, lb, grace, &info);
	emit_line(lb);
	fill_tail(lb, result);
	if (rc == 0 && (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED)) {
		result->how = IB_PROC_SIGNALED;
		result->signal = info.si_status;
	} else if (rc == 0) {
		result->how = IB_PROC_EXITED;
		result->exit_code = info.si_status;
	}
out:
	if (out >= 0)
		close(out);
	free(lb);
	free(envp);
	return rc;
}

void ib_proc_tail_oneline(const struct ib_proc_result *result, size_t max_lines, char *out,
                          size_t cap)
{
	const char *t = result->tail;
	const char *start = t + strlen(t);
	size_t lines = 0, o = 0;

	if (cap == 0)
		return;
	/* Walk back over max_lines complete lines. */
	while (start > t && lines < max_lines) {
		start--;
		while (start > t && start[-1] != '\n')
			start--;
		lines++;
	}
	for (const char *p = start; *p && o + 1 < cap; p++) {
		if (*p == '\n') {
			if (p[1] == '\0')
				break;
			if (o + 4 >= cap)
				break;
			memcpy(out + o, " | ", 3);
			o += 3;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

int ib_proc_spawn_detached(const char *const *argv, const char *cwd, const char *log_path,
                           int64_t *pid_out, struct ib_err *err)
{
	int outfd = -1, rc;
	pid_t pid;

	*pid_out = 0;
	if (log_path) {
		outfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (outfd < 0)
			return ib_fail_errno(err, IB_EIO, errno, "%s", log_path);
	}
	rc = start(argv, cwd, environ, outfd, NULL, &pid, err);
	*pid_out = pid;
	if (outfd >= 0)
		close(outfd);
	return rc;
}

int ib_proc_alive(int64_t pid)
{
	if (pid <= 0 || pid > INT_MAX)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int64_t ib_proc_self(void)
{
	return (int64_t)getpid();
}
