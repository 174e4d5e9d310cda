/*
 * platform.h - every operating-system call the project makes, behind one API.
 *
 * platform_posix.c implements it for Linux, platform_win32.c for Windows; no
 * other source file includes an OS header or tests _WIN32. All functions
 * return 0 or a negative IB_E* code and fill err, naming the path involved.
 * Paths are UTF-8 with '/' separators; the Windows side converts.
 */
#ifndef IBDRV_PLATFORM_H
#define IBDRV_PLATFORM_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum plat_kind { PLAT_MISSING, PLAT_REGULAR, PLAT_DIR, PLAT_SYMLINK, PLAT_OTHER };

/* What path is, without following a final symlink; size is set for regular files. */
int plat_lstat(const char *path, enum plat_kind *kind, uint64_t *size, struct ib_err *err);

/* Opens an existing regular file for binary reading; refuses symlinks and devices. */
int plat_open_read(const char *path, FILE **out, struct ib_err *err);

/* Creates path exclusively (fails if it exists) with permission bits mode, for binary writing. */
int plat_create_excl(const char *path, int mode, FILE **out, struct ib_err *err);

/* Flushes f to stable storage and closes it (always closes, even on failure). */
int plat_sync_close(FILE *f, const char *path, struct ib_err *err);

/* Closes f, reporting a failed flush of what was written; always closes. */
int plat_close(FILE *f, const char *path, struct ib_err *err);

/*
 * Passes what was written to f on to the system and starts writing it to
 * storage without waiting, so that the final plat_sync_close has little left
 * to wait for. Only a failed flush is an error; the start is a hint.
 */
int plat_write_behind(FILE *f, const char *path, struct ib_err *err);

/* Renames from over to atomically, replacing to if it exists. */
int plat_rename_replace(const char *from, const char *to, struct ib_err *err);

/* Removes a file or an empty folder; a missing one is not an error. */
int plat_remove(const char *path, struct ib_err *err);

/* Creates path and its missing parents with permission bits mode. */
int plat_mkdir_p(const char *path, int mode, struct ib_err *err);

/* Removes path and everything below it, never following symlinks; missing is fine. */
int plat_remove_tree(const char *path, struct ib_err *err);

/* The names in a folder (no "." or ".."), sorted bytewise. Caller frees with plat_free_names. */
int plat_list_dir(const char *path, char ***names, size_t *count, struct ib_err *err);
void plat_free_names(char **names, size_t count);

/* Non-zero when f is an interactive terminal. */
int plat_isatty(FILE *f);

/* Reads a line from the terminal with echo off (prompt goes to the terminal). */
int plat_read_passphrase(const char *prompt, char *buf, size_t cap, struct ib_err *err);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ". */
void plat_utc_timestamp(char out[32]);

/* Milliseconds from an arbitrary fixed point, never going backwards. */
uint64_t plat_monotonic_ms(void);

/* Sleeps for ms milliseconds. */
void plat_sleep_ms(unsigned ms);

/* Last modification time of path in nanoseconds since the epoch (follows symlinks). */
int plat_mtime_ns(const char *path, int64_t *ns, struct ib_err *err);

/* The absolute path of the running program, symlinks resolved. Caller frees. */
int plat_exe_path(char **out, struct ib_err *err);

/*
 * ibdrv's machine-wide folders, before any --root prefix. POSIX: state
 * "/var/lib/ibdrv", logs "/var/log/ibdrv"; Windows: "%ProgramData%/ibdrv" and
 * "%ProgramData%/ibdrv/logs". Returns a malloc'd string, NULL when out of memory.
 */
enum plat_sysdir { PLAT_SYSDIR_STATE, PLAT_SYSDIR_LOG };
char *plat_system_dir(enum plat_sysdir which);

/* Makes this process's local time UTC (zip stores local times; reproducible output needs one). */
void plat_use_utc_localtime(void);

/*
 * Threads, for the few workers that overlap hashing with compression. A
 * thread runs fn(arg) and is joined exactly once; a monitor is a mutex with
 * one condition variable. Both are opaque so that this header stays OS-neutral.
 * Only starting a thread or creating a monitor can fail (out of resources);
 * the rest cannot, short of a program error, which aborts.
 */
struct plat_thread;
struct plat_monitor;

int plat_thread_start(struct plat_thread **out, void (*fn)(void *arg), void *arg,
                      struct ib_err *err);
/* Waits for the thread's function to return and frees the handle. */
void plat_thread_join(struct plat_thread *t);

int plat_monitor_new(struct plat_monitor **out, struct ib_err *err);
/* NULL is fine; no thread may be inside or waiting. */
void plat_monitor_free(struct plat_monitor *m);
void plat_monitor_enter(struct plat_monitor *m);
void plat_monitor_leave(struct plat_monitor *m);
/* Releases the monitor, sleeps until notified (or spuriously), re-enters: recheck in a loop. */
void plat_monitor_wait(struct plat_monitor *m);
/* Wakes every thread waiting on m; call it inside the monitor. */
void plat_monitor_notify(struct plat_monitor *m);

#endif
