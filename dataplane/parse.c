/* Packet parser over a plain byte buffer (see parse.h).
 *
 * Every read is bounded by the end of the frame or, past the IP header, by
 * the end of the IP datagram (total length), so L2 padding is never taken
 * for payload.  Multi-byte fields are read byte by byte (the compiler fuses
 * them into one load + bswap): frames are not aligned for us. */
#include <string.h>

#include "parse.h"

#define SL_LIKELY(x) __builtin_expect(!!(x), 1)
#define SL_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define ETH_HLEN 14
#define ET_IP4 0x0800
#define ET_IP6 0x86dd
#define ET_VLAN 0x8100
#define ET_QINQ 0x88a8
#define ET_QINQ_OLD 0x9100 /* pre-802.1ad QinQ outer tag */

#define IPP_HOPOPT 0
#define IPP_ICMP 1
#define IPP_TCP 6
#define IPP_UDP 17
#define IPP_ROUTING 43
#define IPP_FRAGMENT 44
#define IPP_AH 51
#define IPP_ICMP6 58
#define IPP_NONE 59
#define IPP_DSTOPTS 60
#define IPP_MOBILITY 135

#define IP4_MF 0x2000
#define IP4_OFFMASK 0x1fff

/* ICMPv4 errors that quote a datagram: unreachable, source quench,
 * redirect, time exceeded, parameter problem. */
#define ICMP4_ERR_MASK ((1u << 3) | (1u << 4) | (1u << 5) | (1u << 11) | (1u << 12))

/* IPv6 extension headers below 64 that we walk (mobility, 135, tested apart). */
#define IP6_EXT_MASK ((1ull << IPP_HOPOPT) | (1ull << IPP_ROUTING) | \
		      (1ull << IPP_FRAGMENT) | (1ull << IPP_AH) | (1ull << IPP_DSTOPTS))

static inline int ip6_is_ext(uint8_t nh)
{
	return (nh < 64 && ((IP6_EXT_MASK >> nh) & 1)) || nh == IPP_MOBILITY;
}

/* Result of walking an IPv6 extension header chain. */
struct ip6_walk {
	uint32_t off;  /* offset of the upper-layer header */
	uint8_t nh;    /* upper-layer protocol (or 59, or the fragment's next header) */
	uint8_t frag;  /* enum sl_frag */
};

/* Walk the extension headers from off (first header of type nh) to end.
 * Stops at an upper-layer protocol, No Next Header, or a non-first fragment
 * (whose payload is not headers). */
static inline enum sl_bad ip6_walk(const uint8_t *buf, uint32_t off, uint32_t end, uint8_t nh,
				   struct ip6_walk *w)
{
	w->frag = SL_FRAG_NONE;
	for (unsigned int n = 0; ip6_is_ext(nh); n++) {
		const uint8_t *h = buf + off;
		uint32_t hl;

		/* the count bounds the work on crafted chains */
		if (n == SL_MAX_IP6_EXT || (nh == IPP_HOPOPT && n != 0))
			return SL_BAD_IP6_EXT_CHAIN;
		if (end - off < 8)
			return SL_BAD_IP6_EXT_TRUNC;
		if (nh == IPP_FRAGMENT) {
			uint16_t fo = sl_rd16(h + 2);

			hl = 8;
			if (fo & 0xfff8) {
				w->frag = SL_FRAG_LATER;
				w->nh = h[0];
				w->off = off + hl;
				return SL_OK;
			}
			/* offset 0, M=0: atomic fragment (RFC 6946), a whole
			 * datagram, unless an earlier Fragment header of the
			 * chain made it a first fragment: that one stays */
			if (fo & 1) {
				w->frag = SL_FRAG_FIRST;
				/* Its later fragments name the Fragment header's
				 * Next Header as their protocol: when that is an
				 * extension header (Destination Options in the
				 * fragmentable part, another Fragment header),
				 * the first fragment is keyed and classified by
				 * it too, not by the upper-layer protocol behind
				 * it, or the datagram would be split. */
				if (ip6_is_ext(h[0])) {
					w->nh = h[0];
					w->off = off + 8;
					return SL_OK;
				}
			}
		} else if (nh == IPP_AH) {
			hl = (h[1] + 2u) * 4;
		} else {
			hl = (h[1] + 1u) * 8;
		}
		if (hl > end - off)
			return SL_BAD_IP6_EXT_TRUNC;
		nh = h[0];
		off += hl;
	}
	w->nh = nh;
	w->off = off;
	return SL_OK;
}

/* The datagram quoted by an ICMPv4 error, from q to end.  Touches p only
 * when the quote gives addresses (and ports for an unfragmented TCP/UDP
 * packet).  Quotes are usually cut, so total length is not checked. */
static inline void quote_ip4(const uint8_t *buf, uint32_t q, uint32_t end, struct sl_pkt *p)
{
	const uint8_t *ip = buf + q;
	uint32_t avail = end - q, hl;
	uint16_t sport = 0, dport = 0, fo;
	uint8_t frag = SL_FRAG_NONE;

	if (avail < 20 || (ip[0] >> 4) != 4)
		return;
	hl = (ip[0] & 0xfu) * 4;
	if (hl < 20 || hl > avail)
		return;
	fo = sl_rd16(ip + 6);
	if (fo & IP4_OFFMASK)
		frag = SL_FRAG_LATER;
	else if (fo & IP4_MF)
		frag = SL_FRAG_FIRST;
	if (frag == SL_FRAG_NONE && (ip[9] == IPP_TCP || ip[9] == IPP_UDP)) {
		if (avail - hl < 4)
			return;
		sport = sl_rd16(ip + hl);
		dport = sl_rd16(ip + hl + 2);
	}
	p->icmp_err = 1;
	p->frag = frag;
	p->proto = ip[9];
	p->sport = sport;
	p->dport = dport;
	memcpy(p->src, ip + 12, 4);
	memcpy(p->dst, ip + 16, 4);
}

/* The datagram quoted by an ICMPv6 error; as quote_ip4. */
static inline void quote_ip6(const uint8_t *buf, uint32_t q, uint32_t end, struct sl_pkt *p)
{
	const uint8_t *ip = buf + q;
	uint16_t sport = 0, dport = 0;
	struct ip6_walk w;

	if (end - q < 40 || (ip[0] >> 4) != 6)
		return;
	if (ip6_walk(buf, q + 40, end, ip[6], &w) != SL_OK)
		return;
	if (w.frag == SL_FRAG_NONE && (w.nh == IPP_TCP || w.nh == IPP_UDP)) {
		if (end - w.off < 4)
			return;
		sport = sl_rd16(buf + w.off);
		dport = sl_rd16(buf + w.off + 2);
	}
	p->icmp_err = 1;
	p->frag = w.frag;
	p->proto = w.nh;
	p->sport = sport;
	p->dport = dport;
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
}

/* L4 header at l4, datagram ends at end; p->proto, family, frag are set. */
static inline enum sl_bad parse_l4(const uint8_t *buf, uint32_t l4, uint32_t end,
				   struct sl_pkt *p)
{
	const uint8_t *h = buf + l4;
	uint32_t rem = end - l4;

	p->l4_off = (uint16_t)l4;
	if (SL_LIKELY(p->proto == IPP_TCP)) {
		uint32_t doff;

		if (rem < 20)
			return SL_BAD_TCP_TRUNC;
		/* a first fragment must hold the whole TCP header (RFC 1858) */
		doff = (h[12] >> 4) * 4u;
		if (doff < 20 || doff > rem)
			return SL_BAD_TCP_DOFF;
		p->sport = sl_rd16(h);
		p->dport = sl_rd16(h + 2);
		p->tcp_flags = h[13];
		return SL_OK;
	}
	if (SL_LIKELY(p->proto == IPP_UDP)) {
		uint32_t ulen;

		if (rem < 8)
			return SL_BAD_UDP_TRUNC;
		ulen = sl_rd16(h + 4);
		/* a first fragment's UDP length covers the whole datagram */
		if (ulen < 8 || (ulen > rem && p->frag != SL_FRAG_FIRST))
			return SL_BAD_UDP_LEN;
		p->sport = sl_rd16(h);
		p->dport = sl_rd16(h + 2);
		return SL_OK;
	}
	if (p->family == 4 ? p->proto == IPP_ICMP : p->proto == IPP_ICMP6) {
		uint8_t type;

		if (rem < 8)
			return SL_BAD_ICMP_TRUNC;
		/* A fragmented error is keyed on its own 3-tuple like its later
		 * fragments, so its quote is not read. */
		if (p->frag != SL_FRAG_NONE)
			return SL_OK;
		type = h[0];
		if (p->family == 4) {
			if (type < 32 && ((ICMP4_ERR_MASK >> type) & 1))
				quote_ip4(buf, l4 + 8, end, p);
		} else if (type >= 1 && type <= 4) {
			quote_ip6(buf, l4 + 8, end, p);
		}
	}
	return SL_OK;
}

static inline enum sl_bad parse_ip4(const uint8_t *buf, uint32_t off, uint32_t len,
				    struct sl_pkt *p)
{
	const uint8_t *ip = buf + off;
	uint32_t avail = len - off, hl, tot;
	uint16_t fo;

	if (SL_UNLIKELY(avail < 20))
		return SL_BAD_IP4_TRUNC;
	if (SL_UNLIKELY((ip[0] >> 4) != 4))
		return SL_BAD_IP4_VERSION;
	p->family = 4;
	p->proto = ip[9];
	memcpy(p->src, ip + 12, 4);
	memcpy(p->dst, ip + 16, 4);
	hl = (ip[0] & 0xfu) * 4;
	if (SL_UNLIKELY(hl < 20 || hl > avail))
		return SL_BAD_IP4_IHL;
	tot = sl_rd16(ip + 2);
	if (SL_UNLIKELY(tot < hl || tot > avail))
		return SL_BAD_IP4_LEN;
	p->l3_len = (uint16_t)tot;
	fo = sl_rd16(ip + 6);
	if (SL_UNLIKELY(fo & (IP4_MF | IP4_OFFMASK))) {
		uint32_t foff = (fo & IP4_OFFMASK) * 8u;

		if (foff + (tot - hl) > 65535)
			return SL_BAD_IP4_FRAG;
		if (foff != 0) {
			p->frag = SL_FRAG_LATER;
			return SL_OK;
		}
		p->frag = SL_FRAG_FIRST;
	}
	return parse_l4(buf, off + hl, off + tot, p);
}

static inline enum sl_bad parse_ip6(const uint8_t *buf, uint32_t off, uint32_t len,
				    struct sl_pkt *p)
{
	const uint8_t *ip = buf + off;
	uint32_t avail = len - off, plen;
	struct ip6_walk w;
	enum sl_bad r;

	if (avail < 40)
		return SL_BAD_IP6_TRUNC;
	if ((ip[0] >> 4) != 6)
		return SL_BAD_IP6_VERSION;
	p->family = 6;
	p->proto = ip[6];
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
	plen = sl_rd16(ip + 4);
	/* 0 is a jumbogram; above 65535 - 40 the length does not fit l3_len
	 * (and no frame we receive can hold it) */
	if (plen == 0 || plen > avail - 40 || plen > 65535 - 40)
		return SL_BAD_IP6_LEN;
	p->l3_len = (uint16_t)(40 + plen);
	r = ip6_walk(buf, off + 40, off + 40 + plen, ip[6], &w);
	if (r != SL_OK)
		return r;
	p->proto = w.nh;
	p->frag = w.frag;
	if (w.frag == SL_FRAG_LATER || w.nh == IPP_NONE || ip6_is_ext(w.nh))
		return SL_OK;
	return parse_l4(buf, w.off, off + 40 + plen, p);
}

enum sl_bad sl_parse_full(const uint8_t *buf, uint32_t len, struct sl_pkt *p)
{
	uint32_t off = ETH_HLEN;
	uint16_t et;

	memset(p, 0, sizeof(*p));
	if (SL_UNLIKELY(len < ETH_HLEN))
		return SL_BAD_ETH_TRUNC;
	et = sl_rd16(buf + 12);
	p->ethertype = et;
	p->l3_off = ETH_HLEN;
	if (SL_LIKELY(et == ET_IP4))
		return parse_ip4(buf, off, len, p);
	while (et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD) {
		if (p->nvlan == 2)
			return SL_BAD_VLAN_DEPTH;
		if (len - off < 4)
			return SL_BAD_VLAN_TRUNC;
		p->vlan[p->nvlan++] = sl_rd16(buf + off);
		et = sl_rd16(buf + off + 2);
		off += 4;
		p->ethertype = et;
		p->l3_off = (uint16_t)off;
	}
	if (et == ET_IP4)
		return parse_ip4(buf, off, len, p);
	if (et == ET_IP6)
		return parse_ip6(buf, off, len, p);
	return SL_OK;
}

static const char *const bad_names[SL_BAD__COUNT] = {
	[SL_OK] = "ok",
	[SL_BAD_ETH_TRUNC] = "eth_trunc",
	[SL_BAD_VLAN_TRUNC] = "vlan_trunc",
	[SL_BAD_VLAN_DEPTH] = "vlan_depth",
	[SL_BAD_IP4_TRUNC] = "ip4_trunc",
	[SL_BAD_IP4_VERSION] = "ip4_version",
	[SL_BAD_IP4_IHL] = "ip4_ihl",
	[SL_BAD_IP4_LEN] = "ip4_len",
	[SL_BAD_IP4_FRAG] = "ip4_frag",
	[SL_BAD_IP6_TRUNC] = "ip6_trunc",
	[SL_BAD_IP6_VERSION] = "ip6_version",
	[SL_BAD_IP6_LEN] = "ip6_len",
	[SL_BAD_IP6_EXT_TRUNC] = "ip6_ext_trunc",
	[SL_BAD_IP6_EXT_CHAIN] = "ip6_ext_chain",
	[SL_BAD_TCP_TRUNC] = "tcp_trunc",
	[SL_BAD_TCP_DOFF] = "tcp_doff",
	[SL_BAD_UDP_TRUNC] = "udp_trunc",
	[SL_BAD_UDP_LEN] = "udp_len",
	[SL_BAD_ICMP_TRUNC] = "icmp_trunc",
};

const char *sl_bad_name(enum sl_bad r)
{
	if ((unsigned int)r >= SL_BAD__COUNT)
		return "unknown";
	return bad_names[r];
}
