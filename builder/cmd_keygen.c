/* ibdrv-build keygen: a minisign-compatible key pair. */
#include "commands.h"
#include "outfile.h"
#include "minisign.h"
#include "platform.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PASSPHRASE_MAX 1024

static const char synopsis[] = "keygen -p KEY.pub -s KEY.sec [-W] [-f]";

int cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"pubkey", required_argument, NULL, 'p'},
	        {"seckey", required_argument, NULL, 's'},
	        {"unencrypted", no_argument, NULL, 'W'},
	        {"force", no_argument, NULL, 'f'},
	        {NULL, 0, NULL, 0},
	};
	const char *pub = NULL, *sec = NULL;
	struct ib_pubkey key;
	struct ib_err err;
	char *pass = NULL;
	char keyid[17];
	int unencrypted = 0, force = 0, opt, rc;

	ib_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:s:Wf", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pub = optarg;
			break;
		case 's':
			sec = optarg;
			break;
		case 'W':
			unencrypted = 1;
			break;
		case 'f':
			force = 1;
			break;
		case ':':
			return cli_usage("keygen: option -%c needs a value; usage: %s", optopt,
			                 synopsis);
		default:
			return cli_usage("keygen: unknown option '%s'; usage: %s", argv[optind - 1],
			                 synopsis);
		}
	}
	if (optind != argc)
		return cli_usage("keygen: unexpected argument '%s'; usage: %s", argv[optind],
		                 synopsis);
	if (!pub || !sec)
		return cli_usage("keygen: both -p and -s are required; usage: %s", synopsis);

	/* Before asking for a passphrase that would go to waste. */
	if (!force) {
		rc = ib_outfile_refuse_existing(pub, &err);
		if (!rc)
			rc = ib_outfile_refuse_existing(sec, &err);
		if (rc)
			goto out;
	}
	if (!unencrypted) {
		pass = sodium_malloc(PASSPHRASE_MAX);
		if (!pass) {
			rc = ib_oom(&err);
			goto out;
		}
		rc = cli_passphrase(1, pass, PASSPHRASE_MAX, &err);
		if (rc)
			goto out;
		if (pass[0] == '\0') {
			rc = ib_fail(&err, IB_EUSAGE,
			             "empty passphrase; use -W for an unencrypted secret key");
			goto out;
		}
	}
	rc = ib_keygen(pub, sec, pass, force, &err);
	if (rc)
		goto out;
	rc = ib_pubkey_load(pub, &key, &err);
	if (rc)
		goto out;
	ib_keyid_str(key.keynum, keyid);
	printf("The secret key was saved as %s - Keep it secret!\n"
	       "The public key was saved as %s - That one can be public.\n"
	       "Key ID: %s\n",
	       sec, pub, keyid);
out:
	if (pass)
		sodium_free(pass);
	return cli_exit(rc, &err);
}
