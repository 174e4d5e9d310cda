/* ibdrv-build inspect: what a bundle holds, per driver, read without unpacking. */
#include "bundle.h"
#include "commands.h"

#include <cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_os(const struct ib_os_match *os)
{
	const char *parts[] = {os->family, os->product, os->id, os->version};

	for (size_t i = 0, first = 1; i < sizeof parts / sizeof parts[0]; i++) {
		if (!parts[i])
			continue;
		printf("%s%s", first ? "" : " ", parts[i]);
		first = 0;
	}
}

static void print_codes(const char *label, const int *codes, size_t n)
{
	printf(", %s", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%d", i ? "/" : " ", codes[i]);
}

static void print_driver(const struct ib_driver *d)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < d->n_files; i++)
		bytes += d->files[i].size;
	printf("\ndriver %s: %s %s %s (%s)\n", d->id, d->platform, d->kind, d->version,
	       d->sriov ? "SR-IOV sizes" : "non-SR-IOV sizes");
	if (d->description)
		printf("  %s\n", d->description);
	printf("  NICs: ");
	for (size_t i = 0; i < d->n_nics; i++)
		printf("%s%s", i ? ", " : "", d->nics[i]);
	printf("%s\n  OS:   ", d->n_nics ? "" : "-");
	for (size_t i = 0; i < d->n_os; i++) {
		printf("%s", i ? "; " : "");
		print_os(&d->os[i]);
	}
	printf("\n  install:");
	for (size_t i = 0; i < d->install.argc; i++)
		printf(" %s", d->install.argv[i]);
	printf("  (timeout %u s", d->install.timeout_seconds);
	print_codes("success", d->install.success_codes, d->install.n_success);
	print_codes("reboot", d->install.reboot_codes, d->install.n_reboot);
	printf(")\n  files: %zu, %" PRIu64 " bytes\n", d->n_files, bytes);
	for (size_t i = 0; i < d->n_files; i++) {
		char hex[IB_HASH_FILE_HEX];

		ib_hex(hex, d->files[i].blake2b, sizeof d->files[i].blake2b);
		printf("    %04o %12" PRIu64 "  %s  %s\n", d->files[i].mode, d->files[i].size, hex,
		       d->files[i].path);
	}
}

static int print_json(const char *path, uint64_t size, const struct ib_manifest *m,
                      struct ib_err *err)
{
	cJSON *root = NULL, *manifest = NULL;
	char *json = NULL, *text = NULL;
	size_t len;
	int rc = ib_manifest_serialize(m, &json, &len, err);

	if (rc)
		return rc;
	manifest = cJSON_ParseWithLength(json, len);
	root = cJSON_CreateObject();
	if (!manifest || !root || !cJSON_AddStringToObject(root, "bundle", path) ||
	    !cJSON_AddNumberToObject(root, "size", (double)size)) {
		rc = ib_oom(err);
		goto out;
	}
	cJSON_AddItemToObject(root, "manifest", manifest);
	manifest = NULL;
	text = cJSON_Print(root);
	if (!text) {
		rc = ib_oom(err);
		goto out;
	}
	printf("%s\n", text);
out:
	cJSON_Delete(manifest);
	cJSON_Delete(root);
	free(json);
	free(text);
	return rc;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {NULL, 0, NULL, 0},
	};
	struct ib_manifest *m = NULL;
	struct ib_err err;
	uint64_t size = 0;
	int json = 0, c, rc;

	ib_err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage("inspect: unknown option");
		json = 1;
	}
	if (optind != argc - 1)
		return cli_usage("usage: ibdrv-build inspect [--json] BUNDLE");
	rc = ib_bundle_peek_manifest(argv[optind], &m, &size, &err);
	if (rc)
		return cli_exit(rc, &err);
	if (json) {
		rc = print_json(argv[optind], size, m, &err);
	} else {
		printf("bundle %s: %s, sequence %" PRIu64 ", created %" PRIu64 ", %" PRIu64
		       " bytes, %zu drivers (signature not checked: use verify)\n",
		       argv[optind], m->name, m->sequence, m->created, size, m->n_drivers);
		for (size_t i = 0; i < m->n_drivers; i++)
			print_driver(&m->drivers[i]);
	}
	ib_manifest_free(m);
	return cli_exit(rc, &err);
}
