/* ibdrv-install: detects the VM, picks, verifies and applies its InfiniBand driver. */
#include "commands.h"
#include "err.h"
#include "log.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* The commands, in the order of run[], then --version and the ways to ask for help. */
static const char names[] = "detect\0plan\0apply\0install\0enable\0disable\0uninstall\0update\0"
                            "worker\0--version\0-h\0--help\0help";
static int (*const run[])(int argc, char **argv) = {
        cmd_detect,  cmd_plan,    cmd_apply,   cmd_handler, cmd_handler,
        cmd_handler, cmd_handler, cmd_handler, cmd_worker,
};

/*
 * In the text below, CMD starts a command's line and INDENT (with the argument "") aligns a
 * continued one; the arguments follow them in order.
 */
#define CMD "%s"
#define INDENT "%22s"
#define LINE_START "  ibdrv-install " /* the argument of CMD */

static void usage(FILE *out)
{
	/* clang-format off */
	fprintf(out,
	        "usage: ibdrv-install COMMAND [OPTIONS]\n\ncommands:\n"
	        CMD "detect [--json] [--root DIR] [--sysfs-root DIR] [--os-release F] [--kvp-pool F]\n"
	        INDENT " [--imds-url URL | --no-imds] [--facts F] [--catalog F]\n"
	        CMD "plan [--json] [--bundle B] --pubkey KEY.pub... [--facts F] [--catalog F]\n"
	        CMD "apply [--bundle B | --url URL...] --pubkey KEY.pub... [--facts F] [--root DIR]\n"
	        INDENT "[--allow-downgrade] [--cacert F] [--download-timeout S]\n"
	        INDENT "[--lock-wait S] [--catalog F] [--json]\n"
	        CMD "install|enable|disable|uninstall|update   (extension handler)\n"
	        INDENT "[--handler-dir DIR] [--root DIR] [--facts F] [--pubkey KEY.pub]...\n"
	        INDENT "[--lock-wait S] [--wait S]\n"
	        "\nexit codes: 0 success, 3010 reboot required, 100 not supported or failed,\n"
	        "240/840 timed out, -1 unexpected error (POSIX shows 3010 as 194, 840 as 72,\n"
	        "-1 as 255; the full code is in --json output and the status file)\n",
	        LINE_START, "", LINE_START, LINE_START, "", "", LINE_START, "", "");
	/* clang-format on */
}

int main(int argc, char **argv)
{
	const size_t n_run = sizeof run / sizeof run[0];
	const char *name = names;
	size_t i = 0;
	int code;

	if (argc < 2) {
		usage(stderr);
		return IB_EXT_UNSUPPORTED;
	}
	for (; *name && strcmp(argv[1], name); name += strlen(name) + 1)
		i++;
	if (!*name) {
		fprintf(stderr, "ibdrv-install: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return IB_EXT_UNSUPPORTED;
	}
	if (i > n_run) {
		usage(stdout);
		return 0;
	}
	if (i == n_run) {
		printf("ibdrv-install %s\n", IBDRV_VERSION);
		return 0;
	}
	/* "CMD --help": detect explains its own options; the other commands share this usage. */
	if (i > 0 && argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "ibdrv-install: cannot initialise libsodium\n");
		return 255;
	}
	code = run[i](argc - 1, argv + 1);
	ib_log_close();
	return code & 0xff;
}
