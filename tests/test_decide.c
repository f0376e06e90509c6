/* The per-packet decision: shares, monotonicity, stickiness, --reset,
 * return traffic, mac mode, fragments, ICMP errors, other and malformed
 * traffic, flow-table fallback and expiry.  Everything is observed through
 * output port masks, rewritten bytes and counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "pktbuild.h"
#include "tables.h"
#include "testcfg.h"
#include "unit.h"

#define M(p) ((uint16_t)(1u << (p)))

struct tview {
	struct sl_view v;
	struct sl_table_hdr *hdr;
	struct sl_group_rec *groups;
};

static void tview_make(struct tview *t, const struct sl_config *c, uint32_t gen)
{
	char err[256];

	t->hdr = calloc(1, sizeof(*t->hdr));
	t->groups = calloc(SL_MAX_GROUPS, sizeof(*t->groups));
	CU_ASSERT_FATAL(t->hdr && t->groups);
	CU_ASSERT_EQUAL_FATAL(sl_tables_build(t->hdr, t->groups, c, gen, err, sizeof(err)), 0);
	t->v.hdr = t->hdr;
	t->v.groups = t->groups;
}

static void tview_free(struct tview *t)
{
	free(t->hdr);
	free(t->groups);
}

/* The core's clock is in microseconds; these tests count in ms. */
#define MS(x) ((uint64_t)(x) * 1000u)

static uint16_t one(struct sl_worker *w, const struct tview *t, uint8_t port, uint8_t *frame,
		    uint16_t len, uint32_t now_ms)
{
	const uint8_t *d[1] = { frame };
	uint16_t l[1] = { len };
	struct sl_verdict vd = { .out = 0xffff };

	/* 0 promises no shadow copy and no MAC (sl_dp_forward then reads out only) */
	if (!sl_decide_burst(w, &t->v, port, d, l, 1, MS(now_ms), &vd))
		CU_ASSERT(vd.shadow == 0 && vd.has_dmac == 0);
	sl_verdict_rewrite(frame, &vd); /* as the dataplane does after shadow copies */
	return vd.out;
}

/* Send the first packet (SYN or UDP) of flows [first, first+n) of service
 * web (or dns) in bursts of SL_BURST; record each flow's output mask. */
static void open_flows(struct sl_worker *w, const struct tview *t, uint32_t first, uint32_t n,
		       uint8_t proto, uint16_t *mask, uint32_t now_ms)
{
	static uint8_t buf[SL_BURST][256];
	const uint8_t *d[SL_BURST];
	uint16_t l[SL_BURST];
	struct sl_verdict vd[SL_BURST];

	for (uint32_t i = 0; i < n; i += SL_BURST) {
		uint16_t b = (uint16_t)(n - i < SL_BURST ? n - i : SL_BURST);

		for (uint16_t j = 0; j < b; j++) {
			struct tb_flow f;

			tb_client_flow(&f, first + i + j, 4, proto,
				       proto == 6 ? tc_vip_web : tc_vip_dns, proto == 6 ? 443 : 53);
			l[j] = tb_frame(buf[j], &f, 0, SL_TCP_SYN, 0);
			d[j] = buf[j];
		}
		int extra = sl_decide_burst(w, &t->v, TC_CLIENT, d, l, b, MS(now_ms), vd);

		for (uint16_t j = 0; j < b; j++) {
			mask[i + j] = vd[j].out;
			if (!extra)
				CU_ASSERT(vd[j].shadow == 0 && vd[j].has_dmac == 0);
		}
	}
}

static void worker_for(struct sl_worker *w, const struct sl_config *c)
{
	CU_ASSERT_EQUAL_FATAL(sl_worker_init(w, c, NULL), 0);
}

/* Challenger share of 100 000 new flows within +-0.3 percentage points. */
static void check_share(uint16_t bp)
{
	enum { N = 100000 };
	struct sl_config *c = tc_config(bp);
	static uint16_t mask[N];
	struct sl_worker w;
	struct tview t;
	uint32_t green = 0, blue = 0;
	double got;

	worker_for(&w, c);
	tview_make(&t, c, 1);
	open_flows(&w, &t, 0, N, 6, mask, 1);
	for (uint32_t i = 0; i < N; i++) {
		green += mask[i] == M(TC_GREEN);
		blue += mask[i] == M(TC_BLUE);
	}
	CU_ASSERT_EQUAL(green + blue, N);
	got = 100.0 * green / N;
	CU_ASSERT(got >= bp / 100.0 - 0.3 && got <= bp / 100.0 + 0.3);
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_GREEN].flows, green);
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_BLUE].flows, blue);
	CU_ASSERT_EQUAL(sl_svc_pkts(w.cnt, TC_S_WEB), N);
	if (bp == 0)
		CU_ASSERT_EQUAL(green, 0);
	if (bp == SL_SHARE_MAX_BP)
		CU_ASSERT_EQUAL(blue, 0);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

static void test_share_1(void) { check_share(100); }
static void test_share_5(void) { check_share(500); }
static void test_share_50(void) { check_share(5000); }
static void test_share_edges(void)
{
	check_share(0);
	check_share(SL_SHARE_MAX_BP);
	check_share(1);
}

/* For shares a < b every flow on the challenger at a is on it at b. */
static void test_monotonic(void)
{
	enum { N = 20000 };
	static const uint16_t shares[] = { 1, 50, 100, 500, 2000, 5000, 9999 };
	static uint16_t prev[N], cur[N];
	uint32_t prev_green = 0;

	for (size_t s = 0; s < sizeof(shares) / sizeof(shares[0]); s++) {
		struct sl_config *c = tc_config(shares[s]);
		struct sl_worker w;
		struct tview t;
		uint32_t green = 0;

		worker_for(&w, c);
		tview_make(&t, c, 1);
		open_flows(&w, &t, 0, N, 6, cur, 1);
		for (uint32_t i = 0; i < N; i++) {
			green += cur[i] == M(TC_GREEN);
			if (s > 0 && prev[i] == M(TC_GREEN))
				CU_ASSERT_EQUAL(cur[i], M(TC_GREEN));
		}
		CU_ASSERT(green >= prev_green);
		prev_green = green;
		memcpy(prev, cur, sizeof(prev));
		tview_free(&t);
		sl_worker_fini(&w);
		free(c);
	}
}

/* Established flows keep their group when the share changes (sticky); new
 * flows follow the new share; a --reset generation re-decides them. */
static void test_sticky_and_reset(void)
{
	enum { N = 10000 };
	struct sl_config *c = tc_config(500);
	static uint16_t before[N], after[N], fresh[N], reset[N];
	struct sl_worker w;
	struct tview t1, t2, t3;
	uint32_t moved = 0, green_new = 0, changed = 0;

	worker_for(&w, c);
	tview_make(&t1, c, 1);
	open_flows(&w, &t1, 0, N, 6, before, 1);

	c->services[TC_S_WEB].share_bp = 5000;
	tview_make(&t2, c, 2);
	open_flows(&w, &t2, 0, N, 6, after, 2);       /* same flows again */
	open_flows(&w, &t2, N, N, 6, fresh, 3);       /* new flows */
	for (uint32_t i = 0; i < N; i++) {
		moved += before[i] != after[i];
		green_new += fresh[i] == M(TC_GREEN);
	}
	CU_ASSERT_EQUAL(moved, 0);
	CU_ASSERT(green_new > N * 45 / 100 && green_new < N * 55 / 100);
	CU_ASSERT_EQUAL(w.cnt->redecided, 0);

	/* abort --reset: share 0 and every older flow re-decided */
	c->services[TC_S_WEB].share_bp = 0;
	tview_make(&t3, c, 3);
	t3.hdr->services[TC_S_WEB].reset_gen = 3;
	open_flows(&w, &t3, 0, N, 6, reset, 4);
	for (uint32_t i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(reset[i], M(TC_BLUE));
		changed += before[i] != reset[i];
	}
	CU_ASSERT(changed > 0);
	CU_ASSERT_EQUAL(w.cnt->redecided, N);
	/* active flows: 2N tracked, all of the first N now on blue */
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_BLUE].active +
			w.cnt->grp[TC_S_WEB][TC_G_GREEN].active, 2 * N);
	tview_free(&t1);
	tview_free(&t2);
	tview_free(&t3);
	sl_worker_fini(&w);
	free(c);
}

/* Flows on a group that a new table removes (its record left without a
 * name) are decided again; the others stay. */
static void test_group_removed(void)
{
	enum { N = 4000 };
	struct sl_config *c = tc_config(5000);
	static uint16_t before[N], after[N];
	struct sl_worker w;
	struct tview t1, t2;
	uint32_t green = 0;

	worker_for(&w, c);
	tview_make(&t1, c, 1);
	open_flows(&w, &t1, 0, N, 6, before, 1);
	c->services[TC_S_WEB].share_bp = 0;
	tview_make(&t2, c, 2);
	t2.groups[TC_G_GREEN].name[0] = '\0';
	open_flows(&w, &t2, 0, N, 6, after, 2);
	for (uint32_t i = 0; i < N; i++) {
		green += before[i] == M(TC_GREEN);
		CU_ASSERT_EQUAL(after[i], M(TC_BLUE));
	}
	CU_ASSERT(green > N / 3);
	CU_ASSERT_EQUAL(w.cnt->redecided, green);
	tview_free(&t1);
	tview_free(&t2);
	sl_worker_fini(&w);
	free(c);
}

/* mac mode: the destination MAC becomes a member's, the same for every
 * packet of a flow, and members share the flows. */
static void test_mac_mode(void)
{
	enum { N = 3000 };
	struct sl_config *c = tc_config(SL_SHARE_MAX_BP); /* all to green */
	struct sl_worker w;
	struct tview t;
	unsigned per[3] = { 0 };

	worker_for(&w, c);
	tview_make(&t, c, 1);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t a[256], b[256];
		struct tb_flow f;
		uint16_t la, lb;
		int m = -1;

		tb_client_flow(&f, i, 4, 6, tc_vip_web, 443);
		la = tb_frame(a, &f, 0, SL_TCP_SYN, 0);
		lb = tb_frame(b, &f, 0, SL_TCP_ACK, 100);
		CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, a, la, 1), M(TC_GREEN));
		CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, b, lb, 2), M(TC_GREEN));
		for (int k = 0; k < 3; k++)
			if (memcmp(a, tc_green_macs[k], 6) == 0)
				m = k;
		CU_ASSERT_FATAL(m >= 0);
		CU_ASSERT_EQUAL(memcmp(a, b, 6), 0);
		/* the rest of the frame is untouched */
		CU_ASSERT_EQUAL(a[11], 1);
		CU_ASSERT_EQUAL(a[12], 0x08);
		per[m]++;
	}
	for (int k = 0; k < 3; k++)
		CU_ASSERT(per[k] > N / 3 - N / 10 && per[k] < N / 3 + N / 10);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* Return traffic goes to the client port, counted for the flow's group. */
static void test_return_traffic(void)
{
	struct sl_config *c = tc_config(5000);
	struct sl_worker w;
	struct tview t;
	uint32_t on_green = 0, on_blue = 0;

	worker_for(&w, c);
	tview_make(&t, c, 1);
	for (uint32_t i = 0; i < 200; i++) {
		uint8_t a[256];
		struct tb_flow f;
		uint16_t out, la;
		int green;

		tb_client_flow(&f, i, 4, 6, tc_vip_web, 443);
		la = tb_frame(a, &f, 0, SL_TCP_SYN, 0);
		out = one(&w, &t, TC_CLIENT, a, la, 1);
		green = out == M(TC_GREEN);
		on_green += green;
		on_blue += !green;
		la = tb_frame(a, &f, 1, SL_TCP_SYN | SL_TCP_ACK, 0);
		CU_ASSERT_EQUAL(one(&w, &t, green ? TC_GREEN : TC_BLUE, a, la, 2), M(TC_CLIENT));
		la = tb_frame(a, &f, 1, SL_TCP_RST, 0);
		CU_ASSERT_EQUAL(one(&w, &t, green ? TC_GREEN : TC_BLUE, a, la, 3), M(TC_CLIENT));
	}
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_GREEN].ret_pkts, 2 * on_green);
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_GREEN].ret_synack, on_green);
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_GREEN].ret_rst, on_green);
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_BLUE].ret_rst, on_blue);
	CU_ASSERT_EQUAL(w.cnt->ret_untracked, 0);
	/* return packet of a flow never seen: still forwarded, counted */
	{
		uint8_t a[256];
		struct tb_flow f;

		tb_client_flow(&f, 99999, 4, 6, tc_vip_web, 443);
		CU_ASSERT_EQUAL(one(&w, &t, TC_BLUE, a, tb_frame(a, &f, 1, SL_TCP_ACK, 0), 4),
				M(TC_CLIENT));
		CU_ASSERT_EQUAL(w.cnt->ret_untracked, 1);
	}
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* A closed connection (RST, or FIN both ways) whose 4-tuple is reused by a
 * new SYN is a new flow, decided again. */
static void test_port_reuse(void)
{
	struct sl_config *c = tc_config(5000);
	struct sl_worker w;
	struct tview t;
	uint8_t a[256];
	struct tb_flow f;

	worker_for(&w, c);
	tview_make(&t, c, 1);
	tb_client_flow(&f, 7, 4, 6, tc_vip_web, 443);
	one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_SYN, 0), 1);
	one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_ACK, 10), 2);
	/* a retransmitted SYN of a live connection is not a new flow */
	one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_SYN, 0), 3);
	CU_ASSERT_EQUAL(w.cnt->redecided, 0);
	one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_RST, 0), 4);
	one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_SYN, 0), 5);
	CU_ASSERT_EQUAL(w.cnt->redecided, 1);
	/* FIN from both sides, then a new SYN */
	one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_FIN | SL_TCP_ACK, 0), 6);
	one(&w, &t, TC_BLUE, a, tb_frame(a, &f, 1, SL_TCP_FIN | SL_TCP_ACK, 0), 7);
	one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_SYN, 0), 8);
	CU_ASSERT_EQUAL(w.cnt->redecided, 2);
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_BLUE].flows +
			w.cnt->grp[TC_S_WEB][TC_G_GREEN].flows, 3);
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_BLUE].active +
			w.cnt->grp[TC_S_WEB][TC_G_GREEN].active, 1);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* Every fragment of a datagram leaves on one port, later fragments first
 * or not. */
static void test_fragments(void)
{
	struct sl_config *c = tc_config(5000);
	struct sl_worker w;
	struct tview t;
	uint32_t green = 0;

	worker_for(&w, c);
	tview_make(&t, c, 1);
	for (uint32_t i = 0; i < 2000; i++) {
		uint8_t a[256], b[256];
		struct tb_flow f;
		uint16_t la, lb, oa, ob;

		tb_client_flow(&f, i, 4, 17, tc_vip_dns, 53);
		la = tb_frame_ex(a, &f, 0, 0, 100, 0, 1, 1);
		lb = tb_frame_ex(b, &f, 0, 0, 100, 14, 0, 0);
		if (i & 1) {
			ob = one(&w, &t, TC_CLIENT, b, lb, 1);
			oa = one(&w, &t, TC_CLIENT, a, la, 1);
		} else {
			oa = one(&w, &t, TC_CLIENT, a, la, 1);
			ob = one(&w, &t, TC_CLIENT, b, lb, 1);
		}
		CU_ASSERT_EQUAL(oa, ob);
		CU_ASSERT(oa == M(TC_BLUE) || oa == M(TC_GREEN));
		green += oa == M(TC_GREEN);
	}
	CU_ASSERT(green > 800 && green < 1200);
	CU_ASSERT_EQUAL(sl_svc_pkts(w.cnt, TC_S_DNS), 4000);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* An ICMP error from the client side about a flow goes where the flow goes
 * (PMTU discovery keeps working for the backend that holds the flow), even
 * after the share changed: the flow is looked up, not decided again. */
static void test_icmp_error_follows_flow(void)
{
	enum { N = 300 };
	struct sl_config *c = tc_config(5000);
	struct sl_worker w;
	struct tview t, t2;
	uint16_t out[N];
	uint32_t green = 0;

	worker_for(&w, c);
	tview_make(&t, c, 1);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t a[256];
		struct tb_flow f;

		tb_client_flow(&f, i, 4, 6, tc_vip_web, 443);
		out[i] = one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_SYN, 0), 1);
		green += out[i] == M(TC_GREEN);
	}
	CU_ASSERT(green > 0 && green < N);
	/* every new flow would now go to blue */
	c->services[TC_S_WEB].share_bp = 0;
	tview_make(&t2, c, 2);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t seg[256], icmp[300];
		struct tb_flow f;
		uint16_t ls;

		tb_client_flow(&f, i, 4, 6, tc_vip_web, 443);
		ls = tb_frame(seg, &f, 1, SL_TCP_ACK, 0);
		memcpy(icmp, seg + 6, 6);           /* towards the servers */
		memcpy(icmp + 6, seg, 6);
		icmp[12] = 0x08;
		icmp[13] = 0;
		memset(icmp + 14, 0, 28);
		icmp[14] = 0x45;
		tb_put16(icmp + 16, (uint16_t)(28 + ls - 14));
		icmp[22] = 64;
		icmp[23] = 1;
		memcpy(icmp + 26, f.src, 4);
		memcpy(icmp + 30, tc_vip_web, 4);
		icmp[34] = 3;
		icmp[35] = 4;
		memcpy(icmp + 42, seg + 14, ls - 14);
		CU_ASSERT_EQUAL(one(&w, &t2, TC_CLIENT, icmp, (uint16_t)(42 + ls - 14), 2), out[i]);
	}
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_WEB][TC_G_BLUE].flows +
			w.cnt->grp[TC_S_WEB][TC_G_GREEN].flows, N);
	tview_free(&t);
	tview_free(&t2);
	sl_worker_fini(&w);
	free(c);
}

/* ARP and traffic to no service: flooded to every backend port from the
 * client side, sent to the client port from a backend; `other = drop`
 * drops them.  Shadow port input is always dropped. */
static void test_other_and_shadow(void)
{
	struct sl_config *c = tc_config(500);
	struct sl_worker w;
	struct tview t;
	uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };
	uint8_t a[256];
	struct tb_flow f;
	uint8_t novip[16] = { 192, 0, 2, 99 };

	worker_for(&w, c);
	tview_make(&t, c, 1);
	CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, arp, 60, 1), M(TC_BLUE) | M(TC_GREEN));
	CU_ASSERT_EQUAL(one(&w, &t, TC_GREEN, arp, 60, 1), M(TC_CLIENT));
	tb_client_flow(&f, 1, 4, 6, novip, 80);
	CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_SYN, 0), 1),
			M(TC_BLUE) | M(TC_GREEN));
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 80); /* VIP, port not in the service */
	CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, a, tb_frame(a, &f, 0, SL_TCP_SYN, 0), 1),
			M(TC_BLUE) | M(TC_GREEN));
	CU_ASSERT_EQUAL(w.cnt->other_fwd, 4);
	CU_ASSERT_EQUAL(one(&w, &t, TC_SHADOW, arp, 60, 1), 0);
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	CU_ASSERT_EQUAL(one(&w, &t, TC_SHADOW, a, tb_frame(a, &f, 1, SL_TCP_ACK, 0), 1), 0);
	CU_ASSERT_EQUAL(w.cnt->shadow_rx_drop, 2);
	CU_ASSERT_EQUAL(sl_svc_pkts(w.cnt, TC_S_WEB), 0);
	sl_worker_fini(&w);

	c->other = SL_OTHER_DROP;
	worker_for(&w, c);
	CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, arp, 60, 1), 0);
	CU_ASSERT_EQUAL(one(&w, &t, TC_BLUE, arp, 60, 1), 0);
	CU_ASSERT_EQUAL(w.cnt->other_drop, 2);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* Malformed packets are counted by reason, dropped by default, forwarded
 * like unmatched traffic with `malformed = forward`. */
static void test_malformed(void)
{
	struct sl_config *c = tc_config(500);
	struct sl_worker w;
	struct tview t;
	uint8_t a[256];
	struct tb_flow f;
	uint16_t l;

	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	l = tb_frame(a, &f, 0, SL_TCP_SYN, 0);
	a[14] = 0x43; /* IHL 3 */
	worker_for(&w, c);
	tview_make(&t, c, 1);
	CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, a, l, 1), 0);
	CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, a, 10, 1), 0);
	CU_ASSERT_EQUAL(w.cnt->malformed[SL_BAD_IP4_IHL], 1);
	CU_ASSERT_EQUAL(w.cnt->malformed[SL_BAD_ETH_TRUNC], 1);
	CU_ASSERT_EQUAL(w.cnt->malformed_drop, 2);
	CU_ASSERT_EQUAL(sl_svc_pkts(w.cnt, TC_S_WEB), 0);
	sl_worker_fini(&w);
	c->malformed = SL_MALFORMED_FORWARD;
	worker_for(&w, c);
	CU_ASSERT_EQUAL(one(&w, &t, TC_CLIENT, a, l, 1), M(TC_BLUE) | M(TC_GREEN));
	CU_ASSERT_EQUAL(one(&w, &t, TC_BLUE, a, l, 1), M(TC_CLIENT));
	CU_ASSERT_EQUAL(w.cnt->malformed_fwd, 2);
	CU_ASSERT_EQUAL(w.cnt->malformed[SL_BAD_IP4_IHL], 2);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* A full flow table falls back to the stateless decision (the one a new
 * flow would get) and counts it. */
static void test_table_full(void)
{
	enum { N = 2000 };
	struct sl_config *c = tc_config(5000);
	struct sl_config *big = tc_config(5000);
	static uint16_t small_m[N], ref_m[N];
	struct sl_worker w, ref;
	struct tview t;

	c->flow_capacity = 100;
	worker_for(&w, c);
	worker_for(&ref, big);
	tview_make(&t, c, 1);
	open_flows(&w, &t, 0, N, 6, small_m, 1);
	open_flows(&ref, &t, 0, N, 6, ref_m, 1);
	CU_ASSERT_EQUAL(memcmp(small_m, ref_m, sizeof(small_m)), 0);
	CU_ASSERT(w.cnt->ft_full >= N - 100);
	CU_ASSERT(sl_ft_count(w.ft) <= 100);
	CU_ASSERT_EQUAL(ref.cnt->ft_full, 0);
	tview_free(&t);
	sl_worker_fini(&w);
	sl_worker_fini(&ref);
	free(c);
	free(big);
}

/* Idle flows expire: the sweep settles the active counters, and a flow
 * seen again after its timeout is a new flow. */
static void test_expiry(void)
{
	enum { N = 500 };
	struct sl_config *c = tc_config(5000);
	static uint16_t m[N];
	struct sl_worker w;
	struct tview t;
	uint64_t active;

	c->udp_timeout_ms = 1000;
	c->flow_capacity = 1024;
	worker_for(&w, c);
	tview_make(&t, c, 1);
	open_flows(&w, &t, 0, N, 17, m, 0);
	active = w.cnt->grp[TC_S_DNS][TC_G_BLUE].active + w.cnt->grp[TC_S_DNS][TC_G_GREEN].active;
	CU_ASSERT_EQUAL(active, N);
	for (int i = 0; i < 1000; i++)
		sl_worker_sweep(&w, MS(500)); /* not yet idle long enough */
	CU_ASSERT_EQUAL(w.cnt->expired, 0);
	for (int i = 0; i < 1000; i++)
		sl_worker_sweep(&w, MS(2001));
	CU_ASSERT_EQUAL(w.cnt->expired, N);
	active = w.cnt->grp[TC_S_DNS][TC_G_BLUE].active + w.cnt->grp[TC_S_DNS][TC_G_GREEN].active;
	CU_ASSERT_EQUAL(active, 0);
	CU_ASSERT_EQUAL(sl_ft_count(w.ft), 0);
	open_flows(&w, &t, 0, N, 17, m, 3000);
	CU_ASSERT_EQUAL(w.cnt->grp[TC_S_DNS][TC_G_BLUE].flows +
			w.cnt->grp[TC_S_DNS][TC_G_GREEN].flows, 2 * N);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* Two workers with the same configuration decide every flow alike (§9). */
static void test_fleet_determinism(void)
{
	enum { N = 5000 };
	struct sl_config *c = tc_config(2500);
	static uint16_t a[N], b[N];
	struct sl_worker w1, w2;
	struct tview t1, t2;

	worker_for(&w1, c);
	worker_for(&w2, c);
	tview_make(&t1, c, 1);
	tview_make(&t2, c, 7); /* another box, another generation number */
	open_flows(&w1, &t1, 0, N, 6, a, 1);
	open_flows(&w2, &t2, 0, N, 6, b, 99);
	CU_ASSERT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	c->hash_seed = 0x5eee;
	sl_worker_fini(&w2);
	tview_free(&t2);
	worker_for(&w2, c);
	tview_make(&t2, c, 1);
	open_flows(&w2, &t2, 0, N, 6, b, 1);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	tview_free(&t1);
	tview_free(&t2);
	sl_worker_fini(&w1);
	sl_worker_fini(&w2);
	free(c);
}

/* ---- shadow sampling (the core part: which packets get a copy) ---- */

/* Test matcher: packet i of the burst passes unless reject[i]; rule r's
 * calls are counted. */
struct tmatch {
	uint8_t reject[SL_BURST];  /* by packet index in the burst */
	uint16_t reject_rules;     /* rules whose every packet fails */
};

static int tmatch_fn(void *ctx, unsigned r, unsigned i)
{
	struct tmatch *m = ctx;

	return !m->reject[i] && !(m->reject_rules >> r & 1);
}

static void shadow_rule(struct sl_config *c, const char *name, uint8_t svc, uint16_t bp,
			const char *filter)
{
	struct sl_cfg_shadow *r = &c->shadows[c->nshadows++];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->service = svc;
	r->port = TC_SHADOW;
	r->sample_bp = bp;
	snprintf(r->filter, sizeof(r->filter), "%s", filter);
}

/* Flows [0, n) of web, each sent as SYN, three data packets and a FIN in
 * rounds (every flow's k-th packet in the same round, bursts of SL_BURST),
 * so that a flow's packets are far apart.  sel[f] gets the shadow bits of
 * each of its packets OR-ed (any) and AND-ed (all). */
static void shadow_rounds(struct sl_worker *w, const struct tview *t, uint32_t n,
			  uint16_t *any, uint16_t *all, struct tmatch *m, int reject_odd_round)
{
	static uint32_t now = 1; /* never goes back: flows would look expired */

	static const uint8_t flags[] = { SL_TCP_SYN, SL_TCP_ACK, SL_TCP_ACK | 0x08,
					 SL_TCP_ACK, SL_TCP_FIN | SL_TCP_ACK };
	static uint8_t buf[SL_BURST][256];
	const uint8_t *d[SL_BURST];
	uint16_t l[SL_BURST];
	struct sl_verdict vd[SL_BURST];

	for (uint32_t f = 0; f < n; f++) {
		any[f] = 0;
		all[f] = 0xffff;
	}
	for (unsigned k = 0; k < sizeof(flags); k++)
		for (uint32_t i = 0; i < n; i += SL_BURST) {
			uint16_t b = (uint16_t)(n - i < SL_BURST ? n - i : SL_BURST);

			for (uint16_t j = 0; j < b; j++) {
				struct tb_flow fl;

				tb_client_flow(&fl, i + j, 4, 6, tc_vip_web, 443);
				l[j] = tb_frame(buf[j], &fl, 0, flags[k], k ? 100 : 0);
				d[j] = buf[j];
				m->reject[j] = reject_odd_round && (k & 1);
			}
			sl_decide_burst(w, &t->v, TC_CLIENT, d, l, b, now++, vd);
			for (uint16_t j = 0; j < b; j++) {
				any[i + j] |= vd[j].shadow;
				all[i + j] &= vd[j].shadow;
			}
		}
}

/* Every packet of a sampled flow is selected, none of another flow; each
 * rule samples by its own seed. */
static void test_shadow_consistency(void)
{
	enum { N = 20000 };
	struct sl_config *c = tc_config(500);
	static uint16_t any[N], all[N];
	struct sl_worker w;
	struct tview t;
	struct tmatch m = { 0 };
	uint32_t a = 0, b = 0, both = 0;

	shadow_rule(c, "a", TC_S_WEB, 2000, "tcp");
	shadow_rule(c, "b", TC_S_WEB, 5000, "");
	worker_for(&w, c);
	tview_make(&t, c, 3);
	w.shadow.match = tmatch_fn;
	w.shadow.ctx = &m;
	w.shadow.ready_gen = 3;
	/* b has no filter: a matcher that fails all of b's packets is never
	 * asked */
	m.reject_rules = 2;
	shadow_rounds(&w, &t, N, any, all, &m, 0);
	for (uint32_t f = 0; f < N; f++) {
		CU_ASSERT_EQUAL(any[f], all[f]); /* all packets of a flow, or none */
		a += (all[f] & 1) != 0;
		b += (all[f] & 2) != 0;
		both += (all[f] & 3) == 3;
	}
	CU_ASSERT(a > N * 0.18 && a < N * 0.22);
	CU_ASSERT(b > N * 0.48 && b < N * 0.52);
	/* independent seeds: about 20 % of b's flows are a's too */
	CU_ASSERT(both > b * 0.17 && both < b * 0.23);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].flows, a);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].pkts, 5ull * a);
	CU_ASSERT_EQUAL(w.cnt->shadow[1].flows, b);
	CU_ASSERT_EQUAL(w.cnt->shadow[1].pkts, 5ull * b);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].pending + w.cnt->shadow[1].pending, 0);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* The filter decides per packet within a sampled flow; `flows` counts the
 * flows whose first packet passed. */
static void test_shadow_filter_per_packet(void)
{
	enum { N = 4000 };
	struct sl_config *c = tc_config(0);
	static uint16_t any[N], all[N];
	struct sl_worker w;
	struct tview t;
	struct tmatch m = { 0 };
	uint32_t sampled = 0;

	shadow_rule(c, "odd", TC_S_WEB, 3000, "tcp[13] & 16 = 0");
	worker_for(&w, c);
	tview_make(&t, c, 1);
	w.shadow.match = tmatch_fn;
	w.shadow.ctx = &m;
	w.shadow.ready_gen = 1;
	shadow_rounds(&w, &t, N, any, all, &m, 1);
	for (uint32_t f = 0; f < N; f++) {
		CU_ASSERT_EQUAL(all[f], 0); /* rounds 1 and 3 were rejected */
		sampled += any[f] != 0;
	}
	CU_ASSERT(sampled > N * 0.27 && sampled < N * 0.33);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].pkts, 3ull * sampled);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].flows, sampled);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* Until the filters of the table's rule set are ready, sampled packets
 * are counted as pending and none is copied. */
static void test_shadow_pending(void)
{
	enum { N = 2000 };
	struct sl_config *c = tc_config(0);
	static uint16_t any[N], all[N];
	struct sl_worker w;
	struct tview t;
	struct tmatch m = { 0 };
	uint64_t pending;

	shadow_rule(c, "p", TC_S_WEB, 10000, "tcp");
	worker_for(&w, c);
	tview_make(&t, c, 5);
	shadow_rounds(&w, &t, N, any, all, &m, 0); /* no matcher */
	for (uint32_t f = 0; f < N; f++)
		CU_ASSERT_EQUAL(any[f], 0);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].pending, 5ull * N);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].pkts, 0);
	pending = w.cnt->shadow[0].pending;
	w.shadow.match = tmatch_fn;
	w.shadow.ctx = &m;
	w.shadow.ready_gen = 4; /* the filters of an older rule set */
	shadow_rounds(&w, &t, N, any, all, &m, 0);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].pending, pending + 5ull * N);
	w.shadow.ready_gen = 5;
	shadow_rounds(&w, &t, N, any, all, &m, 0);
	for (uint32_t f = 0; f < N; f++)
		CU_ASSERT_EQUAL(all[f], 1);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].pkts, 5ull * N);
	/* the flows began before the filters were ready */
	CU_ASSERT_EQUAL(w.cnt->shadow[0].flows, 0);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

/* Share of 100 000 flows sampled within +-0.3 percentage points. */
static void check_sample(uint16_t bp)
{
	enum { N = 100000 };
	struct sl_config *c = tc_config(500);
	static uint16_t mask[N];
	static uint8_t buf[SL_BURST][256];
	const uint8_t *d[SL_BURST];
	uint16_t l[SL_BURST];
	struct sl_verdict vd[SL_BURST];
	struct sl_worker w;
	struct tview t;
	struct tmatch m = { 0 };
	uint32_t n = 0;
	double got;

	shadow_rule(c, "s", TC_S_WEB, bp, "");
	worker_for(&w, c);
	tview_make(&t, c, 1);
	w.shadow.match = tmatch_fn;
	w.shadow.ctx = &m;
	w.shadow.ready_gen = 1;
	for (uint32_t i = 0; i < N; i += SL_BURST) {
		uint16_t b = (uint16_t)(N - i < SL_BURST ? N - i : SL_BURST);

		for (uint16_t j = 0; j < b; j++) {
			struct tb_flow f;

			tb_client_flow(&f, i + j, 4, 6, tc_vip_web, 443);
			l[j] = tb_frame(buf[j], &f, 0, SL_TCP_SYN, 0);
			d[j] = buf[j];
		}
		sl_decide_burst(&w, &t.v, TC_CLIENT, d, l, b, 1, vd);
		for (uint16_t j = 0; j < b; j++)
			mask[i + j] = vd[j].shadow;
	}
	for (uint32_t i = 0; i < N; i++)
		n += mask[i] == 1;
	got = 100.0 * n / N;
	CU_ASSERT(got >= bp / 100.0 - 0.3 && got <= bp / 100.0 + 0.3);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].flows, n);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

static void test_sample_1(void) { check_sample(100); }
static void test_sample_10(void) { check_sample(1000); }
static void test_sample_50(void) { check_sample(5000); }

/* Only client packets of the rule's service are copied: not return
 * traffic, not ICMP errors, not other services. */
static void test_shadow_scope(void)
{
	struct sl_config *c = tc_config(0);
	struct sl_worker w;
	struct tview t;
	struct tmatch m = { 0 };
	uint8_t a[256];
	const uint8_t *d[1] = { a };
	uint16_t l[1];
	struct sl_verdict vd;
	struct tb_flow f;

	shadow_rule(c, "all", TC_S_WEB, 10000, "");
	worker_for(&w, c);
	tview_make(&t, c, 1);
	w.shadow.match = tmatch_fn;
	w.shadow.ctx = &m;
	w.shadow.ready_gen = 1;
	tb_client_flow(&f, 1, 4, 6, tc_vip_web, 443);
	l[0] = tb_frame(a, &f, 0, SL_TCP_SYN, 0);
	sl_decide_burst(&w, &t.v, TC_CLIENT, d, l, 1, 1, &vd);
	CU_ASSERT_EQUAL(vd.shadow, 1);
	CU_ASSERT_EQUAL(vd.out, M(TC_BLUE));
	l[0] = tb_frame(a, &f, 1, SL_TCP_SYN | SL_TCP_ACK, 0);
	sl_decide_burst(&w, &t.v, TC_BLUE, d, l, 1, 1, &vd);
	CU_ASSERT_EQUAL(vd.shadow, 0);
	CU_ASSERT_EQUAL(vd.out, M(TC_CLIENT));
	tb_client_flow(&f, 1, 4, 17, tc_vip_dns, 53);
	l[0] = tb_frame(a, &f, 0, 0, 10);
	sl_decide_burst(&w, &t.v, TC_CLIENT, d, l, 1, 1, &vd);
	CU_ASSERT_EQUAL(vd.shadow, 0);
	tb_client_flow(&f, 1, 6, 6, tc_vip_web6, 443);
	l[0] = tb_frame(a, &f, 0, SL_TCP_SYN, 0);
	sl_decide_burst(&w, &t.v, TC_CLIENT, d, l, 1, 1, &vd);
	CU_ASSERT_EQUAL(vd.shadow, 0);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].pkts, 1);
	CU_ASSERT_EQUAL(w.cnt->shadow[0].flows, 1);
	tview_free(&t);
	sl_worker_fini(&w);
	free(c);
}

void sl_test_register_decide(void)
{
	CU_pSuite s = CU_add_suite("decide", NULL, NULL);

	CU_add_test(s, "share 1% within 0.3 pp on 100k flows", test_share_1);
	CU_add_test(s, "share 5% within 0.3 pp on 100k flows", test_share_5);
	CU_add_test(s, "share 50% within 0.3 pp on 100k flows", test_share_50);
	CU_add_test(s, "shares 0%, 100%, 1bp", test_share_edges);
	CU_add_test(s, "raising the share only adds challenger flows", test_monotonic);
	CU_add_test(s, "sticky flows keep their group; --reset re-decides",
		    test_sticky_and_reset);
	CU_add_test(s, "flows of a removed group are decided again", test_group_removed);
	CU_add_test(s, "mac mode rewrites to a member, per flow", test_mac_mode);
	CU_add_test(s, "return traffic to the client, counted per group",
		    test_return_traffic);
	CU_add_test(s, "reused 4-tuple after close is a new flow", test_port_reuse);
	CU_add_test(s, "fragments of a datagram stay together", test_fragments);
	CU_add_test(s, "ICMP error follows its flow", test_icmp_error_follows_flow);
	CU_add_test(s, "other traffic flooded or dropped; shadow input dropped",
		    test_other_and_shadow);
	CU_add_test(s, "malformed counted, dropped or forwarded", test_malformed);
	CU_add_test(s, "full flow table falls back to stateless", test_table_full);
	CU_add_test(s, "idle flows expire", test_expiry);
	CU_add_test(s, "same configuration, same decisions", test_fleet_determinism);
	CU_add_test(s, "shadow: a flow is copied whole or not at all, per rule",
		    test_shadow_consistency);
	CU_add_test(s, "shadow: the filter decides per packet", test_shadow_filter_per_packet);
	CU_add_test(s, "shadow: pending until the filters are ready", test_shadow_pending);
	CU_add_test(s, "shadow sample 1% within 0.3 pp on 100k flows", test_sample_1);
	CU_add_test(s, "shadow sample 10% within 0.3 pp on 100k flows", test_sample_10);
	CU_add_test(s, "shadow sample 50% within 0.3 pp on 100k flows", test_sample_50);
	CU_add_test(s, "shadow: client packets of the rule's service only", test_shadow_scope);
}
