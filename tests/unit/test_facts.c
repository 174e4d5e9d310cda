/* The facts model: strict parsing, JSON round trip, the PCI id table. */
#include "check.h"
#include "facts.h"
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char windows_facts[] =
        "{\"vm_size\": \"Standard_HB120rs_v2\", \"os\": {\"family\": \"windows\", \"product\": "
        "\"server\", \"version\": \"10.0.17763\"}, \"nics\": [{\"vendor\": \"15b3\", \"device\": "
        "\"101c\", \"virtual_function\": true, \"link_layer\": \"infiniband\"}]}";

static const char linux_facts[] =
        "{\"vm_size\": \"unknown\", \"os\": {\"family\": \"linux\", \"id\": \"ubuntu\", "
        "\"version\": \"22.04\"}, \"nics\": []}";

static struct ib_facts *parse(const char *json, struct ib_err *err)
{
	struct ib_facts *f = NULL;

	ib_err_clear(err);
	if (ib_facts_parse(json, strlen(json), "f.json", &f, err))
		return NULL;
	return f;
}

static void test_minimal_files(void)
{
	struct ib_err err;
	struct ib_facts *f = parse(windows_facts, &err);

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_STR(f->vm_size, "Standard_HB120rs_v2");
	CHECK_STR(f->os.family, "windows");
	CHECK_STR(f->os.product, "server");
	CHECK_STR(f->os.version, "10.0.17763");
	CHECK(f->os.id == NULL && f->os.pretty_name == NULL);
	CHECK(f->nd_over_vmbus == 0 && f->nd_driver_version == NULL);
	CHECK(f->n_nics == 1);
	CHECK_STR(f->nics[0].vendor, "15b3");
	CHECK_STR(f->nics[0].device, "101c");
	/* No generation key: it comes from the PCI id. */
	CHECK_STR(f->nics[0].generation, "CX6");
	CHECK(f->nics[0].virtual_function == 1);
	CHECK(f->nics[0].link_layer == IB_LINK_INFINIBAND);
	CHECK(f->nics[0].pci_class[0] == '\0' && f->nics[0].pci_address == NULL);
	CHECK(ib_nic_is_infiniband(&f->nics[0]));
	ib_facts_free(f);

	f = parse(linux_facts, &err);
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_STR(f->vm_size, "unknown");
	CHECK_STR(f->os.id, "ubuntu");
	CHECK_STR(f->os.version, "22.04");
	CHECK(f->os.product == NULL && f->n_nics == 0);
	ib_facts_free(f);

	/* Linux without VERSION_ID (rolling releases) is a valid fact. */
	f = parse("{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"arch\"},"
	          "\"nics\":[]}",
	          &err);
	CHECK(f != NULL && f->os.version == NULL);
	ib_facts_free(f);
}

static void test_generation_key(void)
{
	struct ib_err err;
	struct ib_facts *f;

	f = parse("{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"ubuntu\"},"
	          "\"nics\":[{\"vendor\":\"15b3\",\"device\":\"101e\",\"virtual_function\":true,"
	          "\"link_layer\":\"infiniband\"},"
	          "{\"vendor\":\"15b3\",\"device\":\"101e\",\"generation\":\"CX7\","
	          "\"virtual_function\":true,\"link_layer\":\"infiniband\"},"
	          "{\"vendor\":\"15b3\",\"device\":\"101c\",\"generation\":null,"
	          "\"virtual_function\":true,\"link_layer\":\"unknown\",\"class\":\"0207\"}]}",
	          &err);
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(f->nics[0].generation == NULL); /* 101e is shared */
	CHECK_STR(f->nics[1].generation, "CX7");
	CHECK(f->nics[2].generation == NULL);
	/* No RDMA driver yet, but class 0207 says InfiniBand. */
	CHECK(ib_nic_is_infiniband(&f->nics[2]));
	ib_facts_free(f);
}

static void test_round_trip(void)
{
	struct ib_facts *f = ib_facts_new(), *back = NULL;
	struct ib_nic ib = {"15b3",         "101c",    "0207", NULL, 1, IB_LINK_INFINIBAND,
	                    "0101:00:00.0", "mlx5_ib0"};
	struct ib_nic an = {"15b3", "1016",           "0200",         NULL,
	                    1,      IB_LINK_ETHERNET, "7c1d:00:02.0", NULL};
	struct ib_nic amb = {"15b3", "101e", "", NULL, 1, IB_LINK_UNKNOWN, NULL, NULL};
	struct ib_err err;
	char *json = NULL, *again = NULL;

	ib_err_clear(&err);
	CHECK(f != NULL);
	if (!f)
		return;
	ib.generation = ib_pci_generation(ib.vendor, ib.device);
	an.generation = ib_pci_generation(an.vendor, an.device);
	free(f->vm_size);
	f->vm_size = strdup("Standard_HB120rs_v3");
	f->os.family = strdup("linux");
	f->os.id = strdup("ubuntu");
	f->os.version = strdup("22.04");
	f->os.pretty_name = strdup("Ubuntu 22.04.3 LTS \"jammy\" \xc3\xa9");
	f->nd_over_vmbus = 1;
	f->nd_driver_version = strdup("142.0");
	CHECK(ib_facts_add_nic(f, &ib, &err) == 0);
	CHECK(ib_facts_add_nic(f, &an, &err) == 0);
	CHECK(ib_facts_add_nic(f, &amb, &err) == 0);
	CHECK(ib_facts_to_json(f, &json, &err) == 0);
	CHECK(json && json[strlen(json) - 1] == '}');
	CHECK(ib_facts_parse(json, strlen(json), "out.json", &back, &err) == 0);
	CHECK(back != NULL);
	if (back) {
		CHECK_STR(back->vm_size, "Standard_HB120rs_v3");
		CHECK_STR(back->os.pretty_name, f->os.pretty_name);
		CHECK_STR(back->nd_driver_version, "142.0");
		CHECK(back->nd_over_vmbus == 1 && back->n_nics == 3);
		CHECK_STR(back->nics[0].pci_address, "0101:00:00.0");
		CHECK_STR(back->nics[0].ib_device, "mlx5_ib0");
		CHECK_STR(back->nics[0].pci_class, "0207");
		CHECK_STR(back->nics[0].generation, "CX6");
		CHECK(back->nics[1].link_layer == IB_LINK_ETHERNET);
		CHECK(!ib_nic_is_infiniband(&back->nics[1]));
		CHECK(back->nics[2].generation == NULL && back->nics[2].pci_address == NULL);
		CHECK(ib_facts_to_json(back, &again, &err) == 0);
		CHECK_STR(again, json);
	}
	/* Generations are stored as the module's static strings. */
	CHECK(back && back->nics[0].generation == ib_generation_canonical("CX6"));
	free(json);
	free(again);
	ib_facts_free(back);
	ib_facts_free(f);
}

/* Each bad document must fail with a message naming the file and the key. */
static void test_bad_files(void)
{
	static const struct {
		const char *json;
		const char *want;
	} cases[] = {
	        {"", "f.json: empty; expected a JSON value"},
	        {"[]", "f.json: expected an object, got an array"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":[]} "
	         "x",
	         "f.json: unexpected data after the JSON value"},
	        {"{\"vm_size\":\"unknown\",\"vm_size\":\"a\",\"os\":{\"family\":\"linux\",\"id\":"
	         "\"x\"},"
	         "\"nics\":[]}",
	         "f.json: vm_size: duplicate key"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":[],"
	         "\"vmsize\":1}",
	         "f.json: vmsize: unknown key"},
	        {"{\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":[]}",
	         "f.json: vm_size: missing"},
	        {"{\"vm_size\":\"Standard "
	         "HB\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":[]}",
	         "f.json: vm_size: expected an Azure size name"},
	        {"{\"vm_size\":\"unknown\",\"nics\":[]}", "f.json: os: missing"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"macos\"},\"nics\":[]}",
	         "f.json: os.family: expected \"windows\" or \"linux\""},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"windows\",\"version\":\"10.0\"},"
	         "\"nics\":[]}",
	         "f.json: os.product: missing"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"windows\",\"product\":\"server\"},"
	         "\"nics\":[]}",
	         "f.json: os.version: missing"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"windows\",\"product\":\"server\","
	         "\"version\":\"10.0\",\"id\":\"ubuntu\"},\"nics\":[]}",
	         "f.json: os.id: only for linux"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"product\":\"server\","
	         "\"id\":\"ubuntu\"},\"nics\":[]}",
	         "f.json: os.product: only for windows"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"Ubuntu Linux\"},"
	         "\"nics\":[]}",
	         "f.json: os.id: expected an os-release ID"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\",\"version\":"
	         "22},"
	         "\"nics\":[]}",
	         "f.json: os.version: expected a string"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"}}",
	         "f.json: nics: missing"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":{}}",
	         "f.json: nics: expected an array"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},"
	         "\"nd_over_vmbus\":\"yes\",\"nics\":[]}",
	         "f.json: nd_over_vmbus: expected true or false"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":[1]"
	         "}",
	         "f.json: nics[0]: expected an object"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":["
	         "{\"vendor\":\"15b3\",\"device\":\"101c\",\"virtual_function\":true,"
	         "\"link_layer\":\"infiniband\"},"
	         "{\"vendor\":\"15B3\",\"device\":\"101c\",\"virtual_function\":true,"
	         "\"link_layer\":\"infiniband\"}]}",
	         "f.json: nics[1].vendor: expected 4 lower-case hex digits"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":["
	         "{\"vendor\":\"15b3\",\"device\":\"101c\",\"virtual_function\":true,"
	         "\"link_layer\":\"IB\"}]}",
	         "f.json: nics[0].link_layer: expected one of \"unknown\", \"infiniband\", or "
	         "\"ethernet\", got \"IB\""},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":["
	         "{\"vendor\":\"15b3\",\"device\":\"101c\",\"link_layer\":\"infiniband\"}]}",
	         "f.json: nics[0].virtual_function: missing"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":["
	         "{\"vendor\":\"15b3\",\"device\":\"101c\",\"generation\":\"CX5\","
	         "\"virtual_function\":true,\"link_layer\":\"infiniband\"}]}",
	         "f.json: nics[0].generation: device 101c is CX6, not CX5"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":["
	         "{\"vendor\":\"15b3\",\"device\":\"101e\",\"generation\":\"CX5\","
	         "\"virtual_function\":true,\"link_layer\":\"infiniband\"}]}",
	         "f.json: nics[0].generation: device 101e is CX6 or CX7, not CX5"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":["
	         "{\"vendor\":\"15b3\",\"device\":\"101c\",\"generation\":\"ConnectX-6\","
	         "\"virtual_function\":true,\"link_layer\":\"infiniband\"}]}",
	         "f.json: nics[0].generation: expected one of CX3"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":["
	         "{\"vendor\":\"1414\",\"device\":\"00ba\",\"generation\":\"CX6\","
	         "\"virtual_function\":true,\"link_layer\":\"ethernet\"}]}",
	         "f.json: nics[0].generation: only for Mellanox (15b3) devices"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\"},\"nics\":["
	         "{\"vendor\":\"15b3\",\"device\":\"101c\",\"virtual_function\":true,"
	         "\"link_layer\":\"infiniband\",\"pci_address\":\"../../etc\"}]}",
	         "f.json: nics[0].pci_address: expected a PCI address"},
	        {"{\"vm_size\":\"unknown\",\"os\":{\"family\":\"linux\",\"id\":\"x\",\"pretty_"
	         "name\":"
	         "\"a\\nb\"},\"nics\":[]}",
	         "f.json: os.pretty_name: contains a control character"},
	};
	struct ib_err err;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ib_facts *f = parse(cases[i].json, &err);

		CHECK(f == NULL);
		CHECK(err.code == IB_EINPUT);
		CHECK_CONTAINS(err.msg, cases[i].want);
		CHECK(strchr(err.msg, '\n') == NULL);
		ib_facts_free(f);
	}
}

static void test_load(void)
{
	const char *tmp = getenv("IBDRV_TEST_TMP");
	struct ib_facts *f = NULL;
	struct ib_err err;
	char path[512];
	FILE *out;

	ib_err_clear(&err);
	CHECK(tmp != NULL);
	if (!tmp)
		return;
	CHECK(plat_mkdir_p(tmp, 0755, &err) == 0);
	snprintf(path, sizeof path, "%s/test_facts.json", tmp);
	out = fopen(path, "wb");
	CHECK(out != NULL);
	if (!out)
		return;
	fputs(windows_facts, out);
	fclose(out);
	CHECK(ib_facts_load(path, &f, &err) == 0);
	CHECK(f && !strcmp(f->nics[0].device, "101c"));
	ib_facts_free(f);

	snprintf(path, sizeof path, "%s/test_facts.missing.json", tmp);
	CHECK(ib_facts_load(path, &f, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, path);
	CHECK(f == NULL);
}

static void test_pci_table(void)
{
	static const struct {
		const char *device;
		const char *generation;
		int vf;
	} ids[] = {
	        {"1003", "CX3", 0}, {"1007", "CX3-Pro", 0}, {"1004", "CX3-Pro", 1},
	        {"1013", "CX4", 0}, {"1015", "CX4", 0},     {"1014", "CX4", 1},
	        {"1016", "CX4", 1}, {"1017", "CX5", 0},     {"1019", "CX5", 0},
	        {"1018", "CX5", 1}, {"101a", "CX5", 1},     {"101b", "CX6", 0},
	        {"101d", "CX6", 0}, {"101f", "CX6", 0},     {"101c", "CX6", 1},
	        {"101e", NULL, 1},  {"1021", "CX7", 0},     {"a2d6", NULL, 0},
	};

	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		const char *g = ib_pci_generation("15b3", ids[i].device);

		if (ids[i].generation)
			CHECK_STR(g, ids[i].generation);
		else
			CHECK(g == NULL);
		CHECK(ib_pci_is_virtual_function("15b3", ids[i].device) == ids[i].vf);
	}
	CHECK(ib_pci_generation("1414", "101c") == NULL);
	CHECK(!ib_pci_is_virtual_function("1414", "00ba"));
	CHECK_STR(ib_generation_long_name("CX3-Pro"), "ConnectX-3 Pro");
	CHECK(ib_generation_canonical("cx6") == NULL);
}

int main(void)
{
	test_minimal_files();
	test_generation_key();
	test_round_trip();
	test_bad_files();
	test_load();
	test_pci_table();
	return check_report();
}
