/* ibdrv-install detect: prints the facts of this VM (or of a facts file). */
#include "catalog.h"
#include "cli.h"
#include "commands.h"
#include "detect.h"
#include "facts.h"
#include "imds.h"
#include "log.h"
#include "select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
        "usage: ibdrv-install detect [OPTIONS]\n"
        "  --json             print the facts file (docs/facts.md)\n"
        "  --facts FILE       read the facts from FILE (or $" IB_FACTS_ENV ")\n"
        "  --catalog FILE     size and OS catalog to use\n"
        "  --root DIR         where the system files are (default /)\n"
        "  --sysfs-root DIR   default <root>/sys\n"
        "  --os-release FILE  default <root>/etc/os-release, else <root>/usr/lib/os-release\n"
        "  --kvp-pool FILE    default <root>/var/lib/hyperv/.kvp_pool_0\n"
        "  --imds-url URL     metadata service (default " IB_IMDS_DEFAULT_URL ")\n"
        "  --no-imds          do not ask it: the VM size stays unknown\n"
        "  --verbose          log what is read"; /* puts ends the line */

/* Prints fmt with s when s is set. */
static void put(const char *fmt, const char *s)
{
	if (s)
		printf(fmt, s);
}

static void print_human(const struct ib_facts *f, const struct ib_catalog *cat)
{
	const struct ib_size *row = ib_catalog_size(cat, f->vm_size);
	struct ib_selection sel;

	put("VM size:        %s", f->vm_size);
	if (row)
		printf(" (catalog: %s InfiniBand, %s%s)", row->ib_rate,
		       row->generation ? row->generation : "NIC unconfirmed",
		       row->sriov ? ", SR-IOV" : ", not SR-IOV: Network Direct");
	else if (strcmp(f->vm_size, IB_VM_SIZE_UNKNOWN))
		printf(" (not in the catalog)");
	put("\nOS:             %s", f->os.family);
	put(" %s", f->os.product);
	put(" %s", f->os.id);
	put(" %s", f->os.version ? f->os.version : "(no version)");
	put(" \"%s\"", f->os.pretty_name);
	put("\nND over VMBus:  %s", f->nd_over_vmbus ? "yes" : "no");
	put(" (NdDriverVersion %s)", f->nd_driver_version);
	printf("\nMellanox PCI functions:%s\n", f->n_nics ? "" : " none");
	for (size_t i = 0; i < f->n_nics; i++) {
		const struct ib_nic *n = &f->nics[i];

		printf("  %-14s %s:%s  %-7s %s  %-10s %s%s\n",
		       n->pci_address ? n->pci_address : "?", n->vendor, n->device,
		       n->generation ? n->generation : "?", n->virtual_function ? "VF" : "PF",
		       ib_link_layer_name(n->link_layer), n->ib_device ? n->ib_device : "-",
		       ib_nic_is_infiniband(n) ? "" : "  (not InfiniBand: ignored)");
	}
	ib_select(f, cat, NULL, &sel);
	printf("Decision:       ");
	if (sel.code != IB_SELECT_OK)
		printf("not supported (%s): ", ib_select_code_name(sel.code));
	puts(sel.reason);
	put("Warning:        %s\n", sel.warning[0] ? sel.warning : NULL);
}

int cmd_detect(int argc, char **argv)
{
	struct ib_facts *facts = NULL;
	struct ib_catalog *cat = NULL;
	struct ib_cli cli;
	struct ib_err err;
	char *json = NULL;
	int rc;

	if (ib_cli_parse(IB_CLI_DETECT, argc, argv, &cli))
		return IB_EXT_UNSUPPORTED;
	if (cli.help) {
		puts(usage);
		return IB_EXT_SUCCESS;
	}
	if (cli.verbose)
		ib_log_set_level(IB_LOG_DEBUG);
	rc = ib_catalog_open(cli.catalog, &cat, &err);
	if (!rc)
		rc = ib_facts_obtain(cli.facts,
		                     &(struct ib_detect_opts){cli.root, cli.sysfs_root,
		                                              cli.os_release, cli.kvp_pool,
		                                              cli.imds_url, cli.no_imds},
		                     &facts, &err);
	if (!rc && cli.json && !(rc = ib_facts_to_json(facts, &json, &err)))
		puts(json);
	else if (!rc)
		print_human(facts, cat);
	if (!rc && fflush(stdout) != 0)
		rc = ib_fail(&err, IB_EIO, "cannot write to standard output");
	if (rc)
		ib_error("%s", err.msg);
	free(json);
	ib_facts_free(facts);
	ib_catalog_free(cat);
	return ib_ext_code_from_err(rc);
}
