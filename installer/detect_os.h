/*
 * detect_os.h - the OS-specific half of detection.
 *
 * detect_posix.c implements these for Linux (sysfs, os-release, the Hyper-V
 * KVP pool); detect_win32.c will do the same for Windows. Each fills its part
 * of f and returns 0 or a negative IB_E* code; something merely absent (no
 * PCI bus, no KVP pool) is not an error. Options a platform has no use for
 * are ignored.
 */
#ifndef IBDRV_DETECT_OS_H
#define IBDRV_DETECT_OS_H

#include "detect.h"

/* f->os: family, product or id, version, pretty name. */
int ib_detect_os(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err);

/* f->nics: every Mellanox PCI function with its link layer, sorted by PCI address. */
int ib_detect_nics(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err);

/* f->nd_over_vmbus and f->nd_driver_version. */
int ib_detect_nd(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err);

#endif
