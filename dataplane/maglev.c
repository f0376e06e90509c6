/* Maglev table population (control path: division and allocation are fine). */
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

/* Largest table: slot values are uint16_t member indexes, and one value is
 * reserved below to mark a free slot while filling. */
#define MG_MAX_M 65537u
#define MG_FREE 0xffffu

int sl_is_prime(uint32_t n)
{
	if (n < 2)
		return 0;
	if (n < 4)
		return 1;
	if (n % 2 == 0 || n % 3 == 0)
		return 0;
	for (uint64_t i = 5; i * i <= n; i += 6)
		if (n % i == 0 || n % (i + 2) == 0)
			return 0;
	return 1;
}

/* Multiply-xorshift mixer; two rounds so that MACs differing in one bit
 * get unrelated offsets and skips. */
static uint64_t mg_mix(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static uint64_t mg_hash_mac(const uint8_t *mac, uint64_t seed)
{
	uint64_t x = 0;

	for (int i = 0; i < 6; i++)
		x |= (uint64_t)mac[i] << (8 * i);
	return mg_mix(mg_mix(x ^ seed) + seed);
}

static int mac_cmp(const uint8_t (*macs)[6], uint32_t a, uint32_t b)
{
	int c = memcmp(macs[a], macs[b], 6);

	if (c)
		return c;
	return a < b ? -1 : a > b;
}

/* Insertion sort of member indexes by MAC: the round-robin order must not
 * depend on the list order, or reordering the configuration would move
 * slots.  n <= 65535, run only when tables are rebuilt. */
static void sort_by_mac(uint32_t *order, uint32_t n, const uint8_t (*macs)[6])
{
	for (uint32_t i = 1; i < n; i++) {
		uint32_t v = order[i], j = i;

		while (j > 0 && mac_cmp(macs, order[j - 1], v) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = v;
	}
}

int sl_maglev_build(uint16_t *table, uint32_t m, const uint8_t (*macs)[6],
		    uint32_t n, uint64_t seed)
{
	uint64_t seed_off = mg_mix(seed ^ 0x6f66667365740001ull);
	uint64_t seed_skip = mg_mix(seed ^ 0x736b697000000002ull);
	uint32_t *order, *next, *skip;
	uint32_t filled = 0;

	if (!table || !macs || n < 1 || n >= m || n > MG_FREE || m > MG_MAX_M ||
	    !sl_is_prime(m))
		return -1;
	order = malloc(3 * sizeof(uint32_t) * (size_t)n);
	if (!order)
		return -1;
	next = order + n;
	skip = next + n;

	for (uint32_t i = 0; i < n; i++) {
		order[i] = i;
		next[i] = (uint32_t)(mg_hash_mac(macs[i], seed_off) % m);
		skip[i] = (uint32_t)(mg_hash_mac(macs[i], seed_skip) % (m - 1)) + 1;
	}
	sort_by_mac(order, n, macs);

	for (uint32_t s = 0; s < m; s++)
		table[s] = MG_FREE;
	/* m prime and 1 <= skip < m: each member's sequence visits every slot,
	 * so the inner walk always ends while a slot is free. */
	for (;;) {
		for (uint32_t k = 0; k < n; k++) {
			uint32_t i = order[k], c = next[i];

			while (table[c] != MG_FREE) {
				c += skip[i];
				if (c >= m)
					c -= m;
			}
			table[c] = (uint16_t)i;
			c += skip[i];
			if (c >= m)
				c -= m;
			next[i] = c;
			if (++filled == m)
				goto done;
		}
	}
done:
	free(order);
	return 0;
}
