/*
 * manifest.h - the bundle manifest model, read from two JSON forms.
 *
 * The input manifest (docs/manifest.md) is what release engineers write: it
 * names payload files relative to the manifest's folder. The resolved manifest
 * is the first entry of a bundle (docs/bundle-format.md): the same drivers,
 * with every file's size, mode and BLAKE2b-256 added and no source paths.
 * Both parsers are strict: unknown or missing keys, wrong types, duplicate
 * keys, duplicate driver ids, duplicate file paths and unsafe paths are
 * errors naming the file and the key ("bundle.json: drivers[2].install.argv:
 * expected an array of strings").
 * A manifest owns everything it points to; free it with ib_manifest_free.
 */
#ifndef IBDRV_MANIFEST_H
#define IBDRV_MANIFEST_H

#include "err.h"
#include "hash.h"

#include <stddef.h>
#include <stdint.h>

#define IB_MANIFEST_FORMAT 1
#define IB_MANIFEST_ENTRY "manifest.json"
/* Both forms are refused above this size (readers can cap before reading). */
#define IB_MANIFEST_MAX_BYTES (1024 * 1024)
/* Inside the bundle a driver's file "x/y" is stored as "drivers/<id>/x/y". */
#define IB_DRIVER_PREFIX "drivers/"

/* One supported OS; a NULL field matches anything. */
struct ib_os_match {
	char *family;  /* "windows" or "linux" */
	char *product; /* windows: "server" or "workstation" */
	char *id;      /* linux: os-release ID, e.g. "ubuntu", "rhel" */
	char *version; /* dotted prefix: "10.0.17763" matches "10.0.17763.5329" */
};

struct ib_install {
	char **argv; /* argv[argc] == NULL */
	size_t argc;
	unsigned timeout_seconds;
	int *success_codes;
	size_t n_success;
	int *reboot_codes;
	size_t n_reboot;
};

struct ib_file {
	char *path;   /* relative to the driver, safe (ib_path_is_safe_relative) */
	char *source; /* input manifest only: where the payload is on disk; else NULL */
	uint64_t size;
	unsigned mode; /* 0644 or 0755 */
	unsigned char blake2b[IB_HASH_FILE_BYTES];
};

struct ib_driver {
	char *id;       /* [a-z0-9][a-z0-9._-]*, unique in the bundle */
	char *platform; /* "windows" or "linux" */
	char *kind;     /* "nd", "winof", "winof2", "mlnx-ofed", "rdma-core", ... */
	char *version;
	char *description; /* optional, may be NULL */
	struct ib_os_match *os;
	size_t n_os;
	char **nics; /* "CX3-Pro", "CX4", "CX5", "CX6", "CX7"; empty for ND drivers */
	size_t n_nics;
	int sriov; /* 1: for SR-IOV sizes (OFED family), 0: non-SR-IOV (ND) */
	struct ib_install install;
	struct ib_file *files; /* sorted by path */
	size_t n_files;
};

struct ib_manifest {
	int format;
	char *name;
	uint64_t sequence;         /* anti-rollback: installers refuse a lower one */
	uint64_t created;          /* SOURCE_DATE_EPOCH of the pack, resolved form only */
	struct ib_driver *drivers; /* sorted by id */
	size_t n_drivers;
};

/* Reads an input manifest; file sources are resolved against its folder, sizes/hashes unset. */
int ib_manifest_load_input(const char *path, struct ib_manifest **out, struct ib_err *err);

/* Parses resolved-manifest bytes read from a bundle; source names it in errors. */
int ib_manifest_parse_resolved(const char *json, size_t len, const char *source,
                               struct ib_manifest **out, struct ib_err *err);

/*
 * Deterministic JSON of the resolved form (fixed key order, sorted drivers and
 * files, "\n"-terminated). Refuses (IB_EINPUT) a manifest that
 * ib_manifest_parse_resolved would refuse. *json is malloc'd, NUL-terminated,
 * owned by the caller; *len excludes the NUL.
 */
int ib_manifest_serialize(const struct ib_manifest *m, char **json, size_t *len,
                          struct ib_err *err);

/* The driver with this id, or NULL. */
const struct ib_driver *ib_manifest_driver(const struct ib_manifest *m, const char *id);

/* "drivers/<id>/<path>" (malloc'd), the name of a file inside the bundle. */
char *ib_manifest_entry_name(const struct ib_driver *d, const struct ib_file *f);

void ib_manifest_free(struct ib_manifest *m);

#endif
