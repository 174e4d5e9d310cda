/* The size and OS catalog: the shipped one, name matching, strict parsing. */
#include "catalog.h"
#include "check.h"
#include "facts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void expect_size(const struct ib_catalog *c, const char *name, const char *rate,
                        const char *gen, int sriov)
{
	const struct ib_size *s = ib_catalog_size(c, name);

	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "  missing size %s\n", name);
		return;
	}
	CHECK_STR(s->ib_rate, rate);
	if (gen)
		CHECK_STR(s->generation, gen);
	else
		CHECK(s->generation == NULL);
	CHECK(s->sriov == sriov);
	CHECK(s->source && s->source[0]);
}

/* Every InfiniBand size the extension documents, with its rate, NIC and SR-IOV. */
static void test_shipped_sizes(const struct ib_catalog *c)
{
	static const char *const hdr_v3[] = {"HB120rs_v3", "HB120-96rs_v3", "HB120-64rs_v3",
	                                     "HB120-32rs_v3", "HB120-16rs_v3"};
	static const char *const ndr[] = {
	        "HB176rs_v4",        "HB176-144rs_v4", "HB176-96rs_v4",   "HB176-48rs_v4",
	        "HB176-24rs_v4",     "HX176rs",        "HX176-144rs",     "HX176-96rs",
	        "HX176-48rs",        "HX176-24rs",     "ND96isr_H100_v5", "ND96isr_H200_v5",
	        "ND96isr_MI300X_v5", "HB368rs_v5",     "HB368-48rs_v5",
	};

	expect_size(c, "Standard_H16r", "FDR", NULL, 0);
	expect_size(c, "Standard_H16mr", "FDR", NULL, 0);
	expect_size(c, "Standard_NC24r", "FDR", NULL, 0);
	expect_size(c, "Standard_NC24rs_v2", "FDR", "CX3-Pro", 1);
	expect_size(c, "Standard_NC24rs_v3", "FDR", "CX3-Pro", 1);
	expect_size(c, "Standard_ND24rs", "FDR", "CX3-Pro", 1);
	expect_size(c, "Standard_HB60rs", "EDR", "CX5", 1);
	expect_size(c, "Standard_HC44rs", "EDR", "CX5", 1);
	expect_size(c, "Standard_HC44-16rs", "EDR", "CX5", 1);
	expect_size(c, "Standard_HC44-32rs", "EDR", "CX5", 1);
	expect_size(c, "Standard_ND40rs_v2", "EDR", "CX5", 1);
	expect_size(c, "Standard_HB120rs_v2", "HDR", "CX6", 1);
	for (size_t i = 0; i < sizeof hdr_v3 / sizeof hdr_v3[0]; i++)
		expect_size(c, hdr_v3[i], "HDR", "CX6", 1);
	expect_size(c, "Standard_ND96asr_v4", "HDR", "CX6", 1);
	expect_size(c, "Standard_ND96amsr_A100_v4", "HDR", "CX6", 1);
	for (size_t i = 0; i < sizeof ndr / sizeof ndr[0]; i++)
		expect_size(c, ndr[i], "NDR", "CX7", 1);
	/* The facts' marks travel with the rows. */
	CHECK_CONTAINS(ib_catalog_size(c, "ND40rs_v2")->source, "unconfirmed");
	CHECK_CONTAINS(ib_catalog_size(c, "NC24rs_v2")->source, "inferred");
	CHECK_CONTAINS(ib_catalog_size(c, "H16r")->source, "unconfirmed");
	CHECK_CONTAINS(ib_catalog_size(c, "ND96isr_H100_v5")->source, "inferred");
	for (size_t i = 0; i < c->n_sizes; i++)
		CHECK(!strncmp(c->sizes[i].name, "Standard_", 9));
}

static void test_size_names(const struct ib_catalog *c)
{
	const struct ib_size *s = ib_catalog_size(c, "Standard_HB120rs_v2");

	CHECK(s != NULL);
	CHECK(ib_catalog_size(c, "HB120rs_v2") == s);
	CHECK(ib_catalog_size(c, "standard_hb120rs_v2") == s);
	CHECK(ib_catalog_size(c, "STANDARD_HB120RS_V2") == s);
	CHECK(ib_catalog_size(c, "hb120RS_v2") == s);
	CHECK(ib_catalog_size(c, "HB120rs_v2x") == NULL);
	CHECK(ib_catalog_size(c, "HB120rs") == NULL);
	CHECK(ib_catalog_size(c, "Standard_D4s_v3") == NULL);
	CHECK(ib_catalog_size(c, "unknown") == NULL);
	CHECK(ib_catalog_size(c, "") == NULL);
}

static const struct ib_os_support *os_row(const struct ib_catalog *c, const char *family,
                                          const char *product, const char *id, const char *version)
{
	for (size_t i = 0; i < c->n_os; i++)
		if (ib_os_support_matches(&c->os[i], family, product, id, version))
			return &c->os[i];
	return NULL;
}

static int row_has(const struct ib_os_support *r, const char *gen)
{
	for (size_t i = 0; r && i < r->n_nics; i++)
		if (!strcmp(r->nics[i], gen))
			return 1;
	return 0;
}

static void test_shipped_os(const struct ib_catalog *c)
{
	const struct ib_os_support *r;

	r = os_row(c, "windows", "server", NULL, "10.0.17763");
	CHECK(r && !strcmp(r->name, "Windows Server 2019"));
	CHECK(row_has(r, "CX5") && row_has(r, "CX6") && !row_has(r, "CX3-Pro"));
	CHECK(r && r->nd);
	r = os_row(c, "windows", "server", NULL, "10.0.14393.6452");
	CHECK(r && !strcmp(r->name, "Windows Server 2016"));
	CHECK(row_has(r, "CX3-Pro") && row_has(r, "CX5") && row_has(r, "CX6"));
	r = os_row(c, "windows", "server", NULL, "6.3.9600");
	CHECK(r && !strcmp(r->name, "Windows Server 2012 R2") && row_has(r, "CX3-Pro"));
	r = os_row(c, "windows", "server", NULL, "6.2.9200");
	CHECK(r && !strcmp(r->name, "Windows Server 2012") && row_has(r, "CX3-Pro"));
	/* The same build is Windows 10 on a workstation. */
	r = os_row(c, "windows", "workstation", NULL, "10.0.17763");
	CHECK(r && !strcmp(r->name, "Windows 10") && !row_has(r, "CX3-Pro"));
	CHECK(os_row(c, "windows", "workstation", NULL, "10.0.19045") != NULL);
	/* Not listed: Server 2022, Windows 11, the 10.0.1 prefix trap. */
	CHECK(os_row(c, "windows", "server", NULL, "10.0.20348") == NULL);
	CHECK(os_row(c, "windows", "workstation", NULL, "10.0.22631") == NULL);
	CHECK(os_row(c, "windows", "server", NULL, "10.0.177630") == NULL);
	/* Nothing shipped is for ConnectX-7 (no driver listed for NDR). */
	for (size_t i = 0; i < c->n_os; i++)
		CHECK(!row_has(&c->os[i], "CX7"));

	r = os_row(c, "linux", NULL, "ubuntu", "20.04");
	CHECK(r && row_has(r, "CX5") && row_has(r, "CX6") && !r->nd);
	r = os_row(c, "linux", NULL, "ubuntu", "22.04");
	CHECK(r && row_has(r, "CX5") && row_has(r, "CX6") && !r->nd);
	CHECK(os_row(c, "linux", NULL, "ubuntu", "24.04") == NULL);
	CHECK(os_row(c, "linux", NULL, "rhel", "7.9") != NULL);
	CHECK(os_row(c, "linux", NULL, "rhel", "8.2") != NULL);
	CHECK(os_row(c, "linux", NULL, "rhel", "7.3") == NULL);
	CHECK(os_row(c, "linux", NULL, "rhel", "8.4") == NULL);
	CHECK(os_row(c, "linux", NULL, "centos", "7") != NULL);
	CHECK(os_row(c, "linux", NULL, "ubuntu", NULL) == NULL);
}

static void test_shipped(void)
{
	const char *src = getenv("IBDRV_SRC");
	struct ib_catalog *c = NULL, *file = NULL;
	struct ib_err err;
	char path[1024];

	ib_err_clear(&err);
	CHECK(ib_catalog_builtin(&c, &err) == 0);
	if (!c) {
		fprintf(stderr, "%s\n", err.msg);
		return;
	}
	test_shipped_sizes(c);
	test_size_names(c);
	test_shipped_os(c);

	/* The compiled-in catalog is the file in manifests/. */
	CHECK(src != NULL);
	snprintf(path, sizeof path, "%s/manifests/catalog.json", src ? src : ".");
	CHECK(ib_catalog_open(path, &file, &err) == 0);
	CHECK(file && file->n_sizes == c->n_sizes && file->n_os == c->n_os);
	for (size_t i = 0; file && i < c->n_sizes && i < file->n_sizes; i++)
		CHECK_STR(file->sizes[i].name, c->sizes[i].name);
	ib_catalog_free(file);
	ib_catalog_free(c);
}

static void test_versions(void)
{
	CHECK(ib_version_has_prefix("10.0.17763", "10.0.17763"));
	CHECK(ib_version_has_prefix("10.0.17763.5329", "10.0.17763"));
	CHECK(ib_version_has_prefix("10.0.17763", "10.0"));
	CHECK(!ib_version_has_prefix("10.0.177630", "10.0.17763"));
	CHECK(!ib_version_has_prefix("10.0", "10.0.17763"));
	CHECK(!ib_version_has_prefix("8.10", "8.1"));
	CHECK(ib_version_has_prefix("8.1", "8.1"));
	CHECK(!ib_version_has_prefix(NULL, "8"));
	CHECK(!ib_version_has_prefix("8", ""));
}

#define SIZE_OK                                                                                    \
	"{\"name\":\"Standard_X1\",\"ib_rate\":\"HDR\",\"nic\":\"CX6\",\"sriov\":true,\"source\":" \
	"\"s\"}"
#define OS_OK                                                                                      \
	"{\"name\":\"W\",\"family\":\"windows\",\"product\":\"server\",\"versions\":[\"10.0\"],"   \
	"\"nics\":[\"CX6\"],\"nd\":true,\"source\":\"s\"}"

static void test_bad_catalogs(void)
{
	static const struct {
		const char *json;
		const char *want;
	} cases[] = {
	        {"{\"format\":1,\"sizes\":[" SIZE_OK "],\"os\":[" OS_OK "]} ]",
	         "c.json: unexpected data after the JSON value"},
	        {"{\"format\":2,\"sizes\":[],\"os\":[]}", "c.json: format: expected 1"},
	        {"{\"format\":1.5,\"sizes\":[],\"os\":[]}", "c.json: format: expected 1"},
	        {"{\"format\":1,\"sizes\":[],\"os\":[],\"extra\":0}", "c.json: extra: unknown key"},
	        {"{\"format\":1,\"os\":[]}", "c.json: sizes: missing"},
	        {"{\"format\":1,\"sizes\":[" SIZE_OK
	         ",{\"name\":\"standard_x1\",\"ib_rate\":\"HDR\","
	         "\"nic\":\"CX6\",\"sriov\":true,\"source\":\"s\"}],\"os\":[]}",
	         "c.json: sizes[1].name: standard_x1 is already listed as Standard_X1"},
	        {"{\"format\":1,\"sizes\":[{\"name\":\"HB120rs_v2\",\"ib_rate\":\"HDR\","
	         "\"nic\":\"CX6\",\"sriov\":true,\"source\":\"s\"}],\"os\":[]}",
	         "c.json: sizes[0].name: expected a size name starting with \"Standard_\""},
	        {"{\"format\":1,\"sizes\":[{\"name\":\"Standard_X\",\"ib_rate\":\"HDR\","
	         "\"nic\":\"CX9\",\"sriov\":true,\"source\":\"s\"}],\"os\":[]}",
	         "c.json: sizes[0].nic: expected one of CX3, CX3-Pro, CX4, CX5, CX6, CX7 or null"},
	        {"{\"format\":1,\"sizes\":[{\"name\":\"Standard_X\",\"ib_rate\":\"HDR\","
	         "\"sriov\":true,\"source\":\"s\"}],\"os\":[]}",
	         "c.json: sizes[0].nic: missing"},
	        {"{\"format\":1,\"sizes\":[{\"name\":\"Standard_X\",\"ib_rate\":\"200G\","
	         "\"nic\":\"CX6\",\"sriov\":true,\"source\":\"s\"}],\"os\":[]}",
	         "c.json: sizes[0].ib_rate: expected one of"},
	        {"{\"format\":1,\"sizes\":[{\"name\":\"Standard_X\",\"ib_rate\":\"R, \","
	         "\"nic\":\"CX6\",\"sriov\":true,\"source\":\"s\"}],\"os\":[]}",
	         "c.json: sizes[0].ib_rate: expected one of"},
	        {"{\"format\":1,\"sizes\":[{\"name\":\"Standard_X\",\"ib_rate\":\"HDR\","
	         "\"nic\":\"CX6\",\"sriov\":1,\"source\":\"s\"}],\"os\":[]}",
	         "c.json: sizes[0].sriov: expected true or false"},
	        {"{\"format\":1,\"sizes\":[{\"name\":\"Standard_X\",\"ib_rate\":\"HDR\","
	         "\"nic\":\"CX6\",\"sriov\":true}],\"os\":[]}",
	         "c.json: sizes[0].source: missing"},
	        {"{\"format\":1,\"sizes\":[],\"os\":[{\"name\":\"W\",\"family\":\"windows\","
	         "\"versions\":[\"10.0\"],\"nics\":[],\"nd\":true,\"source\":\"s\"}]}",
	         "c.json: os[0].product: missing"},
	        {"{\"format\":1,\"sizes\":[],\"os\":[{\"name\":\"U\",\"family\":\"linux\","
	         "\"versions\":[\"20.04\"],\"nics\":[],\"nd\":false,\"source\":\"s\"}]}",
	         "c.json: os[0].id: missing"},
	        {"{\"format\":1,\"sizes\":[],\"os\":[{\"name\":\"U\",\"family\":\"linux\","
	         "\"id\":\"ubuntu\",\"versions\":[],\"nics\":[],\"nd\":false,\"source\":\"s\"}]}",
	         "c.json: os[0].versions: must have at least 1 item"},
	        {"{\"format\":1,\"sizes\":[],\"os\":[{\"name\":\"U\",\"family\":\"linux\","
	         "\"id\":\"ubuntu\",\"versions\":[\"20.04\",\"20 04\"],\"nics\":[],\"nd\":false,"
	         "\"source\":\"s\"}]}",
	         "c.json: os[0].versions[1]: expected a version"},
	        {"{\"format\":1,\"sizes\":[],\"os\":[{\"name\":\"U\",\"family\":\"linux\","
	         "\"id\":\"ubuntu\",\"versions\":[\"20.04\"],\"nics\":[\"CX5\",\"CX5\"],\"nd\":"
	         "false,"
	         "\"source\":\"s\"}]}",
	         "c.json: os[0].nics[1]: listed twice"},
	        {"{\"format\":1,\"sizes\":[],\"os\":[{\"name\":\"U\",\"family\":\"linux\","
	         "\"id\":\"ubuntu\",\"versions\":[\"20.04\"],\"nics\":[null],\"nd\":false,"
	         "\"source\":\"s\"}]}",
	         "c.json: os[0].nics[0]: expected one of CX3, CX3-Pro, CX4, CX5, CX6, CX7"},
	        {"{\"format\":1,\"sizes\":[],\"os\":[{\"name\":\"W\",\"family\":\"win\","
	         "\"product\":\"server\",\"versions\":[\"10.0\"],\"nics\":[],\"nd\":true,"
	         "\"source\":\"s\"}]}",
	         "c.json: os[0].family: expected \"windows\" or \"linux\""},
	        {"{\"format\":1,\"sizes\":[],\"os\":[{\"name\":\"W\",\"family\":\"windows\","
	         "\"product\":\"\",\"versions\":[\"10.0\"],\"nics\":[],\"nd\":true,"
	         "\"source\":\"s\"}]}",
	         "c.json: os[0].product: expected \"server\" or \"workstation\""},
	        {"{\"format\":1,\"sizes\":[],\"os\":[" OS_OK ",{\"name\":\"W\",\"name\":\"W\"}]}",
	         "c.json: os[1].name: duplicate key"},
	};
	struct ib_err err;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ib_catalog *c = NULL;

		ib_err_clear(&err);
		CHECK(ib_catalog_parse(cases[i].json, strlen(cases[i].json), "c.json", &c, &err) ==
		      IB_EINPUT);
		CHECK(c == NULL);
		CHECK_CONTAINS(err.msg, cases[i].want);
		ib_catalog_free(c);
	}
}

int main(void)
{
	test_shipped();
	test_versions();
	test_bad_catalogs();
	return check_report();
}
