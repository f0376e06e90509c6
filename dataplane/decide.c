/* The per-packet decision (DESIGN §3).
 *
 * A burst is handled in two passes: the first parses, classifies, hashes and
 * prefetches each packet's flow-table slot; the second, by which time the
 * slots are on their way into the cache, looks the flows up and decides.
 *
 * Forwarding rules:
 *  - client port, packet of a service: to the group's port (champion or
 *    challenger by share for a new flow, the flow's group while it lives);
 *    in mac mode the destination MAC becomes the chosen member's.
 *  - backend port, packet of a service (return traffic): to the client port,
 *    counted for the flow's group.
 *  - matching no service (ARP, ND, other hosts) and malformed packets when
 *    `malformed = forward`: client side -> every backend port (`other =
 *    flood`), backend side -> client port; `other = drop` drops them.
 *  - malformed packets (`malformed = drop`, the default): dropped. Either way
 *    they are counted by reason.
 *  - shadow port: everything received is dropped and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "maglev.h"

/* What the first pass made of a packet. */
enum { C_NONE, C_HASHED, C_COMMON, C_COMMON_PK };

/* A hashed packet's TCP flags (TCP, not an ICMP error), and whether it is
 * an unfragmented TCP segment or UDP datagram (not an ICMP error). */
#define TF_TCP 0x100u
#define TF_UDP 0x200u

/* What the burst's passes keep of a packet: one array, so that the loops
 * index one base (separate arrays each took a register or a spill). */
struct burst_pkt {
	struct sl_pkt pk;     /* C_COMMON: not filled (pkt_of fills it) */
	enum sl_bad bad;
	int16_t svc;
	uint8_t kind;
	uint8_t cls;          /* C_NONE; C_HASHED (has dig, bk, wt, tf, v6);
				 C_COMMON (hashed, the common frame:
				 sl_parse_common4), C_COMMON_PK (and pk) */
	uint16_t tf;          /* TCP flags | TF_TCP | TF_UDP */
	uint8_t v6;
	uint32_t bk[2];       /* its flow-table buckets */
	uint64_t dig;
	struct sl_ft_want wt;
};

/* The parsed packet of q (frame, len): a common frame's is made the first
 * time it is needed (off the established flow's path). */
static __attribute__((noinline)) const struct sl_pkt *pkt_of_(struct burst_pkt *q,
							     const uint8_t *frame, uint16_t len)
{
	sl_parse_common(frame, len, &q->pk);
	q->cls = C_COMMON_PK;
	return &q->pk;
}

static inline const struct sl_pkt *pkt_of(struct burst_pkt *q, const uint8_t *frame,
					  uint16_t len)
{
	return q->cls == C_COMMON ? pkt_of_(q, frame, len) : &q->pk;
}

/* Per-packet classes after the first pass. */
enum { K_DROP_BAD, K_FWD_BAD, K_OTHER, K_SVC, K_SVC_ICMP };

#define HS_TIMEOUT_DEFAULT_MS 3000u

static __attribute__((noinline, cold)) void ev_map_build(struct sl_ev_map *m,
							   const struct sl_view *v);

int sl_worker_init(struct sl_worker *w, const struct sl_config *cfg, struct sl_counters *cnt)
{
	struct sl_ft_timeouts t = {
		.tcp_syn = cfg->tcp_syn_timeout_ms,
		.tcp_est = cfg->tcp_timeout_ms,
		.tcp_fin = cfg->tcp_fin_timeout_ms,
		.tcp_closed = cfg->tcp_closed_timeout_ms,
		.other = cfg->udp_timeout_ms,
	};
	struct sl_seeds seeds;

	memset(w, 0, sizeof(*w));
	w->cnt = cnt;
	if (!cnt) {
		w->cnt = aligned_alloc(64, sizeof(*w->cnt));
		if (!w->cnt)
			return -1;
		w->own_cnt = 1;
	}
	memset(w->cnt, 0, sizeof(*w->cnt));
	sl_seeds_init(&seeds, cfg->hash_seed, cfg->group_seed, cfg->member_seed);
	w->ft = sl_ft_create(cfg->flow_capacity, sl_cfg_capacity_v6(cfg), &t, seeds.flow);
	if (!w->ft) {
		if (w->own_cnt)
			free(w->cnt);
		w->cnt = NULL;
		return -1;
	}
	w->nports = (uint8_t)cfg->nports;
	w->port_mask = (uint16_t)((1u << cfg->nports) - 1);
	for (uint32_t p = 0; p < cfg->nports; p++) {
		w->port_role[p] = cfg->ports[p].role;
		if (cfg->ports[p].role == SL_ROLE_CLIENT)
			w->client_port = (uint8_t)p;
		else if (cfg->ports[p].role == SL_ROLE_BACKEND)
			w->backend_mask |= (uint16_t)(1u << p);
	}
	w->other = cfg->other;
	w->malformed = cfg->malformed;
	w->sweep_budget = 8;
	{
		uint64_t ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms
							: HS_TIMEOUT_DEFAULT_MS;

		w->hs_timeout_us = ms * 1000u > UINT32_MAX / 2 ? UINT32_MAX / 2
							   : (uint32_t)(ms * 1000u);
	}
	ev_map_build(&w->ev, NULL);
	return 0;
}

void sl_worker_fini(struct sl_worker *w)
{
	if (w->ft)
		sl_ft_destroy(w->ft);
	if (w->own_cnt)
		free(w->cnt);
	w->ft = NULL;
	w->cnt = NULL;
}

/* ---- evidence (per flow, counted once, per service and slice x role) ---- */

/* The per-table part: roles by group, the slots of each service's slices
 * and the groups in place.  v NULL: an empty map (no table seen yet). */
static void ev_map_build(struct sl_ev_map *m, const struct sl_view *v)
{
	const struct sl_table_hdr *h = v ? v->hdr : NULL;

	memset(m->champion, 0xff, sizeof(m->champion));
	memset(m->challenger, 0xff, sizeof(m->challenger));
	memset(m->bits, 0, sizeof(m->bits));
	memset(m->slot, 0, sizeof(m->slot));
	m->hdr = h;
	m->gen = h ? h->gen : 0;
	m->live_groups = 0;
	m->mac_groups = 0;
	memset(m->gout, 0, sizeof(m->gout));
	if (!h)
		return;
	/* a group record without a name is a removed group */
	for (unsigned g = 0; g < h->ngroups && g < SL_MAX_GROUPS; g++) {
		const struct sl_group_rec *gr = &v->groups[g];

		if (gr->name[0])
			m->live_groups |= 1u << g;
		if (gr->mode == SL_MODE_MAC && gr->nmembers)
			m->mac_groups |= 1u << g;
		m->gout[g] = (uint16_t)(1u << gr->port);
	}
	for (unsigned s = 0; s < h->nservices && s < SL_MAX_SERVICES; s++) {
		m->champion[s] = h->services[s].champion;
		m->challenger[s] = h->services[s].challenger;
	}
	for (unsigned k = 0; k < h->nslices && k < SL_MAX_SLICES; k++) {
		const struct sl_slice_rec *sr = &h->slices[k];

		/* records come from shared memory: a bad one is left out */
		if (!sr->name[0] || sr->service >= SL_MAX_SERVICES ||
		    sr->bit >= SL_SLICES_PER_SERVICE || (m->bits[sr->service] >> sr->bit & 1))
			continue;
		m->bits[sr->service] |= (uint8_t)(1u << sr->bit);
		m->slot[sr->service][sr->bit] = (uint8_t)k;
	}
}

enum ev_kind { EV_FLOW, EV_HS_OK, EV_HS_FAIL, EV_RST, EV_ICMP, EV_TTFB };

static inline void ev_cell(struct sl_ev_cell *e, enum ev_kind k, unsigned b)
{
	switch (k) {
	case EV_FLOW:
		e->flows++;
		break;
	case EV_HS_OK:
		e->hs_ok++;
		e->hs_us[b]++;
		break;
	case EV_HS_FAIL:
		e->hs_fail++;
		break;
	case EV_RST:
		e->rst++;
		break;
	case EV_ICMP:
		e->icmp++;
		break;
	case EV_TTFB:
		e->ttfb_flows++;
		e->ttfb_us[b]++;
		break;
	}
}

/* Event k (histogram bucket b) of a flow of service si, group g, slice
 * mask sm: in the service's cell of the role and in the cell of each of
 * its slices.  The role is g against the roles of the table in use; a
 * flow of a third group is not counted.  Out of line, as everything the
 * evidence does past the per-packet checks: the burst loop stays small. */
static __attribute__((noinline)) void ev_add(struct sl_worker *w, unsigned si, unsigned g,
					     unsigned sm, enum ev_kind k, unsigned b)
{
	struct sl_evidence *ev = &w->cnt->ev;
	unsigned role;

	if (g == w->ev.champion[si])
		role = SL_EV_CHAMPION;
	else if (g == w->ev.challenger[si])
		role = SL_EV_CHALLENGER;
	else
		return;
	ev_cell(&ev->svc[si][role], k, b);
	sm &= w->ev.bits[si];
	while (sm) {
		unsigned bit = (unsigned)__builtin_ctz(sm);

		sm &= sm - 1;
		ev_cell(&ev->slice[w->ev.slot[si][bit]][role], k, b);
	}
}

static inline void ev_flow(struct sl_worker *w, const struct sl_flow *f, enum ev_kind k,
			   unsigned b)
{
	ev_add(w, sl_flow_service(f), sl_flow_group(f), f->slices, k, b);
}

static inline uint8_t ev_phase(const struct sl_flow *f)
{
	return f->gev & SL_EV_PHASE;
}

static inline void ev_phase_set(struct sl_flow *f, uint8_t ph)
{
	f->gev = (uint8_t)((f->gev & ~SL_EV_PHASE) | ph);
}

/* A flow leaves (expired, taken over, re-decided): a handshake still
 * awaited failed. */
static inline void ev_settle(struct sl_worker *w, const struct sl_flow *f)
{
	if (ev_phase(f) == SL_EV_SYNACK)
		ev_flow(w, f, EV_HS_FAIL, 0);
}

/* The packet carries data: TCP payload (unfragmented), any UDP datagram. */
static inline int has_data(const struct sl_pkt *p, const uint8_t *frame)
{
	if (p->proto != 6)
		return 1;
	if (p->frag != SL_FRAG_NONE || !p->l4_off)
		return 0;
	return (uint32_t)p->l3_off + p->l3_len >
	       (uint32_t)p->l4_off + (uint32_t)(frame[p->l4_off + 12] >> 4) * 4u;
}

/* Client packet of a tracked flow (not its first), in the timing phases
 * SL_EV_SYNACK and SL_EV_IDLE. */
static __attribute__((noinline)) void ev_client_slow(struct sl_worker *w, struct sl_flow *f,
						     const struct sl_pkt *p,
						     const uint8_t *frame, uint32_t now_us)
{
	uint8_t ph = ev_phase(f);

	if (ph == SL_EV_SYNACK) {
		/* a SYN retransmitted (or anything) past the timeout: failed */
		if (now_us - f->t0_us > w->hs_timeout_us) {
			ev_flow(w, f, EV_HS_FAIL, 0);
			ev_phase_set(f, SL_EV_DONE);
		}
		return;
	}
	if (has_data(p, frame)) {
		f->t0_us = now_us;
		ev_phase_set(f, SL_EV_DATA);
	}
}

static inline void ev_client(struct sl_worker *w, struct sl_flow *f, struct burst_pkt *q,
			     const uint8_t *frame, uint16_t len, uint32_t now_us)
{
	uint8_t ph = ev_phase(f);

	if (__builtin_expect(ph == SL_EV_DONE || ph == SL_EV_DATA, 1))
		return;
	ev_client_slow(w, f, pkt_of(q, frame, len), frame, now_us);
}

/* ICMP/ICMPv6 destination unreachable (ICMP type 3, ICMPv6 type 1), but
 * not IPv4's "fragmentation needed" (type 3 code 4): that one is path MTU
 * discovery at work, not a failure. */
static inline int icmp_unreach(const struct sl_pkt *p, const uint8_t *frame)
{
	const uint8_t *icmp = frame + p->l4_off;

	if (p->family == 4)
		return icmp[0] == 3 && icmp[1] != 4;
	return icmp[0] == 1;
}

/* Server packet of a tracked flow: icmp, an ICMP error quoting the flow;
 * tcp, a TCP segment of a TCP flow; rst_first, the flow's first RST from
 * the server (SL_FS_RST_S just set). */
static __attribute__((noinline)) void ev_server_slow(struct sl_worker *w, struct sl_flow *f,
						     const struct sl_pkt *p,
						     const uint8_t *frame, int icmp, int tcp,
						     int rst_first, uint32_t now_us)
{
	uint8_t ph = ev_phase(f), fl = tcp ? p->tcp_flags : 0;
	uint32_t lat;

	if (icmp) {
		if (!icmp_unreach(p, frame))
			return;
		if (!(f->gev & SL_EV_ICMP)) {
			f->gev |= SL_EV_ICMP;
			ev_flow(w, f, EV_ICMP, 0);
		}
		if (ph == SL_EV_SYNACK) {
			ev_flow(w, f, EV_HS_FAIL, 0);
			ev_phase_set(f, SL_EV_DONE);
		}
		return;
	}
	if (rst_first)
		ev_flow(w, f, EV_RST, 0);
	if (fl & SL_TCP_RST) {
		/* refused (the SYN's answer is a RST), or reset before the
		 * server's first data: nothing more to time */
		if (ph == SL_EV_SYNACK)
			ev_flow(w, f, EV_HS_FAIL, 0);
		if (ph == SL_EV_SYNACK || ph == SL_EV_DATA)
			ev_phase_set(f, SL_EV_DONE);
		return;
	}
	if (ph == SL_EV_SYNACK) {
		lat = now_us - f->t0_us;
		if ((fl & (SL_TCP_SYN | SL_TCP_ACK)) == (SL_TCP_SYN | SL_TCP_ACK)) {
			/* answered: in time, or late (a failed handshake whose
			 * connection may still serve: its TTFB is measured) */
			if (lat <= w->hs_timeout_us)
				ev_flow(w, f, EV_HS_OK, sl_hist_bucket(lat));
			else
				ev_flow(w, f, EV_HS_FAIL, 0);
			ev_phase_set(f, SL_EV_IDLE);
		} else if (lat > w->hs_timeout_us) {
			ev_flow(w, f, EV_HS_FAIL, 0);
			ev_phase_set(f, SL_EV_DONE);
		}
		return;
	}
	if (ph == SL_EV_DATA && has_data(p, frame)) {
		ev_flow(w, f, EV_TTFB, sl_hist_bucket(now_us - f->t0_us));
		ev_phase_set(f, SL_EV_DONE);
	}
}

static inline void ev_server(struct sl_worker *w, struct sl_flow *f, struct burst_pkt *q,
			     const uint8_t *frame, uint16_t len, int icmp, int tcp,
			     int rst_first, uint32_t now_us)
{
	uint8_t ph = ev_phase(f);

	/* the established flow's packets: nothing to do */
	if (__builtin_expect((ph == SL_EV_DONE || ph == SL_EV_IDLE) && !icmp && !rst_first, 1))
		return;
	ev_server_slow(w, f, pkt_of(q, frame, len), frame, icmp, tcp, rst_first, now_us);
}

/* Client source address in prefix x (family-aware). */
static inline int prefix_match(const struct sl_prefix *x, const struct sl_pkt *p)
{
	unsigned len = x->len;
	uint64_t a0, a1, b0, b1, m0, m1;

	if (x->family != p->family)
		return 0;
	len = len > 128 ? 128 : len;
	a0 = __builtin_bswap64(sl_ld64(p->src));
	a1 = __builtin_bswap64(sl_ld64(p->src + 8));
	b0 = __builtin_bswap64(sl_ld64(x->addr));
	b1 = __builtin_bswap64(sl_ld64(x->addr + 8));
	m0 = len >= 64 ? ~0ull : len ? ~0ull << (64 - len) : 0;
	m1 = len >= 128 ? ~0ull : len > 64 ? ~0ull << (128 - len) : 0;
	return (((a0 ^ b0) & m0) | ((a1 ^ b1) & m1)) == 0;
}

/* Slice mask of a new flow of service si, from its first packet (packet i
 * of the burst): source prefixes (none: any) and filter ("": any). */
static __attribute__((noinline)) uint8_t slice_mask(struct sl_worker *w,
						    const struct sl_table_hdr *h, unsigned si,
						    const struct sl_pkt *p, unsigned i, int ready)
{
	unsigned bits = w->ev.bits[si];
	uint8_t m = 0;

	while (bits) {
		unsigned bit = (unsigned)__builtin_ctz(bits), slot = w->ev.slot[si][bit];
		const struct sl_slice_rec *sr = &h->slices[slot];
		unsigned np = sr->nprefixes < SL_SLICE_PREFIXES ? sr->nprefixes
								: SL_SLICE_PREFIXES;

		bits &= bits - 1;
		if (np) {
			unsigned k = 0;

			while (k < np && !prefix_match(&sr->src[k], p))
				k++;
			if (k == np)
				continue;
		}
		/* A filter not compiled yet (the matcher is not ready for this
		 * shadow_gen) does not match: the evidence of the first flows
		 * after a change of the rule set may miss the slice. */
		if (sr->filter[0] &&
		    (!ready || !w->shadow.match(w->shadow.ctx, SL_FILTER_SLICE(slot), i)))
			continue;
		m |= (uint8_t)(1u << bit);
	}
	return m;
}

static void flow_gone(void *ctx, const struct sl_flow *f)
{
	struct sl_worker *w = ctx;
	struct sl_counters *c = w->cnt;

	c->grp[sl_flow_service(f)][sl_flow_group(f)].active--;
	c->expired++;
	ev_settle(w, f);
}

/* Handshakes of slots [pos, pos + n) unanswered past handshake_timeout
 * fail now rather than when their entry expires (tcp_syn_timeout, often
 * much later).  The slots are those the sweep just passed: in the cache. */
static void ev_scan(struct sl_worker *w, uint64_t pos, uint64_t n, uint32_t now_us)
{
	const struct sl_flowtable *ft = w->ft;

	for (uint64_t i = 0; i < n; i++, pos = pos + 1 == ft->slots ? 0 : pos + 1) {
		struct sl_flow *f = sl_ft_at(ft, pos);

		if (__builtin_expect((f->gev & SL_EV_PHASE) != SL_EV_SYNACK, 1) ||
		    !(f->state & SL_FS_USED) || now_us - f->t0_us <= w->hs_timeout_us)
			continue;
		ev_flow(w, f, EV_HS_FAIL, 0);
		ev_phase_set(f, SL_EV_DONE);
	}
}

void sl_worker_sweep(struct sl_worker *w, uint64_t now_us)
{
	uint64_t pos = w->ft->sweep_pos, to;

	sl_ft_sweep(w->ft, sl_clock_ms(now_us), w->sweep_budget, flow_gone, w);
	/* the slots the cursor went past */
	to = w->ft->sweep_pos;
	ev_scan(w, pos, to >= pos ? to - pos : to + w->ft->slots - pos, (uint32_t)now_us);
}

void sl_worker_sweep_all(struct sl_worker *w, uint64_t now_us)
{
	uint64_t slots = w->ft->slots;

	sl_ft_sweep(w->ft, sl_clock_ms(now_us), slots < UINT32_MAX ? (uint32_t)slots : UINT32_MAX,
		    flow_gone, w);
	ev_scan(w, 0, slots, (uint32_t)now_us);
}

/* Monotonic group choice (§3.3): a new flow's place on the share scale,
 * 0..SL_SHARE_MAX_BP - 1, from h1; the challenger's below share_bp, so
 * raising the share only adds flows to the challenger. */
static inline uint32_t share_point(const struct sl_table_hdr *h, uint64_t digest)
{
	return sl_hash_range(sl_hash_mix(digest, h->seed_group), SL_SHARE_MAX_BP);
}

static inline uint8_t pick_group(const struct sl_service_rec *s, uint32_t u)
{
	return u < s->share_bp ? s->challenger : s->champion;
}

static inline uint16_t pick_member(const struct sl_group_rec *g, uint64_t h2)
{
	return g->maglev[sl_maglev_slot(h2, g->maglev_size)];
}

/* Shadow rules of service s for client packet i (§5): a flow-consistent
 * sample by the rule's own seed, then the rule's filter (ready: the
 * filters of this rule set are built). */
static inline uint16_t shadow_pick(struct sl_worker *w, const struct sl_table_hdr *h,
				   const struct sl_service_rec *s, uint64_t digest, unsigned i,
				   int new_flow, int ready)
{
	struct sl_counters *c = w->cnt;
	uint16_t mask = s->shadow_mask, got = 0;

	while (mask) {
		unsigned r = (unsigned)__builtin_ctz(mask);
		const struct sl_shadow_rec *sr = &h->shadows[r];
		uint32_t u = sl_hash_range(sl_hash_mix(digest, sr->seed), SL_SHARE_MAX_BP);

		mask &= (uint16_t)(mask - 1);
		if (u >= sr->sample_bp)
			continue;
		if (!ready) {
			c->shadow[r].pending++;
			continue;
		}
		if (sr->filter[0] && !w->shadow.match(w->shadow.ctx, r, i))
			continue;
		got |= (uint16_t)(1u << r);
		c->shadow[r].pkts++;
		c->shadow[r].flows += new_flow != 0;
	}
	return got;
}

/* A connection's first segment: SYN without ACK (tf: a burst_pkt's). */
static inline int is_syn(unsigned tf)
{
	return (tf & (TF_TCP | SL_TCP_SYN | SL_TCP_ACK)) == (TF_TCP | SL_TCP_SYN);
}

/* TCP state after a packet; dir_client: sent by the client. */
static inline uint8_t tcp_next(uint8_t st, uint8_t fl, int dir_client)
{
	/* most segments: no SYN, FIN or RST */
	if (__builtin_expect(!(fl & (SL_TCP_SYN | SL_TCP_FIN | SL_TCP_RST)), 1))
		return st | SL_FS_EST;
	if (fl & SL_TCP_RST)
		st |= dir_client ? SL_FS_RST : SL_FS_RST | SL_FS_RST_S;
	if (fl & SL_TCP_FIN)
		st |= dir_client ? SL_FS_FIN_C : SL_FS_FIN_S;
	if (!(fl & SL_TCP_SYN) || (fl & SL_TCP_ACK))
		st |= SL_FS_EST;
	return st;
}

/* The group of a new flow of service s. */
static inline uint8_t decide_new(const struct sl_view *v, const struct sl_service_rec *s,
				 uint64_t digest)
{
	return pick_group(s, share_point(v->hdr, digest));
}

/* A flow's member in a mac-mode group, from its digest: members are fixed
 * for the life of the tables (attach refuses others), so every packet of
 * the flow finds the same one without the entry keeping it. */
static inline int member_of(const struct sl_view *v, const struct sl_group_rec *gr,
			    uint64_t digest)
{
	if (gr->mode != SL_MODE_MAC || !gr->nmembers)
		return -1;
	return pick_member(gr, sl_hash_mix(digest, v->hdr->seed_member));
}

void sl_decide_new_flow(const struct sl_view *v, int si, uint64_t digest,
			struct sl_decision *out)
{
	const struct sl_service_rec *s = &v->hdr->services[si];

	out->u = share_point(v->hdr, digest);
	out->group = decide_new(v, s, digest);
	out->member = member_of(v, &v->groups[out->group], digest);
}

int sl_flow_member(const struct sl_view *v, const struct sl_flow *f, uint64_t digest)
{
	return member_of(v, &v->groups[sl_flow_group(f)], digest);
}

static inline uint16_t other_mask(const struct sl_worker *w, int from_client)
{
	if (w->other == SL_OTHER_DROP)
		return 0;
	return from_client ? w->backend_mask : (uint16_t)(1u << w->client_port);
}

/* What the burst's packets of one service share, looked up once per run
 * of them: its reset epoch (sl_ft_epoch), whether it has shadow rules, its
 * groups' counters. */
struct svc_run {
	int si;
	uint8_t epoch;
	uint8_t shadow;
	struct sl_grp_counters *gc;
};

static inline const struct svc_run *run_of(struct svc_run *r, struct sl_flowtable *ft,
					   const struct sl_table_hdr *h, struct sl_counters *c,
					   int si)
{
	if (__builtin_expect(si != r->si, 0)) {
		r->si = si;
		r->epoch = sl_ft_epoch(ft, (unsigned)si, h->services[si].reset_gen);
		r->shadow = h->services[si].shadow_mask != 0;
		r->gc = c->grp[si];
	}
	return r;
}

static inline void pkts_inc(struct sl_flow *f)
{
	uint32_t n;

	/* saturates: add, and on the carry one less (add, sbb) */
	f->packets = __builtin_add_overflow(f->packets, 1u, &n) ? UINT32_MAX : n;
}

/* Client -> server packet i of service si.  ft, c and live are w's, read
 * once per burst: after a byte store (the flow's state) the compiler would
 * read them again. */
static inline void client_pkt(struct sl_worker *w, const struct sl_view *v,
			      struct sl_flowtable *ft, struct sl_counters *c, uint32_t live, int si,
			      struct burst_pkt *q, const uint8_t *frame, uint16_t len, int icmp,
			      const struct svc_run *r, uint32_t now, uint32_t now_us,
			      uint32_t now_s, unsigned i, int shadow_ready, struct sl_verdict *vd,
			      unsigned *extra)
{
	const uint8_t epoch = r->epoch;
	const uint64_t digest = q->dig;
	const unsigned tf = q->tf;
	struct sl_flow *f;
	struct sl_flow_rec old;
	enum sl_ft_result res = SL_FT_HIT;
	const struct sl_group_rec *gr;
	uint8_t g;
	int new_flow = 0, m;

	if (icmp) {
		/* An ICMP error follows its flow but never makes one. */
		f = sl_ft_lookup_at(ft, q->v6, &q->wt, q->bk, now);
		g = f ? sl_flow_group(f) : decide_new(v, &v->hdr->services[si], digest);
		goto out;
	}

	f = sl_ft_lookup_insert_at(ft, q->v6, &q->wt, digest, q->bk, now, &res, &old);
	if (res == SL_FT_HIT) {
		uint8_t fg = sl_flow_group(f);

		if (sl_flow_epoch(f) == epoch && (live >> fg & 1) &&
		    !(is_syn(tf) && sl_fs_closed(f->state))) {
			g = fg;
			f->last_seen = now;
			pkts_inc(f);
			if (tf & TF_TCP)
				f->state = tcp_next(f->state, (uint8_t)tf, 1);
			ev_client(w, f, q, frame, len, now_us);
			goto out;
		}
		/* Re-decided: --reset, a group gone, or a new connection on the
		 * 4-tuple of a closed one. */
		c->redecided++;
		c->grp[sl_flow_service(f)][fg].active--;
		ev_settle(w, f);
		f->state = SL_FS_USED;
		f->last_seen = now;
		goto fill;
	}
	if (res == SL_FT_FULL) {
		c->ft_full++;
		g = decide_new(v, &v->hdr->services[si], digest);
		/* Stateless: no entry, so neither this flow's outcome (SYN-ACK,
		 * RST, ICMP, TTFB) nor whether a packet starts it can be seen.
		 * It is no evidence either way (ft_full counts it): an exposure
		 * whose failures cannot be counted would dilute the rates. */
		goto out;
	}
	if (res == SL_FT_REUSED)
		flow_gone(w, &old.f);
fill:
	g = decide_new(v, &v->hdr->services[si], digest);
	sl_flow_set_service(f, (unsigned)si);
	f->born = (now_s & SL_FLOW_BORN_S) | (uint32_t)epoch << 24;
	f->packets = 1;
	/* Evidence: the slices, and what is timed first: a SYN's handshake, a
	 * UDP flow's first answer; a TCP flow picked up mid-stream is not
	 * timed. */
	f->slices = w->ev.bits[si] ? slice_mask(w, v->hdr, (unsigned)si, pkt_of(q, frame, len), i,
						shadow_ready)
				   : 0;
	f->t0_us = now_us;
	if (tf & TF_TCP) {
		uint8_t st = SL_FS_USED | SL_FS_TCP;

		if (tf & SL_TCP_SYN)
			st |= SL_FS_SYN;
		f->state = tcp_next(st, (uint8_t)tf, 1);
		f->gev = (uint8_t)(g | (is_syn(tf) ? SL_EV_SYNACK : SL_EV_DONE));
	} else {
		f->gev = (uint8_t)(g | (tf & TF_UDP ? SL_EV_DATA : SL_EV_DONE));
	}
	c->grp[si][g].flows++;
	c->grp[si][g].active++;
	ev_flow(w, f, EV_FLOW, 0);
	new_flow = 1;

out:
	r->gc[g].pkts++;
	r->gc[g].bytes += len;
	/* the group's port and mode from the evidence map (per table) */
	vd->out = w->ev.gout[g];
	if (__builtin_expect(w->ev.mac_groups >> g & 1, 0)) {
		gr = &v->groups[g];
		m = member_of(v, gr, digest);
		vd->has_dmac = 1;
		*extra = 1;
		memcpy(vd->dmac, gr->macs[m], 6);
	}
	/* ICMP errors are not requests: the shadow sees the flow's own packets */
	if (r->shadow && !icmp) {
		*extra = 1;
		vd->shadow = shadow_pick(w, v->hdr, &v->hdr->services[si], digest, i, new_flow,
					 shadow_ready);
	}
}

/* Server -> client packet of service si, received on backend port in_port. */
static inline uint16_t return_pkt(struct sl_worker *w, const struct sl_view *v,
				  const struct sl_flowtable *ft, struct sl_counters *c, int si,
				  struct burst_pkt *q, const uint8_t *frame, uint16_t len, int icmp,
				  uint8_t in_port, uint32_t now, uint32_t now_us)
{
	const struct sl_service_rec *s = &v->hdr->services[si];
	struct sl_flow *f = sl_ft_lookup_at(ft, q->v6, &q->wt, q->bk, now);
	const unsigned tf = q->tf;
	struct sl_grp_counters *gc;
	uint8_t g;

	if (f) {
		int tcp = (tf & TF_TCP) && (f->state & SL_FS_TCP);
		uint8_t st0 = f->state;

		g = sl_flow_group(f);
		f->last_seen = now;
		if (!icmp)
			pkts_inc(f);
		if (tcp)
			f->state = tcp_next(st0, (uint8_t)tf, 0);
		ev_server(w, f, q, frame, len, icmp, tcp, (f->state & ~st0 & SL_FS_RST_S) != 0,
			  now_us);
	} else {
		c->ret_untracked++;
		g = v->groups[s->challenger].port == in_port ? s->challenger : s->champion;
	}
	gc = &c->grp[si][g];
	gc->ret_pkts++;
	gc->ret_bytes += len;
	/* tf's flags: TCP's, 0 for others and ICMP errors */
	gc->ret_rst += (tf & SL_TCP_RST) != 0;
	gc->ret_synack += (tf & (SL_TCP_SYN | SL_TCP_ACK)) == (SL_TCP_SYN | SL_TCP_ACK);
	return (uint16_t)(1u << w->client_port);
}

/* ICMP errors of a service, out of the burst loop: rare, and the loop's
 * copies of client_pkt and return_pkt then know icmp is 0. */
static __attribute__((noinline)) void client_icmp(struct sl_worker *w, const struct sl_view *v,
						  int si, struct burst_pkt *q,
						  const uint8_t *frame, uint16_t len, uint32_t now,
						  uint32_t now_us, uint32_t now_s, unsigned i,
						  int shadow_ready, struct sl_verdict *vd,
						  unsigned *extra)
{
	struct svc_run r = { .si = -1 };

	client_pkt(w, v, w->ft, w->cnt, w->ev.live_groups, si, q, frame, len, 1,
		   run_of(&r, w->ft, v->hdr, w->cnt, si), now, now_us, now_s, i, shadow_ready, vd,
		   extra);
}

static __attribute__((noinline)) uint16_t return_icmp(struct sl_worker *w,
						      const struct sl_view *v, int si,
						      struct burst_pkt *q, const uint8_t *frame,
						      uint16_t len, uint8_t in_port, uint32_t now,
						      uint32_t now_us)
{
	return return_pkt(w, v, w->ft, w->cnt, si, q, frame, len, 1, in_port, now, now_us);
}

/* The service of an IPv4 address (as it lies in the frame), protocol and
 * port: out of line, once per run of packets to one service. */
static __attribute__((noinline)) int find_service4(const struct sl_table_hdr *h, uint8_t proto,
						   uint32_t addr, uint16_t port)
{
	uint8_t a[16] = { 0 };

	__builtin_memcpy(a, &addr, 4);
	return sl_find_service(h, 4, proto, a, port, 0);
}

/* A burst from a client port (from_client) or a backend port: one copy of
 * the loops each, the direction's tests out of them. */
static inline __attribute__((always_inline)) int
decide_burst(struct sl_worker *w, const struct sl_view *v, uint8_t in_port,
	     const uint8_t *const *data, const uint16_t *len, uint16_t n, uint64_t now,
	     struct sl_verdict *vd, const int from_client)
{
	struct burst_pkt bp[SL_BURST];
	struct sl_key key[SL_BURST];
	struct sl_counters *c = w->cnt;
	const struct sl_table_hdr *h = v->hdr;
	/* fixed for the burst: where other traffic goes, what a malformed
	 * packet becomes */
	const uint16_t other = other_mask(w, from_client);
	const uint8_t bad_kind = w->malformed == SL_MALFORMED_FORWARD ? K_FWD_BAD : K_DROP_BAD;
	const int shadow_ready = w->shadow.match && w->shadow.ready_gen == h->shadow_gen;
	const uint32_t now_ms = sl_clock_ms(now), now_us = (uint32_t)now;
	const uint32_t now_s = (uint32_t)(now / 1000000u);

	if (__builtin_expect(w->ev.hdr != h || w->ev.gen != h->gen, 0))
		ev_map_build(&w->ev, v);
	/* read once: stores of bytes in the loops below may alias anything */
	struct sl_flowtable *const ft = w->ft;
	const uint64_t seed = h->seed_flow;
	const uint32_t live = w->ev.live_groups;

	/* The service of the last packet looked up, for the next: a burst's
	 * packets mostly go to few services (valid for this burst's table).
	 * Common frames have their own cache: one word says which service. */
	uint64_t last_a0 = 0, last_a1 = 0, last_meta = ~0ull, last4 = ~0ull;
	int last_svc = -1, last_svc4 = -1;
	uint8_t kind4 = K_OTHER;
	uint16_t nslow = 0;

	/* Stage by stage over the burst: the iterations of each loop are
	 * independent, so the CPU overlaps packets.  Flow-table slots are
	 * prefetched right after parsing (services are TCP or UDP; a few
	 * digests of other traffic are wasted) so that the lookups run while
	 * the lines come in. */
	for (uint16_t i = 0; i < n; i++) {
		struct burst_pkt *q = &bp[i];
		struct sl_common4 c4;

		/* the common frame: its key words, digest, want and service
		 * straight from its fields, no struct sl_pkt (made only if a
		 * slow path needs it) */
		if (__builtin_expect(sl_parse_common4(data[i], len[i], &c4), 1)) {
			uint64_t ab, w4, a0;

			q->cls = C_COMMON;
			q->v6 = 0;
			q->tf = c4.proto == 6 ? c4.tcp_flags | TF_TCP : TF_UDP;
			sl_key4_common(c4.addrs, c4.ports, c4.proto, &ab, &w4);
			q->dig = sl_hash4(ab, w4, seed);
			sl_ft_want4(&q->wt, ab, w4);
			sl_ft_buckets(&ft->part[0], q->dig, &q->bk[0], &q->bk[1]);
			/* the service side: address and port, as on the wire */
			a0 = from_client ? c4.addrs >> 32 | (uint64_t)(c4.ports >> 16) << 32
					 : (c4.addrs & 0xffffffffu) | (uint64_t)(c4.ports & 0xffff) << 32;
			a0 |= (uint64_t)c4.proto << 48;
			if (__builtin_expect(a0 != last4, 0)) {
				last_svc4 = find_service4(h, c4.proto, (uint32_t)a0,
							  __builtin_bswap16((uint16_t)(a0 >> 32)));
				last4 = a0;
				kind4 = last_svc4 < 0 ? K_OTHER : K_SVC;
			}
			q->svc = (int16_t)last_svc4;
			q->kind = kind4;
			continue;
		}
		nslow++;
		q->cls = C_NONE;
		q->bad = sl_parse_full(data[i], len[i], &q->pk);
		if (q->bad == SL_OK && (q->pk.proto == 6 || q->pk.proto == 17) && q->pk.family) {
			const struct sl_pkt *p = &q->pk;
			int whole = !p->icmp_err && p->frag == SL_FRAG_NONE;

			q->cls = C_HASHED;
			q->v6 = p->family == 6;
			q->tf = p->icmp_err ? 0
				: p->proto == 6 ? p->tcp_flags | (whole ? TF_TCP : 0)
						: (whole ? TF_UDP : 0);
			q->dig = sl_key_digest(&key[i], p, seed);
			sl_ft_want_init(&q->wt, &key[i]);
			sl_ft_buckets(&ft->part[q->v6], q->dig, &q->bk[0], &q->bk[1]);
		}
	}
	/* The prefetches back to back, not between the hashes: a prefetch
	 * that misses the TLB holds up retirement until its page walk is done
	 * (seen in a VM: a few hundred ns), so only prefetches that are in
	 * the reorder window together overlap their misses. */
	if (__builtin_expect(nslow == 0, 1))
		for (uint16_t i = 0; i < n; i++)
			sl_ft_prefetch_b(ft, 4, bp[i].bk);
	else
		for (uint16_t i = 0; i < n; i++)
			if (bp[i].cls == C_COMMON)
				sl_ft_prefetch_b(ft, 4, bp[i].bk);
			else if (bp[i].cls == C_HASHED)
				sl_ft_prefetch_b(ft, bp[i].pk.family, bp[i].bk);

	/* the service of the other frames */
	for (uint16_t i = 0; nslow && i < n; i++) {
		const struct sl_pkt *p = &bp[i].pk;
		const uint8_t *addr;
		uint16_t port;
		uint64_t a0, a1, meta;

		if (bp[i].cls == C_COMMON)
			continue;
		if (bp[i].bad != SL_OK) {
			c->malformed[bp[i].bad]++;
			bp[i].kind = bad_kind;
			continue;
		}
		if (p->family == 0) {
			bp[i].kind = K_OTHER;
			continue;
		}
		/* The service side of the packet: the destination going to the
		 * servers, the source coming back; an ICMP error quotes a packet
		 * that travelled the other way. */
		if (from_client ^ p->icmp_err) {
			addr = p->dst;
			port = p->dport;
		} else {
			addr = p->src;
			port = p->sport;
		}
		a0 = sl_ld64(addr);
		a1 = sl_ld64(addr + 8);
		meta = p->family | (uint32_t)p->proto << 8 | (uint32_t)port << 16 |
		       (uint64_t)(p->frag != SL_FRAG_NONE) << 32;
		if (a0 != last_a0 || a1 != last_a1 || meta != last_meta) {
			last_svc = sl_find_service(h, p->family, p->proto, addr, port,
						   p->frag != SL_FRAG_NONE);
			last_a0 = a0;
			last_a1 = a1;
			last_meta = meta;
		}
		bp[i].svc = (int16_t)last_svc;
		bp[i].kind = bp[i].svc < 0 ? K_OTHER : p->icmp_err ? K_SVC_ICMP : K_SVC;
	}

	/* the last service decided, for the next */
	struct svc_run run = { .si = -1 };
	/* set where a verdict gets shadow copies or a MAC */
	unsigned extra = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct sl_verdict *o = &vd[i];
		struct burst_pkt *q = &bp[i];

		o->shadow = 0;
		o->has_dmac = 0;
		switch (q->kind) {
		case K_SVC:
			if (from_client)
				client_pkt(w, v, ft, c, live, q->svc, q, data[i], len[i], 0,
					   run_of(&run, ft, h, c, q->svc), now_ms, now_us, now_s,
					   i, shadow_ready, o, &extra);
			else
				o->out = return_pkt(w, v, ft, c, q->svc, q, data[i], len[i], 0,
						    in_port, now_ms, now_us);
			break;
		case K_SVC_ICMP:
			if (from_client)
				client_icmp(w, v, q->svc, q, data[i], len[i], now_ms, now_us,
					    now_s, i, shadow_ready, o, &extra);
			else
				o->out = return_icmp(w, v, q->svc, q, data[i], len[i], in_port,
						     now_ms, now_us);
			break;
		case K_OTHER:
			o->out = other;
			if (o->out)
				c->other_fwd++;
			else
				c->other_drop++;
			break;
		case K_FWD_BAD:
			o->out = other;
			if (o->out)
				c->malformed_fwd++;
			else
				c->malformed_drop++;
			break;
		default:
			o->out = 0;
			c->malformed_drop++;
			break;
		}
	}
	return extra != 0;
}

int sl_decide_burst(struct sl_worker *w, const struct sl_view *v, uint8_t in_port,
		    const uint8_t *const *data, const uint16_t *len, uint16_t n,
		    uint64_t now, struct sl_verdict *vd)
{
	switch (w->port_role[in_port]) {
	case SL_ROLE_CLIENT:
		return decide_burst(w, v, in_port, data, len, n, now, vd, 1);
	case SL_ROLE_SHADOW:
		/* Challenger output never reaches a user. */
		memset(vd, 0, n * sizeof(*vd));
		w->cnt->shadow_rx_drop += n;
		return 0;
	default:
		return decide_burst(w, v, in_port, data, len, n, now, vd, 0);
	}
}
