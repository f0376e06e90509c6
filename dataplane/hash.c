/* Canonical flow keys and the seeded key digest. */
#include <string.h>

#include "hash.h"

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* splitmix64: turns related seeds (0x5eed, 0x5eee) into unrelated ones. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void sl_seeds_init(struct sl_seeds *s, uint64_t hash_seed, uint64_t group_seed,
		   uint64_t member_seed)
{
	s->flow = splitmix64(hash_seed);
	s->group = group_seed ? splitmix64(group_seed ^ 0x67726f7570ull)
			      : splitmix64(hash_seed ^ 0x67726f7570ull); /* "group" */
	s->member = member_seed ? splitmix64(member_seed ^ 0x6d656d626572ull)
				: splitmix64(hash_seed ^ 0x6d656d626572ull); /* "member" */
}

void sl_key_make(struct sl_key *k, const struct sl_pkt *p)
{
	uint16_t sp = p->sport, dp = p->dport;
	int swap;

	if (p->frag != SL_FRAG_NONE)
		sp = dp = 0; /* every fragment of a datagram on the 3-tuple */
	swap = memcmp(p->src, p->dst, 16);
	if (swap == 0)
		swap = sp > dp;
	else
		swap = swap > 0;
	if (!swap) {
		memcpy(k->a, p->src, 16);
		memcpy(k->b, p->dst, 16);
		k->pa = sp;
		k->pb = dp;
	} else {
		memcpy(k->a, p->dst, 16);
		memcpy(k->b, p->src, 16);
		k->pa = dp;
		k->pb = sp;
	}
	k->proto = p->proto;
	k->family = p->family;
	k->pad[0] = k->pad[1] = 0;
}

/* Two independent lanes of multiply-rotate rounds (they overlap in the
 * pipeline), then a full avalanche. */
static inline uint64_t round64(uint64_t acc, uint64_t w)
{
	acc += w * P2;
	acc = rotl64(acc, 31);
	return acc * P1;
}

uint64_t sl_hash_key(const struct sl_key *k, uint64_t seed)
{
	const uint8_t *b = (const uint8_t *)k;
	uint64_t x = seed + P1, y = seed ^ P3, h;

	x = round64(x, rd64(b));
	y = round64(y, rd64(b + 8));
	x = round64(x, rd64(b + 16));
	y = round64(y, rd64(b + 24));
	x = round64(x, rd64(b + 32));
	h = x ^ rotl64(y, 27);
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}
