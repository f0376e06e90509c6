/* Test helpers: assemble frames byte by byte (Ethernet, optional VLAN,
 * IPv4/IPv6, TCP/UDP) so tests state the bytes they feed the core. */
#ifndef SLUICE_TEST_PKTBUILD_H
#define SLUICE_TEST_PKTBUILD_H

#include <stdint.h>
#include <string.h>

struct tb_flow {
	int family;       /* 4 or 6 */
	uint8_t proto;    /* 6 or 17 */
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport, dport;
	uint16_t vlan;    /* 0: untagged */
};

static inline void tb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void tb_v4(uint8_t *a, uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	memset(a, 0, 16);
	a[0] = x;
	a[1] = y;
	a[2] = z;
	a[3] = w;
}

/* Frame of flow f in direction reverse (0: src->dst as given, 1: back), with
 * TCP flags (ignored for UDP) and payload bytes.  IPv4 fragment fields:
 * frag_off in 8-byte units, mf.  Returns the frame length. */
static inline uint16_t tb_frame_ex(uint8_t *buf, const struct tb_flow *f, int reverse,
				   uint8_t tcp_flags, uint16_t payload, uint16_t frag_off, int mf,
				   int l4_present)
{
	static const uint8_t dmac[6] = { 2, 0, 0, 0, 0, 2 }, smac[6] = { 2, 0, 0, 0, 0, 1 };
	const uint8_t *src = reverse ? f->dst : f->src, *dst = reverse ? f->src : f->dst;
	uint16_t sp = reverse ? f->dport : f->sport, dp = reverse ? f->sport : f->dport;
	uint16_t off = 12, l4len = 0, l3;

	memcpy(buf, reverse ? smac : dmac, 6);
	memcpy(buf + 6, reverse ? dmac : smac, 6);
	if (f->vlan) {
		tb_put16(buf + off, 0x8100);
		tb_put16(buf + off + 2, f->vlan);
		off += 4;
	}
	tb_put16(buf + off, f->family == 4 ? 0x0800 : 0x86dd);
	l3 = off + 2;
	if (l4_present)
		l4len = (f->proto == 6 ? 20 : 8);
	l4len += payload;
	if (f->family == 4) {
		uint8_t *ip = buf + l3;

		memset(ip, 0, 20);
		ip[0] = 0x45;
		tb_put16(ip + 2, (uint16_t)(20 + l4len));
		tb_put16(ip + 4, 0x1234);
		tb_put16(ip + 6, (uint16_t)((mf ? 0x2000 : 0) | frag_off));
		ip[8] = 64;
		ip[9] = f->proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		off = l3 + 20;
	} else {
		uint8_t *ip = buf + l3;

		memset(ip, 0, 40);
		ip[0] = 0x60;
		tb_put16(ip + 4, l4len);
		ip[6] = f->proto;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		off = l3 + 40;
	}
	if (l4_present) {
		uint8_t *l4 = buf + off;

		tb_put16(l4, sp);
		tb_put16(l4 + 2, dp);
		if (f->proto == 6) {
			memset(l4 + 4, 0, 16);
			l4[12] = 0x50;
			l4[13] = tcp_flags;
			tb_put16(l4 + 14, 65535);
			off += 20;
		} else {
			tb_put16(l4 + 4, (uint16_t)(8 + payload));
			tb_put16(l4 + 6, 0);
			off += 8;
		}
	}
	memset(buf + off, 0xab, payload);
	return (uint16_t)(off + payload);
}

static inline uint16_t tb_frame(uint8_t *buf, const struct tb_flow *f, int reverse,
				uint8_t tcp_flags, uint16_t payload)
{
	return tb_frame_ex(buf, f, reverse, tcp_flags, payload, 0, 0, 1);
}

/* Client flow number i (distinct for i < 2^24) to vip:port. */
static inline void tb_client_flow(struct tb_flow *f, uint32_t i, int family, uint8_t proto,
				  const uint8_t *vip, uint16_t port)
{
	memset(f, 0, sizeof(*f));
	f->family = family;
	f->proto = proto;
	if (family == 4) {
		tb_v4(f->src, 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
	} else {
		f->src[0] = 0x20;
		f->src[1] = 0x01;
		f->src[2] = 0x0d;
		f->src[3] = 0xb8;
		f->src[13] = (uint8_t)(i >> 16);
		f->src[14] = (uint8_t)(i >> 8);
		f->src[15] = (uint8_t)i;
	}
	memcpy(f->dst, vip, 16);
	f->sport = (uint16_t)(1024 + (i * 7919u) % 60000u);
	f->dport = port;
}

#endif
