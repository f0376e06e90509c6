/* Per-lcore flow table: bucketized cuckoo hashing (flowtable.h).
 *
 * Invariant: every entry is in one of the two buckets of its key, and a
 * key is in the table at most once.  An insert looks at both buckets
 * before it takes a slot, and moves only live entries, each to its other
 * bucket, so both hold after every call. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "flowtable.h"

#define FT_MIN_BUCKETS 8u
#define FT_HUGE (2ull << 20) /* transparent huge page size */
/* Buckets an insert into two full buckets looks at for room, breadth
 * first: paths of up to 5 moves.  At the table's full load (0.8 of the
 * slots) a path is almost always short. */
#define FT_BFS_NODES 62u

static uint32_t state_timeout(uint8_t st, const struct sl_ft_timeouts *t)
{
	if (!(st & SL_FS_TCP))
		return t->other;
	if (sl_fs_closed(st))
		return t->tcp_closed;
	if (st & (SL_FS_FIN_C | SL_FS_FIN_S))
		return t->tcp_fin;
	if (st & SL_FS_EST)
		return t->tcp_est;
	return t->tcp_syn;
}

/* Anonymous mapping aligned to the huge page size, so that the kernel can
 * back it with transparent huge pages from the first byte. */
static void *map_mem(uint64_t len)
{
	uint64_t extra = len >= FT_HUGE ? FT_HUGE : 0;
	uint8_t *p, *a;
	uintptr_t head;

	p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = p;
	if (extra) {
		head = (FT_HUGE - ((uintptr_t)p & (FT_HUGE - 1))) & (FT_HUGE - 1);
		a = p + head;
		if (head)
			munmap(p, head);
		if (extra - head)
			munmap(a + len, extra - head);
		/* Advisory: without THP the table still works, with more TLB misses. */
		madvise(a, len, MADV_HUGEPAGE);
	}
	/* Fault every page in now, not on the packet path (the kernel hands
	 * them out zeroed: one write per page is enough). */
	for (uint64_t off = 0; off < len; off += 4096)
		((volatile uint8_t *)a)[off] = 0;
	return a;
}

static int part_init(struct sl_ft_part *p, uint32_t capacity, uint32_t esize)
{
	/* 1.25 entries per flow: load 0.8 when full, well below the 0.9 where
	 * two buckets of two stop finding room */
	uint64_t nb = ((uint64_t)capacity * 5 / 4 + 1) / 2, len;

	if (nb < FT_MIN_BUCKETS)
		nb = FT_MIN_BUCKETS;
	len = nb * 2 * esize;
	len = (len + 4095) & ~4095ull;
	p->mem = map_mem(len);
	if (!p->mem)
		return -1;
	p->map_bytes = len;
	p->nbuckets = (uint32_t)nb;
	p->capacity = capacity;
	p->count = 0;
	p->esize = esize;
	return 0;
}

struct sl_flowtable *sl_ft_create(uint32_t capacity4, uint32_t capacity6,
				  const struct sl_ft_timeouts *t, uint64_t seed)
{
	struct sl_flowtable *ft;

	if (!t || capacity4 == 0 || capacity4 > SL_FT_MAX_CAPACITY || capacity6 == 0 ||
	    capacity6 > SL_FT_MAX_CAPACITY)
		return NULL;
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return NULL;
	if (part_init(&ft->part[0], capacity4, sizeof(struct sl_flow4)) ||
	    part_init(&ft->part[1], capacity6, sizeof(struct sl_flow6))) {
		sl_ft_destroy(ft);
		return NULL;
	}
	ft->slots = (uint64_t)ft->part[0].nbuckets * 2 + (uint64_t)ft->part[1].nbuckets * 2;
	ft->seed = seed;
	for (uint32_t s = 0; s < 256; s++)
		ft->timeout[s] = state_timeout((uint8_t)s, t);
	return ft;
}

void sl_ft_destroy(struct sl_flowtable *ft)
{
	if (!ft)
		return;
	for (int i = 0; i < 2; i++)
		if (ft->part[i].mem)
			munmap(ft->part[i].mem, ft->part[i].map_bytes);
	free(ft);
}

uint64_t sl_ft_bytes(const struct sl_flowtable *ft)
{
	return ft->part[0].map_bytes + ft->part[1].map_bytes + sizeof(*ft);
}

/* ---- entries by family: v6 is a compile-time constant in every caller ---- */

/* An IPv4 entry keeps its key's protocol as one bit of svc. */
static inline uint8_t entry4_proto(const uint8_t *e)
{
	return ((const struct sl_flow4 *)(const void *)e)->f.svc & SL_FLOW_UDP ? 17 : 6;
}

static void key_from(const uint8_t *e, int v6, struct sl_key *k)
{
	if (v6) {
		*k = ((const struct sl_flow6 *)(const void *)e)->key;
		return;
	}
	{
		const struct sl_flow4 *x = (const struct sl_flow4 *)(const void *)e;

		memset(k, 0, sizeof(*k));
		memcpy(k->a, x->a, 4);
		memcpy(k->b, x->b, 4);
		k->pa = x->pa;
		k->pb = x->pb;
		k->proto = entry4_proto(e);
		k->family = 4;
	}
}

/* Slot i of the whole index space (IPv4's slots first): its entry. */
static inline uint8_t *slot_entry(const struct sl_flowtable *ft, uint64_t i, int *v6)
{
	uint64_t n4 = (uint64_t)ft->part[0].nbuckets * 2;

	*v6 = i >= n4;
	return *v6 ? sl_ft_entry(&ft->part[1], 1, i - n4) : sl_ft_entry(&ft->part[0], 0, i);
}

void sl_ft_key_at(const struct sl_flowtable *ft, uint64_t i, struct sl_key *key)
{
	int v6;
	const uint8_t *e = slot_entry(ft, i, &v6);

	key_from(e, v6, key);
}

static inline void fresh(uint8_t *e, int v6, const struct sl_ft_want *w, uint32_t now)
{
	struct sl_flow6 *x = (struct sl_flow6 *)(void *)e;

	if (!v6) {
		/* the want's words are the entry's first 16 bytes (svc: the
		 * protocol bit, state: USED); then last_seen and zeros */
		_mm_store_si128((__m128i *)(void *)e,
				_mm_set_epi64x((long long)w->hi, (long long)w->ab));
		_mm_store_si128((__m128i *)(void *)(e + 16), _mm_cvtsi32_si128((int)now));
		return;
	}
	memset(x, 0, sizeof(*x));
	x->key = *w->key;
	x->f.svc = sl_ft_want_udp(w);
	x->f.last_seen = now;
	x->f.state = SL_FS_USED;
}

static inline void copy_rec(struct sl_flow_rec *r, const uint8_t *e, int v6)
{
	key_from(e, v6, &r->key);
	r->f = *sl_ft_flow_of((uint8_t *)(uintptr_t)e, v6);
	r->stale = 0;
	memset(r->pad_, 0, sizeof(r->pad_));
}

/* The other bucket of the entry in slot `slot` of bucket b. */
static uint32_t other_bucket(const struct sl_flowtable *ft, const struct sl_ft_part *p, int v6,
			     uint64_t slot, uint32_t b)
{
	const uint8_t *e = sl_ft_entry(p, v6, slot);
	uint32_t b1, b2;
	uint64_t digest;

	if (v6) {
		struct sl_key k;

		key_from(e, v6, &k);
		digest = sl_hash_key(&k, ft->seed);
	} else {
		/* the key's words as they lie in the entry (sl_key4_words) */
		uint64_t ab;
		uint32_t ports;

		memcpy(&ab, e, 8);
		memcpy(&ports, e + 8, 4);
		digest = sl_hash4(ab, ports | (uint64_t)entry4_proto(e) << 32 | 4ull << 40,
				  ft->seed);
	}
	sl_ft_buckets(p, digest, &b1, &b2);
	return b1 == b ? b2 : b1;
}

/* A slot of bucket b with room: free (2) or expired (1), else 0; *slot. */
static inline int room(const struct sl_flowtable *ft, const struct sl_ft_part *p, int v6,
		       uint32_t b, uint32_t now, uint64_t *slot)
{
	int best = 0;

	*slot = (uint64_t)b * 2;
	for (uint64_t s = (uint64_t)b * 2; s < (uint64_t)b * 2 + 2; s++) {
		const struct sl_flow *f = sl_ft_flow_of(sl_ft_entry(p, v6, s), v6);

		if (!(f->state & SL_FS_USED)) {
			*slot = s;
			return 2;
		}
		if (!best && sl_ft_expired(ft, f, now)) {
			*slot = s;
			best = 1;
		}
	}
	return best;
}

struct node {
	uint32_t bucket;
	int32_t parent; /* node index, -1 for a root */
	uint64_t via;   /* slot of the parent's bucket whose entry goes here */
};

static inline int queued(const struct node *q, uint32_t n, uint32_t b)
{
	for (uint32_t i = 0; i < n; i++)
		if (q[i].bucket == b)
			return 1;
	return 0;
}

/* Both buckets full of live entries: find the nearest bucket with room
 * reachable by moving entries to their other bucket (breadth first), and
 * make the moves from its end, so that a slot of b1 or b2 is left for the
 * new key.  Returns that slot's index, or -1 (*expired: the slot at the
 * path's end held an expired entry, copied to *old).  A level's buckets
 * are fetched together before they are looked at: at a million flows
 * each is a miss. */
static int64_t make_room(struct sl_flowtable *ft, struct sl_ft_part *p, int v6, uint32_t b1,
			 uint32_t b2, uint32_t now, int *expired, struct sl_flow_rec *old)
{
	struct node q[FT_BFS_NODES], kid[2 * FT_BFS_NODES]; /* a level has at most half the nodes */
	uint32_t head = 0, tail = 0;
	const size_t es = v6 ? sizeof(struct sl_flow6) : sizeof(struct sl_flow4);

	q[tail++] = (struct node){ b1, -1, 0 };
	q[tail++] = (struct node){ b2, -1, 0 };
	while (head < tail) {
		uint32_t end = tail, nk = 0;

		for (uint32_t x = head; x < end; x++)
			for (uint64_t s = (uint64_t)q[x].bucket * 2;
			     s < (uint64_t)q[x].bucket * 2 + 2; s++) {
				uint32_t y = other_bucket(ft, p, v6, s, q[x].bucket);

				sl_ft_fetch(sl_ft_entry(p, v6, (uint64_t)y * 2));
				if (v6)
					sl_ft_fetch(sl_ft_entry(p, v6, (uint64_t)y * 2 + 1));
				kid[nk++] = (struct node){ y, (int32_t)x, s };
			}
		for (uint32_t c = 0; c < nk; c++) {
			uint64_t dst = 0, src = kid[c].via;
			int r = room(ft, p, v6, kid[c].bucket, now, &dst);
			int32_t n = kid[c].parent;

			if (!r) {
				/* a bucket once on the paths: a slot is never moved
				 * twice, so each move is the one the search saw */
				if (tail < FT_BFS_NODES && !queued(q, tail, kid[c].bucket))
					q[tail++] = kid[c];
				continue;
			}
			*expired = r == 1;
			if (r == 1)
				copy_rec(old, sl_ft_entry(p, v6, dst), v6);
			/* dst <- src, then src is the hole for the entry the parent
			 * node sends here */
			for (;;) {
				memcpy(sl_ft_entry(p, v6, dst), sl_ft_entry(p, v6, src), es);
				ft->kicks++;
				dst = src;
				if (q[n].parent < 0)
					return (int64_t)dst;
				src = q[n].via;
				n = q[n].parent;
			}
		}
		head = end;
	}
	return -1;
}

/* The key (w, buckets b) not live in part v6; m: its hit mask
 * (sl_ft_hits), a bit only for its own expired entry. */
static inline struct sl_flow *lookup_insert(struct sl_flowtable *ft, int v6,
					    const struct sl_ft_want *w, const uint32_t b[2],
					    unsigned m, uint32_t now, enum sl_ft_result *res,
					    struct sl_flow_rec *old)
{
	struct sl_ft_part *p = &ft->part[v6];
	uint64_t take = 0;
	unsigned used = 0, exp = 0, f0, f1;
	int64_t got;
	int expired;

	if (m) {
		/* keys are unique: this expired entry is the key's own */
		take = sl_ft_cand_slot(b, (unsigned)__builtin_ctz(m));
		goto take_over;
	}
	/* the four slots as masks, without a branch per slot */
	for (unsigned i = 0; i < 4; i++) {
		const struct sl_flow *f =
			sl_ft_flow_of(sl_ft_entry(p, v6, sl_ft_cand_slot(b, i)), v6);
		unsigned u = f->state >> 7;

		used |= u << i;
		exp |= (u & (unsigned)sl_ft_expired(ft, f, now)) << i;
	}
	/* An expired entry is taken over before a free slot is used: it would
	 * only wait for the sweep. */
	if (exp) {
		take = sl_ft_cand_slot(b, (unsigned)__builtin_ctz(exp));
		goto take_over;
	}
	if (p->count >= p->capacity)
		goto full;
	/* the emptier bucket (b1 when even): buckets run full later, and
	 * fewer inserts have to move entries */
	f0 = ~used & 3;
	f1 = ~used >> 2 & 3;
	if (f0 | f1) {
		if (__builtin_popcount(f1) > __builtin_popcount(f0))
			take = sl_ft_cand_slot(b, 2 + (unsigned)__builtin_ctz(f1));
		else
			take = sl_ft_cand_slot(b, (unsigned)__builtin_ctz(f0));
		goto fresh_slot;
	}
	got = make_room(ft, p, v6, b[0], b[1], now, &expired, old);
	if (got < 0)
		goto full;
	take = (uint64_t)got;
	if (expired) {
		fresh(sl_ft_entry(p, v6, take), v6, w, now);
		*res = SL_FT_REUSED;
		return sl_ft_flow_of(sl_ft_entry(p, v6, take), v6);
	}
fresh_slot:
	p->count++;
	fresh(sl_ft_entry(p, v6, take), v6, w, now);
	*res = SL_FT_NEW;
	return sl_ft_flow_of(sl_ft_entry(p, v6, take), v6);
full:
	*res = SL_FT_FULL;
	return NULL;
take_over:
	copy_rec(old, sl_ft_entry(p, v6, take), v6);
	fresh(sl_ft_entry(p, v6, take), v6, w, now);
	*res = SL_FT_REUSED;
	return sl_ft_flow_of(sl_ft_entry(p, v6, take), v6);
}

struct sl_flow *sl_ft_insert(struct sl_flowtable *ft, const struct sl_key *key, uint64_t digest,
			     uint32_t now, enum sl_ft_result *res, struct sl_flow_rec *old)
{
	int v6 = key->family == 6;
	struct sl_ft_want w;
	uint32_t b[2];
	unsigned m;
	struct sl_flow *f;

	sl_ft_want_init(&w, key);
	sl_ft_buckets(&ft->part[v6], digest, &b[0], &b[1]);
	f = v6 ? sl_ft_find_(ft, 1, &w, b, now, &m) : sl_ft_find_(ft, 0, &w, b, now, &m);
	if (f) {
		*res = SL_FT_HIT;
		return f;
	}
	if (v6)
		return lookup_insert(ft, 1, &w, b, m, now, res, old);
	return lookup_insert(ft, 0, &w, b, m, now, res, old);
}

struct sl_flow *sl_ft_insert4(struct sl_flowtable *ft, const struct sl_ft_want *w,
			      const uint32_t b[2], unsigned m, uint32_t now,
			      enum sl_ft_result *res, struct sl_flow_rec *old)
{
	return lookup_insert(ft, 0, w, b, m, now, res, old);
}

uint32_t sl_ft_sweep(struct sl_flowtable *ft, uint32_t now, uint32_t budget,
		     void (*gone)(void *ctx, const struct sl_flow *f), void *ctx)
{
	uint64_t pos = ft->sweep_pos < ft->slots ? ft->sweep_pos : 0;
	uint32_t removed = 0, next = budget < 16 ? budget : 16;

	for (; budget > 0; budget--) {
		int v6;
		uint8_t *e = slot_entry(ft, pos, &v6);
		struct sl_flow *f = sl_ft_flow_of(e, v6);

		if ((f->state & SL_FS_USED) && sl_ft_expired(ft, f, now)) {
			if (gone)
				gone(ctx, f);
			memset(e, 0, ft->part[v6].esize);
			ft->part[v6].count--;
			removed++;
		}
		if (++pos == ft->slots)
			pos = 0;
	}
	ft->sweep_pos = pos;
	/* The cursor's slots are cold (it passes each line once per sweep of
	 * the table): those of the call after next are fetched now (the next
	 * call's, fetched only now, would still be on their way). */
	for (uint64_t i = pos + next; i < pos + 2 * next && i < ft->slots; i += 2)
		__builtin_prefetch(sl_ft_at(ft, i), 1, 3);
	return removed;
}

int sl_ft_snapshot(const struct sl_flowtable *ft, uint32_t now,
		   const struct sl_ft_snap_filter *f, struct sl_flow_rec *out, uint32_t max,
		   uint32_t *n, uint64_t *pos, uint32_t budget)
{
	while (budget-- > 0 && *pos < ft->slots && *n < max) {
		int v6;
		const uint8_t *e = slot_entry(ft, (*pos)++, &v6);
		const struct sl_flow *x = sl_ft_flow_of((uint8_t *)(uintptr_t)e, v6);

		if (!(x->state & SL_FS_USED) || sl_ft_expired(ft, x, now))
			continue;
		if ((f->service >= 0 && sl_flow_service(x) != f->service) ||
		    (f->group >= 0 && sl_flow_group(x) != f->group))
			continue;
		copy_rec(&out[*n], e, v6);
		out[*n].stale = sl_ft_stale(ft, x);
		(*n)++;
	}
	return *pos >= ft->slots || *n >= max;
}
