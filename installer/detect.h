/*
 * detect.h - the facts of the machine the installer runs on.
 *
 * ib_detect asks the OS (detect_os.h, one implementation per OS) for the OS
 * release, the Mellanox PCI functions and Network Direct over VMBus, and the
 * Azure metadata service for the VM size. A metadata service that cannot be
 * reached gives vm_size "unknown" and a warning in the log saying why, never
 * an error: the NICs may still decide. The Linux file locations can be moved
 * for tests and offline inspection (docs/facts.md).
 */
#ifndef IBDRV_DETECT_H
#define IBDRV_DETECT_H

#include "err.h"
#include "facts.h"

#define IB_FACTS_ENV "IBDRV_FACTS"

struct ib_detect_opts {
	/* Prefix of every system file read (Linux): NULL or "" for the real ones. */
	const char *root;
	/* Each overrides one location; NULL takes it under root. */
	const char *sysfs_root; /* <root>/sys */
	const char *os_release; /* <root>/etc/os-release, else <root>/usr/lib/os-release */
	const char *kvp_pool;   /* <root>/var/lib/hyperv/.kvp_pool_0 */
	const char *imds_url;   /* NULL: IB_IMDS_DEFAULT_URL */
	int no_imds;            /* do not ask the metadata service: vm_size stays "unknown" */
};

/* Detects this machine; *out is freed with ib_facts_free. */
int ib_detect(const struct ib_detect_opts *opts, struct ib_facts **out, struct ib_err *err);

/*
 * The facts to act on: read from facts_path, else from the file named by the
 * environment variable IBDRV_FACTS (when set and not empty), else detected.
 */
int ib_facts_obtain(const char *facts_path, const struct ib_detect_opts *opts,
                    struct ib_facts **out, struct ib_err *err);

#endif
