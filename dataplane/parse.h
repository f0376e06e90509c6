/* Packet parsing over a plain byte buffer: Ethernet, up to two VLAN tags,
 * IPv4/IPv6 (extension headers walked), TCP/UDP/ICMP/ICMPv6.
 * Never reads past buf + len; every rejection has a named reason. */
#ifndef SLUICE_PARSE_H
#define SLUICE_PARSE_H

#include <stdint.h>

/* Why a packet is malformed.  Names (sl_bad_name) are stable: they appear in
 * --stats JSON, the fixture manifest and the demo output. */
enum sl_bad {
	SL_OK = 0,
	SL_BAD_ETH_TRUNC,     /* "eth_trunc": shorter than an Ethernet header */
	SL_BAD_VLAN_TRUNC,    /* "vlan_trunc": VLAN tag cut */
	SL_BAD_VLAN_DEPTH,    /* "vlan_depth": more than two VLAN tags */
	SL_BAD_IP4_TRUNC,     /* "ip4_trunc": fewer than 20 bytes of IPv4 header */
	SL_BAD_IP4_VERSION,   /* "ip4_version": ethertype IPv4, version field not 4 */
	SL_BAD_IP4_IHL,       /* "ip4_ihl": IHL < 5 or header longer than the packet */
	SL_BAD_IP4_LEN,       /* "ip4_len": total length < IHL*4 or beyond the packet */
	SL_BAD_IP4_FRAG,      /* "ip4_frag": fragment would end past 65535 bytes */
	SL_BAD_IP6_TRUNC,     /* "ip6_trunc": fewer than 40 bytes of IPv6 header */
	SL_BAD_IP6_VERSION,   /* "ip6_version": ethertype IPv6, version field not 6 */
	SL_BAD_IP6_LEN,       /* "ip6_len": payload length 0 (jumbogram) or beyond the packet */
	SL_BAD_IP6_EXT_TRUNC, /* "ip6_ext_trunc": extension header cut */
	SL_BAD_IP6_EXT_CHAIN, /* "ip6_ext_chain": hop-by-hop not first, or more than
	                         SL_MAX_IP6_EXT extension headers (loops) */
	SL_BAD_TCP_TRUNC,     /* "tcp_trunc": fewer than 20 bytes of TCP header */
	SL_BAD_TCP_DOFF,      /* "tcp_doff": data offset < 5 or beyond the datagram */
	SL_BAD_UDP_TRUNC,     /* "udp_trunc": fewer than 8 bytes of UDP header */
	SL_BAD_UDP_LEN,       /* "udp_len": UDP length < 8 or beyond the datagram */
	SL_BAD_ICMP_TRUNC,    /* "icmp_trunc": fewer than 8 bytes of ICMP header */
	SL_BAD__COUNT
};

#define SL_MAX_IP6_EXT 8

/* Fragment position of the packet's datagram. */
enum sl_frag { SL_FRAG_NONE = 0, SL_FRAG_FIRST = 1, SL_FRAG_LATER = 2 };

/* TCP flag bits as on the wire. */
#define SL_TCP_FIN 0x01
#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04
#define SL_TCP_ACK 0x10

struct sl_pkt {
	uint16_t l3_off;     /* offset of the (outer) IP header (non-IP: of the
	                        payload after the VLAN tags) */
	uint16_t l4_off;     /* offset of the (outer) L4 header; 0 if none
	                        (later fragments, IPv6 No Next Header, an
	                        IPv6 first fragment whose Fragment header is
	                        followed by an extension header: proto is
	                        then that header's type, as in its later
	                        fragments) */
	uint16_t ethertype;  /* innermost ethertype, host order */
	uint16_t vlan[2];    /* TCI of each tag, outer first, host order */
	uint8_t nvlan;
	uint8_t family;      /* 0 = not IP, 4, 6 */
	uint8_t proto;       /* L4 protocol after extension headers
	                        (for an ICMP error: the quoted packet's) */
	uint8_t tcp_flags;   /* TCP only */
	uint8_t frag;        /* enum sl_frag (for an ICMP error: the quoted
	                        packet's, so it is keyed like that datagram) */
	uint8_t icmp_err;    /* 1: ICMP/ICMPv6 error (itself unfragmented) whose
	                        quote gave addresses, and ports if the quoted
	                        packet is unfragmented TCP/UDP; src/dst/ports/
	                        proto/frag are then those of the quoted (inner)
	                        packet, as it was sent */
	uint16_t sport;      /* host order; 0 without ports (later fragments,
	                        protocols without ports) */
	uint16_t dport;
	uint16_t l3_len;     /* IP datagram length from its header (no L2 padding) */
	uint8_t src[16];     /* IPv4 in the first 4 bytes, rest zero */
	uint8_t dst[16];
};

/* Parse buf[0..len).  Returns SL_OK with *p filled (family 0 for non-IP
 * frames such as ARP, which are not malformed), or the reason the packet is
 * malformed (then *p holds what was parsed before the fault). */
enum sl_bad sl_parse_full(const uint8_t *buf, uint32_t len, struct sl_pkt *p);

/* A big-endian 16-bit field (frames are not aligned for us). */
static inline uint16_t sl_rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* What the decision's fast path reads of the common frame: untagged IPv4
 * without options or fragmentation, carrying a whole TCP header or UDP
 * datagram.  Addresses and ports as they lie in the frame, each pair one
 * little-endian load of its bytes. */
struct sl_common4 {
	uint64_t addrs;      /* source | destination << 32 */
	uint32_t ports;      /* source | destination << 16, bytes as on the wire */
	uint16_t tot;        /* IP total length, host order */
	uint8_t proto;       /* 6 or 17 */
	uint8_t tcp_flags;   /* 0 for UDP */
};

/* Its ports in host order. */
static inline uint16_t sl_common4_sport(const struct sl_common4 *c)
{
	return __builtin_bswap16((uint16_t)c->ports);
}

static inline uint16_t sl_common4_dport(const struct sl_common4 *c)
{
	return __builtin_bswap16((uint16_t)(c->ports >> 16));
}

static inline uint32_t sl_ld32(const uint8_t *b)
{
	uint32_t v;

	__builtin_memcpy(&v, b, 4);
	return v;
}

static inline uint64_t sl_ld64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return v;
}

/* The common frame's checks and fields, nothing stored in memory: 1 with
 * *c filled, 0 for any other frame.  Whole-word loads and masks where the
 * fields allow: the checks are a good part of a packet's instructions. */
static inline int sl_parse_common4(const uint8_t *buf, uint32_t len, struct sl_common4 *c)
{
	const uint8_t *ip = buf + 14, *l4 = buf + 34;
	uint64_t head;
	uint32_t tot, in_l4, b;
	uint16_t frag;

	if (__builtin_expect(len < 42, 0))
		return 0;
	/* bytes 12..19: ethertype 0x0800, version 4 with IHL 5, (TOS), total
	 * length; bytes 20..21: no MF flag and offset 0 (DF aside) */
	head = sl_ld64(buf + 12);
	__builtin_memcpy(&frag, ip + 6, 2);
	if (__builtin_expect((head & 0xffffff) != 0x450008 || (frag & 0xff3f) != 0, 0))
		return 0;
	tot = __builtin_bswap16((uint16_t)(head >> 32));
	in_l4 = tot - 20; /* wraps when tot < 20: refused as too long */
	if (__builtin_expect(tot > len - 14 || in_l4 > 65535, 0))
		return 0;
	/* the datagram is in the frame: its L4 bytes are read only once
	 * in_l4 says they are in it (a UDP header's are below len 42) */
	if (ip[9] == 6) {
		/* data offset within [20, in_l4]: one unsigned compare, its
		 * byte read only once the datagram holds a TCP header */
		if (__builtin_expect(in_l4 < 20, 0))
			return 0;
		b = (uint32_t)(l4[12] >> 4) * 4u;
		if (__builtin_expect(b - 20u > in_l4 - 20u, 0))
			return 0;
		c->tcp_flags = l4[13];
	} else if (ip[9] == 17) {
		/* UDP length within [8, in_l4] */
		b = (uint32_t)l4[4] << 8 | l4[5];
		if (__builtin_expect(in_l4 < 8 || b - 8u > in_l4 - 8u, 0))
			return 0;
		c->tcp_flags = 0;
	} else {
		return 0;
	}
	c->proto = ip[9];
	c->tot = (uint16_t)tot;
	c->addrs = sl_ld64(ip + 12);
	c->ports = sl_ld32(l4);
	return 1;
}

/* The common frame, parsed inline (sl_parse_common4's checks).  Returns 1
 * with *p filled as sl_parse_full fills it (SL_OK; the unit tests compare
 * the two over mutated frames), 0 for any other frame: sl_parse_full's. */
static inline int sl_parse_common(const uint8_t *buf, uint32_t len, struct sl_pkt *p)
{
	struct sl_common4 c;

	if (!sl_parse_common4(buf, len, &c))
		return 0;
	p->l3_off = 14;
	p->l4_off = 34;
	p->ethertype = 0x0800;
	p->vlan[0] = 0;
	p->vlan[1] = 0;
	p->nvlan = 0;
	p->family = 4;
	p->proto = c.proto;
	p->tcp_flags = c.tcp_flags;
	p->frag = 0;
	p->icmp_err = 0;
	p->sport = sl_common4_sport(&c);
	p->dport = sl_common4_dport(&c);
	p->l3_len = c.tot;
	__builtin_memset(p->src, 0, sizeof(p->src));
	__builtin_memset(p->dst, 0, sizeof(p->dst));
	__builtin_memcpy(p->src, &c.addrs, 4);
	__builtin_memcpy(p->dst, (const uint8_t *)&c.addrs + 4, 4);
	return 1;
}

/* sl_parse_full, with the common frame parsed inline. */
static inline enum sl_bad sl_parse(const uint8_t *buf, uint32_t len, struct sl_pkt *p)
{
	return sl_parse_common(buf, len, p) ? SL_OK : sl_parse_full(buf, len, p);
}

/* Stable short name of a reason ("ip4_ihl"); "ok" for SL_OK. */
const char *sl_bad_name(enum sl_bad r);

#endif
