/*
 * catalog.h - what is known about Azure InfiniBand VM sizes and the OSes the
 * extension supports (manifests/catalog.json, docs/catalog.md).
 *
 * The shipped catalog is compiled into the installer; a file can replace it.
 * Parsing is strict like every other input: unknown, missing, duplicate or
 * ill-typed keys, unknown generations and duplicate size names are errors
 * naming the file and key. A catalog owns its strings (generations are the
 * static strings of facts.h); free it with ib_catalog_free.
 */
#ifndef IBDRV_CATALOG_H
#define IBDRV_CATALOG_H

#include "err.h"

#include <stddef.h>

#define IB_CATALOG_FORMAT 1
#define IB_CATALOG_MAX_BYTES (1024 * 1024)

struct ib_size {
	char *name;             /* "Standard_HB120rs_v2" */
	char *ib_rate;          /* "FDR", "EDR", "HDR", "NDR", ... */
	const char *generation; /* "CX6"; NULL when not confirmed */
	int sriov;              /* 1: OFED family driver on a VF; 0: Network Direct over VMBus */
	char *source;           /* where the row comes from, with "inferred"/"unconfirmed" marks */
};

/* One OS release (or a few builds of one) and the NIC generations supported on it. */
struct ib_os_support {
	char *name;            /* "Windows Server 2019" */
	char *family;          /* "windows" or "linux" */
	char *product;         /* windows: "server" or "workstation"; else NULL */
	char *id;              /* linux: os-release ID; else NULL */
	const char **versions; /* dotted prefixes: "10.0.17763" matches "10.0.17763.5329" (owned) */
	size_t n_versions;
	const char **nics; /* generations with an OFED-family driver (SR-IOV sizes) */
	size_t n_nics;
	int nd; /* Network Direct drivers for non-SR-IOV sizes */
	char *source;
};

struct ib_catalog {
	struct ib_size *sizes;
	size_t n_sizes;
	struct ib_os_support *os;
	size_t n_os;
};

int ib_catalog_parse(const char *json, size_t len, const char *source, struct ib_catalog **out,
                     struct ib_err *err);
int ib_catalog_load(const char *path, struct ib_catalog **out, struct ib_err *err);
/* The catalog compiled in from manifests/catalog.json. */
int ib_catalog_builtin(struct ib_catalog **out, struct ib_err *err);
/* path ? ib_catalog_load(path) : ib_catalog_builtin(). */
int ib_catalog_open(const char *path, struct ib_catalog **out, struct ib_err *err);
void ib_catalog_free(struct ib_catalog *c);

/* The row of a VM size, matched case-insensitively with or without "Standard_"; or NULL. */
const struct ib_size *ib_catalog_size(const struct ib_catalog *c, const char *vm_size);

/* Non-zero when dotted version starts with the whole components of prefix. */
int ib_version_has_prefix(const char *version, const char *prefix);

/* Non-zero when an OS support row applies to (family, product, id, version). */
int ib_os_support_matches(const struct ib_os_support *s, const char *family, const char *product,
                          const char *id, const char *version);

#endif
