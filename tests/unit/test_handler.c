/* The files of the handler protocol: environment, settings, sequence numbers, status, config. */
#define _GNU_SOURCE

#include "check.h"
#include "handler.h"
#include "json.h"
#include "log.h"
#include "platform.h"
#include "readfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tmp[1024];

static void make_tmp(void)
{
	const char *base = getenv("IBDRV_TEST_TMP");

	snprintf(tmp, sizeof tmp, "%s/handler.XXXXXX", base ? base : "/tmp");
	plat_mkdir_p(base ? base : "/tmp", 0755, NULL);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		exit(1);
	}
}

static void write_at(const char *dir, const char *name, const char *text)
{
	char path[2048];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A handler folder with its agent folders; env filled as ib_handler_env_load would. */
static void make_env(const char *name, char *dir, size_t cap, struct ib_handler_env *env)
{
	char text[6000], sub[1300];
	struct ib_err err;

	snprintf(dir, cap, "%s/%s", tmp, name);
	snprintf(text, sizeof text,
	         "[{\"name\": \"Test.Handler\", \"version\": 1.0, \"handlerEnvironment\": {"
	         "\"logFolder\": \"%s/log\", \"configFolder\": \"%s/config\", \"statusFolder\": "
	         "\"%s/status\", \"heartbeatFile\": \"%s/heartbeat.log\", \"extra\": [1]}}]",
	         dir, dir, dir, dir);
	snprintf(sub, sizeof sub, "%s/config", dir);
	plat_mkdir_p(sub, 0755, NULL);
	snprintf(sub, sizeof sub, "%s/status", dir);
	plat_mkdir_p(sub, 0755, NULL);
	write_at(dir, "HandlerEnvironment.json", text);
	CHECK(ib_handler_env_load(dir, env, &err) == 0);
}

static void test_env(void)
{
	struct ib_handler_env env;
	struct ib_err err;
	char dir[1200], want[1300];
	int hb;

	make_env("env", dir, sizeof dir, &env);
	CHECK_STR(env.name, "Test.Handler");
	snprintf(want, sizeof want, "%s/status", dir);
	CHECK_STR(env.status_dir, want);
	snprintf(want, sizeof want, "%s/heartbeat.log", dir);
	CHECK_STR(env.heartbeat_file, want);
	ib_handler_env_free(&env);

	/* Not an array (older agents), no name, no heartbeat: fine. */
	write_at(dir, "HandlerEnvironment.json",
	         "{\"handlerEnvironment\": {\"logFolder\": \"/l\", \"configFolder\": \"/c\", "
	         "\"statusFolder\": \"/s\"}}");
	CHECK(ib_handler_env_load(dir, &env, &err) == 0);
	CHECK_STR(env.name, IB_HANDLER_DEFAULT_NAME);
	CHECK(env.heartbeat_file == NULL);
	ib_handler_env_free(&env);

	write_at(dir, "HandlerEnvironment.json",
	         "[{\"handlerEnvironment\": {\"logFolder\": \"/l\", \"configFolder\": \"/c\"}}]");
	CHECK(ib_handler_env_load(dir, &env, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg,
	               "HandlerEnvironment.json: [0].handlerEnvironment.statusFolder: missing");
	write_at(dir, "HandlerEnvironment.json", "[{\"handlerEnvironment\": 3}]");
	CHECK(ib_handler_env_load(dir, &env, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg,
	               "HandlerEnvironment.json: [0].handlerEnvironment: expected an object");

	write_at(dir, "HandlerManifest.json",
	         "[{\"name\": \"x\", \"version\": 1.0, \"handlerManifest\": {\"reportHeartbeat\": "
	         "true}}]");
	CHECK(ib_handler_manifest_heartbeat(dir, &hb, &err) == 0 && hb == 1);
	write_at(dir, "HandlerManifest.json", "[{\"handlerManifest\": {}}]");
	CHECK(ib_handler_manifest_heartbeat(dir, &hb, &err) == 0 && hb == 0);
	write_at(dir, "HandlerManifest.json", "[{\"handlerManifest\": {\"reportHeartbeat\": 1}}]");
	CHECK(ib_handler_manifest_heartbeat(dir, &hb, &err) == IB_EINPUT);
}

static void set_mtime(const char *dir, const char *name, long sec)
{
	char path[2048];
	struct timespec ts[2] = {{sec, 0}, {sec, 0}};

	snprintf(path, sizeof path, "%s/%s", dir, name);
	utimensat(AT_FDCWD, path, ts, 0);
}

static void test_seq(void)
{
	struct ib_handler_env env;
	struct ib_err err;
	char dir[1200];
	int64_t seq;

	make_env("seq", dir, sizeof dir, &env);
	unsetenv(IB_HANDLER_SEQ_ENV);
	CHECK(ib_handler_seq(&env, &seq, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "no <n>.settings file");

	/* The most recently written wins, even over a higher number; ties go to the higher. */
	write_at(env.config_dir, "3.settings", "");
	write_at(env.config_dir, "7.settings", "");
	write_at(env.config_dir, "12x.settings", "");
	write_at(env.config_dir, "notes.txt", "");
	set_mtime(env.config_dir, "3.settings", 2000000000);
	set_mtime(env.config_dir, "7.settings", 1900000000);
	set_mtime(env.config_dir, "12x.settings", 2100000000);
	CHECK(ib_handler_seq(&env, &seq, &err) == 0);
	CHECK(seq == 3);
	set_mtime(env.config_dir, "7.settings", 2000000000);
	CHECK(ib_handler_seq(&env, &seq, &err) == 0);
	CHECK(seq == 7);

	setenv(IB_HANDLER_SEQ_ENV, "42", 1);
	CHECK(ib_handler_seq(&env, &seq, &err) == 0);
	CHECK(seq == 42);
	setenv(IB_HANDLER_SEQ_ENV, "-1", 1);
	CHECK(ib_handler_seq(&env, &seq, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "ConfigSequenceNumber=\"-1\" is not a sequence number");
	unsetenv(IB_HANDLER_SEQ_ENV);

	CHECK(ib_handler_mrseq_read(dir, &seq, &err) == 0);
	CHECK(seq == -1);
	CHECK(ib_handler_mrseq_write(dir, 17, &err) == 0);
	CHECK(ib_handler_mrseq_read(dir, &seq, &err) == 0);
	CHECK(seq == 17);
	write_at(dir, "mrseq", "5\n");
	CHECK(ib_handler_mrseq_read(dir, &seq, &err) == 0 && seq == 5);
	write_at(dir, "mrseq", "five");
	CHECK(ib_handler_mrseq_read(dir, &seq, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "mrseq: not a sequence number");
	ib_handler_env_free(&env);
}

static int load_settings(struct ib_handler_env *env, const char *text,
                         struct ib_handler_settings *s, struct ib_err *err)
{
	write_at(env->config_dir, "1.settings", text);
	ib_err_clear(err);
	return ib_handler_settings_load(env, 1, s, err);
}

#define WRAP(pub)                                                                                  \
	"{\"runtimeSettings\": [{\"handlerSettings\": {\"protectedSettingsCertThumbprint\": "      \
	"\"AB\", \"protectedSettings\": \"c2VjcmV0\", \"publicSettings\": " pub "}}]}"

static void test_settings(void)
{
	struct ib_handler_env env;
	struct ib_handler_settings s;
	struct ib_err err;
	char dir[1200];

	make_env("settings", dir, sizeof dir, &env);
	CHECK(load_settings(&env, "", &s, &err) == 0);
	CHECK(!s.bundle_path && !s.n_urls && !s.has_protected);
	CHECK(load_settings(&env, " \n\t", &s, &err) == 0);
	CHECK(load_settings(&env, "{\"runtimeSettings\": []}", &s, &err) == 0);
	CHECK(load_settings(&env, "{\"runtimeSettings\": [{\"handlerSettings\": null}]}", &s,
	                    &err) == 0);
	CHECK(load_settings(&env, WRAP("null"), &s, &err) == 0);
	CHECK(s.has_protected == 1);

	CHECK(load_settings(&env,
	                    WRAP("{\"bundlePath\": \"/srv/b.tar.zst\", \"bundleUrls\": "
	                         "[\"https://a.example/b\", \"http://10.0.0.1:8080/b\"], "
	                         "\"downloadTimeoutSeconds\": 600, \"allowDowngrade\": true, "
	                         "\"caCertPath\": \"C:\\\\certs\\\\ca.pem\", \"tyop\": 1}"),
	                    &s, &err) == 0);
	CHECK_STR(s.bundle_path, "/srv/b.tar.zst");
	CHECK(s.n_urls == 2);
	if (s.n_urls == 2) {
		CHECK_STR(s.urls[0], "https://a.example/b");
		CHECK_STR(s.urls[1], "http://10.0.0.1:8080/b");
	}
	CHECK(s.download_timeout_s == 600);
	CHECK(s.allow_downgrade == 1);
	CHECK_STR(s.cacert, "C:\\certs\\ca.pem");
	ib_handler_settings_free(&s);

	CHECK(load_settings(&env, WRAP("{\"bundleUrls\": [\"https://a/b\", 5]}"), &s, &err) ==
	      IB_EINPUT);
	CHECK_CONTAINS(err.msg, "publicSettings.bundleUrls[1]: expected a string, got 5");
	CHECK(load_settings(&env, WRAP("{\"bundleUrls\": [\"https://a b\"]}"), &s, &err) ==
	      IB_EINPUT);
	CHECK(load_settings(&env, WRAP("{\"bundleUrls\": \"https://a/b\"}"), &s, &err) ==
	      IB_EINPUT);
	CHECK_CONTAINS(err.msg, "publicSettings.bundleUrls: expected an array");
	CHECK(load_settings(&env, WRAP("{\"downloadTimeoutSeconds\": 86401}"), &s, &err) ==
	      IB_EINPUT);
	CHECK_CONTAINS(
	        err.msg,
	        "publicSettings.downloadTimeoutSeconds: expected an integer from 1 to 86400");
	CHECK(load_settings(&env, WRAP("{\"bundlePath\": \"b.tar.zst\"}"), &s, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "publicSettings.bundlePath: expected an absolute path");
	CHECK(load_settings(&env, WRAP("{\"allowDowngrade\": 1}"), &s, &err) == IB_EINPUT);
	CHECK(load_settings(&env, WRAP("[1]"), &s, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "publicSettings: expected an object");
	CHECK(load_settings(&env, WRAP("{\"bundlePath\": \"/a\", \"bundlePath\": \"/b\"}"), &s,
	                    &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "bundlePath: duplicate key");
	CHECK(load_settings(&env, "{\"runtimeSettings\": {}}", &s, &err) == IB_EINPUT);
	CHECK(load_settings(&env, "{\"runtimeSettings\": [", &s, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "1.settings: not valid JSON");
	/* Nothing of the protected settings shows in any message. */
	CHECK(strstr(err.msg, "c2VjcmV0") == NULL);
	ib_handler_settings_free(&s);
	ib_handler_env_free(&env);
}

static void test_status(void)
{
	struct ib_handler_env env;
	struct ib_err err;
	enum ib_status st;
	char dir[1200], path[1300], long_msg[3000];
	char *text = NULL;
	size_t len;
	cJSON *root = NULL;
	int code;

	make_env("status", dir, sizeof dir, &env);
	CHECK(ib_handler_status_read(&env, 4, &st, &code, &err) == 0);
	CHECK(st == IB_STATUS_NONE);
	CHECK(ib_handler_status_write(&env, 4, "Enable", IB_STATUS_TRANSITIONING, 0, "working",
	                              &err) == 0);
	CHECK(ib_handler_status_read(&env, 4, &st, &code, &err) == 0);
	CHECK(st == IB_STATUS_TRANSITIONING && code == 0);
	CHECK(!ib_status_terminal(st));
	CHECK(ib_handler_status_write(&env, 4, "Enable", IB_STATUS_SUCCESS, 3010, "reboot", &err) ==
	      0);
	CHECK(ib_handler_status_read(&env, 4, &st, &code, &err) == 0);
	CHECK(st == IB_STATUS_SUCCESS && code == 3010 && ib_status_terminal(st));

	/* Long messages are cut at a character boundary; bytes that are not UTF-8 become '?'. */
	memset(long_msg, 0, sizeof long_msg);
	strcpy(long_msg, "bad \xff\xfe bytes ");
	for (size_t i = strlen(long_msg); i + 2 < 2900; i += 2)
		memcpy(long_msg + i, "\xc3\xa9", 2);
	CHECK(ib_handler_status_write(&env, 4, "Enable", IB_STATUS_ERROR, -1, long_msg, &err) == 0);
	snprintf(path, sizeof path, "%s/4.status", env.status_dir);
	CHECK(ib_read_file(path, 1 << 20, &text, &len, &err) == 0);
	CHECK(text && ib_json_parse(text, len, path, &root, &err) == 0);
	if (root) {
		const cJSON *s = cJSON_GetObjectItem(cJSON_GetArrayItem(root, 0), "status");
		const cJSON *m =
		        cJSON_GetObjectItem(cJSON_GetObjectItem(s, "formattedMessage"), "message");
		const char *msg = cJSON_GetStringValue(m);

		CHECK(cJSON_GetArraySize(root) == 1);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "status")), "error");
		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(s, "code")) == -1);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "name")), "Test.Handler");
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "operation")), "Enable");
		CHECK(cJSON_IsArray(cJSON_GetObjectItem(s, "substatus")));
		CHECK(msg && !strncmp(msg, "bad ?? bytes \xc3\xa9", 15));
		CHECK(msg && strlen(msg) <= IB_HANDLER_MESSAGE_MAX && strlen(msg) >= 1022);
		CHECK(msg && ((unsigned char)msg[strlen(msg) - 1] == 0xa9));
	}
	cJSON_Delete(root);
	free(text);

	write_at(env.status_dir, "5.status", "[{\"status\": {\"status\": \"bogus\"}}]");
	CHECK(ib_handler_status_read(&env, 5, &st, &code, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "status.status: expected one of");

	CHECK(ib_handler_heartbeat_write(&env, 0, "failed", &err) == 0);
	snprintf(path, sizeof path, "%s/heartbeat.log", dir);
	CHECK(ib_read_file(path, 4096, &text, &len, &err) == 0);
	CHECK_CONTAINS(text, "\"status\":\"NotReady\"");
	CHECK_CONTAINS(text, "\"message\":\"failed\"");
	free(text);
	ib_handler_env_free(&env);
}

static void test_package_config(void)
{
	struct ib_package_config pc;
	struct ib_err err;
	char dir[1200], want[1300];

	snprintf(dir, sizeof dir, "%s/pkg", tmp);
	plat_mkdir_p(dir, 0755, NULL);
	CHECK(ib_package_config_load(dir, 0, &pc, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "ibdrv.json");
	CHECK(ib_package_config_load(dir, 1, &pc, &err) == 0);
	CHECK(pc.n_keys == 0 && pc.n_urls == 0);
	write_at(dir, "ibdrv.json",
	         "{\"format\": 1, \"keys\": [\"keys/a.pub\", \"keys/b.pub\"], \"urls\": []}");
	CHECK(ib_package_config_load(dir, 0, &pc, &err) == 0);
	CHECK(pc.n_keys == 2 && pc.n_urls == 0);
	snprintf(want, sizeof want, "%s/keys/b.pub", dir);
	CHECK_STR(pc.keys[1], want);
	ib_package_config_free(&pc);
	write_at(dir, "ibdrv.json",
	         "{\"format\": 1, \"keys\": [\"a.pub\"], \"urls\": [\"https://x/y\"]}");
	CHECK(ib_package_config_load(dir, 0, &pc, &err) == 0);
	CHECK(pc.n_urls == 1);
	ib_package_config_free(&pc);

	write_at(dir, "ibdrv.json", "{\"format\": 1, \"keys\": []}");
	CHECK(ib_package_config_load(dir, 0, &pc, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "keys: must have at least 1 item");
	write_at(dir, "ibdrv.json", "{\"format\": 1, \"keys\": [\"/etc/k.pub\"]}");
	CHECK(ib_package_config_load(dir, 0, &pc, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "keys[0]: expected a relative path inside the package");
	write_at(dir, "ibdrv.json", "{\"format\": 2, \"keys\": [\"k.pub\"]}");
	CHECK(ib_package_config_load(dir, 0, &pc, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "format: expected 1");
	write_at(dir, "ibdrv.json", "{\"format\": 1, \"keys\": [\"k.pub\"], \"trust\": \"all\"}");
	CHECK(ib_package_config_load(dir, 0, &pc, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "trust: unknown key");
	write_at(dir, "ibdrv.json",
	         "{\"format\": 1, \"keys\": [\"k.pub\"], \"urls\": [\"file:///x\"]}");
	CHECK(ib_package_config_load(dir, 0, &pc, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "urls[0]");
}

static void test_handler_dir(void)
{
	struct ib_err err;
	char *dir = NULL, *exe = NULL, *want;

	unsetenv(IB_HANDLER_DIR_ENV);
	CHECK(ib_handler_dir("/given", &dir, &err) == 0);
	CHECK_STR(dir, "/given");
	free(dir);
	setenv(IB_HANDLER_DIR_ENV, "/from-env", 1);
	CHECK(ib_handler_dir(NULL, &dir, &err) == 0);
	CHECK_STR(dir, "/from-env");
	free(dir);
	unsetenv(IB_HANDLER_DIR_ENV);
	CHECK(ib_handler_dir(NULL, &dir, &err) == 0);
	CHECK(plat_exe_path(&exe, &err) == 0);
	want = exe ? strdup(exe) : NULL;
	if (want && strrchr(want, '/'))
		*strrchr(want, '/') = '\0';
	CHECK_STR(dir, want);
	free(want);
	free(exe);
	free(dir);
}

int main(void)
{
	make_tmp();
	ib_log_quiet_stderr(1);
	test_env();
	test_seq();
	test_settings();
	test_status();
	test_package_config();
	test_handler_dir();
	plat_remove_tree(tmp, NULL);
	return check_report();
}
