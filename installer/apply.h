/*
 * apply.h - the installer's engine: find a bundle, verify it, choose the
 * driver for this VM, unpack it into private staging, run its install command
 * and record the result. `plan`, `apply` and the handler's worker all call it.
 */
#ifndef IBDRV_APPLY_H
#define IBDRV_APPLY_H

#include "detect.h"
#include "minisign.h"

#include <stddef.h>

/* Called now and then with a percentage (or -1 when unknown) and what is going on. */
typedef void (*ib_apply_progress_fn)(void *ctx, int percent, const char *what);

struct ib_apply_opts {
	const char *bundle_path;  /* NULL: search the usual places, then download */
	const char *facts_path;   /* NULL: $IBDRV_FACTS, else detect this VM with detect */
	const char *catalog_path; /* NULL: the catalog compiled in */
	const char *root;         /* prefix of every system path written; NULL: $IBDRV_ROOT */
	const char *package_dir;  /* extension package folder (baked-in bundle), or NULL */
	const char *cacert;       /* private CA for downloads, or NULL */
	const char *const *urls;  /* download mirrors, tried in order */
	size_t n_urls;
	const struct ib_pubkey *keys; /* trusted keys (several for rotation) */
	size_t n_keys;
	struct ib_detect_opts detect;
	unsigned download_timeout_seconds;
	unsigned lock_wait_ms; /* how long to wait for another run; 0: the default */
	int allow_downgrade;
	int plan_only; /* verify and decide; no download, no lock, nothing written */
	ib_apply_progress_fn progress;
	void *progress_ctx;
};

struct ib_apply_result {
	int code;         /* the extension code: 0, 3010, 100, 240, 840, -1 */
	char driver[128]; /* chosen driver id, "" when none */
	char kind[32];
	char version[64];
	char reason[1024]; /* one line: what was decided or what went wrong */
};

/*
 * Never fails outright: the outcome, good or bad, is in *result. Unless
 * plan_only, the caller must hold the run lock (struct ib_paths.run_lock).
 */
void ib_apply(const struct ib_apply_opts *opts, struct ib_apply_result *result);

/* Takes the run lock (240 when another run keeps it past lock_wait_ms), then ib_apply. */
void ib_apply_exclusive(const struct ib_apply_opts *opts, struct ib_apply_result *result);

#endif
