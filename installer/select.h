/*
 * select.h - the "choose" stage: which driver of a bundle fits this VM.
 *
 * A pure function of the facts, the catalog and the manifest (no I/O). The
 * VM size's catalog row says SR-IOV or not and which ConnectX generation;
 * InfiniBand hardware seen on the PCI bus wins over the catalog when they
 * disagree (with a warning); Ethernet functions (accelerated networking) are
 * ignored. Non-SR-IOV sizes take kind "nd"; SR-IOV sizes take "winof"
 * (ConnectX-3 / 3 Pro) or "winof2" (ConnectX-4 and newer) on Windows,
 * "mlnx-ofed" (else "rdma-core") on Linux. The OS must support the
 * generation per the catalog, and the driver must match platform, kind,
 * SR-IOV, generation and one of its OS entries; the most specific OS entry
 * wins, and a tie between drivers is refused. The selection points into the
 * facts, catalog and manifest it was made from.
 */
#ifndef IBDRV_SELECT_H
#define IBDRV_SELECT_H

#include "catalog.h"
#include "err.h"
#include "facts.h"
#include "manifest.h"

enum ib_select_code {
	IB_SELECT_OK = 0,
	IB_SELECT_NOT_IB,          /* not an InfiniBand-capable size, no InfiniBand seen */
	IB_SELECT_UNKNOWN_NIC,     /* InfiniBand, but the ConnectX generation cannot be told */
	IB_SELECT_OS_UNSUPPORTED,  /* the OS is not in the catalog's support table */
	IB_SELECT_NIC_UNSUPPORTED, /* the OS is, but not for this generation (or for ND) */
	IB_SELECT_NO_DRIVER,       /* the bundle has no driver that fits */
	IB_SELECT_AMBIGUOUS        /* several drivers fit equally well */
};

struct ib_selection {
	enum ib_select_code code;
	/* The chosen driver; NULL unless code is OK and a manifest was given. */
	const struct ib_driver *driver;
	const struct ib_size *size;  /* catalog row of the VM size, or NULL */
	const char *kind;            /* "nd", "winof", "winof2", "mlnx-ofed"; NULL until decided */
	const char *generation;      /* NULL for ND or when not known */
	int sriov;                   /* valid once kind is set */
	int from_hardware;           /* SR-IOV/generation decided by the PCI bus or the KVP pool */
	char reason[IB_ERR_MSG_MAX]; /* one line: what was found and what was chosen or is needed */
	char warning[IB_ERR_MSG_MAX]; /* "" or one line: hardware and catalog disagree */
};

/*
 * Decides for facts. With manifest NULL it stops once the driver kind is
 * known (code OK, driver NULL, reason says what is needed).
 */
void ib_select(const struct ib_facts *facts, const struct ib_catalog *catalog,
               const struct ib_manifest *manifest, struct ib_selection *out);

/* "ok", "not InfiniBand", "unknown NIC generation", ... */
const char *ib_select_code_name(enum ib_select_code code);

#endif
