/*
 * handler.h - the files of the Azure guest agent's extension handler protocol.
 *
 * The agent unpacks the extension package into a handler folder, writes
 * HandlerEnvironment.json there (where logs, settings and status go), puts
 * the settings of each configuration in <configFolder>/<seq>.settings, runs
 * the commands of HandlerManifest.json, and reads the result of a
 * configuration from <statusFolder>/<seq>.status. This module reads and
 * writes those files; cmd_handler.c drives them (docs/design.md, "Extension
 * handler"). Reads of agent files are tolerant of extra keys the agent may
 * add; reads of our own files are strict. Protected settings are never read
 * beyond noting that they are there, and never logged.
 * Every struct owns its strings; free them with the matching _free.
 */
#ifndef IBDRV_HANDLER_H
#define IBDRV_HANDLER_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define IB_HANDLER_DIR_ENV "IBDRV_HANDLER_DIR"
#define IB_HANDLER_SEQ_ENV "ConfigSequenceNumber"
#define IB_HANDLER_PACKAGE_CONFIG "ibdrv.json"
#define IB_HANDLER_LOG_NAME "ibdrv.log"
#define IB_HANDLER_STATUS_MAX (128 * 1024) /* the agent ignores larger status files */
#define IB_HANDLER_MESSAGE_MAX 1024        /* what the portal shows of a message */
#define IB_HANDLER_DEFAULT_NAME "Microsoft.HpcCompute.InfiniBandDriver"

/* The handler folder: dir when given, else $IBDRV_HANDLER_DIR, else the program's folder. */
int ib_handler_dir(const char *dir, char **out, struct ib_err *err);

/* Only strings (ib_handler_env_free walks them as an array). */
struct ib_handler_env {
	char *name;           /* the handler's name, reported in the status */
	char *log_dir;        /* logFolder */
	char *config_dir;     /* configFolder: <seq>.settings */
	char *status_dir;     /* statusFolder: <seq>.status */
	char *heartbeat_file; /* NULL when the agent gave none */
};

/* Reads <handler_dir>/HandlerEnvironment.json: [{"name", "handlerEnvironment": {...}}]. */
int ib_handler_env_load(const char *handler_dir, struct ib_handler_env *env, struct ib_err *err);
void ib_handler_env_free(struct ib_handler_env *env);

/* reportHeartbeat of <handler_dir>/HandlerManifest.json (absent: 0). */
int ib_handler_manifest_heartbeat(const char *handler_dir, int *report, struct ib_err *err);

/*
 * The sequence number of the configuration to apply: $ConfigSequenceNumber
 * when set, else that of the most recently written <n>.settings (as the agent
 * itself decides; ties go to the higher number). None at all is IB_EINPUT.
 */
int ib_handler_seq(const struct ib_handler_env *env, int64_t *seq, struct ib_err *err);

struct ib_handler_settings {
	char *bundle_path; /* publicSettings.bundlePath, or NULL */
	char **urls;       /* publicSettings.bundleUrls */
	size_t n_urls;
	unsigned download_timeout_s; /* publicSettings.downloadTimeoutSeconds; 0: default */
	int allow_downgrade;         /* publicSettings.allowDowngrade */
	char *cacert;                /* publicSettings.caCertPath, or NULL */
	int has_protected;           /* protected settings were given (they are not used) */
};

/*
 * Reads and checks <config_dir>/<seq>.settings; an empty file means no
 * settings. Bad values are IB_EINPUT naming the setting; unknown public
 * settings are logged as warnings and ignored.
 */
int ib_handler_settings_load(const struct ib_handler_env *env, int64_t seq,
                             struct ib_handler_settings *s, struct ib_err *err);
void ib_handler_settings_free(struct ib_handler_settings *s);

/* The last sequence number enable took on (<handler_dir>/mrseq); -1 when none. */
int ib_handler_mrseq_read(const char *handler_dir, int64_t *seq, struct ib_err *err);
int ib_handler_mrseq_write(const char *handler_dir, int64_t seq, struct ib_err *err);

enum ib_status {
	IB_STATUS_NONE, /* no status file yet */
	IB_STATUS_TRANSITIONING,
	IB_STATUS_SUCCESS,
	IB_STATUS_ERROR,
	IB_STATUS_WARNING
};

/* "transitioning", "success", ... as the protocol spells them. */
const char *ib_status_name(enum ib_status st);

/* Terminal statuses end the processing of a sequence number. */
int ib_status_terminal(enum ib_status st);

/*
 * Writes <status_dir>/<seq>.status atomically. message is cut to
 * IB_HANDLER_MESSAGE_MAX bytes (at a character boundary) and cleaned to UTF-8.
 */
int ib_handler_status_write(const struct ib_handler_env *env, int64_t seq, const char *operation,
                            enum ib_status st, int code, const char *message, struct ib_err *err);

/* Reads back status and code of <seq>.status (IB_STATUS_NONE when missing or unreadable). */
int ib_handler_status_read(const struct ib_handler_env *env, int64_t seq, enum ib_status *st,
                           int *code, struct ib_err *err);

/* Writes the heartbeat file (when the agent named one): ready, or not ready, with message. */
int ib_handler_heartbeat_write(const struct ib_handler_env *env, int ready, const char *message,
                               struct ib_err *err);

/* The extension package's own configuration, <handler_dir>/ibdrv.json (docs/design.md). */
struct ib_package_config {
	char **keys; /* trusted public key files, resolved against the handler folder */
	size_t n_keys;
	char **urls; /* default download mirrors */
	size_t n_urls;
};

/* With missing_ok, a missing file is an empty configuration. */
int ib_package_config_load(const char *handler_dir, int missing_ok, struct ib_package_config *c,
                           struct ib_err *err);
void ib_package_config_free(struct ib_package_config *c);

#endif
