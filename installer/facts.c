#include "facts.h"

#include "json.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char gen_names[][8] = {"CX3", "CX3-Pro", "CX4", "CX5", "CX6", "CX7"};
static const char gen_long[][15] = {"ConnectX-3", "ConnectX-3 Pro", "ConnectX-4",
                                    "ConnectX-5", "ConnectX-6",     "ConnectX-7"};

#define NGEN (sizeof gen_names / sizeof gen_names[0])
enum { G_CX3 = 1, G_CX3_PRO, G_CX4, G_CX5, G_CX6, G_CX7 };

/*
 * The ConnectX PCI ids of vendor 15b3, with their generation (1-based index
 * of gen_names). 1004 is the VF of both ConnectX-3 and ConnectX-3 Pro; Azure
 * has only the Pro and both take the same drivers. 101e is the generic mlx5
 * VF of ConnectX-6 Dx/Lx and ConnectX-7: left unresolved, with the two
 * generations it may be in gen.
 */
static const struct {
	char device[5];
	char vf;
	unsigned char gen[2]; /* gen[1] != 0: unresolved, one of both */
} pci_ids[] = {
        {"1003", 0, {G_CX3}},        {"1007", 0, {G_CX3_PRO}}, {"1004", 1, {G_CX3_PRO}},
        {"1013", 0, {G_CX4}},        {"1015", 0, {G_CX4}},     {"1014", 1, {G_CX4}},
        {"1016", 1, {G_CX4}},        {"1017", 0, {G_CX5}},     {"1019", 0, {G_CX5}},
        {"1018", 1, {G_CX5}},        {"101a", 1, {G_CX5}},     {"101b", 0, {G_CX6}},
        {"101d", 0, {G_CX6}},        {"101f", 0, {G_CX6}},     {"101c", 1, {G_CX6}},
        {"101e", 1, {G_CX6, G_CX7}}, {"1021", 0, {G_CX7}},
};

static int find_pci_id(const char *vendor, const char *device)
{
	if (strcmp(vendor, IB_PCI_VENDOR_MELLANOX))
		return -1;
	for (size_t i = 0; i < sizeof pci_ids / sizeof pci_ids[0]; i++)
		if (!strcmp(pci_ids[i].device, device))
			return (int)i;
	return -1;
}

const char *ib_pci_generation(const char *vendor, const char *device)
{
	int i = find_pci_id(vendor, device);

	return i < 0 || pci_ids[i].gen[1] ? NULL : gen_names[pci_ids[i].gen[0] - 1];
}

int ib_pci_is_virtual_function(const char *vendor, const char *device)
{
	int i = find_pci_id(vendor, device);

	return i >= 0 && pci_ids[i].vf;
}

/* 1-based index of generation s, or 0. */
static unsigned gen_index(const char *s)
{
	for (unsigned i = 0; s && i < NGEN; i++)
		if (!strcmp(gen_names[i], s))
			return i + 1;
	return 0;
}

const char *ib_generation_canonical(const char *s)
{
	unsigned i = gen_index(s);

	return i ? gen_names[i - 1] : NULL;
}

const char *ib_generation_long_name(const char *generation)
{
	unsigned i = gen_index(generation);

	return i ? gen_long[i - 1] : NULL;
}

/* In the order of enum ib_link_layer. */
static const char *const link_names[] = {"unknown", "infiniband", "ethernet"};

const char *ib_link_layer_name(enum ib_link_layer l)
{
	return link_names[l];
}

int ib_nic_is_infiniband(const struct ib_nic *nic)
{
	if (strcmp(nic->vendor, IB_PCI_VENDOR_MELLANOX))
		return 0;
	if (nic->link_layer == IB_LINK_INFINIBAND)
		return 1;
	return nic->link_layer == IB_LINK_UNKNOWN &&
	       !strcmp(nic->pci_class, IB_PCI_CLASS_INFINIBAND);
}

struct ib_facts *ib_facts_new(void)
{
	struct ib_facts *f = calloc(1, sizeof *f);

	if (f && !(f->vm_size = strdup(IB_VM_SIZE_UNKNOWN))) {
		free(f);
		f = NULL;
	}
	return f;
}

/* A zeroed new last NIC of f (counted, so ib_facts_free frees what is put in it), or NULL. */
static struct ib_nic *new_nic(struct ib_facts *f)
{
	struct ib_nic *grown = realloc(f->nics, (f->n_nics + 1) * sizeof *grown);

	if (!grown)
		return NULL;
	f->nics = grown;
	grown += f->n_nics++;
	memset(grown, 0, sizeof *grown);
	return grown;
}

/* Sets sharing their tails, so that the linker stores each tail once. */
#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define HEX "ABCDEF0123456789abcdef"

/* What a string value may be. */
enum { C_SIZE, C_ID, C_VERSION, C_TEXT, C_HEX4, C_PCI, C_IBDEV };
static const struct {
	const char *set; /* allowed bytes; NULL: text */
	unsigned short min, max;
} checks[] = {
        [C_SIZE] = {ALNUM "_-", 1, 64},
        [C_ID] = {"abcdefghijklmnopqrstuvwxyz0123456789._-", 1, 64},
        [C_VERSION] = {"." ALNUM "_-", 1, 64},
        [C_TEXT] = {NULL, 1, 256},
        [C_HEX4] = {"0123456789abcdef", 4, 4},
        [C_PCI] = {":." HEX, 1, 32},
        [C_IBDEV] = {"." ALNUM "_-", 1, 64},
};

/* Non-zero when s passes check c. */
static int check(const char *s, int c)
{
	size_t n = strlen(s);

	if (n < checks[c].min || n > checks[c].max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (checks[c].set ? !strchr(checks[c].set, *p) : *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int ib_valid_vm_size(const char *s)
{
	return check(s, C_SIZE);
}

int ib_valid_os_id(const char *s)
{
	return check(s, C_ID);
}

int ib_valid_version(const char *s)
{
	return check(s, C_VERSION);
}

int ib_valid_text(const char *s)
{
	return check(s, C_TEXT);
}

int ib_valid_pci_address(const char *s)
{
	return check(s, C_PCI);
}

int ib_valid_ib_device(const char *s)
{
	return check(s, C_IBDEV);
}

static int valid_hex4(const char *s)
{
	return check(s, C_HEX4);
}

/* The string checks of the rows below, and what is expected when one fails. */
static const struct ib_json_valid valid[] = {
        [C_SIZE] = {ib_valid_vm_size, IB_VM_SIZE_WANTED},
        [C_ID] = {ib_valid_os_id, "an os-release ID (a-z 0-9 . _ -)"},
        [C_VERSION] = {ib_valid_version, "a version such as \"10.0.17763\" or \"20.04\""},
        [C_HEX4] = {valid_hex4, "4 lower-case hex digits"},
        [C_PCI] = {ib_valid_pci_address, "a PCI address such as \"0101:00:00.0\""},
        [C_IBDEV] = {ib_valid_ib_device, "a device name such as \"mlx5_ib0\""},
};

const char *const ib_os_families[2] = {"windows", "linux"};
const char *const ib_os_products[2] = {"server", "workstation"};

#define GENERATIONS "one of CX3, CX3-Pro, CX4, CX5, CX6, CX7"

int ib_generation_read(struct ib_json_ctx *c, const cJSON *v, int null_ok, const char **out)
{
	unsigned g = (v->type & 0xff) == cJSON_String ? gen_index(v->valuestring) : 0;

	*out = g ? gen_names[g - 1] : NULL;
	if (g || (null_ok && (v->type & 0xff) == cJSON_NULL))
		return 0;
	return ib_json_expected(c, v, null_ok ? GENERATIONS " or null" : GENERATIONS);
}

/* A NIC's generation: absent, that of its PCI id; given, one of it (or null). */
static int check_generation(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i)
{
	struct ib_nic *n = obj;
	int id = find_pci_id(n->vendor, n->device), rc;
	unsigned g;

	(void)i;
	if (!v) {
		n->generation = ib_pci_generation(n->vendor, n->device);
		return 0;
	}
	if ((rc = ib_generation_read(c, v, 1, &n->generation)) || !n->generation)
		return rc;
	g = gen_index(n->generation);
	if (strcmp(n->vendor, IB_PCI_VENDOR_MELLANOX))
		return ib_json_fail(c, "only for Mellanox (15b3) devices");
	if (id >= 0 && g != pci_ids[id].gen[0] && g != pci_ids[id].gen[1]) {
		unsigned b = pci_ids[id].gen[1];

		return ib_json_fail(c, "device %s is %s%s%s, not %s", n->device,
		                    gen_names[pci_ids[id].gen[0] - 1], b ? " or " : "",
		                    b ? gen_names[b - 1] : "", n->generation);
	}
	return 0;
}

/*
 * The facts file format, one table per object. Keys are in the order
 * `detect --json` writes them.
 */
#define STR(st, m, rule, c, max)                                                                   \
	{                                                                                          \
#m, 1, max, rule, IB_T_STR, 0, IB_FIELD(st, m), 0,                                 \
		        &valid[c], c == C_TEXT ? NULL : ib_json_check_valid                        \
	}
#define HEX4(m, rule)                                                                              \
	{                                                                                          \
#m, 0, 0, rule, IB_T_BUF, 0, IB_FIELD(struct ib_nic, m), 0,                        \
		        &valid[C_HEX4], ib_json_check_valid                                        \
	}

static const struct ib_json_row os_rows[] = {
        {"family", 0, 2, IB_K_REQ, IB_T_ENUM, 0, IB_FIELD(struct ib_os, family), 0, ib_os_families,
         ib_json_check_windows},
        {"product", 0, 2, IB_K_REQ_WIN | IB_K_WIN_ONLY, IB_T_ENUM, 0,
         IB_FIELD(struct ib_os, product), 0, ib_os_products, NULL},
        STR(struct ib_os, id, IB_K_REQ_LINUX | IB_K_LINUX_ONLY, C_ID, 64),
        STR(struct ib_os, version, IB_K_REQ_WIN, C_VERSION, 64),
        STR(struct ib_os, pretty_name, IB_K_OPT, C_TEXT, 256),
};
static const struct ib_json_row nic_rows[] = {
        STR(struct ib_nic, pci_address, IB_K_OPT, C_PCI, 32),
        HEX4(vendor, IB_K_REQ),
        HEX4(device, IB_K_REQ),
        {"class", 0, 0, IB_K_OPT, IB_T_BUF, 0, IB_FIELD(struct ib_nic, pci_class), 0,
         &valid[C_HEX4], ib_json_check_valid},
        {"generation", 0, 0, IB_K_OPT, IB_T_RAW, 0, IB_FIELD(struct ib_nic, generation), 0, NULL,
         check_generation},
        {"virtual_function", 0, 0, IB_K_REQ, IB_T_BOOL, 0,
         IB_FIELD(struct ib_nic, virtual_function), 0, NULL, NULL},
        {"link_layer", 0, 3, IB_K_REQ, IB_T_INDEX, 0, IB_FIELD(struct ib_nic, link_layer), 0,
         link_names, NULL},
        STR(struct ib_nic, ib_device, IB_K_OPT, C_IBDEV, 64),
};
static const struct ib_json_row root_rows[] = {
        STR(struct ib_facts, vm_size, IB_K_REQ, C_SIZE, 64),
        {"os", 0, IB_JSON_COUNT(os_rows), IB_K_REQ, IB_T_OBJ, 0, IB_FIELD(struct ib_facts, os), 0,
         os_rows, NULL},
        {"nd_over_vmbus", 0, 0, IB_K_OPT, IB_T_BOOL, 0, IB_FIELD(struct ib_facts, nd_over_vmbus), 0,
         NULL, NULL},
        STR(struct ib_facts, nd_driver_version, IB_K_OPT, C_TEXT, 256),
        {"nics", 0, IB_JSON_COUNT(nic_rows), IB_K_REQ, IB_T_OBJ, 0,
         IB_ARRAY(struct ib_facts, nics, n_nics, struct ib_nic), 0xffff, nic_rows, NULL},
};

void ib_facts_free(struct ib_facts *f)
{
	if (!f)
		return;
	ib_json_free(root_rows, IB_JSON_COUNT(root_rows), f);
	free(f);
}

/* *out: a copy of s, or NULL when s is; non-zero when out of memory. */
static int dup_opt(const char *s, char **out)
{
	return (*out = s ? strdup(s) : NULL) == NULL && s;
}

int ib_facts_add_nic(struct ib_facts *f, const struct ib_nic *nic, struct ib_err *err)
{
	struct ib_nic *n = new_nic(f);

	if (!n)
		return ib_oom(err);
	*n = *nic;
	/* Both run: each string is then f's own copy or NULL. */
	return dup_opt(nic->pci_address, &n->pci_address) | dup_opt(nic->ib_device, &n->ib_device)
	               ? ib_oom(err)
	               : 0;
}

/* The facts of a parsed document (or rc, when parsing failed); frees root. */
static int facts_of(cJSON *root, int rc, const char *source, struct ib_facts **out,
                    struct ib_err *err)
{
	struct ib_json_ctx c = {.source = source, .err = err};
	void *f;

	rc = ib_json_read_new(root, rc, &c, root_rows, IB_JSON_COUNT(root_rows), sizeof **out, &f);
	*out = f;
	return rc;
}

int ib_facts_parse(const char *json, size_t len, const char *source, struct ib_facts **out,
                   struct ib_err *err)
{
	cJSON *root;
	int rc = ib_json_parse(json, len, source, &root, err);

	return facts_of(root, rc, source, out, err);
}

int ib_facts_load(const char *path, struct ib_facts **out, struct ib_err *err)
{
	cJSON *root;
	int rc = ib_json_load(path, IB_FACTS_MAX_BYTES, &root, err);

	return facts_of(root, rc, path, out, err);
}

int ib_facts_to_json(const struct ib_facts *f, char **json, struct ib_err *err)
{
	cJSON *root = cJSON_CreateObject();
	int rc = 0;

	*json = NULL;
	if (!root || ib_json_write(root, root_rows, IB_JSON_COUNT(root_rows), f) ||
	    !(*json = cJSON_Print(root)))
		rc = ib_oom(err);
	cJSON_Delete(root);
	return rc;
}
