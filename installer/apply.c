/*
 * The engine, stage by stage: lock, recover from a killed run, facts, a first
 * decision from the catalog alone (so a VM that cannot use any driver needs
 * no bundle), find or download a bundle, refuse a downgrade from its signed
 * sequence, then read it in one verified pass that extracts only the chosen
 * driver into a fresh private staging folder, and only then run the driver's
 * install command and record the outcome. The previous state is replaced
 * only after an install command has succeeded.
 */
#include "apply.h"

#include "bundle.h"
#include "catalog.h"
#include "commands.h"
#include "download.h"
#include "facts.h"
#include "lock.h"
#include "locate.h"
#include "log.h"
#include "platform.h"
#include "proc.h"
#include "select.h"
#include "state.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run {
	const struct ib_apply_opts *o;
	struct ib_apply_result *r;
	struct ib_paths paths;
	struct ib_facts *facts;
	struct ib_catalog *catalog;
	int interrupted; /* a killed run's journal was found: no "already installed" shortcut */
	int already_installed;
	uint64_t download_report_ms;
	struct ib_fetch_bar bar;
	struct ib_state state;
	struct ib_selection sel;
	struct ib_err err; /* of the step that failed last */
};

static void progress(struct run *run, int percent, const char *what)
{
	ib_info("%s", what);
	if (run->o->progress)
		run->o->progress(run->o->progress_ctx, percent, what);
}

/* Records the outcome: the code and a one-line reason (printf-style). */
static void outcome(struct run *run, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void outcome(struct run *run, int code, const char *fmt, ...)
{
	va_list ap;

	run->r->code = code;
	va_start(ap, fmt);
	vsnprintf(run->r->reason, sizeof run->r->reason, fmt, ap);
	va_end(ap);
}

int ib_ext_code_from_err(int rc)
{
	switch (rc) {
	case IB_OK:
		return IB_EXT_SUCCESS;
	case IB_ETIMEOUT:
		return IB_EXT_TIMEOUT;
	case IB_EBUSY:
		return IB_EXT_TIMEOUT_LOCK;
	case IB_ENOMEM:
	case IB_EINTERNAL:
		return IB_EXT_EXCEPTION;
	default:
		return IB_EXT_UNSUPPORTED;
	}
}

/* An IB_E* failure as an extension code: I/O and internal trouble are unexpected (-1). */
static int code_for(int rc)
{
	return rc == IB_EIO ? IB_EXT_EXCEPTION : ib_ext_code_from_err(rc);
}

/* Fails the run with the step's message: a failure of any step but those with their own code. */
static void failed(struct run *run, int rc)
{
	outcome(run, code_for(rc), "%s", run->err.msg);
}

/* src, cut to fit, into dst[cap]. */
static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

/* The driver's id, kind and version into the fields of a result (sized as a journal's). */
static void set_driver(char driver[128], char kind[32], char version[64], const struct ib_driver *d)
{
	copy(driver, 128, d->id);
	copy(kind, 32, d->kind);
	copy(version, 64, d->version);
}

/* The selection's warning is logged; a refusal is IB_ENOTSUP with the reason in the result. */
static int decide(struct run *run, const struct ib_manifest *m, struct ib_err *err)
{
	ib_select(run->facts, run->catalog, m, &run->sel);
	if (run->sel.warning[0])
		ib_warn("%s", run->sel.warning);
	if (run->sel.code == IB_SELECT_OK)
		return 0;
	return ib_fail(err, IB_ENOTSUP, "%s", run->sel.reason);
}

/* Called by the bundle reader once the manifest is authenticated. */
static int choose(void *ctx, const struct ib_manifest *m, const struct ib_driver **driver,
                  struct ib_err *err)
{
	struct run *run = ctx;
	int rc = decide(run, m, err);

	if (rc)
		return rc;
	*driver = run->sel.driver;
	set_driver(run->r->driver, run->r->kind, run->r->version, *driver);
	ib_info("chose %s: %s", (*driver)->id, run->sel.reason);
	if (!run->o->plan_only && !run->interrupted && !strcmp(run->state.driver, (*driver)->id) &&
	    !strcmp(run->state.version, (*driver)->version) &&
	    (run->state.last_code == IB_EXT_SUCCESS || run->state.last_code == IB_EXT_REBOOT)) {
		run->already_installed = 1;
		*driver = NULL;
		return IB_EEXIST; /* stop reading: nothing to do */
	}
	return 0;
}

static int in_list(int code, const int *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == code)
			return 1;
	return 0;
}

/* Runs the chosen driver's install command from the staging folder; sets the outcome. */
static void run_install(struct run *run, const struct ib_driver *d)
{
	const struct ib_install *in = &d->install;
	struct ib_proc_result res; /* about 8 KiB: the output's last lines */
	char env_root[4096 + 16], tail[512];
	const char *env[] = {env_root, NULL};
	struct ib_proc_opts po = {
	        .argv = (const char *const *)in->argv,
	        .cwd = run->paths.staging_dir,
	        .env = env,
	        .timeout_s = in->timeout_seconds,
	        .log_tag = d->id,
	};
	char what[256];
	int rc, ok, reboot, killed;

	snprintf(env_root, sizeof env_root, "IBDRV_ROOT=%s", run->paths.root);
	snprintf(what, sizeof what, "running install command of %s %s (timeout %u s)", d->id,
	         d->version, in->timeout_seconds);
	progress(run, 90, what);
	rc = ib_proc_run(&po, &res, &run->err);
	if (rc == 0)
		ib_proc_tail_oneline(&res, 3, tail, sizeof tail);
	if (rc) {
		/* A timeout's message says so, and that the process tree was stopped. */
		outcome(run, rc == IB_ETIMEOUT ? IB_EXT_TIMEOUT : IB_EXT_UNSUPPORTED,
		        "install command of %s: %s", d->id, run->err.msg);
	} else {
		killed = res.how == IB_PROC_SIGNALED;
		ok = !killed && in_list(res.exit_code, in->success_codes, in->n_success);
		reboot = !killed && !ok && in_list(res.exit_code, in->reboot_codes, in->n_reboot);
		if (ok || reboot)
			outcome(run, ok ? IB_EXT_SUCCESS : IB_EXT_REBOOT,
			        "installed %s %s %s%s (exit code %d)", d->id, d->kind, d->version,
			        ok ? "" : "; reboot required", res.exit_code);
		else
			outcome(run, IB_EXT_UNSUPPORTED, "install command of %s %s %d: %s", d->id,
			        killed ? "killed by signal" : "failed with exit code",
			        killed ? res.signal : res.exit_code, tail);
	}
}

/* The driver is in staging and verified: journal, install, record, clean up. */
static void install(struct run *run, const struct ib_bundle *b)
{
	const struct ib_driver *d = b->chosen;
	struct ib_journal j; /* every member is set below */
	int rc;

	set_driver(j.driver, j.kind, j.version, d);
	copy(j.bundle, sizeof j.bundle, b->manifest->name);
	j.bundle_sequence = b->manifest->sequence;
	plat_utc_timestamp(j.started_at);
	j.pid = ib_proc_self();
	rc = ib_journal_begin(run->paths.journal_file, &j, &run->err);
	if (rc) {
		failed(run, rc);
		return;
	}
	run_install(run, d);
	if (run->r->code == IB_EXT_SUCCESS || run->r->code == IB_EXT_REBOOT) {
		/* The state loaded at the start becomes the new one: nothing reads it after this.
		 */
		struct ib_state *st = &run->state;

		set_driver(st->driver, st->kind, st->version, d);
		memcpy(st->bundle, j.bundle, sizeof st->bundle);
		st->bundle_sequence = j.bundle_sequence;
		plat_utc_timestamp(st->installed_at);
		st->last_code = run->r->code;
		plat_utc_timestamp(st->last_run_at);
		rc = ib_state_save(run->paths.state_file, st, &run->err);
		if (rc) {
			outcome(run, IB_EXT_EXCEPTION, "installed, but cannot record it: %s",
			        run->err.msg);
			return;
		}
	}
	/* A failed install leaves state.json as it was; the journal goes either way. */
	if (ib_journal_end(run->paths.journal_file, &run->err))
		ib_warn("%s", run->err.msg);
}

/* A bundle older than the installed one is refused before it is read. */
static int check_sequence(struct run *run, const struct ib_bundle_claims *claims,
                          const char *bundle, struct ib_err *err)
{
	if (claims->sequence >= run->state.bundle_sequence)
		return 0;
	if (!run->o->allow_downgrade)
		return ib_fail(err, IB_ENOTSUP,
		               "%s: sequence %" PRIu64 " is lower than the installed %" PRIu64
		               " (bundle '%s'): a downgrade needs --allow-downgrade",
		               bundle, claims->sequence, run->state.bundle_sequence,
		               run->state.bundle);
	ib_warn("downgrading from sequence %" PRIu64 " to %" PRIu64, run->state.bundle_sequence,
	        claims->sequence);
	return 0;
}

/* Every read extracts into an empty private folder: nothing of an earlier one survives. */
static int fresh_staging(struct run *run, struct ib_err *err)
{
	int rc;

	if (run->o->plan_only)
		return 0;
	rc = plat_remove_tree(run->paths.staging_dir, err);
	if (rc == 0)
		rc = plat_mkdir_p(run->paths.staging_dir, 0700, err);
	return rc;
}

/* Before each read: the downgrade check, then an empty staging folder. */
static int prepare_read(void *ctx, const char *bundle, const struct ib_bundle_claims *claims,
                        struct ib_err *err)
{
	struct run *run = ctx;
	int rc = check_sequence(run, claims, bundle, err);

	return rc ? rc : fresh_staging(run, err);
}

/*
 * After a read (rc, run->err, b): nothing to do, a refusal or failure, the plan, or the install.
 * Out of line: its code is smaller with a frame of its own than inside the engine's large one.
 */
__attribute__((noinline)) static void conclude(struct run *run, int rc, struct ib_bundle *b)
{
	if (run->already_installed) {
		outcome(run, IB_EXT_SUCCESS, "%s %s already installed (bundle '%s'): nothing to do",
		        run->r->driver, run->r->version, run->state.bundle);
	} else if (rc == IB_ETIMEOUT) {
		/* Only a download times out here: its deadline is the extension's 240. */
		outcome(run, IB_EXT_TIMEOUT_LOCK, "%s", run->err.msg);
	} else if (rc) {
		failed(run, rc);
	} else if (run->o->plan_only) {
		outcome(run, IB_EXT_SUCCESS, "would install %s %s %s: %s", b->chosen->id,
		        b->chosen->kind, b->chosen->version, run->sel.reason);
	} else {
		install(run, b);
	}
}

/* Called on the download's worker thread; the main thread reports nothing meanwhile. */
static void on_download(void *ctx, uint64_t done, uint64_t total, double rate)
{
	struct run *run = ctx;
	uint64_t now = plat_monotonic_ms();
	char what[128];

	ib_fetch_progress_bar(&run->bar, done, total, rate);
	/* A status file is written (and synced) per report: once a second is plenty. */
	if (!run->o->progress || (done < total && now - run->download_report_ms < 1000))
		return;
	run->download_report_ms = now;
	snprintf(what, sizeof what, "downloading and verifying the bundle (%.1f of %.1f MiB)",
	         (double)(int64_t)done / 1048576.0, (double)(int64_t)total / 1048576.0);
	run->o->progress(run->o->progress_ctx, total ? (int)(done * 100 / total) : 0, what);
}

/* Downloads the bundle, reading it with ro (verifying, extracting) as it arrives. */
static int read_download(struct run *run, const struct ib_read_opts *ro, struct ib_bundle *b,
                         struct ib_err *err)
{
	struct ib_fetch_opts f;
	char *path = NULL;
	int rc;

	ib_fetch_opts_init(&f);
	f.urls = run->o->urls;
	f.n_urls = run->o->n_urls;
	f.keys = run->o->keys;
	f.n_keys = run->o->n_keys;
	f.cache_dir = run->paths.cache_dir;
	f.cacert = run->o->cacert;
	if (run->o->download_timeout_seconds)
		f.deadline_seconds = run->o->download_timeout_seconds;
	f.progress = on_download;
	f.progress_ctx = run;
	f.read = ro;
	progress(run, -1, "downloading the bundle");
	rc = ib_fetch_bundle(&f, &path, b, err);
	ib_fetch_bar_end(&run->bar);
	free(path);
	return rc;
}

/* Removes a cached bundle and its signature; the signature last, as the cache promises. */
static void remove_cached(const char *path)
{
	char *sig = ib_sig_path_for(path);

	plat_remove(path, NULL);
	if (sig)
		plat_remove(sig, NULL);
	free(sig);
}

/*
 * Finds a bundle on the machine, else downloads one (not when planning),
 * and acts on it. A bundle in the download cache that no longer verifies is
 * removed and downloaded again.
 */
static void use_bundle(struct run *run)
{
	struct ib_read_opts ro = {
	        .keys = run->o->keys,
	        .n_keys = run->o->n_keys,
	        .prepare = prepare_read,
	        .prepare_ctx = run,
	        .choose = choose,
	        .choose_ctx = run,
	        .extract_dir = run->o->plan_only ? NULL : run->paths.staging_dir,
	};
	struct ib_bundle b = {0};
	struct ib_err *err = &run->err;
	const char *where = NULL;
	char *path = NULL;
	int rc;

	rc = ib_locate_bundle(run->o, &run->paths, &path, &where, err);
	if (rc == 0 && path) {
		ib_info("bundle %s (from the %s)", path, where);
		progress(run, 10, "verifying the bundle");
		rc = ib_bundle_read(path, &ro, &b, err);
		if (rc == IB_EVERIFY && !strcmp(where, IB_LOCATE_CACHE) && run->o->n_urls &&
		    !run->o->plan_only) {
			ib_warn("%s; removing it from the cache and downloading again", err->msg);
			remove_cached(path);
			free(path);
			path = NULL;
			rc = 0;
		}
	}
	if (rc == 0 && !path) {
		if (run->o->n_urls == 0 || run->o->plan_only) {
			rc = ib_fail(err, IB_ENOTSUP, "no bundle: none in %s%s%s or %s, and %s",
			             run->paths.bundles_dir,
			             run->o->package_dir ? ", the extension package " : "",
			             run->o->package_dir ? run->o->package_dir : "",
			             run->paths.cache_dir,
			             run->o->plan_only ? "plan does not download"
			                               : "no download URL is configured");
		} else {
			rc = read_download(run, &ro, &b, err);
		}
	}
	conclude(run, rc, &b);
	ib_bundle_release(&b);
	free(path);
	if (!run->o->plan_only && plat_remove_tree(run->paths.staging_dir, err))
		ib_warn("%s", err->msg);
}

/* Everything that needs no bundle: paths, facts, catalog, the catalog-only decision. */
static int prepare(struct run *run)
{
	struct ib_err *err = &run->err;
	int found, rc;

	rc = ib_facts_obtain(run->o->facts_path, &run->o->detect, &run->facts, err);
	if (rc == 0)
		rc = ib_catalog_open(run->o->catalog_path, &run->catalog, err);
	if (rc == 0)
		rc = decide(run, NULL, err);
	if (rc == 0) {
		ib_info("%s", run->sel.reason);
		rc = ib_state_load(run->paths.state_file, &run->state, &found, err);
	}
	/* A VM no driver fits, and facts, catalog and state that cannot be used, are this VM's
	 * problem (100). */
	if (rc)
		outcome(run, rc == IB_ENOMEM ? IB_EXT_EXCEPTION : IB_EXT_UNSUPPORTED, "%s",
		        err->msg);
	return rc;
}

/* ib_apply, under the run lock when exclusive. */
static void apply(const struct ib_apply_opts *o, struct ib_apply_result *r, int exclusive)
{
	struct run run = {.o = o, .r = r};
	struct ib_journal interrupted;
	struct ib_lock *lock = NULL;
	struct ib_err *err = &run.err;
	int found = 0, rc;

	memset(r, 0, sizeof *r);
	rc = ib_paths_init(&run.paths, o->root, err);
	if (rc == 0 && exclusive)
		rc = ib_paths_ensure_state_dir(&run.paths, err);
	if (rc == 0 && exclusive)
		rc = ib_lock_acquire(run.paths.run_lock, "apply",
		                     o->lock_wait_ms ? o->lock_wait_ms : IB_LOCK_WAIT_MS_DEFAULT,
		                     &lock, err);
	if (rc == 0 && !o->plan_only)
		rc = ib_state_recover(&run.paths, &interrupted, &found, err);
	if (rc) {
		failed(&run, rc); /* IB_EBUSY: 240 */
		goto out;
	}
	run.interrupted = found;
	if (prepare(&run) == 0)
		use_bundle(&run);
out:
	ib_facts_free(run.facts);
	ib_catalog_free(run.catalog);
	ib_paths_free(&run.paths);
	ib_lock_release(lock);
}

void ib_apply(const struct ib_apply_opts *o, struct ib_apply_result *r)
{
	apply(o, r, 0);
}

void ib_apply_exclusive(const struct ib_apply_opts *o, struct ib_apply_result *r)
{
	apply(o, r, 1);
}
