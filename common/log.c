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

/* Arrays, not pointers: nothing to relocate at start-up. */
static const char level_names[][6] = {"ERROR", "WARN", "INFO", "DEBUG"};

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
	static const char prefixes[][10] = {"error: ", "warning: ", "", ""};
	char line[2048];
	va_list ap;

	/* One write per line: a download logs from its worker thread while the main thread logs. */
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (!logger.quiet_stderr && level <= logger.level)
		fprintf(stderr, "%s%s\n", prefixes[level], line);
	if (logger.file && level <= IB_LOG_INFO) {
		char stamp[32];

		plat_utc_timestamp(stamp);
		fprintf(logger.file, "%s %s %s\n", stamp, level_names[level], line);
		fflush(logger.file);
	}
}
