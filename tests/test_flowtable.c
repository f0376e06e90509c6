/* Flow table (bucketized cuckoo, one part per family): hits, keys told
 * apart by every byte, both families, full buckets and the moves that
 * make room, capacity, expiry and reuse, TCP timeouts, the sweep, reset
 * epochs, a randomized run against a reference model, snapshots. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowtable.h"
#include "snap.h"
#include "unit.h"

static const struct sl_ft_timeouts TO = {
	.tcp_syn = 50, .tcp_est = 1000, .tcp_fin = 200, .tcp_closed = 20, .other = 300,
};

#define SEED 0x5eedull

static uint64_t sm64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A distinct IPv4 TCP key per id. */
static struct sl_key key_of(uint32_t id)
{
	struct sl_key k;

	memset(&k, 0, sizeof(k));
	k.a[0] = 10;
	k.a[1] = (uint8_t)(id >> 16);
	k.a[2] = (uint8_t)(id >> 8);
	k.a[3] = (uint8_t)id;
	k.b[0] = 192;
	k.b[3] = 10;
	k.pa = (uint16_t)(1024 + (id & 0x7fff));
	k.pb = 443;
	k.proto = 6;
	k.family = 4;
	return k;
}

/* The same id as an IPv6 UDP key. */
static struct sl_key key6_of(uint32_t id)
{
	struct sl_key k;

	memset(&k, 0, sizeof(k));
	k.a[0] = 0x20;
	k.a[1] = 0x01;
	k.a[13] = (uint8_t)(id >> 16);
	k.a[14] = (uint8_t)(id >> 8);
	k.a[15] = (uint8_t)id;
	k.b[0] = 0x20;
	k.b[15] = 1;
	k.pa = (uint16_t)(1024 + (id & 0x7fff));
	k.pb = 53;
	k.proto = 17;
	k.family = 6;
	return k;
}

/* Inverse of key_of() and key6_of(). */
static uint32_t id_of(const struct sl_key *k)
{
	const uint8_t *a = k->family == 6 ? k->a + 13 : k->a + 1;

	return (uint32_t)a[0] << 16 | (uint32_t)a[1] << 8 | a[2];
}

static uint64_t dig(const struct sl_key *k)
{
	return sl_hash_key(k, SEED);
}

static struct sl_flowtable *mk(uint32_t c4, uint32_t c6)
{
	return sl_ft_create(c4, c6, &TO, SEED);
}

/* The invariant: every used slot holds a key in one of the key's two
 * buckets, no key twice, and the counts add up. */
static int layout_ok(const struct sl_flowtable *ft)
{
	uint64_t n4 = (uint64_t)ft->part[0].nbuckets * 2;
	uint32_t used[2] = { 0, 0 };

	for (uint64_t i = 0; i < ft->slots; i++) {
		const struct sl_flow *f = sl_ft_at(ft, i);
		int v6 = i >= n4;
		struct sl_key k;
		uint32_t b1, b2, b = (uint32_t)((v6 ? i - n4 : i) / 2);

		if (!(f->state & SL_FS_USED))
			continue;
		used[v6]++;
		sl_ft_key_at(ft, i, &k);
		if (k.family != (v6 ? 6 : 4))
			return 0;
		sl_ft_buckets(&ft->part[v6], dig(&k), &b1, &b2);
		if (b != b1 && b != b2)
			return 0;
		for (uint64_t j = i + 1; j < ft->slots; j++) {
			struct sl_key o;

			if (!(sl_ft_at(ft, j)->state & SL_FS_USED))
				continue;
			sl_ft_key_at(ft, j, &o);
			if (!memcmp(&o, &k, sizeof(k)))
				return 0;
		}
	}
	return used[0] == ft->part[0].count && used[1] == ft->part[1].count &&
	       sl_ft_count(ft) == used[0] + used[1];
}

static void test_create(void)
{
	struct sl_flowtable *ft = mk(1, 1);

	CU_ASSERT_FATAL(ft != NULL);
	/* at least 8 buckets of two per part */
	CU_ASSERT_EQUAL(ft->part[0].nbuckets, 8);
	CU_ASSERT_EQUAL(ft->part[1].nbuckets, 8);
	CU_ASSERT_EQUAL(ft->slots, 32);
	CU_ASSERT_EQUAL(sl_ft_capacity(ft), 2);
	CU_ASSERT_EQUAL(sl_ft_count(ft), 0);
	sl_ft_destroy(ft);

	/* 1.25 entries per flow, in buckets of two: 1000 -> 625 buckets */
	ft = mk(1000, 100);
	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT_EQUAL(ft->part[0].nbuckets, 625);
	CU_ASSERT_EQUAL(ft->part[1].nbuckets, 63);
	CU_ASSERT_EQUAL(ft->part[0].capacity, 1000);
	CU_ASSERT_EQUAL(ft->part[1].capacity, 100);
	CU_ASSERT_EQUAL(ft->slots, 1250 + 126);
	for (uint64_t i = 0; i < ft->slots; i++)
		CU_ASSERT_EQUAL_FATAL(sl_ft_at(ft, i)->state, 0);
	sl_ft_destroy(ft);

	/* the memory the issue counts: 40 B per IPv4 flow, 80 per IPv6 one */
	ft = mk(1u << 20, 1u << 18);
	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT(sl_ft_bytes(ft) <= (uint64_t)40 * (1u << 20) + (uint64_t)80 * (1u << 18) +
					     3 * 4096 + sizeof(*ft));
	CU_ASSERT(sl_ft_bytes(ft) / ((1u << 20) + (1u << 18)) <= 64);
	sl_ft_destroy(ft);

	CU_ASSERT_PTR_NULL(mk(0, 10));
	CU_ASSERT_PTR_NULL(mk(10, 0));
	CU_ASSERT_PTR_NULL(sl_ft_create(100, 100, NULL, SEED));
	CU_ASSERT_PTR_NULL(mk(SL_FT_MAX_CAPACITY + 1u, 10));
	sl_ft_destroy(NULL);
}

static void test_insert_hit(void)
{
	struct sl_flowtable *ft = mk(100, 100);
	struct sl_key k = key_of(1), k2;
	uint64_t d = dig(&k);
	struct sl_flow *f, *g;
	struct sl_flow_rec old;
	enum sl_ft_result r;

	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k, d, 10));
	f = sl_ft_lookup_insert(ft, &k, d, 10, &r, &old);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(r, SL_FT_NEW);
	CU_ASSERT_EQUAL(f->last_seen, 10);
	CU_ASSERT_EQUAL(f->state, SL_FS_USED);
	CU_ASSERT(f->t0_us == 0 && f->packets == 0 && f->born == 0);
	CU_ASSERT(f->gev == 0 && f->slices == 0 && f->svc == 0);
	CU_ASSERT(sl_ft_count(ft) == 1 && ft->part[0].count == 1 && ft->part[1].count == 0);
	CU_ASSERT(layout_ok(ft));

	f->t0_us = 7;
	f->gev = 0xe1;
	f->slices = 0x81;
	f->packets = 5;
	f->born = 0xab000123u;
	sl_flow_set_service(f, 127);
	f->state |= SL_FS_TCP | SL_FS_SYN;
	g = sl_ft_lookup_insert(ft, &k, d, 40, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_HIT);
	CU_ASSERT_PTR_EQUAL(g, f);
	CU_ASSERT(g->t0_us == 7 && g->packets == 5 && sl_flow_epoch(g) == 0xab);
	CU_ASSERT_EQUAL(sl_flow_service(g), 127);
	CU_ASSERT_EQUAL(sl_flow_age_s(g, 0x124), 1);
	CU_ASSERT_EQUAL(g->last_seen, 10); /* the caller refreshes it */
	CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k, d, 40), f);
	CU_ASSERT_EQUAL(sl_ft_count(ft), 1);

	/* every byte of the key counts: addresses, ports, protocol, family */
	for (int which = 0; which < 6; which++) {
		k2 = k;
		switch (which) {
		case 0: k2.a[3] ^= 1; break;
		case 1: k2.b[0] ^= 0x80; break;
		case 2: k2.pa++; break;
		case 3: k2.pb++; break;
		case 4: k2.proto = 17; break;
		default: k2.family = 6; break;
		}
		CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k2, dig(&k2), 40));
		/* ... even looked for where k is */
		CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k2, d, 40));
	}
	/* the UDP twin of k is a flow of its own, its protocol kept */
	k2 = k;
	k2.proto = 17;
	g = sl_ft_lookup_insert(ft, &k2, dig(&k2), 40, &r, &old);
	CU_ASSERT_FATAL(g != NULL);
	CU_ASSERT(r == SL_FT_NEW && g != f && (g->svc & SL_FLOW_UDP));
	sl_flow_set_service(g, 3);
	CU_ASSERT(sl_flow_service(g) == 3 && (g->svc & SL_FLOW_UDP));

	/* IPv6 goes to its own part, the whole key kept */
	k2 = key6_of(1);
	g = sl_ft_lookup_insert(ft, &k2, dig(&k2), 40, &r, &old);
	CU_ASSERT_FATAL(g != NULL);
	CU_ASSERT_EQUAL(r, SL_FT_NEW);
	CU_ASSERT(ft->part[0].count == 2 && ft->part[1].count == 1 && sl_ft_count(ft) == 3);
	CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k2, dig(&k2), 41), g);
	k2.a[7] = 1;
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k2, dig(&k2), 41));
	CU_ASSERT(layout_ok(ft));
	sl_ft_destroy(ft);
}

/* A small table filled to capacity: the buckets run full, inserts move
 * entries to their other bucket, and no flow is lost on the way. */
static void fill_case(int v6, uint32_t cap, uint64_t seed)
{
	struct sl_flowtable *ft = v6 ? mk(16, cap) : mk(cap, 16);
	struct sl_flow_rec old;
	enum sl_ft_result r;
	uint32_t n = 0, id0 = (uint32_t)(seed * 1000);

	CU_ASSERT_FATAL(ft != NULL);
	for (uint32_t i = 0; i < cap; i++) {
		struct sl_key k = v6 ? key6_of(id0 + i) : key_of(id0 + i);
		struct sl_flow *f = sl_ft_lookup_insert(ft, &k, dig(&k), 0, &r, &old);

		if (!f) {
			CU_ASSERT_EQUAL(r, SL_FT_FULL);
			continue;
		}
		CU_ASSERT_EQUAL(r, SL_FT_NEW);
		f->t0_us = id0 + i;
		n++;
	}
	/* load 0.8 of two-entry buckets: room is found (almost) always */
	CU_ASSERT(n >= cap - cap / 50);
	CU_ASSERT_EQUAL(ft->part[v6].count, n);
	CU_ASSERT(layout_ok(ft));
	for (uint32_t i = 0; i < cap; i++) {
		struct sl_key k = v6 ? key6_of(id0 + i) : key_of(id0 + i);
		struct sl_flow *f = sl_ft_lookup(ft, &k, dig(&k), 1);

		if (f)
			CU_ASSERT_EQUAL(f->t0_us, id0 + i);
		n -= f != NULL;
	}
	CU_ASSERT_EQUAL(n, 0); /* every inserted flow still there */
	/* a further flow: no room at capacity, live flows still hit */
	if (ft->part[v6].count == cap) {
		struct sl_key k = v6 ? key6_of(id0 + cap) : key_of(id0 + cap);

		CU_ASSERT_PTR_NULL(sl_ft_lookup_insert(ft, &k, dig(&k), 2, &r, &old));
		CU_ASSERT_EQUAL(r, SL_FT_FULL);
		k = v6 ? key6_of(id0) : key_of(id0);
		CU_ASSERT_PTR_NOT_NULL(sl_ft_lookup_insert(ft, &k, dig(&k), 2, &r, &old));
		CU_ASSERT_EQUAL(r, SL_FT_HIT);
	}
	/* the other family is not affected */
	{
		struct sl_key k = v6 ? key_of(5) : key6_of(5);

		CU_ASSERT_PTR_NOT_NULL(sl_ft_lookup_insert(ft, &k, dig(&k), 2, &r, &old));
		CU_ASSERT_EQUAL(r, SL_FT_NEW);
	}
	CU_ASSERT(layout_ok(ft));
	sl_ft_destroy(ft);
}

static void test_full_buckets(void)
{
	uint64_t kicks = 0;
	struct sl_flowtable *ft;

	for (uint64_t s = 1; s <= 40; s++) {
		fill_case(0, 16 + (uint32_t)s * 7, s);
		fill_case(1, 16 + (uint32_t)s * 5, s);
	}
	/* moves happen: 4000 flows into 2500 slots; a third of them UDP (a
	 * moved entry's other bucket comes from its protocol bit) */
	ft = mk(4000, 16);
	CU_ASSERT_FATAL(ft != NULL);
	for (uint32_t i = 0; i < 4000; i++) {
		struct sl_key k = key_of(i);
		struct sl_flow_rec old;
		enum sl_ft_result r;

		if (i % 3 == 0)
			k.proto = 17;
		CU_ASSERT_PTR_NOT_NULL(sl_ft_lookup_insert(ft, &k, dig(&k), 0, &r, &old));
	}
	kicks = ft->kicks;
	CU_ASSERT(kicks > 100);
	CU_ASSERT_EQUAL(sl_ft_count(ft), 4000);
	CU_ASSERT(layout_ok(ft));
	for (uint32_t i = 0; i < 4000; i++) {
		struct sl_key k = key_of(i);

		if (i % 3 == 0)
			k.proto = 17;
		CU_ASSERT_PTR_NOT_NULL(sl_ft_lookup(ft, &k, dig(&k), 0));
	}
	sl_ft_destroy(ft);
}

static void test_expiry(void)
{
	struct sl_flowtable *ft = mk(100, 16);
	struct sl_key k = key_of(1);
	struct sl_flow *f, *g;
	struct sl_flow_rec old;
	enum sl_ft_result r;
	const uint32_t t0 = 0xffffff00u; /* the ms clock wraps during the test */

	CU_ASSERT_FATAL(ft != NULL);
	f = sl_ft_lookup_insert(ft, &k, dig(&k), t0, &r, &old);
	CU_ASSERT_FATAL(f != NULL);
	f->t0_us = 42;
	sl_flow_set_service(f, 3);
	f->slices = 0xff;
	f->gev = 0xff;
	f->packets = 9;
	/* other (UDP) timeout 300: live at +300, expired at +301 */
	CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k, dig(&k), t0 + 300), f);
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k, dig(&k), t0 + 301));
	memset(&old, 0, sizeof(old));
	g = sl_ft_lookup_insert(ft, &k, dig(&k), t0 + 301, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_REUSED);
	CU_ASSERT_PTR_EQUAL(g, f);
	CU_ASSERT_EQUAL(memcmp(&old.key, &k, sizeof(k)), 0);
	CU_ASSERT(old.f.t0_us == 42 && sl_flow_service(&old.f) == 3 && old.f.gev == 0xff &&
		  old.f.packets == 9 && old.f.last_seen == t0);
	CU_ASSERT(g->t0_us == 0 && g->svc == 0 && g->slices == 0 && g->gev == 0 &&
		  g->packets == 0);
	CU_ASSERT_EQUAL(g->state, SL_FS_USED);
	CU_ASSERT_EQUAL(g->last_seen, t0 + 301);
	CU_ASSERT_EQUAL(sl_ft_count(ft), 1);

	/* an expired entry in a new key's buckets is taken over (before a
	 * free slot): find a key sharing a bucket with k */
	{
		uint32_t fb = (uint32_t)(((uint8_t *)f - ft->part[0].mem) / 64), id;
		struct sl_key k3;

		for (id = 2;; id++) {
			uint32_t b1, b2;

			k3 = key_of(id);
			sl_ft_buckets(&ft->part[0], dig(&k3), &b1, &b2);
			if (b1 == fb || b2 == fb)
				break;
		}
		g = sl_ft_lookup_insert(ft, &k3, dig(&k3), t0 + 602, &r, &old);
		CU_ASSERT_EQUAL(r, SL_FT_REUSED);
		CU_ASSERT_PTR_EQUAL(g, f);
		CU_ASSERT_EQUAL(memcmp(&old.key, &k, sizeof(k)), 0);
		CU_ASSERT_EQUAL(sl_ft_count(ft), 1);
		CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k, dig(&k), t0 + 602));
		CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k3, dig(&k3), t0 + 602), g);
	}
	CU_ASSERT(layout_ok(ft));
	sl_ft_destroy(ft);
}

static uint32_t rule(uint8_t st)
{
	if (!(st & SL_FS_TCP))
		return TO.other;
	if (st & SL_FS_RST)
		return TO.tcp_closed;
	if ((st & SL_FS_FIN_C) && (st & SL_FS_FIN_S))
		return TO.tcp_closed;
	if (st & (SL_FS_FIN_C | SL_FS_FIN_S))
		return TO.tcp_fin;
	return (st & SL_FS_EST) ? TO.tcp_est : TO.tcp_syn;
}

static void test_tcp_timeouts(void)
{
	static const struct {
		uint8_t st;
		uint32_t to;
	} cases[] = {
		{ SL_FS_USED, 300 },
		{ SL_FS_USED | SL_FS_TCP, 50 },
		{ SL_FS_USED | SL_FS_TCP | SL_FS_SYN, 50 },
		{ SL_FS_USED | SL_FS_TCP | SL_FS_SYN | SL_FS_EST, 1000 },
		{ SL_FS_USED | SL_FS_TCP | SL_FS_EST, 1000 },
		{ SL_FS_USED | SL_FS_TCP | SL_FS_EST | SL_FS_FIN_C, 200 },
		{ SL_FS_USED | SL_FS_TCP | SL_FS_EST | SL_FS_FIN_S, 200 },
		{ SL_FS_USED | SL_FS_TCP | SL_FS_EST | SL_FS_FIN_C | SL_FS_FIN_S, 20 },
		{ SL_FS_USED | SL_FS_TCP | SL_FS_EST | SL_FS_RST, 20 },
		{ SL_FS_USED | SL_FS_TCP | SL_FS_SYN | SL_FS_RST, 20 },
		{ SL_FS_USED | SL_FS_RST, 300 }, /* not TCP: RST bit irrelevant */
	};
	struct sl_flowtable *ft = mk(64, 64);
	struct sl_flow *f;
	struct sl_flow_rec old;
	enum sl_ft_result r;

	CU_ASSERT_FATAL(ft != NULL);
	for (uint32_t s = 0; s < 256; s++)
		CU_ASSERT_EQUAL(sl_ft_timeout_of(ft, (uint8_t)s), rule((uint8_t)s));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_key k = i & 1 ? key6_of((uint32_t)i) : key_of((uint32_t)i);
		uint64_t d = dig(&k);

		CU_ASSERT_EQUAL(sl_ft_timeout_of(ft, cases[i].st), cases[i].to);
		f = sl_ft_lookup_insert(ft, &k, d, 1000, &r, &old);
		CU_ASSERT_FATAL(f != NULL);
		CU_ASSERT_EQUAL(r, SL_FT_NEW);
		f->state = cases[i].st;
		CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k, d, 1000 + cases[i].to), f);
		CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k, d, 1000 + cases[i].to + 1));
	}
	sl_ft_destroy(ft);
}

struct gone_log {
	uint32_t calls;
	uint32_t ids[8192];
};

/* the tests keep an entry's id in its t0_us */
static void gone_rec(void *ctx, const struct sl_flow *f)
{
	struct gone_log *g = ctx;

	if (g->calls < 8192)
		g->ids[g->calls] = f->t0_us;
	g->calls++;
}

/* A sweep in steps from anywhere, across the end of the slots and from
 * the IPv4 part into the IPv6 one: exactly the expired entries go, each
 * once, every live one is still found. */
static void sweep_case(uint64_t seed, uint32_t budget_step)
{
	struct sl_flowtable *ft = mk(24, 24);
	struct gone_log *log = calloc(1, sizeof(*log));
	struct sl_key k[40];
	uint64_t r64 = seed;
	int live[40], in[40], nlive = 0, nexp = 0;
	struct sl_flow *f;
	struct sl_flow_rec old;
	enum sl_ft_result r;
	uint32_t removed = 0;

	CU_ASSERT_FATAL(ft != NULL && log != NULL);
	for (uint32_t i = 0; i < 40; i++) {
		k[i] = i & 1 ? key6_of(i) : key_of(i);
		f = sl_ft_lookup_insert(ft, &k[i], dig(&k[i]), 0, &r, &old);
		in[i] = f != NULL;
		live[i] = 0;
		if (!f)
			continue;
		f->t0_us = i;
		/* about half refreshed later (inserting at 0 would take over
		 * entries stamped 1000: the clock difference wraps) */
		live[i] = (int)(sm64(&r64) & 1);
		nlive += live[i];
		nexp += !live[i];
	}
	for (uint32_t i = 0; i < 40; i++)
		if (live[i])
			sl_ft_lookup(ft, &k[i], dig(&k[i]), 0)->last_seen = 1000;
	CU_ASSERT(layout_ok(ft));
	ft->sweep_pos = sm64(&r64) % ft->slots;
	for (uint64_t done = 0; done < ft->slots; done += budget_step)
		removed += sl_ft_sweep(ft, 1100, budget_step, gone_rec, log);
	CU_ASSERT_EQUAL(removed, (uint32_t)nexp);
	CU_ASSERT_EQUAL(log->calls, (uint32_t)nexp);
	CU_ASSERT_EQUAL(sl_ft_count(ft), (uint32_t)nlive);
	for (uint32_t c = 0; c < log->calls && c < 8192; c++) {
		CU_ASSERT(log->ids[c] < 40 && in[log->ids[c]] && !live[log->ids[c]]);
		for (uint32_t e = 0; e < c; e++)
			CU_ASSERT(log->ids[e] != log->ids[c]);
	}
	for (uint32_t i = 0; i < 40; i++) {
		f = sl_ft_lookup(ft, &k[i], dig(&k[i]), 1100);
		if (live[i]) {
			CU_ASSERT_PTR_NOT_NULL(f);
			CU_ASSERT_EQUAL(f ? f->t0_us : 0, i);
		} else {
			CU_ASSERT_PTR_NULL(f);
		}
	}
	/* a slot cleared by the sweep is all zero */
	for (uint64_t i = 0; i < ft->slots; i++) {
		const struct sl_flow *x = sl_ft_at(ft, i);

		if (!(x->state & SL_FS_USED))
			CU_ASSERT(x->last_seen == 0 && x->t0_us == 0 && x->svc == 0);
	}
	CU_ASSERT(layout_ok(ft));
	free(log);
	sl_ft_destroy(ft);
}

static void test_sweep(void)
{
	for (uint64_t s = 1; s <= 300; s++)
		sweep_case(s, 1 + (uint32_t)(s % 40));
}

/* Reset epochs: a new reset_gen of a service starts a new epoch; flows
 * of older ones are stale. */
static void test_epochs(void)
{
	struct sl_flowtable *ft = mk(16, 16);
	struct sl_flow f;

	CU_ASSERT_FATAL(ft != NULL);
	memset(&f, 0, sizeof(f));
	CU_ASSERT_EQUAL(sl_ft_epoch(ft, 5, 0), 0);
	sl_flow_set_service(&f, 5);
	f.born = 17;
	CU_ASSERT(!sl_ft_stale(ft, &f));
	CU_ASSERT_EQUAL(sl_ft_epoch(ft, 5, 9), 1); /* reset at generation 9 */
	CU_ASSERT(sl_ft_stale(ft, &f));
	CU_ASSERT_EQUAL(sl_ft_epoch(ft, 5, 9), 1); /* the same reset: no new epoch */
	f.born = 17 | 1u << 24;
	CU_ASSERT(!sl_ft_stale(ft, &f));
	CU_ASSERT_EQUAL(sl_ft_epoch(ft, 4, 9), 1); /* services apart */
	CU_ASSERT_EQUAL(sl_ft_epoch(ft, 5, 12), 2);
	CU_ASSERT(sl_ft_stale(ft, &f));
	CU_ASSERT_EQUAL(sl_flow_age_s(&f, 16), SL_FLOW_BORN_S); /* wraps in 24 bits */
	CU_ASSERT_EQUAL(sl_flow_age_s(&f, 20), 3);
	sl_ft_destroy(ft);
}

/* Reference model: one record per key id (0..R_KEYS-1 IPv4, then IPv6). */
struct ref {
	int present;
	struct sl_flow e; /* expected entry contents */
};

#define R_KEYS 160

struct rand_ctx {
	struct ref *ref;
	uint32_t now;
	uint32_t gone_calls;
	int bad_gone;
};

static int ref_expired(const struct sl_flow *e, uint32_t now)
{
	return (uint32_t)(now - e->last_seen) > rule(e->state);
}

static void gone_check(void *ctx, const struct sl_flow *f)
{
	struct rand_ctx *c = ctx;
	uint32_t id = f->t0_us;

	c->gone_calls++;
	if (id >= 2 * R_KEYS || !c->ref[id].present || memcmp(&c->ref[id].e, f, sizeof(*f)) ||
	    !ref_expired(f, c->now))
		c->bad_gone = 1;
	else
		c->ref[id].present = 0;
}

static const uint8_t STATES[] = {
	SL_FS_USED, SL_FS_USED | SL_FS_TCP | SL_FS_SYN,
	SL_FS_USED | SL_FS_TCP | SL_FS_SYN | SL_FS_EST,
	SL_FS_USED | SL_FS_TCP | SL_FS_EST | SL_FS_FIN_C,
	SL_FS_USED | SL_FS_TCP | SL_FS_EST | SL_FS_FIN_C | SL_FS_FIN_S,
	SL_FS_USED | SL_FS_TCP | SL_FS_RST,
};

static int table_matches(const struct sl_flowtable *ft, const struct ref *ref)
{
	uint32_t seen = 0, want = 0;

	for (uint64_t j = 0; j < ft->slots; j++) {
		const struct sl_flow *f = sl_ft_at(ft, j);
		struct sl_key k;
		uint32_t id;

		if (!(f->state & SL_FS_USED))
			continue;
		sl_ft_key_at(ft, j, &k);
		id = id_of(&k) + (k.family == 6 ? R_KEYS : 0);
		if (id >= 2 * R_KEYS || !ref[id].present || memcmp(&ref[id].e, f, sizeof(*f)) ||
		    f->t0_us != id)
			return 0;
		seen++;
	}
	for (uint32_t i = 0; i < 2 * R_KEYS; i++)
		want += ref[i].present;
	return seen == want && layout_ok(ft);
}

/* Live and expired entries in the key's buckets. */
static void buckets_seen(const struct sl_flowtable *ft, const struct sl_key *k, uint32_t now,
			 int *any_free, int *any_exp)
{
	int v6 = k->family == 6;
	uint64_t base = v6 ? (uint64_t)ft->part[0].nbuckets * 2 : 0;
	uint32_t b[2];

	*any_free = *any_exp = 0;
	sl_ft_buckets(&ft->part[v6], dig(k), &b[0], &b[1]);
	for (int i = 0; i < 2; i++)
		for (uint64_t s = 0; s < 2; s++) {
			const struct sl_flow *f = sl_ft_at(ft, base + (uint64_t)b[i] * 2 + s);

			if (!(f->state & SL_FS_USED))
				*any_free = 1;
			else if (ref_expired(f, now))
				*any_exp = 1;
		}
}

static void random_run(uint32_t cap4, uint32_t cap6, uint64_t seed, uint32_t ops, int want_full)
{
	struct sl_flowtable *ft = mk(cap4, cap6);
	struct ref *ref = calloc(2 * R_KEYS, sizeof(*ref));
	struct rand_ctx ctx = { .ref = ref, .now = 0xfffff000u };
	uint64_t r64 = seed;
	struct sl_key keys[2 * R_KEYS];
	uint32_t n_res[4] = { 0 }, failures = 0, sweeps = 0;

	CU_ASSERT_FATAL(ft != NULL && ref != NULL);
	for (uint32_t i = 0; i < R_KEYS; i++) {
		keys[i] = key_of(i);
		keys[R_KEYS + i] = key6_of(i);
	}
	for (uint32_t op = 0; op < ops && !failures; op++) {
		uint32_t x = (uint32_t)(sm64(&r64) % 100), id = (uint32_t)(sm64(&r64) % (2 * R_KEYS));
		int v6 = id >= R_KEYS;
		struct ref *rf = &ref[id];
		int live = rf->present && !ref_expired(&rf->e, ctx.now);

		if (x < 45) {
			struct sl_flow_rec old;
			enum sl_ft_result res;
			struct sl_flow *f;
			int any_free, any_exp;
			uint32_t cnt = 0;

			for (uint32_t i = 0; i < 2 * R_KEYS; i++)
				cnt += ref[i].present && (i >= R_KEYS) == v6;
			buckets_seen(ft, &keys[id], ctx.now, &any_free, &any_exp);
			memset(&old, 0, sizeof(old));
			f = sl_ft_lookup_insert(ft, &keys[id], dig(&keys[id]), ctx.now, &res, &old);
			n_res[res]++;
			if (live) {
				failures += res != SL_FT_HIT || !f || memcmp(f, &rf->e, sizeof(*f));
			} else if (res == SL_FT_REUSED) {
				uint32_t oid = old.f.t0_us;

				/* old: an expired flow of the model, the key's own if
				 * it had one */
				failures += !f || oid >= 2 * R_KEYS || !ref[oid].present ||
					    memcmp(&ref[oid].e, &old.f, sizeof(old.f)) ||
					    memcmp(&old.key, &keys[oid], sizeof(old.key)) ||
					    !ref_expired(&old.f, ctx.now) ||
					    (rf->present && oid != id);
				if (oid < 2 * R_KEYS)
					ref[oid].present = 0;
			} else if (res == SL_FT_NEW) {
				/* an expired entry in its buckets would have been taken */
				failures += !f || rf->present || any_exp || cnt >= ft->part[v6].capacity;
			} else {
				/* full: at capacity, or both buckets full of live flows */
				failures += f != NULL || rf->present || any_exp ||
					    (cnt < ft->part[v6].capacity && any_free);
			}
			if (f && res != SL_FT_HIT)
				failures += f->state != SL_FS_USED || f->last_seen != ctx.now ||
					    f->t0_us || f->packets || f->born ||
					    (f->svc & SL_FLOW_SVC);
			if (f) {
				/* the caller's part: refresh and fill */
				f->last_seen = ctx.now;
				f->state = STATES[sm64(&r64) % sizeof(STATES)];
				f->t0_us = id;
				f->packets = op;
				f->born = (uint32_t)sm64(&r64);
				sl_flow_set_service(f, op % 128);
				rf->present = 1;
				rf->e = *f;
			}
		} else if (x < 70) {
			struct sl_flow *f = sl_ft_lookup(ft, &keys[id], dig(&keys[id]), ctx.now);

			failures += live ? (!f || memcmp(f, &rf->e, sizeof(*f))) : f != NULL;
		} else if (x < 85) {
			ctx.now += (uint32_t)(sm64(&r64) % 60);
		} else {
			uint32_t budget = (uint32_t)(sm64(&r64) % 48), before = ctx.gone_calls;
			uint32_t pre = sl_ft_count(ft), got;

			if (x == 99)
				budget = (uint32_t)ft->slots;
			got = sl_ft_sweep(ft, ctx.now, budget, gone_check, &ctx);
			failures += ctx.bad_gone || got != ctx.gone_calls - before ||
				    sl_ft_count(ft) != pre - got;
			if (x == 99)
				for (uint32_t i = 0; i < 2 * R_KEYS; i++)
					failures += ref[i].present && ref_expired(&ref[i].e, ctx.now);
			sweeps++;
		}
		failures += !table_matches(ft, ref);
		if (failures)
			printf("\n    flowtable random: first failure at op %u ", op);
	}
	CU_ASSERT_EQUAL(failures, 0);
	if (!(n_res[SL_FT_HIT] && n_res[SL_FT_NEW] && n_res[SL_FT_REUSED] &&
	      (n_res[SL_FT_FULL] > 0) == want_full))
		printf("\n    flowtable random %u/%u: hit %u new %u reused %u full %u ", cap4, cap6,
		       n_res[0], n_res[1], n_res[2], n_res[3]);
	CU_ASSERT(n_res[SL_FT_HIT] && n_res[SL_FT_NEW] && n_res[SL_FT_REUSED] &&
		  (n_res[SL_FT_FULL] > 0) == want_full);
	CU_ASSERT(ctx.gone_calls > 0 && sweeps > 0);
	free(ref);
	sl_ft_destroy(ft);
}

static void test_random(void)
{
	/* small parts: full at capacity, full buckets, moves */
	random_run(30, 20, 1, 60000, 1);
	/* capacity near the keys, 126 slots a part for 160 keys: the
	 * expired entries taken over leave room, never FULL */
	random_run(100, 100, 2, 60000, 0);
	random_run(12, 60, 3, 60000, 1);
}

/* Snapshots (sluice-dp's telemetry): only live entries that pass the
 * filter, with their keys, at most max, over steps of a bounded number of
 * slots, and the table untouched. */
static void test_snapshot(void)
{
	struct sl_flowtable *ft = mk(900, 300);
	static struct sl_flow_rec out[1100];
	static uint8_t before[2][64 * 1024];
	struct sl_ft_snap_filter any = { -1, -1 }, f;
	enum sl_ft_result r;
	struct sl_flow_rec old;
	uint32_t n, steps, live = 0;
	uint64_t pos;
	int seen[2][1000];

	CU_ASSERT_FATAL(ft != NULL);
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_FATAL(ft->part[0].map_bytes <= sizeof(before[0]) &&
			ft->part[1].map_bytes <= sizeof(before[1]));
	/* 1000 flows (every 4th IPv6): service id % 3, group id % 2; ids % 5
	 * == 0 seen at 0, the others at 900: at 1000 (other timeout 300) the
	 * first are expired */
	for (uint32_t j = 0; j < 1000; j++) {
		uint32_t id = j < 200 ? j * 5 : (j - 200) / 4 * 5 + (j - 200) % 4 + 1;
		struct sl_key k = id % 4 == 3 ? key6_of(id) : key_of(id);
		struct sl_flow *e = sl_ft_lookup_insert(ft, &k, dig(&k), id % 5 ? 900 : 0, &r,
							&old);

		CU_ASSERT_FATAL(e != NULL);
		/* an expired entry on the way may be taken over: still 800 live */
		CU_ASSERT(r == SL_FT_NEW || r == SL_FT_REUSED);
		sl_flow_set_service(e, id % 3);
		e->gev = (uint8_t)(id % 2);
		e->packets = id;
		live += id % 5 != 0;
	}
	memcpy(before[0], ft->part[0].mem, ft->part[0].map_bytes);
	memcpy(before[1], ft->part[1].mem, ft->part[1].map_bytes);

	/* the whole table in steps of 100 slots: every live entry once */
	n = 0;
	pos = 0;
	steps = 0;
	while (!sl_ft_snapshot(ft, 1000, &any, out, 1100, &n, &pos, 100))
		steps++;
	CU_ASSERT_EQUAL(n, live);
	CU_ASSERT_EQUAL(steps + 1, (uint32_t)((ft->slots + 99) / 100));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = id_of(&out[i].key);
		int v6 = out[i].key.family == 6;

		CU_ASSERT(id < 1000 && id % 5 != 0 && !seen[v6][id] && v6 == (id % 4 == 3));
		if (id < 1000)
			seen[v6][id]++;
		CU_ASSERT(out[i].f.last_seen == 900 && out[i].f.packets == id && !out[i].stale);
		{
			struct sl_key k = v6 ? key6_of(id) : key_of(id);

			CU_ASSERT_EQUAL(memcmp(&out[i].key, &k, sizeof(k)), 0);
		}
	}
	CU_ASSERT_EQUAL(memcmp(before[0], ft->part[0].mem, ft->part[0].map_bytes), 0);
	CU_ASSERT_EQUAL(memcmp(before[1], ft->part[1].mem, ft->part[1].map_bytes), 0);

	/* a service and a group: exactly those */
	f.service = 1;
	f.group = 0;
	n = 0;
	pos = 0;
	while (!sl_ft_snapshot(ft, 1000, &f, out, 1100, &n, &pos, 64))
		;
	{
		uint32_t want = 0;

		for (uint32_t id = 0; id < 1000; id++)
			want += id % 5 && id % 3 == 1 && id % 2 == 0;
		CU_ASSERT_EQUAL(n, want);
	}
	for (uint32_t i = 0; i < n; i++)
		CU_ASSERT(sl_flow_service(&out[i].f) == 1 && sl_flow_group(&out[i].f) == 0);

	/* a reset of service 1 seen: its flows are stale */
	sl_ft_epoch(ft, 1, 44);
	n = 0;
	pos = 0;
	while (!sl_ft_snapshot(ft, 1000, &any, out, 1100, &n, &pos, 1000))
		;
	for (uint32_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(out[i].stale, sl_flow_service(&out[i].f) == 1);

	/* bounded: max entries, complete as soon as they are copied */
	n = 0;
	pos = 0;
	CU_ASSERT_EQUAL(sl_ft_snapshot(ft, 1000, &any, out, 10, &n, &pos, (uint32_t)ft->slots), 1);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT(pos < ft->slots);
	/* max 0: nothing copied, complete at once */
	n = 0;
	pos = 0;
	CU_ASSERT_EQUAL(sl_ft_snapshot(ft, 1000, &any, out, 0, &n, &pos, 100), 1);
	CU_ASSERT_EQUAL(n, 0);
	sl_ft_destroy(ft);
	/* an empty table: complete, nothing */
	ft = mk(16, 16);
	CU_ASSERT_FATAL(ft != NULL);
	n = 0;
	pos = 0;
	CU_ASSERT_EQUAL(sl_ft_snapshot(ft, 0, &any, out, 10, &n, &pos, 1000), 1);
	CU_ASSERT_EQUAL(n, 0);
	sl_ft_destroy(ft);
}

/* The worker's side of a snapshot request (snap.h): nothing when nothing
 * is asked, a request served over steps of SL_SNAP_BUDGET slots, a key
 * looked up with the table's flow seed, a new request restarting one in
 * progress, a reset the worker has not met yet marking flows stale. */
static void test_snap_protocol(void)
{
	static struct sl_table_hdr h;
	static struct sl_snap sn;
	struct sl_view v = { &h, NULL };
	struct sl_flowtable *ft = mk(20000, 1024);
	struct sl_ft_snap_filter any = { -1, -1 };
	struct sl_key k7 = key_of(7), absent = key_of(99999);
	enum sl_ft_result r;
	struct sl_flow_rec old;
	unsigned steps;

	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT_FATAL(ft->slots > 4 * SL_SNAP_BUDGET);
	h.seed_flow = SEED;
	h.gen = 5;
	h.nservices = 1;
	for (uint32_t id = 0; id < 3000; id++) {
		struct sl_key k = key_of(id);
		struct sl_flow *f = sl_ft_lookup_insert(ft, &k, dig(&k), 0, &r, &old);

		CU_ASSERT_FATAL(f != NULL);
		f->born = SL_FLOW_BORN_S - 1; /* 2 s before the clock's 0 */
	}
	/* nothing asked: untouched */
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT(sn.done == 0 && sn.n == 0 && sn.serving == 0);

	/* everything, more than the buffer: SL_SNAP_MAX entries, in steps */
	sn.filter = any;
	sn.max = 100000;
	__atomic_store_n(&sn.req, 1, __ATOMIC_RELEASE);
	for (steps = 1;; steps++) {
		sl_snap_poll(&sn, ft, &v, 250000);
		if (sn.done == 1)
			break;
		CU_ASSERT_FATAL(steps < 1000);
	}
	CU_ASSERT_EQUAL(sn.n, SL_SNAP_MAX);
	CU_ASSERT(sn.gen == 5 && sn.ft_count == 3000 && sn.now_s == 0);
	CU_ASSERT_EQUAL(sl_flow_age_s(&sn.buf[0].f, sn.now_s), 2);
	CU_ASSERT_EQUAL(sn.buf[0].stale, 0);
	/* served: no more work until the next request */
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT_EQUAL(sn.n, SL_SNAP_MAX);

	/* a key: found with the table's seed, in one step */
	sn.by_key = 1;
	sn.key = k7;
	sn.max = 1;
	__atomic_store_n(&sn.req, 2, __ATOMIC_RELEASE);
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT_EQUAL(sn.done, 2);
	CU_ASSERT_EQUAL(sn.n, 1);
	CU_ASSERT_EQUAL(memcmp(&sn.buf[0].key, &k7, sizeof(k7)), 0);
	CU_ASSERT_EQUAL(sn.buf[0].stale, 0);
	/* service 0 reset since: stale before the worker meets it */
	h.services[0].reset_gen = 5;
	__atomic_store_n(&sn.req, 3, __ATOMIC_RELEASE);
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT(sn.done == 3 && sn.n == 1 && sn.buf[0].stale == 1);
	h.services[0].reset_gen = 0;
	sn.key = absent;
	__atomic_store_n(&sn.req, 4, __ATOMIC_RELEASE);
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT(sn.done == 4 && sn.n == 0);

	/* a walk of a sparse service (none matches) takes several steps; a
	 * new request given up on the old one restarts with its parameters */
	sn.by_key = 0;
	sn.filter.service = 9;
	sn.filter.group = -1;
	sn.max = 10;
	__atomic_store_n(&sn.req, 5, __ATOMIC_RELEASE);
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT_EQUAL(sn.done, 4);
	sn.filter = any;
	sn.max = 3;
	__atomic_store_n(&sn.req, 6, __ATOMIC_RELEASE);
	for (steps = 0; sn.done != 6 && steps < 1000; steps++)
		sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT_EQUAL(sn.done, 6);
	CU_ASSERT_EQUAL(sn.n, 3);
	/* expired by then: nothing live */
	__atomic_store_n(&sn.req, 7, __ATOMIC_RELEASE);
	for (steps = 0; sn.done != 7 && steps < 1000; steps++)
		sl_snap_poll(&sn, ft, &v, 10000000);
	CU_ASSERT(sn.done == 7 && sn.n == 0);
	sl_ft_destroy(ft);
}

void sl_test_register_flowtable(void)
{
	CU_pSuite s = CU_add_suite("flowtable", NULL, NULL);

	CU_add_test(s, "create: sizes, 40 B per IPv4 flow", test_create);
	CU_add_test(s, "insert and hit, both families, every key byte", test_insert_hit);
	CU_add_test(s, "full buckets: moves, no flow lost, capacity", test_full_buckets);
	CU_add_test(s, "expiry and reuse", test_expiry);
	CU_add_test(s, "tcp state timeouts", test_tcp_timeouts);
	CU_add_test(s, "sweep across parts and the end", test_sweep);
	CU_add_test(s, "reset epochs", test_epochs);
	CU_add_test(s, "randomized against a model", test_random);
	CU_add_test(s, "snapshot: live entries, filtered, bounded", test_snapshot);
	CU_add_test(s, "snapshot requests served by the worker", test_snap_protocol);
}
