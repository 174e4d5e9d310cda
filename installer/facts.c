#include "facts.h"

#include "json.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
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

/* Words separated by NULs, in the order of enum ib_link_layer. */
#define LINK_WORDS "unknown\0infiniband\0ethernet\0"

/* The n-th word of a NUL-separated list. */
static const char *word_at(const char *words, unsigned n)
{
	while (n--)
		words += strlen(words) + 1;
	return words;
}

const char *ib_link_layer_name(enum ib_link_layer l)
{
	return word_at(LINK_WORDS, l);
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

/* What a string value may be, and what is expected instead when it is not. */
enum { C_SIZE, C_FAMILY, C_PRODUCT, C_ID, C_VERSION, C_TEXT, C_HEX4, C_LINK, C_PCI, C_IBDEV };
static const struct {
	const char *set; /* allowed bytes; words (NUL-separated) when max is 0; NULL: text */
	unsigned short min, max;
	const char *what;
} checks[] = {
        [C_SIZE] = {ALNUM "_-", 1, 64, IB_VM_SIZE_WANTED},
        [C_FAMILY] = {"windows\0linux\0", 0, 0, "\"windows\" or \"linux\""},
        [C_PRODUCT] = {"server\0workstation\0", 0, 0, "\"server\" or \"workstation\""},
        [C_ID] = {"abcdefghijklmnopqrstuvwxyz0123456789._-", 1, 64,
                  "an os-release ID (a-z, 0-9, '.', '_', '-')"},
        [C_VERSION] = {"." ALNUM "_-", 1, 64, "a version such as \"10.0.17763\" or \"20.04\""},
        [C_TEXT] = {NULL, 1, 256, "1 to 256 printable characters"},
        [C_HEX4] = {"0123456789abcdef", 4, 4, "4 lower-case hex digits"},
        [C_LINK] = {LINK_WORDS, 0, 0, "\"infiniband\", \"ethernet\" or \"unknown\""},
        [C_PCI] = {":." HEX, 1, 32, "a PCI address such as \"0101:00:00.0\""},
        [C_IBDEV] = {"." ALNUM "_-", 1, 64, "a device name such as \"mlx5_ib0\""},
};

/* -1 when s fails check c, else 0 (or the index of the word it is). */
static int check(const char *s, int c)
{
	const char *set = checks[c].set;
	size_t n = strlen(s);
	int i = 0;

	if (!checks[c].max) {
		for (const char *w = set; *w; w = word_at(w, 1), i++)
			if (!strcmp(w, s))
				return i;
		return -1;
	}
	if (n < checks[c].min || n > checks[c].max)
		return -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (set ? !strchr(set, *p) : *p < 0x20 || *p == 0x7f)
			return -1;
	return 0;
}

int ib_valid_vm_size(const char *s)
{
	return check(s, C_SIZE) == 0;
}

int ib_valid_os_id(const char *s)
{
	return check(s, C_ID) == 0;
}

int ib_valid_version(const char *s)
{
	return check(s, C_VERSION) == 0;
}

int ib_valid_text(const char *s)
{
	return check(s, C_TEXT) == 0;
}

int ib_valid_pci_address(const char *s)
{
	return check(s, C_PCI) == 0;
}

int ib_valid_ib_device(const char *s)
{
	return check(s, C_IBDEV) == 0;
}

/*
 * The facts file format, one table per object. Keys are in the order
 * `detect --json` writes them; each has a row saying how it is stored.
 */
enum { T_STR, T_HEX4, T_BOOL, T_GEN, T_LINK, T_OS, T_NICS };
/*
 * Where a key is required (bit 0, bit 1) or refused (bit 2, bit 3): bits 0
 * and 2 apply to every object but a windows os, bits 1 and 3 to a windows os.
 */
enum {
	R_OPT = 0,
	R_REQ = 3,
	R_WIN_ONLY = 2 | 4,
	R_LINUX_ONLY = 1 | 8,
	R_WIN_REQ = 2,
};
enum { S_ROOT, S_OS, S_NIC };

struct row {
	unsigned char type, check, req, off;
};

#define ROW(type, check, req, st, member)                                                          \
	{                                                                                          \
		type, check, req, offsetof(st, member)                                             \
	}

static const char *const root_keys[] = {"vm_size",           "os",   "nd_over_vmbus",
                                        "nd_driver_version", "nics", NULL};
static const struct row root_rows[] = {
        ROW(T_STR, C_SIZE, R_REQ, struct ib_facts, vm_size),
        ROW(T_OS, 0, R_REQ, struct ib_facts, os),
        ROW(T_BOOL, 0, R_OPT, struct ib_facts, nd_over_vmbus),
        ROW(T_STR, C_TEXT, R_OPT, struct ib_facts, nd_driver_version),
        ROW(T_NICS, 0, R_REQ, struct ib_facts, nics),
};
static const char *const os_keys[] = {"family", "product", "id", "version", "pretty_name", NULL};
static const struct row os_rows[] = {
        ROW(T_STR, C_FAMILY, R_REQ, struct ib_os, family),
        ROW(T_STR, C_PRODUCT, R_WIN_ONLY, struct ib_os, product),
        ROW(T_STR, C_ID, R_LINUX_ONLY, struct ib_os, id),
        ROW(T_STR, C_VERSION, R_WIN_REQ, struct ib_os, version),
        ROW(T_STR, C_TEXT, R_OPT, struct ib_os, pretty_name),
};
static const char *const nic_keys[] = {"pci_address", "vendor",     "device",
                                       "class",       "generation", "virtual_function",
                                       "link_layer",  "ib_device",  NULL};
static const struct row nic_rows[] = {
        ROW(T_STR, C_PCI, R_OPT, struct ib_nic, pci_address),
        ROW(T_HEX4, C_HEX4, R_REQ, struct ib_nic, vendor),
        ROW(T_HEX4, C_HEX4, R_REQ, struct ib_nic, device),
        ROW(T_HEX4, C_HEX4, R_OPT, struct ib_nic, pci_class),
        ROW(T_GEN, 0, R_OPT, struct ib_nic, generation),
        ROW(T_BOOL, 0, R_REQ, struct ib_nic, virtual_function),
        ROW(T_LINK, C_LINK, R_REQ, struct ib_nic, link_layer),
        ROW(T_STR, C_IBDEV, R_OPT, struct ib_nic, ib_device),
};
static const struct {
	const char *const *keys;
	const struct row *rows;
} schemas[] = {{root_keys, root_rows}, {os_keys, os_rows}, {nic_keys, nic_rows}};

/* The cJSON types each T_* accepts, and what is expected when a value has another. */
static const unsigned char accepts[] = {
        [T_STR] = cJSON_String,
        [T_HEX4] = cJSON_String,
        [T_BOOL] = cJSON_True | cJSON_False,
        [T_GEN] = cJSON_String | cJSON_NULL,
        [T_LINK] = cJSON_String,
        [T_OS] = cJSON_Object,
        [T_NICS] = cJSON_Array,
};
static const char *const wrong_type[] = {
        [T_STR] = "a string",         [T_HEX4] = "a string", [T_BOOL] = "true or false",
        [T_GEN] = "a string or null", [T_LINK] = "a string", [T_OS] = "an object",
        [T_NICS] = "an array",
};

/* Frees the strings of an object of the schema at base. */
static void free_strings(int schema, void *base)
{
	for (size_t i = 0; schemas[schema].keys[i]; i++)
		if (schemas[schema].rows[i].type == T_STR)
			free(*(char **)((char *)base + schemas[schema].rows[i].off));
}

void ib_facts_free(struct ib_facts *f)
{
	if (!f)
		return;
	free_strings(S_ROOT, f);
	free_strings(S_OS, &f->os);
	for (size_t i = 0; i < f->n_nics; i++)
		free_strings(S_NIC, &f->nics[i]);
	free(f->nics);
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

struct ctx {
	const char *source;
	struct ib_err *err;
};

/* "<source>: <path>.<key>: <pre><what>"; pre is "expected " or "". */
static int bad(struct ctx *c, const char *path, const char *key, const char *pre, const char *what)
{
	char p[IB_JSON_PATH_MAX];

	return ib_fail(c->err, IB_EINPUT, "%s: %s: %s%s", c->source,
	               ib_json_path(p, sizeof p, path, key), pre, what);
}

/* The generation v of NIC n (a string or null), checked against its PCI id. */
static int read_generation(struct ctx *c, const cJSON *v, const char *path, struct ib_nic *n)
{
	int id = find_pci_id(n->vendor, n->device);
	const char *why = NULL;
	char what[80];
	unsigned g;

	if (v->type == cJSON_NULL)
		return 0;
	g = gen_index(v->valuestring);
	if (!g)
		why = "expected one of CX3, CX3-Pro, CX4, CX5, CX6, CX7 or null";
	else if (strcmp(n->vendor, IB_PCI_VENDOR_MELLANOX))
		why = "only for Mellanox (15b3) devices";
	else if (id >= 0 && g != pci_ids[id].gen[0] && g != pci_ids[id].gen[1]) {
		unsigned b = pci_ids[id].gen[1];

		snprintf(what, sizeof what, "device %s is %s%s%s, not %s", n->device,
		         gen_names[pci_ids[id].gen[0] - 1], b ? " or " : "",
		         b ? gen_names[b - 1] : "", gen_names[g - 1]);
		why = what;
	}
	if (why)
		return bad(c, path, "generation", "", why);
	n->generation = gen_names[g - 1];
	return 0;
}

static int read_object(struct ctx *c, const cJSON *o, const char *path, int schema, void *out)
{
	const char *const *keys = schemas[schema].keys;
	int rc = ib_json_object(o, keys, c->source, path, c->err), windows = 0;

	for (size_t i = 0; !rc && keys[i]; i++) {
		const struct row *r = &schemas[schema].rows[i];
		const cJSON *v = ib_json_member(o, keys[i]), *e;
		char *field = (char *)out + r->off, sub[IB_JSON_PATH_MAX];
		size_t n = 0;
		int k;

		if (!v) {
			if (r->req >> windows & 1)
				rc = bad(c, path, keys[i], "", "missing");
			else if (r->type == T_GEN)
				((struct ib_nic *)out)->generation =
				        ib_pci_generation(((struct ib_nic *)out)->vendor,
				                          ((struct ib_nic *)out)->device);
			continue;
		}
		if (r->req >> (2 + windows) & 1) {
			rc = bad(c, path, keys[i], "",
			         windows ? "only for linux" : "only for windows");
			continue;
		}
		if (!(v->type & accepts[r->type])) {
			rc = bad(c, path, keys[i], "expected ", wrong_type[r->type]);
			continue;
		}
		switch (r->type) {
		case T_BOOL:
			*(int *)field = v->type == cJSON_True;
			break;
		case T_GEN:
			rc = read_generation(c, v, path, out);
			break;
		case T_OS:
			rc = read_object(c, v, keys[i], S_OS, field);
			break;
		case T_NICS:
			cJSON_ArrayForEach(e, v)
			{
				struct ib_nic *nic = new_nic(out);

				rc = nic ? read_object(c, e,
				                       ib_json_index(sub, sizeof sub, keys[i], n++),
				                       S_NIC, nic)
				         : ib_oom(c->err);
				if (rc)
					break;
			}
			break;
		default:
			k = check(v->valuestring, r->check);
			if (k < 0)
				rc = bad(c, path, keys[i], "expected ", checks[r->check].what);
			else if (r->type == T_LINK)
				*(enum ib_link_layer *)field = (enum ib_link_layer)k;
			else if (r->type == T_HEX4)
				memcpy(field, v->valuestring, 5);
			else if (!(*(char **)field = strdup(v->valuestring)))
				rc = ib_oom(c->err);
			if (r->check == C_FAMILY)
				windows = k == 0;
		}
	}
	return rc;
}

/* The facts of a parsed document (or rc, when parsing failed); frees root. */
static int facts_of(cJSON *root, int rc, const char *source, struct ib_facts **out,
                    struct ib_err *err)
{
	struct ctx c = {source, err};
	struct ib_facts *f = NULL;

	*out = NULL;
	if (!rc && !(f = calloc(1, sizeof *f)))
		rc = ib_oom(err);
	if (!rc)
		rc = read_object(&c, root, "", S_ROOT, f);
	if (!rc) {
		*out = f;
		f = NULL;
	}
	ib_facts_free(f);
	cJSON_Delete(root);
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

/* Adds the members of schema from in to o; -1 when out of memory. */
static int write_object(cJSON *o, int schema, const void *in)
{
	const char *const *keys = schemas[schema].keys;

	for (size_t i = 0; keys[i]; i++) {
		const struct row *r = &schemas[schema].rows[i];
		const char *field = (const char *)in + r->off, *s = NULL;
		cJSON *v;

		if (r->type == T_STR || r->type == T_GEN)
			s = *(char *const *)field;
		else if (r->type == T_HEX4)
			s = field[0] ? field : NULL;
		else if (r->type == T_LINK)
			s = ib_link_layer_name(*(const enum ib_link_layer *)field);
		if (r->type == T_OS)
			v = cJSON_CreateObject();
		else if (r->type == T_NICS)
			v = cJSON_CreateArray();
		else if (r->type == T_BOOL)
			v = cJSON_CreateBool(*(const int *)field);
		else if (s)
			v = cJSON_CreateString(s);
		else if (r->type == T_GEN && !cJSON_AddNullToObject(o, keys[i]))
			return -1;
		else
			continue; /* a null generation added, or an absent optional string */
		if (!cJSON_AddItemToObject(o, keys[i], v)) {
			cJSON_Delete(v);
			return -1;
		}
		if (r->type == T_OS && write_object(v, S_OS, field))
			return -1;
		for (size_t j = 0; r->type == T_NICS && j < ((const struct ib_facts *)in)->n_nics;
		     j++) {
			cJSON *e = cJSON_CreateObject();

			if (!e || !cJSON_AddItemToArray(v, e) ||
			    write_object(e, S_NIC, &((const struct ib_facts *)in)->nics[j]))
				return -1;
		}
	}
	return 0;
}

int ib_facts_to_json(const struct ib_facts *f, char **json, struct ib_err *err)
{
	cJSON *root = cJSON_CreateObject();
	int rc = 0;

	*json = NULL;
	if (!root || write_object(root, S_ROOT, f) || !(*json = cJSON_Print(root)))
		rc = ib_oom(err);
	cJSON_Delete(root);
	return rc;
}
