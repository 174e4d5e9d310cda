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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* How long to keep reading output once the group has been killed. */
#define DRAIN_MS 2000
/* How often to look whether the program has exited while it stays silent. */
#define POLL_MS 100

/* In a freshly forked child: closes every descriptor from first up. Async-signal-safe. */
static void close_from(int first)
{
	struct rlimit rl;
	long max = 4096;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0u, 0u) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < 1048576)
		max = (long)rl.rlim_cur;
	for (long fd = first; fd < max; fd++)
		close((int)fd);
}

/* In a freshly forked child: undoes signal settings that exec would otherwise keep. */
static void reset_signals(void)
{
	sigset_t none;

	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
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

enum { STAGE_CWD = 1, STAGE_STDIO, STAGE_EXEC };

/*
 * In a freshly forked child: stdin from in, stdout and stderr to out, the
 * report pipe moved to fd 3 (close-on-exec), every other descriptor closed,
 * so nothing of the caller (its lock files above all) leaks into the program.
 */
static void child_fds(int in, int out, int rep)
{
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		child_fail(rep, STAGE_STDIO);
	if (rep != 3 && dup2(rep, 3) < 0)
		child_fail(rep, STAGE_STDIO);
	fcntl(3, F_SETFD, FD_CLOEXEC);
	close_from(4);
}

static const char *env_lookup(const char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], name, len) && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

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
	envp[o] = NULL;
	*out = envp;
	return 0;
}

/* The file to execute for name: name itself when it has a '/', else the first match in PATH. */
static int resolve_program(const char *name, const char *path_var, char **out, struct ib_err *err)
{
	const char *p;

	*out = NULL;
	if (name[0] == '\0')
		return ib_fail(err, IB_EINPUT, "empty program name");
	if (strchr(name, '/')) {
		*out = strdup(name);
		return *out ? 0 : ib_oom(err);
	}
	p = path_var ? path_var : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*p) {
		size_t n = strcspn(p, ":");
		char dir[PATH_MAX];
		char *cand;
		struct stat st;

		if (n > 0 && n < sizeof dir) {
			memcpy(dir, p, n);
			dir[n] = '\0';
			cand = ib_path_join(dir, name);
			if (!cand)
				return ib_oom(err);
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
			    access(cand, X_OK) == 0) {
				*out = cand;
				return 0;
			}
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return ib_fail(err, IB_EINPUT, "%s: program not found in PATH", name);
}

/* Reads the child's report of a failed chdir/exec; 0 when exec succeeded. */
static int read_child_failure(int fd, const char *prog, const char *cwd, struct ib_err *err)
{
	int msg[2];
	ssize_t got;

	do
		got = read(fd, msg, sizeof msg);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof msg)
		return 0;
	if (msg[0] == STAGE_CWD)
		return ib_fail_errno(err, IB_EINPUT, msg[1], "%s: cannot use as working folder",
		                     cwd);
	if (msg[0] == STAGE_STDIO)
		return ib_fail_errno(err, IB_EIO, msg[1], "%s: cannot set up standard streams",
		                     prog);
	return ib_fail_errno(err, IB_EINPUT, msg[1], "%s: cannot execute", prog);
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
	do
		got = read(fd, buf, sizeof buf);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EAGAIN ? 0 : 1;
	if (got == 0)
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

/* Waits for pid to end and reaps it; info says how it ended (zeroed if it cannot be waited for). */
static void reap(pid_t pid, siginfo_t *info)
{
	memset(info, 0, sizeof *info);
	while (waitid(P_PID, (id_t)pid, info, WEXITED) != 0 && errno == EINTR)
		;
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
	char *prog = NULL;
	int out[2] = {-1, -1}, rep[2] = {-1, -1};
	int devnull = -1, eof = 0, rc = 0, exit_wait_ms = 1;
	siginfo_t info;
	unsigned grace = opts->grace_ms ? opts->grace_ms : IB_PROC_GRACE_MS_DEFAULT;
	uint64_t deadline =
	        opts->timeout_s ? plat_monotonic_ms() + (uint64_t)opts->timeout_s * 1000u : 0;
	pid_t pid;

	memset(result, 0, sizeof *result);
	if (!opts->argv || !opts->argv[0])
		return ib_fail(err, IB_EINPUT, "no program to run");
	rc = build_env(opts->env, &envp, err);
	if (rc == 0)
		rc = resolve_program(opts->argv[0], env_lookup((const char *const *)envp, "PATH"),
		                     &prog, err);
	if (rc)
		goto out;
	lb = calloc(1, sizeof *lb);
	if (!lb) {
		rc = ib_oom(err);
		goto out;
	}
	lb->tag = opts->log_tag ? opts->log_tag : ib_path_basename(opts->argv[0]);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot create pipes", opts->argv[0]);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot start", opts->argv[0]);
		goto out;
	}
	if (pid == 0) {
		setsid();
		reset_signals();
		if (opts->cwd && chdir(opts->cwd) != 0)
			child_fail(rep[1], STAGE_CWD);
		child_fds(devnull, out[1], rep[1]);
		execve(prog, (char *const *)opts->argv, envp);
		child_fail(3, STAGE_EXEC);
	}
	close(out[1]);
	close(rep[1]);
	out[1] = rep[1] = -1;
	rc = read_child_failure(rep[0], opts->argv[0], opts->cwd, err);
	if (rc) {
		reap(pid, &info);
		goto out;
	}
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
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
			eof = pump(out[0], lb, wait_ms);
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
		result->how = IB_PROC_TIMED_OUT;
		ib_warn("%s: still running after %u s; stopping it and everything it started",
		        opts->argv[0], opts->timeout_s);
	}
	stop_group(pid, out[0], &eof, lb, grace, &info);
	emit_line(lb);
	fill_tail(lb, result);
	if (result->how == IB_PROC_TIMED_OUT) {
		rc = ib_fail(err, IB_ETIMEOUT, "%s: timed out after %u s; it was stopped",
		             opts->argv[0], opts->timeout_s);
	} else if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
		result->how = IB_PROC_SIGNALED;
		result->signal = info.si_status;
	} else {
		result->how = IB_PROC_EXITED;
		result->exit_code = info.si_status;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	if (devnull >= 0)
		close(devnull);
	free(lb);
	free(prog);
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
	char *prog = NULL;
	int pidp[2] = {-1, -1}, rep[2] = {-1, -1};
	int in = -1, outfd = -1, rc = 0;
	siginfo_t info;
	pid_t mid, worker = -1;
	ssize_t got;

	*pid_out = 0;
	if (!argv || !argv[0])
		return ib_fail(err, IB_EINPUT, "no program to run");
	rc = resolve_program(argv[0], getenv("PATH"), &prog, err);
	if (rc)
		return rc;
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	outfd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
	                 : open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (in < 0 || outfd < 0) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s", log_path ? log_path : "/dev/null");
		goto out;
	}
	if (pipe2(pidp, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot create pipes", argv[0]);
		goto out;
	}
	mid = fork();
	if (mid < 0) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot start", argv[0]);
		goto out;
	}
	if (mid == 0) {
		pid_t w;

		/* A new session leaves the caller's process group; forking once more makes
		   sure the worker, not being a session leader, never gets a terminal. */
		setsid();
		w = fork();
		if (w == 0) {
			reset_signals();
			if (cwd && chdir(cwd) != 0)
				child_fail(rep[1], STAGE_CWD);
			child_fds(in, outfd, rep[1]);
			execve(prog, (char *const *)argv, environ);
			child_fail(3, STAGE_EXEC);
		}
		{
			ssize_t w2 = write(pidp[1], &w, sizeof w);
			(void)w2;
		}
		_exit(w < 0 ? 1 : 0);
	}
	close(pidp[1]);
	close(rep[1]);
	pidp[1] = rep[1] = -1;
	do
		got = read(pidp[0], &worker, sizeof worker);
	while (got < 0 && errno == EINTR);
	reap(mid, &info);
	if (got != (ssize_t)sizeof worker || worker <= 0) {
		rc = ib_fail(err, IB_EIO, "%s: cannot start", argv[0]);
		goto out;
	}
	rc = read_child_failure(rep[0], argv[0], cwd, err);
	if (rc == 0)
		*pid_out = worker;
out:
	for (int i = 0; i < 2; i++) {
		if (pidp[i] >= 0)
			close(pidp[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	if (in >= 0)
		close(in);
	if (outfd >= 0)
		close(outfd);
	free(prog);
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
