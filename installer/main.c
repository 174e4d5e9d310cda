/* ibdrv-install: detects the VM, picks, verifies and applies its InfiniBand driver. */
#include "commands.h"
#include "err.h"
#include "log.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
} commands[] = {
        {"detect", cmd_detect,
         "detect [--json] [--root DIR] [--sysfs-root DIR] [--os-release F] [--kvp-pool F]\n"
         "                       [--imds-url URL | --no-imds] [--facts F] [--catalog F]"},
        {"plan", cmd_plan,
         "plan [--json] [--bundle B] --pubkey KEY.pub... [--facts F] [--catalog F]"},
        {"apply", cmd_apply,
         "apply [--bundle B | --url URL...] --pubkey KEY.pub... [--facts F] [--root DIR]\n"
         "                      [--allow-downgrade] [--cacert F] [--download-timeout S]\n"
         "                      [--lock-wait S] [--catalog F] [--json]"},
        {"install", cmd_handler,
         "install|enable|disable|uninstall|update   (extension handler)\n"
         "                      [--handler-dir DIR] [--root DIR] [--facts F] [--pubkey "
         "KEY.pub]...\n"
         "                      [--lock-wait S] [--wait S]"},
        {"enable", cmd_handler, NULL},
        {"disable", cmd_handler, NULL},
        {"uninstall", cmd_handler, NULL},
        {"update", cmd_handler, NULL},
        {"worker", cmd_worker, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ibdrv-install COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].synopsis)
			fprintf(out, "  ibdrv-install %s\n", commands[i].synopsis);
	fprintf(out, "\nexit codes: 0 success, 3010 reboot required, 100 not supported or failed,\n"
	             "240/840 timed out, -1 unexpected error (POSIX shows 3010 as 194, 840 as 72,\n"
	             "-1 as 255; the full code is in --json output and the status file)\n");
}

int main(int argc, char **argv)
{
	int code;

	if (argc < 2) {
		usage(stderr);
		return IB_EXT_UNSUPPORTED;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("ibdrv-install %s\n", IBDRV_VERSION);
		return 0;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "ibdrv-install: cannot initialise libsodium\n");
		return 255;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			code = commands[i].run(argc - 1, argv + 1);
			ib_log_close();
			return code & 0xff;
		}
	}
	fprintf(stderr, "ibdrv-install: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return IB_EXT_UNSUPPORTED;
}
