#include "log.h"

#include "err.h"
#include "platform.h"

#include <stdarg.h>
#include <stdio.h>

static struct {
	enum ib_log_level level;
	int quiet_stderr;
	FILE *file;
} logger = {IB_LOG_INFO, 0, NULL};

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void ib_log_set_level(enum ib_log_level level)
{
	logger.level = level;
}

int ib_log_open_file(const char *path)
{
	FILE *f = fopen(path, "a");

	if (!f)
		return IB_EIO;
	ib_log_close();
	logger.file = f;
	return 0;
}

void ib_log_quiet_stderr(int quiet)
{
	logger.quiet_stderr = quiet;
}

void ib_log_close(void)
{
	if (logger.file)
		fclose(logger.file);
	logger.file = NULL;
}

void ib_log(enum ib_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!logger.quiet_stderr && level <= logger.level) {
		va_start(ap, fmt);
		if (level == IB_LOG_ERROR)
			fputs("error: ", stderr);
		else if (level == IB_LOG_WARN)
			fputs("warning: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	if (logger.file && level <= IB_LOG_INFO) {
		char stamp[32];

		plat_utc_timestamp(stamp);
		fprintf(logger.file, "%s %s ", stamp, level_names[level]);
		va_start(ap, fmt);
		vfprintf(logger.file, fmt, ap);
		va_end(ap);
		fputc('\n', logger.file);
		fflush(logger.file);
	}
}
