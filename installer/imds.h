/*
 * imds.h - the VM size from the Azure Instance Metadata Service.
 *
 * One GET of <base>metadata/instance/compute?api-version=2021-02-01 with the
 * "Metadata: true" header, straight to the service (proxies disabled, as the
 * service refuses proxied requests), plain http only, no redirects, a 2 s
 * connect and 5 s total deadline, and at most 64 KiB of answer.
 */
#ifndef IBDRV_IMDS_H
#define IBDRV_IMDS_H

#include "err.h"

#include <stddef.h>

#define IB_IMDS_DEFAULT_URL "http://169.254.169.254/"
#define IB_IMDS_COMPUTE_PATH "metadata/instance/compute?api-version=2021-02-01"
#define IB_IMDS_MAX_BYTES (64 * 1024)
#define IB_IMDS_CONNECT_TIMEOUT_MS 2000
#define IB_IMDS_TIMEOUT_MS 5000

/* Asks the service at base_url; *vm_size is malloc'd. Errors say why (IB_ENET, IB_ETIMEOUT,
 * IB_EINPUT). */
int ib_imds_vm_size(const char *base_url, char **vm_size, struct ib_err *err);

/* The vmSize field of a compute document; source names it in errors. */
int ib_imds_parse_vm_size(const char *json, size_t len, const char *source, char **vm_size,
                          struct ib_err *err);

#endif
