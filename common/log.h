/*
 * log.h - the logger, the project's only global state.
 *
 * Messages go to stderr (plain, for people) and, once ib_log_open_file() has
 * been called, also to a log file with a UTC timestamp and level on each line
 * (for the extension handler's logFolder). Each line is written whole, so
 * threads may log at the same time; lines are cut at 2 KiB. Set the level and
 * the file before starting threads. Never pass secrets to the logger.
 */
#ifndef IBDRV_LOG_H
#define IBDRV_LOG_H

enum ib_log_level { IB_LOG_ERROR = 0, IB_LOG_WARN = 1, IB_LOG_INFO = 2, IB_LOG_DEBUG = 3 };

/* Messages above this level are dropped from stderr (the log file takes INFO and up). */
void ib_log_set_level(enum ib_log_level level);

/* Appends to path from now on; returns 0 or a negative IB_E* code. */
int ib_log_open_file(const char *path);

/* Stops writing to stderr (handler mode: the agent does not read it). */
void ib_log_quiet_stderr(int quiet);

void ib_log_close(void);

void ib_log(enum ib_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ib_error(...) ib_log(IB_LOG_ERROR, __VA_ARGS__)
#define ib_warn(...) ib_log(IB_LOG_WARN, __VA_ARGS__)
#define ib_info(...) ib_log(IB_LOG_INFO, __VA_ARGS__)
#define ib_debug(...) ib_log(IB_LOG_DEBUG, __VA_ARGS__)

#endif
