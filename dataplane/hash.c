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

__extension__ typedef unsigned __int128 u128;

/* 64x64->128 multiply folded: one multiplier pass mixes every input bit
 * into the middle of the product; the fold brings them to both ends. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
	u128 r = (u128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* IPv4 keys (most traffic) fold into two words and take one multiply; IPv6
 * keys take three.  A second multiply spreads the result over all 64 bits,
 * since the flow table uses the low ones directly. */
uint64_t sl_hash_key(const struct sl_key *k, uint64_t seed)
{
	const uint8_t *b = (const uint8_t *)k;
	uint64_t tail = rd64(b + 32), h;

	if (k->family == 4) {
		uint32_t x, y;

		memcpy(&x, k->a, 4);
		memcpy(&y, k->b, 4);
		h = mum(((uint64_t)x | (uint64_t)y << 32) ^ seed ^ P1, tail ^ P2);
	} else {
		uint64_t x = mum(rd64(b) ^ seed ^ P1, rd64(b + 8) ^ P2);
		uint64_t y = mum(rd64(b + 16) ^ seed ^ P3, rd64(b + 24) ^ P1);

		h = mum(x ^ tail ^ P3, y ^ P2);
	}
	return mum(h ^ rotl64(seed, 32), P3);
}
