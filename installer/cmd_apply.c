/* ibdrv-install plan / apply: the engine from the command line. */
#include "apply.h"
#include "cli.h"
#include "commands.h"
#include "log.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_result(const struct ib_apply_result *r, int json)
{
	static const char *const keys[] = {"driver", "kind", "version"};
	static const unsigned char at[] = {offsetof(struct ib_apply_result, driver),
	                                   offsetof(struct ib_apply_result, kind),
	                                   offsetof(struct ib_apply_result, version)};
	cJSON *o;
	char *text;

	if (!json) {
		if (r->code == IB_EXT_SUCCESS || r->code == IB_EXT_REBOOT)
			puts(r->reason);
		else
			fprintf(stderr, "ibdrv-install: %s\n", r->reason);
		printf("exit code: %d\n", r->code);
		return;
	}
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddNumberToObject(o, "code", r->code);
	/* driver, kind and version: null when no driver was chosen */
	for (size_t i = 0; i < 3; i++) {
		const char *key = keys[i], *value = (const char *)r + at[i];

		if (r->driver[0])
			cJSON_AddStringToObject(o, key, value);
		else
			cJSON_AddNullToObject(o, key);
	}
	cJSON_AddStringToObject(o, "reason", r->reason);
	text = cJSON_Print(o);
	if (text)
		puts(text);
	cJSON_free(text);
	cJSON_Delete(o);
}

/* The options given as they are. */
static void take_options(struct ib_apply_opts *o, const struct ib_cli *cli)
{
	o->bundle_path = cli->bundle;
	o->facts_path = cli->facts;
	o->catalog_path = cli->catalog;
	o->root = cli->root;
	o->package_dir = cli->package_dir;
	o->cacert = cli->cacert;
	o->detect.sysfs_root = cli->sysfs_root;
	o->detect.imds_url = cli->imds_url;
	o->detect.no_imds = cli->no_imds;
	o->allow_downgrade = cli->allow_downgrade;
	o->n_keys = cli->n_pubkeys;
	o->urls = cli->urls;
	o->n_urls = cli->n_urls;
}

static int run_engine(int argc, char **argv, int plan_only)
{
	const char *cmd = argv[0];
	struct ib_apply_opts o = {.plan_only = plan_only};
	struct ib_apply_result r;
	struct ib_pubkey keys[IB_CLI_LIST_MAX]; /* the options' limit */
	struct ib_cli cli;
	struct ib_err err;
	unsigned lock_wait_s = 0;

	if (ib_cli_parse(plan_only ? IB_CLI_PLAN : IB_CLI_APPLY, argc, argv, &cli))
		return IB_EXT_UNSUPPORTED;
	if (ib_cli_seconds(cmd, "--download-timeout", cli.download_timeout, 1, 86400,
	                   &o.download_timeout_seconds) ||
	    ib_cli_seconds(cmd, "--lock-wait", cli.lock_wait, 1, 3600, &lock_wait_s))
		return IB_EXT_UNSUPPORTED;
	if (cli.n_pubkeys == 0)
		return ib_cli_error(cmd, "%s", "--pubkey KEY.pub (trusted key) is required");
	for (size_t i = 0; i < cli.n_pubkeys; i++) {
		if (ib_pubkey_load(cli.pubkeys[i], &keys[i], &err)) {
			fprintf(stderr, "ibdrv-install: %s\n", err.msg);
			return IB_EXT_UNSUPPORTED;
		}
	}
	take_options(&o, &cli);
	o.lock_wait_ms = lock_wait_s * 1000u;
	o.keys = keys;
	if (plan_only)
		ib_apply(&o, &r);
	else
		ib_apply_exclusive(&o, &r);
	print_result(&r, cli.json);
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
