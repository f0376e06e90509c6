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

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "keys are assembled as little-endian words (x86-64, arm64)"
#endif

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

#define SL_HP1 0x9e3779b185ebca87ull
#define SL_HP2 0xc2b2ae3d27d4eb4full
#define SL_HP3 0x165667b19e3779f9ull

__extension__ typedef unsigned __int128 sl_u128;

/* 64x64->128 multiply folded: one multiplier pass mixes every input bit
 * into the middle of the product; the fold brings them to both ends. */
static inline uint64_t sl_mum(uint64_t a, uint64_t b)
{
	sl_u128 r = (sl_u128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* The digest of an IPv4 key from its words: ab, the two addresses (the
 * lower endpoint's in the low half), and w4, the key's last word. */
static inline uint64_t sl_hash4(uint64_t ab, uint64_t w4, uint64_t seed)
{
	return sl_mum(sl_mum(ab ^ seed ^ SL_HP1, w4 ^ SL_HP2) ^ (seed << 32 | seed >> 32), SL_HP3);
}

/* Digest of a key given as its five 64-bit words.  IPv4 keys (most
 * traffic) fold into two words and take one multiply, IPv6 keys three; a
 * last multiply spreads the result over all 64 bits, since the flow table
 * uses the low ones directly. */
static inline uint64_t sl_hash_words(const uint64_t w[5], uint64_t seed)
{
	uint64_t x, y;

	if (((w[4] >> 40) & 0xff) == 4)
		return sl_hash4((w[0] & 0xffffffffull) | w[2] << 32, w[4], seed);
	x = sl_mum(w[0] ^ seed ^ SL_HP1, w[1] ^ SL_HP2);
	y = sl_mum(w[2] ^ seed ^ SL_HP3, w[3] ^ SL_HP1);
	return sl_mum(sl_mum(x ^ w[4] ^ SL_HP3, y ^ SL_HP2) ^ (seed << 32 | seed >> 32), SL_HP3);
}

/* The canonical words of an IPv4 packet's key (see sl_key_digest): ab,
 * the addresses, the lower endpoint's in the low half; w4 the last word
 * (ports, protocol, family as they lie in struct sl_key).  From the
 * source and destination as they lie in the frame, ports in host order. */
static inline void sl_key4_raw(uint32_t s, uint32_t d, uint64_t sp, uint64_t dp, uint8_t proto,
			       uint64_t *ab, uint64_t *w4)
{
	int swap = ((uint64_t)__builtin_bswap32(s) << 16 | sp) >
		   ((uint64_t)__builtin_bswap32(d) << 16 | dp);

	*ab = swap ? d | (uint64_t)s << 32 : s | (uint64_t)d << 32;
	*w4 = (swap ? dp | sp << 16 : sp | dp << 16) | (uint64_t)proto << 32 | 4ull << 40;
}

/* The same from a common frame's words (struct sl_common4): the two
 * orders of each pair are one rotate apart. */
static inline void sl_key4_common(uint64_t addrs, uint32_t ports, uint8_t proto, uint64_t *ab,
				  uint64_t *w4)
{
	uint64_t sd = __builtin_bswap64(addrs);  /* source' << 32 | dest' */
	uint32_t pp = __builtin_bswap32(ports);  /* dport | sport << 16 (host) */
	/* (address, port) of each end, address above: the order of
	 * sl_key4_raw's compare, from one mask and one shift of sd */
	uint64_t a = (sd & 0xffffffff00000000ull) | pp >> 16, b = sd << 32 | (pp & 0xffff);
	int swap = a > b;
	uint32_t pw = swap ? pp : pp << 16 | pp >> 16;

	*ab = swap ? addrs << 32 | addrs >> 32 : addrs;
	*w4 = pw | (uint64_t)proto << 32 | 4ull << 40;
}

/* The same from a parsed packet. */
static inline void sl_key4_words(const struct sl_pkt *p, uint64_t *ab, uint64_t *w4)
{
	uint64_t sp = p->sport, dp = p->dport;
	uint32_t s, d;

	if (p->frag != SL_FRAG_NONE)
		sp = dp = 0;
	__builtin_memcpy(&s, p->src, 4);
	__builtin_memcpy(&d, p->dst, 4);
	sl_key4_raw(s, d, sp, dp, p->proto, ab, w4);
}

/* Build the canonical key of a parsed packet in *k and return its digest
 * (the same as sl_hash_key(k, seed)).  The words are computed in registers,
 * stored whole and hashed from the registers: reading back a key just
 * written field by field stalls on store forwarding.
 *
 * Canonical: the (address, port) endpoints in byte order, the same on every
 * box of a fleet.  Fragments (first and later) get a 3-tuple key (ports
 * zero) so that one datagram is always decided together.  ICMP errors get
 * the key of the quoted packet, i.e. of the flow they concern. */
static inline uint64_t sl_key_digest(struct sl_key *k, const struct sl_pkt *p, uint64_t seed)
{
	uint64_t w[5], sp = p->sport, dp = p->dport;
	int swap;

	if (p->family == 4) {
		uint64_t ab;

		sl_key4_words(p, &ab, &w[4]);
		w[0] = ab & 0xffffffffu;
		w[2] = ab >> 32;
		w[1] = w[3] = 0;
		__builtin_memcpy(k, w, sizeof(w));
		return sl_hash4(ab, w[4], seed);
	}
	if (p->frag != SL_FRAG_NONE)
		sp = dp = 0;
	{
		uint64_t s0 = sl_ld64(p->src), s1 = sl_ld64(p->src + 8);
		uint64_t d0 = sl_ld64(p->dst), d1 = sl_ld64(p->dst + 8);
		uint64_t bs0 = __builtin_bswap64(s0), bd0 = __builtin_bswap64(d0);
		uint64_t bs1 = __builtin_bswap64(s1), bd1 = __builtin_bswap64(d1);

		swap = bs0 != bd0 ? bs0 > bd0 : bs1 != bd1 ? bs1 > bd1 : sp > dp;
		w[0] = swap ? d0 : s0;
		w[1] = swap ? d1 : s1;
		w[2] = swap ? s0 : d0;
		w[3] = swap ? s1 : d1;
	}
	if (swap) {
		uint64_t t = sp;

		sp = dp;
		dp = t;
	}
	/* pa, pb, proto, family, pad as they lie in struct sl_key (little endian) */
	w[4] = sp | dp << 16 | (uint64_t)p->proto << 32 | (uint64_t)p->family << 40;
	__builtin_memcpy(k, w, sizeof(w));
	return sl_hash_words(w, seed);
}

static inline void sl_key_make(struct sl_key *k, const struct sl_pkt *p)
{
	(void)sl_key_digest(k, p, 0);
}

static inline uint64_t sl_hash_key(const struct sl_key *k, uint64_t seed)
{
	uint64_t w[5];

	__builtin_memcpy(w, k, sizeof(w));
	return sl_hash_words(w, seed);
}

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

/* A hash's top 32 bits mapped onto [0, n) by multiply-shift (no division). */
static inline uint32_t sl_hash_range(uint64_t h, uint32_t n)
{
	return (uint32_t)(((h >> 32) * (uint64_t)n) >> 32);
}

#endif
