/*
 * fetch - command-line wrapper around ib_fetch_bundle for the download tests:
 * downloads and verifies a bundle into the cache, extracting nothing.
 *
 *   fetch --pubkey KEY.pub [--pubkey ...] --cache DIR [--cacert FILE]
 *         [--deadline S] [--connect-timeout S] [--low-speed BYTES SECONDS]
 *         [--retries N] [--backoff MS MAX_MS] [--progress] [-v] URL...
 *
 * Prints the cached bundle's path on stdout. Exits 0, or with the IB_E* code
 * negated (4 verification, 7 timeout, 9 network, ...) and the message on stderr.
 */
#include "download.h"
#include "log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 16

static unsigned num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > 4000000000UL) {
		fprintf(stderr, "fetch: bad number '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct ib_fetch_opts o;
	struct ib_pubkey keys[MAX_ITEMS];
	const char *urls[MAX_ITEMS];
	struct ib_fetch_bar bar = {0};
	struct ib_bundle bundle;
	struct ib_err err;
	size_t nkeys = 0, nurls = 0;
	char *path = NULL;
	int rc;

	if (sodium_init() < 0)
		return 1;
	ib_fetch_opts_init(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int more = argc - i - 1;

		if (!strcmp(a, "--pubkey") && more >= 1 && nkeys < MAX_ITEMS) {
			if (ib_pubkey_load(argv[++i], &keys[nkeys++], &err)) {
				fprintf(stderr, "fetch: %s\n", err.msg);
				return 2;
			}
		} else if (!strcmp(a, "--cache") && more >= 1) {
			o.cache_dir = argv[++i];
		} else if (!strcmp(a, "--cacert") && more >= 1) {
			o.cacert = argv[++i];
		} else if (!strcmp(a, "--deadline") && more >= 1) {
			o.deadline_seconds = num(argv[++i]);
		} else if (!strcmp(a, "--connect-timeout") && more >= 1) {
			o.connect_timeout_seconds = num(argv[++i]);
		} else if (!strcmp(a, "--low-speed") && more >= 2) {
			o.low_speed_limit = num(argv[++i]);
			o.low_speed_seconds = num(argv[++i]);
		} else if (!strcmp(a, "--retries") && more >= 1) {
			o.max_retries = num(argv[++i]);
		} else if (!strcmp(a, "--backoff") && more >= 2) {
			o.backoff_ms = num(argv[++i]);
			o.backoff_max_ms = num(argv[++i]);
		} else if (!strcmp(a, "--progress")) {
			o.progress = ib_fetch_progress_bar;
			o.progress_ctx = &bar;
		} else if (!strcmp(a, "-v")) {
			ib_log_set_level(IB_LOG_DEBUG);
		} else if (a[0] != '-' && nurls < MAX_ITEMS) {
			urls[nurls++] = a;
		} else {
			fprintf(stderr, "fetch: bad argument '%s'\n", a);
			return 2;
		}
	}
	o.urls = urls;
	o.n_urls = nurls;
	o.keys = keys;
	o.n_keys = nkeys;
	rc = ib_fetch_bundle(&o, &path, &bundle, &err);
	ib_fetch_bar_end(&bar);
	if (rc) {
		fprintf(stderr, "fetch: %s: %s\n", ib_code_name(rc), err.msg);
		ib_log_close();
		return -rc;
	}
	printf("%s\n", path);
	ib_bundle_release(&bundle);
	free(path);
	ib_log_close();
	return 0;
}
