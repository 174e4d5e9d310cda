/* Linux detection on the fixture trees of tests/data, and its parsers. */
#include "check.h"
#include "detect.h"
#include "sysparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *src;

static void test_os_release(void)
{
	static const char text[] = "# comment\n"
	                           "NAME=\"Ubuntu\"\n"
	                           "  ID=ubuntu\n"
	                           "VERSION_ID=\"22.04\"\r\n"
	                           "PRETTY_NAME='It''s \"quoted\"'\n"
	                           "ESCAPED=\"a\\\"b\\\\c\\$d\\x\"\n"
	                           "ID_LIKE=debian\n"
	                           "EMPTY=\n";
	struct ib_err err;
	char *v = NULL;

	ib_err_clear(&err);
	CHECK(ib_os_release_get(text, "ID", &v, &err) == 0);
	CHECK_STR(v, "ubuntu");
	free(v);
	CHECK(ib_os_release_get(text, "VERSION_ID", &v, &err) == 0);
	CHECK_STR(v, "22.04");
	free(v);
	CHECK(ib_os_release_get(text, "PRETTY_NAME", &v, &err) == 0);
	CHECK_STR(v, "Its \"quoted\"");
	free(v);
	CHECK(ib_os_release_get(text, "ESCAPED", &v, &err) == 0);
	CHECK_STR(v, "a\"b\\c$d\\x");
	free(v);
	CHECK(ib_os_release_get(text, "EMPTY", &v, &err) == 0);
	CHECK_STR(v, "");
	free(v);
	/* "ID" must not match ID_LIKE, nor a missing key anything. */
	CHECK(ib_os_release_get(text, "VERSION", &v, &err) == 0);
	CHECK(v == NULL);
}

static void test_kvp(void)
{
	unsigned char pool[3 * IB_KVP_RECORD_BYTES + 100];
	struct ib_err err;
	char *v = NULL;

	ib_err_clear(&err);
	memset(pool, 0, sizeof pool);
	memcpy(pool, "NdDriverVersionX", 16);
	memcpy(pool + IB_KVP_KEY_BYTES, "wrong", 5);
	memcpy(pool + IB_KVP_RECORD_BYTES, "NdDriverVersion", 15);
	memcpy(pool + IB_KVP_RECORD_BYTES + IB_KVP_KEY_BYTES, "142.0", 5);
	memcpy(pool + 2 * IB_KVP_RECORD_BYTES, "Binary", 6);
	pool[2 * IB_KVP_RECORD_BYTES + IB_KVP_KEY_BYTES] = 0x01;
	/* The trailing 100 bytes are an incomplete record: ignored. */
	memcpy(pool + 3 * IB_KVP_RECORD_BYTES, "Partial", 7);

	CHECK(ib_kvp_lookup(pool, sizeof pool, "NdDriverVersion", &v, &err) == 1);
	CHECK_STR(v, "142.0");
	free(v);
	CHECK(ib_kvp_lookup(pool, sizeof pool, "Binary", &v, &err) == 1);
	CHECK(v == NULL);
	CHECK(ib_kvp_lookup(pool, sizeof pool, "Partial", &v, &err) == 0);
	CHECK(ib_kvp_lookup(pool, IB_KVP_RECORD_BYTES, "NdDriverVersion", &v, &err) == 0);
	CHECK(ib_kvp_lookup(pool, 0, "NdDriverVersion", &v, &err) == 0);
}

static void test_sysfs_values(void)
{
	char id[5], cls[7], line[] = "InfiniBand\nx\n";
	const char *uevent =
	        "DRIVER=mlx5_core\nPCI_SLOT_NAME_X=1\nPCI_SLOT_NAME=0101:00:00.0\nX=1\n";
	struct ib_err err;
	char *s;

	CHECK(ib_sysfs_hex("0x15b3\n", id, sizeof id) == 0);
	CHECK_STR(id, "15b3");
	CHECK(ib_sysfs_hex("0x101C", id, sizeof id) == 0);
	CHECK_STR(id, "101c");
	CHECK(ib_sysfs_hex("0x020700\n", cls, sizeof cls) == 0);
	CHECK_STR(cls, "020700");
	CHECK(ib_sysfs_hex("15b3\n", id, sizeof id) == -1);
	CHECK(ib_sysfs_hex("0x15b\n", id, sizeof id) == -1);
	CHECK(ib_sysfs_hex("0x15b33\n", id, sizeof id) == -1);
	CHECK_STR(ib_sysfs_line(line), "InfiniBand");
	CHECK(ib_os_release_get(uevent, "PCI_SLOT_NAME", &s, &err) == 0);
	CHECK_STR(s, "0101:00:00.0");
	free(s);
	CHECK(ib_os_release_get(line, "PCI_SLOT_NAME", &s, &err) == 0);
	CHECK(s == NULL);
}

static char *data(const char *rel)
{
	size_t n = strlen(src) + strlen(rel) + 16;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/tests/data/%s", src, rel);
	return p;
}

/* Detects a fixture machine (no metadata service); NULL on failure. */
static struct ib_facts *detect(const char *sysfs, const char *os_release, const char *kvp)
{
	struct ib_detect_opts opts;
	struct ib_facts *f = NULL;
	struct ib_err err;
	char *s = data(sysfs), *o = data(os_release), *k = data(kvp);

	memset(&opts, 0, sizeof opts);
	opts.sysfs_root = s;
	opts.os_release = o;
	opts.kvp_pool = k;
	opts.no_imds = 1;
	ib_err_clear(&err);
	if (ib_detect(&opts, &f, &err))
		fprintf(stderr, "detect %s: %s\n", sysfs, err.msg);
	free(s);
	free(o);
	free(k);
	return f;
}

static void test_fixtures(void)
{
	struct ib_facts *f;

	f = detect("sysfs/HB120rs_v2", "os-release/ubuntu-20.04", "kvp/none");
	CHECK(f != NULL);
	if (f) {
		CHECK_STR(f->vm_size, "unknown");
		CHECK_STR(f->os.family, "linux");
		CHECK_STR(f->os.id, "ubuntu");
		CHECK_STR(f->os.version, "20.04");
		CHECK_STR(f->os.pretty_name, "Ubuntu 20.04.6 LTS");
		CHECK(f->nd_over_vmbus == 0);
		/* The Hyper-V video device is not Mellanox. */
		CHECK(f->n_nics == 1);
		CHECK_STR(f->nics[0].pci_address, "0101:00:00.0");
		CHECK_STR(f->nics[0].device, "101c");
		CHECK_STR(f->nics[0].pci_class, "0207");
		CHECK_STR(f->nics[0].generation, "CX6");
		CHECK(f->nics[0].virtual_function == 1);
		CHECK(f->nics[0].link_layer == IB_LINK_INFINIBAND);
		CHECK_STR(f->nics[0].ib_device, "mlx5_ib0");
	}
	ib_facts_free(f);

	f = detect("sysfs/HB120rs_v3", "os-release/ubuntu-22.04", "kvp/none");
	CHECK(f && f->n_nics == 2);
	if (f && f->n_nics == 2) {
		CHECK_STR(f->os.version, "22.04");
		CHECK(f->nics[0].link_layer == IB_LINK_INFINIBAND);
		CHECK_STR(f->nics[1].pci_address, "7c1d:00:02.0");
		CHECK_STR(f->nics[1].device, "1016");
		CHECK_STR(f->nics[1].pci_class, "0200");
		CHECK(f->nics[1].link_layer == IB_LINK_ETHERNET);
		CHECK_STR(f->nics[1].ib_device, "mlx5_an0");
		CHECK(!ib_nic_is_infiniband(&f->nics[1]));
	}
	ib_facts_free(f);

	f = detect("sysfs/NC24rs_v3", "os-release/centos-7", "kvp/none");
	CHECK(f && f->n_nics == 1);
	if (f && f->n_nics == 1) {
		CHECK_STR(f->os.id, "centos");
		CHECK_STR(f->os.version, "7");
		CHECK_STR(f->nics[0].generation, "CX3-Pro");
		CHECK_STR(f->nics[0].ib_device, "mlx4_0");
		CHECK(f->nics[0].link_layer == IB_LINK_INFINIBAND);
	}
	ib_facts_free(f);

	f = detect("sysfs/ND96isr_H100_v5", "os-release/ubuntu-22.04", "kvp/none");
	CHECK(f && f->n_nics == 8);
	for (size_t i = 0; f && i < f->n_nics; i++) {
		CHECK(f->nics[i].generation == NULL);
		CHECK(f->nics[i].link_layer == IB_LINK_INFINIBAND);
		CHECK(ib_nic_is_infiniband(&f->nics[i]));
	}
	if (f && f->n_nics == 8)
		CHECK_STR(f->nics[7].ib_device, "mlx5_ib7");
	ib_facts_free(f);

	f = detect("sysfs/H16r", "os-release/almalinux-8.7", "kvp/H16r.kvp_pool_0");
	CHECK(f && f->n_nics == 0);
	CHECK(f && f->nd_over_vmbus == 1);
	CHECK(f && f->nd_driver_version && !strcmp(f->nd_driver_version, "142.0"));
	CHECK(f && f->os.version && !strcmp(f->os.version, "8.7"));
	ib_facts_free(f);

	f = detect("sysfs/H16r", "os-release/ubuntu-22.04", "kvp/other.kvp_pool_0");
	CHECK(f && f->nd_over_vmbus == 0 && f->nd_driver_version == NULL);
	ib_facts_free(f);

	f = detect("sysfs/D4s_v3", "os-release/ubuntu-22.04", "kvp/none");
	CHECK(f && f->n_nics == 1);
	if (f && f->n_nics == 1) {
		CHECK(f->nics[0].link_layer == IB_LINK_ETHERNET);
		CHECK(!ib_nic_is_infiniband(&f->nics[0]));
	}
	ib_facts_free(f);
}

static void test_errors(void)
{
	struct ib_detect_opts opts;
	struct ib_facts *f = NULL;
	struct ib_err err;
	char *missing = data("sysfs/none"), *osr = data("os-release/ubuntu-22.04");

	memset(&opts, 0, sizeof opts);
	opts.no_imds = 1;
	opts.sysfs_root = missing;
	opts.os_release = osr;
	ib_err_clear(&err);
	CHECK(ib_detect(&opts, &f, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "tests/data/sysfs/none: no such folder");
	CHECK(f == NULL);

	opts.sysfs_root = NULL;
	opts.os_release = missing;
	CHECK(ib_detect(&opts, &f, &err) == IB_EINPUT);
	CHECK_CONTAINS(err.msg, "cannot tell the OS");
	CHECK_CONTAINS(err.msg, "tests/data/sysfs/none");
	free(missing);
	free(osr);
}

int main(void)
{
	src = getenv("IBDRV_SRC");
	if (!src) {
		fprintf(stderr, "IBDRV_SRC is not set\n");
		return 1;
	}
	test_os_release();
	test_kvp();
	test_sysfs_values();
	test_fixtures();
	test_errors();
	return check_report();
}
