/*
 * Linux detection: reads sysfs, os-release and the Hyper-V KVP pool through
 * the platform layer and hands the bytes to the parsers of sysparse.h.
 */
#include "detect_os.h"

#include "log.h"
#include "path.h"
#include "platform.h"
#include "readfile.h"
#include "sysparse.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SYSFS_ATTR_MAX 4096
#define OS_RELEASE_MAX (64 * 1024)
#define KVP_POOL_MAX (8 * 1024 * 1024)

/* The root folder of the system files read. */
static const char *root(const struct ib_detect_opts *opts)
{
	return opts->root && opts->root[0] ? opts->root : "/";
}

/*
 * given, else dir/name, into *path (malloc'd); then what it is (PLAT_MISSING, 0, when it does
 * not exist), or a negative IB_E* code.
 */
static int find(const char *given, const char *dir, const char *name, char **path,
                struct ib_err *err)
{
	enum plat_kind kind;
	int rc;

	*path = given ? strdup(given) : ib_path_join(dir, name);
	if (!*path)
		return ib_oom(err);
	rc = plat_lstat(*path, &kind, NULL, err);
	return rc ? rc : (int)kind;
}

static int os_release_path(const struct ib_detect_opts *opts, char **path, struct ib_err *err)
{
	int rc = find(opts->os_release, root(opts), "etc/os-release", path, err);

	/*
	 * os-release(5): read /etc/os-release, else /usr/lib/os-release. Distributions
	 * link the first to the second; the platform layer reads no symlinks, so a
	 * link means the file under /usr/lib.
	 */
	if (rc >= 0 && rc != PLAT_REGULAR && !opts->os_release) {
		free(*path);
		rc = find(NULL, root(opts), "usr/lib/os-release", path, err);
	}
	return rc < 0 ? rc : 0;
}

int ib_detect_os(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err)
{
	/* The os-release variables kept; a bad ID or VERSION_ID is an error, a bad name dropped. */
	static const struct {
		char key[12];
		unsigned char off;
		int (*valid)(const char *);
	} vars[] = {
	        {"ID", offsetof(struct ib_os, id), ib_valid_os_id},
	        {"VERSION_ID", offsetof(struct ib_os, version), ib_valid_version},
	        {"PRETTY_NAME", offsetof(struct ib_os, pretty_name), ib_valid_text},
	};
	char *path = NULL, *text = NULL;
	size_t len;
	int rc;

	rc = os_release_path(opts, &path, err);
	if (!rc)
		rc = ib_read_file(path, OS_RELEASE_MAX, &text, &len, err);
	if (rc) {
		ib_err_prefix(err, "cannot tell the OS");
		goto out;
	}
	for (size_t i = 0; !rc && i < sizeof vars / sizeof vars[0]; i++) {
		char **v = (char **)((char *)&f->os + vars[i].off);

		rc = ib_os_release_get(text, vars[i].key, v, err);
		if (rc || !*v || vars[i].valid(*v))
			continue;
		if (i < 2)
			rc = ib_fail(err, IB_EINPUT, "%s: %s: unexpected value '%s'", path,
			             vars[i].key, *v);
		free(*v);
		*v = NULL;
	}
	/* os-release(5): ID defaults to "linux". */
	if (!rc &&
	    (!(f->os.family = strdup("linux")) || (!f->os.id && !(f->os.id = strdup("linux")))))
		rc = ib_oom(err);
	if (!rc)
		ib_debug("OS from %s: %s %s", path, f->os.id,
		         f->os.version ? f->os.version : "(no version)");
out:
	free(text);
	free(path);
	return rc;
}

/* Reads the sysfs attribute dir/name; *text is NULL when the file does not exist. */
static int read_attr(const char *dir, const char *name, char **text, struct ib_err *err)
{
	char *path;
	size_t len;
	int rc = find(NULL, dir, name, &path, err);

	*text = NULL;
	if (rc > 0)
		rc = ib_read_file(path, SYSFS_ATTR_MAX, text, &len, err);
	free(path);
	return rc;
}

/* A hex attribute ("0x15b3") into out; 1 when read, 0 when absent. */
static int read_hex(const char *dir, const char *name, char *out, size_t out_size,
                    struct ib_err *err)
{
	char *text;
	int rc = read_attr(dir, name, &text, err);

	if (rc || !text)
		return rc;
	rc = ib_sysfs_hex(text, out, out_size)
	             ? ib_fail(err, IB_EINPUT, "%s/%s: not a hex number: %.40s", dir, name, text)
	             : 1;
	free(text);
	return rc;
}

/* Calls fn with the path and name of each entry of folder dir/rel; a missing folder has none. */
static int for_each_entry(const char *dir, const char *rel, void *ctx, struct ib_err *err,
                          int (*fn)(const char *, const char *, void *, struct ib_err *))
{
	char **names = NULL, *path, *entry;
	size_t count = 0;
	int rc = find(NULL, dir, rel, &path, err);

	if (rc == 0)
		ib_debug("%s: not there", path);
	if (rc > 0)
		rc = plat_list_dir(path, &names, &count, err);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		entry = ib_path_join(path, names[i]);
		rc = entry ? fn(entry, names[i], ctx, err) : ib_oom(err);
		free(entry);
	}
	plat_free_names(names, count);
	free(path);
	return rc;
}

static int read_pci_function(const char *dir, const char *name, void *facts, struct ib_err *err)
{
	char *physfn = NULL;
	char class6[7] = "";
	struct ib_nic nic;
	int rc;

	memset(&nic, 0, sizeof nic);
	rc = read_hex(dir, "vendor", nic.vendor, sizeof nic.vendor, err);
	if (rc <= 0 || strcmp(nic.vendor, IB_PCI_VENDOR_MELLANOX))
		goto out;
	rc = read_hex(dir, "device", nic.device, sizeof nic.device, err);
	if (rc == 0)
		rc = ib_fail(err, IB_EINPUT, "%s: %s: missing", dir, "device");
	if (rc > 0)
		rc = read_hex(dir, "class", class6, sizeof class6, err);
	memcpy(nic.pci_class, class6, 4);
	/* A VF whose PF is in the same OS links to it; on Azure the PF stays with the host. */
	if (rc >= 0)
		rc = find(NULL, dir, "physfn", &physfn, err);
	if (rc < 0)
		goto out;
	nic.virtual_function = rc || ib_pci_is_virtual_function(nic.vendor, nic.device);
	nic.generation = ib_pci_generation(nic.vendor, nic.device);
	nic.pci_address = ib_valid_pci_address(name) ? (char *)name : NULL;
	rc = ib_facts_add_nic(facts, &nic, err);
	if (!rc)
		ib_debug("PCI %s: %s:%s class %s%s", name, nic.vendor, nic.device,
		         nic.pci_class[0] ? nic.pci_class : "?",
		         nic.virtual_function ? " (VF)" : "");
out:
	free(physfn);
	return rc < 0 ? rc : 0;
}

/* One port of an RDMA device: InfiniBand when any port is, else Ethernet when any is. */
static int read_port(const char *port, const char *name, void *link, struct ib_err *err)
{
	char *text = NULL, *line;
	enum ib_link_layer *l = link;
	int rc = read_attr(port, "link_layer", &text, err);

	(void)name;
	line = text ? ib_sysfs_line(text) : "";
	if (!strcmp(line, "InfiniBand"))
		*l = IB_LINK_INFINIBAND;
	else if (!strcmp(line, "Ethernet") && *l == IB_LINK_UNKNOWN)
		*l = IB_LINK_ETHERNET;
	free(text);
	return rc;
}

/*
 * Each RDMA device under class/infiniband names its PCI function in
 * device/uevent (PCI_SLOT_NAME). Reading that file works whether "device" is
 * the symlink of a real sysfs or a plain folder of a test tree.
 */
static int read_rdma_device(const char *ibdir, const char *name, void *facts, struct ib_err *err)
{
	struct ib_facts *f = facts;
	char *uevent = NULL, *slot = NULL;
	enum ib_link_layer link = IB_LINK_UNKNOWN;
	struct ib_nic *nic = NULL;
	int rc = read_attr(ibdir, "device/uevent", &uevent, err);

	/* KEY=VALUE lines, as os-release has them (without quotes). */
	if (!rc && uevent)
		rc = ib_os_release_get(uevent, "PCI_SLOT_NAME", &slot, err);
	if (rc)
		goto out;
	if (!slot) {
		ib_debug("%s: not PCI (no PCI_SLOT_NAME)", ibdir);
		goto out;
	}
	for (size_t i = 0; i < f->n_nics; i++)
		if (f->nics[i].pci_address && !strcmp(f->nics[i].pci_address, slot))
			nic = &f->nics[i];
	if (!nic || (rc = for_each_entry(ibdir, "ports", &link, err, read_port)))
		goto out;
	ib_debug("RDMA %s on %s: %s", name, slot, ib_link_layer_name(link));
	if (nic->link_layer != IB_LINK_INFINIBAND)
		nic->link_layer = link;
	if (!nic->ib_device && ib_valid_ib_device(name) && !(nic->ib_device = strdup(name)))
		rc = ib_oom(err);
out:
	free(slot);
	free(uevent);
	return rc;
}

int ib_detect_nics(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err)
{
	char *sysfs;
	int rc = find(opts->sysfs_root, root(opts), "sys", &sysfs, err);

	if (rc == 0)
		rc = ib_fail(err, IB_EINPUT, "%s: no such folder (sysfs)", sysfs);
	if (rc > 0)
		rc = for_each_entry(sysfs, "bus/pci/devices", f, err, read_pci_function);
	if (!rc && f->n_nics)
		rc = for_each_entry(sysfs, "class/infiniband", f, err, read_rdma_device);
	free(sysfs);
	return rc;
}

int ib_detect_nd(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err)
{
	char *path, *data = NULL, *value = NULL;
	size_t len = 0;
	int rc = find(opts->kvp_pool, root(opts), "var/lib/hyperv/.kvp_pool_0", &path, err);

	if (rc == 0)
		ib_debug("%s: not there", path);
	if (rc > 0)
		rc = ib_read_file(path, KVP_POOL_MAX, &data, &len, err);
	if (!rc)
		rc = ib_kvp_lookup((const unsigned char *)data, len, "NdDriverVersion", &value,
		                   err);
	if (rc > 0) {
		f->nd_over_vmbus = 1;
		rc = 0;
		ib_info("ND over VMBus: NdDriverVersion %s in %s", value ? value : "?", path);
		if (value && ib_valid_text(value)) {
			f->nd_driver_version = value;
			value = NULL;
		}
	}
	free(value);
	free(data);
	free(path);
	return rc;
}
