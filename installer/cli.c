#include "cli.h"

#include "commands.h"

#include <stdio.h>
#include <string.h>

#define VALUE 0x10 /* takes a value */
#define LIST 0x20  /* takes a value, may repeat */
#define ALL (IB_CLI_DETECT | IB_CLI_PLAN | IB_CLI_APPLY | IB_CLI_HANDLER)
#define ENGINE (IB_CLI_PLAN | IB_CLI_APPLY)
/* Where an option goes, in units of 4 bytes (every member is so aligned). */
#define AT(member) (offsetof(struct ib_cli, member) / 4)

/* The options, in the order of flags[] and at[]. */
static const char names[] = "bundle\0url\0pubkey\0facts\0catalog\0root\0sysfs-root\0os-release\0"
                            "kvp-pool\0imds-url\0no-imds\0cacert\0download-timeout\0"
                            "allow-downgrade\0json\0package-dir\0lock-wait\0handler-dir\0wait\0"
                            "verbose\0help\0";

/* The commands that accept it, VALUE, LIST. */
static const unsigned char flags[] = {
        ENGINE | VALUE,
        IB_CLI_APPLY | LIST, /* plan does not download */
        ENGINE | IB_CLI_HANDLER | LIST,
        ALL | VALUE,
        IB_CLI_DETECT | ENGINE | VALUE,
        ALL | VALUE,
        IB_CLI_DETECT | ENGINE | VALUE,
        IB_CLI_DETECT | VALUE,
        IB_CLI_DETECT | VALUE,
        IB_CLI_DETECT | ENGINE | VALUE,
        IB_CLI_DETECT | ENGINE,
        ENGINE | VALUE,
        ENGINE | VALUE,
        ENGINE,
        IB_CLI_DETECT | ENGINE,
        ENGINE | VALUE,
        IB_CLI_APPLY | IB_CLI_HANDLER | VALUE,
        IB_CLI_HANDLER | VALUE,
        IB_CLI_HANDLER | VALUE,
        IB_CLI_DETECT,
        IB_CLI_DETECT,
};

static const unsigned char at[] = {
        AT(bundle),
        AT(urls),
        AT(pubkeys),
        AT(facts),
        AT(catalog),
        AT(root),
        AT(sysfs_root),
        AT(os_release),
        AT(kvp_pool),
        AT(imds_url),
        AT(no_imds),
        AT(cacert),
        AT(download_timeout),
        AT(allow_downgrade),
        AT(json),
        AT(package_dir),
        AT(lock_wait),
        AT(handler_dir),
        AT(wait),
        AT(verbose),
        AT(help),
};

_Static_assert(sizeof flags == sizeof at && sizeof(struct ib_cli) / 4 < 256, "option tables");

/* Ends a reported problem. */
static int see_help(void)
{
	fputs(" (see ibdrv-install --help)\n", stderr);
	return IB_EXT_UNSUPPORTED;
}

int ib_cli_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "ibdrv-install %s: ", cmd);
	fprintf(stderr, fmt, arg);
	return see_help();
}

int ib_cli_parse(int command, int argc, char **argv, struct ib_cli *cli)
{
	memset(cli, 0, sizeof *cli);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name = a + 2, *eq = strchr(a, '='), *value;
		size_t len = eq ? (size_t)(eq - name) : strlen(name), k = 0;
		char *field;

		if (a[0] != '-')
			return ib_cli_error(argv[0], "unexpected argument '%s'", a);
		if (!strcmp(a, "-h"))
			name = "help", len = 4;
		else if (a[1] != '-')
			name = "", len = 0; /* matches no row */
		for (const char *n = names; *n; n += strlen(n) + 1, k++)
			if ((flags[k] & command) && !strncmp(n, name, len) && !n[len])
				break;
		if (k == sizeof flags || (eq && !(flags[k] & (VALUE | LIST))))
			return ib_cli_error(argv[0], "unknown option '%s'", a);
		field = (char *)cli + at[k] * 4;
		if (!(flags[k] & (VALUE | LIST))) {
			*(int *)field = 1;
			continue;
		}
		value = eq ? eq + 1 : ++i < argc ? argv[i] : NULL;
		if (!value)
			return ib_cli_error(argv[0], "%s needs a value", a);
		if (flags[k] & VALUE) {
			*(const char **)field = value;
		} else {
			size_t *n = at[k] == AT(urls) ? &cli->n_urls : &cli->n_pubkeys;
			if (*n == IB_CLI_LIST_MAX)
				return ib_cli_error(argv[0], "%s given more than 16 times", a);
			((const char **)field)[(*n)++] = value;
		}
	}
	return 0;
}

int ib_cli_seconds(const char *cmd, const char *opt, const char *s, unsigned lo, unsigned hi,
                   unsigned *out)
{
	unsigned long v = 0;

	if (!s)
		return 0;
	if (!*s || strlen(s) > 6)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < lo || v > hi)
		goto bad;
	*out = (unsigned)v;
	return 0;
bad:
	fprintf(stderr, "ibdrv-install %s: %s: '%s' is not %u to %u s", cmd, opt, s, lo, hi);
	return see_help();
}
