/* ibdrv-build sign: FILE.minisig for each FILE, as minisign -S would write it. */
#include "commands.h"
#include "hash.h"
#include "minisign.h"
#include "outfile.h"
#include "path.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PASSPHRASE_MAX 1024

static const char synopsis[] =
        "sign -s KEY.sec [-t TRUSTED_COMMENT] [-c UNTRUSTED_COMMENT] FILE...";

/* SOURCE_DATE_EPOCH when set (reproducible builds), else the current time. */
static int sign_timestamp(unsigned long long *out, struct ib_err *err)
{
	const char *env = getenv("SOURCE_DATE_EPOCH");
	char *end = NULL;

	if (!env) {
		*out = (unsigned long long)time(NULL);
		return 0;
	}
	errno = 0;
	if (env[0] >= '0' && env[0] <= '9')
		*out = strtoull(env, &end, 10);
	if (!end || *end != '\0' || errno != 0)
		return ib_fail(err, IB_EUSAGE,
		               "SOURCE_DATE_EPOCH must be a number of seconds since 1970, not '%s'",
		               env);
	return 0;
}

static int sign_one(const struct ib_seckey *sk, const char *file, const char *trusted,
                    const char *untrusted, unsigned long long ts, struct ib_err *err)
{
	unsigned char hash[IB_HASH_SIG_BYTES];
	struct ib_outfile of = {0};
	char *own_tc = NULL, *sig_path = NULL, *text = NULL;
	size_t len;
	int rc;

	rc = ib_hash_file(file, sizeof hash, hash, err);
	if (rc)
		return rc;
	if (!trusted || !*trusted) {
		/* minisign's default, so that its users see what they expect. */
		len = strlen(file) + 64;
		own_tc = malloc(len);
		if (!own_tc) {
			rc = ib_oom(err);
			goto out;
		}
		snprintf(own_tc, len, "timestamp:%llu\tfile:%s\thashed", ts,
		         ib_path_basename(file));
		trusted = own_tc;
	}
	rc = ib_sign_hash(sk, hash, trusted, untrusted, &text, err);
	if (rc) {
		ib_err_prefix(err, "%s", file);
		goto out;
	}
	sig_path = ib_sig_path_for(file);
	if (!sig_path) {
		rc = ib_oom(err);
		goto out;
	}
	rc = ib_outfile_open(&of, sig_path, 0644, err);
	if (rc)
		goto out;
	if (fputs(text, of.fp) == EOF) {
		rc = ib_fail(err, IB_EIO, "%s: cannot write", of.tmp_path);
		goto out;
	}
	rc = ib_outfile_commit(&of, 1, err);
out:
	ib_outfile_abort(&of);
	free(own_tc);
	free(sig_path);
	free(text);
	return rc;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"seckey", required_argument, NULL, 's'},
	        {"trusted-comment", required_argument, NULL, 't'},
	        {"comment", required_argument, NULL, 'c'},
	        {NULL, 0, NULL, 0},
	};
	const char *sec = NULL, *trusted = NULL, *untrusted = NULL;
	struct ib_seckey *sk = NULL;
	unsigned long long ts = 0;
	struct ib_err err;
	char *pass = NULL;
	int opt, rc;

	ib_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":s:t:c:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sec = optarg;
			break;
		case 't':
			trusted = optarg;
			break;
		case 'c':
			untrusted = optarg;
			break;
		case ':':
			return cli_usage("sign: option -%c needs a value; usage: %s", optopt,
			                 synopsis);
		default:
			return cli_usage("sign: unknown option '%s'; usage: %s", argv[optind - 1],
			                 synopsis);
		}
	}
	if (!sec)
		return cli_usage("sign: -s KEY.sec is required; usage: %s", synopsis);
	if (optind == argc)
		return cli_usage("sign: no file to sign; usage: %s", synopsis);
	if (untrusted && !*untrusted)
		untrusted = NULL;

	rc = sign_timestamp(&ts, &err);
	if (!rc)
		rc = ib_seckey_load(sec, &sk, &err);
	if (rc)
		goto out;
	if (ib_seckey_is_encrypted(sk)) {
		pass = sodium_malloc(PASSPHRASE_MAX);
		if (!pass) {
			rc = ib_oom(&err);
			goto out;
		}
		rc = cli_passphrase(0, pass, PASSPHRASE_MAX, &err);
		if (!rc)
			rc = ib_seckey_decrypt(sk, pass, &err);
		if (rc)
			goto out;
	}
	for (int i = optind; i < argc && rc == 0; i++)
		rc = sign_one(sk, argv[i], trusted, untrusted, ts, &err);
out:
	if (pass)
		sodium_free(pass);
	ib_seckey_free(sk);
	return cli_exit(rc, &err);
}
