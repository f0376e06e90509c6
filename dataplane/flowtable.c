/* Per-lcore flow table: linear probing, one 64-byte entry per slot.
 *
 * Invariant: every entry lies within max_probe slots of its home slot, and
 * every slot between its home and itself is occupied.  Inserts only take the
 * first free slot of a walk or an occupied (expired) one inside it, and
 * backward-shift deletion only moves entries towards their home, so a walk
 * can stop at the first free slot. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "flowtable.h"

#define FT_MIN_SLOTS 16u
#define FT_MAX_PROBE 64u /* linear probing at load <= 0.8: clusters of 30+ do occur */
#define FT_HUGE (2ull << 20) /* transparent huge page size */

_Static_assert(SL_FS_USED == 0x80, "the sweep reads USED as the state's top bit");

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
static void *map_slots(uint64_t len)
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

struct sl_flowtable *sl_ft_create(uint32_t capacity, const struct sl_ft_timeouts *t)
{
	struct sl_flowtable *ft;
	uint64_t want, slots = FT_MIN_SLOTS, len;

	if (!t || capacity == 0 || capacity > SL_FT_MAX_CAPACITY)
		return NULL;
	want = (uint64_t)capacity * 5 / 4;
	while (slots < want)
		slots <<= 1;
	len = slots * sizeof(struct sl_flow);
	len = (len + 4095) & ~4095ull;

	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return NULL;
	ft->slots = map_slots(len);
	if (!ft->slots) {
		free(ft);
		return NULL;
	}
	ft->map_bytes = len;
	ft->mask = slots - 1;
	ft->capacity = capacity;
	ft->max_probe = FT_MAX_PROBE;
	for (uint32_t s = 0; s < 256; s++)
		ft->timeout[s] = state_timeout((uint8_t)s, t);
	return ft;
}

void sl_ft_destroy(struct sl_flowtable *ft)
{
	if (!ft)
		return;
	munmap(ft->slots, ft->map_bytes);
	free(ft);
}

uint64_t sl_ft_bytes(const struct sl_flowtable *ft)
{
	return ft->map_bytes + sizeof(*ft);
}

/* 40-byte key equality as five word compares (no memcmp call).  The top
 * 16 bits of the fifth word are the key's pad, which holds the slice mask
 * and gev in a stored entry: not compared. */
#define KEY_W4_MASK 0x0000ffffffffffffull

static inline int key_eq(const struct sl_key *a, const struct sl_key *b)
{
	uint64_t x[5], y[5];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		 ((x[4] ^ y[4]) & KEY_W4_MASK));
}

static inline void fresh(struct sl_flow *f, const struct sl_key *key, uint32_t sig,
			 uint32_t now)
{
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->sig = sig;
	f->last_seen = now;
	f->state = SL_FS_USED;
}

struct sl_flow *sl_ft_lookup_insert(struct sl_flowtable *ft, const struct sl_key *key,
				    uint64_t digest, uint32_t now, enum sl_ft_result *res,
				    struct sl_flow *old)
{
	const uint32_t sig = (uint32_t)digest;
	const uint64_t mask = ft->mask;
	uint64_t pos = digest & mask;
	struct sl_flow *reuse = NULL, *f;

	for (uint32_t d = 0; d < ft->max_probe; d++, pos = (pos + 1) & mask) {
		f = &ft->slots[pos];
		if (!(f->state & SL_FS_USED)) {
			if (reuse)
				goto take_over;
			if (ft->count >= ft->capacity)
				goto full;
			ft->count++;
			fresh(f, key, sig, now);
			*res = SL_FT_NEW;
			return f;
		}
		if (f->sig == sig && key_eq(&f->key, key)) {
			if (!sl_ft_expired(ft, f, now)) {
				*res = SL_FT_HIT;
				return f;
			}
			/* Keys are unique: this expired entry is the key's own. */
			reuse = f;
			goto take_over;
		}
		if (!reuse && sl_ft_expired(ft, f, now))
			reuse = f;
	}
	if (reuse)
		goto take_over;
full:
	*res = SL_FT_FULL;
	return NULL;
take_over:
	*old = *reuse;
	fresh(reuse, key, sig, now);
	*res = SL_FT_REUSED;
	return reuse;
}

struct sl_flow *sl_ft_lookup(struct sl_flowtable *ft, const struct sl_key *key,
			     uint64_t digest, uint32_t now)
{
	const uint32_t sig = (uint32_t)digest;
	const uint64_t mask = ft->mask;
	uint64_t pos = digest & mask;
	struct sl_flow *f;

	for (uint32_t d = 0; d < ft->max_probe; d++, pos = (pos + 1) & mask) {
		f = &ft->slots[pos];
		if (!(f->state & SL_FS_USED))
			return NULL;
		if (f->sig == sig && key_eq(&f->key, key))
			return sl_ft_expired(ft, f, now) ? NULL : f;
	}
	return NULL;
}

/* Empty slot `hole` by pulling back later entries of its cluster that may
 * live there (their home is not inside (hole, j]), until a free slot. */
static void remove_at(struct sl_flowtable *ft, uint64_t hole)
{
	const uint64_t mask = ft->mask;
	uint64_t j = hole;

	for (;;) {
		struct sl_flow *f;
		uint64_t home;

		j = (j + 1) & mask;
		f = &ft->slots[j];
		if (!(f->state & SL_FS_USED))
			break;
		home = f->sig & mask;
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			ft->slots[hole] = *f;
			hole = j;
		}
	}
	memset(&ft->slots[hole], 0, sizeof(struct sl_flow));
}

uint32_t sl_ft_sweep(struct sl_flowtable *ft, uint32_t now, uint32_t budget,
		     void (*gone)(void *ctx, const struct sl_flow *f), void *ctx)
{
	const uint64_t mask = ft->mask;
	uint64_t pos = ft->sweep_pos & mask;
	uint32_t removed = 0, next = budget < 16 ? budget : 16;

	while (budget > 0) {
		uint32_t run = budget < 16 ? budget : 16, hit = 0;
		struct sl_flow *f;

		/* Without a branch per slot: the slots' loads overlap. */
		for (uint32_t i = 0; i < run; i++) {
			f = &ft->slots[(pos + i) & mask];
			hit |= (uint32_t)(f->state >> 7 & sl_ft_expired(ft, f, now)) << i;
		}
		if (!hit) {
			pos = (pos + run) & mask;
			budget -= run;
			continue;
		}
		run = (uint32_t)__builtin_ctz(hit);
		pos = (pos + run) & mask;
		budget -= run;
		f = &ft->slots[pos];
		if (gone)
			gone(ctx, f);
		remove_at(ft, pos);
		ft->count--;
		removed++;
		/* An entry may have moved into pos: it is looked at again. */
	}
	ft->sweep_pos = (uint32_t)pos;
	/* The cursor's slots are cold (it passes each line once per sweep of
	 * the table): those of the call after next are fetched now (the next
	 * call's, fetched only now, would still be on their way). */
	for (uint32_t i = 0; i < next; i++)
		__builtin_prefetch(&ft->slots[(pos + next + i) & mask], 1, 3);
	return removed;
}

int sl_ft_snapshot(const struct sl_flowtable *ft, uint32_t now,
		   const struct sl_ft_snap_filter *f, struct sl_flow *out, uint32_t max,
		   uint32_t *n, uint64_t *pos, uint32_t budget)
{
	const uint64_t slots = ft->mask + 1;

	while (budget-- > 0 && *pos < slots && *n < max) {
		const struct sl_flow *e = &ft->slots[(*pos)++];

		if (!(e->state & SL_FS_USED) || sl_ft_expired(ft, e, now))
			continue;
		if ((f->service >= 0 && e->service != f->service) ||
		    (f->group >= 0 && sl_flow_group(e) != f->group))
			continue;
		out[(*n)++] = *e;
	}
	return *pos >= slots || *n >= max;
}
