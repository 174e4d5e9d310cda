/* ibdrv-install plan / apply: the engine from the command line. */
#include "apply.h"
#include "commands.h"
#include "log.h"

#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 8
#define MAX_URLS 16

enum {
	OPT_BUNDLE = 256,
	OPT_URL,
	OPT_PUBKEY,
	OPT_FACTS,
	OPT_ROOT,
	OPT_CATALOG,
	OPT_SYSFS,
	OPT_IMDS,
	OPT_NO_IMDS,
	OPT_CACERT,
	OPT_TIMEOUT,
	OPT_DOWNGRADE,
	OPT_JSON,
	OPT_PACKAGE,
	OPT_LOCK_WAIT,
};

static const struct option longopts[] = {
        {"bundle", required_argument, NULL, OPT_BUNDLE},
        {"url", required_argument, NULL, OPT_URL},
        {"pubkey", required_argument, NULL, OPT_PUBKEY},
        {"facts", required_argument, NULL, OPT_FACTS},
        {"root", required_argument, NULL, OPT_ROOT},
        {"catalog", required_argument, NULL, OPT_CATALOG},
        {"sysfs-root", required_argument, NULL, OPT_SYSFS},
        {"imds-url", required_argument, NULL, OPT_IMDS},
        {"no-imds", no_argument, NULL, OPT_NO_IMDS},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"download-timeout", required_argument, NULL, OPT_TIMEOUT},
        {"allow-downgrade", no_argument, NULL, OPT_DOWNGRADE},
        {"json", no_argument, NULL, OPT_JSON},
        {"package-dir", required_argument, NULL, OPT_PACKAGE},
        {"lock-wait", required_argument, NULL, OPT_LOCK_WAIT},
        {NULL, 0, NULL, 0},
};

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "ibdrv-install %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see ibdrv-install --help)\n");
	return IB_EXT_UNSUPPORTED;
}

static void print_result(const struct ib_apply_result *r, int json)
{
	cJSON *o;
	char *text;

	if (!json) {
		if (r->code == IB_EXT_SUCCESS || r->code == IB_EXT_REBOOT)
			printf("%s\n", r->reason);
		else
			fprintf(stderr, "ibdrv-install: %s\n", r->reason);
		printf("exit code: %d\n", r->code);
		return;
	}
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddNumberToObject(o, "code", r->code);
	if (r->driver[0]) {
		cJSON_AddStringToObject(o, "driver", r->driver);
		cJSON_AddStringToObject(o, "kind", r->kind);
		cJSON_AddStringToObject(o, "version", r->version);
	} else {
		cJSON_AddNullToObject(o, "driver");
		cJSON_AddNullToObject(o, "kind");
		cJSON_AddNullToObject(o, "version");
	}
	cJSON_AddStringToObject(o, "reason", r->reason);
	text = cJSON_Print(o);
	if (text)
		printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
}

static int run_engine(int argc, char **argv, int plan_only)
{
	const char *cmd = argv[0];
	struct ib_apply_opts o = {.plan_only = plan_only};
	struct ib_apply_result r;
	struct ib_pubkey keys[MAX_KEYS];
	const char *urls[MAX_URLS];
	size_t n_keys = 0, n_urls = 0;
	struct ib_err err;
	int json = 0, c;
	char *end;

	ib_err_clear(&err);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_BUNDLE:
			o.bundle_path = optarg;
			break;
		case OPT_URL:
			if (plan_only)
				return usage_error(cmd, "%s", "--url: plan does not download");
			if (n_urls == MAX_URLS)
				return usage_error(cmd, "--url: at most %s mirrors", "16");
			urls[n_urls++] = optarg;
			break;
		case OPT_PUBKEY:
			if (n_keys == MAX_KEYS)
				return usage_error(cmd, "--pubkey: at most %s trusted keys", "8");
			if (ib_pubkey_load(optarg, &keys[n_keys], &err)) {
				fprintf(stderr, "ibdrv-install: %s\n", err.msg);
				return IB_EXT_UNSUPPORTED;
			}
			n_keys++;
			break;
		case OPT_FACTS:
			o.facts_path = optarg;
			break;
		case OPT_ROOT:
			o.root = optarg;
			break;
		case OPT_CATALOG:
			o.catalog_path = optarg;
			break;
		case OPT_SYSFS:
			o.detect.sysfs_root = optarg;
			break;
		case OPT_IMDS:
			o.detect.imds_url = optarg;
			break;
		case OPT_NO_IMDS:
			o.detect.no_imds = 1;
			break;
		case OPT_CACERT:
			o.cacert = optarg;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			o.download_timeout_seconds = (unsigned)strtoul(optarg, &end, 10);
			if (*optarg < '1' || *optarg > '9' || *end || errno ||
			    o.download_timeout_seconds > 86400)
				return usage_error(cmd,
				                   "--download-timeout: '%s' is not 1 to 86400 s",
				                   optarg);
			break;
		case OPT_LOCK_WAIT:
			errno = 0;
			o.lock_wait_ms = 1000u * (unsigned)strtoul(optarg, &end, 10);
			if (*optarg < '1' || *optarg > '9' || *end || errno ||
			    o.lock_wait_ms > 3600000u)
				return usage_error(cmd, "--lock-wait: '%s' is not 1 to 3600 s",
				                   optarg);
			break;
		case OPT_DOWNGRADE:
			o.allow_downgrade = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_PACKAGE:
			o.package_dir = optarg;
			break;
		default:
			return usage_error(cmd, "unknown or incomplete option '%s'",
			                   argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (n_keys == 0)
		return usage_error(cmd, "%s", "--pubkey KEY.pub is required (the trusted key)");
	o.keys = keys;
	o.n_keys = n_keys;
	o.urls = urls;
	o.n_urls = n_urls;
	if (plan_only)
		ib_apply(&o, &r);
	else
		ib_apply_exclusive(&o, &r);
	print_result(&r, json);
	return r.code;
}

int cmd_plan(int argc, char **argv)
{
	return run_engine(argc, argv, 1);
}

int cmd_apply(int argc, char **argv)
{
	return run_engine(argc, argv, 0);
}
