/* Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of
 * prime size M where each member owns ~M/N slots, and adding or removing one
 * member moves only ~1/N of the slots. */
#ifndef SLUICE_MAGLEV_H
#define SLUICE_MAGLEV_H

#include <stdint.h>

#include "hash.h"

#define SL_MAGLEV_DEFAULT 65537u

/* 1 if n is prime. */
int sl_is_prime(uint32_t n);

/* Fill table[0..m) with member indexes 0..n-1 for members identified by
 * their MAC addresses.  Each member's permutation depends only on its own
 * MAC and the seed, so a member keeps its slots whatever the list order
 * around it (members are taken in MAC order, not list order).  m must be
 * prime, <= 65537 and > n; 1 <= n <= 65535.  Returns 0, or -1 on bad
 * arguments (table untouched).  Uses a scratch allocation of O(n) words. */
int sl_maglev_build(uint16_t *table, uint32_t m, const uint8_t (*macs)[6],
		    uint32_t n, uint64_t seed);

/* Slot for a hash. */
static inline uint32_t sl_maglev_slot(uint64_t h2, uint32_t m)
{
	return sl_hash_range(h2, m);
}

#endif
