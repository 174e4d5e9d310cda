/* ibdrv-build verify: checks FILE against its minisign signature, like minisign -V; a bundle
 * (told by its signed trusted comment) also has every entry checked against its manifest. */
#include "bundle.h"
#include "commands.h"
#include "hash.h"
#include "minisign.h"

#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char synopsis[] = "verify -p KEY.pub [-x SIGFILE] [-q] FILE";

/*
 * The checks minisign -V makes, in its order: the key ID, the signature of
 * the file's BLAKE2b-512, then the signature of the trusted comment.
 */
static int verify_plain(const char *file, const char *sig_path, const struct ib_pubkey *key,
                        const struct ib_sig *sig, struct ib_err *err)
{
	unsigned char hash[IB_HASH_SIG_BYTES];
	int rc;

	rc = ib_hash_file(file, sizeof hash, hash, err);
	if (rc)
		return rc;
	rc = ib_sig_check_hash(sig, key, hash, err);
	if (rc) {
		ib_err_prefix(err, "%s", file);
		return rc;
	}
	rc = ib_sig_check_comment(sig, key, 1, NULL, err);
	if (rc)
		ib_err_prefix(err, "%s", sig_path);
	return rc;
}

/* A bundle's signature says so in its trusted comment; then every entry is checked too. */
static int verify_bundle(const char *file, const char *sig_path, const struct ib_pubkey *key,
                         int quiet, struct ib_err *err)
{
	struct ib_read_opts o = {.keys = key, .n_keys = 1, .sig_path = sig_path, .quiet = quiet};
	struct ib_bundle b;
	size_t n_files = 0;
	int rc = ib_bundle_read(file, &o, &b, err);

	if (rc)
		return rc;
	for (size_t i = 0; i < b.manifest->n_drivers; i++)
		n_files += b.manifest->drivers[i].n_files;
	if (!quiet)
		printf("Signature and comment signature verified\nTrusted comment: %s\n"
		       "Bundle %s, sequence %" PRIu64 ": %zu drivers, %zu files, all match the "
		       "manifest\n",
		       b.sig.trusted_comment, b.manifest->name, b.manifest->sequence,
		       b.manifest->n_drivers, n_files);
	ib_bundle_release(&b);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"pubkey", required_argument, NULL, 'p'},
	        {"sigfile", required_argument, NULL, 'x'},
	        {"quiet", no_argument, NULL, 'q'},
	        {NULL, 0, NULL, 0},
	};
	const char *pub = NULL, *file = NULL, *sig_opt = NULL;
	char *sig_path = NULL;
	struct ib_sig *sig = NULL;
	struct ib_pubkey key;
	struct ib_err err;
	int quiet = 0, opt, rc;

	ib_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:x:q", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pub = optarg;
			break;
		case 'x':
			sig_opt = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case ':':
			return cli_usage("verify: option -%c needs a value; usage: %s", optopt,
			                 synopsis);
		default:
			return cli_usage("verify: unknown option '%s'; usage: %s", argv[optind - 1],
			                 synopsis);
		}
	}
	if (!pub)
		return cli_usage("verify: -p KEY.pub is required; usage: %s", synopsis);
	if (argc - optind != 1)
		return cli_usage("verify: exactly one FILE expected; usage: %s", synopsis);
	file = argv[optind];

	sig_path = sig_opt ? strdup(sig_opt) : ib_sig_path_for(file);
	sig = malloc(sizeof *sig);
	if (!sig_path || !sig) {
		rc = ib_oom(&err);
		goto out;
	}
	rc = ib_pubkey_load(pub, &key, &err);
	if (!rc)
		rc = ib_sig_load(sig_path, sig, &err);
	if (rc)
		goto out;
	if (ib_bundle_is_bundle_comment(sig->trusted_comment)) {
		rc = verify_bundle(file, sig_path, &key, quiet, &err);
		goto out;
	}
	rc = verify_plain(file, sig_path, &key, sig, &err);
	if (rc)
		goto out;
	if (!quiet)
		printf("Signature and comment signature verified\nTrusted comment: %s\n",
		       sig->trusted_comment);
out:
	free(sig_path);
	free(sig);
	return cli_exit(rc, &err);
}
