/* The choose stage: every size family x OS that matters, against the shipped catalog. */
#include "catalog.h"
#include "check.h"
#include "facts.h"
#include "manifest.h"
#include "select.h"

#include <stdio.h>
#include <string.h>

/* ---- bundles ---- */

static struct ib_os_match os_windows[] = {{"windows", NULL, NULL, NULL}};
static struct ib_os_match os_win2016[] = {{"windows", "server", NULL, "10.0.14393"}};
static struct ib_os_match os_win2012r2[] = {{"windows", "server", NULL, "6.3.9600"}};
static struct ib_os_match os_win2019[] = {{"windows", "server", NULL, "10.0.17763"}};
static struct ib_os_match os_el_ubuntu[] = {{"linux", NULL, "ubuntu", "18.04"},
                                            {"linux", NULL, "ubuntu", "20.04"},
                                            {"linux", NULL, "rhel", "7"},
                                            {"linux", NULL, "rhel", "8"},
                                            {"linux", NULL, "centos", NULL}};
static struct ib_os_match os_ubuntu2204[] = {{"linux", NULL, "ubuntu", "22.04"}};
static struct ib_os_match os_linux[] = {{"linux", NULL, NULL, NULL}};

static char *nics_cx3[] = {"CX3-Pro"};
static char *nics_cx56[] = {"CX5", "CX6"};
static char *nics_cx7[] = {"CX7"};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define DRIVER(id, platform, kind, version, os, nics, n_nics, sriov)                               \
	{                                                                                          \
		id, platform, kind, version, NULL, os, N(os), nics, n_nics, sriov, {0}, NULL, 0    \
	}

static struct ib_driver full_drivers[] = {
        DRIVER("mlnx-ofed-23.10", "linux", "mlnx-ofed", "23.10-1.1.9.0", os_ubuntu2204, nics_cx7, 1,
               1),
        DRIVER("mlnx-ofed-4.9", "linux", "mlnx-ofed", "4.9-4.1.7.0", os_el_ubuntu, nics_cx3, 1, 1),
        DRIVER("mlnx-ofed-5.5", "linux", "mlnx-ofed", "5.5-1.0.3.2", os_el_ubuntu, nics_cx56, 2, 1),
        DRIVER("nd-linux", "linux", "nd", "4.3", os_linux, NULL, 0, 0),
        DRIVER("nd-windows", "windows", "nd", "1.0", os_windows, NULL, 0, 0),
        DRIVER("winof-5.65-win2012r2", "windows", "winof", "5.65", os_win2012r2, nics_cx3, 1, 1),
        DRIVER("winof-5.65-win2016", "windows", "winof", "5.65", os_win2016, nics_cx3, 1, 1),
        DRIVER("winof2-2.22", "windows", "winof2", "2.22", os_windows, nics_cx56, 2, 1),
};
static struct ib_manifest full = {1, "full", 1, 0, full_drivers, N(full_drivers)};

static struct ib_driver only2016_drivers[] = {
        DRIVER("winof2-2.22-2016", "windows", "winof2", "2.22", os_win2016, nics_cx56, 2, 1),
        /* Right kind and OS, but marked for non-SR-IOV sizes: never an OFED pick. */
        DRIVER("winof2-misfiled", "windows", "winof2", "2.22", os_windows, nics_cx56, 2, 0),
        /* ND for the wrong platform. */
        DRIVER("nd-linux", "linux", "nd", "4.3", os_linux, NULL, 0, 0),
};
static struct ib_manifest only2016 = {1, "x", 1, 0, only2016_drivers, N(only2016_drivers)};

static struct ib_driver rdma_drivers[] = {
        DRIVER("rdma-core-44", "linux", "rdma-core", "44.0", os_el_ubuntu, nics_cx56, 2, 1),
};
static struct ib_manifest rdma = {1, "rdma", 1, 0, rdma_drivers, N(rdma_drivers)};

static struct ib_driver tie_drivers[] = {
        DRIVER("winof2-a", "windows", "winof2", "2.22", os_windows, nics_cx56, 2, 1),
        DRIVER("winof2-b", "windows", "winof2", "2.30", os_windows, nics_cx56, 2, 1),
        DRIVER("winof2-2019", "windows", "winof2", "2.40", os_win2019, nics_cx56, 2, 1),
};
static struct ib_manifest tie = {1, "tie", 1, 0, tie_drivers, N(tie_drivers)};

/* ---- facts ---- */

#define WIN(product, version)                                                                      \
	"\"os\":{\"family\":\"windows\",\"product\":\"" product "\",\"version\":\"" version "\"}"
#define LINUX(id, version)                                                                         \
	"\"os\":{\"family\":\"linux\",\"id\":\"" id "\",\"version\":\"" version "\"}"
#define WS2019 WIN("server", "10.0.17763")
#define WS2016 WIN("server", "10.0.14393.6452")
#define WS2012R2 WIN("server", "6.3.9600")
#define WS2012 WIN("server", "6.2.9200")
#define WS2022 WIN("server", "10.0.20348")
#define WIN10 WIN("workstation", "10.0.19045")
#define WIN11 WIN("workstation", "10.0.22631")
#define U2004 LINUX("ubuntu", "20.04")
#define U2204 LINUX("ubuntu", "22.04")
#define RHEL79 LINUX("rhel", "7.9")
#define RHEL73 LINUX("rhel", "7.3")
#define CENTOS7 LINUX("centos", "7")

#define NIC(addr, device, cls, link)                                                               \
	"{\"pci_address\":\"" addr "\",\"vendor\":\"15b3\",\"device\":\"" device "\","             \
	"\"class\":\"" cls "\",\"virtual_function\":true,\"link_layer\":\"" link "\"}"
#define IB_CX6 NIC("0101:00:00.0", "101c", "0207", "infiniband")
#define IB_CX6_NO_DRIVER NIC("0101:00:00.0", "101c", "0207", "unknown")
#define IB_CX5 NIC("0101:00:00.0", "1018", "0207", "infiniband")
#define IB_CX5_B NIC("0102:00:00.0", "1018", "0207", "infiniband")
#define IB_CX3 NIC("0002:00:02.0", "1004", "0207", "infiniband")
#define IB_101E NIC("0101:00:00.0", "101e", "0207", "infiniband")
#define IB_101E_B NIC("0102:00:00.0", "101e", "0207", "infiniband")
#define AN_CX4 NIC("7c1d:00:02.0", "1016", "0200", "ethernet")
#define AN_CX5 NIC("7c1d:00:02.0", "1018", "0200", "ethernet")
#define AN_CX6_NO_DRIVER NIC("7c1d:00:02.0", "101c", "0200", "unknown")

#define FACTS(size, os, nics) "{\"vm_size\":\"" size "\"," os ",\"nics\":[" nics "]}"
#define FACTS_ND(size, os) "{\"vm_size\":\"" size "\"," os ",\"nd_over_vmbus\":true,\"nics\":[]}"

/* A catalog that knows ConnectX-7 on Ubuntu 22.04 (the shipped one lists no NDR driver). */
static const char cx7_catalog[] =
        "{\"format\":1,\"sizes\":[{\"name\":\"Standard_ND96isr_H100_v5\",\"ib_rate\":\"NDR\","
        "\"nic\":\"CX7\",\"sriov\":true,\"source\":\"test\"},"
        "{\"name\":\"Standard_ND40rs_v2\",\"ib_rate\":\"EDR\",\"nic\":null,\"sriov\":true,"
        "\"source\":\"test: generation not confirmed\"}],"
        "\"os\":[{\"name\":\"Ubuntu 22.04\",\"family\":\"linux\",\"id\":\"ubuntu\","
        "\"versions\":[\"22.04\"],\"nics\":[\"CX6\",\"CX7\"],\"nd\":false,\"source\":\"test\"},"
        "{\"name\":\"Windows Server 2019\",\"family\":\"windows\",\"product\":\"server\","
        "\"versions\":[\"10.0.17763\"],\"nics\":[\"CX5\",\"CX6\"],\"nd\":true,\"source\":\"t\"}]}";

struct select_case {
	const char *name;
	const char *facts;
	int custom_catalog;
	const struct ib_manifest *manifest;
	enum ib_select_code code;
	const char *driver; /* id, or NULL for none */
	const char *kind;
	const char *generation;
	const char *reason;  /* substring */
	const char *warning; /* substring; NULL: there must be none */
};

static const struct select_case cases[] = {
        /* SR-IOV sizes on Windows: WinOF-2 for CX5/CX6, from the catalog or the PCI bus. */
        {"HBv2 on 2019, VF seen", FACTS("Standard_HB120rs_v2", WS2019, IB_CX6), 0, &full,
         IB_SELECT_OK, "winof2-2.22", "winof2", "CX6",
         "Standard_HB120rs_v2 (HDR InfiniBand, SR-IOV, ConnectX-6 (CX6) on the PCI bus) on "
         "Windows Server 2019 (10.0.17763): winof2 driver 'winof2-2.22' 2.22",
         NULL},
        {"HBv2 on 2019, no driver yet", FACTS("Standard_HB120rs_v2", WS2019, IB_CX6_NO_DRIVER), 0,
         &full, IB_SELECT_OK, "winof2-2.22", "winof2", "CX6", "on the PCI bus", NULL},
        {"HBv2 on 2019, nothing seen", FACTS("Standard_HB120rs_v2", WS2019, ""), 0, &full,
         IB_SELECT_OK, "winof2-2.22", "winof2", "CX6", "ConnectX-6 (CX6) per the catalog", NULL},
        {"HBv3 constrained, lower-case, no prefix", FACTS("hb120-16rs_v3", WS2016, ""), 0, &full,
         IB_SELECT_OK, "winof2-2.22", "winof2", "CX6", "Standard_HB120-16rs_v3 (HDR", NULL},
        {"HC44 on 2012 R2", FACTS("Standard_HC44rs", WS2012R2, ""), 0, &full, IB_SELECT_OK,
         "winof2-2.22", "winof2", "CX5", "Windows Server 2012 R2 (6.3.9600)", NULL},
        {"HB60 on Windows 10", FACTS("Standard_HB60rs", WIN10, ""), 0, &full, IB_SELECT_OK,
         "winof2-2.22", "winof2", "CX5", "Windows 10 (10.0.19045)", NULL},
        {"ND A100 v4 on 2012", FACTS("Standard_ND96asr_v4", WS2012, ""), 0, &full, IB_SELECT_OK,
         "winof2-2.22", "winof2", "CX6", "Windows Server 2012 (6.2.9200)", NULL},
        /* ConnectX-3 Pro: WinOF, one build per OS. */
        {"NCv3 on 2016", FACTS("Standard_NC24rs_v3", WS2016, IB_CX3), 0, &full, IB_SELECT_OK,
         "winof-5.65-win2016", "winof", "CX3-Pro", "winof driver 'winof-5.65-win2016'", NULL},
        {"NCv2 on 2012 R2", FACTS("Standard_NC24rs_v2", WS2012R2, ""), 0, &full, IB_SELECT_OK,
         "winof-5.65-win2012r2", "winof", "CX3-Pro", "per the catalog", NULL},
        {"NCv3 on 2019", FACTS("Standard_NC24rs_v3", WS2019, IB_CX3), 0, &full,
         IB_SELECT_NIC_UNSUPPORTED, NULL, "winof", "CX3-Pro",
         "on Windows Server 2019 (10.0.17763): CX3-Pro is not supported there (supported: CX5, "
         "CX6)",
         NULL},
        {"ND24rs on 2012 (no WinOF build for it)", FACTS("Standard_ND24rs", WS2012, ""), 0, &full,
         IB_SELECT_NO_DRIVER, NULL, "winof", "CX3-Pro",
         "ConnectX-3 Pro (CX3-Pro) per the catalog) on Windows Server 2012 (6.2.9200): bundle "
         "'full' has no winof driver",
         NULL},
        /* Non-SR-IOV sizes: ND; their NICs are not on the PCI bus. */
        {"H16r on 2016", FACTS("Standard_H16r", WS2016, ""), 0, &full, IB_SELECT_OK, "nd-windows",
         "nd", NULL,
         "Standard_H16r (FDR InfiniBand, non-SR-IOV: Network Direct) on Windows Server 2016 "
         "(10.0.14393.6452): nd driver 'nd-windows' 1.0",
         NULL},
        {"H16mr on 2019", FACTS("STANDARD_H16MR", WS2019, ""), 0, &full, IB_SELECT_OK, "nd-windows",
         "nd", NULL, "Standard_H16mr", NULL},
        {"NC24r on 2012 R2", FACTS("Standard_NC24r", WS2012R2, ""), 0, &full, IB_SELECT_OK,
         "nd-windows", "nd", NULL, "nd driver", NULL},
        {"H16r on Ubuntu: the Linux extension has no ND", FACTS("Standard_H16r", U2004, ""), 0,
         &full, IB_SELECT_NIC_UNSUPPORTED, NULL, "nd", NULL,
         "Standard_H16r (FDR InfiniBand, non-SR-IOV: Network Direct) on Ubuntu 20.04 (20.04): "
         "Network Direct is not supported there (supported: CX3-Pro, CX5, CX6 on SR-IOV sizes)",
         NULL},
        {"H16r, bundle without a Windows ND driver", FACTS("Standard_H16r", WS2016, ""), 0,
         &only2016, IB_SELECT_NO_DRIVER, NULL, "nd", NULL,
         "Network Direct) on Windows Server 2016 (10.0.14393.6452): bundle 'x' has no nd driver",
         NULL},
        /* Linux: MLNX_OFED, else rdma-core. */
        {"HBv2 on Ubuntu 20.04", FACTS("Standard_HB120rs_v2", U2004, IB_CX6), 0, &full,
         IB_SELECT_OK, "mlnx-ofed-5.5", "mlnx-ofed", "CX6",
         "on Ubuntu 20.04 (20.04): mlnx-ofed driver 'mlnx-ofed-5.5' 5.5-1.0.3.2", NULL},
        {"HC44 on RHEL 7.9", FACTS("Standard_HC44-32rs", RHEL79, ""), 0, &full, IB_SELECT_OK,
         "mlnx-ofed-5.5", "mlnx-ofed", "CX5", "Red Hat Enterprise Linux 7 (7.9)", NULL},
        {"NCv3 on CentOS 7", FACTS("Standard_NC24rs_v3", CENTOS7, IB_CX3), 0, &full, IB_SELECT_OK,
         "mlnx-ofed-4.9", "mlnx-ofed", "CX3-Pro", "CentOS 7 (7)", NULL},
        {"HBv2 on Ubuntu 20.04, rdma-core bundle", FACTS("Standard_HB120rs_v2", U2004, IB_CX6), 0,
         &rdma, IB_SELECT_OK, "rdma-core-44", "rdma-core", "CX6", "rdma-core driver", NULL},
        {"HBv2 on RHEL 7.3", FACTS("Standard_HB120rs_v2", RHEL73, IB_CX6), 0, &full,
         IB_SELECT_OS_UNSUPPORTED, NULL, "mlnx-ofed", "CX6",
         "on linux rhel 7.3: not a supported OS (supported linux releases: Ubuntu 16.04, Ubuntu "
         "18.04, Ubuntu 20.04, Ubuntu 22.04, Red Hat Enterprise Linux 7, Red Hat Enterprise Linux "
         "8, CentOS 7, "
         "CentOS 8)",
         NULL},
        {"HBv2 on Ubuntu 20.04, Windows-only bundle", FACTS("Standard_HB120rs_v2", U2004, IB_CX6),
         0, &only2016, IB_SELECT_NO_DRIVER, NULL, "mlnx-ofed", "CX6",
         "on Ubuntu 20.04 (20.04): bundle 'x' has no mlnx-ofed or rdma-core driver", NULL},
        /* NDR: nothing shipped supports ConnectX-7; a catalog that does can be given. */
        {"ND H100 v5 on Ubuntu 22.04, shipped catalog",
         FACTS("Standard_ND96isr_H100_v5", U2204, IB_101E "," IB_101E_B), 0, &full,
         IB_SELECT_NIC_UNSUPPORTED, NULL, "mlnx-ofed", "CX7",
         "on Ubuntu 22.04 (22.04): CX7 is not supported there", NULL},
        {"ND H100 v5 on Ubuntu 22.04, CX7 catalog",
         FACTS("Standard_ND96isr_H100_v5", U2204, IB_101E "," IB_101E_B), 1, &full, IB_SELECT_OK,
         "mlnx-ofed-23.10", "mlnx-ofed", "CX7", "ConnectX-7 (CX7) per the catalog", NULL},
        {"HBv4 on 2019", FACTS("Standard_HB176rs_v4", WS2019, IB_101E), 0, &full,
         IB_SELECT_NIC_UNSUPPORTED, NULL, "winof2", "CX7",
         "ConnectX-7 (CX7) per the catalog) on Windows Server 2019 (10.0.17763): CX7 is not "
         "supported there (supported: CX5, CX6)",
         NULL},
        {"catalog row without a generation, no hardware", FACTS("Standard_ND40rs_v2", WS2019, ""),
         1, &full, IB_SELECT_UNKNOWN_NIC, NULL, NULL, NULL,
         "Standard_ND40rs_v2: the catalog has no ConnectX generation and no "
         "InfiniBand ConnectX device was found",
         NULL},
        {"catalog row without a generation, hardware tells",
         FACTS("Standard_ND40rs_v2", WS2019, IB_CX5), 1, &full, IB_SELECT_OK, "winof2-2.22",
         "winof2", "CX5", "on the PCI bus", NULL},
        /* Unsupported OS releases. */
        {"Server 2022", FACTS("Standard_HB120rs_v2", WS2022, IB_CX6), 0, &full,
         IB_SELECT_OS_UNSUPPORTED, NULL, "winof2", "CX6",
         "on windows server 10.0.20348: not a supported OS (supported windows releases: Windows "
         "10, "
         "Windows Server 2019, Windows Server 2016, Windows Server 2012 R2, Windows Server 2012)",
         NULL},
        {"Windows 11", FACTS("Standard_HB120rs_v2", WIN11, IB_CX6), 0, &full,
         IB_SELECT_OS_UNSUPPORTED, NULL, "winof2", "CX6",
         "windows workstation 10.0.22631: not a supported OS", NULL},
        /* Not InfiniBand. */
        {"D4s_v3 with accelerated networking", FACTS("Standard_D4s_v3", WS2019, AN_CX4), 0, &full,
         IB_SELECT_NOT_IB, NULL, NULL, NULL,
         "Standard_D4s_v3 is not an InfiniBand size in the catalog and no InfiniBand "
         "ConnectX "
         "device or Network Direct over VMBus was found",
         NULL},
        {"unknown size, nothing seen", FACTS("unknown", U2004, ""), 0, &full, IB_SELECT_NOT_IB,
         NULL, NULL, NULL,
         "the VM size is unknown and no InfiniBand ConnectX device or Network Direct over VMBus "
         "was found",
         NULL},
        {"unknown size, Ethernet VF without driver", FACTS("unknown", U2004, AN_CX6_NO_DRIVER), 0,
         &full, IB_SELECT_NOT_IB, NULL, NULL, NULL, "the VM size is unknown", NULL},
        /* Ethernet VFs are ignored, whatever their generation. */
        {"HBv3 with AN VF beside the IB VF",
         FACTS("Standard_HB120rs_v3", WS2019, AN_CX4 "," IB_CX6), 0, &full, IB_SELECT_OK,
         "winof2-2.22", "winof2", "CX6", "on the PCI bus", NULL},
        {"HBv3 with only a CX5 AN VF", FACTS("Standard_HB120rs_v3", U2004, AN_CX5), 0, &full,
         IB_SELECT_OK, "mlnx-ofed-5.5", "mlnx-ofed", "CX6", "per the catalog", NULL},
        /* Hardware wins over the catalog, with a warning. */
        {"NCv3 listed CX3-Pro, CX6 VF seen", FACTS("Standard_NC24rs_v3", WS2016, IB_CX6), 0, &full,
         IB_SELECT_OK, "winof2-2.22", "winof2", "CX6", "on the PCI bus",
         "catalog lists Standard_NC24rs_v3 as CX3-Pro, but InfiniBand CX6 VF 15b3:101c at "
         "0101:00:00.0 is on the PCI bus: going by the hardware"},
        {"H16r listed non-SR-IOV, CX5 VF seen", FACTS("Standard_H16r", WS2016, IB_CX5), 0, &full,
         IB_SELECT_OK, "winof2-2.22", "winof2", "CX5", "SR-IOV",
         "catalog lists Standard_H16r as not SR-IOV (Network Direct), but InfiniBand CX5 VF"},
        {"HBv2 listed CX6, CX5 VF seen", FACTS("Standard_HB120rs_v2", U2004, IB_CX5), 0, &full,
         IB_SELECT_OK, "mlnx-ofed-5.5", "mlnx-ofed", "CX5", "ConnectX-5", "going by the hardware"},
        {"101e VF, size missing from the given catalog",
         FACTS("Standard_HB176rs_v4", U2204, IB_101E), 1, &full, IB_SELECT_UNKNOWN_NIC, NULL, NULL,
         NULL,
         "Standard_HB176rs_v4 is not an InfiniBand size in the catalog and InfiniBand VF "
         "15b3:101e at 0101:00:00.0 could be ConnectX-6 or ConnectX-7",
         NULL},
        /* Unknown or unlisted size: the hardware decides. */
        {"unknown size, CX6 VF", FACTS("unknown", WS2019, IB_CX6), 0, &full, IB_SELECT_OK,
         "winof2-2.22", "winof2", "CX6",
         "unknown VM size (SR-IOV, ConnectX-6 (CX6) on the PCI bus)", NULL},
        {"unlisted size, CX5 VF", FACTS("Standard_HB999rs_v9", U2004, IB_CX5), 0, &full,
         IB_SELECT_OK, "mlnx-ofed-5.5", "mlnx-ofed", "CX5",
         "Standard_HB999rs_v9 (not in the catalog", NULL},
        {"unknown size, 101e VF", FACTS("unknown", U2204, IB_101E), 0, &full, IB_SELECT_UNKNOWN_NIC,
         NULL, NULL, NULL,
         "the VM size is unknown and InfiniBand VF 15b3:101e at 0101:00:00.0 could be ConnectX-6 "
         "or "
         "ConnectX-7",
         NULL},
        {"unknown size, ND over VMBus", FACTS_ND("unknown", WS2012R2), 0, &full, IB_SELECT_OK,
         "nd-windows", "nd", NULL, "Network Direct over VMBus)", NULL},
        {"unknown size, two generations", FACTS("unknown", WS2019, IB_CX6 "," IB_CX5_B), 0, &full,
         IB_SELECT_UNKNOWN_NIC, NULL, NULL, NULL,
         "InfiniBand of two generations, CX6 and CX5, on the PCI bus (VF 15b3:101c at "
         "0101:00:00.0, VF 15b3:1018 at 0102:00:00.0): cannot pick one driver",
         NULL},
        /* Bundles: missing driver, misfiled driver, ties, the most specific OS entry. */
        {"bundle lacks winof2 for 2019", FACTS("Standard_HB120rs_v2", WS2019, IB_CX6), 0, &only2016,
         IB_SELECT_NO_DRIVER, NULL, "winof2", "CX6",
         "ConnectX-6 (CX6) on the PCI bus) on Windows Server 2019 (10.0.17763): bundle 'x' has no "
         "winof2 driver",
         NULL},
        {"bundle has winof2 for 2016", FACTS("Standard_HB120rs_v2", WS2016, IB_CX6), 0, &only2016,
         IB_SELECT_OK, "winof2-2.22-2016", "winof2", "CX6", "winof2-2.22-2016", NULL},
        {"two equal drivers", FACTS("Standard_HB120rs_v2", WS2016, IB_CX6), 0, &tie,
         IB_SELECT_AMBIGUOUS, NULL, "winof2", "CX6",
         "ConnectX-6 (CX6) on the PCI bus) on Windows Server 2016 (10.0.14393.6452): bundle 'tie': "
         "drivers 'winof2-a' and 'winof2-b' fit equally well",
         NULL},
        {"the specific driver wins the tie", FACTS("Standard_HB120rs_v2", WS2019, IB_CX6), 0, &tie,
         IB_SELECT_OK, "winof2-2019", "winof2", "CX6", "winof2-2019", NULL},
        {"no manifest: the kind needed", FACTS("Standard_HB120rs_v2", U2004, ""), 0, NULL,
         IB_SELECT_OK, NULL, "mlnx-ofed", "CX6",
         "on Ubuntu 20.04 (20.04): needs a mlnx-ofed or rdma-core driver", NULL},
};

static void run(const struct select_case *c, const struct ib_catalog *shipped,
                const struct ib_catalog *custom)
{
	struct ib_facts *f = NULL;
	struct ib_selection sel;
	struct ib_err err;
	int before = check_failures;

	ib_err_clear(&err);
	CHECK(ib_facts_parse(c->facts, strlen(c->facts), c->name, &f, &err) == 0);
	if (!f) {
		fprintf(stderr, "  %s: %s\n", c->name, err.msg);
		return;
	}
	ib_select(f, c->custom_catalog ? custom : shipped, c->manifest, &sel);
	CHECK(sel.code == c->code);
	if (c->driver)
		CHECK(sel.driver && !strcmp(sel.driver->id, c->driver));
	else
		CHECK(sel.driver == NULL);
	if (c->kind)
		CHECK_STR(sel.kind, c->kind);
	else
		CHECK(sel.kind == NULL);
	if (c->generation)
		CHECK_STR(sel.generation, c->generation);
	else if (c->code == IB_SELECT_OK)
		CHECK(sel.generation == NULL);
	CHECK_CONTAINS(sel.reason, c->reason);
	CHECK(strchr(sel.reason, '\n') == NULL);
	if (c->warning)
		CHECK_CONTAINS(sel.warning, c->warning);
	else
		CHECK(sel.warning[0] == '\0');
	if (check_failures != before)
		fprintf(stderr, "  in case \"%s\": code %s, reason: %s; warning: %s\n", c->name,
		        ib_select_code_name(sel.code), sel.reason, sel.warning);
	ib_facts_free(f);
}

int main(void)
{
	struct ib_catalog *shipped = NULL, *custom = NULL;
	struct ib_err err;

	ib_err_clear(&err);
	CHECK(ib_catalog_builtin(&shipped, &err) == 0);
	CHECK(ib_catalog_parse(cx7_catalog, strlen(cx7_catalog), "cx7", &custom, &err) == 0);
	if (!shipped || !custom) {
		fprintf(stderr, "%s\n", err.msg);
		return check_report();
	}
	for (size_t i = 0; i < N(cases); i++)
		run(&cases[i], shipped, custom);
	ib_catalog_free(shipped);
	ib_catalog_free(custom);
	return check_report();
}
