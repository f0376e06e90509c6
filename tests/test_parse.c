/* Unit tests of the packet parser.  Packets are assembled here, header by
 * header; every parse runs on a heap copy of exactly the frame's length so
 * that AddressSanitizer reports any read past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "parse.h"
#include "unit.h"

/* ---- packet builder ---- */

struct pkt {
	uint8_t b[4096];
	uint32_t n;
	int ip;      /* offset of the IP header whose length b_done sets, -1 none */
	int ipver;
	int udp;     /* offset of the UDP header whose length b_done sets, -1 none */
};

static const uint8_t CLI4[4] = { 198, 51, 100, 7 };
static const uint8_t VIP4[4] = { 192, 0, 2, 10 };
static const uint8_t RTR4[4] = { 203, 0, 113, 1 };
static const uint8_t CLI6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 };
static const uint8_t VIP6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
static const uint8_t RTR6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

static void b_init(struct pkt *k)
{
	memset(k, 0, sizeof(*k));
	k->ip = -1;
	k->udp = -1;
}

static void put8(struct pkt *k, uint8_t v)
{
	CU_ASSERT_FATAL(k->n < sizeof(k->b));
	k->b[k->n++] = v;
}

static void put16(struct pkt *k, uint16_t v)
{
	put8(k, (uint8_t)(v >> 8));
	put8(k, (uint8_t)v);
}

static void putb(struct pkt *k, const void *d, uint32_t n)
{
	CU_ASSERT_FATAL(k->n + n <= sizeof(k->b));
	memcpy(k->b + k->n, d, n);
	k->n += n;
}

static void set16(struct pkt *k, uint32_t off, uint16_t v)
{
	k->b[off] = (uint8_t)(v >> 8);
	k->b[off + 1] = (uint8_t)v;
}

/* n bytes of a recognisable filler (never zero, so lengths cannot hide). */
static void b_fill(struct pkt *k, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		put8(k, (uint8_t)(0xa0 + (i & 0x1f)));
}

static void b_eth(struct pkt *k, uint16_t et)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	b_init(k);
	putb(k, macs, sizeof(macs));
	put16(k, et);
}

static void b_tag(struct pkt *k, uint16_t tci, uint16_t et)
{
	put16(k, tci);
	put16(k, et);
}

/* IPv4 header of ihl words (options are NOPs then EOL); total length is set
 * by b_done. */
static void b_ip4(struct pkt *k, uint8_t proto, const uint8_t *src, const uint8_t *dst,
		  uint8_t ihl, uint16_t frag)
{
	if (k->ip < 0) {
		k->ip = (int)k->n;
		k->ipver = 4;
	}
	put8(k, (uint8_t)(0x40 | ihl));
	put8(k, 0);
	put16(k, 0);
	put16(k, 0x1234);
	put16(k, frag);
	put8(k, 64);
	put8(k, proto);
	put16(k, 0);
	putb(k, src, 4);
	putb(k, dst, 4);
	for (int i = 5 * 4; i < ihl * 4; i++)
		put8(k, i + 1 < ihl * 4 ? 1 : 0);
}

static void b_ip6(struct pkt *k, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
	if (k->ip < 0) {
		k->ip = (int)k->n;
		k->ipver = 6;
	}
	put8(k, 0x60);
	put8(k, 0);
	put16(k, 0xbeef);
	put16(k, 0);
	put8(k, nh);
	put8(k, 64);
	putb(k, src, 16);
	putb(k, dst, 16);
}

/* Generic extension header, (len8 + 1) * 8 bytes (padding options). */
static void b_ext(struct pkt *k, uint8_t nh, uint8_t len8)
{
	uint32_t body = (len8 + 1u) * 8 - 2;

	put8(k, nh);
	put8(k, len8);
	put8(k, 1); /* PadN */
	put8(k, (uint8_t)(body - 2));
	for (uint32_t i = 2; i < body; i++)
		put8(k, 0);
}

/* Authentication header: (len4 + 2) * 4 bytes. */
static void b_ah(struct pkt *k, uint8_t nh, uint8_t len4)
{
	put8(k, nh);
	put8(k, len4);
	for (uint32_t i = 2; i < (len4 + 2u) * 4; i++)
		put8(k, 0x11);
}

static void b_frag6(struct pkt *k, uint8_t nh, uint16_t off8, int more)
{
	put8(k, nh);
	put8(k, 0);
	put16(k, (uint16_t)(off8 << 3 | (more ? 1 : 0)));
	put16(k, 0xcafe);
	put16(k, 0xf00d);
}

static void b_tcp(struct pkt *k, uint16_t sport, uint16_t dport, uint8_t flags, uint8_t doff)
{
	put16(k, sport);
	put16(k, dport);
	put16(k, 0x0102);
	put16(k, 0x0304);
	put16(k, 0);
	put16(k, 0);
	put8(k, (uint8_t)(doff << 4));
	put8(k, flags);
	put16(k, 65535);
	put16(k, 0);
	put16(k, 0);
	for (int i = 20; i < doff * 4; i++)
		put8(k, 1); /* NOP options */
}

static void b_udp(struct pkt *k, uint16_t sport, uint16_t dport)
{
	if (k->udp < 0)
		k->udp = (int)k->n;
	put16(k, sport);
	put16(k, dport);
	put16(k, 0);
	put16(k, 0);
}

static void b_icmp(struct pkt *k, uint8_t type, uint8_t code)
{
	put8(k, type);
	put8(k, code);
	put16(k, 0);
	put16(k, 0x0001);
	put16(k, 0x0500); /* id/seq, or unused, or the MTU's low half */
}

/* Lengths of the outermost IP header and first UDP header from the bytes
 * written so far (L2 padding added later is not counted). */
static void b_done(struct pkt *k)
{
	if (k->ip >= 0 && k->ipver == 4)
		set16(k, (uint32_t)k->ip + 2, (uint16_t)(k->n - (uint32_t)k->ip));
	if (k->ip >= 0 && k->ipver == 6)
		set16(k, (uint32_t)k->ip + 4, (uint16_t)(k->n - (uint32_t)k->ip - 40));
	if (k->udp >= 0)
		set16(k, (uint32_t)k->udp + 4, (uint16_t)(k->n - (uint32_t)k->udp));
}

/* Parse n bytes from a heap buffer of exactly n bytes. */
static enum sl_bad parse_n(const uint8_t *b, uint32_t n, struct sl_pkt *p)
{
	uint8_t *h = malloc(n ? n : 1);
	enum sl_bad r;

	CU_ASSERT_FATAL(h != NULL);
	if (n)
		memcpy(h, b, n);
	/* for n == 0 the buffer is 1 byte but the parser is told 0 */
	r = sl_parse(h, n, p);
	free(h);
	return r;
}

static const char *parse(const struct pkt *k, struct sl_pkt *p)
{
	return sl_bad_name(parse_n(k->b, k->n, p));
}

static int zero_from(const uint8_t *a, int from)
{
	for (int i = from; i < 16; i++)
		if (a[i])
			return 0;
	return 1;
}

#define ASSERT_ADDR4(a, want) \
	do { \
		CU_ASSERT(memcmp((a), (want), 4) == 0); \
		CU_ASSERT(zero_from((a), 4)); \
	} while (0)
#define ASSERT_ADDR6(a, want) CU_ASSERT(memcmp((a), (want), 16) == 0)

/* ---- well-formed packets ---- */

static void test_v4_tcp(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 5, 0x4000); /* DF is not a fragment */
	b_tcp(&k, 40000, 443, SL_TCP_SYN | SL_TCP_ACK, 5);
	b_fill(&k, 10);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.ethertype, 0x0800);
	CU_ASSERT_EQUAL(p.nvlan, 0);
	CU_ASSERT_EQUAL(p.family, 4);
	CU_ASSERT_EQUAL(p.l3_off, 14);
	CU_ASSERT_EQUAL(p.l4_off, 34);
	CU_ASSERT_EQUAL(p.l3_len, 50);
	CU_ASSERT_EQUAL(p.proto, 6);
	CU_ASSERT_EQUAL(p.sport, 40000);
	CU_ASSERT_EQUAL(p.dport, 443);
	CU_ASSERT_EQUAL(p.tcp_flags, SL_TCP_SYN | SL_TCP_ACK);
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_NONE);
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	ASSERT_ADDR4(p.src, CLI4);
	ASSERT_ADDR4(p.dst, VIP4);
}

static void test_v4_udp(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 5353, 53);
	b_fill(&k, 30);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.family, 4);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 5353);
	CU_ASSERT_EQUAL(p.dport, 53);
	CU_ASSERT_EQUAL(p.l4_off, 34);
	CU_ASSERT_EQUAL(p.l3_len, 58);
	CU_ASSERT_EQUAL(p.tcp_flags, 0);
	ASSERT_ADDR4(p.src, CLI4);
	ASSERT_ADDR4(p.dst, VIP4);
}

static void test_v4_icmp_echo(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x0800);
	b_ip4(&k, 1, CLI4, VIP4, 5, 0);
	b_icmp(&k, 8, 0);
	/* an echo payload that looks like a quoted packet is still data */
	b_ip4(&k, 6, RTR4, RTR4, 5, 0);
	b_tcp(&k, 1, 2, 0, 5);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 1);
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.dport, 0);
	CU_ASSERT_EQUAL(p.l4_off, 34);
	ASSERT_ADDR4(p.src, CLI4);
	ASSERT_ADDR4(p.dst, VIP4);
}

static void test_v4_options(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 8, 0);
	b_tcp(&k, 1234, 80, SL_TCP_ACK, 8);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.l4_off, 14 + 32);
	CU_ASSERT_EQUAL(p.l3_len, 32 + 32);
	CU_ASSERT_EQUAL(p.sport, 1234);
	CU_ASSERT_EQUAL(p.dport, 80);
	CU_ASSERT_EQUAL(p.tcp_flags, SL_TCP_ACK);

	/* largest header: IHL 15 */
	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 15, 0);
	b_udp(&k, 9, 10);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.l4_off, 14 + 60);
	CU_ASSERT_EQUAL(p.sport, 9);
	CU_ASSERT_EQUAL(p.dport, 10);
}

static void test_v6_tcp(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x86dd);
	b_ip6(&k, 6, CLI6, VIP6);
	b_tcp(&k, 50001, 443, SL_TCP_FIN | SL_TCP_ACK, 10);
	b_fill(&k, 7);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.ethertype, 0x86dd);
	CU_ASSERT_EQUAL(p.family, 6);
	CU_ASSERT_EQUAL(p.l3_off, 14);
	CU_ASSERT_EQUAL(p.l4_off, 54);
	CU_ASSERT_EQUAL(p.l3_len, 40 + 40 + 7);
	CU_ASSERT_EQUAL(p.proto, 6);
	CU_ASSERT_EQUAL(p.sport, 50001);
	CU_ASSERT_EQUAL(p.dport, 443);
	CU_ASSERT_EQUAL(p.tcp_flags, SL_TCP_FIN | SL_TCP_ACK);
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_NONE);
	ASSERT_ADDR6(p.src, CLI6);
	ASSERT_ADDR6(p.dst, VIP6);
}

static void test_v6_udp(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x86dd);
	b_ip6(&k, 17, CLI6, VIP6);
	b_udp(&k, 4500, 4501);
	b_fill(&k, 12);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 4500);
	CU_ASSERT_EQUAL(p.dport, 4501);
	CU_ASSERT_EQUAL(p.l4_off, 54);
	CU_ASSERT_EQUAL(p.l3_len, 60);
	ASSERT_ADDR6(p.src, CLI6);
	ASSERT_ADDR6(p.dst, VIP6);
}

static void test_v6_icmp_echo(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x86dd);
	b_ip6(&k, 58, CLI6, VIP6);
	b_icmp(&k, 128, 0);
	b_fill(&k, 56);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 58);
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.dport, 0);
	CU_ASSERT_EQUAL(p.l4_off, 54);
	ASSERT_ADDR6(p.src, CLI6);
}

static void test_v6_ext_chain(void)
{
	struct pkt k;
	struct sl_pkt p;

	/* hop-by-hop (8) -> routing (24) -> destination options (16) -> TCP */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 0, CLI6, VIP6);
	b_ext(&k, 43, 0);
	b_ext(&k, 60, 2);
	b_ext(&k, 6, 1);
	b_tcp(&k, 33000, 22, SL_TCP_SYN, 5);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 6);
	CU_ASSERT_EQUAL(p.l4_off, 54 + 8 + 24 + 16);
	CU_ASSERT_EQUAL(p.sport, 33000);
	CU_ASSERT_EQUAL(p.dport, 22);
	CU_ASSERT_EQUAL(p.tcp_flags, SL_TCP_SYN);
	CU_ASSERT_EQUAL(p.l3_len, 40 + 48 + 20);

	/* destination options -> AH ((4 + 2) * 4 = 24 bytes) -> UDP */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 60, CLI6, VIP6);
	b_ext(&k, 51, 0);
	b_ah(&k, 17, 4);
	b_udp(&k, 500, 4500);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.l4_off, 54 + 8 + 24);
	CU_ASSERT_EQUAL(p.sport, 500);
	CU_ASSERT_EQUAL(p.dport, 4500);

	/* mobility header then No Next Header: nothing to parse after it */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 135, CLI6, VIP6);
	b_ext(&k, 59, 1);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 59);
	CU_ASSERT_EQUAL(p.l4_off, 0);
	CU_ASSERT_EQUAL(p.sport, 0);

	/* exactly SL_MAX_IP6_EXT headers is allowed */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 60, CLI6, VIP6);
	for (int i = 0; i < SL_MAX_IP6_EXT; i++)
		b_ext(&k, i + 1 < SL_MAX_IP6_EXT ? 60 : 17, 0);
	b_udp(&k, 7, 8);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.l4_off, 54 + 8 * SL_MAX_IP6_EXT);
	CU_ASSERT_EQUAL(p.dport, 8);
}

static void test_vlan(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x8100);
	b_tag(&k, 0x2064, 0x0800); /* PCP 1, VID 100 */
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 1000, 2000);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.nvlan, 1);
	CU_ASSERT_EQUAL(p.vlan[0], 0x2064);
	CU_ASSERT_EQUAL(p.vlan[1], 0);
	CU_ASSERT_EQUAL(p.ethertype, 0x0800);
	CU_ASSERT_EQUAL(p.l3_off, 18);
	CU_ASSERT_EQUAL(p.l4_off, 38);
	CU_ASSERT_EQUAL(p.sport, 1000);
	CU_ASSERT_EQUAL(p.dport, 2000);
}

static void test_qinq(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x88a8);
	b_tag(&k, 0x00c8, 0x8100);
	b_tag(&k, 0x0064, 0x86dd);
	b_ip6(&k, 6, CLI6, VIP6);
	b_tcp(&k, 2222, 443, SL_TCP_RST, 5);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.nvlan, 2);
	CU_ASSERT_EQUAL(p.vlan[0], 0x00c8);
	CU_ASSERT_EQUAL(p.vlan[1], 0x0064);
	CU_ASSERT_EQUAL(p.ethertype, 0x86dd);
	CU_ASSERT_EQUAL(p.l3_off, 22);
	CU_ASSERT_EQUAL(p.l4_off, 62);
	CU_ASSERT_EQUAL(p.family, 6);
	CU_ASSERT_EQUAL(p.sport, 2222);
	CU_ASSERT_EQUAL(p.tcp_flags, SL_TCP_RST);

	/* legacy 0x9100 outer tag */
	b_eth(&k, 0x9100);
	b_tag(&k, 0x0fff, 0x8100);
	b_tag(&k, 0x0001, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 3, 4);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.nvlan, 2);
	CU_ASSERT_EQUAL(p.vlan[0], 0x0fff);
	CU_ASSERT_EQUAL(p.vlan[1], 0x0001);
	CU_ASSERT_EQUAL(p.l3_off, 22);
	CU_ASSERT_EQUAL(p.dport, 4);
}

static void test_non_ip(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x0806); /* ARP request */
	put16(&k, 1);
	put16(&k, 0x0800);
	put8(&k, 6);
	put8(&k, 4);
	put16(&k, 1);
	b_fill(&k, 20);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.family, 0);
	CU_ASSERT_EQUAL(p.ethertype, 0x0806);
	CU_ASSERT_EQUAL(p.proto, 0);
	CU_ASSERT_EQUAL(p.l4_off, 0);

	/* LLDP, and a bare Ethernet header, are not malformed either */
	b_eth(&k, 0x88cc);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.family, 0);
	CU_ASSERT_EQUAL(p.ethertype, 0x88cc);

	/* tagged ARP */
	b_eth(&k, 0x8100);
	b_tag(&k, 7, 0x0806);
	b_fill(&k, 28);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.family, 0);
	CU_ASSERT_EQUAL(p.nvlan, 1);
	CU_ASSERT_EQUAL(p.vlan[0], 7);
	CU_ASSERT_EQUAL(p.ethertype, 0x0806);
	CU_ASSERT_EQUAL(p.l3_off, 18);
}

static void test_unknown_l4(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x0800);
	b_ip4(&k, 47, CLI4, VIP4, 5, 0); /* GRE */
	b_fill(&k, 4);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 47);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.dport, 0);
	CU_ASSERT_EQUAL(p.l4_off, 34);

	b_eth(&k, 0x86dd);
	b_ip6(&k, 60, CLI6, VIP6);
	b_ext(&k, 132, 0); /* SCTP after destination options */
	b_fill(&k, 12);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 132);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.l4_off, 62);

	/* ICMPv4 number inside IPv6 is not ICMPv6: no ICMP rules apply */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 1, CLI6, VIP6);
	b_fill(&k, 3);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.proto, 1);
}

static void test_l2_padding(void)
{
	struct pkt k;
	struct sl_pkt p;
	uint32_t tcp;

	/* 46-byte frame padded to 60 with junk: padding is not payload */
	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 111, 222);
	b_fill(&k, 4);
	b_done(&k);
	b_fill(&k, 60 - k.n);
	CU_ASSERT_EQUAL(k.n, 60);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.l3_len, 32);
	CU_ASSERT_EQUAL(p.sport, 111);

	/* a UDP length reaching into the padding is wrong */
	set16(&k, 14 + 20 + 4, 20);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "udp_len");

	/* a TCP header that fits the frame only thanks to padding is wrong */
	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 5, 0);
	tcp = k.n;
	b_tcp(&k, 1, 2, 0, 5);
	b_done(&k);
	b_fill(&k, 20);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	k.b[tcp + 12] = 8 << 4;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "tcp_doff");

	/* same for IPv6: payload length bounds the walk */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 17, CLI6, VIP6);
	b_udp(&k, 5, 6);
	b_done(&k);
	b_fill(&k, 60);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.l3_len, 48);
	/* next header: destination options of (5 + 1) * 8 bytes, which fit
	 * the frame but not the datagram */
	k.b[14 + 6] = 60;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_ext_trunc");
	k.b[14 + 6] = 17;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	set16(&k, 14 + 40 + 4, 16);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "udp_len");

	b_eth(&k, 0x86dd);
	b_ip6(&k, 6, CLI6, VIP6);
	tcp = k.n;
	b_tcp(&k, 1, 2, 0, 5);
	b_done(&k);
	b_fill(&k, 40);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	k.b[tcp + 12] = 6 << 4;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "tcp_doff");
}

/* ---- fragments ---- */

static void test_v4_fragments(void)
{
	struct pkt k;
	struct sl_pkt p;

	/* first: MF, offset 0; UDP length is the whole datagram's */
	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0x2000);
	b_udp(&k, 7000, 53);
	b_fill(&k, 100);
	b_done(&k);
	set16(&k, 14 + 20 + 4, 3000);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 7000);
	CU_ASSERT_EQUAL(p.dport, 53);
	CU_ASSERT_EQUAL(p.l4_off, 34);

	/* later: offset 185 * 8; its first bytes are data, not ports */
	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 185);
	b_udp(&k, 7000, 53);
	b_fill(&k, 100);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_LATER);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.dport, 0);
	CU_ASSERT_EQUAL(p.l4_off, 0);
	CU_ASSERT_EQUAL(p.l3_len, 128);
	ASSERT_ADDR4(p.src, CLI4);
	ASSERT_ADDR4(p.dst, VIP4);

	/* later and more: still later; a 2-byte last fragment needs no L4 */
	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 5, 0x2000 | 10);
	b_fill(&k, 2);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_LATER);
	CU_ASSERT_EQUAL(p.proto, 6);

	/* the last possible fragment: ends exactly at 65535 */
	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 8189);
	b_fill(&k, 65535 - 8189 * 8);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	put8(&k, 0);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip4_frag");

	/* a first fragment too short for the TCP header (RFC 1858) */
	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 5, 0x2000);
	b_fill(&k, 8);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "tcp_trunc");
}

static void test_v6_fragments(void)
{
	struct pkt k;
	struct sl_pkt p;

	/* first: offset 0, M=1; UDP length is the whole datagram's */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 17, 0, 1);
	b_udp(&k, 9000, 9001);
	b_fill(&k, 64);
	b_done(&k);
	set16(&k, 14 + 48 + 4, 4000);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 9000);
	CU_ASSERT_EQUAL(p.dport, 9001);
	CU_ASSERT_EQUAL(p.l4_off, 62);

	/* later, behind destination options: proto is the fragment's next header */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 60, CLI6, VIP6);
	b_ext(&k, 44, 0);
	b_frag6(&k, 17, 100, 1);
	b_udp(&k, 9000, 9001);
	b_fill(&k, 64);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_LATER);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.dport, 0);
	CU_ASSERT_EQUAL(p.l4_off, 0);
	ASSERT_ADDR6(p.src, CLI6);

	/* the smallest non-zero offset, 8 bytes */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 17, 1, 1);
	b_udp(&k, 9000, 9001);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_LATER);
	CU_ASSERT_EQUAL(p.sport, 0);

	/* last fragment (M=0, offset != 0) with nothing parseable after it */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 6, 3, 0);
	b_fill(&k, 3);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_LATER);
	CU_ASSERT_EQUAL(p.proto, 6);

	/* atomic fragment (RFC 6946): a whole datagram */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 6, 0, 0);
	b_tcp(&k, 4321, 443, SL_TCP_ACK, 5);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_NONE);
	CU_ASSERT_EQUAL(p.proto, 6);
	CU_ASSERT_EQUAL(p.sport, 4321);
	CU_ASSERT_EQUAL(p.dport, 443);
	CU_ASSERT_EQUAL(p.l4_off, 62);

	/* a first fragment whose chain holds a second, atomic, Fragment header
	 * is still a first fragment (found by tests/fuzz/fuzz_parse: the
	 * atomic header made it a whole datagram, keyed with its ports, while
	 * its later fragments are keyed without: the datagram was split); its
	 * protocol is the first Fragment header's Next Header, as its later
	 * fragments say (see below) */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 44, 0, 1);
	b_frag6(&k, 17, 0, 0);
	b_udp(&k, 9000, 9001);
	b_fill(&k, 64);
	b_done(&k);
	set16(&k, 14 + 56 + 4, 4000);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
	CU_ASSERT_EQUAL(p.proto, 44);
	CU_ASSERT_EQUAL(p.l4_off, 0);
	CU_ASSERT_EQUAL(p.sport, 0);

	/* the same with TCP: parsed "ok" either way, but as a whole datagram
	 * it was keyed with its ports */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 44, 0, 1);
	b_frag6(&k, 6, 0, 0);
	b_tcp(&k, 4321, 443, SL_TCP_ACK, 5);
	b_fill(&k, 64);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
	CU_ASSERT_EQUAL(p.sport, 0);

	/* Destination Options after the Fragment header (its fragmentable
	 * part, RFC 8200 4.1): the later fragments can only name the
	 * Destination Options header as their protocol, so the first fragment
	 * is keyed and classified by it too, without its UDP ports (found by
	 * fuzz_parse: the first fragment was UDP to port 9001, the later ones
	 * protocol 60, so the datagram was split between a group and the
	 * other traffic) */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 60, 0, 1);
	b_ext(&k, 17, 0);
	b_udp(&k, 9000, 9001);
	b_fill(&k, 64);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
	CU_ASSERT_EQUAL(p.proto, 60);
	CU_ASSERT_EQUAL(p.l4_off, 0);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.dport, 0);
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 60, 100, 1);
	b_fill(&k, 64);
	b_done(&k);
	{
		struct sl_pkt q;

		CU_ASSERT_STRING_EQUAL(parse(&k, &q), "ok");
		CU_ASSERT_EQUAL(q.frag, SL_FRAG_LATER);
		CU_ASSERT_EQUAL(q.proto, p.proto);
		CU_ASSERT(memcmp(q.src, p.src, 16) == 0 && memcmp(q.dst, p.dst, 16) == 0);
		CU_ASSERT_EQUAL(q.sport, p.sport);
		CU_ASSERT_EQUAL(q.dport, p.dport);
	}

	/* the other order: atomic, then first */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 44, CLI6, VIP6);
	b_frag6(&k, 44, 0, 0);
	b_frag6(&k, 17, 0, 1);
	b_udp(&k, 9000, 9001);
	b_fill(&k, 64);
	b_done(&k);
	set16(&k, 14 + 56 + 4, 4000);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
}

/* ---- ICMP errors ---- */

static void test_icmp4_error_tcp(void)
{
	struct pkt k, q;
	struct sl_pkt p;

	/* the client's SYN, as sent; only 28 bytes of it are quoted */
	b_init(&q);
	b_ip4(&q, 6, CLI4, VIP4, 5, 0x4000);
	b_tcp(&q, 40000, 443, SL_TCP_SYN, 5);
	b_fill(&q, 100);
	b_done(&q);

	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, CLI4, 5, 0);
	b_icmp(&k, 3, 1);
	putb(&k, q.b, 28);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 1);
	CU_ASSERT_EQUAL(p.proto, 6);
	CU_ASSERT_EQUAL(p.sport, 40000);
	CU_ASSERT_EQUAL(p.dport, 443);
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_NONE);
	CU_ASSERT_EQUAL(p.tcp_flags, 0);
	ASSERT_ADDR4(p.src, CLI4);
	ASSERT_ADDR4(p.dst, VIP4);
	CU_ASSERT_EQUAL(p.l3_off, 14);
	CU_ASSERT_EQUAL(p.l4_off, 34);
	CU_ASSERT_EQUAL(p.l3_len, 20 + 8 + 28);

	/* time exceeded, quoted header with options and UDP */
	b_init(&q);
	b_ip4(&q, 17, VIP4, CLI4, 7, 0);
	b_udp(&q, 53, 7000);
	b_done(&q);
	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, VIP4, 5, 0);
	b_icmp(&k, 11, 0);
	putb(&k, q.b, q.n);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 1);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 53);
	CU_ASSERT_EQUAL(p.dport, 7000);
	ASSERT_ADDR4(p.src, VIP4);
	ASSERT_ADDR4(p.dst, CLI4);
}

static void test_icmp6_error_udp(void)
{
	struct pkt k, q;
	struct sl_pkt p;

	b_init(&q);
	b_ip6(&q, 17, VIP6, CLI6);
	b_udp(&q, 443, 51000);
	b_fill(&q, 1400);
	b_done(&q);

	/* packet too big (type 2), quoting 48 + 40 bytes */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 58, RTR6, VIP6);
	b_icmp(&k, 2, 0);
	putb(&k, q.b, 88);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 1);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 443);
	CU_ASSERT_EQUAL(p.dport, 51000);
	ASSERT_ADDR6(p.src, VIP6);
	ASSERT_ADDR6(p.dst, CLI6);
	CU_ASSERT_EQUAL(p.l3_off, 14);
	CU_ASSERT_EQUAL(p.l4_off, 54);
	CU_ASSERT_EQUAL(p.l3_len, 40 + 8 + 88);

	/* time exceeded quoting TCP behind hop-by-hop and destination options */
	b_init(&q);
	b_ip6(&q, 0, CLI6, VIP6);
	b_ext(&q, 60, 0);
	b_ext(&q, 6, 1);
	b_tcp(&q, 41000, 8443, SL_TCP_SYN, 5);
	b_done(&q);
	b_eth(&k, 0x86dd);
	b_ip6(&k, 58, RTR6, CLI6);
	b_icmp(&k, 3, 0);
	putb(&k, q.b, 40 + 24 + 4);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 1);
	CU_ASSERT_EQUAL(p.proto, 6);
	CU_ASSERT_EQUAL(p.sport, 41000);
	CU_ASSERT_EQUAL(p.dport, 8443);
	ASSERT_ADDR6(p.src, CLI6);
	ASSERT_ADDR6(p.dst, VIP6);
}

static void test_icmp_quote_unusable(void)
{
	struct pkt k, q;
	struct sl_pkt p;

	b_init(&q);
	b_ip4(&q, 6, CLI4, VIP4, 5, 0);
	b_tcp(&q, 40000, 443, SL_TCP_SYN, 5);
	b_done(&q);

	/* 16 bytes of the quoted IP header: not an error packet we can use */
	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, CLI4, 5, 0);
	b_icmp(&k, 3, 3);
	putb(&k, q.b, 16);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.proto, 1);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.dport, 0);
	ASSERT_ADDR4(p.src, RTR4);
	ASSERT_ADDR4(p.dst, CLI4);

	/* whole IP header but only 3 bytes of TCP: no ports */
	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, CLI4, 5, 0);
	b_icmp(&k, 3, 3);
	putb(&k, q.b, 23);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.proto, 1);
	ASSERT_ADDR4(p.src, RTR4);

	/* a quoted header with a sound IHL but version 5 */
	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, CLI4, 5, 0);
	b_icmp(&k, 3, 3);
	putb(&k, q.b, q.n);
	b_done(&k);
	k.b[14 + 20 + 8] = 0x55;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.proto, 1);
	k.b[14 + 20 + 8] = 0x45;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 1);

	/* an IPv6 packet quoted in ICMPv4 */
	b_init(&q);
	b_ip6(&q, 17, CLI6, VIP6);
	b_udp(&q, 1, 2);
	b_done(&q);
	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, CLI4, 5, 0);
	b_icmp(&k, 3, 3);
	putb(&k, q.b, q.n);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.proto, 1);

	/* ICMPv6 quoting 39 bytes of IPv6 header */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 58, RTR6, CLI6);
	b_icmp(&k, 1, 4);
	putb(&k, q.b, 39);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.proto, 58);
	ASSERT_ADDR6(p.src, RTR6);

	/* ICMPv6 quoting a cut extension header */
	b_init(&q);
	b_ip6(&q, 60, CLI6, VIP6);
	b_ext(&q, 17, 2);
	b_done(&q);
	b_eth(&k, 0x86dd);
	b_ip6(&k, 58, RTR6, CLI6);
	b_icmp(&k, 4, 1);
	putb(&k, q.b, 40 + 16);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.proto, 58);
	CU_ASSERT_EQUAL(p.sport, 0);
}

static void test_icmp_quote_other(void)
{
	struct pkt k, q;
	struct sl_pkt p;

	/* quoting an echo request: addresses, no ports */
	b_init(&q);
	b_ip4(&q, 1, CLI4, VIP4, 5, 0);
	b_icmp(&q, 8, 0);
	b_done(&q);
	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, CLI4, 5, 0);
	b_icmp(&k, 11, 0);
	putb(&k, q.b, q.n);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 1);
	CU_ASSERT_EQUAL(p.proto, 1);
	CU_ASSERT_EQUAL(p.sport, 0);
	ASSERT_ADDR4(p.src, CLI4);
	ASSERT_ADDR4(p.dst, VIP4);

	/* quoting a first fragment: its datagram is keyed on the 3-tuple */
	b_init(&q);
	b_ip4(&q, 17, CLI4, VIP4, 5, 0x2000);
	b_udp(&q, 1111, 2222);
	b_done(&q);
	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, CLI4, 5, 0);
	b_icmp(&k, 11, 1);
	putb(&k, q.b, q.n);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 1);
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 0);
	CU_ASSERT_EQUAL(p.dport, 0);
	ASSERT_ADDR4(p.src, CLI4);

	/* ICMPv6 quoting a later fragment */
	b_init(&q);
	b_ip6(&q, 44, CLI6, VIP6);
	b_frag6(&q, 17, 50, 0);
	b_fill(&q, 16);
	b_done(&q);
	b_eth(&k, 0x86dd);
	b_ip6(&k, 58, RTR6, CLI6);
	b_icmp(&k, 3, 1);
	putb(&k, q.b, q.n);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 1);
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_LATER);
	CU_ASSERT_EQUAL(p.proto, 17);
	CU_ASSERT_EQUAL(p.sport, 0);
	ASSERT_ADDR6(p.dst, VIP6);

	/* a fragmented error is not opened: its later fragments cannot be */
	b_init(&q);
	b_ip4(&q, 6, CLI4, VIP4, 5, 0);
	b_tcp(&q, 40000, 443, SL_TCP_SYN, 5);
	b_done(&q);
	b_eth(&k, 0x0800);
	b_ip4(&k, 1, RTR4, CLI4, 5, 0x2000);
	b_icmp(&k, 3, 1);
	putb(&k, q.b, q.n);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	CU_ASSERT_EQUAL(p.icmp_err, 0);
	CU_ASSERT_EQUAL(p.frag, SL_FRAG_FIRST);
	CU_ASSERT_EQUAL(p.proto, 1);
	ASSERT_ADDR4(p.src, RTR4);
}

/* Only error types open the quote; the others carry data that may look
 * like a packet. */
static void test_icmp_non_error_types(void)
{
	static const uint8_t v4_types[] = { 0, 3, 4, 5, 8, 11, 12, 13, 14, 31 };
	static const uint8_t v4_err[] = { 0, 1, 1, 1, 0, 1, 1, 0, 0, 0 };
	static const uint8_t v6_types[] = { 0, 1, 2, 3, 4, 5, 127, 128, 129, 135 };
	static const uint8_t v6_err[] = { 0, 1, 1, 1, 1, 0, 0, 0, 0, 0 };
	struct pkt k, q;
	struct sl_pkt p;

	b_init(&q);
	b_ip4(&q, 17, CLI4, VIP4, 5, 0);
	b_udp(&q, 1, 2);
	b_done(&q);
	for (unsigned int i = 0; i < sizeof(v4_types); i++) {
		b_eth(&k, 0x0800);
		b_ip4(&k, 1, RTR4, CLI4, 5, 0);
		b_icmp(&k, v4_types[i], 0);
		putb(&k, q.b, q.n);
		b_done(&k);
		CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
		CU_ASSERT_EQUAL(p.icmp_err, v4_err[i]);
		CU_ASSERT_EQUAL(p.proto, v4_err[i] ? 17 : 1);
	}

	b_init(&q);
	b_ip6(&q, 17, CLI6, VIP6);
	b_udp(&q, 1, 2);
	b_done(&q);
	for (unsigned int i = 0; i < sizeof(v6_types); i++) {
		b_eth(&k, 0x86dd);
		b_ip6(&k, 58, RTR6, CLI6);
		b_icmp(&k, v6_types[i], 0);
		putb(&k, q.b, q.n);
		b_done(&k);
		CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
		CU_ASSERT_EQUAL(p.icmp_err, v6_err[i]);
		CU_ASSERT_EQUAL(p.proto, v6_err[i] ? 17 : 58);
	}
}

/* ---- malformed packets, one reason at a time ---- */

static void test_malformed(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x0800);
	CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 13, &p)), "eth_trunc");
	CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 0, &p)), "eth_trunc");

	b_eth(&k, 0x8100);
	put16(&k, 5);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "vlan_trunc");
	put8(&k, 0x08);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "vlan_trunc");

	b_eth(&k, 0x88a8);
	b_tag(&k, 1, 0x8100);
	b_tag(&k, 2, 0x8100);
	b_tag(&k, 3, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 1, 2);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "vlan_depth");
	CU_ASSERT_EQUAL(p.nvlan, 2);

	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 14 + 19, &p)), "ip4_trunc");

	b_eth(&k, 0x0800);
	b_ip6(&k, 17, CLI6, VIP6);
	b_udp(&k, 1, 2);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip4_version");

	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 1, 2);
	b_done(&k);
	k.b[14] = 0x44;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip4_ihl");
	k.b[14] = 0x48; /* 32-byte header in a 28-byte packet */
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip4_ihl");
	k.b[14] = 0x45;
	set16(&k, 16, 19);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip4_len");
	set16(&k, 16, 29);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip4_len");
	set16(&k, 16, 28);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
	set16(&k, 20, 0x1fff); /* offset 65528 + 8 bytes of payload */
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip4_frag");

	b_eth(&k, 0x86dd);
	b_ip6(&k, 17, CLI6, VIP6);
	CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 14 + 39, &p)), "ip6_trunc");

	b_eth(&k, 0x86dd);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 1, 2);
	b_fill(&k, 12);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_version");

	b_eth(&k, 0x86dd);
	b_ip6(&k, 17, CLI6, VIP6);
	b_udp(&k, 1, 2);
	b_done(&k);
	set16(&k, 18, 0);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_len");
	set16(&k, 18, 9);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_len");

	b_eth(&k, 0x86dd);
	b_ip6(&k, 60, CLI6, VIP6);
	b_ext(&k, 17, 2);
	b_done(&k);
	set16(&k, 18, 16); /* 24-byte header in a 16-byte payload */
	k.n = 14 + 40 + 16;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_ext_trunc");
	set16(&k, 18, 4); /* not even the 8 bytes every extension header has */
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_ext_trunc");

	/* AH length counted in 4-byte units + 2: (6 + 2) * 4 = 32 > 24 */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 51, CLI6, VIP6);
	b_ah(&k, 17, 4);
	b_done(&k);
	k.b[14 + 40 + 1] = 6;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_ext_trunc");

	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 5, 0);
	b_fill(&k, 19);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "tcp_trunc");

	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 5, 0);
	b_tcp(&k, 1, 2, 0, 4);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "tcp_doff");
	k.b[14 + 20 + 12] = 6 << 4;
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "tcp_doff");

	b_eth(&k, 0x86dd);
	b_ip6(&k, 17, CLI6, VIP6);
	b_fill(&k, 7);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "udp_trunc");

	b_eth(&k, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 1, 2);
	b_fill(&k, 4);
	b_done(&k);
	set16(&k, 14 + 20 + 4, 7);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "udp_len");
	set16(&k, 14 + 20 + 4, 13);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "udp_len");
	set16(&k, 14 + 20 + 4, 11); /* shorter than the datagram is allowed */
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");

	b_eth(&k, 0x0800);
	b_ip4(&k, 1, CLI4, VIP4, 5, 0);
	b_fill(&k, 7);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "icmp_trunc");

	b_eth(&k, 0x86dd);
	b_ip6(&k, 58, CLI6, VIP6);
	b_fill(&k, 4);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "icmp_trunc");
}

static void test_ip6_ext_loop(void)
{
	struct pkt k;
	struct sl_pkt p;

	/* 9 destination options headers */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 60, CLI6, VIP6);
	for (int i = 0; i < SL_MAX_IP6_EXT + 1; i++)
		b_ext(&k, i < SL_MAX_IP6_EXT ? 60 : 17, 0);
	b_udp(&k, 1, 2);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_ext_chain");

	/* hop-by-hop in second place */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 60, CLI6, VIP6);
	b_ext(&k, 0, 0);
	b_ext(&k, 17, 0);
	b_udp(&k, 1, 2);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_ext_chain");

	/* hop-by-hop twice */
	b_eth(&k, 0x86dd);
	b_ip6(&k, 0, CLI6, VIP6);
	b_ext(&k, 0, 0);
	b_ext(&k, 17, 0);
	b_udp(&k, 1, 2);
	b_done(&k);
	CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ip6_ext_chain");
}

/* ---- truncation at every length ---- */

static void check_prefixes(const struct pkt *k, const uint32_t *limit, const char *const *name,
			   int nlimits)
{
	struct sl_pkt p;

	for (uint32_t len = 0; len < k->n; len++) {
		const char *want = NULL;

		for (int i = 0; i < nlimits && !want; i++)
			if (len < limit[i])
				want = name[i];
		CU_ASSERT_PTR_NOT_NULL_FATAL(want);
		CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k->b, len, &p)), want);
	}
	CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k->b, k->n, &p)), "ok");
}

static void test_truncation(void)
{
	struct pkt k;

	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 5, 0);
	b_tcp(&k, 1, 2, SL_TCP_SYN, 6);
	b_fill(&k, 10);
	b_done(&k);
	{
		const uint32_t lim[] = { 14, 34, k.n };
		const char *const nm[] = { "eth_trunc", "ip4_trunc", "ip4_len" };

		check_prefixes(&k, lim, nm, 3);
	}

	b_eth(&k, 0x86dd);
	b_ip6(&k, 17, CLI6, VIP6);
	b_udp(&k, 1, 2);
	b_fill(&k, 12);
	b_done(&k);
	{
		const uint32_t lim[] = { 14, 54, k.n };
		const char *const nm[] = { "eth_trunc", "ip6_trunc", "ip6_len" };

		check_prefixes(&k, lim, nm, 3);
	}

	b_eth(&k, 0x8100);
	b_tag(&k, 100, 0x0800);
	b_ip4(&k, 17, CLI4, VIP4, 5, 0);
	b_udp(&k, 1, 2);
	b_fill(&k, 6);
	b_done(&k);
	{
		const uint32_t lim[] = { 14, 18, 38, k.n };
		const char *const nm[] = { "eth_trunc", "vlan_trunc", "ip4_trunc", "ip4_len" };

		check_prefixes(&k, lim, nm, 4);
	}
}

/* Cuts inside the datagram with its length fields following the cut, so
 * the L4 and extension-header bounds are the ones exercised. */
static void test_truncation_consistent(void)
{
	struct pkt k;
	struct sl_pkt p;

	b_eth(&k, 0x0800);
	b_ip4(&k, 6, CLI4, VIP4, 5, 0);
	b_tcp(&k, 1, 2, 0, 8);
	b_done(&k);
	for (uint32_t l4 = 0; l4 < 32; l4++) {
		set16(&k, 16, (uint16_t)(20 + l4));
		CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 34 + l4, &p)),
				       l4 < 20 ? "tcp_trunc" : "tcp_doff");
	}
	set16(&k, 16, 52);
	CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 34 + 32, &p)), "ok");

	b_eth(&k, 0x86dd);
	b_ip6(&k, 0, CLI6, VIP6);
	b_ext(&k, 44, 1);
	b_frag6(&k, 51, 0, 0);
	b_ah(&k, 17, 1);
	b_udp(&k, 1, 2);
	b_done(&k);
	for (uint32_t pl = 1; pl < 16 + 8 + 12 + 8; pl++) {
		set16(&k, 18, (uint16_t)pl);
		CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 54 + pl, &p)),
				       pl < 36 ? "ip6_ext_trunc" : "udp_trunc");
	}
	/* UDP length says 8; the datagram now has exactly that */
	set16(&k, 18, 44);
	set16(&k, 54 + 36 + 4, 8);
	CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 54 + 44, &p)), "ok");
	CU_ASSERT_EQUAL(p.l4_off, 54 + 36);

	b_eth(&k, 0x0800);
	b_ip4(&k, 1, CLI4, VIP4, 5, 0);
	b_icmp(&k, 0, 0);
	b_done(&k);
	for (uint32_t l4 = 0; l4 < 8; l4++) {
		set16(&k, 16, (uint16_t)(20 + l4));
		CU_ASSERT_STRING_EQUAL(sl_bad_name(parse_n(k.b, 34 + l4, &p)), "icmp_trunc");
	}
}

/* Quotes of every length: never malformed, addresses once the header is
 * whole, ports once their 4 bytes are there. */
static void test_icmp_quote_lengths(void)
{
	struct pkt k, q;
	struct sl_pkt p;

	b_init(&q);
	b_ip6(&q, 60, CLI6, VIP6);
	b_ext(&q, 6, 0);
	b_tcp(&q, 777, 888, 0, 5);
	b_done(&q);
	for (uint32_t ql = 0; ql <= q.n; ql++) {
		b_eth(&k, 0x86dd);
		b_ip6(&k, 58, RTR6, CLI6);
		b_icmp(&k, 1, 0);
		putb(&k, q.b, ql);
		b_done(&k);
		CU_ASSERT_STRING_EQUAL(parse(&k, &p), "ok");
		CU_ASSERT_EQUAL(p.icmp_err, ql >= 40 + 8 + 4);
		CU_ASSERT_EQUAL(p.sport, ql >= 52 ? 777 : 0);
		CU_ASSERT_EQUAL(p.proto, ql >= 52 ? 6 : 58);
	}
}

/* Mutated and cut packets: any verdict is fine, but an OK verdict must be
 * self-consistent, and nothing may be read outside the frame. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* The inline common case of sl_parse against sl_parse_full: the same
 * result and the same bytes of struct sl_pkt for every frame, over frames
 * of the common kinds mutated byte by byte and cut or padded. */
static void test_inline_matches_full(void)
{
	struct pkt t[5];
	unsigned long same = 0, fast_kind = 0, diff = 0;
	uint32_t x = 0x9e3779b9u;

	b_eth(&t[0], 0x0800);
	b_ip4(&t[0], 6, CLI4, VIP4, 5, 0);
	b_tcp(&t[0], 40000, 443, SL_TCP_SYN, 5);
	b_done(&t[0]);
	b_eth(&t[1], 0x0800);
	b_ip4(&t[1], 6, CLI4, VIP4, 5, 0x4000); /* DF */
	b_tcp(&t[1], 40001, 443, SL_TCP_ACK, 8);
	putb(&t[1], "data", 4);
	b_done(&t[1]);
	b_eth(&t[2], 0x0800);
	b_ip4(&t[2], 17, CLI4, VIP4, 5, 0);
	b_udp(&t[2], 5353, 53);
	putb(&t[2], "query", 5);
	b_done(&t[2]);
	t[3] = t[0];
	b_fill(&t[3], 60); /* L2 padding */
	t[4] = t[2];
	b_fill(&t[4], 64);
	for (unsigned long it = 0; it < 300000; it++) {
		struct pkt k = t[it % 5];
		struct sl_pkt a, b;
		enum sl_bad ra, rb;
		unsigned nmut;

		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		nmut = x % 3; /* a third unmutated but cut or padded */
		for (unsigned m = 0; m < nmut; m++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			/* the bytes the inline path reads, mostly */
			k.b[(x >> 8) % (k.n < 60 ? k.n : 60)] = (uint8_t)(x >> 20);
		}
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		if ((x & 7) == 0)
			k.n = (x >> 8) % (k.n + 1);
		else if ((x & 7) == 1)
			k.n += (x >> 8) % 16;
		/* a buffer of exactly the frame: the ASan build sees a read past it */
		uint8_t *f = malloc(k.n ? k.n : 1);

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		memcpy(f, k.b, k.n);
		memset(&a, 0x5a, sizeof(a));
		memset(&b, 0xa5, sizeof(b));
		ra = sl_parse(f, k.n, &a);
		rb = sl_parse_full(f, k.n, &b);
		free(f);
		if (ra == rb && (ra != SL_OK || !memcmp(&a, &b, sizeof(a))))
			same++;
		else
			diff++;
		if (rb == SL_OK && b.family == 4 && b.nvlan == 0 && b.l4_off == 34 &&
		    b.frag == SL_FRAG_NONE && (b.proto == 6 || b.proto == 17))
			fast_kind++;
	}
	CU_ASSERT_EQUAL(diff, 0);
	/* most frames were of the kind parsed inline, and many were not */
	CU_ASSERT(fast_kind > 100000);
	CU_ASSERT(same - fast_kind > 50000);
}

static void test_mutations(void)
{
	struct pkt t[6], k, q;
	struct sl_pkt p;
	unsigned long ok = 0, bad = 0;
	int viol = 0;

	b_eth(&t[0], 0x0800);
	b_ip4(&t[0], 6, CLI4, VIP4, 6, 0);
	b_tcp(&t[0], 1, 2, 0, 6);
	b_done(&t[0]);
	b_eth(&t[1], 0x8100);
	b_tag(&t[1], 3, 0x86dd);
	b_ip6(&t[1], 0, CLI6, VIP6);
	b_ext(&t[1], 44, 0);
	b_frag6(&t[1], 60, 0, 1);
	b_ext(&t[1], 17, 1);
	b_udp(&t[1], 3, 4);
	b_done(&t[1]);
	b_init(&q);
	b_ip4(&q, 17, CLI4, VIP4, 5, 0);
	b_udp(&q, 5, 6);
	b_done(&q);
	b_eth(&t[2], 0x0800);
	b_ip4(&t[2], 1, RTR4, CLI4, 5, 0);
	b_icmp(&t[2], 3, 0);
	putb(&t[2], q.b, q.n);
	b_done(&t[2]);
	b_init(&q);
	b_ip6(&q, 60, CLI6, VIP6);
	b_ext(&q, 17, 0);
	b_udp(&q, 5, 6);
	b_done(&q);
	b_eth(&t[3], 0x86dd);
	b_ip6(&t[3], 58, RTR6, CLI6);
	b_icmp(&t[3], 1, 0);
	putb(&t[3], q.b, q.n);
	b_done(&t[3]);
	b_eth(&t[4], 0x88a8);
	b_tag(&t[4], 1, 0x8100);
	b_tag(&t[4], 2, 0x0800);
	b_ip4(&t[4], 17, CLI4, VIP4, 5, 0x2000);
	b_udp(&t[4], 7, 8);
	b_done(&t[4]);
	b_eth(&t[5], 0x86dd);
	b_ip6(&t[5], 51, CLI6, VIP6);
	b_ah(&t[5], 0, 1);
	b_ext(&t[5], 6, 0);
	b_tcp(&t[5], 9, 10, 0, 5);
	b_done(&t[5]);

	for (int i = 0; i < 200000; i++) {
		const struct pkt *s = &t[rng() % 6];
		int flips = 1 + (int)(rng() % 3);

		k = *s;
		for (int f = 0; f < flips; f++)
			k.b[rng() % k.n] ^= (uint8_t)(1u << (rng() % 8));
		if (rng() % 4 == 0)
			k.n = rng() % (k.n + 1);
		if (strcmp(parse(&k, &p), "ok") != 0) {
			bad++;
			continue;
		}
		ok++;
		if (p.family == 0)
			continue;
		if (p.l3_off + p.l3_len > k.n)
			viol++;
		if (p.l4_off && (p.l4_off <= p.l3_off || p.l4_off > p.l3_off + p.l3_len))
			viol++;
		if (p.family == 4 && (!zero_from(p.src, 4) || !zero_from(p.dst, 4)))
			viol++;
		if (p.frag == SL_FRAG_LATER && (p.sport || p.dport))
			viol++;
		if (p.frag > SL_FRAG_LATER || p.nvlan > 2 || (p.family != 4 && p.family != 6))
			viol++;
	}
	CU_ASSERT_EQUAL(viol, 0);
	/* the mutations must reach both verdicts to mean anything */
	CU_ASSERT(ok > 1000);
	CU_ASSERT(bad > 1000);
}

static void test_names(void)
{
	static const char *const want[SL_BAD__COUNT] = {
		"ok", "eth_trunc", "vlan_trunc", "vlan_depth", "ip4_trunc", "ip4_version",
		"ip4_ihl", "ip4_len", "ip4_frag", "ip6_trunc", "ip6_version", "ip6_len",
		"ip6_ext_trunc", "ip6_ext_chain", "tcp_trunc", "tcp_doff", "udp_trunc",
		"udp_len", "icmp_trunc",
	};

	for (int i = 0; i < SL_BAD__COUNT; i++) {
		const char *n = sl_bad_name((enum sl_bad)i);

		CU_ASSERT_PTR_NOT_NULL_FATAL(n);
		CU_ASSERT(n[0] != '\0');
		CU_ASSERT_STRING_EQUAL(n, want[i]);
		CU_ASSERT_STRING_NOT_EQUAL(n, "unknown");
		for (int j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(n, sl_bad_name((enum sl_bad)j));
	}
	CU_ASSERT_STRING_EQUAL(sl_bad_name(SL_BAD__COUNT), "unknown");
	CU_ASSERT_STRING_EQUAL(sl_bad_name((enum sl_bad)200), "unknown");
}

void sl_test_register_parse(void)
{
	CU_pSuite s = CU_add_suite("parse", NULL, NULL);

	CU_add_test(s, "v4 tcp", test_v4_tcp);
	CU_add_test(s, "v4 udp", test_v4_udp);
	CU_add_test(s, "v4 icmp echo", test_v4_icmp_echo);
	CU_add_test(s, "v4 options", test_v4_options);
	CU_add_test(s, "v6 tcp", test_v6_tcp);
	CU_add_test(s, "v6 udp", test_v6_udp);
	CU_add_test(s, "v6 icmp echo", test_v6_icmp_echo);
	CU_add_test(s, "v6 extension chain", test_v6_ext_chain);
	CU_add_test(s, "vlan", test_vlan);
	CU_add_test(s, "qinq", test_qinq);
	CU_add_test(s, "non-ip frames", test_non_ip);
	CU_add_test(s, "unknown l4", test_unknown_l4);
	CU_add_test(s, "l2 padding", test_l2_padding);
	CU_add_test(s, "v4 fragments", test_v4_fragments);
	CU_add_test(s, "v6 fragments", test_v6_fragments);
	CU_add_test(s, "icmp4 error quoting tcp", test_icmp4_error_tcp);
	CU_add_test(s, "icmp6 error quoting udp", test_icmp6_error_udp);
	CU_add_test(s, "icmp quote unusable", test_icmp_quote_unusable);
	CU_add_test(s, "icmp quote other", test_icmp_quote_other);
	CU_add_test(s, "icmp quote lengths", test_icmp_quote_lengths);
	CU_add_test(s, "icmp non-error types", test_icmp_non_error_types);
	CU_add_test(s, "malformed reasons", test_malformed);
	CU_add_test(s, "ip6 extension loop", test_ip6_ext_loop);
	CU_add_test(s, "truncation at every length", test_truncation);
	CU_add_test(s, "truncation with consistent lengths", test_truncation_consistent);
	CU_add_test(s, "mutations", test_mutations);
	CU_add_test(s, "inline common case as the full parser", test_inline_matches_full);
	CU_add_test(s, "names", test_names);
}
