/*
 * facts.h - what the installer knows about the machine it runs on.
 *
 * The facts are the VM size (from the Azure metadata service, or "unknown"),
 * the OS, the Mellanox PCI functions with their ConnectX generation and link
 * layer, and whether the host offers Network Direct over VMBus. Detection
 * (detect.h) produces them; `detect --json` prints them; a facts file
 * (docs/facts.md) can stand in for detection. The parser is strict: unknown,
 * missing, duplicate or ill-typed keys are errors naming the file and key.
 * A struct ib_facts owns all its strings; free it with ib_facts_free. The
 * generation pointers are static strings from this module, never freed.
 */
#ifndef IBDRV_FACTS_H
#define IBDRV_FACTS_H

#include "err.h"

#include <stddef.h>

#define IB_VM_SIZE_UNKNOWN "unknown"
/* What a bad VM size is told (after "expected "). */
#define IB_VM_SIZE_WANTED "an Azure size name such as \"Standard_HB120rs_v2\" or \"unknown\""
#define IB_PCI_VENDOR_MELLANOX "15b3"
#define IB_PCI_CLASS_INFINIBAND "0207"
#define IB_PCI_CLASS_ETHERNET "0200"
/* Largest facts file accepted. */
#define IB_FACTS_MAX_BYTES (1024 * 1024)

enum ib_link_layer { IB_LINK_UNKNOWN = 0, IB_LINK_INFINIBAND, IB_LINK_ETHERNET };

struct ib_nic {
	char vendor[5];         /* 4 lower-case hex digits, "15b3" */
	char device[5];         /* 4 lower-case hex digits, "101c" */
	char pci_class[5];      /* class and subclass, "0207"; "" when not known */
	const char *generation; /* "CX3-Pro", "CX4", ... (static); NULL when ambiguous or unknown */
	int virtual_function;
	enum ib_link_layer link_layer;
	char *pci_address; /* "0101:00:00.0", or NULL */
	char *ib_device;   /* RDMA device name, "mlx5_ib0", or NULL */
};

struct ib_os {
	char *family;      /* "windows" or "linux" */
	char *product;     /* windows only: "server" or "workstation"; else NULL */
	char *id;          /* linux only: os-release ID ("ubuntu", "rhel"); else NULL */
	char *version;     /* windows "10.0.17763"; linux VERSION_ID, NULL when the OS has none */
	char *pretty_name; /* for people, or NULL */
};

struct ib_facts {
	char *vm_size; /* "Standard_HB120rs_v2" or "unknown" */
	struct ib_os os;
	int nd_over_vmbus;       /* the host announces Network Direct (non-SR-IOV sizes) */
	char *nd_driver_version; /* what it announced, or NULL */
	struct ib_nic *nics;
	size_t n_nics;
};

/* An empty facts object: vm_size "unknown", no OS fields, no NICs. NULL when out of memory. */
struct ib_facts *ib_facts_new(void);
void ib_facts_free(struct ib_facts *f);

/* Appends a copy of nic (its strings are duplicated). Out of memory, f may keep the NIC
 * without some of its strings: the caller then frees f. */
int ib_facts_add_nic(struct ib_facts *f, const struct ib_nic *nic, struct ib_err *err);

/* Parses a facts document; source names it in error messages. */
int ib_facts_parse(const char *json, size_t len, const char *source, struct ib_facts **out,
                   struct ib_err *err);
/* Reads and parses a facts file. */
int ib_facts_load(const char *path, struct ib_facts **out, struct ib_err *err);

/* Pretty JSON with a fixed key order, without a final newline; *json is malloc'd. */
int ib_facts_to_json(const struct ib_facts *f, char **json, struct ib_err *err);

/*
 * Generation of a PCI id per the ConnectX table (docs/facts.md): the static
 * string, or NULL when the id is not a known ConnectX function or is shared by
 * several generations (15b3:101e, the generic mlx5 VF).
 */
const char *ib_pci_generation(const char *vendor, const char *device);
/* Non-zero when the id is a known ConnectX virtual function id. */
int ib_pci_is_virtual_function(const char *vendor, const char *device);
/* "ConnectX-6" for "CX6", or NULL for a string that is not a generation. */
const char *ib_generation_long_name(const char *generation);
/* The static string equal to s ("CX6"), or NULL when s is not a generation. */
const char *ib_generation_canonical(const char *s);

/* The OS families and Windows products a facts file or the catalog may name. */
extern const char *const ib_os_families[2];
extern const char *const ib_os_products[2];

struct ib_json_ctx;
struct cJSON;
/*
 * The generation v names (a static string) into *out, or NULL for null where null_ok; else
 * "expected one of CX3, ..." at c's path.
 */
int ib_generation_read(struct ib_json_ctx *c, const struct cJSON *v, int null_ok, const char **out);

/* Checks of single values, as the parser applies them (non-zero when valid). */
int ib_valid_os_id(const char *s);       /* os-release ID: a-z, 0-9, '.', '_', '-' */
int ib_valid_version(const char *s);     /* "10.0.17763", "22.04": A-Z, a-z, 0-9, '.', '_', '-' */
int ib_valid_text(const char *s);        /* 1 to 256 bytes, no control characters */
int ib_valid_vm_size(const char *s);     /* "Standard_HB120rs_v2": A-Z, a-z, 0-9, '_', '-' */
int ib_valid_pci_address(const char *s); /* "0101:00:00.0": hex digits, ':', '.' */
int ib_valid_ib_device(const char *s);   /* "mlx5_ib0": A-Z, a-z, 0-9, '.', '_', '-' */

/* "infiniband", "ethernet" or "unknown". */
const char *ib_link_layer_name(enum ib_link_layer l);

/*
 * Non-zero for a Mellanox function that carries InfiniBand: link layer
 * InfiniBand, or unknown (no RDMA driver bound yet) with PCI class 0207.
 * Ethernet functions (accelerated networking) are never InfiniBand.
 */
int ib_nic_is_infiniband(const struct ib_nic *nic);

#endif
