/* The installed state and the journal: paths under --root, atomic writes, strict reads, recovery.
 */
#define _GNU_SOURCE

#include "check.h"
#include "platform.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[1024];
static char path[1200];

static void make_tmp(void)
{
	const char *base = getenv("IBDRV_TEST_TMP");

	snprintf(tmp, sizeof tmp, "%s/state.XXXXXX", base ? base : "/tmp");
	plat_mkdir_p(base ? base : "/tmp", 0755, NULL);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof path, "%s/state.json", tmp);
}

static void write_text(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int count_tmp_files(const char *dir)
{
	char **names;
	size_t n;
	int count = 0;

	if (plat_list_dir(dir, &names, &n, NULL))
		return -1;
	for (size_t i = 0; i < n; i++)
		count += strstr(names[i], ".tmp-") != NULL;
	plat_free_names(names, n);
	return count;
}

static struct ib_state sample(void)
{
	struct ib_state st;

	memset(&st, 0, sizeof st);
	strcpy(st.driver, "winof2-2.22");
	strcpy(st.kind, "winof2");
	strcpy(st.version, "2.22.50000");
	strcpy(st.bundle, "ib-drivers-2024.06");
	st.bundle_sequence = 42;
	strcpy(st.installed_at, "2024-06-01T10:00:00Z");
	st.last_code = 3010;
	strcpy(st.last_run_at, "2024-06-01T10:05:00Z");
	return st;
}

static void test_paths(void)
{
	struct ib_paths p;
	struct ib_err err;
	char want[1300];
	char *s;

	CHECK(ib_paths_init(&p, "", &err) == 0);
	CHECK_STR(p.state_dir, "/var/lib/ibdrv");
	CHECK_STR(p.state_file, "/var/lib/ibdrv/state.json");
	CHECK_STR(p.bundles_dir, "/var/lib/ibdrv/bundles");
	CHECK_STR(p.log_dir, "/var/log/ibdrv");
	s = ib_paths_system(&p, "/etc/os-release");
	CHECK_STR(s, "/etc/os-release");
	free(s);
	ib_paths_free(&p);

	CHECK(ib_paths_init(&p, "/srv/vm1///", &err) == 0);
	CHECK_STR(p.root, "/srv/vm1");
	CHECK_STR(p.state_dir, "/srv/vm1/var/lib/ibdrv");
	CHECK_STR(p.journal_file, "/srv/vm1/var/lib/ibdrv/inprogress.json");
	CHECK_STR(p.run_lock, "/srv/vm1/var/lib/ibdrv/run.lock");
	CHECK_STR(p.handler_lock, "/srv/vm1/var/lib/ibdrv/handler.lock");
	CHECK_STR(p.worker_lock, "/srv/vm1/var/lib/ibdrv/worker.lock");
	CHECK_STR(p.staging_dir, "/srv/vm1/var/lib/ibdrv/staging");
	CHECK_STR(p.cache_dir, "/srv/vm1/var/lib/ibdrv/cache");
	CHECK_STR(p.log_dir, "/srv/vm1/var/log/ibdrv");
	s = ib_paths_system(&p, "/etc/os-release");
	CHECK_STR(s, "/srv/vm1/etc/os-release");
	free(s);
	s = ib_paths_system(&p, "C:/ProgramData/ibdrv");
	CHECK_STR(s, "/srv/vm1/ProgramData/ibdrv");
	free(s);
	ib_paths_free(&p);

	/* Without --root, IBDRV_ROOT applies; --root wins over it. */
	setenv(IB_ROOT_ENV, tmp, 1);
	CHECK(ib_paths_init(&p, NULL, &err) == 0);
	snprintf(want, sizeof want, "%s/var/lib/ibdrv", tmp);
	CHECK_STR(p.state_dir, want);
	CHECK(ib_paths_ensure_state_dir(&p, &err) == 0);
	ib_paths_free(&p);
	CHECK(ib_paths_init(&p, "/other", &err) == 0);
	CHECK_STR(p.state_dir, "/other/var/lib/ibdrv");
	ib_paths_free(&p);
	unsetenv(IB_ROOT_ENV);
}

static void test_roundtrip(void)
{
	struct ib_state st = sample(), back;
	struct ib_err err;
	struct stat sb;
	int found = 7;

	CHECK(ib_state_load(path, &back, &found, &err) == 0);
	CHECK(found == 0);
	CHECK(back.driver[0] == '\0' && back.last_code == 0);

	CHECK(ib_state_save(path, &st, &err) == 0);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
	CHECK(count_tmp_files(tmp) == 0);
	CHECK(ib_state_load(path, &back, &found, &err) == 0);
	CHECK(found == 1);
	CHECK(memcmp(&st, &back, sizeof st) == 0);

	/* Nothing installed yet, only the outcome of a run. */
	memset(&st, 0, sizeof st);
	st.last_code = 100;
	strcpy(st.last_run_at, "2024-06-02T00:00:00Z");
	CHECK(ib_state_save(path, &st, &err) == 0);
	CHECK(ib_state_load(path, &back, &found, &err) == 0);
	CHECK(found == 1 && back.driver[0] == '\0' && back.last_code == 100);
	CHECK(memcmp(&st, &back, sizeof st) == 0);
}

/* A state that cannot be saved leaves the previous file as it was. */
static void test_save_refuses(void)
{
	struct ib_state st = sample(), back;
	struct ib_err err;
	int found;

	CHECK(ib_state_save(path, &st, &err) == 0);
	st.last_code = 7;
	CHECK(ib_state_save(path, &st, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg,
	               "last_code: expected an extension code (0, 3010, 100, 240, 840, -1), got 7");
	st = sample();
	strcpy(st.driver, "Bad Driver");
	CHECK(ib_state_save(path, &st, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "driver: expected a driver id, got \"Bad Driver\"");
	st = sample();
	st.installed_at[0] = '\0';
	CHECK(ib_state_save(path, &st, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "installed_at");
	CHECK(ib_state_load(path, &back, &found, &err) == 0);
	st = sample();
	CHECK(memcmp(&st, &back, sizeof st) == 0);
	CHECK(count_tmp_files(tmp) == 0);
}

static void expect_corrupt(const char *text, const char *message)
{
	struct ib_state st;
	struct ib_err err;
	int found = 1;

	write_text(path, text);
	ib_err_clear(&err);
	CHECK(ib_state_load(path, &st, &found, &err) == IB_EINPUT);
	CHECK(found == 0);
	CHECK_CONTAINS(err.msg, path);
	CHECK_CONTAINS(err.msg, message);
}

#define GOOD_HEAD "{\"format\":1,\"driver\":\"nd-1\",\"kind\":\"nd\",\"version\":\"1.0\","
#define GOOD_TAIL                                                                                  \
	"\"installed_at\":\"2024-01-01T00:00:00Z\",\"last_code\":0,\"last_run_at\":\"2024-01-"     \
	"01T00:00:00Z\"}"

static void test_corrupt(void)
{
	char link[1300];

	expect_corrupt("", "empty; expected a JSON value");
	expect_corrupt("{\"format\":1,", "not valid JSON");
	expect_corrupt("[1,2]", "expected an object, got an array");
	expect_corrupt(GOOD_HEAD "\"bundle\":\"b\",\"bundle_sequence\":1," GOOD_TAIL " trailing",
	               "unexpected data after the JSON value");
	expect_corrupt(GOOD_HEAD
	               "\"bundle\":\"b\",\"bundle\":\"c\",\"bundle_sequence\":1," GOOD_TAIL,
	               "bundle: duplicate key");
	expect_corrupt(GOOD_HEAD "\"bundle\":\"b\",\"bundle_sequence\":1,\"extra\":true," GOOD_TAIL,
	               "extra: unknown key");
	expect_corrupt(GOOD_HEAD "\"bundle_sequence\":1," GOOD_TAIL, "bundle: missing");
	expect_corrupt(GOOD_HEAD "\"bundle\":5,\"bundle_sequence\":1," GOOD_TAIL,
	               "bundle: expected a string");
	expect_corrupt(GOOD_HEAD "\"bundle\":\"b\",\"bundle_sequence\":-1," GOOD_TAIL,
	               "bundle_sequence: expected an integer from 0 to");
	expect_corrupt(GOOD_HEAD "\"bundle\":\"b\",\"bundle_sequence\":1.5," GOOD_TAIL,
	               "bundle_sequence: expected an integer");
	expect_corrupt(GOOD_HEAD "\"bundle\":\"b\",\"bundle_sequence\":1e300," GOOD_TAIL,
	               "bundle_sequence: expected an integer");
	expect_corrupt(GOOD_HEAD "\"bundle\":\"b\",\"bundle_sequence\":\"1\"," GOOD_TAIL,
	               "bundle_sequence: expected an integer from 0 to");
	expect_corrupt(
	        "{\"format\":2,\"driver\":\"\",\"kind\":\"\",\"version\":\"\",\"bundle\":\"\","
	        "\"bundle_sequence\":0,\"installed_at\":\"\",\"last_code\":0,"
	        "\"last_run_at\":\"2024-01-01T00:00:00Z\"}",
	        "format: expected 1");
	expect_corrupt(GOOD_HEAD "\"bundle\":\"b\",\"bundle_sequence\":1,"
	                         "\"installed_at\":\"2024-01-01 00:00:00\",\"last_code\":0,"
	                         "\"last_run_at\":\"2024-01-01T00:00:00Z\"}",
	               "installed_at: expected a UTC time YYYY-MM-DDTHH:MM:SSZ, got \"2024-01-01 "
	               "00:00:00\"");
	expect_corrupt(GOOD_HEAD "\"bundle\":\"b\",\"bundle_sequence\":1,"
	                         "\"installed_at\":\"2024-01-01T00:00:00Z\",\"last_code\":1,"
	                         "\"last_run_at\":\"2024-01-01T00:00:00Z\"}",
	               "last_code: expected an extension code (0, 3010, 100, 240, 840, -1), got 1");
	expect_corrupt(
	        "{\"format\":1,\"driver\":\"\",\"kind\":\"nd\",\"version\":\"\",\"bundle\":\"\","
	        "\"bundle_sequence\":0,\"installed_at\":\"\",\"last_code\":0,"
	        "\"last_run_at\":\"2024-01-01T00:00:00Z\"}",
	        "kind: must be empty without a driver");
	expect_corrupt(
	        "{\"format\":1,\"driver\":\"nd-1\",\"kind\":\"nd\",\"version\":\"1.0\","
	        "\"bundle\":\"b\",\"bundle_sequence\":0,\"installed_at\":\"2024-01-01T00:00:00Z\","
	        "\"last_code\":0,\"last_run_at\":\"2024-01-01T00:00:00Z\","
	        "\"kind\":\"nd\"}",
	        "kind: duplicate key");
	{
		char big[400];

		snprintf(big, sizeof big,
		         "{\"format\":1,\"driver\":\"%0200d\",\"kind\":\"nd\",\"version\":\"1\","
		         "\"bundle\":\"b\",\"bundle_sequence\":0,"
		         "\"installed_at\":\"2024-01-01T00:00:00Z\",\"last_code\":0,"
		         "\"last_run_at\":\"2024-01-01T00:00:00Z\"}",
		         0);
		expect_corrupt(big, "driver: longer than 127 bytes");
	}

	/* A symlink in place of the state is not followed. */
	snprintf(link, sizeof link, "%s/linked.json", tmp);
	CHECK(symlink(path, link) == 0);
	{
		struct ib_state st;
		struct ib_err err;
		int found;

		CHECK(ib_state_load(link, &st, &found, &err) == IB_EINPUT);
		CHECK_CONTAINS(err.msg, "symbolic link");
	}
	remove(link);
}

static void test_journal_and_recover(void)
{
	struct ib_paths p;
	struct ib_journal j, back;
	struct ib_err err;
	char file[1400], tmpfile[1400];
	int found;

	CHECK(ib_paths_init(&p, tmp, &err) == 0);
	CHECK(ib_paths_ensure_state_dir(&p, &err) == 0);

	/* Nothing to recover from on a clean machine. */
	CHECK(ib_state_recover(&p, &back, &found, &err) == 0);
	CHECK(found == 0);

	memset(&j, 0, sizeof j);
	strcpy(j.driver, "ofed-5.8");
	strcpy(j.kind, "mlnx-ofed");
	strcpy(j.version, "5.8-3.0.7.0");
	strcpy(j.bundle, "ib-2024");
	j.bundle_sequence = 9;
	strcpy(j.started_at, "2024-06-01T10:00:00Z");
	j.pid = 4242;
	CHECK(ib_journal_begin(p.journal_file, &j, &err) == 0);
	CHECK(ib_journal_load(p.journal_file, &back, &found, &err) == 0);
	CHECK(found == 1 && memcmp(&j, &back, sizeof j) == 0);

	/* A run killed while installing: staging and half-written files remain. */
	snprintf(file, sizeof file, "%s/ofed-5.8/install.sh", p.staging_dir);
	CHECK(plat_mkdir_p(file, 0755, &err) == 0);
	snprintf(tmpfile, sizeof tmpfile, "%s/state.json.tmp-0123456789abcdef", p.state_dir);
	write_text(tmpfile, "{\"form");
	CHECK(ib_state_recover(&p, &back, &found, &err) == 0);
	CHECK(found == 1);
	CHECK_STR(back.driver, "ofed-5.8");
	CHECK(back.pid == 4242);
	{
		enum plat_kind kind;

		CHECK(plat_lstat(p.staging_dir, &kind, NULL, &err) == 0 && kind == PLAT_MISSING);
		CHECK(plat_lstat(tmpfile, &kind, NULL, &err) == 0 && kind == PLAT_MISSING);
		/* The journal stays until the redo ends it. */
		CHECK(plat_lstat(p.journal_file, &kind, NULL, &err) == 0 && kind == PLAT_REGULAR);
	}
	CHECK(ib_journal_end(p.journal_file, &err) == 0);
	CHECK(ib_journal_end(p.journal_file, &err) == 0);
	CHECK(ib_state_recover(&p, &back, &found, &err) == 0);
	CHECK(found == 0);

	/* A damaged journal still means an install was cut short. */
	write_text(p.journal_file, "{\"format\":1,\"driver\":");
	CHECK(ib_journal_load(p.journal_file, &back, &found, &err) == IB_EINPUT);
	CHECK(ib_state_recover(&p, &back, &found, &err) == 0);
	CHECK(found == 1);
	CHECK_STR(back.driver, "");

	/* The journal is checked like the state. */
	j.pid = 0;
	CHECK(ib_journal_begin(p.journal_file, &j, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "pid: expected an integer from 1 to 2147483647, got 0");
	ib_paths_free(&p);
}

int main(void)
{
	make_tmp();
	test_paths();
	test_roundtrip();
	test_save_refuses();
	test_corrupt();
	test_journal_and_recover();
	plat_remove_tree(tmp, NULL);
	return check_report();
}
