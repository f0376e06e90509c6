/* fuzz_decide: the per-packet decision without EAL (dataplane/decide.h) on
 * fuzzed frames, with a small built-in configuration (loaded through
 * sl_config_load: ports client, blue, green and a shadow port; web, web6
 * and dns as in conf/demo.ini; green in mac mode; a shadow rule; a flow
 * table of 64 flows so that it fills).  Two variants: other traffic
 * flooded and malformed packets dropped, or other traffic dropped and
 * malformed packets forwarded.
 *
 * The input is a header byte (bit 0: the variant, bit 1: a clock that
 * starts just below its wrap, bit 2: the shadow filters are ready, with a
 * matcher that takes or leaves packets by their length) and records of [control][length lo][length
 * hi][frame...]: control bits 0-1 the input port (of the four), bit 2 ends
 * the burst here, bits 3-7 how far the clock moves before this packet (0
 * to hours).  Invariants, per burst and at the end:
 *  - verdicts name configured ports only, never a shadow port (copies are
 *    vd.shadow's), never the port the packet came in on; a packet from the
 *    client goes to one backend port, one from a backend to the client; a
 *    MAC rewrite only toward a mac-mode group's port; nothing from a shadow
 *    port leaves;
 *  - one group port per flow: a client packet of a service goes to the port
 *    of that service's champion or challenger, and every packet of one
 *    flow (its canonical key; ICMP errors follow the flow they quote) to
 *    the same port and member MAC, whether the flow is in the table, was
 *    swept, re-decided or decided statelessly (the tables do not change
 *    here, so the decision is a function of the key); the shadow copies of
 *    a rule without a filter are whole flows (the same for each packet of
 *    a flow), only of the rule's service, never of ICMP errors;
 *  - conservation: every packet is counted once: malformed, other,
 *    client->server of a service (the groups' pkts, whose sum is
 *    sl_svc_pkts), server->client (groups' ret_pkts) or received on a shadow port;
 *    the malformed reasons add up to the malformed verdicts;
 *  - the flow table: its count equals the groups' active flows, which are
 *    the flows decided minus those expired and redecided, never above its
 *    capacity; after sl_worker_sweep_all far in the future it is empty. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "fuzz.h"
#include "tables.h"

#define NPORTS 4
#define MAX_PKTS 256

static const char conf_text[] =
	"[dataplane]\n"
	"hash_seed = 0x5eed\n"
	"flow_capacity = 64\n"
	"tcp_syn_timeout = 3s\n"
	"tcp_timeout = 60s\n"
	"tcp_fin_timeout = 5s\n"
	"tcp_closed_timeout = 1s\n"
	"udp_timeout = 10s\n"
	"other = %s\n"
	"malformed = %s\n"
	"[port client]\nrole = client\ndevargs = net_null0\n"
	"[port blue]\nrole = backend\ndevargs = net_null1\n"
	"[port green]\nrole = backend\ndevargs = net_null2\n"
	"[port mirror]\nrole = shadow\ndevargs = net_null3\n"
	"[group blue]\nport = blue\nmode = port\n"
	"[group green]\nport = green\nmode = mac\n"
	"members = 02:00:00:00:0c:01, 02:00:00:00:0c:02, 02:00:00:00:0c:03\n"
	"[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 443\n"
	"champion = blue\nchallenger = green\nshare = 50%%\n"
	"[service web6]\nproto = tcp\nvip = 2001:db8::10\nports = 443\n"
	"champion = blue\nchallenger = green\nshare = 5%%\n"
	"[service dns]\nproto = udp\nvip = 192.0.2.53\nports = 53, 5353\n"
	"champion = green\nchallenger = blue\nshare = 30%%\n"
	"[shadow web-copy]\nservice = web\nsample = 50%%\nport = mirror\n"
	"[shadow web-syn]\nservice = web\nsample = 80%%\nport = mirror\n"
	"filter = tcp[13] & 2 != 0\n"
	"[shadow dns-copy]\nservice = dns\nsample = 20%%\nport = mirror\n";

struct variant {
	struct sl_config cfg;
	struct sl_table_hdr *hdr;
	struct sl_group_rec *groups;
	struct sl_view v;
	uint16_t mac_ports; /* ports of mac-mode groups */
	uint32_t max_timeout;
};

static struct variant var[2];

static void setup(void)
{
	static const char *other[2] = { "flood", "drop" }, *bad[2] = { "drop", "forward" };
	const char *path = fz_path("decide", "ini");
	char text[sizeof(conf_text) + 32], err[2048];

	for (int k = 0; k < 2; k++) {
		struct variant *x = &var[k];
		const struct sl_config *c = &x->cfg;

		snprintf(text, sizeof(text), conf_text, other[k], bad[k]);
		fz_write(path, (const uint8_t *)text, strlen(text));
		FZ_CHECK(sl_config_load(path, &x->cfg, err, sizeof(err)) == 0,
			 "the built-in configuration is refused: %s", err);
		FZ_CHECK(c->nports == NPORTS, "%u ports", c->nports);
		x->hdr = calloc(1, sizeof(*x->hdr));
		x->groups = calloc(SL_MAX_GROUPS, sizeof(*x->groups));
		FZ_CHECK(x->hdr && x->groups, "out of memory");
		FZ_CHECK(sl_tables_build(x->hdr, x->groups, c, 1, err, sizeof(err)) == 0,
			 "tables: %s", err);
		x->v.hdr = x->hdr;
		x->v.groups = x->groups;
		for (unsigned g = 0; g < c->ngroups; g++)
			if (c->groups[g].mode == SL_MODE_MAC)
				x->mac_ports |= (uint16_t)(1u << c->groups[g].port);
		x->max_timeout = c->tcp_syn_timeout_ms;
		if (c->tcp_timeout_ms > x->max_timeout)
			x->max_timeout = c->tcp_timeout_ms;
		if (c->tcp_fin_timeout_ms > x->max_timeout)
			x->max_timeout = c->tcp_fin_timeout_ms;
		if (c->udp_timeout_ms > x->max_timeout)
			x->max_timeout = c->udp_timeout_ms;
		if (c->tcp_closed_timeout_ms > x->max_timeout)
			x->max_timeout = c->tcp_closed_timeout_ms;
	}
	unlink(path);
}

/* What the first packet of each flow of an input was given. */
#define MAX_FLOWS MAX_PKTS
struct seen {
	struct sl_key key;
	uint16_t out;
	uint16_t shadow; /* rules without a filter */
	uint8_t has_dmac;
	uint8_t dmac[6];
};
static struct seen seen[MAX_FLOWS];
static unsigned nseen;

/* The shadow matcher: packet i of the burst passes rule r's filter by its
 * length (the filters' own behaviour is tests/test_filter.c's). */
static const uint16_t *match_len;

static int match_by_len(void *ctx, unsigned r, unsigned i)
{
	(void)ctx;
	return ((match_len[i] >> 1) ^ r) & 1;
}

/* Flow consistency of client packet i (see the invariants above). */
static void check_flow(const struct variant *x, const uint8_t *frame, uint16_t len,
		       const struct sl_verdict *vd, unsigned i)
{
	const struct sl_table_hdr *h = x->hdr;
	const struct sl_service_rec *s;
	struct sl_pkt p;
	struct sl_key k;
	uint16_t nofilter = 0, port;
	const uint8_t *addr;
	int si;
	unsigned f;

	if (sl_parse(frame, len, &p) != SL_OK || !p.family || (p.proto != 6 && p.proto != 17)) {
		FZ_CHECK(!vd->has_dmac && !vd->shadow, "packet %u: not a service's, rewritten "
			 "or copied", i);
		return;
	}
	addr = p.icmp_err ? p.src : p.dst;
	port = p.icmp_err ? p.sport : p.dport;
	si = sl_find_service(h, p.family, p.proto, addr, port, p.frag != SL_FRAG_NONE);
	if (si < 0) {
		FZ_CHECK(!vd->has_dmac && !vd->shadow, "packet %u: not a service's, rewritten "
			 "or copied", i);
		return;
	}
	s = &h->services[si];
	FZ_CHECK(vd->out == (1u << x->groups[s->champion].port) ||
		 vd->out == (1u << x->groups[s->challenger].port),
		 "packet %u of service %d: out 0x%x, neither its champion's nor its "
		 "challenger's port", i, si, vd->out);
	FZ_CHECK((vd->shadow & ~s->shadow_mask) == 0, "packet %u of service %d: copies 0x%x "
		 "for rules 0x%x of other services", i, si, vd->shadow, s->shadow_mask);
	if (p.icmp_err)
		FZ_CHECK(vd->shadow == 0, "packet %u: an ICMP error copied (0x%x)", i, vd->shadow);
	for (unsigned r = 0; r < h->nshadows; r++)
		if (!h->shadows[r].filter[0])
			nofilter |= (uint16_t)(1u << r);
	sl_key_make(&k, &p);
	for (f = 0; f < nseen; f++)
		if (!memcmp(&seen[f].key, &k, sizeof(k)))
			break;
	if (f == nseen) {
		if (nseen == MAX_FLOWS)
			return;
		seen[f].key = k;
		seen[f].out = vd->out;
		seen[f].has_dmac = vd->has_dmac;
		memcpy(seen[f].dmac, vd->dmac, 6);
		seen[f].shadow = p.icmp_err ? 0xffff : vd->shadow & nofilter;
		nseen++;
		return;
	}
	FZ_CHECK(seen[f].out == vd->out, "packet %u: a flow's packets to ports 0x%x and 0x%x", i,
		 seen[f].out, vd->out);
	FZ_CHECK(seen[f].has_dmac == vd->has_dmac &&
		 (!vd->has_dmac || !memcmp(seen[f].dmac, vd->dmac, 6)),
		 "packet %u: a flow's packets to two members", i);
	if (!p.icmp_err) {
		if (seen[f].shadow == 0xffff)
			seen[f].shadow = vd->shadow & nofilter;
		FZ_CHECK(seen[f].shadow == (vd->shadow & nofilter), "packet %u: a flow copied "
			 "in part (rules 0x%x, then 0x%x)", i, seen[f].shadow,
			 vd->shadow & nofilter);
	}
}

struct totals {
	uint64_t bad_verdicts, bad_reasons, other, grp_pkts, ret, shadow_rx;
	uint64_t flows, active, expired, redecided;
};

static void totals(const struct sl_counters *c, unsigned nsvc, unsigned ngrp, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	t->bad_verdicts = c->malformed_fwd + c->malformed_drop;
	for (unsigned r = 1; r < SL_BAD__COUNT; r++)
		t->bad_reasons += c->malformed[r];
	t->other = c->other_fwd + c->other_drop;
	t->shadow_rx = c->shadow_rx_drop;
	t->expired = c->expired;
	t->redecided = c->redecided;
	for (unsigned s = 0; s < nsvc; s++) {
		for (unsigned g = 0; g < ngrp; g++) {
			const struct sl_grp_counters *gc = &c->grp[s][g];

			t->grp_pkts += gc->pkts;
			t->ret += gc->ret_pkts;
			t->flows += gc->flows;
			t->active += gc->active;
		}
	}
}

static void check_table(const struct sl_worker *w, const struct totals *t, const char *when)
{
	FZ_CHECK(t->active == sl_ft_count(w->ft), "%s: the groups' active flows %llu, the table %u",
		 when, (unsigned long long)t->active, sl_ft_count(w->ft));
	FZ_CHECK(t->flows == t->active + t->expired + t->redecided, "%s: flows decided %llu != "
		 "active %llu + expired %llu + redecided %llu", when,
		 (unsigned long long)t->flows, (unsigned long long)t->active,
		 (unsigned long long)t->expired, (unsigned long long)t->redecided);
	FZ_CHECK(sl_ft_count(w->ft) <= sl_ft_capacity(w->ft), "%s: %u flows in a table of %u", when,
		 sl_ft_count(w->ft), sl_ft_capacity(w->ft));
}

static void burst(struct sl_worker *w, const struct variant *x, uint8_t in_port,
		  const uint8_t *const *d, const uint16_t *l, uint16_t n, uint64_t now)
{
	const struct sl_config *c = &x->cfg;
	struct sl_verdict vd[SL_BURST];
	struct totals a, b;
	uint8_t role = w->port_role[in_port];

	totals(w->cnt, c->nservices, c->ngroups, &a);
	memset(vd, 0xa5, sizeof(vd));
	match_len = l;
	sl_decide_burst(w, &x->v, in_port, d, l, n, now, vd);
	totals(w->cnt, c->nservices, c->ngroups, &b);

	for (uint16_t i = 0; i < n; i++) {
		uint16_t out = vd[i].out;

		FZ_CHECK((out & ~w->port_mask) == 0, "packet %u: out 0x%x beyond the ports 0x%x", i,
			 out, w->port_mask);
		FZ_CHECK(!(out & (1u << in_port)), "packet %u sent back out of port %u", i, in_port);
		for (unsigned p = 0; p < c->nports; p++)
			if (c->ports[p].role == SL_ROLE_SHADOW)
				FZ_CHECK(!(out & (1u << p)), "packet %u: an original to shadow port "
					 "%u", i, p);
		if (role == SL_ROLE_SHADOW) {
			FZ_CHECK(out == 0 && vd[i].shadow == 0, "a packet from the shadow port leaves");
			continue;
		}
		if (role == SL_ROLE_CLIENT)
			FZ_CHECK((out & ~w->backend_mask) == 0, "from the client: out 0x%x", out);
		else
			FZ_CHECK(out == 0 || out == (1u << w->client_port),
				 "from a backend: out 0x%x", out);
		if (vd[i].has_dmac)
			FZ_CHECK(role == SL_ROLE_CLIENT && __builtin_popcount(out) == 1 &&
				 (out & x->mac_ports), "a MAC rewrite toward 0x%x", out);
		FZ_CHECK(vd[i].shadow == 0 || role == SL_ROLE_CLIENT,
			 "a shadow copy of a packet from a backend");
		FZ_CHECK((vd[i].shadow & ~((1u << c->nshadows) - 1)) == 0, "shadow 0x%x",
			 vd[i].shadow);
		if (role == SL_ROLE_CLIENT)
			check_flow(x, d[i], l[i], &vd[i], i);
	}

	/* conservation: each packet counted once, in one place */
	{
		uint64_t d_bad = b.bad_verdicts - a.bad_verdicts, d_other = b.other - a.other;
		uint64_t d_svc = b.grp_pkts - a.grp_pkts, d_ret = b.ret - a.ret;
		uint64_t d_shadow = b.shadow_rx - a.shadow_rx;

		FZ_CHECK(d_bad + d_other + d_svc + d_ret + d_shadow == n,
			 "burst of %u from port %u (role %u): malformed %llu + other %llu + "
			 "service %llu + return %llu + shadow %llu", n, in_port, role,
			 (unsigned long long)d_bad, (unsigned long long)d_other,
			 (unsigned long long)d_svc, (unsigned long long)d_ret,
			 (unsigned long long)d_shadow);
		FZ_CHECK(b.bad_reasons - a.bad_reasons == d_bad, "malformed reasons %llu, verdicts %llu",
			 (unsigned long long)(b.bad_reasons - a.bad_reasons),
			 (unsigned long long)d_bad);
		if (role == SL_ROLE_CLIENT)
			FZ_CHECK(d_ret == 0, "return packets counted from the client port");
		else
			FZ_CHECK(d_svc == 0, "client packets counted from port %u", in_port);
	}
	check_table(w, &b, "after a burst");
}

static const uint32_t steps_ms[32] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 5, 10, 50, 100, 500,
	999, 1000, 1001, 2999, 3000, 3001, 4999, 5000, 9999, 10000, 10001, 59999,
	60000, 60001, 600000, 3600000,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct sl_counters *cnt; /* once: 860 KiB, a fresh one per input is slow */
	const uint8_t *d[SL_BURST];
	uint16_t l[SL_BURST];
	uint16_t n = 0;
	uint8_t in_port = 0;
	const struct variant *x;
	struct sl_worker w;
	struct totals t;
	uint64_t now; /* the core's microsecond clock */
	size_t pos = 1;
	unsigned pkts = 0;

	if (!ready) {
		setup();
		cnt = aligned_alloc(64, sizeof(*cnt));
		FZ_CHECK(cnt != NULL, "out of memory");
		ready = 1;
	}
	if (size < 1)
		return 0;
	x = &var[data[0] & 1];
	/* near the wrap of the flow table's millisecond clock, or not */
	now = (data[0] & 2) ? ((uint64_t)UINT32_MAX - 5000) * 1000u : 1000000u;
	FZ_CHECK(sl_worker_init(&w, &x->cfg, cnt) == 0, "sl_worker_init failed");
	FZ_CHECK(w.nports == NPORTS, "%u ports", w.nports);
	if (data[0] & 4) {
		w.shadow.match = match_by_len;
		w.shadow.ready_gen = x->hdr->shadow_gen;
	}
	nseen = 0;

	while (pos + 3 <= size && pkts < MAX_PKTS) {
		uint8_t ctl = data[pos];
		uint16_t len = (uint16_t)(data[pos + 1] | data[pos + 2] << 8) % 2048;
		uint8_t port = ctl & 3;
		uint32_t step = steps_ms[ctl >> 3];

		pos += 3;
		if (len > size - pos)
			len = (uint16_t)(size - pos);
		/* a burst is one port's, at one time */
		if (n && (port != in_port || step || n == SL_BURST)) {
			burst(&w, x, in_port, d, l, n, now);
			sl_worker_sweep(&w, now);
			n = 0;
		}
		now += (uint64_t)step * 1000u;
		in_port = port;
		d[n] = data + pos;
		l[n] = len;
		n++;
		pkts++;
		pos += len;
		if (ctl & 4) {
			burst(&w, x, in_port, d, l, n, now);
			sl_worker_sweep(&w, now);
			n = 0;
		}
	}
	if (n) {
		burst(&w, x, in_port, d, l, n, now);
		sl_worker_sweep(&w, now);
	}

	/* every flow settled now: still consistent; far later: none left */
	sl_worker_sweep_all(&w, now);
	totals(w.cnt, x->cfg.nservices, x->cfg.ngroups, &t);
	check_table(&w, &t, "after sl_worker_sweep_all");
	now += ((uint64_t)x->max_timeout + 1) * 1000u;
	sl_worker_sweep_all(&w, now);
	totals(w.cnt, x->cfg.nservices, x->cfg.ngroups, &t);
	check_table(&w, &t, "after sl_worker_sweep_all past every timeout");
	FZ_CHECK(sl_ft_count(w.ft) == 0, "%u flows left past every timeout", sl_ft_count(w.ft));
	sl_worker_fini(&w);
	return 0;
}
