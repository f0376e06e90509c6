/* fuzz_parse: the packet parser (dataplane/parse.h) on arbitrary frames.
 * Invariants:
 *  - the parse is deterministic and every reason has a name;
 *  - a parsed IP packet's offsets lie inside the frame: the IP datagram
 *    (l3_off + l3_len) ends within it, an L4 header lies inside the
 *    datagram, and the TCP/UDP/ICMP header it names fits;
 *  - the canonical key is direction-independent: the same frame with its
 *    IP addresses swapped (and its TCP/UDP ports, where the parser read
 *    them from this header) parses the same and gives the same key;
 *  - fragments (first and later) are keyed without ports, and non-first
 *    fragments have no L4 header and no ports at all;
 *  - a packet is a fragment exactly when one of its headers says so (an
 *    IPv4 header with MF or an offset, an IPv6 Fragment header anywhere in
 *    the extension chain with M or an offset; walked here apart from the
 *    parser), so no fragment of a datagram is keyed with ports;
 *  - a TCP header's data offset and a UDP header's length (but a first
 *    fragment's) stay inside the datagram, as does an IPv4 header's IHL;
 *  - a datagram is never split: a first fragment and a later fragment made
 *    from it (the same headers up to the fragment's, a non-zero offset)
 *    have the same key (an IPv6 first fragment with Destination Options
 *    after its Fragment header was keyed by its UDP protocol, its later
 *    fragments by protocol 60). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hash.h"
#include "parse.h"

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t t = a[i];

		a[i] = b[i];
		b[i] = t;
	}
}

static uint32_t l4_min(uint8_t family, uint8_t proto)
{
	if (proto == 6)
		return 20;
	if (proto == 17)
		return 8;
	if ((family == 4 && proto == 1) || (family == 6 && proto == 58))
		return 8;
	return 0;
}

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Does a header of the packet's datagram say it is a fragment?  The IPv6
 * extension chain is walked as RFC 8200 lays it out (hop-by-hop,
 * routing, fragment, destination options, AH, mobility), at most 8 deep. */
static int is_ext6(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135;
}

/* The offset of the IPv6 Fragment header that makes the packet a first
 * fragment (M = 1, offset 0), or 0. */
static uint32_t first_frag6(const uint8_t *f, const struct sl_pkt *p)
{
	uint32_t off = (uint32_t)p->l3_off + 40, end = (uint32_t)p->l3_off + p->l3_len;
	uint8_t nh = f[p->l3_off + 6];

	for (int n = 0; n < 8 && is_ext6(nh) && end - off >= 8; n++) {
		uint32_t hl;

		if (nh == 44) {
			uint16_t fo = rd16(f + off + 2);

			if ((fo & 0xfff9) == 1)
				return off;
			hl = 8;
		} else {
			hl = nh == 51 ? (f[off + 1] + 2u) * 4 : (f[off + 1] + 1u) * 8;
		}
		if (hl > end - off)
			break;
		nh = f[off];
		off += hl;
	}
	return 0;
}

/* From a first fragment, a later fragment of its datagram (offset 800
 * bytes, 24 bytes of payload) with the same key. */
static void check_later(const uint8_t *data, uint32_t len, const struct sl_pkt *p,
			const struct sl_key *k)
{
	uint8_t f[2048];
	struct sl_pkt q;
	struct sl_key kq;
	uint32_t n, fo;
	enum sl_bad r;

	if (p->family == 4) {
		n = (uint32_t)p->l3_off + (data[p->l3_off] & 0xfu) * 4u;
		if (n + 24 > sizeof(f) || n + 24 > len)
			return;
		memcpy(f, data, n + 24);
		f[p->l3_off + 2] = (uint8_t)((n + 24 - p->l3_off) >> 8);
		f[p->l3_off + 3] = (uint8_t)(n + 24 - p->l3_off);
		f[p->l3_off + 6] = (uint8_t)((f[p->l3_off + 6] & 0xc0) | 0x20);
		f[p->l3_off + 7] = 100;
	} else {
		fo = first_frag6(data, p);
		if (!fo)
			return;
		n = fo + 8;
		if (n + 24 > sizeof(f) || n + 24 > len)
			return;
		memcpy(f, data, n + 24);
		f[p->l3_off + 4] = (uint8_t)((n + 24 - p->l3_off - 40) >> 8);
		f[p->l3_off + 5] = (uint8_t)(n + 24 - p->l3_off - 40);
		f[fo + 2] = (uint8_t)(100 >> 5);
		f[fo + 3] = (uint8_t)((100 << 3) | 1);
	}
	r = sl_parse(f, n + 24, &q);
	FZ_CHECK(r == SL_OK && q.frag == SL_FRAG_LATER, "a later fragment made from a first one "
		 "parses as %s, frag %u", sl_bad_name(r), q.frag);
	sl_key_make(&kq, &q);
	FZ_CHECK(!memcmp(k, &kq, sizeof(kq)), "a datagram split: its first fragment keyed "
		 "(proto %u), a later one (proto %u) otherwise", p->proto, q.proto);
}

static int says_fragment(const uint8_t *f, const struct sl_pkt *p)
{
	const uint8_t *ip = f + p->l3_off;
	uint32_t off, end;
	uint8_t nh;

	if (p->family == 4)
		return (rd16(ip + 6) & 0x3fff) != 0;
	end = (uint32_t)p->l3_off + p->l3_len;
	off = (uint32_t)p->l3_off + 40;
	nh = ip[6];
	for (int n = 0; n < 8; n++) {
		uint32_t hl;

		if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60 && nh != 135)
			break;
		if (end - off < 8)
			break;
		if (nh == 44) {
			uint16_t fo = rd16(f + off + 2);

			if (fo & 0xfff9)
				return 1;
			hl = 8;
		} else if (nh == 51) {
			hl = (f[off + 1] + 2u) * 4;
		} else {
			hl = (f[off + 1] + 1u) * 8;
		}
		if (hl > end - off)
			break;
		nh = f[off];
		off += hl;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_pkt p, q, s;
	struct sl_key k, ks;
	enum sl_bad r, r2;
	uint8_t *frame;
	uint32_t len;

	if (size > 65535 + 64)
		return 0;
	len = (uint32_t)size;
	r = sl_parse(data, len, &p);
	FZ_CHECK(sl_bad_name(r) && strcmp(sl_bad_name(r), "unknown") != 0, "reason %d", r);
	FZ_CHECK((r == SL_OK) == !strcmp(sl_bad_name(r), "ok"), "reason %d named ok", r);
	r2 = sl_parse(data, len, &q);
	FZ_CHECK(r2 == r && !memcmp(&p, &q, sizeof(p)), "two parses of one frame differ");
	if (r != SL_OK)
		return 0;

	FZ_CHECK(p.l3_off >= 14 && p.l3_off <= len, "l3_off %u, frame %u", p.l3_off, len);
	FZ_CHECK(p.nvlan <= 2 && p.l3_off == 14 + 4u * p.nvlan, "l3_off %u with %u tags",
		 p.l3_off, p.nvlan);
	if (p.family == 0) {
		FZ_CHECK(p.l4_off == 0 && p.sport == 0 && p.dport == 0 && !p.icmp_err,
			 "a non-IP frame with L4 fields");
		return 0;
	}
	FZ_CHECK(p.family == 4 || p.family == 6, "family %u", p.family);
	FZ_CHECK(p.frag <= SL_FRAG_LATER, "frag %u", p.frag);
	FZ_CHECK((uint32_t)p.l3_off + p.l3_len <= len, "datagram %u+%u past the frame (%u)",
		 p.l3_off, p.l3_len, len);
	FZ_CHECK(p.l3_len >= (p.family == 4 ? 20 : 40), "l3_len %u", p.l3_len);
	if (p.l4_off) {
		uint32_t end = (uint32_t)p.l3_off + p.l3_len;

		FZ_CHECK(p.l4_off >= p.l3_off + (p.family == 4 ? 20 : 40) && p.l4_off <= end,
			 "l4_off %u outside the datagram %u..%u", p.l4_off, p.l3_off, end);
		if (!p.icmp_err)
			FZ_CHECK(p.l4_off + l4_min(p.family, p.proto) <= end,
				 "proto %u header at %u cut by the datagram end %u", p.proto,
				 p.l4_off, end);
	}
	if (p.frag == SL_FRAG_LATER && !p.icmp_err)
		FZ_CHECK(p.l4_off == 0, "a later fragment with an L4 header at %u", p.l4_off);
	if (p.frag == SL_FRAG_LATER)
		FZ_CHECK(p.sport == 0 && p.dport == 0, "a later fragment with ports %u, %u",
			 p.sport, p.dport);
	if (!p.icmp_err)
		FZ_CHECK((p.frag != SL_FRAG_NONE) == says_fragment(data, &p),
			 "IPv%u packet parsed as %s, its headers say %s", p.family,
			 p.frag ? "a fragment" : "a whole datagram",
			 says_fragment(data, &p) ? "a fragment" : "a whole datagram");
	if (p.family == 4)
		FZ_CHECK((data[p.l3_off] & 0xfu) * 4u <= p.l3_len, "IHL %u beyond l3_len %u",
			 data[p.l3_off] & 0xfu, p.l3_len);
	if (p.l4_off && !p.icmp_err && p.proto == 6) {
		uint32_t end = (uint32_t)p.l3_off + p.l3_len;

		FZ_CHECK(p.l4_off + (data[p.l4_off + 12] >> 4) * 4u <= end &&
			 (data[p.l4_off + 12] >> 4) >= 5, "TCP data offset %u at %u, datagram "
			 "end %u", data[p.l4_off + 12] >> 4, p.l4_off, end);
	}
	if (p.l4_off && !p.icmp_err && p.proto == 17 && p.frag == SL_FRAG_NONE) {
		uint32_t end = (uint32_t)p.l3_off + p.l3_len, ulen = rd16(data + p.l4_off + 4);

		FZ_CHECK(ulen >= 8 && p.l4_off + ulen <= end, "UDP length %u at %u, datagram end "
			 "%u", ulen, p.l4_off, end);
	}

	sl_key_make(&k, &p);
	FZ_CHECK(k.family == p.family && k.proto == p.proto && !k.pad[0] && !k.pad[1],
		 "key family/proto/pad");
	if (p.frag != SL_FRAG_NONE)
		FZ_CHECK(k.pa == 0 && k.pb == 0, "a fragment (%u) keyed with ports %u, %u",
			 p.frag, k.pa, k.pb);
	FZ_CHECK(sl_hash_key(&k, 0x5eed) == sl_key_digest(&ks, &p, 0x5eed),
		 "digest differs from the key's hash");
	if (p.frag == SL_FRAG_FIRST && !p.icmp_err)
		check_later(data, len, &p, &k);

	/* the other direction: addresses swapped in the IP header, and the
	 * ports in the TCP/UDP header they were read from */
	frame = malloc(len);
	FZ_CHECK(frame != NULL, "out of memory");
	memcpy(frame, data, len);
	if (p.family == 4)
		swap_bytes(frame + p.l3_off + 12, frame + p.l3_off + 16, 4);
	else
		swap_bytes(frame + p.l3_off + 8, frame + p.l3_off + 24, 16);
	if (!p.icmp_err && p.l4_off && (p.proto == 6 || p.proto == 17))
		swap_bytes(frame + p.l4_off, frame + p.l4_off + 2, 2);
	r2 = sl_parse(frame, len, &s);
	FZ_CHECK(r2 == SL_OK, "the reversed frame is malformed (%s)", sl_bad_name(r2));
	FZ_CHECK(s.family == p.family && s.proto == p.proto && s.frag == p.frag &&
		 s.icmp_err == p.icmp_err && s.l3_off == p.l3_off && s.l4_off == p.l4_off,
		 "the reversed frame parses differently");
	if (!p.icmp_err) {
		FZ_CHECK(!memcmp(s.src, p.dst, 16) && !memcmp(s.dst, p.src, 16) &&
			 s.sport == p.dport && s.dport == p.sport,
			 "the reversed frame's endpoints are not swapped");
	}
	sl_key_make(&ks, &s);
	FZ_CHECK(!memcmp(&k, &ks, sizeof(k)), "direction-dependent key (proto %u, frag %u, "
		 "icmp_err %u, ports %u>%u)", p.proto, p.frag, p.icmp_err, p.sport, p.dport);
	free(frame);
	return 0;
}
