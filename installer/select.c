#include "select.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define KINDS_MAX 2

/*
 * Appends to a reason or warning buffer, truncating quietly (a full one still has room for
 * its NUL, so vsnprintf is never given a size of 0).
 */
__attribute__((format(printf, 2, 3))) static void put(char *buf, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + len, IB_ERR_MSG_MAX - len, fmt, ap);
	va_end(ap);
}

const char *ib_select_code_name(enum ib_select_code code)
{
	/* In the order of enum ib_select_code. */
	static const char names[] = "ok\0not InfiniBand\0unknown NIC generation\0unsupported OS\0"
	                            "unsupported NIC\0no driver\0ambiguous drivers";
	const char *name = names;

	if ((unsigned)code > IB_SELECT_AMBIGUOUS)
		return "?";
	for (unsigned i = 0; i < (unsigned)code; i++)
		name += strlen(name) + 1;
	return name;
}

/* What the PCI bus shows: the InfiniBand functions, ignoring Ethernet ones. */
struct hardware {
	const struct ib_nic *resolved;   /* first InfiniBand function with a known generation */
	const struct ib_nic *unresolved; /* first InfiniBand function without one */
	const struct ib_nic *other;      /* an InfiniBand function of another generation */
};

static void scan_hardware(const struct ib_facts *f, struct hardware *hw)
{
	memset(hw, 0, sizeof *hw);
	for (size_t i = 0; i < f->n_nics; i++) {
		const struct ib_nic *n = &f->nics[i];

		if (!ib_nic_is_infiniband(n))
			continue;
		if (!n->generation) {
			if (!hw->unresolved)
				hw->unresolved = n;
		} else if (!hw->resolved) {
			hw->resolved = n;
		} else if (strcmp(hw->resolved->generation, n->generation) && !hw->other) {
			hw->other = n;
		}
	}
}

/* before, "VF 15b3:101c at 0101:00:00.0", after */
static void put_nic(char *buf, const char *before, const struct ib_nic *n, const char *after)
{
	put(buf, "%s%s %s:%s%s%s%s", before, n->virtual_function ? "VF" : "PF", n->vendor,
	    n->device, n->pci_address ? " at " : "", n->pci_address ? n->pci_address : "", after);
}

static int unknown_size(const struct ib_facts *f)
{
	return !strcmp(f->vm_size, IB_VM_SIZE_UNKNOWN);
}

/* Decides SR-IOV and generation; returns 0, or the failure code with the reason written. */
static enum ib_select_code decide_hardware(const struct ib_facts *f, const struct ib_catalog *cat,
                                           struct ib_selection *out)
{
	const struct ib_size *row = ib_catalog_size(cat, f->vm_size);
	struct hardware hw;

	scan_hardware(f, &hw);
	out->size = row;
	if (hw.other) {
		put(out->reason, "InfiniBand of two generations, %s and %s, on the PCI bus",
		    hw.resolved->generation, hw.other->generation);
		put_nic(out->reason, " (", hw.resolved, ", ");
		put_nic(out->reason, "", hw.other, "): cannot pick one driver");
		return IB_SELECT_UNKNOWN_NIC;
	}
	if (hw.resolved) {
		out->sriov = 1;
		out->generation = hw.resolved->generation;
		out->from_hardware = 1;
		if (row && (!row->sriov || (row->generation &&
		                            strcmp(row->generation, hw.resolved->generation)))) {
			put(out->warning, "catalog lists %s as %s, but InfiniBand %s", row->name,
			    row->sriov ? row->generation : "not SR-IOV (Network Direct)",
			    hw.resolved->generation);
			put_nic(out->warning, " ", hw.resolved,
			        " is on the PCI bus: going by the hardware");
		}
		return IB_SELECT_OK;
	}
	if (row && row->sriov) {
		out->sriov = 1;
		out->generation = row->generation;
		if (out->generation)
			return IB_SELECT_OK;
		put(out->reason, "%s: the catalog has no ConnectX generation", row->name);
	} else if (row) {
		out->sriov = 0;
		return IB_SELECT_OK;
	} else if (!hw.unresolved && f->nd_over_vmbus) {
		out->sriov = 0;
		out->from_hardware = 1;
		return IB_SELECT_OK;
	} else if (unknown_size(f)) {
		put(out->reason, "the VM size is unknown");
	} else {
		put(out->reason, "%s is not an InfiniBand size in the catalog", f->vm_size);
	}
	if (hw.unresolved) {
		put_nic(out->reason, " and InfiniBand ", hw.unresolved,
		        " could be ConnectX-6 or ConnectX-7");
		return IB_SELECT_UNKNOWN_NIC;
	}
	/* A row here is an SR-IOV one without a generation: the NIC is unknown, not absent. */
	put(out->reason, " and no InfiniBand ConnectX device%s was found",
	    row ? "" : " or Network Direct over VMBus");
	return row ? IB_SELECT_UNKNOWN_NIC : IB_SELECT_NOT_IB;
}

/* The family is "windows" or "linux" (facts.h). */
static int windows(const struct ib_facts *f)
{
	return f->os.family[0] == 'w';
}

/* The driver kinds that fit, best first. */
static size_t kinds_for(const struct ib_facts *f, const struct ib_selection *s,
                        const char *kinds[KINDS_MAX])
{
	if (!s->sriov) {
		kinds[0] = "nd";
		return 1;
	}
	if (windows(f)) {
		/* CX3 and CX3-Pro */
		kinds[0] = !strncmp(s->generation, "CX3", 3) ? "winof" : "winof2";
		return 1;
	}
	kinds[0] = "mlnx-ofed";
	kinds[1] = "rdma-core";
	return 2;
}

/* "Windows Server 2019 (10.0.17763)" from the catalog row, else from the facts: "linux rhel 7.3" */
static void put_os_label(char *buf, const struct ib_os *os, const struct ib_os_support *row)
{
	const char *version = os->version ? os->version : "version unknown";
	const char *name = row ? row->name : os->pretty_name;
	const char *kind = os->product ? os->product : os->id;

	if (name)
		put(buf, "%s (%s)", name, version);
	else
		put(buf, "%s%s%s %s", os->family, kind ? " " : "", kind ? kind : "", version);
}

/* before, "mlnx-ofed or rdma-core driver" */
static void put_kinds(char *buf, const char *before, const char *const *kinds, size_t n)
{
	for (size_t k = 0; k < n; k++)
		put(buf, "%s%s", k ? " or " : before, kinds[k]);
	put(buf, " driver");
}

static void put_situation(char *buf, const struct ib_facts *f, const struct ib_selection *s)
{
	if (s->size)
		put(buf, "%s (%s InfiniBand, ", s->size->name, s->size->ib_rate);
	else if (unknown_size(f))
		put(buf, "unknown VM size (");
	else
		put(buf, "%s (not in the catalog, ", f->vm_size);
	if (s->sriov)
		put(buf, "SR-IOV, %s (%s) %s)", ib_generation_long_name(s->generation),
		    s->generation, s->from_hardware ? "on the PCI bus" : "per the catalog");
	else
		put(buf, "non-SR-IOV: Network Direct%s)", s->from_hardware ? " over VMBus" : "");
}

/* Whether s is one of list[0..n). */
static int listed(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return 1;
	return 0;
}

/* What the catalog's OS rows offer: what the refusal of an OS or generation lists. */
struct offer {
	const char *items[32]; /* generations, or the family's releases when no row matches */
	size_t n;
};

static void offer_add(struct offer *o, const char *item)
{
	if (o->n < sizeof o->items / sizeof o->items[0] && !listed(o->items, o->n, item))
		o->items[o->n++] = item;
}

/*
 * Whether the OS supports the generation (SR-IOV) or Network Direct; *label gets the first
 * matching row (NULL: none, the OS is not supported). Fills *offer for the refusal.
 */
static enum ib_select_code check_os(const struct ib_facts *f, const struct ib_catalog *cat,
                                    const struct ib_selection *s,
                                    const struct ib_os_support **label, struct offer *offer)
{
	int nd = 0, gen_ok = 0;

	*label = NULL;
	offer->n = 0;
	for (size_t i = 0; i < cat->n_os; i++) {
		const struct ib_os_support *r = &cat->os[i];

		if (!ib_os_support_matches(r, f->os.family, f->os.product, f->os.id, f->os.version))
			continue;
		if (!*label)
			*label = r;
		nd |= r->nd;
		gen_ok |=
		        s->sriov && listed((const char *const *)r->nics, r->n_nics, s->generation);
		for (size_t j = 0; j < r->n_nics; j++)
			offer_add(offer, r->nics[j]);
	}
	if (!*label) {
		for (size_t i = 0; i < cat->n_os; i++)
			if (!strcmp(cat->os[i].family, f->os.family))
				offer_add(offer, cat->os[i].name);
		return IB_SELECT_OS_UNSUPPORTED;
	}
	return (s->sriov ? gen_ok : nd) ? IB_SELECT_OK : IB_SELECT_NIC_UNSUPPORTED;
}

/* After the situation: why the OS is refused, and what it would need. */
static void put_os_refusal(char *buf, const struct ib_facts *f, const struct ib_selection *s,
                           const struct offer *offer)
{
	if (s->code == IB_SELECT_OS_UNSUPPORTED)
		put(buf, ": not a supported OS (supported %s releases:", f->os.family);
	else
		put(buf, ": %s is not supported there (supported:",
		    s->sriov ? s->generation : "Network Direct");
	for (size_t i = 0; i < offer->n; i++)
		put(buf, "%s %s", i ? "," : "", offer->items[i]);
	put(buf, "%s%s)", offer->n ? "" : " none",
	    offer->n && s->code == IB_SELECT_NIC_UNSUPPORTED && !s->sriov ? " on SR-IOV sizes"
	                                                                  : "");
}

/* How specific the best matching OS entry of d is; -1 when none matches. */
static int os_score(const struct ib_driver *d, const struct ib_os *os)
{
	int best = -1;

	for (size_t i = 0; i < d->n_os; i++) {
		const struct ib_os_match *m = &d->os[i];
		int score = 0;

		if (m->family) {
			if (strcmp(m->family, os->family))
				continue;
			score++;
		}
		if (m->product) {
			if (!os->product || strcmp(m->product, os->product))
				continue;
			score++;
		}
		if (m->id) {
			if (!os->id || strcmp(m->id, os->id))
				continue;
			score++;
		}
		if (m->version) {
			if (!ib_version_has_prefix(os->version, m->version))
				continue;
			score++;
			for (const char *p = m->version; *p; p++)
				score += *p == '.';
		}
		if (score > best)
			best = score;
	}
	return best;
}

static int driver_fits(const struct ib_driver *d, const struct ib_facts *f,
                       const struct ib_selection *s, const char *kind)
{
	if (strcmp(d->platform, f->os.family) || strcmp(d->kind, kind) ||
	    (d->sriov != 0) != (s->sriov != 0))
		return 0;
	if (s->sriov && !listed((const char *const *)d->nics, d->n_nics, s->generation))
		return 0;
	return 1;
}

static enum ib_select_code pick_driver(const struct ib_facts *f, const struct ib_manifest *m,
                                       const char *const *kinds, size_t n_kinds,
                                       struct ib_selection *out)
{
	for (size_t k = 0; k < n_kinds; k++) {
		const struct ib_driver *best = NULL, *tie = NULL;
		int best_score = -1;

		for (size_t i = 0; i < m->n_drivers; i++) {
			const struct ib_driver *d = &m->drivers[i];
			int score;

			if (!driver_fits(d, f, out, kinds[k]))
				continue;
			score = os_score(d, &f->os);
			if (score < 0)
				continue;
			if (score > best_score) {
				best = d;
				best_score = score;
				tie = NULL;
			} else if (score == best_score) {
				tie = d;
			}
		}
		if (tie) {
			put(out->reason, ": bundle '%s': drivers '%s' and '%s' fit equally well",
			    m->name, best->id, tie->id);
			return IB_SELECT_AMBIGUOUS;
		}
		if (best) {
			out->driver = best;
			out->kind = best->kind;
			return IB_SELECT_OK;
		}
	}
	put(out->reason, ": bundle '%s' has no", m->name);
	put_kinds(out->reason, " ", kinds, n_kinds);
	return IB_SELECT_NO_DRIVER;
}

void ib_select(const struct ib_facts *facts, const struct ib_catalog *catalog,
               const struct ib_manifest *manifest, struct ib_selection *out)
{
	const char *kinds[KINDS_MAX];
	const struct ib_os_support *os_row;
	struct offer offer;
	size_t n_kinds;

	memset(out, 0, sizeof *out);
	out->code = decide_hardware(facts, catalog, out);
	if (out->code)
		return;
	n_kinds = kinds_for(facts, out, kinds);
	out->kind = kinds[0];
	out->code = check_os(facts, catalog, out, &os_row, &offer);
	/* What was found starts the reason; what is needed, chosen or missing follows. */
	put_situation(out->reason, facts, out);
	put(out->reason, " on ");
	put_os_label(out->reason, &facts->os, os_row);
	if (out->code) {
		put_os_refusal(out->reason, facts, out, &offer);
		return;
	}
	if (!manifest) {
		put_kinds(out->reason, ": needs a ", kinds, n_kinds);
		return;
	}
	out->code = pick_driver(facts, manifest, kinds, n_kinds, out);
	if (out->code)
		return;
	put(out->reason, ": %s driver '%s' %s", out->driver->kind, out->driver->id,
	    out->driver->version);
}
