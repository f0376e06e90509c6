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

/* Per-packet classes after the first pass. */
enum { K_DROP_BAD, K_FWD_BAD, K_OTHER, K_SVC, K_SVC_ICMP };

int sl_worker_init(struct sl_worker *w, const struct sl_config *cfg, struct sl_counters *cnt)
{
	struct sl_ft_timeouts t = {
		.tcp_syn = cfg->tcp_syn_timeout_ms,
		.tcp_est = cfg->tcp_timeout_ms,
		.tcp_fin = cfg->tcp_fin_timeout_ms,
		.tcp_closed = cfg->tcp_closed_timeout_ms,
		.other = cfg->udp_timeout_ms,
	};

	memset(w, 0, sizeof(*w));
	w->cnt = cnt;
	if (!cnt) {
		w->cnt = aligned_alloc(64, sizeof(*w->cnt));
		if (!w->cnt)
			return -1;
		w->own_cnt = 1;
	}
	memset(w->cnt, 0, sizeof(*w->cnt));
	w->ft = sl_ft_create(cfg->flow_capacity, &t);
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

static void flow_gone(void *ctx, const struct sl_flow *f)
{
	struct sl_counters *c = ctx;

	c->grp[f->service][f->group].active--;
	c->expired++;
}

void sl_worker_sweep(struct sl_worker *w, uint32_t now_ms)
{
	sl_ft_sweep(w->ft, now_ms, w->sweep_budget, flow_gone, w->cnt);
}

void sl_worker_sweep_all(struct sl_worker *w, uint32_t now_ms)
{
	uint64_t slots = w->ft->mask + 1;

	sl_ft_sweep(w->ft, now_ms, slots < UINT32_MAX ? (uint32_t)slots : UINT32_MAX, flow_gone,
		    w->cnt);
}

/* Monotonic group choice (§3.3): u in [0, 10000) from the top of h1;
 * raising the share only adds flows to the challenger. */
static inline uint8_t pick_group(const struct sl_service_rec *s, uint64_t h1)
{
	return sl_hash_range(h1, SL_SHARE_MAX_BP) < s->share_bp ? s->challenger : s->champion;
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

/* TCP state after a packet; dir_client: sent by the client. */
static inline uint8_t tcp_next(uint8_t st, uint8_t fl, int dir_client)
{
	if (fl & SL_TCP_RST)
		st |= SL_FS_RST;
	if (fl & SL_TCP_FIN)
		st |= dir_client ? SL_FS_FIN_C : SL_FS_FIN_S;
	if (!(fl & SL_TCP_SYN) || (fl & SL_TCP_ACK))
		st |= SL_FS_EST;
	return st;
}

/* Decide a new flow of service s and fill the entry (if any). Returns the
 * group; *mac is the member MAC in mac mode. */
static inline uint8_t decide_new(const struct sl_view *v, const struct sl_service_rec *s,
				 uint64_t digest, uint16_t *member, const uint8_t **mac)
{
	const struct sl_table_hdr *h = v->hdr;
	uint8_t g = pick_group(s, sl_hash_mix(digest, h->seed_group));
	const struct sl_group_rec *gr = &v->groups[g];

	*member = 0;
	*mac = NULL;
	if (gr->mode == SL_MODE_MAC && gr->nmembers) {
		*member = pick_member(gr, sl_hash_mix(digest, h->seed_member));
		*mac = gr->macs[*member];
	}
	return g;
}

static inline uint16_t other_mask(const struct sl_worker *w, int from_client)
{
	if (w->other == SL_OTHER_DROP)
		return 0;
	return from_client ? w->backend_mask : (uint16_t)(1u << w->client_port);
}

/* Client -> server packet i of service si. */
static inline void client_pkt(struct sl_worker *w, const struct sl_view *v, int si,
			      const struct sl_pkt *p, const struct sl_key *k, uint64_t digest,
			      uint16_t len, int icmp, uint32_t now, unsigned i, int shadow_ready,
			      struct sl_verdict *vd)
{
	const struct sl_service_rec *s = &v->hdr->services[si];
	struct sl_counters *c = w->cnt;
	struct sl_flow *f, old;
	enum sl_ft_result res = SL_FT_HIT;
	const struct sl_group_rec *gr;
	const uint8_t *mac;
	uint16_t member;
	uint8_t g;
	int is_tcp = p->proto == 6 && !icmp && p->frag == SL_FRAG_NONE, new_flow = 0;

	c->svc_pkts[si]++;
	if (icmp) {
		/* An ICMP error follows its flow but never makes one. */
		f = sl_ft_lookup(w->ft, k, digest, now);
		if (f) {
			g = f->group;
			mac = f->mac;
			gr = &v->groups[g];
			goto out_flow;
		}
		g = decide_new(v, s, digest, &member, &mac);
		gr = &v->groups[g];
		goto out;
	}

	f = sl_ft_lookup_insert(w->ft, k, digest, now, &res, &old);
	if (res == SL_FT_HIT) {
		int syn = is_tcp && (p->tcp_flags & (SL_TCP_SYN | SL_TCP_ACK)) == SL_TCP_SYN;

		/* A group record without a name is a removed group. */
		if (f->gen >= s->reset_gen && f->group < v->hdr->ngroups &&
		    v->groups[f->group].name[0] && !(syn && sl_fs_closed(f->state))) {
			g = f->group;
			f->last_seen = now;
			if (is_tcp)
				f->state = tcp_next(f->state, p->tcp_flags, 1);
			gr = &v->groups[g];
			mac = f->mac;
			goto out_flow;
		}
		/* Re-decided: --reset, a group gone, or a new connection on the
		 * 4-tuple of a closed one. */
		c->redecided++;
		c->grp[f->service][f->group].active--;
		f->state = SL_FS_USED;
		f->last_seen = now;
		goto fill;
	}
	if (res == SL_FT_FULL) {
		c->ft_full++;
		g = decide_new(v, s, digest, &member, &mac);
		gr = &v->groups[g];
		goto out;
	}
	if (res == SL_FT_REUSED)
		flow_gone(c, &old);
fill:
	g = decide_new(v, s, digest, &member, &mac);
	gr = &v->groups[g];
	f->service = (uint16_t)si;
	f->group = g;
	f->member = member;
	f->gen = v->hdr->gen;
	if (mac)
		memcpy(f->mac, mac, 6);
	else
		memset(f->mac, 0, 6);
	if (is_tcp) {
		uint8_t st = SL_FS_USED | SL_FS_TCP;

		if (p->tcp_flags & SL_TCP_SYN)
			st |= SL_FS_SYN;
		f->state = tcp_next(st, p->tcp_flags, 1);
	}
	c->grp[si][g].flows++;
	c->grp[si][g].active++;
	new_flow = 1;
	goto out;

out_flow:
	/* A sticky flow keeps its member; a flow decided while its group was in
	 * port mode gets one now. */
	if (gr->mode == SL_MODE_MAC && gr->nmembers && !(f->mac[0] | f->mac[1] |
			f->mac[2] | f->mac[3] | f->mac[4] | f->mac[5])) {
		member = pick_member(gr, sl_hash_mix(digest, v->hdr->seed_member));
		memcpy(f->mac, gr->macs[member], 6);
		f->member = member;
	}
out:
	c->grp[si][g].pkts++;
	c->grp[si][g].bytes += len;
	vd->out = (uint16_t)(1u << gr->port);
	if (gr->mode == SL_MODE_MAC && mac && gr->nmembers) {
		vd->has_dmac = 1;
		memcpy(vd->dmac, mac, 6);
	}
	/* ICMP errors are not requests: the shadow sees the flow's own packets */
	if (s->shadow_mask && !icmp)
		vd->shadow = shadow_pick(w, v->hdr, s, digest, i, new_flow, shadow_ready);
}

/* Server -> client packet of service si, received on backend port in_port. */
static inline uint16_t return_pkt(struct sl_worker *w, const struct sl_view *v, int si,
				  const struct sl_pkt *p, const struct sl_key *k,
				  uint64_t digest, uint16_t len, int icmp, uint8_t in_port,
				  uint32_t now)
{
	const struct sl_service_rec *s = &v->hdr->services[si];
	struct sl_counters *c = w->cnt;
	struct sl_flow *f = sl_ft_lookup(w->ft, k, digest, now);
	struct sl_grp_counters *gc;
	uint8_t g;

	if (f) {
		g = f->group;
		f->last_seen = now;
		if (p->proto == 6 && !icmp && p->frag == SL_FRAG_NONE && (f->state & SL_FS_TCP))
			f->state = tcp_next(f->state, p->tcp_flags, 0);
	} else {
		c->ret_untracked++;
		g = v->groups[s->challenger].port == in_port ? s->challenger : s->champion;
	}
	gc = &c->grp[si][g];
	gc->ret_pkts++;
	gc->ret_bytes += len;
	if (p->proto == 6 && !icmp) {
		gc->ret_rst += (p->tcp_flags & SL_TCP_RST) != 0;
		gc->ret_synack += (p->tcp_flags & (SL_TCP_SYN | SL_TCP_ACK)) ==
				  (SL_TCP_SYN | SL_TCP_ACK);
	}
	return (uint16_t)(1u << w->client_port);
}

void sl_decide_burst(struct sl_worker *w, const struct sl_view *v, uint8_t in_port,
		     const uint8_t *const *data, const uint16_t *len, uint16_t n,
		     uint32_t now_ms, struct sl_verdict *vd)
{
	struct sl_pkt pk[SL_BURST];
	struct sl_key key[SL_BURST];
	uint64_t dig[SL_BURST];
	int16_t svc[SL_BURST];
	uint8_t kind[SL_BURST];
	enum sl_bad bad[SL_BURST];
	struct sl_counters *c = w->cnt;
	const struct sl_table_hdr *h = v->hdr;
	int from_client = w->port_role[in_port] == SL_ROLE_CLIENT;
	/* fixed for the burst: where other traffic goes, what a malformed
	 * packet becomes */
	const uint16_t other = other_mask(w, from_client);
	const uint8_t bad_kind = w->malformed == SL_MALFORMED_FORWARD ? K_FWD_BAD : K_DROP_BAD;
	const int shadow_ready = w->shadow.match && w->shadow.ready_gen == h->shadow_gen;

	if (w->port_role[in_port] == SL_ROLE_SHADOW) {
		/* Challenger output never reaches a user. */
		memset(vd, 0, n * sizeof(*vd));
		c->shadow_rx_drop += n;
		return;
	}

	/* Stage by stage over the burst: the iterations of each loop are
	 * independent, so the CPU overlaps packets.  Flow-table slots are
	 * prefetched right after parsing (services are TCP or UDP; a few
	 * digests of other traffic are wasted) so that classification runs
	 * while the lines come in. */
	for (uint16_t i = 0; i < n; i++)
		bad[i] = sl_parse(data[i], len[i], &pk[i]);

	for (uint16_t i = 0; i < n; i++) {
		if (bad[i] != SL_OK || (pk[i].proto != 6 && pk[i].proto != 17) || !pk[i].family)
			continue;
		dig[i] = sl_key_digest(&key[i], &pk[i], h->seed_flow);
		sl_ft_prefetch(w->ft, dig[i]);
	}

	for (uint16_t i = 0; i < n; i++) {
		const struct sl_pkt *p = &pk[i];
		const uint8_t *addr;
		uint16_t port;

		if (bad[i] != SL_OK) {
			c->malformed[bad[i]]++;
			kind[i] = bad_kind;
			continue;
		}
		if (p->family == 0) {
			kind[i] = K_OTHER;
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
		svc[i] = (int16_t)sl_find_service(h, p->family, p->proto, addr, port,
						  p->frag != SL_FRAG_NONE);
		kind[i] = svc[i] < 0 ? K_OTHER : p->icmp_err ? K_SVC_ICMP : K_SVC;
	}

	for (uint16_t i = 0; i < n; i++) {
		struct sl_verdict *o = &vd[i];

		o->shadow = 0;
		o->has_dmac = 0;
		switch (kind[i]) {
		case K_SVC:
		case K_SVC_ICMP:
			if (from_client)
				client_pkt(w, v, svc[i], &pk[i], &key[i], dig[i], len[i],
					   kind[i] == K_SVC_ICMP, now_ms, i, shadow_ready, o);
			else
				o->out = return_pkt(w, v, svc[i], &pk[i], &key[i], dig[i], len[i],
						    kind[i] == K_SVC_ICMP, in_port, now_ms);
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
}
