/* Flow keys and hashes: symmetry, fragments, ICMP errors, seeds. */
#include <math.h>
#include <string.h>

#include "flowtable.h"
#include "hash.h"
#include "parse.h"
#include "pktbuild.h"
#include "unit.h"

static const uint8_t vip4[16] = { 192, 0, 2, 10 };

static void key_of(const uint8_t *frame, uint16_t len, struct sl_key *k)
{
	struct sl_pkt p;

	CU_ASSERT_EQUAL_FATAL(sl_parse(frame, len, &p), SL_OK);
	sl_key_make(k, &p);
}

static void test_key_symmetry(void)
{
	uint8_t a[256], b[256];
	struct sl_key ka, kb;
	struct tb_flow f;

	for (uint32_t i = 0; i < 1000; i++) {
		int fam = (i & 1) ? 6 : 4;
		uint8_t vip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
		uint16_t la, lb;

		tb_client_flow(&f, i, fam, (i & 2) ? 17 : 6, fam == 4 ? vip4 : vip6, 443);
		f.vlan = (i & 4) ? 100 : 0;
		la = tb_frame(a, &f, 0, SL_TCP_SYN, 0);
		lb = tb_frame(b, &f, 1, SL_TCP_SYN | SL_TCP_ACK, 10);
		key_of(a, la, &ka);
		key_of(b, lb, &kb);
		CU_ASSERT_EQUAL(memcmp(&ka, &kb, sizeof(ka)), 0);
		CU_ASSERT_EQUAL(sl_hash_key(&ka, 77), sl_hash_key(&kb, 77));
	}
}

/* Same addresses, swapped ports must still be one key per direction pair
 * but distinct from the flow with the ports the other way round. */
static void test_key_same_address(void)
{
	struct sl_pkt p;
	struct sl_key k1, k2, k3;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.proto = 17;
	tb_v4(p.src, 10, 0, 0, 1);
	tb_v4(p.dst, 10, 0, 0, 1);
	p.sport = 1000;
	p.dport = 2000;
	sl_key_make(&k1, &p);
	p.sport = 2000;
	p.dport = 1000;
	sl_key_make(&k2, &p);
	CU_ASSERT_EQUAL(memcmp(&k1, &k2, sizeof(k1)), 0);
	p.dport = 1001;
	sl_key_make(&k3, &p);
	CU_ASSERT_NOT_EQUAL(memcmp(&k1, &k3, sizeof(k1)), 0);
}

static void test_key_fragments(void)
{
	uint8_t a[256], b[256], c[256];
	struct sl_key ka, kb, kc;
	struct sl_pkt p;
	struct tb_flow f;
	uint16_t la, lb, lc;

	tb_client_flow(&f, 5, 4, 17, vip4, 53);
	la = tb_frame_ex(a, &f, 0, 0, 100, 0, 1, 1);  /* first fragment */
	lb = tb_frame_ex(b, &f, 0, 0, 100, 14, 0, 0); /* later fragment */
	lc = tb_frame(c, &f, 0, 0, 100);              /* unfragmented */
	CU_ASSERT_EQUAL_FATAL(sl_parse(a, la, &p), SL_OK);
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
	CU_ASSERT_EQUAL(p.dport, 53);
	key_of(a, la, &ka);
	key_of(b, lb, &kb);
	key_of(c, lc, &kc);
	CU_ASSERT_EQUAL(memcmp(&ka, &kb, sizeof(ka)), 0);
	CU_ASSERT_EQUAL(ka.pa, 0);
	CU_ASSERT_EQUAL(ka.pb, 0);
	CU_ASSERT_NOT_EQUAL(memcmp(&ka, &kc, sizeof(ka)), 0);
}

/* An ICMP error quoting a server->client segment has the flow's key. */
static void test_key_icmp_error(void)
{
	uint8_t seg[256], icmp[256];
	struct sl_key kf, ki;
	struct tb_flow f;
	uint16_t ls, li;

	tb_client_flow(&f, 9, 4, 6, vip4, 443);
	key_of(seg, tb_frame(seg, &f, 0, SL_TCP_ACK, 0), &kf);

	/* server -> client segment, quoted inside ICMP frag-needed sent by the
	 * client side towards the VIP. */
	ls = tb_frame(seg, &f, 1, SL_TCP_ACK, 0);
	memcpy(icmp, seg, 14);
	icmp[14] = 0x45;
	icmp[15] = 0;
	tb_put16(icmp + 16, (uint16_t)(20 + 8 + (ls - 14)));
	memset(icmp + 18, 0, 6);
	icmp[22] = 64;
	icmp[23] = 1;
	memset(icmp + 24, 0, 2);
	tb_v4(icmp + 26, 203, 0, 113, 1);
	memcpy(icmp + 30, vip4, 4);
	icmp[34] = 3;
	icmp[35] = 4;
	memset(icmp + 36, 0, 6);
	tb_put16(icmp + 40, 1400);
	memcpy(icmp + 42, seg + 14, ls - 14);
	li = (uint16_t)(42 + ls - 14);
	key_of(icmp, li, &ki);
	CU_ASSERT_EQUAL(memcmp(&kf, &ki, sizeof(kf)), 0);
}

static void test_seeds(void)
{
	struct sl_seeds a, b, c, d;

	sl_seeds_init(&a, 0x5eed, 0, 0);
	sl_seeds_init(&b, 0x5eed, 0, 0);
	sl_seeds_init(&c, 0x5eee, 0, 0);
	sl_seeds_init(&d, 0x5eed, 42, 43);
	CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	CU_ASSERT_NOT_EQUAL(a.flow, c.flow);
	CU_ASSERT_NOT_EQUAL(a.group, c.group);
	CU_ASSERT_NOT_EQUAL(a.group, a.member);
	CU_ASSERT_EQUAL(a.flow, d.flow);
	CU_ASSERT_NOT_EQUAL(a.group, d.group);
	CU_ASSERT_NOT_EQUAL(a.member, d.member);
}

/* Group (h1) and member (h2) decisions must not be correlated: a chi-square
 * test of independence on a 10 x 10 grid of (h1 decile, h2 decile) over
 * 100 000 flows, and the correlation of the two 32-bit values. */
static void test_seed_independence(void)
{
	enum { N = 100000, B = 10 };
	static unsigned grid[B][B];
	struct sl_seeds s;
	double chi = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, r;

	memset(grid, 0, sizeof(grid));
	sl_seeds_init(&s, 0x5eed, 0, 0);
	for (uint32_t i = 0; i < N; i++) {
		struct tb_flow f;
		struct sl_pkt p;
		struct sl_key k;
		uint64_t d, h1, h2;
		double x, y;

		tb_client_flow(&f, i, 4, 6, vip4, 443);
		memset(&p, 0, sizeof(p));
		p.family = 4;
		p.proto = 6;
		memcpy(p.src, f.src, 16);
		memcpy(p.dst, f.dst, 16);
		p.sport = f.sport;
		p.dport = f.dport;
		sl_key_make(&k, &p);
		d = sl_hash_key(&k, s.flow);
		h1 = sl_hash_mix(d, s.group);
		h2 = sl_hash_mix(d, s.member);
		grid[((h1 >> 32) * B) >> 32][((h2 >> 32) * B) >> 32]++;
		x = (double)(h1 >> 32);
		y = (double)(h2 >> 32);
		sx += x;
		sy += y;
		sxx += x * x;
		syy += y * y;
		sxy += x * y;
	}
	for (int i = 0; i < B; i++)
		for (int j = 0; j < B; j++) {
			double e = (double)N / (B * B), o = grid[i][j];

			chi += (o - e) * (o - e) / e;
		}
	r = (N * sxy - sx * sy) / sqrt((N * sxx - sx * sx) * (N * syy - sy * sy));
	/* 81 degrees of freedom: P(chi2 > 140) < 1e-4 for independent data. */
	CU_ASSERT(chi < 140.0);
	CU_ASSERT(fabs(r) < 0.015);
}

/* The IPv4 fast path's key words, digest and lookup words (decide.c's
 * common frame) are those of the key sl_key_digest builds, for random
 * packets: either address order, equal addresses, fragments, TCP, UDP. */
static void test_key4_words(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (unsigned i = 0; i < 200000; i++) {
		struct sl_pkt p;
		struct sl_key k, k2;
		struct sl_ft_want a, b;
		uint64_t ab, w4, words[5], seed, dig;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memset(&p, 0, sizeof(p));
		p.family = 4;
		p.proto = x & 1 ? 17 : 6;
		p.frag = (x >> 1) % 8 == 0 ? SL_FRAG_FIRST : (x >> 1) % 8 == 1 ? SL_FRAG_LATER
									: SL_FRAG_NONE;
		memcpy(p.src, &x, 4);
		/* one in four with the same address both ends */
		if ((x >> 4) % 4 == 0)
			memcpy(p.dst, &x, 4);
		else
			memcpy(p.dst, (const uint8_t *)&x + 4, 4);
		p.sport = (uint16_t)(x >> 32);
		p.dport = (uint16_t)((x >> 8) % 4 ? x >> 48 : x >> 32);
		seed = x * 0x2545f4914f6cdd1dull;
		dig = sl_key_digest(&k, &p, seed);
		sl_key4_words(&p, &ab, &w4);
		memcpy(words, &k, sizeof(words));
		CU_ASSERT_EQUAL(ab, (words[0] & 0xffffffffu) | words[2] << 32);
		CU_ASSERT_EQUAL(w4, words[4]);
		CU_ASSERT_EQUAL(sl_hash4(ab, w4, seed), dig);
		CU_ASSERT_EQUAL(sl_hash_key(&k, seed), dig);
		sl_key_make(&k2, &p);
		CU_ASSERT_EQUAL(memcmp(&k, &k2, sizeof(k)), 0);
		sl_ft_want4(&a, ab, w4);
		sl_ft_want_init(&b, &k);
		CU_ASSERT_EQUAL(a.ab, b.ab);
		CU_ASSERT_EQUAL(a.hi, b.hi);
		CU_ASSERT_EQUAL((a.hi >> 32 & SL_FLOW_UDP) != 0, p.proto == 17);
		if (CU_get_number_of_failures())
			break;
	}
}

/* A common frame's key words straight from its bytes (sl_parse_common4,
 * sl_key4_common: decide.c's first pass) are those sl_key_digest builds
 * from sl_parse_full's packet, for random frames: either address and port
 * order, equal addresses, equal ports, TCP, UDP. */
static void test_key4_common(void)
{
	uint64_t x = 0x2545f4914f6cdd1dull;

	for (unsigned i = 0; i < 200000; i++) {
		uint8_t f[64];
		struct sl_pkt p;
		struct sl_common4 c;
		struct sl_key k;
		uint64_t ab, w4, words[5];

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memset(f, 0, sizeof(f));
		f[12] = 0x08;
		f[14] = 0x45;
		f[17] = x & 1 ? 28 : 40; /* total length */
		f[20] = (x >> 1) & 1 ? 0x40 : 0; /* DF */
		f[23] = x & 1 ? 17 : 6;
		memcpy(f + 26, &x, 4);
		if ((x >> 4) % 4 == 0)
			memcpy(f + 30, &x, 4);
		else
			memcpy(f + 30, (const uint8_t *)&x + 4, 4);
		memcpy(f + 34, (const uint8_t *)&x + 2, 2);
		if ((x >> 8) % 4 == 0)
			memcpy(f + 36, f + 34, 2);
		else
			memcpy(f + 36, (const uint8_t *)&x + 6, 2);
		if (x & 1)
			f[39] = 8; /* UDP length */
		else
			f[46] = 0x50; /* TCP data offset */
		f[47] = (uint8_t)(x >> 40);
		if (sl_parse_common4(f, 60, &c) != 1 || sl_parse_full(f, 60, &p) != SL_OK) {
			CU_FAIL("a valid common frame refused");
			break;
		}
		sl_key_digest(&k, &p, 1);
		sl_key4_common(c.addrs, c.ports, c.proto, &ab, &w4);
		memcpy(words, &k, sizeof(words));
		CU_ASSERT_EQUAL(ab, (words[0] & 0xffffffffu) | words[2] << 32);
		CU_ASSERT_EQUAL(w4, words[4]);
		CU_ASSERT_EQUAL(c.proto, p.proto);
		CU_ASSERT_EQUAL(c.tcp_flags, p.tcp_flags);
		CU_ASSERT_EQUAL(sl_common4_sport(&c), p.sport);
		CU_ASSERT_EQUAL(sl_common4_dport(&c), p.dport);
		if (CU_get_number_of_failures())
			break;
	}
}

/* The digest spreads sequential keys evenly over flow-table slots. */
static void test_digest_spread(void)
{
	enum { N = 1 << 16, SLOTS = 1 << 12 };
	static unsigned slot[SLOTS];
	unsigned mx = 0;

	memset(slot, 0, sizeof(slot));
	for (uint32_t i = 0; i < N; i++) {
		struct sl_key k;

		memset(&k, 0, sizeof(k));
		k.family = 4;
		k.proto = 6;
		tb_v4(k.a, 10, 0, (uint8_t)(i >> 8), (uint8_t)i);
		memcpy(k.b, vip4, 16);
		k.pa = 1024;
		k.pb = 443;
		slot[sl_hash_key(&k, 1) & (SLOTS - 1)]++;
	}
	for (int i = 0; i < SLOTS; i++)
		mx = slot[i] > mx ? slot[i] : mx;
	/* mean 16: a max far above ~40 means clustering */
	CU_ASSERT(mx < 45);
}

void sl_test_register_hash(void)
{
	CU_pSuite s = CU_add_suite("hash", NULL, NULL);

	CU_add_test(s, "key symmetric in both directions", test_key_symmetry);
	CU_add_test(s, "key with equal addresses", test_key_same_address);
	CU_add_test(s, "fragments share a 3-tuple key", test_key_fragments);
	CU_add_test(s, "ICMP error has its flow's key", test_key_icmp_error);
	CU_add_test(s, "seeds derived and independent", test_seeds);
	CU_add_test(s, "group and member hashes uncorrelated", test_seed_independence);
	CU_add_test(s, "digest spreads over slots", test_digest_spread);
	CU_add_test(s, "IPv4 key words as the key", test_key4_words);
	CU_add_test(s, "IPv4 key words of a common frame as the key", test_key4_common);
}
