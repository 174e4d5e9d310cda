/*
 * The guest agent's commands (install, enable, disable, uninstall, update)
 * and the detached worker that enable starts. The protocol, the locks and
 * the sequence bookkeeping are described in docs/design.md, "Extension
 * handler".
 */
#include "apply.h"
#include "cli.h"
#include "commands.h"
#include "handler.h"
#include "lock.h"
#include "log.h"
#include "minisign.h"
#include "path.h"
#include "platform.h"
#include "proc.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PUBKEYS IB_CLI_LIST_MAX
#define LOG_ROTATE_BYTES (8u * 1024 * 1024)
/* How long a worker waits for another run (a manual apply) to finish. */
#define LOCK_WAIT_S_DEFAULT 900
/* How long disable and uninstall wait for a running worker (the agent allows 15 minutes). */
#define WORKER_WAIT_S_DEFAULT 600
/* How long a second worker waits for the first one (a handler update in the middle of a run). */
#define WORKER_QUEUE_S 7200
/* Progress is written to the status file at most this often, unless the step changes. */
#define PROGRESS_EVERY_MS 2000
#define INSTALLING "Installing the InfiniBand driver"
#define WORKER_ON "worker pid %lld %s sequence %lld"

struct hctx {
	struct ib_cli o;
	int argc; /* the command line, passed on to the worker */
	char **argv;
	unsigned lock_wait_s;
	unsigned worker_wait_s;
	char *dir;
	char *log; /* <logFolder>/ibdrv.log (never NULL once ctx_init succeeded) */
	struct ib_handler_env env;
	struct ib_paths paths;
	int heartbeat;
};

static void ctx_free(struct hctx *c)
{
	ib_handler_env_free(&c->env);
	ib_paths_free(&c->paths);
	free(c->log);
	free(c->dir);
}

/*
 * Finds the handler folder and its environment, opens the log, sets up the state folder for
 * command argv[0]; the worker (quiet) logs to the log file only.
 */
static int ctx_init(struct hctx *c, int argc, char **argv, int quiet)
{
	const char *op = argv[0];
	struct ib_err err;
	char *old = NULL;
	enum plat_kind kind;
	uint64_t size;

	memset(c, 0, sizeof *c);
	c->argc = argc;
	c->argv = argv;
	c->lock_wait_s = LOCK_WAIT_S_DEFAULT;
	c->worker_wait_s = WORKER_WAIT_S_DEFAULT;
	if (ib_cli_parse(IB_CLI_HANDLER, argc, argv, &c->o) ||
	    ib_cli_seconds(op, "--lock-wait", c->o.lock_wait, 0, 86400, &c->lock_wait_s) ||
	    ib_cli_seconds(op, "--wait", c->o.wait, 0, 86400, &c->worker_wait_s))
		return IB_EXT_UNSUPPORTED;
	if (ib_handler_dir(c->o.handler_dir, &c->dir, &err) ||
	    ib_handler_env_load(c->dir, &c->env, &err))
		goto failed;
	/* <logFolder>/ibdrv.log, a new one once it grows past LOG_ROTATE_BYTES. */
	c->log = ib_path_join(c->env.log_dir, IB_HANDLER_LOG_NAME);
	if (!c->log) {
		ib_oom(&err);
		goto failed;
	}
	if (plat_mkdir_p(c->env.log_dir, 0755, &err) == 0) {
		if (plat_lstat(c->log, &kind, &size, &err) == 0 && kind == PLAT_REGULAR &&
		    size > LOG_ROTATE_BYTES &&
		    (old = ib_path_join(c->env.log_dir, IB_HANDLER_LOG_NAME ".1")))
			plat_rename_replace(c->log, old, &err);
		if (ib_log_open_file(c->log) != 0)
			ib_warn("%s: cannot write", c->log);
	}
	free(old);
	/* The worker's stdout and stderr are the log file: from here on, it logs lines once. */
	ib_log_quiet_stderr(quiet);
	ib_info("ibdrv-install " IBDRV_VERSION ": %s (handler folder %s)", op, c->dir);
	if (ib_paths_init(&c->paths, c->o.root, &err) == 0 &&
	    ib_paths_ensure_state_dir(&c->paths, &err) == 0)
		return 0;
failed:
	ib_error("%s", err.msg);
	return ib_ext_code_from_err(err.code);
}

/* What a configuration runs with: its settings, the trusted keys, the package's URLs. */
struct config {
	struct ib_handler_settings s;
	struct ib_package_config pc;
	struct ib_pubkey keys[MAX_PUBKEYS];
	size_t n_keys;
};

static void config_free(struct config *f)
{
	ib_handler_settings_free(&f->s);
	ib_package_config_free(&f->pc);
}

/*
 * With seq >= 0 the settings of seq (logged), then the trusted keys (--pubkey, else those the
 * package names) and the package's default URLs. On failure there is nothing to free.
 */
static int load_config(const struct hctx *c, int64_t seq, struct config *f, struct ib_err *err)
{
	const char *const *files = (const char *const *)c->o.pubkeys;
	size_t n = c->o.n_pubkeys;
	int rc;

	memset(f, 0, sizeof *f);
	if (seq >= 0) {
		rc = ib_handler_settings_load(&c->env, seq, &f->s, err);
		if (rc)
			return rc;
		if (f->s.has_protected)
			ib_info("protected settings ignored");
		ib_info("settings %lld: bundlePath %s, bundleUrls %zu, downloadTimeoutSeconds %u, "
		        "allowDowngrade %d, caCertPath %s",
		        (long long)seq, f->s.bundle_path ? f->s.bundle_path : "-", f->s.n_urls,
		        f->s.download_timeout_s, f->s.allow_downgrade,
		        f->s.cacert ? f->s.cacert : "-");
	}
	/* With --pubkey, the package's configuration only adds its URLs, and may be absent. */
	rc = ib_package_config_load(c->dir, n != 0, &f->pc, err);
	if (!n) {
		files = (const char *const *)f->pc.keys;
		n = f->pc.n_keys < MAX_PUBKEYS ? f->pc.n_keys : MAX_PUBKEYS;
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = ib_pubkey_load(files[i], &f->keys[f->n_keys++], err);
	if (rc)
		config_free(f);
	return rc;
}

/* Whether a worker serving this handler folder holds the worker lock. */
static int worker_running(const struct hctx *c, int any_folder, int64_t *pid)
{
	char what[IB_LOCK_WHAT_MAX];
	struct ib_err err;
	int held = 0;

	if (ib_lock_probe(c->paths.worker_lock, &held, pid, what, sizeof what, &err)) {
		ib_warn("%s", err.msg);
		return 0;
	}
	return held && (any_folder || !strcmp(what, c->dir));
}

/* Writes the status of seq, and the heartbeat when the manifest asks for it. */
static void report(const struct hctx *c, int64_t seq, enum ib_status st, int code,
                   const char *message)
{
	struct ib_err err;

	if (ib_handler_status_write(&c->env, seq, "Enable", st, code, message, &err))
		ib_error("%s", err.msg);
	if (c->heartbeat &&
	    ib_handler_heartbeat_write(&c->env, st != IB_STATUS_ERROR, message, &err))
		ib_error("%s", err.msg);
}

/* A transitioning status: the step, after its percentage when known (pct " (n%)", or ""). */
static void transitioning(const struct hctx *c, int64_t seq, const char *pct, const char *what)
{
	char message[IB_ERR_MSG_MAX + 64];

	snprintf(message, sizeof message, INSTALLING "%s: %s", pct, what);
	report(c, seq, IB_STATUS_TRANSITIONING, 0, message);
}

/*
 * Writes the final status of seq for an extension code and a one-line reason; but for
 * success, the message adds the code, its meaning and where the log is.
 */
static void finish(const struct hctx *c, int64_t seq, int code, const char *reason)
{
	char message[IB_HANDLER_MESSAGE_MAX + 256];
	const char *meaning = "not supported or failed";

	switch (code) {
	case IB_EXT_REBOOT:
		meaning = "reboot required";
		break;
	case IB_EXT_TIMEOUT_LOCK:
	case IB_EXT_TIMEOUT:
		meaning = "timed out; retry";
		break;
	case IB_EXT_EXCEPTION:
		meaning = "unexpected error";
	}
	snprintf(message, sizeof message, "%s (code %d: %s; log: %s)", reason, code, meaning,
	         c->log);
	report(c, seq,
	       code == IB_EXT_SUCCESS || code == IB_EXT_REBOOT ? IB_STATUS_SUCCESS
	                                                       : IB_STATUS_ERROR,
	       code, code ? message : reason);
}

/* Logs a failure (IB_E* rc) and, when seq is one, reports it as its final status. */
static int fail(const struct hctx *c, int64_t seq, int rc, const char *msg)
{
	int code = ib_ext_code_from_err(rc);

	ib_error("%s", msg);
	if (seq >= 0)
		finish(c, seq, code, msg);
	return code;
}

/*
 * The worker gets the command's own options (the environment, $IBDRV_FACTS among it, is
 * inherited) and the handler folder found here.
 */
static int start_worker(const struct hctx *c, int64_t *pid, struct ib_err *err)
{
	const char **argv = malloc((c->argc + 4) * sizeof *argv);
	char *exe = NULL;
	int rc = argv ? plat_exe_path(&exe, err) : ib_oom(err);

	if (rc == 0) {
		argv[0] = exe;
		argv[1] = "worker";
		argv[2] = "--handler-dir";
		argv[3] = c->dir;
		memcpy(argv + 4, c->argv + 1, c->argc * sizeof *argv);
		/* Whatever the worker prints (a crash report) lands in the log beside its
		 * messages. */
		rc = ib_proc_spawn_detached(argv, NULL, c->log, pid, err);
	}
	free(argv);
	free(exe);
	return rc;
}

static int cmd_enable(struct hctx *c)
{
	struct config f;
	struct ib_lock *hl = NULL;
	struct ib_err err;
	enum ib_status st;
	int64_t seq, mrseq, pid;
	int code = 0, st_code, rc;

	if ((rc = ib_handler_manifest_heartbeat(c->dir, &c->heartbeat, &err)) ||
	    (rc = ib_handler_seq(&c->env, &seq, &err)))
		return fail(c, -1, rc, err.msg);
	rc = ib_lock_acquire(c->paths.handler_lock, "enable", IB_LOCK_WAIT_MS_DEFAULT, &hl, &err);
	if (rc == 0 && (rc = ib_handler_mrseq_read(c->dir, &mrseq, &err)) == IB_EINPUT) {
		/* Rewritten below: a damaged mrseq must not block every later configuration. */
		ib_warn("%s; taken as none", err.msg);
		rc = 0;
	}
	if (rc)
		goto failed;
	if (seq < mrseq) {
		ib_info("sequence %lld: older than the last one taken on (%lld)", (long long)seq,
		        (long long)mrseq);
		goto out;
	}
	if (seq == mrseq) {
		if (ib_handler_status_read(&c->env, seq, &st, &st_code, &err))
			ib_warn("%s", err.msg);
		if (ib_status_terminal(st)) {
			ib_info("sequence %lld: already processed (%s, code %d)", (long long)seq,
			        ib_status_name(st), st_code);
			goto out;
		}
	} else {
		/* Settings and package are checked before enable promises anything. */
		rc = load_config(c, seq, &f, &err);
		if (rc == 0) {
			config_free(&f);
			rc = ib_handler_mrseq_write(c->dir, seq, &err);
		}
		if (rc) {
			/* Taken on all the same: these settings are refused once, not at every
			 * enable. */
			if (rc == IB_EINPUT)
				ib_handler_mrseq_write(c->dir, seq, NULL);
			goto failed;
		}
		transitioning(c, seq, "", "starting");
	}
	if (worker_running(c, 0, &pid)) {
		ib_info(WORKER_ON, (long long)pid,
		        seq == mrseq ? "is still processing" : "will next take on", (long long)seq);
		goto out;
	}
	if (seq == mrseq) {
		ib_warn("sequence %lld: taken on but never finished", (long long)seq);
		transitioning(c, seq, "", "resuming after an interruption");
	}
	rc = start_worker(c, &pid, &err);
	if (rc == 0) {
		ib_info(WORKER_ON, (long long)pid, "started for", (long long)seq);
		goto out;
	}
	ib_err_prefix(&err, "cannot start the worker");
	rc = IB_EINTERNAL;
failed:
	code = fail(c, seq, rc, err.msg);
out:
	ib_lock_release(hl);
	return code;
}

struct progress {
	const struct hctx *c;
	int64_t seq;
	uint64_t last_ms;
	char last_what[256];
};

static void on_progress(void *ctx, int percent, const char *what)
{
	struct progress *p = ctx;
	char pct[16] = "";
	uint64_t now = plat_monotonic_ms();

	if (!strcmp(what, p->last_what) && now - p->last_ms < PROGRESS_EVERY_MS)
		return;
	snprintf(p->last_what, sizeof p->last_what, "%s", what);
	p->last_ms = now;
	if (percent >= 0)
		snprintf(pct, sizeof pct, " (%d%%)", percent);
	transitioning(p->c, p->seq, pct, what);
}

/* Applies the configuration seq; returns its extension code, reported in the status file. */
static int process(const struct hctx *c, int64_t seq)
{
	struct config f;
	struct ib_apply_opts ao;
	struct ib_apply_result res;
	struct progress prog; /* what was reported last: nothing yet */
	struct ib_lock *run = NULL;
	struct ib_err err;
	char what[128];
	int64_t now_seq;
	int code, rc;

	snprintf(what, sizeof what, "processing sequence %lld", (long long)seq);
	ib_info("%s", what);
	rc = load_config(c, seq, &f, &err);
	if (rc == 0 && (rc = ib_lock_acquire(c->paths.run_lock, what, 0, &run, &err)) == IB_EBUSY) {
		transitioning(c, seq, "", err.msg);
		rc = ib_lock_acquire(c->paths.run_lock, what, c->lock_wait_s * 1000u, &run, &err);
	}
	if (rc) {
		code = fail(c, seq, rc, err.msg);
		goto out;
	}
	/* A newer configuration that came while this one waited replaces it. */
	if (ib_handler_mrseq_read(c->dir, &now_seq, &err) == 0 && now_seq != seq) {
		snprintf(what, sizeof what, "not applied: replaced by configuration %lld",
		         (long long)now_seq);
		code = IB_EXT_UNSUPPORTED;
		finish(c, seq, code, what);
		goto out;
	}
	memset(&ao, 0, sizeof ao);
	ao.bundle_path = f.s.bundle_path;
	ao.urls = (const char *const *)(f.s.n_urls ? f.s.urls : f.pc.urls);
	ao.n_urls = f.s.n_urls ? f.s.n_urls : f.pc.n_urls;
	ao.keys = f.keys;
	ao.n_keys = f.n_keys;
	ao.facts_path = c->o.facts;
	ao.root = c->paths.root;
	ao.package_dir = c->dir;
	ao.cacert = f.s.cacert;
	ao.download_timeout_seconds = f.s.download_timeout_s;
	ao.allow_downgrade = f.s.allow_downgrade;
	ao.progress = on_progress;
	ao.progress_ctx = &prog;
	prog.c = c;
	prog.seq = seq;
	prog.last_ms = 0;
	prog.last_what[0] = '\0';
	ib_apply(&ao, &res);
	code = res.code;
	/* The chosen driver is in the engine's log, the code and the reason in the status's. */
	finish(c, seq, code, res.reason[0] ? res.reason : "no reason given");
out:
	ib_lock_release(run);
	config_free(&f);
	return code;
}

int cmd_worker(int argc, char **argv)
{
	struct ib_lock *wl = NULL, *hl = NULL;
	struct hctx c;
	struct ib_err err;
	int64_t seq = -1;
	int code, rc;

	code = ctx_init(&c, argc, argv, 1);
	if (code)
		goto out;
	if (ib_handler_manifest_heartbeat(c.dir, &c.heartbeat, &err))
		ib_warn("%s", err.msg);
	rc = ib_lock_acquire(c.paths.worker_lock, c.dir, WORKER_QUEUE_S * 1000u, &wl, &err);
	if (rc) /* the sequence it was started for fails with the wait */
		ib_handler_mrseq_read(c.dir, &seq, NULL);
	while (rc == 0) {
		enum ib_status st = IB_STATUS_NONE;
		int st_code;

		seq = -1; /* a failure here is no sequence's */
		rc = ib_lock_acquire(c.paths.handler_lock, "worker", IB_LOCK_WAIT_MS_DEFAULT, &hl,
		                     &err);
		if (rc == 0)
			rc = ib_handler_mrseq_read(c.dir, &seq, &err);
		if (rc == 0 && seq >= 0 && ib_handler_status_read(&c.env, seq, &st, &st_code, &err))
			ib_warn("%s", err.msg);
		if (rc || seq < 0 || ib_status_terminal(st))
			break;
		ib_lock_release(hl);
		hl = NULL;
		code = process(&c, seq);
	}
	if (rc) {
		code = fail(&c, seq, rc, err.msg);
	} else {
		/* Let go of the worker lock while enable cannot look, so it either sees this
		   worker taking its sequence or starts a new one. */
		ib_lock_release(wl);
		wl = NULL;
	}
	ib_info("worker done");
out:
	ib_lock_release(hl);
	ib_lock_release(wl);
	ctx_free(&c);
	return code;
}

/* Waits up to the --wait time for a running worker to finish; non-zero if it still runs. */
static int wait_for_worker(const struct hctx *c)
{
	uint64_t start = plat_monotonic_ms();
	int64_t pid;

	for (unsigned polls = 0; worker_running(c, 1, &pid); polls++) {
		uint64_t waited = plat_monotonic_ms() - start;

		if (waited >= (uint64_t)c->worker_wait_s * 1000u) {
			ib_warn("worker pid %lld still running after %u s", (long long)pid,
			        c->worker_wait_s);
			return 1;
		}
		if (polls % 60 == 0) /* every 30 s */
			ib_info("waiting for worker pid %lld", (long long)pid);
		plat_sleep_ms(500);
	}
	return 0;
}

/* install: the extension package must be usable (its keys load) before enable is run. */
static int cmd_install(struct hctx *c)
{
	struct config f;
	struct ib_err err;
	int rc = load_config(c, -1, &f, &err);

	if (rc) {
		ib_err_prefix(&err, "extension package unusable");
		return fail(c, -1, rc, err.msg);
	}
	ib_info("package ready: %zu key(s), %zu URL(s)", f.n_keys, f.pc.n_urls);
	config_free(&f);
	return 0;
}

/*
 * disable and uninstall wait for a running worker; uninstall then removes what it may free
 * (downloads, scratch), not the installed state.
 */
static void cmd_remove(struct hctx *c, int uninstall)
{
	struct ib_lock *run = NULL;
	struct ib_err err;

	if (wait_for_worker(c) || !uninstall)
		return;
	if (ib_lock_acquire(c->paths.run_lock, "uninstall", IB_LOCK_WAIT_MS_DEFAULT, &run, &err)) {
		ib_warn("%s; cache kept", err.msg);
		return;
	}
	if (plat_remove_tree(c->paths.cache_dir, &err) ||
	    plat_remove_tree(c->paths.staging_dir, &err))
		ib_warn("%s", err.msg);
	else
		ib_info("removed %s and %s", c->paths.cache_dir, c->paths.staging_dir);
	ib_lock_release(run);
}

int cmd_handler(int argc, char **argv)
{
	const char *op = argv[0], *from;
	struct hctx c;
	int code = ctx_init(&c, argc, argv, 0);

	if (code)
		goto out;
	/* main passes only the five names */
	if (!strcmp(op, "enable")) {
		code = cmd_enable(&c);
	} else if (!strcmp(op, "install")) {
		code = cmd_install(&c);
	} else if (!strcmp(op, "update")) {
		from = getenv("AZURE_GUEST_AGENT_UPDATING_FROM_VERSION");
		ib_info("update from version %s; state kept", from ? from : "(unknown)");
	} else {
		cmd_remove(&c, !strcmp(op, "uninstall"));
	}
	ib_info("%s: exit code %d", op, code);
out:
	ctx_free(&c);
	return code;
}
