/*
 * cli.h - the options of ibdrv-install's commands, read from one table of names, commands and
 * places.
 *
 * "--name VALUE" and "--name=VALUE" both work, in any order. Each command
 * accepts its own subset; the values are kept as given (pointers into argv),
 * for the command to check. A problem is printed to stderr as
 * "ibdrv-install CMD: ... (see ibdrv-install --help)".
 */
#ifndef IBDRV_CLI_H
#define IBDRV_CLI_H

#include <stddef.h>

#define IB_CLI_LIST_MAX 16

/* Which commands accept an option. */
enum { IB_CLI_DETECT = 1, IB_CLI_PLAN = 2, IB_CLI_APPLY = 4, IB_CLI_HANDLER = 8 };

struct ib_cli {
	/* The first six in the order of struct ib_apply_opts's paths. */
	const char *bundle, *facts, *catalog, *root, *package_dir, *cacert, *sysfs_root,
	        *os_release, *kvp_pool, *imds_url, *download_timeout, *lock_wait, *wait,
	        *handler_dir;
	const char *pubkeys[IB_CLI_LIST_MAX];
	const char *urls[IB_CLI_LIST_MAX];
	size_t n_pubkeys, n_urls;
	int json, no_imds, allow_downgrade, verbose, help;
};

/* Fills *cli from argv[1..argc) for command (an IB_CLI_* bit): 0, or 100 once reported. */
int ib_cli_parse(int command, int argc, char **argv, struct ib_cli *cli);

/* Prints "ibdrv-install CMD: <fmt with arg> (see ibdrv-install --help)"; returns 100. */
int ib_cli_error(const char *cmd, const char *fmt, const char *arg);

/*
 * Reads the value s of option opt (NULL: *out keeps its default) as seconds from lo to hi
 * (decimal digits only): 0, or 100 once "opt: 's' is not lo to hi s" is reported for cmd.
 */
int ib_cli_seconds(const char *cmd, const char *opt, const char *s, unsigned lo, unsigned hi,
                   unsigned *out);

#endif
