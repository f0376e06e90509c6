/* Per-lcore flow table, one part per address family: bucketized cuckoo
 * hashing, two entries per bucket, two candidate buckets per key, no
 * locks (one writer), no allocation after create.
 *
 * An IPv4 entry is 32 bytes (a bucket is one cache line), an IPv6 entry
 * 64 (a bucket is two).  A key lives in one of its two buckets, so a
 * lookup reads at most two buckets whose lines are fetched together
 * (sl_ft_prefetch); an insert into two full buckets moves entries to
 * their other bucket along the shortest path found to room.  Expired
 * entries are taken over by inserts and cleared by an incremental sweep. */
#ifndef SLUICE_FLOWTABLE_H
#define SLUICE_FLOWTABLE_H

#include <stdint.h>
/* The core is built with DPDK's -march (meson.build), which DPDK itself
 * needs to be at least SSE4.2. */
#ifndef __SSE4_1__
#error "the packet core needs SSE4.1: build it with DPDK's -march (see meson.build)"
#endif
#include <smmintrin.h>

#include "hash.h"
#include "../ebpf/sluice_layout.h"

/* Flow state bits. */
#define SL_FS_TCP   0x01 /* TCP flow: state bits below are tracked */
#define SL_FS_SYN   0x02 /* SYN seen from the client */
#define SL_FS_EST   0x04 /* traffic seen after the SYN, or picked up mid-stream */
#define SL_FS_FIN_C 0x08 /* FIN from the client */
#define SL_FS_FIN_S 0x10 /* FIN from the server */
#define SL_FS_RST   0x20 /* RST from either side */
#define SL_FS_RST_S 0x40 /* RST from the server (with SL_FS_RST): counted as
			  * evidence when it is set; no timeout of its own */
#define SL_FS_USED  0x80 /* entry in use */

/* The byte `gev` of an entry: its group and its evidence flags. */
#define SL_FLOW_GROUP 0x1f /* group index (SL_MAX_GROUPS 32) */
#define SL_EV_PHASE   0x60 /* timing phase: */
#define SL_EV_IDLE    0x00 /*   the client's next data starts the TTFB timer
			    *   (a new UDP flow, or a TCP handshake just done) */
#define SL_EV_SYNACK  0x20 /*   SYN seen at t0_us, awaiting the SYN-ACK */
#define SL_EV_DATA    0x40 /*   client data seen at t0_us, awaiting the server's */
#define SL_EV_DONE    0x60 /*   nothing more to time (also mid-stream pickups) */
#define SL_EV_ICMP    0x80 /* an ICMP unreachable from the backend was counted */

/* The byte `svc`: the flow's service and its key's protocol (an IPv4
 * entry keeps no other protocol byte: keys are TCP or UDP). */
#define SL_FLOW_SVC 0x7f
#define SL_FLOW_UDP 0x80 /* the key's protocol is 17, else 6 */

/* `born`: when the flow was decided, in seconds (24 bits, wrapping after
 * 194 days), and its service's reset epoch then (top byte). */
#define SL_FLOW_BORN_S 0x00ffffffu

/* What the table keeps of a flow besides its key: 20 bytes, at the same
 * place for both families.  Lookups return a pointer to it.  The bytes
 * svc and state come first: in an IPv4 entry they share a 64-bit word
 * with the ports, so a slot is matched (key, protocol, in use) with two
 * word compares. */
struct sl_flow {
	uint8_t svc;        /* service (SL_FLOW_SVC) | SL_FLOW_UDP, set by the table */
	uint8_t state;      /* SL_FS_* */
	uint8_t gev;        /* group (SL_FLOW_GROUP) | SL_EV_* flags */
	uint8_t slices;     /* slice mask: bit sl_slice_rec.bit of the service's
			     * slices the flow is in */
	uint32_t last_seen; /* ms, wrapping */
	uint32_t t0_us;     /* start of the phase being timed (us, wrapping) */
	uint32_t packets;   /* both directions since decided (saturating) */
	uint32_t born;      /* SL_FLOW_BORN_S seconds | reset epoch << 24 */
};

/* IPv4: the key's two endpoint addresses and ports, then the flow. */
struct sl_flow4 {
	uint8_t a[4];
	uint8_t b[4];
	uint16_t pa;
	uint16_t pb;
	struct sl_flow f;
};

/* IPv6: the whole key (its pad zero), then the flow. */
struct sl_flow6 {
	struct sl_key key;
	struct sl_flow f;
	uint32_t pad_;
};

/* An entry with its key, as a snapshot copies it out. */
struct sl_flow_rec {
	struct sl_key key;
	struct sl_flow f;
	uint8_t stale;      /* decided before its service's last reset */
	uint8_t pad_[3];
};

_Static_assert(sizeof(struct sl_flow) == 20, "the flow part is 20 bytes");
_Static_assert(sizeof(struct sl_flow4) == 32, "two IPv4 entries per cache line");
_Static_assert(__builtin_offsetof(struct sl_flow4, f.svc) == 12 &&
		       __builtin_offsetof(struct sl_flow4, f.state) == 13,
	       "an IPv4 entry's second word: ports, svc, state");
_Static_assert(sizeof(struct sl_flow6) == 64, "one IPv6 entry per cache line");
_Static_assert(__builtin_offsetof(struct sl_flow6, f) % 4 == 0, "aligned flow part");
_Static_assert(SL_MAX_SERVICES <= SL_FLOW_SVC + 1, "a flow's service is 7 bits");
_Static_assert(SL_MAX_GROUPS <= SL_FLOW_GROUP + 1, "a flow's group is 5 bits");

static inline uint8_t sl_flow_group(const struct sl_flow *f)
{
	return f->gev & SL_FLOW_GROUP;
}

static inline uint8_t sl_flow_service(const struct sl_flow *f)
{
	return f->svc & SL_FLOW_SVC;
}

static inline void sl_flow_set_service(struct sl_flow *f, unsigned si)
{
	f->svc = (uint8_t)((f->svc & SL_FLOW_UDP) | (si & SL_FLOW_SVC));
}

static inline uint8_t sl_flow_epoch(const struct sl_flow *f)
{
	return (uint8_t)(f->born >> 24);
}

/* Seconds since the flow was decided. */
static inline uint32_t sl_flow_age_s(const struct sl_flow *f, uint32_t now_s)
{
	return (now_s - f->born) & SL_FLOW_BORN_S;
}

/* FIN from both sides, or RST: the connection is over. */
static inline int sl_fs_closed(uint8_t st)
{
	return (st & SL_FS_RST) || (st & (SL_FS_FIN_C | SL_FS_FIN_S)) ==
					   (SL_FS_FIN_C | SL_FS_FIN_S);
}

/* Idle timeouts in ms. */
struct sl_ft_timeouts {
	uint32_t tcp_syn;     /* SYN seen, nothing after it */
	uint32_t tcp_est;     /* established */
	uint32_t tcp_fin;     /* FIN from one side */
	uint32_t tcp_closed;  /* FIN from both sides, or RST */
	uint32_t other;       /* UDP, fragments, anything else */
};

#define SL_FT_MAX_CAPACITY (1u << 30)

/* One family's buckets. */
struct sl_ft_part {
	uint8_t *mem;         /* nbuckets buckets of 2 entries */
	uint32_t nbuckets;
	uint32_t capacity;    /* live entries allowed */
	uint32_t count;       /* live (not yet swept) entries */
	uint32_t esize;       /* bytes per entry: 32 or 64 */
	uint64_t map_bytes;   /* length of the mapping */
};

struct sl_flowtable {
	struct sl_ft_part part[2]; /* [0] IPv4, [1] IPv6 */
	uint64_t slots;       /* entries of both parts: IPv4's first */
	uint64_t sweep_pos;   /* slot index, 0..slots-1 */
	uint64_t seed;        /* flow seed: an entry's other bucket is found by
			       * hashing its key again */
	uint64_t kicks;       /* entries moved to their other bucket */
	uint32_t timeout[256]; /* by state byte, precomputed */
	/* reset epochs: a flow decided before its service's last reset
	 * (reset_gen changed since) has an older epoch */
	uint32_t reset_seen[SL_MAX_SERVICES];
	uint8_t epoch[SL_MAX_SERVICES];
};

/* capacity4, capacity6: IPv4 and IPv6 flows the table must hold (each
 * 1..SL_FT_MAX_CAPACITY); entries = 1.25 x capacity, in buckets of two.
 * seed: the seed the callers' digests are made with (sl_hash_key).
 * Returns NULL if allocation fails or an argument is out of range. */
struct sl_flowtable *sl_ft_create(uint32_t capacity4, uint32_t capacity6,
				  const struct sl_ft_timeouts *t, uint64_t seed);
void sl_ft_destroy(struct sl_flowtable *ft);
/* Bytes allocated for the table (for "bytes per tracked flow"). */
uint64_t sl_ft_bytes(const struct sl_flowtable *ft);

/* Live (not yet swept) entries and entries allowed, both parts. */
static inline uint32_t sl_ft_count(const struct sl_flowtable *ft)
{
	return ft->part[0].count + ft->part[1].count;
}

static inline uint32_t sl_ft_capacity(const struct sl_flowtable *ft)
{
	return ft->part[0].capacity + ft->part[1].capacity;
}

static inline uint32_t sl_ft_timeout_of(const struct sl_flowtable *ft, uint8_t state)
{
	return ft->timeout[state];
}

static inline int sl_ft_expired(const struct sl_flowtable *ft, const struct sl_flow *f,
				uint32_t now)
{
	return (uint32_t)(now - f->last_seen) > ft->timeout[f->state];
}

/* Service si's reset epoch for the table's reset_gen: a new reset_gen
 * starts a new epoch (flows of older epochs are re-decided). */
static inline uint8_t sl_ft_epoch(struct sl_flowtable *ft, unsigned si, uint32_t reset_gen)
{
	if (__builtin_expect(ft->reset_seen[si] != reset_gen, 0)) {
		ft->reset_seen[si] = reset_gen;
		ft->epoch[si]++;
	}
	return ft->epoch[si];
}

/* The flow was decided before its service's last reset seen. */
static inline int sl_ft_stale(const struct sl_flowtable *ft, const struct sl_flow *f)
{
	return sl_flow_epoch(f) != ft->epoch[sl_flow_service(f)];
}

/* For observers off the packet path: the flow is decided again at its
 * next packet, by a reset seen already, or by one in reset_gen (its
 * service's now) that the table's worker has not met yet. */
static inline int sl_ft_redecides(const struct sl_flowtable *ft, const struct sl_flow *f,
				  uint32_t reset_gen)
{
	return sl_ft_stale(ft, f) || ft->reset_seen[sl_flow_service(f)] != reset_gen;
}

/* A key's two buckets: the digest's halves mapped onto the buckets by
 * multiply-shift (any bucket count, no division); never the same one. */
static inline void sl_ft_buckets(const struct sl_ft_part *p, uint64_t digest, uint32_t *b1,
				 uint32_t *b2)
{
	uint32_t x = (uint32_t)(((digest & 0xffffffffu) * p->nbuckets) >> 32);
	uint32_t y = (uint32_t)(((digest >> 32) * p->nbuckets) >> 32);

	if (y == x)
		y = x + 1 == p->nbuckets ? 0 : x + 1;
	*b1 = x;
	*b2 = y;
}

/* A prefetch the compiler keeps: GCC 12 at -O2 drops __builtin_prefetch
 * calls of sl_ft_prefetch below as dead code (seen: a burst's prefetch
 * loop compiled to nothing, and 1 M flows at 0.4 x the rate). */
static inline void sl_ft_fetch(const void *p)
{
	__asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
}

/* Both lines of buckets b (sl_ft_buckets of the family's part), for a
 * lookup a few packets later. */
static inline void sl_ft_prefetch_b(const struct sl_flowtable *ft, int family,
				    const uint32_t b[2])
{
	const struct sl_ft_part *p = &ft->part[family == 6];

	if (family == 6) {
		sl_ft_fetch(p->mem + (uint64_t)b[0] * 128);
		sl_ft_fetch(p->mem + (uint64_t)b[0] * 128 + 64);
		sl_ft_fetch(p->mem + (uint64_t)b[1] * 128);
		sl_ft_fetch(p->mem + (uint64_t)b[1] * 128 + 64);
	} else {
		sl_ft_fetch(p->mem + (uint64_t)b[0] * 64);
		sl_ft_fetch(p->mem + (uint64_t)b[1] * 64);
	}
}

static inline void sl_ft_prefetch(const struct sl_flowtable *ft, int family, uint64_t digest)
{
	uint32_t b[2];

	sl_ft_buckets(&ft->part[family == 6], digest, &b[0], &b[1]);
	sl_ft_prefetch_b(ft, family, b);
}

/* ---- the lookup, inline: every packet takes its hit path (internals) ---- */

static inline uint8_t *sl_ft_entry(const struct sl_ft_part *p, int v6, uint64_t slot)
{
	return p->mem + (slot << (v6 ? 6 : 5));
}

static inline struct sl_flow *sl_ft_flow_of(uint8_t *e, int v6)
{
	return v6 ? &((struct sl_flow6 *)(void *)e)->f : &((struct sl_flow4 *)(void *)e)->f;
}

/* 40-byte key equality as five word compares (no memcmp call). */
static inline int sl_ft_key6_eq(const struct sl_key *a, const struct sl_key *b)
{
	uint64_t x[5], y[5];

	__builtin_memcpy(x, a, sizeof(x));
	__builtin_memcpy(y, b, sizeof(y));
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]));
}

/* The lookup key in the form an entry holds it: for IPv6 the key, for
 * IPv4 the entry's two words, the second (ports, svc, state, ...)
 * compared under a mask: the ports, the protocol bit, the in-use bit. */
struct sl_ft_want {
	const struct sl_key *key; /* IPv6 (IPv4: may be NULL) */
	uint64_t ab;   /* IPv4 a, b */
	uint64_t hi;   /* IPv4 ports | protocol bit << 32 | SL_FS_USED << 40 */
};

#define SL_FT_WANT_HI_MASK \
	(0xffffffffull | (uint64_t)SL_FLOW_UDP << 32 | (uint64_t)SL_FS_USED << 40)

/* An IPv4 key's want from its words (sl_key4_words). */
static inline void sl_ft_want4(struct sl_ft_want *w, uint64_t ab, uint64_t w4)
{
	w->key = NULL;
	w->ab = ab;
	/* the protocol bit: keys are TCP (6) or UDP (17), and of the two only
	 * 17 has bit 4 */
	_Static_assert(SL_FLOW_UDP == 0x80, "the protocol bit is bit 7 of svc");
	w->hi = (uint32_t)w4 | (w4 >> 36 & 1) << 39 | (uint64_t)SL_FS_USED << 40;
}

static inline void sl_ft_want_init(struct sl_ft_want *w, const struct sl_key *k)
{
	uint64_t x[5];

	__builtin_memcpy(x, k, sizeof(x));
	sl_ft_want4(w, (x[0] & 0xffffffffu) | x[2] << 32, x[4]);
	w->key = k;
}

static inline uint8_t sl_ft_want_udp(const struct sl_ft_want *w)
{
	return (uint8_t)(w->hi >> 32) & SL_FLOW_UDP;
}

/* Entry e is in use and holds the key. */
static inline int sl_ft_match(const uint8_t *e, int v6, const struct sl_ft_want *w)
{
	if (v6)
		return sl_ft_key6_eq(&((const struct sl_flow6 *)(const void *)e)->key, w->key) &
		       (((const struct sl_flow6 *)(const void *)e)->f.state >> 7);
	{
		uint64_t ab, hi;

		__builtin_memcpy(&ab, e, 8);
		__builtin_memcpy(&hi, e + 8, 8);
		return !((ab ^ w->ab) | ((hi ^ w->hi) & SL_FT_WANT_HI_MASK));
	}
}

/* Slot i (0..3: b[0]'s two, then b[1]'s) of a key's buckets. */
static inline uint64_t sl_ft_cand_slot(const uint32_t b[2], unsigned i)
{
	return (uint64_t)b[i >> 1] * 2 + (i & 1);
}

/* The candidate slots holding the key, as a bit mask (at most one bit).
 * Without branches: where a key lies among its four slots is random, and a
 * branch per slot mispredicts on most packets. */
static inline unsigned sl_ft_hits(const struct sl_ft_part *p, int v6, const uint32_t b[2],
				  const struct sl_ft_want *w)
{
	unsigned m = 0;

	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *e = sl_ft_entry(p, v6, sl_ft_cand_slot(b, i));

		m |= (unsigned)sl_ft_match(e, v6, w) << i;
	}
	return m;
}

enum sl_ft_result {
	SL_FT_HIT = 0,      /* live entry for this key */
	SL_FT_NEW = 1,      /* fresh entry for this key (zero but svc and state USED) */
	SL_FT_REUSED = 2,   /* an expired entry was taken over; *old holds it */
	SL_FT_FULL = 3,     /* no room (capacity, or no path to a free slot) */
};

/* The key's (w, buckets b) entry in part v6 if it is live, else NULL; its
 * candidate slots' hit mask (sl_ft_hits) in *m. */
static inline struct sl_flow *sl_ft_find_(const struct sl_flowtable *ft, int v6,
					  const struct sl_ft_want *w, const uint32_t b[2],
					  uint32_t now, unsigned *m)
{
	const struct sl_ft_part *p = &ft->part[v6];
	struct sl_flow *f;

	*m = sl_ft_hits(p, v6, b, w);
	if (__builtin_expect(*m == 0, 0))
		return NULL;
	f = sl_ft_flow_of(sl_ft_entry(p, v6, sl_ft_cand_slot(b, (unsigned)__builtin_ctz(*m))), v6);
	return __builtin_expect(sl_ft_expired(ft, f, now), 0) ? NULL : f;
}

/* The IPv4 key's (w, buckets b) entry if it is live, else NULL, and its
 * hit mask in *hit: the four compares of sl_ft_hits (sl_ft_match's), from
 * the two lines' addresses computed once. */
static inline struct sl_flow *sl_ft_find4_(const struct sl_flowtable *ft,
					   const struct sl_ft_want *w, const uint32_t b[2],
					   uint32_t now, unsigned *hit)
{
	uint8_t *l0 = ft->part[0].mem + ((uint64_t)b[0] << 6);
	uint8_t *l1 = ft->part[0].mem + ((uint64_t)b[1] << 6);
	/* an entry's 16 key bytes against the want's under the mask at once
	 * (entries are 32-byte aligned) */
	const __m128i want = _mm_set_epi64x((long long)w->hi, (long long)w->ab);
	const __m128i mask = _mm_set_epi64x((long long)SL_FT_WANT_HI_MASK, -1ll);
#define SL_FT_M4(e) \
	(unsigned)_mm_testz_si128( \
		_mm_xor_si128(_mm_load_si128((const __m128i *)(const void *)(e)), want), mask)
	unsigned m = SL_FT_M4(l0) | SL_FT_M4(l0 + 32) << 1 | SL_FT_M4(l1) << 2 |
		     SL_FT_M4(l1 + 32) << 3;
#undef SL_FT_M4
	struct sl_flow *f;

	*hit = m;
	if (__builtin_expect(m == 0, 0))
		return NULL;
	/* one bit at most: keys are unique */
	f = sl_ft_flow_of((m & 3 ? l0 : l1) + (m & 10 ? 32 : 0), 0);
	return __builtin_expect(sl_ft_expired(ft, f, now), 0) ? NULL : f;
}

/* Find the entry of key (family 4 or 6), or make one: the whole of it,
 * out of line (sl_ft_lookup_insert is its hit path inline). */
struct sl_flow *sl_ft_insert(struct sl_flowtable *ft, const struct sl_key *key, uint64_t digest,
			     uint32_t now, enum sl_ft_result *res, struct sl_flow_rec *old);
/* The same for an IPv4 key (w, buckets b) that sl_ft_find4_ found not
 * live, with its hit mask m. */
struct sl_flow *sl_ft_insert4(struct sl_flowtable *ft, const struct sl_ft_want *w,
			      const uint32_t b[2], unsigned m, uint32_t now,
			      enum sl_ft_result *res, struct sl_flow_rec *old);

/* Find the entry of a key (want w, IPv6 if v6), or make one.  digest is
 * sl_hash_key(key, seed), b its buckets (sl_ft_buckets).  For
 * SL_FT_REUSED the previous occupant (an expired flow, possibly of this
 * same key) is copied to *old so that its counters can be settled.  An
 * insert may move other entries: pointers from earlier lookups do not
 * survive it. */
static inline struct sl_flow *sl_ft_lookup_insert_at(struct sl_flowtable *ft, int v6,
						     const struct sl_ft_want *w,
						     uint64_t digest, const uint32_t b[2],
						     uint32_t now, enum sl_ft_result *res,
						     struct sl_flow_rec *old)
{
	struct sl_flow *f;
	unsigned m;

	if (__builtin_expect(v6, 0))
		return sl_ft_insert(ft, w->key, digest, now, res, old);
	f = sl_ft_find4_(ft, w, b, now, &m);
	if (__builtin_expect(f != NULL, 1)) {
		*res = SL_FT_HIT;
		return f;
	}
	return sl_ft_insert4(ft, w, b, m, now, res, old);
}

static inline struct sl_flow *sl_ft_lookup_insert(struct sl_flowtable *ft,
						  const struct sl_key *key, uint64_t digest,
						  uint32_t now, enum sl_ft_result *res,
						  struct sl_flow_rec *old)
{
	struct sl_ft_want w;
	uint32_t b[2];

	sl_ft_want_init(&w, key);
	sl_ft_buckets(&ft->part[key->family == 6], digest, &b[0], &b[1]);
	return sl_ft_lookup_insert_at(ft, key->family == 6, &w, digest, b, now, res, old);
}

/* Find a live entry without inserting (return traffic); v6, w and b as
 * for sl_ft_lookup_insert_at. */
static inline struct sl_flow *sl_ft_lookup_at(const struct sl_flowtable *ft, int v6,
					      const struct sl_ft_want *w, const uint32_t b[2],
					      uint32_t now)
{
	unsigned m;

	return v6 ? sl_ft_find_(ft, 1, w, b, now, &m) : sl_ft_find4_(ft, w, b, now, &m);
}

static inline struct sl_flow *sl_ft_lookup(const struct sl_flowtable *ft,
					   const struct sl_key *key, uint64_t digest,
					   uint32_t now)
{
	struct sl_ft_want w;
	uint32_t b[2];

	sl_ft_want_init(&w, key);
	sl_ft_buckets(&ft->part[key->family == 6], digest, &b[0], &b[1]);
	return sl_ft_lookup_at(ft, key->family == 6, &w, b, now);
}

/* The flow part of slot i (0..slots-1), used or not (state USED tells). */
static inline struct sl_flow *sl_ft_at(const struct sl_flowtable *ft, uint64_t i)
{
	uint64_t n4 = (uint64_t)ft->part[0].nbuckets * 2;

	if (i < n4)
		return &((struct sl_flow4 *)(void *)ft->part[0].mem)[i].f;
	return &((struct sl_flow6 *)(void *)ft->part[1].mem)[i - n4].f;
}

/* The key of a used slot i. */
void sl_ft_key_at(const struct sl_flowtable *ft, uint64_t i, struct sl_key *key);

/* Advance the sweep cursor by budget slots, clearing expired entries and
 * calling gone(ctx, entry) (if not NULL) for each before.  Returns entries
 * removed. */
uint32_t sl_ft_sweep(struct sl_flowtable *ft, uint32_t now, uint32_t budget,
		     void (*gone)(void *ctx, const struct sl_flow *f), void *ctx);

/* Which entries a snapshot copies: live ones (used, not expired) of a
 * service (-1: any) and group (-1: any). */
struct sl_ft_snap_filter {
	int service;
	int group;
};

/* One step of a snapshot walk (read only; the owner of the table calls it
 * between bursts): look at up to budget slots from *pos, copying the live
 * entries that pass f into out[*n], until *n reaches max.  Returns 1 when
 * the snapshot is complete (the whole table walked, or max entries), 0 if
 * slots remain for the next step.  Entries inserts move between steps may
 * be missed or copied twice: a snapshot is an observation, not a
 * transaction. */
int sl_ft_snapshot(const struct sl_flowtable *ft, uint32_t now,
		   const struct sl_ft_snap_filter *f, struct sl_flow_rec *out, uint32_t max,
		   uint32_t *n, uint64_t *pos, uint32_t budget);

#endif
