#include "cli.h"

#include "commands.h"

#include <stdio.h>
#include <string.h>

#define OFF(member) offsetof(struct ib_cli, member)
#define VALUE 0x10 /* takes a value */
#define LIST 0x20  /* takes a value, may repeat */
#define ALL (IB_CLI_DETECT | IB_CLI_PLAN | IB_CLI_APPLY | IB_CLI_HANDLER)
#define ENGINE (IB_CLI_PLAN | IB_CLI_APPLY)

static const struct {
	char name[18];
	unsigned char flags; /* commands, VALUE, LIST */
	unsigned short offset;
} table[] = {
        {"bundle", ENGINE | VALUE, OFF(bundle)},
        {"url", ENGINE | LIST, OFF(urls)},
        {"pubkey", ENGINE | IB_CLI_HANDLER | LIST, OFF(pubkeys)},
        {"facts", ALL | VALUE, OFF(facts)},
        {"catalog", IB_CLI_DETECT | ENGINE | VALUE, OFF(catalog)},
        {"root", ALL | VALUE, OFF(root)},
        {"sysfs-root", IB_CLI_DETECT | ENGINE | VALUE, OFF(sysfs_root)},
        {"os-release", IB_CLI_DETECT | VALUE, OFF(os_release)},
        {"kvp-pool", IB_CLI_DETECT | VALUE, OFF(kvp_pool)},
        {"imds-url", IB_CLI_DETECT | ENGINE | VALUE, OFF(imds_url)},
        {"no-imds", IB_CLI_DETECT | ENGINE, OFF(no_imds)},
        {"cacert", ENGINE | VALUE, OFF(cacert)},
        {"download-timeout", ENGINE | VALUE, OFF(download_timeout)},
        {"allow-downgrade", ENGINE, OFF(allow_downgrade)},
        {"json", IB_CLI_DETECT | ENGINE, OFF(json)},
        {"package-dir", ENGINE | VALUE, OFF(package_dir)},
        {"lock-wait", IB_CLI_APPLY | IB_CLI_HANDLER | VALUE, OFF(lock_wait)},
        {"handler-dir", IB_CLI_HANDLER | VALUE, OFF(handler_dir)},
        {"wait", IB_CLI_HANDLER | VALUE, OFF(wait)},
        {"verbose", IB_CLI_DETECT, OFF(verbose)},
        {"help", IB_CLI_DETECT, OFF(help)},
};

int ib_cli_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "ibdrv-install %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fputs(" (see ibdrv-install --help)\n", stderr);
	return IB_EXT_UNSUPPORTED;
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
		while (k < sizeof table / sizeof table[0] &&
		       (!(table[k].flags & command) || strncmp(table[k].name, name, len) ||
		        table[k].name[len]))
			k++;
		if (k == sizeof table / sizeof table[0] ||
		    (eq && !(table[k].flags & (VALUE | LIST))))
			return ib_cli_error(argv[0], "unknown option '%s'", a);
		field = (char *)cli + table[k].offset;
		if (!(table[k].flags & (VALUE | LIST))) {
			*(int *)field = 1;
			continue;
		}
		value = eq ? eq + 1 : ++i < argc ? argv[i] : NULL;
		if (!value)
			return ib_cli_error(argv[0], "%s needs a value", a);
		if (table[k].flags & VALUE) {
			*(const char **)field = value;
		} else {
			size_t *n = table[k].offset == OFF(urls) ? &cli->n_urls : &cli->n_pubkeys;
			if (*n == IB_CLI_LIST_MAX)
				return ib_cli_error(argv[0], "%s given more than 16 times", a);
			((const char **)field)[(*n)++] = value;
		}
	}
	return 0;
}

int ib_cli_seconds(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 6)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}
