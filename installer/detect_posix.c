/*
 * Linux detection: reads sysfs, os-release and the Hyper-V KVP pool through
 * the platform layer and hands the bytes to the parsers of sysparse.h.
 */
#include "detect_os.h"

#include "log.h"
#include "path.h"
#include "platform.h"
#include "sysparse.h"
#include "readfile.h"

#include <stdlib.h>
#include <string.h>

#define SYSFS_ATTR_MAX 4096
#define OS_RELEASE_MAX (64 * 1024)
#define KVP_POOL_MAX (8 * 1024 * 1024)

/* <root>/rel, or /rel without a root; NULL when out of memory. */
static char *under_root(const struct ib_detect_opts *opts, const char *rel)
{
	return ib_path_join(opts->root && opts->root[0] ? opts->root : "/", rel);
}

static char *join3(const char *a, const char *b, const char *c)
{
	char *ab = ib_path_join(a, b), *abc;

	if (!ab)
		return NULL;
	abc = ib_path_join(ab, c);
	free(ab);
	return abc;
}

static int exists(const char *path, struct ib_err *err, int *yes)
{
	enum plat_kind kind;
	int rc = plat_lstat(path, &kind, NULL, err);

	*yes = rc == 0 && kind != PLAT_MISSING;
	return rc;
}

static int os_release_path(const struct ib_detect_opts *opts, char **path, struct ib_err *err)
{
	enum plat_kind kind;
	char *etc;
	int rc;

	if (opts->os_release) {
		*path = strdup(opts->os_release);
		return *path ? 0 : ib_oom(err);
	}
	etc = under_root(opts, "etc/os-release");
	if (!etc)
		return ib_oom(err);
	rc = plat_lstat(etc, &kind, NULL, err);
	if (rc) {
		free(etc);
		return rc;
	}
	/*
	 * os-release(5): read /etc/os-release, else /usr/lib/os-release. Distributions
	 * link the first to the second; the platform layer reads no symlinks, so a
	 * link means the file under /usr/lib.
	 */
	if (kind == PLAT_REGULAR) {
		*path = etc;
		return 0;
	}
	free(etc);
	*path = under_root(opts, "usr/lib/os-release");
	return *path ? 0 : ib_oom(err);
}

static int os_field(const char *text, size_t len, const char *path, const char *key,
                    int (*valid)(const char *), char **out, struct ib_err *err)
{
	int rc = ib_os_release_get(text, len, key, out, err);

	if (rc || !*out || valid(*out))
		return rc;
	rc = ib_fail(err, IB_EINPUT, "%s: %s: unexpected value '%s'", path, key, *out);
	free(*out);
	*out = NULL;
	return rc;
}

int ib_detect_os(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err)
{
	char *path = NULL, *text = NULL, *pretty = NULL;
	size_t len;
	int rc;

	rc = os_release_path(opts, &path, err);
	if (!rc)
		rc = ib_read_file(path, OS_RELEASE_MAX, &text, &len, err);
	if (rc) {
		ib_err_prefix(err, "cannot tell the OS");
		goto out;
	}
	f->os.family = strdup("linux");
	if (!f->os.family) {
		rc = ib_oom(err);
		goto out;
	}
	rc = os_field(text, len, path, "ID", ib_valid_os_id, &f->os.id, err);
	if (!rc)
		rc = os_field(text, len, path, "VERSION_ID", ib_valid_version, &f->os.version, err);
	if (!rc)
		rc = ib_os_release_get(text, len, "PRETTY_NAME", &pretty, err);
	if (rc)
		goto out;
	/* os-release(5): ID defaults to "linux". */
	if (!f->os.id && !(f->os.id = strdup("linux"))) {
		rc = ib_oom(err);
		goto out;
	}
	if (pretty && ib_valid_text(pretty)) {
		f->os.pretty_name = pretty;
		pretty = NULL;
	}
	ib_debug("OS from %s: %s %s", path, f->os.id,
	         f->os.version ? f->os.version : "(no version)");
out:
	free(pretty);
	free(text);
	free(path);
	return rc;
}

/* Reads a sysfs attribute; *text is NULL when the file does not exist. */
static int read_attr(const char *dir, const char *name, char **text, struct ib_err *err)
{
	char *path = ib_path_join(dir, name);
	size_t len;
	int rc, present;

	*text = NULL;
	if (!path)
		return ib_oom(err);
	rc = exists(path, err, &present);
	if (!rc && present)
		rc = ib_read_file(path, SYSFS_ATTR_MAX, text, &len, err);
	free(path);
	return rc;
}

/* A hex attribute ("0x15b3") into out; 1 when read, 0 when absent. */
static int read_hex(const char *dir, const char *name, char *out, size_t out_size,
                    struct ib_err *err)
{
	char *text = NULL;
	int rc = read_attr(dir, name, &text, err);

	if (rc || !text)
		return rc;
	if (ib_sysfs_hex(text, out, out_size))
		rc = ib_fail(err, IB_EINPUT, "%s/%s: not a hex number: %.40s", dir, name, text);
	else
		rc = 1;
	free(text);
	return rc;
}

static int read_pci_function(const char *devices, const char *name, struct ib_facts *f,
                             struct ib_err *err)
{
	char *dir = ib_path_join(devices, name), *physfn = NULL;
	char class6[7] = "";
	struct ib_nic nic;
	int rc, has_physfn = 0;

	memset(&nic, 0, sizeof nic);
	if (!dir)
		return ib_oom(err);
	rc = read_hex(dir, "vendor", nic.vendor, sizeof nic.vendor, err);
	if (rc <= 0 || strcmp(nic.vendor, IB_PCI_VENDOR_MELLANOX))
		goto out;
	rc = read_hex(dir, "device", nic.device, sizeof nic.device, err);
	if (rc == 0)
		rc = ib_fail(err, IB_EINPUT, "%s/device: missing", dir);
	if (rc < 0)
		goto out;
	rc = read_hex(dir, "class", class6, sizeof class6, err);
	if (rc < 0)
		goto out;
	memcpy(nic.pci_class, class6, 4);
	nic.pci_class[4] = '\0';
	/* A VF whose PF is in the same OS links to it; on Azure the PF stays with the host. */
	physfn = ib_path_join(dir, "physfn");
	if (!physfn) {
		rc = ib_oom(err);
		goto out;
	}
	rc = exists(physfn, err, &has_physfn);
	if (rc)
		goto out;
	nic.virtual_function = has_physfn || ib_pci_is_virtual_function(nic.vendor, nic.device);
	nic.generation = ib_pci_generation(nic.vendor, nic.device);
	nic.link_layer = IB_LINK_UNKNOWN;
	nic.pci_address = ib_valid_pci_address(name) ? (char *)name : NULL;
	rc = ib_facts_add_nic(f, &nic, err);
	if (!rc)
		ib_debug("Mellanox PCI function %s: %s:%s class %s%s", name, nic.vendor, nic.device,
		         nic.pci_class[0] ? nic.pci_class : "?",
		         nic.virtual_function ? " (VF)" : "");
out:
	free(physfn);
	free(dir);
	return rc < 0 ? rc : 0;
}

static struct ib_nic *nic_at(struct ib_facts *f, const char *pci_address)
{
	for (size_t i = 0; i < f->n_nics; i++)
		if (f->nics[i].pci_address && !strcmp(f->nics[i].pci_address, pci_address))
			return &f->nics[i];
	return NULL;
}

/* The link layer of an RDMA device: InfiniBand when any port is, else Ethernet when any is. */
static int read_link_layer(const char *ibdir, enum ib_link_layer *link, struct ib_err *err)
{
	char *ports = ib_path_join(ibdir, "ports");
	char **names = NULL;
	size_t count = 0;
	int rc, present;

	*link = IB_LINK_UNKNOWN;
	if (!ports)
		return ib_oom(err);
	rc = exists(ports, err, &present);
	if (rc || !present)
		goto out;
	rc = plat_list_dir(ports, &names, &count, err);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		char *port = ib_path_join(ports, names[i]), *text = NULL, *line = NULL;

		if (!port) {
			rc = ib_oom(err);
			break;
		}
		rc = read_attr(port, "link_layer", &text, err);
		if (!rc && text && !(line = ib_sysfs_line(text)))
			rc = ib_oom(err);
		if (line && !strcmp(line, "InfiniBand"))
			*link = IB_LINK_INFINIBAND;
		else if (line && !strcmp(line, "Ethernet") && *link == IB_LINK_UNKNOWN)
			*link = IB_LINK_ETHERNET;
		free(line);
		free(text);
		free(port);
	}
out:
	plat_free_names(names, count);
	free(ports);
	return rc;
}

/*
 * Each RDMA device under class/infiniband names its PCI function in
 * device/uevent (PCI_SLOT_NAME). Reading that file works whether "device" is
 * the symlink of a real sysfs or a plain folder of a test tree.
 */
static int read_rdma_device(const char *classdir, const char *name, struct ib_facts *f,
                            struct ib_err *err)
{
	char *ibdir = ib_path_join(classdir, name), *devdir = NULL, *uevent = NULL, *slot = NULL;
	enum ib_link_layer link;
	struct ib_nic *nic;
	int rc;

	if (!ibdir || !(devdir = ib_path_join(ibdir, "device"))) {
		rc = ib_oom(err);
		goto out;
	}
	rc = read_attr(devdir, "uevent", &uevent, err);
	if (rc)
		goto out;
	slot = uevent ? ib_uevent_get(uevent, "PCI_SLOT_NAME") : NULL;
	if (!slot) {
		ib_debug("%s: no PCI_SLOT_NAME in device/uevent: not a PCI RDMA device", ibdir);
		goto out;
	}
	nic = nic_at(f, slot);
	if (!nic)
		goto out;
	rc = read_link_layer(ibdir, &link, err);
	if (rc)
		goto out;
	ib_debug("RDMA device %s on %s: link layer %s", name, slot, ib_link_layer_name(link));
	if (nic->link_layer != IB_LINK_INFINIBAND)
		nic->link_layer = link;
	if (!nic->ib_device && ib_valid_ib_device(name) && !(nic->ib_device = strdup(name)))
		rc = ib_oom(err);
out:
	free(slot);
	free(uevent);
	free(devdir);
	free(ibdir);
	return rc;
}

/* Calls fn for each entry of folder dir; a missing folder has none. */
static int for_each_entry(const char *dir, struct ib_facts *f, struct ib_err *err,
                          int (*fn)(const char *, const char *, struct ib_facts *, struct ib_err *))
{
	char **names = NULL;
	size_t count = 0;
	int rc, present;

	rc = exists(dir, err, &present);
	if (rc)
		return rc;
	if (!present) {
		ib_debug("%s: not there", dir);
		return 0;
	}
	rc = plat_list_dir(dir, &names, &count, err);
	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = fn(dir, names[i], f, err);
	plat_free_names(names, count);
	return rc;
}

int ib_detect_nics(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err)
{
	char *sysfs = opts->sysfs_root ? strdup(opts->sysfs_root) : under_root(opts, "sys");
	char *devices = NULL, *classdir = NULL;
	int rc, present;

	if (!sysfs)
		return ib_oom(err);
	rc = exists(sysfs, err, &present);
	if (!rc && !present)
		rc = ib_fail(err, IB_EINPUT, "%s: no such folder (sysfs)", sysfs);
	if (rc)
		goto out;
	devices = join3(sysfs, "bus/pci", "devices");
	classdir = join3(sysfs, "class", "infiniband");
	if (!devices || !classdir) {
		rc = ib_oom(err);
		goto out;
	}
	rc = for_each_entry(devices, f, err, read_pci_function);
	if (!rc && f->n_nics)
		rc = for_each_entry(classdir, f, err, read_rdma_device);
out:
	free(classdir);
	free(devices);
	free(sysfs);
	return rc;
}

int ib_detect_nd(const struct ib_detect_opts *opts, struct ib_facts *f, struct ib_err *err)
{
	char *path = opts->kvp_pool ? strdup(opts->kvp_pool)
	                            : under_root(opts, "var/lib/hyperv/.kvp_pool_0");
	char *data = NULL, *value = NULL;
	size_t len;
	int rc, present;

	if (!path)
		return ib_oom(err);
	rc = exists(path, err, &present);
	if (rc)
		goto out;
	if (!present) {
		ib_debug("%s: not there (no Hyper-V KVP daemon): no Network Direct over VMBus",
		         path);
		goto out;
	}
	rc = ib_read_file(path, KVP_POOL_MAX, &data, &len, err);
	if (rc)
		goto out;
	rc = ib_kvp_lookup((const unsigned char *)data, len, "NdDriverVersion", &value, err);
	if (rc < 0)
		goto out;
	f->nd_over_vmbus = rc == 1;
	rc = 0;
	if (f->nd_over_vmbus) {
		ib_info("the host offers Network Direct over VMBus (NdDriverVersion %s in %s)",
		        value ? value : "?", path);
		if (value && ib_valid_text(value)) {
			f->nd_driver_version = value;
			value = NULL;
		}
	}
out:
	free(value);
	free(data);
	free(path);
	return rc;
}
