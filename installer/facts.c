#include "facts.h"

#include "json.h"
#include "readfile.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	const char *long_name;
} generations[] = {
        {"CX3", "ConnectX-3"}, {"CX3-Pro", "ConnectX-3 Pro"}, {"CX4", "ConnectX-4"},
        {"CX5", "ConnectX-5"}, {"CX6", "ConnectX-6"},         {"CX7", "ConnectX-7"},
};

#define NGEN (sizeof generations / sizeof generations[0])

/*
 * The ConnectX PCI ids of vendor 15b3. 1004 is the VF of both ConnectX-3 and
 * ConnectX-3 Pro; Azure has only the Pro and both take the same drivers.
 * 101e is the generic mlx5 VF of ConnectX-6 Dx/Lx and ConnectX-7: left
 * unresolved, with the generations it may be.
 */
static const struct {
	char device[5];
	char generation[8]; /* "" when unresolved */
	char vf;
	char could_be[2][4];
} pci_ids[] = {
        {"1003", "CX3", 0, {""}},        {"1007", "CX3-Pro", 0, {""}}, {"1004", "CX3-Pro", 1, {""}},
        {"1013", "CX4", 0, {""}},        {"1015", "CX4", 0, {""}},     {"1014", "CX4", 1, {""}},
        {"1016", "CX4", 1, {""}},        {"1017", "CX5", 0, {""}},     {"1019", "CX5", 0, {""}},
        {"1018", "CX5", 1, {""}},        {"101a", "CX5", 1, {""}},     {"101b", "CX6", 0, {""}},
        {"101d", "CX6", 0, {""}},        {"101f", "CX6", 0, {""}},     {"101c", "CX6", 1, {""}},
        {"101e", "", 1, {"CX6", "CX7"}}, {"1021", "CX7", 0, {""}},
};

static int find_pci_id(const char *vendor, const char *device)
{
	if (!vendor || !device || strcmp(vendor, IB_PCI_VENDOR_MELLANOX))
		return -1;
	for (size_t i = 0; i < sizeof pci_ids / sizeof pci_ids[0]; i++)
		if (!strcmp(pci_ids[i].device, device))
			return (int)i;
	return -1;
}

const char *ib_pci_generation(const char *vendor, const char *device)
{
	int i = find_pci_id(vendor, device);

	return i < 0 ? NULL : ib_generation_canonical(pci_ids[i].generation);
}

int ib_pci_is_virtual_function(const char *vendor, const char *device)
{
	int i = find_pci_id(vendor, device);

	return i >= 0 && pci_ids[i].vf;
}

const char *ib_generation_canonical(const char *s)
{
	for (size_t i = 0; s && i < NGEN; i++)
		if (!strcmp(generations[i].name, s))
			return generations[i].name;
	return NULL;
}

const char *ib_generation_long_name(const char *generation)
{
	for (size_t i = 0; generation && i < NGEN; i++)
		if (!strcmp(generations[i].name, generation))
			return generations[i].long_name;
	return NULL;
}

const char *ib_link_layer_name(enum ib_link_layer l)
{
	switch (l) {
	case IB_LINK_INFINIBAND:
		return "infiniband";
	case IB_LINK_ETHERNET:
		return "ethernet";
	default:
		return "unknown";
	}
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

	if (!f)
		return NULL;
	f->vm_size = strdup(IB_VM_SIZE_UNKNOWN);
	if (!f->vm_size) {
		free(f);
		return NULL;
	}
	return f;
}

static void nic_clear(struct ib_nic *n)
{
	free(n->pci_address);
	free(n->ib_device);
}

void ib_facts_free(struct ib_facts *f)
{
	if (!f)
		return;
	free(f->vm_size);
	free(f->os.family);
	free(f->os.product);
	free(f->os.id);
	free(f->os.version);
	free(f->os.pretty_name);
	free(f->nd_driver_version);
	for (size_t i = 0; i < f->n_nics; i++)
		nic_clear(&f->nics[i]);
	free(f->nics);
	free(f);
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -1;
}

int ib_facts_add_nic(struct ib_facts *f, const struct ib_nic *nic, struct ib_err *err)
{
	struct ib_nic copy = *nic, *grown;

	if (dup_opt(nic->pci_address, &copy.pci_address) ||
	    dup_opt(nic->ib_device, &copy.ib_device))
		goto oom;
	grown = realloc(f->nics, (f->n_nics + 1) * sizeof *grown);
	if (!grown)
		goto oom;
	f->nics = grown;
	f->nics[f->n_nics++] = copy;
	return 0;
oom:
	nic_clear(&copy);
	return ib_oom(err);
}

static int all_chars(const char *s, const char *set, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (const char *p = s; *p; p++)
		if (!strchr(set, *p))
			return 0;
	return 1;
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define LOWER_ALNUM "abcdefghijklmnopqrstuvwxyz0123456789"
#define LOWER_HEX "0123456789abcdef"

static int is_hex4(const char *s)
{
	return strlen(s) == 4 && all_chars(s, LOWER_HEX, 4);
}

/* Printable text for people: no control characters; UTF-8 bytes pass through. */
static int is_text(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int ib_valid_vm_size(const char *s)
{
	return all_chars(s, ALNUM "_-", 64);
}

int ib_valid_os_id(const char *s)
{
	return all_chars(s, LOWER_ALNUM "._-", 64);
}

int ib_valid_version(const char *s)
{
	return all_chars(s, ALNUM "._-", 64);
}

int ib_valid_text(const char *s)
{
	return is_text(s, 256);
}

int ib_valid_pci_address(const char *s)
{
	return all_chars(s, "0123456789abcdefABCDEF:.", 32);
}

int ib_valid_ib_device(const char *s)
{
	return all_chars(s, ALNUM "._-", 64);
}

struct ctx {
	const char *source;
	struct ib_err *err;
};

static int bad(struct ctx *c, const char *path, const char *key, const char *what)
{
	char p[IB_JSON_PATH_MAX];

	return ib_fail(c->err, IB_EINPUT, "%s: %s: %s", c->source,
	               ib_json_path(p, sizeof p, path, key), what);
}

/* Reads an optional or required string member into *out (malloc'd) after checking it. */
static int take_string(struct ctx *c, const cJSON *obj, const char *path, const char *key,
                       int required, int (*valid)(const char *), const char *what, char **out)
{
	const char *s = NULL;
	int rc = ib_json_string(obj, key, required, &s, c->source, path, c->err);

	if (rc || !s)
		return rc;
	if (!valid(s))
		return bad(c, path, key, what);
	*out = strdup(s);
	return *out ? 0 : ib_oom(c->err);
}

static int valid_family(const char *s)
{
	return !strcmp(s, "windows") || !strcmp(s, "linux");
}

static int valid_product(const char *s)
{
	return !strcmp(s, "server") || !strcmp(s, "workstation");
}

static int parse_os(struct ctx *c, const cJSON *root, struct ib_os *os)
{
	static const char *const keys[] = {"family",  "product",     "id",
	                                   "version", "pretty_name", NULL};
	const cJSON *o = ib_json_member(root, "os");
	int rc, windows;

	if (!o)
		return bad(c, "", "os", "missing");
	rc = ib_json_object(o, keys, c->source, "os", c->err);
	if (rc)
		return rc;
	rc = take_string(c, o, "os", "family", 1, valid_family, "expected \"windows\" or \"linux\"",
	                 &os->family);
	if (rc)
		return rc;
	windows = !strcmp(os->family, "windows");
	if (windows && ib_json_member(o, "id"))
		return bad(c, "os", "id", "only for linux (windows has product and version)");
	if (!windows && ib_json_member(o, "product"))
		return bad(c, "os", "product", "only for windows (linux has id and version)");
	rc = take_string(c, o, "os", "product", windows, valid_product,
	                 "expected \"server\" or \"workstation\"", &os->product);
	if (!rc)
		rc = take_string(c, o, "os", "id", !windows, ib_valid_os_id,
		                 "expected an os-release ID (a-z, 0-9, '.', '_', '-')", &os->id);
	if (!rc)
		rc = take_string(c, o, "os", "version", windows, ib_valid_version,
		                 "expected a version such as \"10.0.17763\" or \"22.04\"",
		                 &os->version);
	if (!rc)
		rc = take_string(c, o, "os", "pretty_name", 0, ib_valid_text,
		                 "expected 1 to 256 printable characters", &os->pretty_name);
	return rc;
}

static int parse_hex4(struct ctx *c, const cJSON *o, const char *path, const char *key,
                      int required, char out[5])
{
	const char *s = NULL;
	int rc = ib_json_string(o, key, required, &s, c->source, path, c->err);

	if (rc || !s)
		return rc;
	if (!is_hex4(s))
		return bad(c, path, key, "expected 4 lower-case hex digits");
	memcpy(out, s, 5);
	return 0;
}

static int parse_generation(struct ctx *c, const cJSON *o, const char *path, struct ib_nic *n)
{
	const cJSON *v = ib_json_member(o, "generation");
	const char *gen;
	char what[160];
	int id = find_pci_id(n->vendor, n->device);

	if (!v) {
		n->generation = ib_pci_generation(n->vendor, n->device);
		return 0;
	}
	if (cJSON_IsNull(v)) {
		n->generation = NULL;
		return 0;
	}
	if (!cJSON_IsString(v))
		return bad(c, path, "generation", "expected a string or null");
	gen = ib_generation_canonical(v->valuestring);
	if (!gen)
		return bad(c, path, "generation",
		           "expected one of CX3, CX3-Pro, CX4, CX5, CX6, CX7 or null");
	if (strcmp(n->vendor, IB_PCI_VENDOR_MELLANOX))
		return bad(c, path, "generation", "only for Mellanox (15b3) devices");
	if (id >= 0 && pci_ids[id].generation[0] && strcmp(pci_ids[id].generation, gen)) {
		snprintf(what, sizeof what, "%s does not match device %s, which is %s", gen,
		         n->device, pci_ids[id].generation);
		return bad(c, path, "generation", what);
	}
	if (id >= 0 && !pci_ids[id].generation[0] && strcmp(pci_ids[id].could_be[0], gen) &&
	    strcmp(pci_ids[id].could_be[1], gen)) {
		snprintf(what, sizeof what, "device %s is %s or %s, not %s", n->device,
		         pci_ids[id].could_be[0], pci_ids[id].could_be[1], gen);
		return bad(c, path, "generation", what);
	}
	n->generation = gen;
	return 0;
}

static int parse_nic(struct ctx *c, const cJSON *o, const char *path, struct ib_facts *f)
{
	static const char *const keys[] = {"pci_address", "vendor",     "device",
	                                   "class",       "generation", "virtual_function",
	                                   "link_layer",  "ib_device",  NULL};
	struct ib_nic n;
	const char *link = NULL;
	int rc;

	memset(&n, 0, sizeof n);
	rc = ib_json_object(o, keys, c->source, path, c->err);
	if (!rc)
		rc = parse_hex4(c, o, path, "vendor", 1, n.vendor);
	if (!rc)
		rc = parse_hex4(c, o, path, "device", 1, n.device);
	if (!rc)
		rc = parse_hex4(c, o, path, "class", 0, n.pci_class);
	if (!rc)
		rc = parse_generation(c, o, path, &n);
	if (!rc)
		rc = ib_json_bool(o, "virtual_function", 1, &n.virtual_function, c->source, path,
		                  c->err);
	if (!rc)
		rc = ib_json_string(o, "link_layer", 1, &link, c->source, path, c->err);
	if (rc)
		goto out;
	if (!strcmp(link, "infiniband"))
		n.link_layer = IB_LINK_INFINIBAND;
	else if (!strcmp(link, "ethernet"))
		n.link_layer = IB_LINK_ETHERNET;
	else if (!strcmp(link, "unknown"))
		n.link_layer = IB_LINK_UNKNOWN;
	else {
		rc = bad(c, path, "link_layer",
		         "expected \"infiniband\", \"ethernet\" or \"unknown\"");
		goto out;
	}
	rc = take_string(c, o, path, "pci_address", 0, ib_valid_pci_address,
	                 "expected a PCI address such as \"0101:00:00.0\"", &n.pci_address);
	if (!rc)
		rc = take_string(c, o, path, "ib_device", 0, ib_valid_ib_device,
		                 "expected an RDMA device name such as \"mlx5_ib0\"", &n.ib_device);
	if (!rc)
		rc = ib_facts_add_nic(f, &n, c->err);
out:
	nic_clear(&n);
	return rc;
}

static int parse_root(struct ctx *c, const cJSON *root, struct ib_facts *f)
{
	static const char *const keys[] = {"vm_size",           "os",   "nd_over_vmbus",
	                                   "nd_driver_version", "nics", NULL};
	const char *size = NULL;
	const cJSON *nics = NULL, *n;
	char path[IB_JSON_PATH_MAX];
	size_t i = 0;
	int rc;

	rc = ib_json_object(root, keys, c->source, "", c->err);
	if (!rc)
		rc = ib_json_string(root, "vm_size", 1, &size, c->source, "", c->err);
	if (rc)
		return rc;
	if (strcmp(size, IB_VM_SIZE_UNKNOWN) && !ib_valid_vm_size(size))
		return bad(c, "", "vm_size",
		           "expected an Azure size name such as \"Standard_HB120rs_v2\" or "
		           "\"unknown\"");
	free(f->vm_size);
	f->vm_size = strdup(size);
	if (!f->vm_size)
		return ib_oom(c->err);
	rc = parse_os(c, root, &f->os);
	if (!rc)
		rc = ib_json_bool(root, "nd_over_vmbus", 0, &f->nd_over_vmbus, c->source, "",
		                  c->err);
	if (!rc)
		rc = take_string(c, root, "", "nd_driver_version", 0, ib_valid_text,
		                 "expected 1 to 256 printable characters", &f->nd_driver_version);
	if (!rc)
		rc = ib_json_array(root, "nics", 1, &nics, c->source, "", c->err);
	if (rc)
		return rc;
	cJSON_ArrayForEach(n, nics)
	{
		rc = parse_nic(c, n, ib_json_index(path, sizeof path, "nics", i++), f);
		if (rc)
			return rc;
	}
	return 0;
}

int ib_facts_parse(const char *json, size_t len, const char *source, struct ib_facts **out,
                   struct ib_err *err)
{
	struct ctx c = {source, err};
	struct ib_facts *f = NULL;
	cJSON *root = NULL;
	int rc;

	*out = NULL;
	rc = ib_json_parse(json, len, source, &root, err);
	if (rc)
		return rc;
	f = ib_facts_new();
	if (!f) {
		rc = ib_oom(err);
		goto out;
	}
	rc = parse_root(&c, root, f);
	if (rc)
		goto out;
	*out = f;
	f = NULL;
out:
	ib_facts_free(f);
	cJSON_Delete(root);
	return rc;
}

int ib_facts_load(const char *path, struct ib_facts **out, struct ib_err *err)
{
	char *data = NULL;
	size_t len;
	int rc;

	*out = NULL;
	rc = ib_read_file(path, IB_FACTS_MAX_BYTES, &data, &len, err);
	if (!rc)
		rc = ib_facts_parse(data, len, path, out, err);
	free(data);
	return rc;
}

static int add_string(cJSON *obj, const char *key, const char *value)
{
	return value && !cJSON_AddStringToObject(obj, key, value) ? -1 : 0;
}

static int build_nic(cJSON *arr, const struct ib_nic *n)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o))
		return -1;
	if (add_string(o, "pci_address", n->pci_address) || add_string(o, "vendor", n->vendor) ||
	    add_string(o, "device", n->device) ||
	    add_string(o, "class", n->pci_class[0] ? n->pci_class : NULL))
		return -1;
	if (n->generation ? !cJSON_AddStringToObject(o, "generation", n->generation)
	                  : !cJSON_AddNullToObject(o, "generation"))
		return -1;
	if (!cJSON_AddBoolToObject(o, "virtual_function", n->virtual_function) ||
	    add_string(o, "link_layer", ib_link_layer_name(n->link_layer)) ||
	    add_string(o, "ib_device", n->ib_device))
		return -1;
	return 0;
}

static int build(const struct ib_facts *f, cJSON *root)
{
	cJSON *os, *nics;

	if (add_string(root, "vm_size", f->vm_size))
		return -1;
	os = cJSON_AddObjectToObject(root, "os");
	if (!os || add_string(os, "family", f->os.family) ||
	    add_string(os, "product", f->os.product) || add_string(os, "id", f->os.id) ||
	    add_string(os, "version", f->os.version) ||
	    add_string(os, "pretty_name", f->os.pretty_name))
		return -1;
	if (!cJSON_AddBoolToObject(root, "nd_over_vmbus", f->nd_over_vmbus) ||
	    add_string(root, "nd_driver_version", f->nd_driver_version))
		return -1;
	nics = cJSON_AddArrayToObject(root, "nics");
	if (!nics)
		return -1;
	for (size_t i = 0; i < f->n_nics; i++)
		if (build_nic(nics, &f->nics[i]))
			return -1;
	return 0;
}

int ib_facts_to_json(const struct ib_facts *f, char **json, struct ib_err *err)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	size_t n;
	int rc = 0;

	*json = NULL;
	if (!root || build(f, root) || !(text = cJSON_Print(root))) {
		rc = ib_oom(err);
		goto out;
	}
	n = strlen(text);
	*json = malloc(n + 2);
	if (!*json) {
		rc = ib_oom(err);
		goto out;
	}
	memcpy(*json, text, n);
	(*json)[n] = '\n';
	(*json)[n + 1] = '\0';
out:
	if (text)
		cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}
