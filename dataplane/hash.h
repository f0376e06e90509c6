/* Canonical flow keys and seeded hashes.
 *
 * The key is direction-independent (both directions of a connection give the
 * same bytes) so that return traffic finds the flow entry.  One seeded 64-bit
 * digest of the key is taken per packet; each decision (group, member, flow
 * table slot) derives its own hash from the digest with its own seed through a
 * non-linear mixer, so the decisions are not correlated. */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include <stdint.h>

#include "parse.h"

struct sl_key {
	uint8_t a[16];   /* lower (address, port) endpoint */
	uint8_t b[16];
	uint16_t pa;     /* 0 for 3-tuple keys (fragments) */
	uint16_t pb;
	uint8_t proto;
	uint8_t family;
	uint8_t pad[2];  /* always zero: keys are compared and hashed as bytes */
};

_Static_assert(sizeof(struct sl_key) == 40, "sl_key is hashed as 5 words");

struct sl_seeds {
	uint64_t flow;   /* digest of the key (also the flow-table slot) */
	uint64_t group;  /* h1: champion or challenger */
	uint64_t member; /* h2: Maglev member */
};

/* Seeds from the configuration.  group_seed / member_seed of 0 mean "derive
 * from hash_seed", so one configured number is enough for a fleet. */
void sl_seeds_init(struct sl_seeds *s, uint64_t hash_seed, uint64_t group_seed,
		   uint64_t member_seed);

static inline uint64_t sl_be64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

/* Canonical key of a parsed packet: the (address, port) endpoints in byte
 * order (the same on every box of a fleet).  Fragments (first and later) get
 * a 3-tuple key (ports zero) so that one datagram is always decided together.
 * ICMP errors get the key of the quoted packet, i.e. of the flow they
 * concern. */
static inline void sl_key_make(struct sl_key *k, const struct sl_pkt *p)
{
	uint16_t sp = p->sport, dp = p->dport;
	int swap;

	if (p->frag != SL_FRAG_NONE)
		sp = dp = 0;
	if (p->family == 4) {
		/* the address in the top 32 bits, the port below */
		uint64_t s = sl_be64(p->src) >> 16 | sp, d = sl_be64(p->dst) >> 16 | dp;

		swap = s > d;
	} else {
		uint64_t s0 = sl_be64(p->src), d0 = sl_be64(p->dst);
		uint64_t s1 = sl_be64(p->src + 8), d1 = sl_be64(p->dst + 8);

		swap = s0 != d0 ? s0 > d0 : s1 != d1 ? s1 > d1 : sp > dp;
	}
	if (!swap) {
		__builtin_memcpy(k->a, p->src, 16);
		__builtin_memcpy(k->b, p->dst, 16);
		k->pa = sp;
		k->pb = dp;
	} else {
		__builtin_memcpy(k->a, p->dst, 16);
		__builtin_memcpy(k->b, p->src, 16);
		k->pa = dp;
		k->pb = sp;
	}
	k->proto = p->proto;
	k->family = p->family;
	k->pad[0] = k->pad[1] = 0;
}

uint64_t sl_hash_key(const struct sl_key *k, uint64_t seed);

/* Derived per-decision hash: a bijective, non-linear mix of digest ^ seed. */
static inline uint64_t sl_hash_mix(uint64_t digest, uint64_t seed)
{
	uint64_t x = digest ^ seed;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

#endif
