/* Hash seeds from the configuration (keys and digests: hash.h). */
#include <string.h>

#include "hash.h"

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
