/* Running programs: exit codes, output capture, cwd/env, timeouts killing whole trees. */
#define _GNU_SOURCE

#include "check.h"
#include "log.h"
#include "platform.h"
#include "proc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[1024];

static void make_tmp(void)
{
	const char *base = getenv("IBDRV_TEST_TMP");
	struct ib_err err;

	snprintf(tmp, sizeof tmp, "%s/proc.XXXXXX", base ? base : "/tmp");
	plat_mkdir_p(base ? base : "/tmp", 0755, &err);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		exit(1);
	}
}

static int64_t read_pid_file(const char *path, unsigned wait_ms)
{
	for (unsigned waited = 0;; waited += 50) {
		FILE *f = fopen(path, "r");
		long long pid = 0;

		if (f) {
			int n = fscanf(f, "%lld", &pid);
			fclose(f);
			if (n == 1 && pid > 0)
				return pid;
		}
		if (waited >= wait_ms)
			return 0;
		plat_sleep_ms(50);
	}
}

/* Gone, or a zombie nobody reaped yet (a container's init may not reap): either way not running. */
static int process_gone(int64_t pid, unsigned wait_ms)
{
	for (unsigned waited = 0;; waited += 50) {
		char path[64], buf[512];
		FILE *f;
		char *close_paren;

		if (!ib_proc_alive(pid))
			return 1;
		snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
		f = fopen(path, "r");
		if (!f)
			return 1;
		buf[0] = '\0';
		if (!fgets(buf, sizeof buf, f))
			buf[0] = '\0';
		fclose(f);
		close_paren = strrchr(buf, ')');
		if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z')
			return 1;
		if (waited >= wait_ms)
			return 0;
		plat_sleep_ms(50);
	}
}

static int run(const char *script, const char *cwd, const char *const *env, unsigned timeout_s,
               struct ib_proc_result *r, struct ib_err *err)
{
	const char *argv[] = {"sh", "-c", script, NULL};
	struct ib_proc_opts o = {argv, cwd, env, timeout_s, 500, "test"};

	ib_err_clear(err);
	return ib_proc_run(&o, r, err);
}

static void test_exit_codes(void)
{
	struct ib_proc_result r;
	struct ib_err err;

	CHECK(run("exit 7", NULL, NULL, 0, &r, &err) == 0);
	CHECK(r.how == IB_PROC_EXITED);
	CHECK(r.exit_code == 7);
	CHECK(run("true", NULL, NULL, 10, &r, &err) == 0);
	CHECK(r.how == IB_PROC_EXITED && r.exit_code == 0);
	CHECK(run("kill -USR1 $$", NULL, NULL, 10, &r, &err) == 0);
	CHECK(r.how == IB_PROC_SIGNALED);
	CHECK(r.signal == SIGUSR1);
}

static void test_output_tail(void)
{
	struct ib_proc_result r;
	struct ib_err err;
	char one[256];

	CHECK(run("i=1; while [ $i -le 30 ]; do echo line$i; i=$((i+1)); done; echo oops >&2", NULL,
	          NULL, 10, &r, &err) == 0);
	/* 20 lines kept: line12..line30 and the stderr line, in order. */
	CHECK(!strncmp(r.tail, "line12\nline13\n", 14));
	CHECK(strstr(r.tail, "line11\n") == NULL);
	CHECK_CONTAINS(r.tail, "line30\noops\n");
	ib_proc_tail_oneline(&r, 3, one, sizeof one);
	CHECK_STR(one, "line29 | line30 | oops");

	/* Carriage returns (progress bars) end lines; control bytes are neutralised. */
	CHECK(run("printf '10%%\\r20%%\\rdone\\033[0m\\n'", NULL, NULL, 10, &r, &err) == 0);
	CHECK_STR(r.tail, "10%\n20%\ndone?[0m\n");

	/* A line without an end and over-long lines are kept, split at IB_PROC_LINE_MAX. */
	CHECK(run("i=0; while [ $i -lt 450 ]; do printf a; i=$((i+1)); done", NULL, NULL, 10, &r,
	          &err) == 0);
	CHECK(strlen(r.tail) == 450 + 2);
	CHECK(r.tail[IB_PROC_LINE_MAX] == '\n');

	/* Lots of output: only the tail is kept. */
	ib_log_quiet_stderr(1);
	CHECK(run("i=0; while [ $i -lt 20000 ]; do echo \"row $i\"; i=$((i+1)); done", NULL, NULL,
	          60, &r, &err) == 0);
	ib_log_quiet_stderr(0);
	CHECK(!strncmp(r.tail, "row 19980\n", 10));
	CHECK_CONTAINS(r.tail, "row 19999\n");
}

static void test_cwd_env(void)
{
	const char *env[] = {"IBDRV_T=hello world", "HOME=/nowhere", NULL};
	const char *bad_env[] = {"NOEQUALS", NULL};
	struct ib_proc_result r;
	struct ib_err err;
	char want[1200];

	CHECK(run("pwd; echo \"$IBDRV_T\"; echo \"home=$HOME\"; echo \"path=${PATH:+set}\"", tmp,
	          env, 10, &r, &err) == 0);
	snprintf(want, sizeof want, "%s\nhello world\nhome=/nowhere\npath=set\n", tmp);
	CHECK_STR(r.tail, want);

	CHECK(run("true", "/nonexistent/folder", NULL, 10, &r, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "/nonexistent/folder");
	CHECK(run("true", NULL, bad_env, 10, &r, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "NOEQUALS");
}

static void test_not_found(void)
{
	const char *argv1[] = {"ibdrv-no-such-program", NULL};
	const char *argv2[] = {"./no-such-script.sh", NULL};
	struct ib_proc_opts o = {argv1, NULL, NULL, 5, 0, NULL};
	struct ib_proc_result r;
	struct ib_err err;

	CHECK(ib_proc_run(&o, &r, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "ibdrv-no-such-program: program not found in PATH");
	o.argv = argv2;
	o.cwd = tmp;
	CHECK(ib_proc_run(&o, &r, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "./no-such-script.sh: cannot execute");
}

/* The program starts a grandchild that ignores SIGTERM; the timeout must still end it. */
static void test_timeout_kills_tree(void)
{
	char script[8192], pidfile[1200];
	struct ib_proc_result r;
	struct ib_err err;
	uint64_t t0;
	int64_t grandchild;
	int rc;

	snprintf(pidfile, sizeof pidfile, "%s/grandchild.pid", tmp);
	snprintf(script, sizeof script,
	         "sh -c 'trap \"\" TERM; echo $$ > %s; echo grandchild up; exec sleep 1000' & "
	         "echo parent waiting; wait",
	         pidfile);
	t0 = plat_monotonic_ms();
	rc = run(script, NULL, NULL, 1, &r, &err);
	CHECK(rc == IB_ETIMEOUT);
	CHECK(r.how == IB_PROC_TIMED_OUT);
	CHECK_CONTAINS(err.msg, "timed out after 1 s");
	CHECK(plat_monotonic_ms() - t0 < 1000 + 500 + 2500);
	CHECK_CONTAINS(r.tail, "parent waiting");
	CHECK_CONTAINS(r.tail, "grandchild up");
	grandchild = read_pid_file(pidfile, 0);
	CHECK(grandchild > 0);
	CHECK(process_gone(grandchild, 2000));
}

/* What the program leaves running in its group when it exits is stopped too. */
static void test_leftovers_stopped(void)
{
	char script[8192], pid1[1200], pid2[1200];
	struct ib_proc_result r;
	struct ib_err err;
	int64_t a, b;

	snprintf(pid1, sizeof pid1, "%s/left1.pid", tmp);
	snprintf(pid2, sizeof pid2, "%s/left2.pid", tmp);
	/* One keeps the output pipe open, one has let go of it. */
	snprintf(script, sizeof script,
	         "sh -c 'echo $$ > %s; exec sleep 1000' & "
	         "sh -c 'echo $$ > %s; exec sleep 1000' >/dev/null 2>&1 & "
	         "while [ ! -s %s ] || [ ! -s %s ]; do sleep 0.05; done; echo main done",
	         pid1, pid2, pid1, pid2);
	CHECK(run(script, NULL, NULL, 20, &r, &err) == 0);
	CHECK(r.how == IB_PROC_EXITED && r.exit_code == 0);
	CHECK_CONTAINS(r.tail, "main done");
	a = read_pid_file(pid1, 0);
	b = read_pid_file(pid2, 0);
	CHECK(a > 0 && b > 0);
	CHECK(process_gone(a, 2000));
	CHECK(process_gone(b, 2000));
}

/* Descriptors of the caller (lock files, logs) do not leak into programs. */
static void test_no_fd_leak(void)
{
	char script[128];
	struct ib_proc_result r;
	struct ib_err err;
	int raw = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
	int fd = dup2(raw, 37);

	close(raw);
	CHECK(fd == 37);
	snprintf(script, sizeof script,
	         "if [ -e /proc/$$/fd/%d ]; then echo leaked; else echo clean; fi", fd);
	CHECK(run(script, NULL, NULL, 10, &r, &err) == 0);
	CHECK_STR(r.tail, "clean\n");
	close(fd);
}

/* A detached program survives the killing of its parent's process group. */
static void test_detached(void)
{
	char pidfile[1200], script[8192], logfile[1200];
	const char *argv[] = {"sh", "-c", script, NULL};
	const char *bad[] = {"/nonexistent/prog", NULL};
	struct ib_err err;
	int report[2];
	int64_t spawned = 0, recorded;
	pid_t parent;
	int status;

	snprintf(pidfile, sizeof pidfile, "%s/detached.pid", tmp);
	snprintf(logfile, sizeof logfile, "%s/detached.log", tmp);
	snprintf(script, sizeof script, "echo $$ > %s; echo \"cwd=$(pwd)\"; exec sleep 30",
	         pidfile);
	CHECK(pipe(report) == 0);
	parent = fork();
	if (parent == 0) {
		/* A stand-in for the handler's enable: its own group, which gets killed. */
		setpgid(0, 0);
		if (ib_proc_spawn_detached(argv, tmp, logfile, &spawned, &err) != 0)
			spawned = 0;
		if (write(report[1], &spawned, sizeof spawned) != sizeof spawned)
			_exit(2);
		pause();
		_exit(0);
	}
	close(report[1]);
	CHECK(read(report[0], &spawned, sizeof spawned) == sizeof spawned);
	close(report[0]);
	CHECK(spawned > 0);
	recorded = read_pid_file(pidfile, 5000);
	CHECK(recorded == spawned);
	CHECK(getsid((pid_t)spawned) != getsid(0));
	CHECK(getpgid((pid_t)spawned) != parent);
	kill(-parent, SIGKILL);
	waitpid(parent, &status, 0);
	plat_sleep_ms(200);
	CHECK(ib_proc_alive(spawned));
	CHECK(ib_proc_alive(ib_proc_self()));
	kill((pid_t)spawned, SIGKILL);
	CHECK(process_gone(spawned, 2000));
	{
		FILE *f = fopen(logfile, "r");
		char line[1300] = "", want[1300];

		CHECK(f != NULL);
		if (f) {
			if (!fgets(line, sizeof line, f))
				line[0] = '\0';
			fclose(f);
		}
		snprintf(want, sizeof want, "cwd=%s\n", tmp);
		CHECK_STR(line, want);
	}

	CHECK(ib_proc_spawn_detached(bad, NULL, NULL, &spawned, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "/nonexistent/prog: cannot execute");
	CHECK(!ib_proc_alive(0));
	CHECK(!ib_proc_alive(-5));
}

int main(void)
{
	make_tmp();
	test_exit_codes();
	test_output_tail();
	test_cwd_env();
	test_not_found();
	test_timeout_kills_tree();
	test_leftovers_stopped();
	test_no_fd_leak();
	test_detached();
	plat_remove_tree(tmp, NULL);
	return check_report();
}
