/* _GNU_SOURCE for Linux's sync_file_range. */
#define _GNU_SOURCE

#include "platform.h"

#include "path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

int plat_lstat(const char *path, enum plat_kind *kind, uint64_t *size, struct ib_err *err)
{
	struct stat st;
	int missing = lstat(path, &st) != 0;

	if (missing && errno != ENOENT && errno != ENOTDIR)
		return ib_fail_errno(err, IB_EIO, errno, "%s", path);
	*kind = missing               ? PLAT_MISSING
	        : S_ISREG(st.st_mode) ? PLAT_REGULAR
	        : S_ISDIR(st.st_mode) ? PLAT_DIR
	        : S_ISLNK(st.st_mode) ? PLAT_SYMLINK
	                              : PLAT_OTHER;
	if (size)
		*size = *kind == PLAT_REGULAR ? (uint64_t)st.st_size : 0;
	return 0;
}

int plat_open_read(const char *path, FILE **out, struct ib_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	*out = NULL;
	if (fd < 0) {
		if (errno == ELOOP)
			return ib_fail(err, IB_EINPUT, "%s: is a symbolic link", path);
		return ib_fail_errno(err, errno == ENOENT ? IB_EINPUT : IB_EIO, errno, "%s", path);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ib_fail(err, IB_EINPUT, "%s: not a regular file", path);
	}
	/* O_NONBLOCK kept open() from hanging on a FIFO; on a regular file it has no effect
	   (open(2)), so it can stay. */
	*out = fdopen(fd, "rb");
	if (!*out) {
		int e = errno;
		close(fd);
		return ib_fail_errno(err, IB_EIO, e, "%s", path);
	}
	return 0;
}

int plat_create_excl(const char *path, int mode, FILE **out, struct ib_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode), e;

	*out = NULL;
	if (fd < 0)
		return ib_fail_errno(err, errno == EEXIST ? IB_EEXIST : IB_EIO, errno, "%s", path);
	/* The umask must not widen or narrow what the caller asked for (0600 keys stay 0600). */
	if (fchmod(fd, (mode_t)mode) == 0 && (*out = fdopen(fd, "wb")))
		return 0;
	e = errno;
	close(fd);
	remove(path);
	return ib_fail_errno(err, IB_EIO, e, "%s", path);
}

int plat_sync_close(FILE *f, const char *path, struct ib_err *err)
{
	int rc = 0;

	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", path);
	if (fclose(f) != 0 && rc == 0)
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", path);
	return rc;
}

int plat_close(FILE *f, const char *path, struct ib_err *err)
{
	if (fclose(f) != 0)
		return ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", path);
	return 0;
}

int plat_write_behind(FILE *f, const char *path, struct ib_err *err)
{
	if (fflush(f) != 0)
		return ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", path);
#ifdef SYNC_FILE_RANGE_WRITE
	/* Offset 0, length 0: the whole file; pages already on their way are skipped. */
	sync_file_range(fileno(f), 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	return 0;
}

int plat_rename_replace(const char *from, const char *to, struct ib_err *err)
{
	if (rename(from, to) != 0)
		return ib_fail_errno(err, IB_EIO, errno, "%s: cannot rename to %s", from, to);
	return 0;
}

int plat_remove(const char *path, struct ib_err *err)
{
	/* remove(): unlink(), or rmdir() for a folder. */
	if (remove(path) != 0 && errno != ENOENT)
		return ib_fail_errno(err, IB_EIO, errno, "%s: cannot remove", path);
	return 0;
}

int plat_mkdir_p(const char *path, int mode, struct ib_err *err)
{
	char *copy = strdup(path);
	int rc = 0;

	if (!copy)
		return ib_oom(err);
	for (char *p = copy + 1;; p++) {
		char saved = *p;

		if (saved != '/' && saved != '\0')
			continue;
		*p = '\0';
		if (mkdir(copy, (mode_t)mode) != 0 && errno != EEXIST) {
			rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot create folder", copy);
			goto out;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		rc = ib_fail(err, IB_EIO, "%s: not a folder", path);
out:
	free(copy);
	return rc;
}

/* "." and ".." are not listed. */
static int not_dots(const struct dirent *de)
{
	const char *d = de->d_name;

	return !(d[0] == '.' && (d[1] == '\0' || (d[1] == '.' && d[2] == '\0')));
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

void plat_free_names(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

int plat_list_dir(const char *path, char ***names, size_t *count, struct ib_err *err)
{
	struct dirent **list;
	int n = scandir(path, &list, not_dots, cmp_names);

	*names = NULL;
	*count = 0;
	if (n < 0)
		return ib_fail_errno(err, errno == ENOMEM ? IB_ENOMEM : IB_EIO, errno,
		                     "%s: cannot list folder", path);
	/* Every entry is a block of its own: with its name moved to its start, it is the name's,
	   and the array of entries becomes the array of names. */
	for (int i = 0; i < n; i++) {
		const char *s = list[i]->d_name;
		char *name = (char *)list[i], *d = name;

		/* Copied forwards, as the name lies after the entry's start. */
		while ((*d++ = *s++) != '\0')
			;
		((char **)list)[i] = name;
	}
	*names = (char **)list;
	*count = (size_t)n;
	return 0;
}

int plat_remove_tree(const char *path, struct ib_err *err)
{
	enum plat_kind kind;
	char **names = NULL;
	size_t count = 0;
	int rc = plat_lstat(path, &kind, NULL, err);

	if (rc || kind == PLAT_MISSING)
		return rc;
	if (kind == PLAT_DIR)
		rc = plat_list_dir(path, &names, &count, err);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		char *child = ib_path_join(path, names[i]);

		if (!child) {
			rc = ib_oom(err);
			break;
		}
		rc = plat_remove_tree(child, err);
		free(child);
	}
	plat_free_names(names, count);
	/* The folder, now empty, or the file. */
	return rc ? rc : plat_remove(path, err);
}

int plat_isatty(FILE *f)
{
	return isatty(fileno(f));
}

int plat_read_passphrase(const char *prompt, char *buf, size_t cap, struct ib_err *err)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+");
	int rc = 0;
	size_t len;

	if (!tty)
		return ib_fail(err, IB_EUSAGE,
		               "no terminal to ask for the passphrase on; set IBDRV_PASSPHRASE");
	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) != 0) {
		rc = ib_fail_errno(err, IB_EIO, errno, "/dev/tty");
		goto out;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	if (!fgets(buf, (int)cap, tty))
		rc = ib_fail(err, IB_EUSAGE, "no passphrase was entered");
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	if (rc)
		goto out;
	len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && len + 1 == cap) {
		rc = ib_fail(err, IB_EUSAGE, "passphrase too long (at most %zu bytes)", cap - 2);
		goto out;
	}
	buf[len] = '\0';
out:
	fclose(tty);
	return rc;
}

void plat_utc_timestamp(char out[32])
{
	struct timespec now;
	struct tm tm;

	/* clock_gettime rather than time(): one libc import fewer. */
	clock_gettime(CLOCK_REALTIME, &now);
	if (!gmtime_r(&now.tv_sec, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		memcpy(out, "1970-01-01T00:00:00Z", sizeof "1970-01-01T00:00:00Z");
}

uint64_t plat_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void plat_sleep_ms(unsigned ms)
{
	uint64_t now = plat_monotonic_ms(), end = now + ms;

	/* poll wakes early on a signal: sleep again for what is left. */
	for (; now < end; now = plat_monotonic_ms())
		poll(NULL, 0, end - now > INT_MAX ? INT_MAX : (int)(end - now));
}

int plat_mtime_ns(const char *path, int64_t *ns, struct ib_err *err)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return ib_fail_errno(err, IB_EIO, errno, "%s", path);
	*ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return 0;
}

int plat_exe_path(char **out, struct ib_err *err)
{
	*out = realpath("/proc/self/exe", NULL);
	if (!*out)
		return ib_fail_errno(err, IB_EIO, errno, "/proc/self/exe");
	return 0;
}

char *plat_system_dir(enum plat_sysdir which)
{
	return strdup(which == PLAT_SYSDIR_STATE ? "/var/lib/ibdrv" : "/var/log/ibdrv");
}

void plat_use_utc_localtime(void)
{
	setenv("TZ", "UTC0", 1);
	tzset();
}

struct plat_thread {
	pthread_t id;
	void (*fn)(void *arg);
	void *arg;
};

static void *thread_main(void *p)
{
	struct plat_thread *t = p;

	t->fn(t->arg);
	return NULL;
}

int plat_thread_start(struct plat_thread **out, void (*fn)(void *arg), void *arg,
                      struct ib_err *err)
{
	struct plat_thread *t = malloc(sizeof *t);
	int e;

	*out = NULL;
	if (!t)
		return ib_oom(err);
	t->fn = fn;
	t->arg = arg;
	e = pthread_create(&t->id, NULL, thread_main, t);
	if (e) {
		free(t);
		return ib_fail_errno(err, IB_ENOMEM, e, "cannot start a thread");
	}
	*out = t;
	return 0;
}

void plat_thread_join(struct plat_thread *t)
{
	if (pthread_join(t->id, NULL) != 0)
		abort();
	free(t);
}

struct plat_monitor {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
};

int plat_monitor_new(struct plat_monitor **out, struct ib_err *err)
{
	struct plat_monitor *m = malloc(sizeof *m);
	int e;

	*out = NULL;
	if (!m)
		return ib_oom(err);
	e = pthread_mutex_init(&m->mutex, NULL);
	if (e == 0 && (e = pthread_cond_init(&m->cond, NULL)) != 0)
		pthread_mutex_destroy(&m->mutex);
	if (e) {
		free(m);
		return ib_fail_errno(err, IB_ENOMEM, e,
		                     "cannot create a mutex or condition variable");
	}
	*out = m;
	return 0;
}

void plat_monitor_free(struct plat_monitor *m)
{
	if (!m)
		return;
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->mutex);
	free(m);
}

void plat_monitor_enter(struct plat_monitor *m)
{
	if (pthread_mutex_lock(&m->mutex) != 0)
		abort();
}

void plat_monitor_leave(struct plat_monitor *m)
{
	if (pthread_mutex_unlock(&m->mutex) != 0)
		abort();
}

void plat_monitor_wait(struct plat_monitor *m)
{
	if (pthread_cond_wait(&m->cond, &m->mutex) != 0)
		abort();
}

void plat_monitor_notify(struct plat_monitor *m)
{
	if (pthread_cond_broadcast(&m->cond) != 0)
		abort();
}
