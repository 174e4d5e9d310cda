#include "commands.h"

#include "platform.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_exit(int rc, const struct ib_err *err)
{
	if (rc == 0)
		return 0;
	fprintf(stderr, "ibdrv-build: %s\n", err && err->msg[0] ? err->msg : ib_code_name(rc));
	return rc == IB_EUSAGE ? 2 : 1;
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("ibdrv-build: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see ibdrv-build --help)\n", stderr);
	return 2;
}

int cli_passphrase(int confirm, char *buf, size_t cap, struct ib_err *err)
{
	const char *env = getenv("IBDRV_PASSPHRASE");
	char *again = NULL;
	int rc;

	if (env) {
		if (strlen(env) + 1 > cap)
			return ib_fail(err, IB_EUSAGE,
			               "IBDRV_PASSPHRASE is too long (at most %zu bytes)", cap - 1);
		memcpy(buf, env, strlen(env) + 1);
		return 0;
	}
	rc = plat_read_passphrase("Passphrase: ", buf, cap, err);
	if (rc || !confirm)
		return rc;
	again = sodium_malloc(cap);
	if (!again)
		return ib_oom(err);
	rc = plat_read_passphrase("Passphrase (again): ", again, cap, err);
	if (rc == 0 && strcmp(buf, again) != 0)
		rc = ib_fail(err, IB_EUSAGE, "the passphrases do not match");
	sodium_free(again);
	return rc;
}
