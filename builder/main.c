/* ibdrv-build: keys, signatures and signed driver bundles for release engineers. */
#include "commands.h"
#include "log.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
} commands[] = {
        {"keygen", cmd_keygen, "keygen -p KEY.pub -s KEY.sec [-W] [-f]"},
        {"sign", cmd_sign, "sign -s KEY.sec [-t COMMENT] FILE..."},
        {"verify", cmd_verify, "verify -p KEY.pub [-q] FILE"},
        {"pack", cmd_pack,
         "pack -m MANIFEST.json -s KEY.sec -o BUNDLE [--compression none|gzip|zstd] [--level N] "
         "[--quiet]"},
        {"inspect", cmd_inspect, "inspect [--json] BUNDLE"},
        {"extension", cmd_extension,
         "extension --installer PATH --pubkey KEY.pub... [--bundle BUNDLE] [--url URL]... "
         "[--name NAME] [-f] -o EXT.zip"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ibdrv-build COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  ibdrv-build %s\n", commands[i].synopsis);
	fprintf(out, "\nexit codes: 0 success, 1 failure, 2 usage error\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("ibdrv-build %s\n", IBDRV_VERSION);
		return 0;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "ibdrv-build: cannot initialise libsodium\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			int rc = commands[i].run(argc - 1, argv + 1);
			ib_log_close();
			return rc;
		}
	}
	fprintf(stderr, "ibdrv-build: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
