/* Shadow filters and copies on real mbufs (needs EAL: rte_bpf_convert
 * allocates with rte_malloc; tests/filter_main.c starts it).
 *
 * filter: pcap expressions compiled, converted and run on crafted IPv4,
 * IPv6 and VLAN-tagged frames, the JIT and the interpreter agreeing; a bad
 * expression's libpcap message; the cache by text; the hand-over of sets to
 * workers.  shadow_copies: sl_dp_forward with a capturing TX hook: copies
 * carry the original bytes (or the rule's MAC), the original keeps its own
 * rewrite, a stalled shadow port or an empty copy pool drops copies (counted
 * per rule) and never an original.  ports: the mbuf data room that
 * sluice-dp and sluice-replay share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "filter.h"
#include "pktbuild.h"
#include "ports.h"
#include "tables.h"
#include "testcfg.h"
#include "worker.h"

void sl_test_register_filter(void);

static struct rte_mempool *pool;

static struct rte_mbuf *mbuf_of(const uint8_t *frame, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	p = rte_pktmbuf_append(m, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memcpy(p, frame, len);
	return m;
}

/* Client frame of flow i of the given kind. */
static uint16_t frame(uint8_t *buf, int family, uint8_t proto, uint16_t dport, uint16_t vlan,
		      const uint8_t *src)
{
	struct tb_flow f;

	tb_client_flow(&f, 7, family, proto, family == 4 ? tc_vip_web : tc_vip_web6, dport);
	f.vlan = vlan;
	if (src)
		memcpy(f.src, src, 16);
	return tb_frame(buf, &f, 0, proto == 6 ? SL_TCP_SYN : 0, 20);
}

/* expr on a frame: the JIT and the interpreter must agree; returns it. */
static int run(const struct sl_filter *f, const uint8_t *buf, uint16_t len)
{
	struct rte_mbuf *m = mbuf_of(buf, len);
	int jit = sl_filter_run(f, m), interp = sl_filter_run_interp(f, m);

	CU_ASSERT_EQUAL(jit, interp);
	rte_pktmbuf_free(m);
	return jit;
}

struct kase {
	int family;
	uint8_t proto;
	uint16_t dport;
	uint16_t vlan;
	int src_doc; /* source in 198.51.100.0/24 */
	int want[5]; /* per expression below */
};

static const char *const exprs[5] = {
	"tcp dst port 443", "src net 198.51.100.0/24", "ip6 and udp", "vlan and tcp", "",
};

static const struct kase kases[] = {
	/* family proto dport vlan doc: tcp443 net6 ip6udp vlantcp all */
	{ 4, 6, 443, 0, 0, { 1, 0, 0, 0, 1 } },
	{ 4, 6, 80, 0, 0, { 0, 0, 0, 0, 1 } },
	{ 4, 17, 443, 0, 0, { 0, 0, 0, 0, 1 } },
	{ 4, 6, 443, 0, 1, { 1, 1, 0, 0, 1 } },
	{ 4, 17, 53, 0, 1, { 0, 1, 0, 0, 1 } },
	{ 6, 6, 443, 0, 0, { 1, 0, 0, 0, 1 } },
	{ 6, 17, 53, 0, 0, { 0, 0, 1, 0, 1 } },
	{ 6, 6, 80, 0, 0, { 0, 0, 0, 0, 1 } },
	/* a VLAN tag hides the IP header from expressions without "vlan" */
	{ 4, 6, 443, 100, 0, { 0, 0, 0, 1, 1 } },
	{ 6, 6, 443, 100, 0, { 0, 0, 0, 1, 1 } },
	{ 4, 17, 53, 100, 1, { 0, 0, 0, 0, 1 } },
	{ 6, 17, 53, 100, 0, { 0, 0, 0, 0, 1 } },
};

static void test_expressions(void)
{
	static const uint8_t doc[16] = { 198, 51, 100, 23 };
	struct sl_filter *f[5];
	char err[512];
	unsigned jit = 0;

	for (int e = 0; e < 5; e++) {
		CU_ASSERT_EQUAL_FATAL(sl_filter_compile(exprs[e], &f[e], err, sizeof(err)), 0);
		CU_ASSERT_STRING_EQUAL(f[e]->expr, exprs[e]);
		jit += f[e]->jit != NULL;
	}
	/* x86-64 and arm64 have DPDK's JIT: the fallback is the exception */
	CU_ASSERT_EQUAL(jit, 5);
	for (size_t k = 0; k < sizeof(kases) / sizeof(kases[0]); k++) {
		const struct kase *c = &kases[k];
		uint8_t buf[256];
		uint16_t len = frame(buf, c->family, c->proto, c->dport, c->vlan,
				     c->src_doc ? doc : NULL);

		for (int e = 0; e < 5; e++) {
			int got = run(f[e], buf, len);

			if (got != c->want[e])
				fprintf(stderr, "\n  case %zu (IPv%d proto %u port %u vlan "
					"%u): '%s' gave %d\n", k, c->family, c->proto, c->dport,
					c->vlan, exprs[e], got);
			CU_ASSERT_EQUAL(got, c->want[e]);
		}
	}
	for (int e = 0; e < 5; e++)
		sl_filter_free(f[e]);
}

/* Frames shorter than what an expression reads never match. */
static void test_short_frames(void)
{
	struct sl_filter *f;
	uint8_t buf[256];
	uint16_t len = frame(buf, 4, 6, 443, 0, NULL);
	char err[512];

	CU_ASSERT_EQUAL_FATAL(sl_filter_compile("tcp dst port 443", &f, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(run(f, buf, len), 1);
	CU_ASSERT_EQUAL(run(f, buf, 14 + 20 + 2), 0); /* cut before the port */
	CU_ASSERT_EQUAL(run(f, buf, 12), 0);
	sl_filter_free(f);
}

static void test_bad_expressions(void)
{
	struct sl_filter *f = (struct sl_filter *)&f;
	char err[512], longf[300];

	CU_ASSERT_EQUAL(sl_filter_compile("tcp dst port", &f, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NULL(f);
	CU_ASSERT_STRING_EQUAL(err, "can't parse filter expression: syntax error");
	CU_ASSERT_EQUAL(sl_filter_compile("src net 198.51.100.1/24", &f, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "non-network bits set in \"198.51.100.1/24\"");
	CU_ASSERT_EQUAL(sl_filter_compile("tcp port 70000", &f, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "illegal port number 70000 > 65535");
	memset(longf, 'a', sizeof(longf) - 1);
	longf[sizeof(longf) - 1] = '\0';
	CU_ASSERT_EQUAL(sl_filter_compile(longf, &f, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "filter of 299 characters (at most 255)");
}

static void hdr_rule(struct sl_table_hdr *h, unsigned r, const char *name, const char *filter)
{
	snprintf(h->shadows[r].name, SL_NAME_LEN, "%s", name);
	snprintf(h->shadows[r].filter, SL_FILTER_LEN, "%s", filter);
	if (r + 1u > h->nshadows)
		h->nshadows = (uint16_t)(r + 1);
}

/* Unchanged texts are not compiled again; a text no set uses is freed. */
static void test_cache(void)
{
	struct sl_table_hdr *h = calloc(1, sizeof(*h));
	struct sl_filter_cache c = { 0 };
	struct sl_filter_set *a, *b;
	char err[1024];

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	h->shadow_gen = 4;
	hdr_rule(h, 0, "x", "tcp dst port 443");
	hdr_rule(h, 1, "y", "");
	hdr_rule(h, 2, "z", "tcp dst port 443");
	hdr_rule(h, 3, "w", "udp");
	a = sl_filter_set_build(&c, h, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(a->shadow_gen, 4);
	CU_ASSERT_EQUAL(a->nshadows, 4);
	CU_ASSERT_EQUAL(a->nrules, 4);
	CU_ASSERT_EQUAL(a->ninterp, 0);
	CU_ASSERT_EQUAL(c.compiled, 2);
	CU_ASSERT_EQUAL(c.reused, 1);
	CU_ASSERT_PTR_EQUAL(a->prog[0], a->prog[2]);
	CU_ASSERT_PTR_NULL(a->prog[1]);

	h->shadow_gen = 9;
	hdr_rule(h, 3, "w", "udp port 53");
	hdr_rule(h, 4, "v", "not a filter at all");
	b = sl_filter_set_build(&c, h, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(c.compiled, 3);
	CU_ASSERT_PTR_EQUAL(b->prog[0], a->prog[0]);
	CU_ASSERT_PTR_NULL(b->prog[4]);
	CU_ASSERT_EQUAL(b->nbroken, 1);
	CU_ASSERT_EQUAL(b->nrules, 5);
	CU_ASSERT_STRING_EQUAL(err, "shadow rule v: filter 'not a filter at all': can't parse "
			       "filter expression: syntax error");
	sl_filter_set_free(&c, a);
	/* "udp" went with a; the others live on in b */
	CU_ASSERT_PTR_NOT_NULL(c.head);
	for (struct sl_filter *f = c.head; f; f = f->next)
		CU_ASSERT_STRING_NOT_EQUAL(f->expr, "udp");
	sl_filter_set_free(&c, b);
	CU_ASSERT_PTR_NULL(c.head);
	free(h);
}

/* Slice filters are programs SL_FILTER_SLICE(slot) of the same set, from
 * the same cache; sl_filter_match runs them on the burst's mbufs. */
static void test_slice_programs(void)
{
	struct sl_table_hdr *h = calloc(1, sizeof(*h));
	struct sl_filter_cache c = { 0 };
	struct sl_filter_set *a;
	struct sl_filter_burst fb;
	struct rte_mbuf *m[2];
	uint8_t buf[256];
	char err[1024];

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	h->shadow_gen = 3;
	hdr_rule(h, 0, "x", "tcp dst port 443");
	h->nslices = 4;
	snprintf(h->slices[0].name, SL_NAME_LEN, "billing");
	snprintf(h->slices[0].filter, SL_FILTER_LEN, "tcp dst port 443");
	snprintf(h->slices[1].name, SL_NAME_LEN, "by-src"); /* no filter */
	snprintf(h->slices[3].name, SL_NAME_LEN, "bad");
	snprintf(h->slices[3].filter, SL_FILTER_LEN, "tcp port nine");
	snprintf(h->slices[2].filter, SL_FILTER_LEN, "udp"); /* a free slot */
	a = sl_filter_set_build(&c, h, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->nrules, 1);
	CU_ASSERT_EQUAL(a->nslices, 3);
	CU_ASSERT_EQUAL(a->nslice_filters, 2);
	CU_ASSERT_EQUAL(a->nbroken, 1);
	CU_ASSERT_EQUAL(c.compiled, 1); /* the slice shares the rule's program */
	CU_ASSERT_PTR_EQUAL(a->prog[SL_FILTER_SLICE(0)], a->prog[0]);
	CU_ASSERT_PTR_NULL(a->prog[SL_FILTER_SLICE(1)]);
	CU_ASSERT_PTR_NULL(a->prog[SL_FILTER_SLICE(2)]);
	CU_ASSERT_PTR_NULL(a->prog[SL_FILTER_SLICE(3)]);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "slice bad: filter 'tcp port nine': "));

	m[0] = mbuf_of(buf, frame(buf, 4, 6, 443, 0, NULL));
	m[1] = mbuf_of(buf, frame(buf, 4, 17, 53, 0, NULL));
	fb.set = a;
	fb.pkts = m;
	CU_ASSERT_EQUAL(sl_filter_match(&fb, SL_FILTER_SLICE(0), 0), 1);
	CU_ASSERT_EQUAL(sl_filter_match(&fb, SL_FILTER_SLICE(0), 1), 0);
	/* a filter that could not be loaded never matches */
	CU_ASSERT_EQUAL(sl_filter_match(&fb, SL_FILTER_SLICE(3), 0), 0);
	rte_pktmbuf_free(m[0]);
	rte_pktmbuf_free(m[1]);
	sl_filter_set_free(&c, a);
	CU_ASSERT_PTR_NULL(c.head);
	free(h);
}

/* ---- copies through sl_dp_forward ---- */

#define CAP_MAX 4096

/* The TX hook: what each port took, as bytes; a port marked stalled takes
 * nothing (a shadow host that cannot keep up). */
struct capture {
	uint16_t n[SL_MAX_PORTS];
	uint8_t *data[SL_MAX_PORTS][CAP_MAX];
	uint16_t len[SL_MAX_PORTS][CAP_MAX];
	uint8_t clone[SL_MAX_PORTS][CAP_MAX];
	uint8_t stalled[SL_MAX_PORTS];
};

static uint16_t cap_tx(void *ctx, unsigned p, struct rte_mbuf **m, uint16_t n)
{
	struct capture *c = ctx;

	if (c->stalled[p])
		return 0;
	for (uint16_t i = 0; i < n; i++) {
		uint16_t k = c->n[p];

		if (k < CAP_MAX) {
			c->len[p][k] = rte_pktmbuf_data_len(m[i]);
			c->data[p][k] = malloc(c->len[p][k]);
			memcpy(c->data[p][k], rte_pktmbuf_mtod(m[i], uint8_t *), c->len[p][k]);
			c->clone[p][k] = RTE_MBUF_CLONED(m[i]) != 0;
			c->n[p]++;
		}
		rte_pktmbuf_free(m[i]);
	}
	return n;
}

static void cap_free(struct capture *c)
{
	for (unsigned p = 0; p < SL_MAX_PORTS; p++)
		for (unsigned k = 0; k < c->n[p] && k < CAP_MAX; k++)
			free(c->data[p][k]);
	free(c);
}

struct rig {
	struct sl_config *cfg;
	struct sl_table_src *src;
	struct sl_dp_worker *w;
	struct sl_dp_run run;
	struct sl_dp_shadow sh;
	struct capture *cap;
	struct rte_mempool *copy, *clone;
	uint32_t ready;
};

static void rig_up(struct rig *r, uint16_t share_bp, int with_mac, unsigned copy_n)
{
	struct sl_cfg_shadow *s;
	char err[1024];
	static int seq;
	char name[32];

	memset(r, 0, sizeof(*r));
	r->cfg = tc_config(share_bp);
	s = &r->cfg->shadows[r->cfg->nshadows++];
	snprintf(s->name, sizeof(s->name), "web443");
	s->service = TC_S_WEB;
	s->port = TC_SHADOW;
	s->sample_bp = SL_SHARE_MAX_BP;
	snprintf(s->filter, sizeof(s->filter), "tcp dst port 443");
	if (with_mac) {
		s->has_mac = 1;
		memcpy(s->mac, "\x02\x00\x00\x00\x0d\x01", 6);
	}
	r->src = sl_tables_from_config(r->cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->src);
	r->w = calloc(1, sizeof(*r->w));
	r->cap = calloc(1, sizeof(*r->cap));
	CU_ASSERT_FATAL(r->w && r->cap);
	CU_ASSERT_EQUAL_FATAL(sl_worker_init(&r->w->core, r->cfg, NULL), 0);
	sl_dp_run_init(&r->run, 0, 0);
	r->w->run = &r->run;
	r->w->src = r->src;
	r->w->tx_fn = cap_tx;
	r->w->tx_ctx = r->cap;
	snprintf(name, sizeof(name), "tcopy%d", seq);
	r->copy = rte_pktmbuf_pool_create(name, copy_n, 0, 0, 2176, 0);
	snprintf(name, sizeof(name), "tclone%d", seq++);
	r->clone = rte_pktmbuf_pool_create(name, copy_n, 0, 0, 0, 0);
	CU_ASSERT_FATAL(r->copy && r->clone);
	r->w->copy_pool[TC_SHADOW] = r->copy;
	r->w->clone_pool[TC_SHADOW] = r->clone;
	CU_ASSERT_EQUAL_FATAL(sl_dp_shadow_init(&r->sh, r->src, &r->w, 1, &r->ready, err,
						sizeof(err)), 0);
	CU_ASSERT_EQUAL(sl_dp_shadow_update(&r->sh, err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(r->ready, 1);
}

static void rig_down(struct rig *r)
{
	sl_dp_drain(r->w);
	sl_dp_shadow_fini(&r->sh);
	sl_worker_fini(&r->w->core);
	free(r->w);
	sl_tables_free(r->src);
	rte_mempool_free(r->copy);
	rte_mempool_free(r->clone);
	cap_free(r->cap);
	free(r->cfg);
}

/* Flows [first, first+n) of web as one packet each (SYN), or the UDP
 * service's, in bursts; returns the frames sent (their bytes in sent[]). */
static void send_flows(struct rig *r, uint32_t first, uint32_t n, uint8_t proto,
		       uint8_t (*sent)[128], uint16_t *sent_len)
{
	for (uint32_t i = 0; i < n; i += SL_BURST) {
		struct rte_mbuf *m[SL_BURST];
		uint16_t b = (uint16_t)(n - i < SL_BURST ? n - i : SL_BURST);

		for (uint16_t j = 0; j < b; j++) {
			struct tb_flow f;
			uint8_t buf[128];
			uint16_t len;

			tb_client_flow(&f, first + i + j, 4, proto,
				       proto == 6 ? tc_vip_web : tc_vip_dns, proto == 6 ? 443 : 53);
			len = tb_frame(buf, &f, 0, proto == 6 ? SL_TCP_SYN : 0, 10);
			if (sent) {
				memcpy(sent[i + j], buf, len);
				sent_len[i + j] = len;
			}
			m[j] = mbuf_of(buf, len);
		}
		sl_dp_forward(r->w, sl_src_view(r->src), TC_CLIENT, m, b, 1);
		sl_dp_flush(r->w);
	}
}

/* Port mode: the copy is a clone with the original's bytes. */
static void test_copy_clone(void)
{
	enum { N = 64 };
	static uint8_t sent[N][128];
	static uint16_t sent_len[N];
	struct rig r;

	rig_up(&r, 0, 0, 1024);
	send_flows(&r, 0, N, 6, sent, sent_len);
	send_flows(&r, 0, 8, 17, NULL, NULL); /* dns: no rule */
	CU_ASSERT_EQUAL(r.cap->n[TC_BLUE], N + 8);
	CU_ASSERT_EQUAL(r.cap->n[TC_SHADOW], N);
	for (unsigned k = 0; k < N; k++) {
		CU_ASSERT_EQUAL(r.cap->len[TC_SHADOW][k], sent_len[k]);
		CU_ASSERT_EQUAL(memcmp(r.cap->data[TC_SHADOW][k], sent[k], sent_len[k]), 0);
		CU_ASSERT_EQUAL(memcmp(r.cap->data[TC_BLUE][k], sent[k], sent_len[k]), 0);
		CU_ASSERT_EQUAL(r.cap->clone[TC_SHADOW][k], 1);
	}
	CU_ASSERT_EQUAL(r.w->core.cnt->shadow[0].pkts, N);
	CU_ASSERT_EQUAL(r.w->core.cnt->shadow[0].flows, N);
	CU_ASSERT_EQUAL(r.w->core.cnt->shadow[0].drops, 0);
	CU_ASSERT_EQUAL(r.w->core.cnt->port_tx[TC_SHADOW], N);
	CU_ASSERT_PTR_EQUAL(r.w->shadow_used, r.sh.cur);
	rig_down(&r);
}

/* mac mode: the original gets its member's MAC, the copy keeps the bytes
 * as received (a copy, not a clone); a rule's mac goes into the copy. */
static void test_copy_rewrites(void)
{
	enum { N = 64 };
	static uint8_t sent[N][128];
	static uint16_t sent_len[N];
	struct rig r;

	rig_up(&r, SL_SHARE_MAX_BP, 0, 1024);
	send_flows(&r, 0, N, 6, sent, sent_len);
	CU_ASSERT_EQUAL_FATAL(r.cap->n[TC_GREEN], N);
	CU_ASSERT_EQUAL_FATAL(r.cap->n[TC_SHADOW], N);
	for (unsigned k = 0; k < N; k++) {
		const uint8_t *g = r.cap->data[TC_GREEN][k];

		CU_ASSERT_EQUAL(memcmp(r.cap->data[TC_SHADOW][k], sent[k], sent_len[k]), 0);
		CU_ASSERT_EQUAL(r.cap->clone[TC_SHADOW][k], 0);
		CU_ASSERT(!memcmp(g, tc_green_macs[0], 6) || !memcmp(g, tc_green_macs[1], 6) ||
			  !memcmp(g, tc_green_macs[2], 6));
		CU_ASSERT_EQUAL(memcmp(g + 6, sent[k] + 6, sent_len[k] - 6u), 0);
	}
	rig_down(&r);

	rig_up(&r, 0, 1, 1024);
	send_flows(&r, 0, N, 6, sent, sent_len);
	CU_ASSERT_EQUAL_FATAL(r.cap->n[TC_SHADOW], N);
	for (unsigned k = 0; k < N; k++) {
		const uint8_t *s = r.cap->data[TC_SHADOW][k];

		CU_ASSERT_EQUAL(memcmp(s, "\x02\x00\x00\x00\x0d\x01", 6), 0);
		CU_ASSERT_EQUAL(memcmp(s + 6, sent[k] + 6, sent_len[k] - 6u), 0);
		CU_ASSERT_EQUAL(r.cap->clone[TC_SHADOW][k], 0);
		/* the original is untouched in port mode */
		CU_ASSERT_EQUAL(memcmp(r.cap->data[TC_BLUE][k], sent[k], sent_len[k]), 0);
	}
	rig_down(&r);
}

/* A shadow port that takes nothing: its buffer fills, later copies are
 * dropped and counted, every original still leaves. */
static void test_stalled_shadow_port(void)
{
	enum { N = 2000 };
	struct rig r;
	const struct sl_counters *c;

	rig_up(&r, 0, 1, 4096);
	r.cap->stalled[TC_SHADOW] = 1;
	send_flows(&r, 0, N, 6, NULL, NULL);
	c = r.w->core.cnt;
	CU_ASSERT_EQUAL(r.cap->n[TC_BLUE], N);
	CU_ASSERT_EQUAL(r.cap->n[TC_SHADOW], 0);
	CU_ASSERT_EQUAL(c->shadow[0].pkts, N);
	CU_ASSERT_EQUAL(c->shadow[0].drops, N - SL_TXBUF_CAP);
	CU_ASSERT_EQUAL(c->port_drop[TC_SHADOW], N - SL_TXBUF_CAP);
	CU_ASSERT_EQUAL(c->port_drop[TC_BLUE], 0);
	CU_ASSERT_EQUAL(c->port_tx[TC_BLUE], N);
	/* the port catches up: what waited goes out, in order */
	r.cap->stalled[TC_SHADOW] = 0;
	sl_dp_flush(r.w);
	CU_ASSERT_EQUAL(r.cap->n[TC_SHADOW], SL_TXBUF_CAP);
	rig_down(&r);
}

/* An empty copy pool costs copies, never originals. */
static void test_copy_pool_empty(void)
{
	enum { N = 300 };
	struct rig r;
	struct rte_mbuf *held[64];
	unsigned nheld = 0;

	rig_up(&r, 0, 1, 64);
	while (nheld < 64 && (held[nheld] = rte_pktmbuf_alloc(r.copy)))
		nheld++;
	send_flows(&r, 0, N, 6, NULL, NULL);
	CU_ASSERT_EQUAL(r.cap->n[TC_BLUE], N);
	CU_ASSERT_EQUAL(r.cap->n[TC_SHADOW], 0);
	CU_ASSERT_EQUAL(r.w->core.cnt->shadow[0].drops, N);
	CU_ASSERT_EQUAL(r.w->core.cnt->port_drop[TC_SHADOW], 0);
	rte_pktmbuf_free_bulk(held, nheld);
	send_flows(&r, N, 10, 6, NULL, NULL);
	CU_ASSERT_EQUAL(r.cap->n[TC_SHADOW], 10);
	rig_down(&r);
}

/* A new rule set reaches the worker at its next burst; the old set is
 * freed once the worker has moved on. */
static void test_handover(void)
{
	struct rig r;
	struct sl_table_hdr *h;
	const struct sl_filter_set *first;
	char err[1024];

	rig_up(&r, 0, 0, 1024);
	first = r.sh.cur;
	CU_ASSERT_EQUAL(sl_dp_shadow_update(&r.sh, err, sizeof(err)), 0);
	send_flows(&r, 0, 1, 6, NULL, NULL);
	CU_ASSERT_PTR_EQUAL(r.w->shadow_used, first);
	CU_ASSERT_EQUAL(r.w->core.shadow.ready_gen, 1);
	/* the table's rule set changes: generation 2, filter "udp" */
	h = (struct sl_table_hdr *)sl_src_view(r.src)->hdr;
	snprintf(h->shadows[0].filter, SL_FILTER_LEN, "udp");
	h->shadow_gen = 2;
	CU_ASSERT_EQUAL(sl_dp_shadow_update(&r.sh, err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(r.ready, 2);
	CU_ASSERT_EQUAL(r.sh.nretired, 1);
	CU_ASSERT_EQUAL(sl_dp_shadow_update(&r.sh, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(r.sh.nretired, 1); /* the worker still holds the first */
	send_flows(&r, 1, 4, 6, NULL, NULL);
	CU_ASSERT_EQUAL(r.w->core.shadow.ready_gen, 2);
	CU_ASSERT_EQUAL(r.cap->n[TC_SHADOW], 1); /* "udp" lets no TCP copy through */
	CU_ASSERT_EQUAL(sl_dp_shadow_update(&r.sh, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(r.sh.nretired, 0);
	/* a filter DPDK cannot load: handed over, never matches, said */
	snprintf(h->shadows[0].filter, SL_FILTER_LEN, "tcp port");
	h->shadow_gen = 3;
	CU_ASSERT_EQUAL(sl_dp_shadow_update(&r.sh, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "shadow rule web443: filter 'tcp port': can't parse filter "
			       "expression: syntax error");
	CU_ASSERT_EQUAL(r.ready, 3);
	send_flows(&r, 5, 4, 6, NULL, NULL);
	CU_ASSERT_EQUAL(r.cap->n[TC_SHADOW], 1);
	CU_ASSERT_EQUAL(r.w->core.cnt->shadow[0].pending, 0);
	rig_down(&r);
}

/* [dataplane] mbuf_size bytes of frame in the first segment, in
 * sluice-dp's pools and sluice-replay's alike (replay once gave 2048 of
 * the default 2176, so longer frames were malformed in replay only). */
static void test_data_room(void)
{
	struct sl_config *cfg = tc_config(0);
	struct rte_mempool *mp;
	struct rte_mbuf *m;
	char err[256];
	uint32_t room;

	cfg->mbuf_size = 2176;
	room = sl_ports_data_room(cfg, err, sizeof(err));
	CU_ASSERT_EQUAL(room, 2176 + RTE_PKTMBUF_HEADROOM);
	mp = rte_pktmbuf_pool_create("troom", 64, 0, 0, (uint16_t)room, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mp);
	m = rte_pktmbuf_alloc(mp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(rte_pktmbuf_tailroom(m), 2176);
	rte_pktmbuf_free(m);
	rte_mempool_free(mp);
	cfg->mbuf_size = 65535;
	CU_ASSERT_EQUAL(sl_ports_data_room(cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "test.ini: [dataplane] mbuf_size 65535: data room 65663 "
			       "exceeds 65535");
	free(cfg);
}

void sl_test_register_filter(void)
{
	CU_pSuite s = CU_add_suite("filter", NULL, NULL);
	CU_pSuite c = CU_add_suite("shadow_copies", NULL, NULL);
	CU_pSuite pt = CU_add_suite("ports", NULL, NULL);

	pool = rte_pktmbuf_pool_create("tfilter", 4095, 0, 0, 2176, 0);
	if (!pool)
		fprintf(stderr, "test_filter: no mbuf pool\n");
	CU_add_test(s, "IPv4, IPv6, VLAN frames; JIT and interpreter agree", test_expressions);
	CU_add_test(s, "short frames never match", test_short_frames);
	CU_add_test(s, "bad expressions: libpcap's message", test_bad_expressions);
	CU_add_test(s, "programs cached by text", test_cache);
	CU_add_test(s, "slice filters in the set", test_slice_programs);
	CU_add_test(c, "port mode: a clone with the original bytes", test_copy_clone);
	CU_add_test(c, "mac rewrites: copies keep or get their own bytes", test_copy_rewrites);
	CU_add_test(c, "stalled shadow port: copies dropped, originals sent",
		    test_stalled_shadow_port);
	CU_add_test(c, "empty copy pool: copies dropped, originals sent", test_copy_pool_empty);
	CU_add_test(c, "new rule sets handed over between bursts", test_handover);
	CU_add_test(pt, "data room: mbuf_size bytes in one segment", test_data_room);
}
