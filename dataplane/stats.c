/* Per-worker counters: summing. */
#include <string.h>

#include "stats.h"

_Static_assert(sizeof(struct sl_counters) % sizeof(uint64_t) == 0,
	       "counters are summed as 64-bit words");
_Static_assert(sizeof(struct sl_grp_counters) == 8 * sizeof(uint64_t),
	       "group counters have no padding");

void sl_counters_add(struct sl_counters *acc, const struct sl_counters *c)
{
	/* Every field is a uint64_t (asserted above), so the struct is summed
	 * as an array of words; new counters need no code here. */
	unsigned char *a = (unsigned char *)acc;
	const unsigned char *b = (const unsigned char *)c;

	for (size_t off = 0; off < sizeof(*acc); off += sizeof(uint64_t)) {
		uint64_t x, y;

		memcpy(&x, a + off, sizeof(x));
		memcpy(&y, b + off, sizeof(y));
		x += y;
		memcpy(a + off, &x, sizeof(x));
	}
}

uint64_t sl_malformed_total(const struct sl_counters *c)
{
	uint64_t t = 0;

	for (unsigned i = 1; i < SL_BAD__COUNT; i++)
		t += c->malformed[i];
	return t;
}

int64_t sl_hist_pct(const uint64_t *h, unsigned pct)
{
	uint64_t n = 0, want, run = 0;

	for (unsigned k = 0; k < SL_HIST_BUCKETS; k++)
		n += h[k];
	if (n == 0)
		return -1;
	want = (n * (pct > 100 ? 100 : pct) + 99) / 100; /* rank, 1-based */
	if (want == 0)
		want = 1;
	for (unsigned k = 0; k < SL_HIST_BUCKETS; k++) {
		run += h[k];
		if (run >= want)
			return (int64_t)sl_hist_edge(k + 1 < SL_HIST_BUCKETS ? k + 1 : k);
	}
	return (int64_t)sl_hist_edge(SL_HIST_BUCKETS - 1);
}

const char *sl_role_name(uint8_t role)
{
	static const char *const names[] = {
		[SL_ROLE_CLIENT] = "client",
		[SL_ROLE_BACKEND] = "backend",
		[SL_ROLE_SHADOW] = "shadow",
	};

	return role < sizeof(names) / sizeof(names[0]) ? names[role] : "?";
}
