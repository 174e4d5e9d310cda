#include "err.h"

#include <stdio.h>
#include <string.h>

void ib_err_clear(struct ib_err *err)
{
	if (!err)
		return;
	err->code = IB_OK;
	err->msg[0] = '\0';
}

static int vfail(struct ib_err *err, int code, int sys_errno, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	err->code = code;
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	if (sys_errno) {
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof err->msg - len, ": %s", strerror(sys_errno));
	}
	return code;
}

int ib_fail(struct ib_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int ib_oom(struct ib_err *err)
{
	return ib_fail(err, IB_ENOMEM, "out of memory");
}

int ib_fail_errno(struct ib_err *err, int code, int sys_errno, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, code, sys_errno, fmt, ap);
	va_end(ap);
	return code;
}

void ib_err_prefix(struct ib_err *err, const char *fmt, ...)
{
	char prefix[IB_ERR_MSG_MAX];
	char old[IB_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* A message cut at the buffer's end says so, instead of ending mid-word. */
	if (snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old) >= (int)sizeof err->msg)
		memcpy(err->msg + sizeof err->msg - 4, "...", 4);
}

const char *ib_code_name(int code)
{
	switch (code) {
	case IB_OK:
		return "ok";
	case IB_EUSAGE:
		return "usage error";
	case IB_EINPUT:
		return "bad input";
	case IB_EIO:
		return "I/O error";
	case IB_EVERIFY:
		return "verification failed";
	case IB_ENOMEM:
		return "out of memory";
	case IB_ENOTSUP:
		return "not supported";
	case IB_ETIMEOUT:
		return "timed out";
	case IB_EBUSY:
		return "busy";
	case IB_ENET:
		return "download failed";
	case IB_EEXIST:
		return "already exists";
	default:
		return "internal error";
	}
}
