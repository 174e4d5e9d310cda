/* ibdrv-build pack: input manifest + payloads -> signed, reproducible bundle. */
#include "bundle.h"
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSPHRASE_MAX 1024

/* The one timestamp recorded in a bundle: SOURCE_DATE_EPOCH, or the fixed epoch 0. */
static int source_date_epoch(uint64_t *out, struct ib_err *err)
{
	const char *env = getenv("SOURCE_DATE_EPOCH");
	char *end;

	*out = 0;
	if (!env)
		return 0;
	errno = 0;
	*out = strtoull(env, &end, 10);
	if (*env < '0' || *env > '9' || *end || errno || *out > 253402300799ull)
		return ib_fail(err, IB_EINPUT,
		               "SOURCE_DATE_EPOCH: '%s' is not a number of seconds since 1970",
		               env);
	return 0;
}

static int parse_compression(const char *name, enum ib_compression *out)
{
	if (!strcmp(name, "none"))
		*out = IB_COMPRESS_NONE;
	else if (!strcmp(name, "gzip"))
		*out = IB_COMPRESS_GZIP;
	else if (!strcmp(name, "zstd"))
		*out = IB_COMPRESS_ZSTD;
	else
		return -1;
	return 0;
}

static int parse_level(const char *text, enum ib_compression c, int *out)
{
	static const int max_level[] = {
	        [IB_COMPRESS_NONE] = -1, [IB_COMPRESS_GZIP] = 9, [IB_COMPRESS_ZSTD] = 19};
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (*text == '\0' || *end || errno || v < 1 || v > max_level[c])
		return -1;
	*out = (int)v;
	return 0;
}

static int load_signing_key(const char *path, struct ib_seckey **sk, struct ib_err *err)
{
	char *pass = NULL;
	int rc = ib_seckey_load(path, sk, err);

	if (rc || !ib_seckey_is_encrypted(*sk))
		return rc;
	pass = sodium_malloc(PASSPHRASE_MAX);
	if (!pass)
		return ib_oom(err);
	rc = cli_passphrase(0, pass, PASSPHRASE_MAX, err);
	if (rc == 0)
		rc = ib_seckey_decrypt(*sk, pass, err);
	sodium_free(pass);
	return rc;
}

int cmd_pack(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"manifest", required_argument, NULL, 'm'},
	        {"secret-key", required_argument, NULL, 's'},
	        {"output", required_argument, NULL, 'o'},
	        {"compression", required_argument, NULL, 'c'},
	        {"level", required_argument, NULL, 'l'},
	        {"quiet", no_argument, NULL, 'q'},
	        {"force", no_argument, NULL, 'f'},
	        {NULL, 0, NULL, 0},
	};
	struct ib_pack_opts o = {.compression = IB_COMPRESS_ZSTD, .level = -1};
	struct ib_pack_result res;
	struct ib_seckey *sk = NULL;
	struct ib_err err;
	const char *key_path = NULL, *level = NULL;
	int c, rc;

	ib_err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:s:o:c:l:qf", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.manifest_path = optarg;
			break;
		case 's':
			key_path = optarg;
			break;
		case 'o':
			o.out_path = optarg;
			break;
		case 'c':
			if (parse_compression(optarg, &o.compression))
				return cli_usage("--compression: '%s' is not none, gzip or zstd",
				                 optarg);
			break;
		case 'l':
			level = optarg;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'f':
			o.overwrite = 1;
			break;
		default:
			return cli_usage("pack: unknown option");
		}
	}
	if (!o.manifest_path || !key_path || !o.out_path || optind != argc)
		return cli_usage("usage: ibdrv-build pack -m MANIFEST.json -s KEY.sec -o BUNDLE");
	if (level && o.compression == IB_COMPRESS_NONE)
		return cli_usage("--level: not with --compression none");
	if (level && parse_level(level, o.compression, &o.level))
		return cli_usage("--level: '%s' is not a level from 1 to %d", level,
		                 o.compression == IB_COMPRESS_GZIP ? 9 : 19);
	rc = source_date_epoch(&o.timestamp, &err);
	if (rc == 0)
		rc = load_signing_key(key_path, &sk, &err);
	if (rc == 0)
		rc = ib_bundle_pack(&o, sk, &res, &err);
	ib_seckey_free(sk);
	if (rc)
		return cli_exit(rc, &err);
	printf("%s: %zu drivers, %zu files, %" PRIu64 " payload bytes -> %" PRIu64
	       " bytes, manifest blake2b %s, signed %s.minisig\n",
	       o.out_path, res.n_drivers, res.n_files, res.payload_bytes, res.bundle_size,
	       res.manifest_hash, o.out_path);
	return 0;
}
