/*
 * err.h - the one error convention of the project.
 *
 * Every fallible function returns 0 on success or one of the negative IB_E*
 * codes below, and fills a caller-owned struct ib_err with a one-line human
 * message that names the file (and key, entry or offset) and what is wrong.
 * The innermost function that knows the cause writes the message; callers
 * pass the code up unchanged and may add context with ib_err_prefix().
 */
#ifndef IBDRV_ERR_H
#define IBDRV_ERR_H

#include <stdarg.h>

enum ib_code {
	IB_OK = 0,
	IB_EUSAGE = -1,    /* wrong command line */
	IB_EINPUT = -2,    /* malformed or inconsistent input file */
	IB_EIO = -3,       /* a system call on a file or folder failed */
	IB_EVERIFY = -4,   /* a signature, hash, size or key check failed */
	IB_ENOMEM = -5,    /* out of memory */
	IB_ENOTSUP = -6,   /* valid request that this VM/bundle cannot satisfy */
	IB_ETIMEOUT = -7,  /* a deadline passed */
	IB_EBUSY = -8,     /* another run holds the lock */
	IB_ENET = -9,      /* a download failed */
	IB_EEXIST = -10,   /* refusing to overwrite */
	IB_EINTERNAL = -11 /* a bug or an unexpected library failure */
};

#define IB_ERR_MSG_MAX 1024

struct ib_err {
	int code;
	char msg[IB_ERR_MSG_MAX];
};

/* Resets err to "no error". */
void ib_err_clear(struct ib_err *err);

/* Records code and a printf-style message in err (err may be NULL); returns code. */
int ib_fail(struct ib_err *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* ib_fail(err, IB_ENOMEM, "out of memory"), the commonest failure, in one short call. */
int ib_oom(struct ib_err *err);

/* Like ib_fail, with the message built from errno-style text of sys_errno appended. */
int ib_fail_errno(struct ib_err *err, int code, int sys_errno, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Puts "context: " in front of the message already in err. */
void ib_err_prefix(struct ib_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short name for a code ("bad input", "verification failed", ...). */
const char *ib_code_name(int code);

#endif
