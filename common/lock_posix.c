#define _GNU_SOURCE

#include "lock.h"

#include "log.h"
#include "platform.h"
#include "proc.h"
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define RETRY_MS 100

struct ib_lock {
	int fd;
};

/* Reads "<pid>\n<what>\n" from the file; leaves 0 and "" when absent or malformed. */
static void read_holder(const char *path, int64_t *pid, char *what, size_t cap)
{
	struct ib_err ignored;
	char *buf = NULL, *p;
	size_t len;
	int64_t v = 0;

	*pid = 0;
	if (cap)
		what[0] = '\0';
	if (ib_read_file(path, IB_LOCK_WHAT_MAX + 32, &buf, &len, &ignored))
		return;
	for (p = buf; *p >= '0' && *p <= '9' && v < INT64_MAX / 10; p++)
		v = v * 10 + (*p - '0');
	if (*p == '\n' && v > 0) {
		*pid = v;
		if (cap)
			snprintf(what, cap, "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
	}
	free(buf);
}

/* Who holds the lock, as far as the file says: buf, or a fixed text. */
static const char *describe_holder(const char *path, char *buf, size_t cap)
{
	char what[IB_LOCK_WHAT_MAX];
	int64_t pid;

	read_holder(path, &pid, what, sizeof what);
	/* A recorded pid that is gone belongs to an earlier holder that was killed. */
	if (!pid || !ib_proc_alive(pid))
		return "held by another process";
	snprintf(buf, cap, "held by pid %lld (%s)", (long long)pid,
	         what[0] ? what : "no description");
	return buf;
}

static int open_lock_file(const char *path, int create, int *fd, struct ib_err *err)
{
	*fd = open(path, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (*fd < 0) {
		if (!create && errno == ENOENT)
			return 0;
		return ib_fail_errno(err, IB_EIO, errno, "%s: cannot lock", path);
	}
	return 0;
}

int ib_lock_acquire(const char *path, const char *what, unsigned wait_ms, struct ib_lock **out,
                    struct ib_err *err)
{
	uint64_t start = plat_monotonic_ms();
	struct ib_lock *lock = NULL;
	char rec[IB_LOCK_WHAT_MAX + 32];
	int fd = -1, rc, logged = 0;
	size_t len;

	*out = NULL;
	rc = open_lock_file(path, 1, &fd, err);
	if (rc)
		return rc;
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		char buf[IB_LOCK_WHAT_MAX + 64];
		const char *holder;

		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot lock", path);
			goto out;
		}
		holder = describe_holder(path, buf, sizeof buf);
		if (plat_monotonic_ms() - start >= wait_ms) {
			if (wait_ms)
				rc = ib_fail(err, IB_EBUSY, "%s: %s; gave up after %u s", path,
				             holder, (wait_ms + 999) / 1000);
			else
				rc = ib_fail(err, IB_EBUSY, "%s: %s", path, holder);
			goto out;
		}
		if (!logged) {
			ib_info("%s: %s; waiting up to %u s", path, holder, (wait_ms + 999) / 1000);
			logged = 1;
		}
		plat_sleep_ms(RETRY_MS);
	}
	len = (size_t)snprintf(rec, sizeof rec, "%lld\n%.*s\n", (long long)ib_proc_self(),
	                       (int)strcspn(what, "\r\n"), what);
	/* Nothing has moved fd's offset from 0: the record starts the file. */
	if (ftruncate(fd, 0) != 0 || write(fd, rec, len) != (ssize_t)len) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", path);
		goto out;
	}
	lock = malloc(sizeof *lock);
	if (!lock) {
		rc = ib_oom(err);
		goto out;
	}
	lock->fd = fd;
	*out = lock;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

void ib_lock_release(struct ib_lock *lock)
{
	if (!lock)
		return;
	/* Clear the record first so a later reader never sees a stale holder. */
	if (ftruncate(lock->fd, 0) != 0)
		ib_debug("cannot clear lock file: %s", strerror(errno));
	close(lock->fd);
	free(lock);
}

int ib_lock_probe(const char *path, int *held, int64_t *pid, char *what, size_t cap,
                  struct ib_err *err)
{
	int fd = -1, rc;

	*held = 0;
	*pid = 0;
	if (cap)
		what[0] = '\0';
	rc = open_lock_file(path, 0, &fd, err);
	if (rc || fd < 0)
		return rc;
	/* A shared lock conflicts only with a holder, and never blocks another prober. */
	while (flock(fd, LOCK_SH | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot lock", path);
			goto out;
		}
		*held = 1;
		read_holder(path, pid, what, cap);
		goto out;
	}
out:
	close(fd);
	return rc;
}
