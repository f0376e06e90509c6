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
 *    fragments have no L4 header and no ports at all. */
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

	sl_key_make(&k, &p);
	FZ_CHECK(k.family == p.family && k.proto == p.proto && !k.pad[0] && !k.pad[1],
		 "key family/proto/pad");
	if (p.frag != SL_FRAG_NONE)
		FZ_CHECK(k.pa == 0 && k.pb == 0, "a fragment (%u) keyed with ports %u, %u",
			 p.frag, k.pa, k.pb);
	FZ_CHECK(sl_hash_key(&k, 0x5eed) == sl_key_digest(&ks, &p, 0x5eed),
		 "digest differs from the key's hash");

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
