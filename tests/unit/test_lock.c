/* One at a time: exclusive lock files, waiting, holder identification, no stale locks. */
#define _GNU_SOURCE

#include "check.h"
#include "lock.h"
#include "platform.h"
#include "proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[1024];
static char lockpath[1200];

static void make_tmp(void)
{
	const char *base = getenv("IBDRV_TEST_TMP");

	snprintf(tmp, sizeof tmp, "%s/lock.XXXXXX", base ? base : "/tmp");
	plat_mkdir_p(base ? base : "/tmp", 0755, NULL);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(lockpath, sizeof lockpath, "%s/run.lock", tmp);
}

static void read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

static void test_basic(void)
{
	struct ib_lock *a = NULL, *b = NULL;
	struct ib_err err;
	char content[512], want[1400], what[IB_LOCK_WHAT_MAX];
	int held;
	int64_t pid;
	uint64_t t0;

	CHECK(ib_lock_probe(lockpath, &held, &pid, what, sizeof what, &err) == 0);
	CHECK(held == 0);

	CHECK(ib_lock_acquire(lockpath, "apply of bundle x", 0, &a, &err) == 0);
	CHECK(a != NULL);
	read_file(lockpath, content, sizeof content);
	snprintf(want, sizeof want, "%lld\napply of bundle x\n", (long long)ib_proc_self());
	CHECK_STR(content, want);

	CHECK(ib_lock_probe(lockpath, &held, &pid, what, sizeof what, &err) == 0);
	CHECK(held == 1);
	CHECK(pid == ib_proc_self());
	CHECK_STR(what, "apply of bundle x");

	/* Even the same process cannot take it twice. */
	CHECK(ib_lock_acquire(lockpath, "second", 0, &b, &err) == IB_EBUSY);
	CHECK(b == NULL);
	snprintf(want, sizeof want, "%s: held by pid %lld (apply of bundle x)", lockpath,
	         (long long)ib_proc_self());
	CHECK_CONTAINS(err.msg, want);

	t0 = plat_monotonic_ms();
	CHECK(ib_lock_acquire(lockpath, "second", 1300, &b, &err) == IB_EBUSY);
	CHECK(plat_monotonic_ms() - t0 >= 1300);
	CHECK_CONTAINS(err.msg, "gave up after 2 s");

	ib_lock_release(a);
	read_file(lockpath, content, sizeof content);
	CHECK_STR(content, "");
	CHECK(ib_lock_probe(lockpath, &held, &pid, what, sizeof what, &err) == 0);
	CHECK(held == 0 && pid == 0);
	CHECK(ib_lock_acquire(lockpath, "second", 0, &b, &err) == 0);
	ib_lock_release(b);
	ib_lock_release(NULL);
}

/* Another process holds the lock for a while: a waiter gets it once it is let go. */
static void test_wait_for_other_process(void)
{
	struct ib_lock *l = NULL;
	struct ib_err err;
	int ready[2];
	char c;
	pid_t child;
	uint64_t t0;
	int status;

	CHECK(pipe(ready) == 0);
	child = fork();
	if (child == 0) {
		struct ib_lock *mine;

		if (ib_lock_acquire(lockpath, "child", 0, &mine, NULL) != 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		plat_sleep_ms(700);
		ib_lock_release(mine);
		_exit(0);
	}
	close(ready[1]);
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	t0 = plat_monotonic_ms();
	CHECK(ib_lock_acquire(lockpath, "parent", 5000, &l, &err) == 0);
	CHECK(plat_monotonic_ms() - t0 >= 500);
	ib_lock_release(l);
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A holder that is killed leaves no stale lock, and its record is not trusted. */
static void test_killed_holder(void)
{
	struct ib_lock *l = NULL;
	struct ib_err err;
	int ready[2];
	char c, content[256], what[IB_LOCK_WHAT_MAX];
	pid_t child;
	int held, status;
	int64_t pid;

	CHECK(pipe(ready) == 0);
	child = fork();
	if (child == 0) {
		struct ib_lock *mine;

		if (ib_lock_acquire(lockpath, "doomed", 0, &mine, NULL) != 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	CHECK(ib_lock_probe(lockpath, &held, &pid, what, sizeof what, &err) == 0);
	CHECK(held == 1 && pid == child);
	CHECK_STR(what, "doomed");
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* The record of the dead holder is still in the file... */
	read_file(lockpath, content, sizeof content);
	CHECK_CONTAINS(content, "doomed");
	/* ...but the lock itself went with it. */
	CHECK(ib_lock_probe(lockpath, &held, &pid, what, sizeof what, &err) == 0);
	CHECK(held == 0);
	CHECK(ib_lock_acquire(lockpath, "after", 0, &l, &err) == 0);
	ib_lock_release(l);
}

/* Programs started while the lock is held do not keep it after the holder lets go. */
static void test_not_inherited(void)
{
	const char *argv[] = {"sleep", "5", NULL};
	struct ib_lock *l = NULL;
	struct ib_err err;
	char what[IB_LOCK_WHAT_MAX];
	int64_t child = 0, pid;
	int held;

	CHECK(ib_lock_acquire(lockpath, "parent", 0, &l, &err) == 0);
	CHECK(ib_proc_spawn_detached(argv, NULL, NULL, &child, &err) == 0);
	ib_lock_release(l);
	CHECK(ib_proc_alive(child));
	CHECK(ib_lock_probe(lockpath, &held, &pid, what, sizeof what, &err) == 0);
	CHECK(held == 0);
	kill((pid_t)child, SIGKILL);
}

static void test_errors(void)
{
	struct ib_lock *l = NULL;
	struct ib_err err;
	char path[1300], what[8];
	int held;
	int64_t pid;

	snprintf(path, sizeof path, "%s/missing-folder/run.lock", tmp);
	CHECK(ib_lock_acquire(path, "x", 0, &l, &err) == IB_EIO);
	CHECK_CONTAINS(err.msg, path);
	CHECK(ib_lock_probe(path, &held, &pid, what, sizeof what, &err) == 0);
	CHECK(held == 0);

	/* A symlink planted where the lock file goes is refused. */
	snprintf(path, sizeof path, "%s/link.lock", tmp);
	CHECK(symlink("/etc/passwd", path) == 0);
	CHECK(ib_lock_acquire(path, "x", 0, &l, &err) == IB_EIO);
	CHECK_CONTAINS(err.msg, "link.lock");
}

int main(void)
{
	make_tmp();
	test_basic();
	test_wait_for_other_process();
	test_killed_holder();
	test_not_inherited();
	test_errors();
	plat_remove_tree(tmp, NULL);
	return check_report();
}
