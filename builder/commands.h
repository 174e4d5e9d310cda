/*
 * commands.h - the subcommands of ibdrv-build. Each takes the arguments after
 * its name (argv[0] is the subcommand) and returns the process exit code:
 * 0 success, 1 failure (bad input, invalid signature, I/O), 2 usage error.
 */
#ifndef IBDRV_BUILDER_COMMANDS_H
#define IBDRV_BUILDER_COMMANDS_H

#include "err.h"

#include <stddef.h>

int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_extension(int argc, char **argv);

/* Prints err's message as "ibdrv-build: ..." and maps rc to an exit code (usage 2, else 1). */
int cli_exit(int rc, const struct ib_err *err);

/* Prints a usage error and returns 2. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The passphrase: IBDRV_PASSPHRASE when set, else asked on the terminal with
 * echo off (twice when confirm). buf is wiped by the caller after use.
 */
int cli_passphrase(int confirm, char *buf, size_t cap, struct ib_err *err);

#endif
