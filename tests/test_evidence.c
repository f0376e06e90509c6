/* Evidence counted by the dataplane, per service and slice x role (layout
 * v4 struct sl_evidence): new flows, handshakes (SYN -> SYN-ACK within
 * handshake_timeout, histogram), resets from the server, ICMP unreachable
 * from the backend side, TTFB (histogram).  Crafted frames go through
 * sl_decide_burst and sl_worker_sweep on a clock the test sets; only the
 * counters are looked at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "pktbuild.h"
#include "tables.h"
#include "testcfg.h"
#include "unit.h"

#define T0 5000000ull /* us: the clock starts 5 s in */

struct ev {
	struct sl_config *c;
	struct sl_worker w;
	struct sl_view v;
	struct sl_table_hdr *hdr;
	struct sl_group_rec *groups;
};

/* The slice filter stand-in: program r matches while yes[r] is set. */
struct fmatch {
	uint8_t yes[SL_FILTER_PROGS];
	unsigned asked[SL_FILTER_PROGS];
};

static int fmatch_fn(void *ctx, unsigned r, unsigned i)
{
	struct fmatch *m = ctx;

	(void)i;
	if (r >= SL_FILTER_PROGS)
		return 0;
	m->asked[r]++;
	return m->yes[r];
}

/* c is taken over (freed by ev_end). */
static void ev_start(struct ev *e, struct sl_config *c)
{
	char err[256];

	memset(e, 0, sizeof(*e));
	e->c = c;
	CU_ASSERT_EQUAL_FATAL(sl_worker_init(&e->w, c, NULL), 0);
	e->hdr = calloc(1, sizeof(*e->hdr));
	e->groups = calloc(SL_MAX_GROUPS, sizeof(*e->groups));
	CU_ASSERT_FATAL(e->hdr && e->groups);
	CU_ASSERT_EQUAL_FATAL(sl_tables_build(e->hdr, e->groups, c, 1, err, sizeof(err)), 0);
	e->v.hdr = e->hdr;
	e->v.groups = e->groups;
}

static void ev_matcher(struct ev *e, struct fmatch *m)
{
	e->w.shadow.match = fmatch_fn;
	e->w.shadow.ctx = m;
	e->w.shadow.ready_gen = e->hdr->shadow_gen;
}

static void ev_end(struct ev *e)
{
	sl_worker_fini(&e->w);
	free(e->hdr);
	free(e->groups);
	free(e->c);
}

static uint16_t ev_frame(struct ev *e, uint8_t port, uint8_t *frame, uint16_t len,
			 uint64_t now_us)
{
	const uint8_t *d[1] = { frame };
	uint16_t l[1] = { len };
	struct sl_verdict vd = { .out = 0 };

	sl_decide_burst(&e->w, &e->v, port, d, l, 1, now_us, &vd);
	return vd.out;
}

/* Client -> server segment; returns the output mask. */
static uint16_t cli(struct ev *e, const struct tb_flow *f, uint8_t flags, uint16_t payload,
		    uint64_t now_us)
{
	uint8_t buf[2048];

	return ev_frame(e, TC_CLIENT, buf, tb_frame(buf, f, 0, flags, payload), now_us);
}

/* Server -> client segment, received on backend port `port`. */
static void srv(struct ev *e, uint8_t port, const struct tb_flow *f, uint8_t flags,
		uint16_t payload, uint64_t now_us)
{
	uint8_t buf[2048];

	CU_ASSERT_EQUAL(ev_frame(e, port, buf, tb_frame(buf, f, 1, flags, payload), now_us),
			1u << TC_CLIENT);
}

/* An ICMP(v6) error from the backend side quoting the client's SYN of f
 * (as a router or the server's host sends it towards the client). */
static uint16_t icmp_frame(uint8_t *buf, const struct tb_flow *f, uint8_t type, uint8_t code)
{
	uint8_t seg[256];
	uint16_t ls = tb_frame(seg, f, 0, SL_TCP_SYN, 0), q = (uint16_t)(ls - 14);

	memcpy(buf, seg + 6, 6);
	memcpy(buf + 6, seg, 6);
	if (f->family == 4) {
		uint8_t *ip = buf + 14;

		buf[12] = 0x08;
		buf[13] = 0x00;
		memset(ip, 0, 28);
		ip[0] = 0x45;
		tb_put16(ip + 2, (uint16_t)(28 + q));
		ip[8] = 64;
		ip[9] = 1;
		memcpy(ip + 12, f->dst, 4);
		memcpy(ip + 16, f->src, 4);
		ip[20] = type;
		ip[21] = code;
		memcpy(buf + 42, seg + 14, q);
		return (uint16_t)(42 + q);
	} else {
		uint8_t *ip = buf + 14;

		buf[12] = 0x86;
		buf[13] = 0xdd;
		memset(ip, 0, 48);
		ip[0] = 0x60;
		tb_put16(ip + 4, (uint16_t)(8 + q));
		ip[6] = 58;
		ip[7] = 64;
		memcpy(ip + 8, f->dst, 16);
		memcpy(ip + 24, f->src, 16);
		ip[40] = type;
		ip[41] = code;
		memcpy(buf + 62, seg + 14, q);
		return (uint16_t)(62 + q);
	}
}

static const struct sl_ev_cell *svc_cell(const struct ev *e, unsigned s, unsigned role)
{
	return &e->w.cnt->ev.svc[s][role];
}

static const struct sl_ev_cell *slice_cell(const struct ev *e, unsigned slot, unsigned role)
{
	return &e->w.cnt->ev.slice[slot][role];
}

static uint64_t hist_sum(const uint64_t *h)
{
	uint64_t n = 0;

	for (unsigned k = 0; k < SL_HIST_BUCKETS; k++)
		n += h[k];
	return n;
}

/* The one bucket of h holding a count, or -1. */
static int hist_only(const uint64_t *h)
{
	int at = -1;

	for (unsigned k = 0; k < SL_HIST_BUCKETS; k++)
		if (h[k]) {
			if (at >= 0 || h[k] != 1)
				return -2;
			at = (int)k;
		}
	return at;
}

static void slice_add(struct sl_config *c, const char *name, uint8_t svc, const char *filter)
{
	struct sl_cfg_slice *s = &c->slices[c->nslices++];

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->service = svc;
	snprintf(s->filter, sizeof(s->filter), "%s", filter);
}

static void slice_src(struct sl_config *c, int family, const uint8_t *addr, uint8_t len)
{
	struct sl_cfg_slice *s = &c->slices[c->nslices - 1];
	struct sl_prefix *p = &s->src[s->nprefixes++];

	memset(p, 0, sizeof(*p));
	memcpy(p->addr, addr, family == 4 ? 4 : 16);
	p->family = (uint8_t)family;
	p->len = len;
}

/* ---- the histogram ---- */

static void test_hist_buckets(void)
{
	/* every latency is in [edge(k), edge(k + 1)) of its bucket k */
	for (uint64_t us = 1; us < 20000000; us = us * 17 / 16 + 1) {
		unsigned k = sl_hist_bucket(us);

		CU_ASSERT(sl_hist_edge(k) <= us);
		/* below 4 us the quarter-octave edges round to the same integers */
		if (k + 1 < SL_HIST_BUCKETS && us >= 4)
			CU_ASSERT(us < sl_hist_edge(k + 1));
	}
	CU_ASSERT_EQUAL(sl_hist_bucket(0), 0);
	CU_ASSERT_EQUAL(sl_hist_bucket(1500), 42); /* [1280, 1536) */
	CU_ASSERT_EQUAL(sl_hist_edge(42), 1280);
	CU_ASSERT_EQUAL(sl_hist_edge(43), 1536);
	CU_ASSERT_EQUAL(sl_hist_bucket(UINT64_MAX), SL_HIST_BUCKETS - 1);
}

/* ---- handshakes ---- */

/* SYN, SYN-ACK 1500 us later: one handshake in time, in bucket 42. */
static void test_handshake_ok(void)
{
	struct ev e;
	struct tb_flow f;
	const struct sl_ev_cell *ch, *cc;

	ev_start(&e, tc_config(0)); /* every flow on blue, the champion */
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	CU_ASSERT_EQUAL(cli(&e, &f, SL_TCP_SYN, 0, T0), 1u << TC_BLUE);
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	cc = svc_cell(&e, TC_S_WEB, SL_EV_CHALLENGER);
	CU_ASSERT_EQUAL(ch->flows, 1);
	CU_ASSERT_EQUAL(ch->hs_ok + ch->hs_fail, 0);
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 1500);
	CU_ASSERT_EQUAL(ch->hs_ok, 1);
	CU_ASSERT_EQUAL(ch->hs_fail, 0);
	CU_ASSERT_EQUAL(hist_only(ch->hs_us), 42);
	/* a duplicate SYN-ACK is no second handshake */
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 2500);
	cli(&e, &f, SL_TCP_ACK, 0, T0 + 2600);
	CU_ASSERT_EQUAL(ch->hs_ok, 1);
	CU_ASSERT_EQUAL(hist_sum(ch->hs_us), 1);
	CU_ASSERT_EQUAL(ch->rst + ch->icmp + ch->ttfb_flows, 0);
	/* nothing in the other role, the other services */
	CU_ASSERT_EQUAL(cc->flows + cc->hs_ok + cc->hs_fail, 0);
	CU_ASSERT_EQUAL(svc_cell(&e, TC_S_DNS, SL_EV_CHAMPION)->flows, 0);
	/* the sweep settles nothing more */
	sl_worker_sweep_all(&e.w, T0 + 10000000);
	CU_ASSERT_EQUAL(ch->hs_fail, 0);
	ev_end(&e);
}

/* An unanswered SYN fails once handshake_timeout has passed, not before:
 * at the sweep (the incremental one, passing every slot), or at the next
 * packet of the flow. */
static void test_handshake_timeout(void)
{
	struct sl_config *c = tc_config(0);
	struct tb_flow f, g;
	const struct sl_ev_cell *ch;
	struct ev e;

	c->flow_capacity = 64; /* 80 + 80 slots: 20 sweeps of 8 pass every slot */
	c->flow_capacity_v6 = 64;
	ev_start(&e, c);
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	CU_ASSERT_EQUAL(e.w.hs_timeout_us, 3000000); /* the default, 3 s */
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	tb_client_flow(&g, 2, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	cli(&e, &g, SL_TCP_SYN, 0, T0);
	for (int i = 0; i < 64; i++)
		sl_worker_sweep(&e.w, T0 + 3000000); /* exactly the timeout: still in time */
	sl_worker_sweep_all(&e.w, T0 + 3000000);
	CU_ASSERT_EQUAL(ch->hs_fail, 0);
	CU_ASSERT_EQUAL(e.w.cnt->expired, 0);
	/* f: its next packet (a retransmitted SYN) finds it late */
	cli(&e, &f, SL_TCP_SYN, 0, T0 + 3000001);
	CU_ASSERT_EQUAL(ch->hs_fail, 1);
	/* g: the sweep finds it, once */
	for (int i = 0; i < 64; i++)
		sl_worker_sweep(&e.w, T0 + 3000001);
	CU_ASSERT_EQUAL(ch->hs_fail, 2);
	CU_ASSERT_EQUAL(e.w.cnt->expired, 0); /* failed, not expired (tcp_syn_timeout 30 s) */
	sl_worker_sweep_all(&e.w, T0 + 4000000);
	/* a SYN-ACK after that changes nothing */
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 4000000);
	srv(&e, TC_BLUE, &g, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 4000000);
	CU_ASSERT_EQUAL(ch->hs_fail, 2);
	CU_ASSERT_EQUAL(ch->hs_ok, 0);
	CU_ASSERT_EQUAL(ch->flows, 2);
	/* the entries expire later (established after the SYN-ACK: 900 s):
	 * no second count */
	sl_worker_sweep_all(&e.w, T0 + 1000000000);
	CU_ASSERT_EQUAL(e.w.cnt->expired, 2);
	CU_ASSERT_EQUAL(ch->hs_fail, 2);
	ev_end(&e);
}

/* handshake_timeout from the configuration; a SYN-ACK past it is a failed
 * handshake (not in the histogram); an entry that expires awaiting its
 * SYN-ACK failed. */
static void test_handshake_late_and_expired(void)
{
	struct sl_config *c = tc_config(0);
	struct tb_flow f, g;
	const struct sl_ev_cell *ch;
	struct ev e;

	c->handshake_timeout_ms = 500;
	c->tcp_syn_timeout_ms = 400; /* the entry goes before the timeout */
	ev_start(&e, c);
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	CU_ASSERT_EQUAL(e.w.hs_timeout_us, 500000);
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	tb_client_flow(&g, 2, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 350000);
	CU_ASSERT_EQUAL(ch->hs_ok, 1);
	cli(&e, &g, SL_TCP_SYN, 0, T0 + 350000);
	sl_worker_sweep_all(&e.w, T0 + 760000); /* g idle 410 ms: expired */
	CU_ASSERT_EQUAL(ch->hs_fail, 1);
	CU_ASSERT_EQUAL(e.w.cnt->expired, 1);

	/* late: 501 ms */
	tb_client_flow(&g, 3, 4, 6, tc_vip_web, 443);
	cli(&e, &g, SL_TCP_SYN, 0, T0 + 1000000);
	cli(&e, &g, SL_TCP_SYN, 0, T0 + 1300000); /* keeps the entry alive */
	srv(&e, TC_BLUE, &g, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 1501000);
	CU_ASSERT_EQUAL(ch->hs_fail, 2);
	CU_ASSERT_EQUAL(ch->hs_ok, 1);
	CU_ASSERT_EQUAL(hist_sum(ch->hs_us), 1);
	ev_end(&e);
}

/* A retransmitted SYN does not restart the clock: SYN at 0, again at 1 s,
 * SYN-ACK at 1.2 s is one handshake of 1.2 s. */
static void test_handshake_retransmit(void)
{
	struct ev e;
	struct tb_flow f;
	const struct sl_ev_cell *ch;

	ev_start(&e, tc_config(0));
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	tb_client_flow(&f, 7, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	cli(&e, &f, SL_TCP_SYN, 0, T0 + 1000000);
	CU_ASSERT_EQUAL(ch->flows, 1); /* the retransmit is the same flow */
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 1200000);
	CU_ASSERT_EQUAL(ch->hs_ok, 1);
	CU_ASSERT_EQUAL(ch->hs_fail, 0);
	CU_ASSERT_EQUAL(hist_only(ch->hs_us), (int)sl_hist_bucket(1200000));
	CU_ASSERT_NOT_EQUAL(sl_hist_bucket(1200000), sl_hist_bucket(200000));
	ev_end(&e);
}

/* ---- resets ---- */

static void test_rst(void)
{
	struct ev e;
	struct tb_flow f, g, h;
	const struct sl_ev_cell *ch;

	ev_start(&e, tc_config(0));
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	/* f: established, data, then the server resets it (twice) */
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 100);
	cli(&e, &f, SL_TCP_ACK, 100, T0 + 200);
	srv(&e, TC_BLUE, &f, SL_TCP_ACK, 500, T0 + 300);
	srv(&e, TC_BLUE, &f, SL_TCP_RST, 0, T0 + 400);
	srv(&e, TC_BLUE, &f, SL_TCP_RST | SL_TCP_ACK, 0, T0 + 500);
	CU_ASSERT_EQUAL(ch->rst, 1);
	CU_ASSERT_EQUAL(ch->hs_ok, 1);
	/* g: the client resets: not the backend's doing */
	tb_client_flow(&g, 2, 4, 6, tc_vip_web, 443);
	cli(&e, &g, SL_TCP_SYN, 0, T0);
	srv(&e, TC_BLUE, &g, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 100);
	cli(&e, &g, SL_TCP_RST, 0, T0 + 200);
	CU_ASSERT_EQUAL(ch->rst, 1);
	/* h: refused (RST answers the SYN): a reset and a failed handshake */
	tb_client_flow(&h, 3, 4, 6, tc_vip_web, 443);
	cli(&e, &h, SL_TCP_SYN, 0, T0);
	srv(&e, TC_BLUE, &h, SL_TCP_RST | SL_TCP_ACK, 0, T0 + 100);
	CU_ASSERT_EQUAL(ch->rst, 2);
	CU_ASSERT_EQUAL(ch->hs_fail, 1);
	CU_ASSERT_EQUAL(ch->hs_ok, 2);
	/* h again on the same ports: a new flow, which may be reset again */
	cli(&e, &h, SL_TCP_SYN, 0, T0 + 1000);
	CU_ASSERT_EQUAL(ch->flows, 4);
	srv(&e, TC_BLUE, &h, SL_TCP_RST | SL_TCP_ACK, 0, T0 + 1100);
	CU_ASSERT_EQUAL(ch->rst, 3);
	CU_ASSERT_EQUAL(ch->hs_fail, 2);
	sl_worker_sweep_all(&e.w, T0 + 10000000);
	CU_ASSERT_EQUAL(ch->hs_fail, 2);
	ev_end(&e);
}

/* ---- ICMP ---- */

static void test_icmp(void)
{
	struct ev e;
	struct tb_flow f, g, h6, k;
	const struct sl_ev_cell *ch, *c6;
	uint8_t buf[512];

	ev_start(&e, tc_config(0));
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	c6 = svc_cell(&e, TC_S_WEB6, SL_EV_CHAMPION);
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	tb_client_flow(&g, 2, 4, 6, tc_vip_web, 443);
	tb_client_flow(&h6, 3, 6, 6, tc_vip_web6, 443);
	tb_client_flow(&k, 4, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	cli(&e, &g, SL_TCP_SYN, 0, T0);
	cli(&e, &h6, SL_TCP_SYN, 0, T0);
	/* port unreachable for f, twice: one flow with an ICMP error, and its
	 * handshake failed */
	CU_ASSERT_EQUAL(ev_frame(&e, TC_BLUE, buf, icmp_frame(buf, &f, 3, 3), T0 + 10),
			1u << TC_CLIENT);
	ev_frame(&e, TC_BLUE, buf, icmp_frame(buf, &f, 3, 1), T0 + 20);
	CU_ASSERT_EQUAL(ch->icmp, 1);
	CU_ASSERT_EQUAL(ch->hs_fail, 1);
	/* fragmentation needed (PMTU discovery) and time exceeded: no failure */
	ev_frame(&e, TC_BLUE, buf, icmp_frame(buf, &g, 3, 4), T0 + 30);
	ev_frame(&e, TC_BLUE, buf, icmp_frame(buf, &g, 11, 0), T0 + 30);
	CU_ASSERT_EQUAL(ch->icmp, 1);
	srv(&e, TC_BLUE, &g, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 40);
	CU_ASSERT_EQUAL(ch->hs_ok, 1);
	/* ICMPv6 destination unreachable (type 1) for the IPv6 service */
	ev_frame(&e, TC_BLUE, buf, icmp_frame(buf, &h6, 1, 4), T0 + 50);
	CU_ASSERT_EQUAL(c6->icmp, 1);
	CU_ASSERT_EQUAL(c6->hs_fail, 1);
	/* ICMPv6 packet too big (type 2): none */
	tb_client_flow(&h6, 5, 6, 6, tc_vip_web6, 443);
	cli(&e, &h6, SL_TCP_SYN, 0, T0);
	ev_frame(&e, TC_BLUE, buf, icmp_frame(buf, &h6, 2, 0), T0 + 60);
	CU_ASSERT_EQUAL(c6->icmp, 1);
	/* an error from the client side, and one for no tracked flow: none */
	ev_frame(&e, TC_CLIENT, buf, icmp_frame(buf, &g, 3, 3), T0 + 70);
	ev_frame(&e, TC_BLUE, buf, icmp_frame(buf, &k, 3, 3), T0 + 70);
	CU_ASSERT_EQUAL(ch->icmp, 1);
	CU_ASSERT_EQUAL(ch->flows, 2);
	ev_end(&e);
}

/* ---- TTFB ---- */

static void test_ttfb_tcp(void)
{
	struct ev e;
	struct tb_flow f;
	const struct sl_ev_cell *ch;

	ev_start(&e, tc_config(0));
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 100);
	cli(&e, &f, SL_TCP_ACK, 0, T0 + 200);        /* no data: the timer waits */
	cli(&e, &f, SL_TCP_ACK | 0x08, 300, T0 + 1000); /* the request */
	srv(&e, TC_BLUE, &f, SL_TCP_ACK, 0, T0 + 1500); /* an ACK is no answer */
	cli(&e, &f, SL_TCP_ACK | 0x08, 300, T0 + 5000); /* more of it: no restart */
	CU_ASSERT_EQUAL(ch->ttfb_flows, 0);
	srv(&e, TC_BLUE, &f, SL_TCP_ACK | 0x08, 1000, T0 + 26000);
	CU_ASSERT_EQUAL(ch->ttfb_flows, 1);
	CU_ASSERT_EQUAL(hist_only(ch->ttfb_us), (int)sl_hist_bucket(25000));
	/* later answers are not measured */
	cli(&e, &f, SL_TCP_ACK | 0x08, 300, T0 + 30000);
	srv(&e, TC_BLUE, &f, SL_TCP_ACK | 0x08, 1000, T0 + 40000);
	CU_ASSERT_EQUAL(ch->ttfb_flows, 1);
	CU_ASSERT_EQUAL(hist_sum(ch->ttfb_us), 1);
	ev_end(&e);
}

/* A server that speaks first (a banner) does not answer a request yet;
 * a flow picked up mid-stream is not timed. */
static void test_ttfb_banner_and_midstream(void)
{
	struct ev e;
	struct tb_flow f, g;
	const struct sl_ev_cell *ch;

	ev_start(&e, tc_config(0));
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 100);
	srv(&e, TC_BLUE, &f, SL_TCP_ACK | 0x08, 40, T0 + 200);
	cli(&e, &f, SL_TCP_ACK | 0x08, 10, T0 + 1000);
	srv(&e, TC_BLUE, &f, SL_TCP_ACK | 0x08, 40, T0 + 1700);
	CU_ASSERT_EQUAL(ch->ttfb_flows, 1);
	CU_ASSERT_EQUAL(hist_only(ch->ttfb_us), (int)sl_hist_bucket(700));

	tb_client_flow(&g, 2, 4, 6, tc_vip_web, 443);
	cli(&e, &g, SL_TCP_ACK | 0x08, 100, T0);
	srv(&e, TC_BLUE, &g, SL_TCP_ACK | 0x08, 100, T0 + 100);
	CU_ASSERT_EQUAL(ch->flows, 2); /* an exposure all the same */
	CU_ASSERT_EQUAL(ch->ttfb_flows, 1);
	CU_ASSERT_EQUAL(ch->hs_ok + ch->hs_fail, 1);
	ev_end(&e);
}

/* UDP: the first datagram to the first answer; no handshake. */
static void test_ttfb_udp(void)
{
	struct ev e;
	struct tb_flow f;
	const struct sl_ev_cell *ch;

	ev_start(&e, tc_config(SL_SHARE_MAX_BP)); /* every flow on green, the challenger */
	ch = svc_cell(&e, TC_S_DNS, SL_EV_CHALLENGER);
	tb_client_flow(&f, 1, 4, 17, tc_vip_dns, 53);
	CU_ASSERT_EQUAL(cli(&e, &f, 0, 40, T0), 1u << TC_GREEN);
	cli(&e, &f, 0, 40, T0 + 300); /* a second query: the first one is timed */
	srv(&e, TC_GREEN, &f, 0, 120, T0 + 700);
	srv(&e, TC_GREEN, &f, 0, 120, T0 + 900);
	CU_ASSERT_EQUAL(ch->flows, 1);
	CU_ASSERT_EQUAL(ch->ttfb_flows, 1);
	CU_ASSERT_EQUAL(hist_only(ch->ttfb_us), (int)sl_hist_bucket(700));
	CU_ASSERT_EQUAL(ch->hs_ok + ch->hs_fail + ch->rst + ch->icmp, 0);
	CU_ASSERT_EQUAL(svc_cell(&e, TC_S_DNS, SL_EV_CHAMPION)->flows, 0);
	sl_worker_sweep_all(&e.w, T0 + 400000000);
	CU_ASSERT_EQUAL(ch->hs_fail, 0);
	ev_end(&e);
}

/* ---- roles ---- */

/* Half the flows on each group: each role's cell counts its group's flows
 * and outcomes; a promotion-like table change (green champion) counts the
 * events of the flows that live on by their group's new role. */
static void test_roles(void)
{
	enum { N = 400 };
	struct ev e;
	uint64_t blue = 0, green = 0, green_odd = 0, now = T0;
	const struct sl_ev_cell *ch, *cc;
	struct sl_table_hdr *h2;
	struct sl_group_rec *g2;
	char err[256];

	ev_start(&e, tc_config(5000));
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);
	cc = svc_cell(&e, TC_S_WEB, SL_EV_CHALLENGER);
	for (uint32_t i = 0; i < N; i++) {
		struct tb_flow f;
		uint16_t out;

		tb_client_flow(&f, i, 4, 6, tc_vip_web, 443);
		out = cli(&e, &f, SL_TCP_SYN, 0, now);
		blue += out == 1u << TC_BLUE;
		green += out == 1u << TC_GREEN;
		green_odd += out == 1u << TC_GREEN && (i & 1);
		/* blue answers in 1 ms, green resets every other flow */
		if (out == 1u << TC_BLUE)
			srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, now + 1000);
		else
			srv(&e, TC_GREEN, &f, i & 1 ? SL_TCP_RST | SL_TCP_ACK :
			    SL_TCP_SYN | SL_TCP_ACK, 0, now + 1000);
		now += 2000;
	}
	CU_ASSERT(blue > N / 4 && green > N / 4 && blue + green == N);
	CU_ASSERT_EQUAL(ch->flows, blue);
	CU_ASSERT_EQUAL(cc->flows, green);
	CU_ASSERT_EQUAL(ch->flows, e.w.cnt->grp[TC_S_WEB][TC_G_BLUE].flows);
	CU_ASSERT_EQUAL(cc->flows, e.w.cnt->grp[TC_S_WEB][TC_G_GREEN].flows);
	CU_ASSERT_EQUAL(ch->hs_ok, blue);
	CU_ASSERT_EQUAL(ch->rst + ch->hs_fail, 0);
	CU_ASSERT_EQUAL(cc->rst, cc->hs_fail);
	CU_ASSERT_EQUAL(cc->rst + cc->hs_ok, green);
	CU_ASSERT(cc->rst > 0 && cc->hs_ok > 0);

	/* green becomes the champion (generation 2): the flows live on */
	e.c->services[TC_S_WEB].champion = TC_G_GREEN;
	e.c->services[TC_S_WEB].challenger = TC_G_BLUE;
	h2 = calloc(1, sizeof(*h2));
	g2 = calloc(SL_MAX_GROUPS, sizeof(*g2));
	CU_ASSERT_FATAL(h2 && g2);
	CU_ASSERT_EQUAL_FATAL(sl_tables_build(h2, g2, e.c, 2, err, sizeof(err)), 0);
	e.v.hdr = h2;
	e.v.groups = g2;
	for (uint32_t i = 0; i < N; i++) {
		struct tb_flow f;
		uint16_t out;

		tb_client_flow(&f, i, 4, 6, tc_vip_web, 443);
		out = cli(&e, &f, SL_TCP_ACK, 0, now);
		if (out == 1u << TC_BLUE)
			srv(&e, TC_BLUE, &f, SL_TCP_RST, 0, now + 1000);
		now += 2000;
	}
	/* blue's resets count for blue, now the challenger */
	CU_ASSERT_EQUAL(cc->rst, green_odd + blue);
	CU_ASSERT_EQUAL(ch->rst, 0);
	CU_ASSERT_EQUAL(ch->flows + cc->flows, N);
	free(h2);
	free(g2);
	ev_end(&e);
}

/* ---- slices ---- */

/* Slices in the table: slots as configured, a bit per slice of a service. */
static void test_slices_table(void)
{
	struct sl_config *c = tc_config(0);
	static const uint8_t p4[16] = { 10, 0, 1, 0 };
	struct ev e;

	slice_add(c, "a", TC_S_WEB, "");
	slice_src(c, 4, p4, 24);
	slice_add(c, "d", TC_S_DNS, "udp");
	slice_add(c, "b", TC_S_WEB, "tcp port 443");
	ev_start(&e, c);
	CU_ASSERT_EQUAL(e.hdr->nslices, 3);
	CU_ASSERT_STRING_EQUAL(e.hdr->slices[0].name, "a");
	CU_ASSERT_EQUAL(e.hdr->slices[0].service, TC_S_WEB);
	CU_ASSERT_EQUAL(e.hdr->slices[0].bit, 0);
	CU_ASSERT_EQUAL(e.hdr->slices[0].nprefixes, 1);
	CU_ASSERT_EQUAL(e.hdr->slices[0].src[0].len, 24);
	CU_ASSERT_EQUAL(memcmp(e.hdr->slices[0].src[0].addr, p4, 16), 0);
	CU_ASSERT_EQUAL(e.hdr->slices[1].service, TC_S_DNS);
	CU_ASSERT_EQUAL(e.hdr->slices[1].bit, 0);
	CU_ASSERT_STRING_EQUAL(e.hdr->slices[1].filter, "udp");
	CU_ASSERT_EQUAL(e.hdr->slices[2].service, TC_S_WEB);
	CU_ASSERT_EQUAL(e.hdr->slices[2].bit, 1);
	CU_ASSERT_EQUAL(e.hdr->slices[2].nprefixes, 0);
	ev_end(&e);

	/* a ninth slice of a service, a slice of no service: refused */
	c = tc_config(0);
	for (int i = 0; i < 9; i++) {
		char name[8];

		snprintf(name, sizeof(name), "s%d", i);
		slice_add(c, name, TC_S_WEB, "tcp");
	}
	{
		struct sl_table_hdr *h = calloc(1, sizeof(*h));
		struct sl_group_rec *g = calloc(SL_MAX_GROUPS, sizeof(*g));
		char err[256];

		CU_ASSERT_FATAL(h && g);
		CU_ASSERT_EQUAL(sl_tables_build(h, g, c, 1, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "[slice s8]"));
		c->nslices = 8;
		CU_ASSERT_EQUAL(sl_tables_build(h, g, c, 1, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(h->nslices, 8);
		CU_ASSERT_EQUAL(h->slices[7].bit, 7);
		c->slices[3].service = 9;
		CU_ASSERT_EQUAL(sl_tables_build(h, g, c, 1, err, sizeof(err)), -1);
		free(h);
		free(g);
	}
	free(c);
}

/* By source prefix, IPv4 and IPv6; a flow in two slices counts in both;
 * a slice counts the outcomes of its flows only. */
static void test_slices_src(void)
{
	struct sl_config *c = tc_config(0);
	static const uint8_t p24[16] = { 10, 0, 1, 0 };     /* flows 256..511 */
	static const uint8_t p16[16] = { 10, 0 };           /* flows 0..65535 */
	static const uint8_t p6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 1 }; /* /120: 256..511 */
	static const uint8_t other6[16] = { 0x20, 0x01, 0x0d, 0xb9 };
	const struct sl_ev_cell *a, *b, *s6, *ch;
	struct ev e;
	struct tb_flow f;

	slice_add(c, "a", TC_S_WEB, "");            /* slot 0 */
	slice_src(c, 4, p24, 24);
	slice_add(c, "b", TC_S_WEB, "");            /* slot 1 */
	slice_src(c, 4, p16, 16);
	slice_add(c, "v6", TC_S_WEB6, "");          /* slot 2 */
	slice_src(c, 6, other6, 32);
	slice_src(c, 6, p6, 120);
	ev_start(&e, c);
	a = slice_cell(&e, 0, SL_EV_CHAMPION);
	b = slice_cell(&e, 1, SL_EV_CHAMPION);
	s6 = slice_cell(&e, 2, SL_EV_CHAMPION);
	ch = svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION);

	tb_client_flow(&f, 300, 4, 6, tc_vip_web, 443);  /* in a and b */
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	srv(&e, TC_BLUE, &f, SL_TCP_RST | SL_TCP_ACK, 0, T0 + 10);
	tb_client_flow(&f, 5, 4, 6, tc_vip_web, 443);    /* in b only */
	cli(&e, &f, SL_TCP_SYN, 0, T0 + 100);
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 1600);
	tb_client_flow(&f, 70000, 4, 6, tc_vip_web, 443); /* 10.1.17.112: in none */
	cli(&e, &f, SL_TCP_SYN, 0, T0 + 2000);
	CU_ASSERT_EQUAL(ch->flows, 3);
	CU_ASSERT_EQUAL(a->flows, 1);
	CU_ASSERT_EQUAL(b->flows, 2);
	CU_ASSERT_EQUAL(a->rst, 1);
	CU_ASSERT_EQUAL(b->rst, 1);
	CU_ASSERT_EQUAL(a->hs_fail, 1);
	CU_ASSERT_EQUAL(a->hs_ok, 0);
	CU_ASSERT_EQUAL(b->hs_ok, 1);
	CU_ASSERT_EQUAL(hist_only(b->hs_us), 42);
	/* a slice of web6 counts none of web's flows */
	CU_ASSERT_EQUAL(s6->flows, 0);

	tb_client_flow(&f, 400, 6, 6, tc_vip_web6, 443);  /* ...:1:90 in p6 */
	cli(&e, &f, SL_TCP_SYN, 0, T0 + 3000);
	tb_client_flow(&f, 600, 6, 6, tc_vip_web6, 443);  /* ...:2:58 in neither */
	cli(&e, &f, SL_TCP_SYN, 0, T0 + 3000);
	CU_ASSERT_EQUAL(s6->flows, 1);
	CU_ASSERT_EQUAL(svc_cell(&e, TC_S_WEB6, SL_EV_CHAMPION)->flows, 2);
	CU_ASSERT_EQUAL(a->flows + b->flows, 3);
	/* nothing in the challenger's slice cells */
	CU_ASSERT_EQUAL(slice_cell(&e, 0, SL_EV_CHALLENGER)->flows +
			slice_cell(&e, 1, SL_EV_CHALLENGER)->flows, 0);
	ev_end(&e);
}

/* By filter (the shadow filters' program set, SL_FILTER_SLICE(slot)),
 * decided at the flow's first packet; with src as well, both must hold;
 * a filter not ready (no program set for this shadow_gen) never matches. */
static void test_slices_filter(void)
{
	struct sl_config *c = tc_config(SL_SHARE_MAX_BP);
	static const uint8_t p24[16] = { 10, 0, 1, 0 };
	const struct sl_ev_cell *fa, *both, *cc;
	struct fmatch m;
	struct ev e;
	struct tb_flow f;

	slice_add(c, "other", TC_S_DNS, "udp");          /* slot 0 */
	slice_add(c, "billing", TC_S_WEB, "tcp dst port 443"); /* slot 1 */
	slice_add(c, "ent-billing", TC_S_WEB, "tcp");     /* slot 2 */
	slice_src(c, 4, p24, 24);
	ev_start(&e, c);
	memset(&m, 0, sizeof(m));
	ev_matcher(&e, &m);
	fa = slice_cell(&e, 1, SL_EV_CHALLENGER);
	both = slice_cell(&e, 2, SL_EV_CHALLENGER);
	cc = svc_cell(&e, TC_S_WEB, SL_EV_CHALLENGER);

	m.yes[SL_FILTER_SLICE(1)] = 1;
	m.yes[SL_FILTER_SLICE(2)] = 1;
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);   /* filters pass, src not in p24 */
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	CU_ASSERT_EQUAL(fa->flows, 1);
	CU_ASSERT_EQUAL(both->flows, 0);
	tb_client_flow(&f, 300, 4, 6, tc_vip_web, 443); /* filters pass, src in p24 */
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	CU_ASSERT_EQUAL(fa->flows, 2);
	CU_ASSERT_EQUAL(both->flows, 1);
	/* asked at the first packet only; never for another service's slice */
	srv(&e, TC_GREEN, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 800);
	cli(&e, &f, SL_TCP_ACK, 0, T0 + 900);
	CU_ASSERT_EQUAL(m.asked[SL_FILTER_SLICE(1)], 2);
	CU_ASSERT_EQUAL(m.asked[SL_FILTER_SLICE(0)], 0);
	CU_ASSERT_EQUAL(fa->hs_ok, 1);
	CU_ASSERT_EQUAL(both->hs_ok, 1);
	/* the flow's slices were decided at its first packet */
	m.yes[SL_FILTER_SLICE(1)] = 0;
	srv(&e, TC_GREEN, &f, SL_TCP_RST, 0, T0 + 1000);
	CU_ASSERT_EQUAL(fa->rst, 1);
	CU_ASSERT_EQUAL(both->rst, 1);
	tb_client_flow(&f, 301, 4, 6, tc_vip_web, 443); /* billing's filter fails */
	cli(&e, &f, SL_TCP_SYN, 0, T0 + 2000);
	CU_ASSERT_EQUAL(fa->flows, 2);
	CU_ASSERT_EQUAL(both->flows, 2);
	/* filters of another shadow_gen: not ready, no filter slice */
	m.yes[SL_FILTER_SLICE(1)] = 1;
	e.w.shadow.ready_gen = e.hdr->shadow_gen + 1;
	tb_client_flow(&f, 302, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0 + 3000);
	CU_ASSERT_EQUAL(fa->flows, 2);
	CU_ASSERT_EQUAL(both->flows, 2);
	CU_ASSERT_EQUAL(cc->flows, 4);
	CU_ASSERT_EQUAL(slice_cell(&e, 1, SL_EV_CHAMPION)->flows, 0);
	ev_end(&e);
}

/* Slices across the table's generations: a slice removed stops counting,
 * and the slice mask of a flow is read against the table in use. */
static void test_slices_table_change(void)
{
	struct sl_config *c = tc_config(0);
	static const uint8_t p16[16] = { 10, 0 };
	struct sl_table_hdr *h2;
	struct sl_group_rec *g2;
	const struct sl_ev_cell *s0;
	struct ev e;
	struct tb_flow f;
	char err[256];

	slice_add(c, "a", TC_S_WEB, "");
	slice_src(c, 4, p16, 16);
	ev_start(&e, c);
	s0 = slice_cell(&e, 0, SL_EV_CHAMPION);
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	CU_ASSERT_EQUAL(s0->flows, 1);
	/* generation 2 without the slice */
	e.c->nslices = 0;
	h2 = calloc(1, sizeof(*h2));
	g2 = calloc(SL_MAX_GROUPS, sizeof(*g2));
	CU_ASSERT_FATAL(h2 && g2);
	CU_ASSERT_EQUAL_FATAL(sl_tables_build(h2, g2, e.c, 2, err, sizeof(err)), 0);
	e.v.hdr = h2;
	e.v.groups = g2;
	srv(&e, TC_BLUE, &f, SL_TCP_SYN | SL_TCP_ACK, 0, T0 + 100);
	CU_ASSERT_EQUAL(svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION)->hs_ok, 1);
	CU_ASSERT_EQUAL(s0->hs_ok, 0);
	tb_client_flow(&f, 2, 4, 6, tc_vip_web, 443);
	cli(&e, &f, SL_TCP_SYN, 0, T0);
	CU_ASSERT_EQUAL(s0->flows, 1);
	free(h2);
	free(g2);
	ev_end(&e);
}

/* The full table: flows it cannot hold are no evidence. */
static void test_table_full(void)
{
	struct sl_config *c = tc_config(0);
	struct ev e;

	c->flow_capacity = 16;
	ev_start(&e, c);
	for (uint32_t i = 0; i < 100; i++) {
		struct tb_flow f;

		tb_client_flow(&f, i, 4, 6, tc_vip_web, 443);
		cli(&e, &f, SL_TCP_SYN, 0, T0);
	}
	CU_ASSERT(e.w.cnt->ft_full > 0);
	CU_ASSERT_EQUAL(svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION)->flows, 100 - e.w.cnt->ft_full);
	CU_ASSERT_EQUAL(svc_cell(&e, TC_S_WEB, SL_EV_CHAMPION)->flows, sl_ft_count(e.w.ft));
	ev_end(&e);
}

void sl_test_register_evidence(void)
{
	CU_pSuite s = CU_add_suite("evidence", NULL, NULL);

	CU_add_test(s, "histogram buckets", test_hist_buckets);
	CU_add_test(s, "handshake answered in 1500 us", test_handshake_ok);
	CU_add_test(s, "unanswered SYN fails after the timeout, not before",
		    test_handshake_timeout);
	CU_add_test(s, "late SYN-ACK and expired entry fail", test_handshake_late_and_expired);
	CU_add_test(s, "SYN retransmit then SYN-ACK", test_handshake_retransmit);
	CU_add_test(s, "server RST once per flow, client RST not", test_rst);
	CU_add_test(s, "ICMP unreachable from the backend side", test_icmp);
	CU_add_test(s, "TTFB: first request to first answer", test_ttfb_tcp);
	CU_add_test(s, "TTFB: banner first, mid-stream pickup", test_ttfb_banner_and_midstream);
	CU_add_test(s, "TTFB: UDP", test_ttfb_udp);
	CU_add_test(s, "champion and challenger cells", test_roles);
	CU_add_test(s, "slices in the table", test_slices_table);
	CU_add_test(s, "slices by src prefix (v4, v6), a flow in two", test_slices_src);
	CU_add_test(s, "slices by filter, with src", test_slices_filter);
	CU_add_test(s, "slices across table generations", test_slices_table_change);
	CU_add_test(s, "full table: no evidence", test_table_full);
}
