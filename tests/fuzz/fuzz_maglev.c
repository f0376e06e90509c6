/* fuzz_maglev: Maglev table population (dataplane/maglev.h) on arbitrary
 * member lists.  The input: a byte choosing the table size (a prime of a
 * list, or with bit 7 set any number from the next two bytes), the member
 * count, an 8-byte seed, then the members' MACs (6 bytes each; missing
 * bytes are zero, so duplicates occur).  Invariants:
 *  - bad arguments (m not a prime, m > 65537, n = 0, n >= m) are refused
 *    and leave the table untouched; good ones are accepted;
 *  - every slot names a member (0..n-1), and the members share the slots
 *    evenly: counts differ by at most one (the population takes one slot
 *    per member per round);
 *  - nothing is written past the table's m slots;
 *  - the table depends on the MACs, not on their order: the list reversed
 *    gives every slot the same MAC;
 *  - with one member more (a MAC of its own) the shares are still even.
 * (How few slots move is bounded in expectation only: tests/test_maglev.c
 * measures it.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "maglev.h"

#define MAX_N 300

static const uint32_t primes[] = { 2, 3, 5, 7, 11, 13, 31, 251, 257, 1021, 4093, 65521, 65537 };

static uint16_t ta[65537 + 1], tb[65537 + 1];
static uint32_t count[MAX_N + 1];

static void check_even(const uint16_t *t, uint32_t m, uint32_t n, const char *what)
{
	uint32_t lo = UINT32_MAX, hi = 0;

	memset(count, 0, sizeof(count));
	for (uint32_t s = 0; s < m; s++) {
		FZ_CHECK(t[s] < n, "%s: slot %u names member %u of %u", what, s, t[s], n);
		count[t[s]]++;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (count[i] < lo)
			lo = count[i];
		if (count[i] > hi)
			hi = count[i];
	}
	FZ_CHECK(hi - lo <= 1, "%s: m %u, n %u: a member has %u slots, another %u", what, m, n,
		 lo, hi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t macs[MAX_N + 1][6], rev[MAX_N + 1][6];
	uint64_t seed = 0;
	uint32_t m, n;
	size_t pos;
	int valid, rc;

	if (size < 2)
		return 0;
	if (data[0] & 0x80)
		m = size >= 4 ? (uint32_t)data[2] << 8 | data[3] | (uint32_t)(data[0] & 1) << 16 : 0;
	else
		m = primes[data[0] % (sizeof(primes) / sizeof(primes[0]))];
	n = data[1] + (data[0] & 0x40 ? 45u : 0u);
	if (n > MAX_N)
		n = MAX_N;
	pos = 2;
	for (int i = 0; i < 8 && pos < size; i++)
		seed |= (uint64_t)data[pos++] << (8 * i);
	memset(macs, 0, sizeof(macs));
	for (uint32_t i = 0; i < n; i++)
		for (int b = 0; b < 6 && pos < size; b++)
			macs[i][b] = data[pos++];

	valid = n >= 1 && n < m && m <= 65537 && sl_is_prime(m);
	ta[m < 65537 ? m : 65537] = 0xbeef;
	memset(ta, 0xa5, sizeof(uint16_t) * (m < 65537 ? m : 65537));
	rc = sl_maglev_build(ta, m, (const uint8_t(*)[6])macs, n, seed);
	if (!valid) {
		FZ_CHECK(rc == -1, "m %u, n %u accepted", m, n);
		for (uint32_t s = 0; s < (m < 65537 ? m : 65537); s++)
			FZ_CHECK(ta[s] == 0xa5a5, "a refused build wrote slot %u", s);
		return 0;
	}
	FZ_CHECK(rc == 0, "m %u (prime), n %u refused", m, n);
	FZ_CHECK(ta[m] == 0xbeef, "slot %u past the table written", m);
	check_even(ta, m, n, "built");

	/* the same MACs in reverse order: the same MAC in every slot */
	for (uint32_t i = 0; i < n; i++)
		memcpy(rev[i], macs[n - 1 - i], 6);
	FZ_CHECK(sl_maglev_build(tb, m, (const uint8_t(*)[6])rev, n, seed) == 0, "reversed");
	for (uint32_t s = 0; s < m; s++)
		FZ_CHECK(!memcmp(macs[ta[s]], rev[tb[s]], 6), "slot %u: another MAC when the "
			 "list is reversed", s);

	/* one member more: still even */
	if (n + 1 < m && n < MAX_N) {
		memcpy(macs[n], &seed, 6);
		macs[n][0] ^= 0x02;
		FZ_CHECK(sl_maglev_build(tb, m, (const uint8_t(*)[6])macs, n + 1, seed) == 0,
			 "one more member refused");
		check_even(tb, m, n + 1, "one more member");
	}
	return 0;
}
