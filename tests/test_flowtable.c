/* Flow table: hits, collisions, expiry and reuse, TCP timeouts, capacity,
 * sweep with backward shift across the array end, and a randomized run
 * against a reference model. */
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

/* Inverse of key_of(). */
static uint32_t id_of(const struct sl_key *k)
{
	return (uint32_t)k->a[1] << 16 | (uint32_t)k->a[2] << 8 | k->a[3];
}

/* Digest whose home slot is `home` (low bits) with other bits from id. */
static uint64_t dig_at(uint64_t mask, uint64_t home, uint32_t id)
{
	uint64_t s = id;

	return (sm64(&s) & ~mask) | (home & mask);
}

static uint64_t home_of(const struct sl_flowtable *ft, const struct sl_flow *f)
{
	return f->sig & ft->mask;
}

/* Every entry within max_probe of its home with no free slot in between. */
static int layout_ok(const struct sl_flowtable *ft)
{
	uint64_t n = ft->mask + 1, used = 0;

	for (uint64_t j = 0; j < n; j++) {
		const struct sl_flow *f = &ft->slots[j];
		uint64_t h, d;

		if (!(f->state & SL_FS_USED))
			continue;
		used++;
		h = home_of(ft, f);
		d = (j - h) & ft->mask;
		if (d >= ft->max_probe)
			return 0;
		for (uint64_t i = 0; i < d; i++)
			if (!(ft->slots[(h + i) & ft->mask].state & SL_FS_USED))
				return 0;
	}
	return used == ft->count;
}

static void test_create(void)
{
	struct sl_flowtable *ft = sl_ft_create(1, &TO);

	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT_EQUAL(ft->mask, 15);
	CU_ASSERT_EQUAL(ft->capacity, 1);
	CU_ASSERT_EQUAL(ft->count, 0);
	CU_ASSERT_EQUAL(ft->max_probe, 64);
	CU_ASSERT(sl_ft_bytes(ft) >= 16 * sizeof(struct sl_flow));
	sl_ft_destroy(ft);

	/* 100 * 5/4 = 125 -> 128; 1000 -> 1250 -> 2048; 1024 -> 1280 -> 2048 */
	ft = sl_ft_create(100, &TO);
	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT_EQUAL(ft->mask, 127);
	sl_ft_destroy(ft);
	ft = sl_ft_create(1024, &TO);
	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT_EQUAL(ft->mask, 2047);
	for (uint64_t i = 0; i <= ft->mask; i++)
		CU_ASSERT_EQUAL_FATAL(ft->slots[i].state, 0);
	sl_ft_destroy(ft);

	CU_ASSERT_PTR_NULL(sl_ft_create(0, &TO));
	CU_ASSERT_PTR_NULL(sl_ft_create(100, NULL));
	CU_ASSERT_PTR_NULL(sl_ft_create(SL_FT_MAX_CAPACITY + 1u, &TO));
	sl_ft_destroy(NULL);
}

static void test_insert_hit(void)
{
	struct sl_flowtable *ft = sl_ft_create(100, &TO);
	struct sl_key k = key_of(1), k2 = key_of(2);
	uint64_t d = 0x1234567890abcdefull;
	struct sl_flow *f, *g, old;
	enum sl_ft_result r;

	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k, d, 10));
	f = sl_ft_lookup_insert(ft, &k, d, 10, &r, &old);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(r, SL_FT_NEW);
	CU_ASSERT_EQUAL(f - ft->slots, (long)(d & ft->mask));
	CU_ASSERT_EQUAL(memcmp(&f->key, &k, sizeof(k)), 0);
	CU_ASSERT_EQUAL(f->sig, (uint32_t)d);
	CU_ASSERT_EQUAL(f->last_seen, 10);
	CU_ASSERT_EQUAL(f->state, SL_FS_USED);
	CU_ASSERT(f->gen == 0 && f->service == 0 && f->t0_us == 0);
	CU_ASSERT(f->gev == 0 && f->slices == 0);
	CU_ASSERT_EQUAL(ft->count, 1);

	f->t0_us = 7;
	/* the stored key's pad bytes hold the slice mask and gev: the
	 * lookups below (pad zero) still find the entry */
	f->gev = 0xe1;
	f->slices = 0x81;
	f->gen = 3;
	f->state |= SL_FS_TCP | SL_FS_SYN;
	memcpy(f->mac, "\x02\x00\x00\x00\x0b\x01", 6);
	g = sl_ft_lookup_insert(ft, &k, d, 40, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_HIT);
	CU_ASSERT_PTR_EQUAL(g, f);
	CU_ASSERT_EQUAL(g->t0_us, 7);
	CU_ASSERT_EQUAL(g->last_seen, 10); /* the caller refreshes it */
	CU_ASSERT_EQUAL(memcmp(g->mac, "\x02\x00\x00\x00\x0b\x01", 6), 0);
	CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k, d, 40), f);
	CU_ASSERT_EQUAL(ft->count, 1);

	/* Same digest, other key: not the same flow. */
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k2, d, 40));
	/* Same key, other digest: looked for elsewhere, not found. */
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k, d + 1, 40));
	/* A key differing only in the last byte compared. */
	k2 = k;
	k2.family = 6;
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k2, d, 40));
	sl_ft_destroy(ft);
}

static void test_collisions(void)
{
	struct sl_flowtable *ft = sl_ft_create(100, &TO);
	struct sl_flow *f[12], old;
	struct sl_key k[12];
	uint64_t d[12];
	enum sl_ft_result r;

	CU_ASSERT_FATAL(ft != NULL);
	/* 0-5: same home slot 5, different high bits; 6-11: the very same digest. */
	for (uint32_t i = 0; i < 12; i++) {
		k[i] = key_of(100 + i);
		d[i] = i < 6 ? dig_at(ft->mask, 5, i) : 0xfeedface00000005ull;
		f[i] = sl_ft_lookup_insert(ft, &k[i], d[i], 0, &r, &old);
		CU_ASSERT_FATAL(f[i] != NULL);
		CU_ASSERT_EQUAL(r, SL_FT_NEW);
		CU_ASSERT_EQUAL(f[i] - ft->slots, 5 + i);
		f[i]->t0_us = (uint16_t)(1000 + i);
	}
	CU_ASSERT_EQUAL(ft->count, 12);
	for (uint32_t i = 0; i < 12; i++) {
		struct sl_flow *g = sl_ft_lookup(ft, &k[i], d[i], 1);

		CU_ASSERT_PTR_EQUAL(g, f[i]);
		CU_ASSERT_EQUAL(g ? g->t0_us : 0, 1000 + i);
		g = sl_ft_lookup_insert(ft, &k[i], d[i], 1, &r, &old);
		CU_ASSERT_EQUAL(r, SL_FT_HIT);
		CU_ASSERT_PTR_EQUAL(g, f[i]);
	}
	/* A key with a colliding digest that was never inserted. */
	k[0] = key_of(999);
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k[0], d[7], 1));
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k[0], d[2], 1));
	CU_ASSERT(layout_ok(ft));
	sl_ft_destroy(ft);
}

static void test_expiry(void)
{
	struct sl_flowtable *ft = sl_ft_create(100, &TO);
	struct sl_key k = key_of(1), k2 = key_of(2), k3 = key_of(3);
	uint64_t d = dig_at(127, 126, 1), d2 = dig_at(127, 126, 2), d3 = dig_at(127, 126, 3);
	struct sl_flow *f, *g, *h, old;
	enum sl_ft_result r;
	const uint32_t t0 = 0xffffff00u; /* the ms clock wraps during the test */

	CU_ASSERT_FATAL(ft != NULL);
	f = sl_ft_lookup_insert(ft, &k, d, t0, &r, &old);
	CU_ASSERT_FATAL(f != NULL);
	f->t0_us = 42;
	f->service = 3;
	f->slices = 0xff;
	f->gev = 0xff;
	/* other (UDP) timeout 300: live at +300, expired at +301 */
	CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k, d, t0 + 300), f);
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k, d, t0 + 301));
	memset(&old, 0, sizeof(old));
	g = sl_ft_lookup_insert(ft, &k, d, t0 + 301, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_REUSED);
	CU_ASSERT_PTR_EQUAL(g, f);
	/* the key up to its pad (the slice mask and gev of the old entry) */
	CU_ASSERT_EQUAL(memcmp(&old.key, &k, offsetof(struct sl_key, pad)), 0);
	CU_ASSERT_EQUAL(old.t0_us, 42);
	CU_ASSERT_EQUAL(old.service, 3);
	CU_ASSERT_EQUAL(old.last_seen, t0);
	CU_ASSERT_EQUAL(g->t0_us, 0);
	CU_ASSERT_EQUAL(g->service, 0);
	CU_ASSERT_EQUAL(old.gev, 0xff);
	CU_ASSERT(g->slices == 0 && g->gev == 0);
	CU_ASSERT_EQUAL(g->state, SL_FS_USED);
	CU_ASSERT_EQUAL(g->last_seen, t0 + 301);
	CU_ASSERT_EQUAL(ft->count, 1);

	/* Second key behind the first (same home 126, wraps to slot 127).
	 * Once the first expires, a third key takes the first's slot over. */
	h = sl_ft_lookup_insert(ft, &k2, d2, t0 + 400, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_NEW);
	CU_ASSERT_EQUAL(h - ft->slots, 127);
	h->t0_us = 9;
	g = sl_ft_lookup_insert(ft, &k3, d3, t0 + 602, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_REUSED);
	CU_ASSERT_PTR_EQUAL(g, f);
	CU_ASSERT_EQUAL(memcmp(&old.key, &k, sizeof(k)), 0);
	CU_ASSERT_EQUAL(memcmp(&g->key, &k3, sizeof(k3)), 0);
	CU_ASSERT_EQUAL(ft->count, 2);
	CU_ASSERT_PTR_NULL(sl_ft_lookup(ft, &k, d, t0 + 602));
	CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k2, d2, t0 + 602), h);
	CU_ASSERT_PTR_EQUAL(sl_ft_lookup(ft, &k3, d3, t0 + 602), g);
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
	struct sl_flowtable *ft = sl_ft_create(64, &TO);
	struct sl_flow *f, old;
	enum sl_ft_result r;

	CU_ASSERT_FATAL(ft != NULL);
	for (uint32_t s = 0; s < 256; s++)
		CU_ASSERT_EQUAL(sl_ft_timeout_of(ft, (uint8_t)s), rule((uint8_t)s));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_key k = key_of((uint32_t)i);
		uint64_t d = dig_at(ft->mask, 3 * i, (uint32_t)i);

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
	uint32_t ids[4096];
};

static void gone_rec(void *ctx, const struct sl_flow *f)
{
	struct gone_log *g = ctx;

	if (g->calls < 4096)
		g->ids[g->calls] = id_of(&f->key);
	g->calls++;
}

static void test_capacity(void)
{
	const uint32_t C = 100;
	struct sl_flowtable *ft = sl_ft_create(C, &TO);
	struct gone_log *log = calloc(1, sizeof(*log));
	struct sl_flow *f, old;
	struct sl_key k;
	enum sl_ft_result r;

	uint32_t removed = 0;

	CU_ASSERT_FATAL(ft != NULL && log != NULL);
	/* the slot numbers below are worked out for a probe bound of 32 */
	ft->max_probe = 32;
	for (uint32_t i = 0; i < C; i++) {
		k = key_of(i);
		f = sl_ft_lookup_insert(ft, &k, dig_at(ft->mask, i, i), 0, &r, &old);
		CU_ASSERT_EQUAL(r, SL_FT_NEW);
		CU_ASSERT_PTR_NOT_NULL(f);
	}
	CU_ASSERT_EQUAL(ft->count, C);
	k = key_of(C);
	f = sl_ft_lookup_insert(ft, &k, dig_at(ft->mask, 120, C), 0, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_FULL);
	CU_ASSERT_PTR_NULL(f);
	CU_ASSERT_EQUAL(ft->count, C);
	/* Existing flows still hit when full. */
	k = key_of(17);
	CU_ASSERT_PTR_NOT_NULL(sl_ft_lookup_insert(ft, &k, dig_at(ft->mask, 17, 17), 0, &r,
						   &old));
	CU_ASSERT_EQUAL(r, SL_FT_HIT);

	/* All expire (other: 300 ms); a full sweep removes them. */
	removed = sl_ft_sweep(ft, 301, (uint32_t)ft->mask + 1, gone_rec, log);
	CU_ASSERT_EQUAL(removed, C);
	CU_ASSERT_EQUAL(log->calls, C);
	CU_ASSERT_EQUAL(ft->count, 0);
	for (uint64_t j = 0; j <= ft->mask; j++)
		CU_ASSERT_EQUAL(ft->slots[j].state, 0);
	for (uint32_t i = 0; i < C; i++) {
		k = key_of(1000 + i);
		f = sl_ft_lookup_insert(ft, &k, dig_at(ft->mask, 7, 1000 + i), 400, &r, &old);
		CU_ASSERT_EQUAL(r, i < 32 ? SL_FT_NEW : SL_FT_FULL);
		CU_ASSERT((f != NULL) == (i < 32));
	}
	/* 32 keys with home 7 fill slots 7..38, the whole probe window of
	 * home 7: the rest were FULL although count < capacity. */
	CU_ASSERT_EQUAL(ft->count, 32);
	k = key_of(2000);
	CU_ASSERT_PTR_NULL(sl_ft_lookup_insert(ft, &k, dig_at(ft->mask, 7, 2000), 400, &r,
					       &old));
	CU_ASSERT_EQUAL(r, SL_FT_FULL);
	/* Home 8: its window ends at free slot 39. */
	f = sl_ft_lookup_insert(ft, &k, dig_at(ft->mask, 8, 2000), 400, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_NEW);
	CU_ASSERT_EQUAL(f - ft->slots, 39);
	CU_ASSERT_EQUAL(ft->count, 33);
	/* All expired at 701.  Home 8, walk ends at free slot 40: the first
	 * expired slot of the walk (8) is taken over. */
	k = key_of(2001);
	f = sl_ft_lookup_insert(ft, &k, dig_at(ft->mask, 8, 2001), 701, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_REUSED);
	CU_ASSERT_EQUAL(f - ft->slots, 8);
	CU_ASSERT_EQUAL(id_of(&old.key), 1001);
	/* Home 7, walk stops at the probe bound: slot 7 is taken over. */
	k = key_of(2002);
	f = sl_ft_lookup_insert(ft, &k, dig_at(ft->mask, 7, 2002), 701, &r, &old);
	CU_ASSERT_EQUAL(r, SL_FT_REUSED);
	CU_ASSERT_EQUAL(f - ft->slots, 7);
	CU_ASSERT_EQUAL(id_of(&old.key), 1000);
	CU_ASSERT_EQUAL(ft->count, 33);
	CU_ASSERT(layout_ok(ft));
	free(log);
	sl_ft_destroy(ft);
}

/* Sweep over a cluster that wraps around the array end: exactly the
 * expired entries go, every live one is still found in place. */
static void sweep_case(uint64_t seed, uint32_t budget_step)
{
	struct sl_flowtable *ft = sl_ft_create(12, &TO); /* 16 slots */
	struct gone_log *log = calloc(1, sizeof(*log));
	struct sl_key k[12];
	uint64_t d[12], r64 = seed;
	int live[12], nlive = 0, nexp = 0;
	struct sl_flow *f, old;
	enum sl_ft_result r;
	uint32_t removed = 0;

	CU_ASSERT_FATAL(ft != NULL && log != NULL);
	for (uint32_t i = 0; i < 12; i++) {
		/* homes in 12..17 (mod 16): one cluster through slot 15 -> 0 */
		k[i] = key_of(i);
		d[i] = dig_at(ft->mask, 12 + sm64(&r64) % 6, i);
		f = sl_ft_lookup_insert(ft, &k[i], d[i], 0, &r, &old);
		CU_ASSERT_FATAL(f != NULL);
		CU_ASSERT_EQUAL(r, SL_FT_NEW);
		f->t0_us = (uint16_t)(500 + i);
	}
	/* Refresh about half of them afterwards (inserting at 0 would take
	 * over entries stamped 1000: the clock difference wraps). */
	for (uint32_t i = 0; i < 12; i++) {
		live[i] = (int)(sm64(&r64) & 1);
		if (live[i]) {
			sl_ft_lookup(ft, &k[i], d[i], 0)->last_seen = 1000;
			nlive++;
		} else {
			nexp++;
		}
	}
	CU_ASSERT_EQUAL(ft->count, 12);
	CU_ASSERT(layout_ok(ft));
	ft->sweep_pos = (uint32_t)(sm64(&r64) & ft->mask);
	for (uint32_t done = 0; done < 16; done += budget_step)
		removed += sl_ft_sweep(ft, 1100, budget_step, gone_rec, log);
	CU_ASSERT_EQUAL(removed, (uint32_t)nexp);
	CU_ASSERT_EQUAL(log->calls, (uint32_t)nexp);
	CU_ASSERT_EQUAL(ft->count, (uint32_t)nlive);
	for (uint32_t c = 0; c < log->calls && c < 4096; c++) {
		CU_ASSERT(log->ids[c] < 12 && !live[log->ids[c]]);
		for (uint32_t e = 0; e < c; e++)
			CU_ASSERT(log->ids[e] != log->ids[c]);
	}
	for (uint32_t i = 0; i < 12; i++) {
		f = sl_ft_lookup(ft, &k[i], d[i], 1100);
		if (live[i]) {
			CU_ASSERT_PTR_NOT_NULL(f);
			CU_ASSERT_EQUAL(f ? f->t0_us : 0, 500 + i);
		} else {
			CU_ASSERT_PTR_NULL(f);
		}
	}
	CU_ASSERT(layout_ok(ft));
	free(log);
	sl_ft_destroy(ft);
}

static void test_sweep(void)
{
	/* budgets below, at and above the sweep's 16-slot scan */
	for (uint64_t s = 1; s <= 400; s++)
		sweep_case(s, 1 + (uint32_t)(s % 40));
}

/* Reference model: one record per key id. */
struct ref {
	int present;
	struct sl_flow e; /* expected entry contents */
};

#define R_KEYS 300

struct rand_ctx {
	struct ref *ref;
	uint32_t now;
	uint32_t gone_calls;
	int bad_gone;
};

/* Expiry from the rule, not from the table's precomputed array. */
static int ref_expired(const struct sl_flow *e, uint32_t now)
{
	return (uint32_t)(now - e->last_seen) > rule(e->state);
}

static void gone_check(void *ctx, const struct sl_flow *f)
{
	struct rand_ctx *c = ctx;
	uint32_t id = id_of(&f->key);

	c->gone_calls++;
	if (id >= R_KEYS || !c->ref[id].present || memcmp(&c->ref[id].e, f, sizeof(*f)) ||
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

/* Whole-table comparison with the model. */
static int table_matches(const struct sl_flowtable *ft, const struct ref *ref)
{
	uint32_t seen = 0, want = 0;

	for (uint64_t j = 0; j <= ft->mask; j++) {
		const struct sl_flow *f = &ft->slots[j];
		uint32_t id;

		if (!(f->state & SL_FS_USED))
			continue;
		id = id_of(&f->key);
		if (id >= R_KEYS || !ref[id].present || memcmp(&ref[id].e, f, sizeof(*f)))
			return 0;
		seen++;
	}
	for (uint32_t i = 0; i < R_KEYS; i++)
		want += ref[i].present;
	return seen == want && seen == ft->count && layout_ok(ft);
}

static void random_run(uint32_t capacity, uint32_t nhomes, uint64_t seed, uint32_t ops,
		       int want_bound)
{
	struct sl_flowtable *ft = sl_ft_create(capacity, &TO);
	struct ref *ref = calloc(R_KEYS, sizeof(*ref));
	struct rand_ctx ctx = { .ref = ref, .now = 0xfffff000u };
	uint64_t dig[R_KEYS], r64 = seed;
	struct sl_key keys[R_KEYS];
	uint32_t n_res[4] = { 0 }, failures = 0, sweeps = 0, n_bound = 0;

	CU_ASSERT_FATAL(ft != NULL && ref != NULL);
	ft->max_probe = 32; /* so the larger table reaches the bound */
	for (uint32_t i = 0; i < R_KEYS; i++) {
		keys[i] = key_of(i);
		/* Few home slots near the array end (clusters wrap); pairs of keys
		 * share a whole digest. */
		dig[i] = dig_at(ft->mask, ft->mask - 3 + (i % 150) % nhomes, i % 150);
	}
	for (uint32_t op = 0; op < ops && !failures; op++) {
		uint32_t x = (uint32_t)(sm64(&r64) % 100), id = (uint32_t)(sm64(&r64) % R_KEYS);
		struct ref *rf = &ref[id];
		int live = rf->present && !ref_expired(&rf->e, ctx.now);
		struct sl_flow *f, old;
		enum sl_ft_result res;

		if (x < 45) {
			uint64_t home = dig[id] & ft->mask, win = 0, i;
			int exp_in_win = 0;

			/* The walk the spec describes, read from the table before. */
			for (i = 0; i < ft->max_probe; i++) {
				const struct sl_flow *w = &ft->slots[(home + i) & ft->mask];

				if (!(w->state & SL_FS_USED))
					break;
				win++;
				exp_in_win |= ref_expired(w, ctx.now);
			}
			memset(&old, 0, sizeof(old));
			f = sl_ft_lookup_insert(ft, &keys[id], dig[id], ctx.now, &res, &old);
			n_res[res]++;
			if (live) {
				failures += res != SL_FT_HIT || !f ||
					    memcmp(f, &rf->e, sizeof(*f));
			} else if (res == SL_FT_REUSED) {
				uint32_t oid = id_of(&old.key);

				/* old: an expired flow of the model, the key's own if
				 * it had one */
				failures += !f || oid >= R_KEYS || !ref[oid].present ||
					    memcmp(&ref[oid].e, &old, sizeof(old)) ||
					    !ref_expired(&old, ctx.now) ||
					    (rf->present && oid != id);
				if (oid < R_KEYS)
					ref[oid].present = 0;
			} else if (res == SL_FT_NEW) {
				uint32_t cnt = 0;

				for (uint32_t i2 = 0; i2 < R_KEYS; i2++)
					cnt += ref[i2].present;
				failures += !f || rf->present || exp_in_win || cnt >= capacity ||
					    win >= ft->max_probe;
			} else {
				uint32_t cnt = 0;

				for (uint32_t i2 = 0; i2 < R_KEYS; i2++)
					cnt += ref[i2].present;
				failures += f != NULL || rf->present || exp_in_win ||
					    (cnt < capacity && win < ft->max_probe);
				n_bound += cnt < capacity;
			}
			if (f && res != SL_FT_HIT) {
				failures += f->state != SL_FS_USED || f->last_seen != ctx.now ||
					    f->t0_us || f->gen ||
					    memcmp(&f->key, &keys[id], sizeof(keys[id]));
			}
			if (f) {
				/* The caller's part: refresh and fill. */
				f->last_seen = ctx.now;
				f->state = STATES[sm64(&r64) % sizeof(STATES)];
				f->t0_us = (uint16_t)sm64(&r64);
				f->gen = op;
				rf->present = 1;
				rf->e = *f;
			}
		} else if (x < 70) {
			f = sl_ft_lookup(ft, &keys[id], dig[id], ctx.now);
			failures += live ? (!f || memcmp(f, &rf->e, sizeof(*f))) : f != NULL;
		} else if (x < 85) {
			ctx.now += (uint32_t)(sm64(&r64) % 60);
		} else {
			uint32_t budget = (uint32_t)(sm64(&r64) % 48), before = ctx.gone_calls;
			uint32_t pre = ft->count, got;

			if (x == 99)
				budget = (uint32_t)ft->mask + 1;
			got = sl_ft_sweep(ft, ctx.now, budget, gone_check, &ctx);
			failures += ctx.bad_gone || got != ctx.gone_calls - before ||
				    ft->count != pre - got;
			if (x == 99) {
				/* A full pass leaves no expired entry behind. */
				for (uint32_t i = 0; i < R_KEYS; i++)
					failures += ref[i].present &&
						    ref_expired(&ref[i].e, ctx.now);
			}
			sweeps++;
		}
		failures += !table_matches(ft, ref);
		if (failures)
			printf("\n    flowtable random: first failure at op %u ", op);
	}
	CU_ASSERT_EQUAL(failures, 0);
	/* The run exercised every outcome. */
	CU_ASSERT(n_res[SL_FT_HIT] && n_res[SL_FT_NEW] && n_res[SL_FT_REUSED] &&
		  n_res[SL_FT_FULL]);
	CU_ASSERT(ctx.gone_calls > 0 && sweeps > 0);
	/* FULL at the probe bound (count < capacity) happens only in the
	 * larger table. */
	CU_ASSERT(want_bound ? n_bound > 0 : n_bound == 0);
	free(ref);
	sl_ft_destroy(ft);
}

static void test_random(void)
{
	/* 32 slots: the window always ends at a free slot, FULL only at capacity. */
	random_run(25, 12, 1, 100000, 0);
	/* 256 slots, 200 allowed, 40 homes: long clusters hit the probe bound. */
	random_run(200, 40, 2, 100000, 1);
}

/* Snapshots (sluice-dp's telemetry): only live entries that pass the
 * filter, at most max, over steps of a bounded number of slots, and the
 * table untouched. */
static void test_snapshot(void)
{
	struct sl_flowtable *ft = sl_ft_create(1000, &TO);
	static struct sl_flow out[1100], before[2048];
	struct sl_ft_snap_filter any = { -1, -1 }, f;
	enum sl_ft_result r;
	struct sl_flow old;
	uint32_t n, steps, live = 0;
	uint64_t pos, slots;
	int seen[1000] = { 0 };

	CU_ASSERT_FATAL(ft != NULL);
	slots = ft->mask + 1;
	CU_ASSERT_FATAL(slots <= 2048);
	/* 1000 flows: service id % 3, group id % 2; ids % 5 == 0 seen at 0,
	 * the others at 900 (after them: the clock never goes back): at 1000
	 * (other timeout 300) the first are expired */
	for (uint32_t j = 0; j < 1000; j++) {
		uint32_t id = j < 200 ? j * 5 : (j - 200) / 4 * 5 + (j - 200) % 4 + 1;
		struct sl_key k = key_of(id);
		uint64_t s = id * 7919u + 1;
		struct sl_flow *e = sl_ft_lookup_insert(ft, &k, sm64(&s), id % 5 ? 900 : 0, &r,
							&old);

		CU_ASSERT_FATAL(e != NULL);
		/* an expired entry on the way may be taken over: still 800 live */
		CU_ASSERT(r == SL_FT_NEW || r == SL_FT_REUSED);
		e->service = (uint8_t)(id % 3);
		e->gev = (uint8_t)(id % 2);
		live += id % 5 != 0;
	}
	memcpy(before, ft->slots, slots * sizeof(struct sl_flow));

	/* the whole table in steps of 100 slots: every live entry once */
	n = 0;
	pos = 0;
	steps = 0;
	while (!sl_ft_snapshot(ft, 1000, &any, out, 1100, &n, &pos, 100))
		steps++;
	CU_ASSERT_EQUAL(n, live);
	CU_ASSERT_EQUAL(steps + 1, (uint32_t)((slots + 99) / 100));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = id_of(&out[i].key);

		CU_ASSERT(id < 1000 && id % 5 != 0 && !seen[id]);
		if (id < 1000)
			seen[id]++;
		CU_ASSERT_EQUAL(out[i].last_seen, 900);
	}
	CU_ASSERT_EQUAL(memcmp(before, ft->slots, slots * sizeof(struct sl_flow)), 0);

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
		CU_ASSERT(out[i].service == 1 && sl_flow_group(&out[i]) == 0);

	/* bounded: max entries, complete as soon as they are copied */
	n = 0;
	pos = 0;
	CU_ASSERT_EQUAL(sl_ft_snapshot(ft, 1000, &any, out, 10, &n, &pos, (uint32_t)slots), 1);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT(pos < slots);
	/* max 0: nothing copied, complete at once */
	n = 0;
	pos = 0;
	CU_ASSERT_EQUAL(sl_ft_snapshot(ft, 1000, &any, out, 0, &n, &pos, 100), 1);
	CU_ASSERT_EQUAL(n, 0);
	/* an empty table: complete, nothing */
	sl_ft_destroy(ft);
	ft = sl_ft_create(16, &TO);
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
 * progress. */
static void test_snap_protocol(void)
{
	static struct sl_table_hdr h;
	static struct sl_snap sn;
	struct sl_view v = { &h, NULL };
	struct sl_flowtable *ft = sl_ft_create(20000, &TO);
	struct sl_ft_snap_filter any = { -1, -1 };
	struct sl_key k7 = key_of(7), absent = key_of(99999);
	enum sl_ft_result r;
	struct sl_flow old;
	unsigned steps;

	CU_ASSERT_FATAL(ft != NULL);
	CU_ASSERT_FATAL(ft->mask + 1 > 4 * SL_SNAP_BUDGET);
	h.seed_flow = 77;
	h.gen = 5;
	for (uint32_t id = 0; id < 3000; id++) {
		struct sl_key k = key_of(id);

		CU_ASSERT_FATAL(sl_ft_lookup_insert(ft, &k, sl_hash_key(&k, 77), 0, &r, &old) != NULL);
	}
	/* nothing asked: untouched */
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT(sn.done == 0 && sn.n == 0 && sn.serving == 0);

	/* everything, more than the buffer: SL_SNAP_MAX entries, in steps */
	sn.filter = any;
	sn.max = 100000;
	__atomic_store_n(&sn.req, 1, __ATOMIC_RELEASE);
	for (steps = 1; ; steps++) {
		sl_snap_poll(&sn, ft, &v, 0);
		if (sn.done == 1)
			break;
		CU_ASSERT_FATAL(steps < 1000);
	}
	CU_ASSERT_EQUAL(sn.n, SL_SNAP_MAX);
	CU_ASSERT(sn.gen == 5 && sn.ft_count == 3000);
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
	CU_ASSERT_EQUAL(id_of(&sn.buf[0].key), 7);
	sn.key = absent;
	__atomic_store_n(&sn.req, 3, __ATOMIC_RELEASE);
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT(sn.done == 3 && sn.n == 0);

	/* a walk of a sparse service (none matches) takes several steps; a
	 * new request given up on the old one restarts with its parameters */
	sn.by_key = 0;
	sn.filter.service = 9;
	sn.filter.group = -1;
	sn.max = 10;
	__atomic_store_n(&sn.req, 4, __ATOMIC_RELEASE);
	sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT_EQUAL(sn.done, 3);
	sn.filter = any;
	sn.max = 3;
	__atomic_store_n(&sn.req, 5, __ATOMIC_RELEASE);
	for (steps = 0; sn.done != 5 && steps < 1000; steps++)
		sl_snap_poll(&sn, ft, &v, 0);
	CU_ASSERT_EQUAL(sn.done, 5);
	CU_ASSERT_EQUAL(sn.n, 3);
	/* expired by then: nothing live */
	__atomic_store_n(&sn.req, 6, __ATOMIC_RELEASE);
	for (steps = 0; sn.done != 6 && steps < 1000; steps++)
		sl_snap_poll(&sn, ft, &v, 10000000);
	CU_ASSERT(sn.done == 6 && sn.n == 0);
	sl_ft_destroy(ft);
}

void sl_test_register_flowtable(void)
{
	CU_pSuite s = CU_add_suite("flowtable", NULL, NULL);

	CU_add_test(s, "create", test_create);
	CU_add_test(s, "insert and hit", test_insert_hit);
	CU_add_test(s, "collisions resolved by key", test_collisions);
	CU_add_test(s, "expiry and reuse", test_expiry);
	CU_add_test(s, "tcp state timeouts", test_tcp_timeouts);
	CU_add_test(s, "capacity and probe bound", test_capacity);
	CU_add_test(s, "sweep with backward shift", test_sweep);
	CU_add_test(s, "randomized against a model", test_random);
	CU_add_test(s, "snapshot: live entries, filtered, bounded", test_snapshot);
	CU_add_test(s, "snapshot requests served by the worker", test_snap_protocol);
}
