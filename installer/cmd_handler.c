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

#define FACTS_ENV "IBDRV_FACTS"
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

struct hopts {
	const char *handler_dir;
	const char *root;
	const char *facts;
	const char *pubkeys[MAX_PUBKEYS];
	size_t n_pubkeys;
	const char *lock_wait_arg; /* kept as given, to pass on to the worker */
	unsigned lock_wait_s;
	unsigned worker_wait_s;
};

struct hctx {
	const char *op;
	struct hopts o;
	char *dir;
	struct ib_handler_env env;
	struct ib_paths paths;
	int heartbeat;
	int env_loaded;
	int paths_loaded;
};

static int parse_opts(int argc, char **argv, struct hopts *o)
{
	struct ib_cli cli;

	memset(o, 0, sizeof *o);
	o->lock_wait_s = LOCK_WAIT_S_DEFAULT;
	o->worker_wait_s = WORKER_WAIT_S_DEFAULT;
	if (ib_cli_parse(IB_CLI_HANDLER, argc, argv, &cli))
		return IB_EXT_UNSUPPORTED;
	if (cli.lock_wait && ib_cli_seconds(cli.lock_wait, 0, 86400, &o->lock_wait_s))
		return ib_cli_error(argv[0], "--lock-wait: '%s' is not 0..86400 seconds",
		                    cli.lock_wait);
	if (cli.wait && ib_cli_seconds(cli.wait, 0, 86400, &o->worker_wait_s))
		return ib_cli_error(argv[0], "--wait: '%s' is not 0..86400 seconds", cli.wait);
	o->handler_dir = cli.handler_dir;
	o->root = cli.root;
	o->facts = cli.facts;
	memcpy(o->pubkeys, cli.pubkeys, sizeof o->pubkeys);
	o->n_pubkeys = cli.n_pubkeys;
	o->lock_wait_arg = cli.lock_wait;
	return 0;
}

/* Appends to <logFolder>/ibdrv.log, starting a new file once it grows past LOG_ROTATE_BYTES. */
static void open_log(const struct hctx *c)
{
	struct ib_err err;
	char *path = ib_path_join(c->env.log_dir, IB_HANDLER_LOG_NAME);
	char *old = path ? malloc(strlen(path) + 3) : NULL;
	enum plat_kind kind;
	uint64_t size;

	if (!path || !old || plat_mkdir_p(c->env.log_dir, 0755, &err))
		goto out;
	sprintf(old, "%s.1", path);
	if (plat_lstat(path, &kind, &size, &err) == 0 && kind == PLAT_REGULAR &&
	    size > LOG_ROTATE_BYTES)
		plat_rename_replace(path, old, &err);
	if (ib_log_open_file(path) != 0)
		ib_warn("%s: cannot open the log file", path);
out:
	free(old);
	free(path);
}

static void ctx_free(struct hctx *c)
{
	if (c->env_loaded)
		ib_handler_env_free(&c->env);
	if (c->paths_loaded)
		ib_paths_free(&c->paths);
	free(c->dir);
}

/* Finds the handler folder and its environment, opens the log, sets up the state folder. */
static int ctx_init(struct hctx *c, const char *op, int argc, char **argv)
{
	struct ib_err err;
	int rc;

	memset(c, 0, sizeof *c);
	c->op = op;
	rc = parse_opts(argc, argv, &c->o);
	if (rc)
		return rc;
	if (!c->o.facts)
		c->o.facts = getenv(FACTS_ENV);
	if (ib_handler_dir(c->o.handler_dir, &c->dir, &err) ||
	    ib_handler_env_load(c->dir, &c->env, &err)) {
		fprintf(stderr, "ibdrv-install %s: %s\n", op, err.msg);
		return ib_ext_code_from_err(err.code);
	}
	c->env_loaded = 1;
	open_log(c);
	ib_info("ibdrv-install %s: %s (handler folder %s)", IBDRV_VERSION, op, c->dir);
	if (ib_paths_init(&c->paths, c->o.root, &err) == 0) {
		c->paths_loaded = 1;
		if (ib_paths_ensure_state_dir(&c->paths, &err) == 0)
			return 0;
	}
	ib_error("%s", err.msg);
	return ib_ext_code_from_err(err.code);
}

/* Trusted keys (--pubkey, else those the package names) and the package's default URLs. */
static int load_trust(const struct hctx *c, struct ib_pubkey *keys, size_t *n_keys,
                      struct ib_package_config *pc, struct ib_err *err)
{
	int rc;

	*n_keys = 0;
	memset(pc, 0, sizeof *pc);
	if (c->o.n_pubkeys) {
		char *path = ib_path_join(c->dir, IB_HANDLER_PACKAGE_CONFIG);
		enum plat_kind kind;

		if (!path)
			return ib_oom(err);
		rc = plat_lstat(path, &kind, NULL, err);
		free(path);
		if (rc == 0 && kind != PLAT_MISSING)
			rc = ib_package_config_load(c->dir, pc, err);
		for (size_t i = 0; rc == 0 && i < c->o.n_pubkeys; i++)
			rc = ib_pubkey_load(c->o.pubkeys[i], &keys[(*n_keys)++], err);
	} else {
		rc = ib_package_config_load(c->dir, pc, err);
		for (size_t i = 0; rc == 0 && i < pc->n_keys && i < MAX_PUBKEYS; i++)
			rc = ib_pubkey_load(pc->keys[i], &keys[(*n_keys)++], err);
	}
	if (rc)
		ib_package_config_free(pc);
	return rc;
}

/* Checks settings and package before enable promises anything; logs what was asked. */
static int check_config(const struct hctx *c, int64_t seq, struct ib_err *err)
{
	struct ib_handler_settings s;
	struct ib_package_config pc;
	struct ib_pubkey keys[MAX_PUBKEYS];
	size_t n_keys;
	int rc = ib_handler_settings_load(&c->env, seq, &s, err);

	if (rc)
		return rc;
	if (s.has_protected)
		ib_info("protected settings were given; this extension has none and does not "
		        "read them");
	ib_info("settings %lld: bundlePath %s, %zu bundleUrls, downloadTimeoutSeconds %u, "
	        "allowDowngrade %s, caCertPath %s",
	        (long long)seq, s.bundle_path ? s.bundle_path : "(none)", s.n_urls,
	        s.download_timeout_s, s.allow_downgrade ? "true" : "false",
	        s.cacert ? s.cacert : "(none)");
	ib_handler_settings_free(&s);
	rc = load_trust(c, keys, &n_keys, &pc, err);
	if (rc == 0)
		ib_package_config_free(&pc);
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

static int start_worker(const struct hctx *c, int64_t *pid, struct ib_err *err)
{
	const char *argv[8 + 2 * MAX_PUBKEYS];
	char *exe = NULL, *log = NULL;
	size_t n = 0;
	int rc = plat_exe_path(&exe, err);

	if (rc)
		return rc;
	argv[n++] = exe;
	argv[n++] = "worker";
	argv[n++] = "--handler-dir";
	argv[n++] = c->dir;
	if (c->o.root) {
		argv[n++] = "--root";
		argv[n++] = c->o.root;
	}
	if (c->o.facts) {
		argv[n++] = "--facts";
		argv[n++] = c->o.facts;
	}
	for (size_t i = 0; i < c->o.n_pubkeys; i++) {
		argv[n++] = "--pubkey";
		argv[n++] = c->o.pubkeys[i];
	}
	if (c->o.lock_wait_arg) {
		argv[n++] = "--lock-wait";
		argv[n++] = c->o.lock_wait_arg;
	}
	argv[n] = NULL;
	/* Whatever the worker prints (a crash report) lands in the log beside its messages. */
	log = ib_path_join(c->env.log_dir, IB_HANDLER_LOG_NAME);
	rc = log ? ib_proc_spawn_detached(argv, NULL, log, pid, err) : ib_oom(err);
	free(log);
	free(exe);
	return rc;
}

static int cmd_enable(struct hctx *c)
{
	struct ib_lock *hl = NULL;
	struct ib_err err;
	enum ib_status st;
	int64_t seq, mrseq, pid;
	int code = 0, rc;

	if ((rc = ib_handler_manifest_heartbeat(c->dir, &c->heartbeat, &err)) ||
	    (rc = ib_handler_seq(&c->env, &seq, &err))) {
		ib_error("%s", err.msg);
		return ib_ext_code_from_err(rc);
	}
	ib_info("configuration sequence number %lld", (long long)seq);
	rc = ib_lock_acquire(c->paths.handler_lock, "handler enable", IB_LOCK_WAIT_MS_DEFAULT, &hl,
	                     &err);
	if (rc == 0) {
		rc = ib_handler_mrseq_read(c->dir, &mrseq, &err);
		if (rc == IB_EINPUT) {
			/* Rewritten below: a damaged mrseq must not block every later
			 * configuration. */
			ib_warn("%s; taking it as no sequence number yet", err.msg);
			mrseq = -1;
			rc = 0;
		}
	}
	if (rc) {
		ib_error("%s", err.msg);
		code = ib_ext_code_from_err(rc);
		ib_handler_status_write(&c->env, seq, "Enable", IB_STATUS_ERROR, code, err.msg,
		                        NULL);
		goto out;
	}
	if (seq < mrseq) {
		ib_info("sequence number %lld is older than the last one taken on (%lld): "
		        "nothing to do",
		        (long long)seq, (long long)mrseq);
		goto out;
	}
	if (seq == mrseq) {
		if (ib_handler_status_read(&c->env, seq, &st, &code, &err)) {
			ib_warn("%s", err.msg);
			st = IB_STATUS_NONE;
		}
		if (ib_status_terminal(st)) {
			ib_info("sequence number %lld was already processed (%s, code %d): nothing "
			        "to do",
			        (long long)seq, ib_status_name(st), code);
			code = 0;
			goto out;
		}
		code = 0;
		if (worker_running(c, 0, &pid)) {
			ib_info("worker pid %lld is still processing sequence number %lld",
			        (long long)pid, (long long)seq);
			goto out;
		}
		ib_warn("sequence number %lld was taken on but never finished (restart or killed "
		        "worker); resuming it",
		        (long long)seq);
		ib_handler_status_write(&c->env, seq, "Enable", IB_STATUS_TRANSITIONING, 0,
		                        "Installing the InfiniBand driver: resuming after an "
		                        "interruption",
		                        NULL);
	} else {
		rc = check_config(c, seq, &err);
		if (rc == 0)
			rc = ib_handler_mrseq_write(c->dir, seq, &err);
		if (rc) {
			ib_error("%s", err.msg);
			code = ib_ext_code_from_err(rc);
			ib_handler_status_write(&c->env, seq, "Enable", IB_STATUS_ERROR, code,
			                        err.msg, NULL);
			if (rc == IB_EINPUT)
				ib_handler_mrseq_write(c->dir, seq, NULL);
			goto out;
		}
		ib_handler_status_write(&c->env, seq, "Enable", IB_STATUS_TRANSITIONING, 0,
		                        "Installing the InfiniBand driver: starting", NULL);
		if (worker_running(c, 0, &pid)) {
			ib_info("worker pid %lld will take on sequence number %lld next",
			        (long long)pid, (long long)seq);
			goto out;
		}
	}
	rc = start_worker(c, &pid, &err);
	if (rc) {
		ib_error("cannot start the worker: %s", err.msg);
		code = IB_EXT_EXCEPTION;
		ib_handler_status_write(&c->env, seq, "Enable", IB_STATUS_ERROR, code, err.msg,
		                        NULL);
		goto out;
	}
	ib_info("worker pid %lld started for sequence number %lld", (long long)pid, (long long)seq);
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

static void write_transitioning(const struct hctx *c, int64_t seq, const char *message)
{
	struct ib_err err;

	if (ib_handler_status_write(&c->env, seq, "Enable", IB_STATUS_TRANSITIONING, 0, message,
	                            &err))
		ib_warn("%s", err.msg);
	if (c->heartbeat && ib_handler_heartbeat_write(&c->env, 1, message, &err))
		ib_warn("%s", err.msg);
}

static void on_progress(void *ctx, int percent, const char *what)
{
	struct progress *p = ctx;
	char message[512];
	uint64_t now = plat_monotonic_ms();

	if (!strcmp(what, p->last_what) && now - p->last_ms < PROGRESS_EVERY_MS)
		return;
	snprintf(p->last_what, sizeof p->last_what, "%s", what);
	p->last_ms = now;
	if (percent >= 0)
		snprintf(message, sizeof message, "Installing the InfiniBand driver (%d%%): %s",
		         percent, what);
	else
		snprintf(message, sizeof message, "Installing the InfiniBand driver: %s", what);
	write_transitioning(p->c, p->seq, message);
}

static const char *code_meaning(int code)
{
	switch (code) {
	case IB_EXT_TIMEOUT_LOCK:
	case IB_EXT_TIMEOUT:
		return "timed out; retry";
	case IB_EXT_EXCEPTION:
		return "unexpected error";
	default:
		return "not supported or could not be completed";
	}
}

/* Writes the final status of seq for an extension code and a one-line reason. */
static void finish(const struct hctx *c, int64_t seq, int code, const char *reason)
{
	char message[IB_HANDLER_MESSAGE_MAX + 256];
	struct ib_err err;
	int ok = code == IB_EXT_SUCCESS || code == IB_EXT_REBOOT;

	if (code == IB_EXT_SUCCESS)
		snprintf(message, sizeof message, "%s", reason);
	else if (code == IB_EXT_REBOOT)
		snprintf(message, sizeof message,
		         "%s; reboot required to complete the installation (code 3010)", reason);
	else
		snprintf(message, sizeof message, "%s (code %d: %s; log: %s/%s)", reason, code,
		         code_meaning(code), c->env.log_dir, IB_HANDLER_LOG_NAME);
	if (ib_handler_status_write(&c->env, seq, "Enable",
	                            ok ? IB_STATUS_SUCCESS : IB_STATUS_ERROR, code, message, &err))
		ib_error("%s", err.msg);
	if (c->heartbeat && ib_handler_heartbeat_write(&c->env, ok, message, &err))
		ib_warn("%s", err.msg);
}

/* Applies the configuration seq; returns its extension code, reported in the status file. */
static int process(const struct hctx *c, int64_t seq)
{
	struct ib_handler_settings s;
	struct ib_package_config pc;
	struct ib_pubkey keys[MAX_PUBKEYS];
	struct ib_apply_opts ao;
	struct ib_apply_result res;
	struct progress prog;
	struct ib_lock *run = NULL;
	struct ib_err err;
	char what[64];
	int64_t now_seq;
	size_t n_keys = 0;
	int rc;

	ib_info("processing sequence number %lld", (long long)seq);
	memset(&pc, 0, sizeof pc);
	rc = ib_handler_settings_load(&c->env, seq, &s, &err);
	if (rc) {
		finish(c, seq, ib_ext_code_from_err(rc), err.msg);
		return ib_ext_code_from_err(rc);
	}
	rc = load_trust(c, keys, &n_keys, &pc, &err);
	if (rc) {
		finish(c, seq, ib_ext_code_from_err(rc), err.msg);
		goto out;
	}
	snprintf(what, sizeof what, "handler worker, sequence %lld", (long long)seq);
	rc = ib_lock_acquire(c->paths.run_lock, what, 0, &run, &err);
	if (rc == IB_EBUSY) {
		write_transitioning(c, seq, err.msg);
		rc = ib_lock_acquire(c->paths.run_lock, what, c->o.lock_wait_s * 1000u, &run, &err);
	}
	if (rc) {
		finish(c, seq, ib_ext_code_from_err(rc), err.msg);
		goto out;
	}
	/* A newer configuration that came while this one waited replaces it. */
	if (ib_handler_mrseq_read(c->dir, &now_seq, &err) == 0 && now_seq != seq) {
		char reason[128];

		snprintf(reason, sizeof reason, "not applied: replaced by configuration %lld",
		         (long long)now_seq);
		rc = IB_ENOTSUP;
		finish(c, seq, IB_EXT_UNSUPPORTED, reason);
		goto out;
	}
	memset(&ao, 0, sizeof ao);
	memset(&prog, 0, sizeof prog);
	prog.c = c;
	prog.seq = seq;
	ao.bundle_path = s.bundle_path;
	ao.urls = (const char *const *)(s.n_urls ? s.urls : pc.urls);
	ao.n_urls = s.n_urls ? s.n_urls : pc.n_urls;
	ao.keys = keys;
	ao.n_keys = n_keys;
	ao.facts_path = c->o.facts;
	ao.root = c->paths.root;
	ao.package_dir = c->dir;
	ao.cacert = s.cacert;
	ao.download_timeout_seconds = s.download_timeout_s;
	ao.allow_downgrade = s.allow_downgrade;
	ao.progress = on_progress;
	ao.progress_ctx = &prog;
	ib_apply(&ao, &res);
	ib_info("outcome of sequence %lld: code %d, driver %s: %s", (long long)seq, res.code,
	        res.driver[0] ? res.driver : "(none)", res.reason);
	finish(c, seq, res.code, res.reason[0] ? res.reason : "no reason given");
	ib_lock_release(run);
	ib_package_config_free(&pc);
	ib_handler_settings_free(&s);
	return res.code;
out:
	ib_lock_release(run);
	ib_package_config_free(&pc);
	ib_handler_settings_free(&s);
	return ib_ext_code_from_err(rc);
}

int cmd_worker(int argc, char **argv)
{
	struct ib_lock *wl = NULL, *hl = NULL;
	struct hctx c;
	struct ib_err err;
	int64_t seq = -1;
	int code, rc;

	/* The worker's stdout and stderr are the log file already: log lines once. */
	ib_log_quiet_stderr(1);
	code = ctx_init(&c, "worker", argc, argv);
	if (code)
		goto out;
	if (ib_handler_manifest_heartbeat(c.dir, &c.heartbeat, &err))
		ib_warn("%s", err.msg);
	rc = ib_lock_acquire(c.paths.worker_lock, c.dir, WORKER_QUEUE_S * 1000u, &wl, &err);
	if (rc) {
		ib_error("%s", err.msg);
		code = ib_ext_code_from_err(rc);
		if (ib_handler_mrseq_read(c.dir, &seq, NULL) == 0 && seq >= 0)
			finish(&c, seq, code, err.msg);
		goto out;
	}
	for (;;) {
		enum ib_status st = IB_STATUS_NONE;
		int st_code;

		rc = ib_lock_acquire(c.paths.handler_lock, "handler worker",
		                     IB_LOCK_WAIT_MS_DEFAULT, &hl, &err);
		if (rc == 0)
			rc = ib_handler_mrseq_read(c.dir, &seq, &err);
		if (rc) {
			ib_error("%s", err.msg);
			code = ib_ext_code_from_err(rc);
			break;
		}
		if (seq >= 0 && ib_handler_status_read(&c.env, seq, &st, &st_code, &err))
			ib_warn("%s", err.msg);
		if (seq < 0 || ib_status_terminal(st)) {
			/* Let go of the worker lock while enable cannot look, so it either sees
			   this worker taking its sequence or starts a new one. */
			ib_lock_release(wl);
			wl = NULL;
			break;
		}
		ib_lock_release(hl);
		hl = NULL;
		code = process(&c, seq);
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
	uint64_t start = plat_monotonic_ms(), last_log = 0;
	int64_t pid;

	while (worker_running(c, 1, &pid)) {
		uint64_t waited = plat_monotonic_ms() - start;

		if (waited >= (uint64_t)c->o.worker_wait_s * 1000u) {
			ib_warn("worker pid %lld is still installing after %u s; it will finish on "
			        "its own and report in the status file",
			        (long long)pid, c->o.worker_wait_s);
			return 1;
		}
		if (waited - last_log >= 30000 || last_log == 0) {
			ib_info("waiting for worker pid %lld to finish the installation",
			        (long long)pid);
			last_log = waited ? waited : 1;
		}
		plat_sleep_ms(500);
	}
	return 0;
}

static int cmd_install(struct hctx *c)
{
	struct ib_package_config pc;
	struct ib_pubkey keys[MAX_PUBKEYS];
	struct ib_err err;
	size_t n;
	int rc = load_trust(c, keys, &n, &pc, &err);

	if (rc) {
		ib_error("the extension package is not usable: %s", err.msg);
		return ib_ext_code_from_err(rc);
	}
	ib_info("extension package ready: %zu trusted key(s), %zu default URL(s); state in %s", n,
	        pc.n_urls, c->paths.state_dir);
	ib_package_config_free(&pc);
	return 0;
}

/* Removes what uninstall may free: downloads and scratch; keeps the installed state. */
static int uninstall_cleanup(const struct hctx *c)
{
	struct ib_lock *run = NULL;
	struct ib_err err;

	if (ib_lock_acquire(c->paths.run_lock, "handler uninstall", IB_LOCK_WAIT_MS_DEFAULT, &run,
	                    &err)) {
		ib_warn("%s; leaving the download cache in place", err.msg);
		return 0;
	}
	if (plat_remove_tree(c->paths.cache_dir, &err) ||
	    plat_remove_tree(c->paths.staging_dir, &err))
		ib_warn("%s", err.msg);
	else
		ib_info("removed %s and %s; the installed driver and %s stay", c->paths.cache_dir,
		        c->paths.staging_dir, c->paths.state_file);
	ib_lock_release(run);
	return 0;
}

int cmd_handler(int argc, char **argv)
{
	const char *op = argv[0];
	const char *from;
	struct hctx c;
	int code = ctx_init(&c, op, argc, argv);

	if (code)
		goto out;
	if (!strcmp(op, "enable")) {
		code = cmd_enable(&c);
	} else if (!strcmp(op, "install")) {
		code = cmd_install(&c);
	} else if (!strcmp(op, "disable")) {
		wait_for_worker(&c);
	} else if (!strcmp(op, "uninstall")) {
		if (!wait_for_worker(&c))
			code = uninstall_cleanup(&c);
	} else if (!strcmp(op, "update")) {
		from = getenv("AZURE_GUEST_AGENT_UPDATING_FROM_VERSION");
		ib_info("updating from handler version %s: the machine state carries over as is",
		        from ? from : "(unknown)");
	} else {
		code = ib_cli_error(op, "unknown handler command '%s'", op);
	}
	ib_info("%s: exit code %d", op, code);
out:
	ctx_free(&c);
	return code;
}
