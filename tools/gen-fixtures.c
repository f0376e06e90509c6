/* sluice-gen-fixtures: the deterministic generator of pcap-fixtures/.
 *
 *   sluice-gen-fixtures [--seed N] OUTDIR
 *	writes demo.pcap, return.pcap, malformed.pcap, malformed.json and
 *	manifest.json into OUTDIR (created if missing); demo.pcap also carries
 *	one copy of every malformed case of malformed.pcap
 *   sluice-gen-fixtures --bench FLOWS [--seed N] FILE
 *	writes FLOWS 60-byte IPv4 TCP ACK frames, one per flow
 *
 * Same seed, same bytes: its own PRNG, fixed timestamps from
 * 2026-01-01T00:00:00Z, packets sorted by (time, creation order), JSON keys
 * in insertion order.  Every packet that is meant to be valid carries correct
 * IPv4, TCP, UDP, ICMP and ICMPv6 checksums. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <pcap/pcap.h>

#define GEN_NAME "sluice-gen-fixtures"
#define GEN_VERSION "2"
#define T0_SEC 1767225600ull /* 2026-01-01T00:00:00Z */
#define FRAME_MAX 1600
#define ETH_MIN 60 /* without FCS */
#define BENCH_MAX_FLOWS 100000000ull

#define ET_IP4 0x0800
#define ET_ARP 0x0806
#define ET_IP6 0x86dd
#define ET_VLAN 0x8100
#define ET_QINQ 0x88a8

#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_ICMP6 58
#define X_HBH 0
#define X_ROUTING 43
#define X_FRAG 44
#define X_NONE 59
#define X_DSTOPT 60

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define DF 0x4000
#define MF 0x2000

static const uint8_t MAC_CLI[6] = { 2, 0, 0, 0, 0, 1 };  /* clients' router */
static const uint8_t MAC_SRV[6] = { 2, 0, 0, 0, 0, 2 };  /* server-side router */
static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static const uint8_t IP_WEB[4] = { 192, 0, 2, 10 };
static const uint8_t IP_DNS[4] = { 192, 0, 2, 53 };
static const uint8_t IP_OTHER[4] = { 192, 0, 2, 99 };
static const uint8_t IP_SRV_GW[4] = { 192, 0, 2, 1 };
static const uint8_t IP6_WEB[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
static const uint8_t IP6_DNS[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x53 };
/* fe80::ff:fe00:1, the clients' router's link-local address (EUI-64 of MAC_CLI) */
static const uint8_t IP6_CLI_GW[16] = { 0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 0x01 };

enum svc { SVC_NONE, SVC_WEB, SVC_WEB6, SVC_DNS, SVC_DNS6, SVC__COUNT };

/* dns6 only receives the IPv6 fragmented datagrams; conf/demo.ini has no
 * such service, so there they are traffic matching no service. */
static const struct {
	const char *name, *proto, *vip;
	unsigned port;
	int in_demo_ini;
} svc_info[SVC__COUNT] = {
	[SVC_WEB] = { "web", "tcp", "192.0.2.10", 443, 1 },
	[SVC_WEB6] = { "web6", "tcp", "2001:db8::10", 443, 1 },
	[SVC_DNS] = { "dns", "udp", "192.0.2.53", 53, 1 },
	[SVC_DNS6] = { "dns6", "udp", "2001:db8::53", 53, 0 },
};

/* Packet categories for the manifest (bit i = cat_names[i]). */
enum {
	CAT_ARP, CAT_ICMP_ECHO, CAT_OTHER_TCP, CAT_OTHER_UDP, CAT_ND, CAT_ICMP_ERR,
	CAT_PORT_REUSE, CAT_VLAN, CAT_QINQ, CAT_V6_EXT, CAT_FRAG, CAT_SRV_RST, CAT__COUNT
};

static const char *const cat_names[CAT__COUNT] = {
	"arp", "icmp_echo", "other_tcp", "other_udp", "nd", "icmp_err",
	"port_reuse", "vlan", "qinq", "v6_ext", "frag", "server_rst",
};

#define CAT(c) (1u << (c))

/* Names of enum sl_bad in dataplane/parse.h, in enum order (index 0 = SL_OK). */
static const char *const bad_names[] = {
	"ok", "eth_trunc", "vlan_trunc", "vlan_depth", "ip4_trunc", "ip4_version",
	"ip4_ihl", "ip4_len", "ip4_frag", "ip6_trunc", "ip6_version", "ip6_len",
	"ip6_ext_trunc", "ip6_ext_chain", "tcp_trunc", "tcp_doff", "udp_trunc",
	"udp_len", "icmp_trunc",
};

#define N_BAD (sizeof(bad_names) / sizeof(bad_names[0]))

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, GEN_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, n) by multiply-shift (bias below 2^-32, irrelevant here). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static void rng_bytes(struct rng *r, uint8_t *p, size_t n)
{
	/* byte by byte, so that the output does not depend on host byte order */
	while (n) {
		uint64_t v = rng_next(r);

		for (int i = 0; i < 8 && n; i++, n--, v >>= 8)
			*p++ = (uint8_t)v;
	}
}

/* ---- byte helpers and checksums ---- */

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t csum_acc(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void ip4_csum(uint8_t *ip)
{
	size_t hl = (size_t)(ip[0] & 0x0f) * 4;

	wr16(ip + 10, 0);
	wr16(ip + 10, csum_fold(csum_acc(0, ip, hl < 20 ? 20 : hl)));
}

/* Checksum of an upper-layer segment l4[0..n) with the pseudo header
 * (none for ICMPv4), stored at the protocol's checksum offset. */
static void l4_csum(int fam, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		    uint8_t *l4, size_t n)
{
	size_t at = proto == P_TCP ? 16 : proto == P_UDP ? 6 : 2;
	uint32_t s = 0;
	uint8_t w[4];
	uint16_t c;

	wr16(l4 + at, 0);
	if (proto != P_ICMP) {
		size_t al = fam == 4 ? 4 : 16;

		s = csum_acc(s, src, al);
		s = csum_acc(s, dst, al);
		wr32(w, (uint32_t)n);
		s = csum_acc(s, w, 4);
		s += proto;
	}
	c = csum_fold(csum_acc(s, l4, n));
	if (c == 0 && proto == P_UDP)
		c = 0xffff;
	wr16(l4 + at, c);
}

/* ---- frame building ---- */

struct l2 {
	uint8_t ntags;
	uint16_t tpid[3];
	uint16_t tci[3];
};

static const struct l2 L2_NONE = { 0, { 0 }, { 0 } };
static const struct l2 L2_VLAN = { 1, { ET_VLAN }, { 100 } };
static const struct l2 L2_QINQ = { 2, { ET_QINQ, ET_VLAN }, { 200, 100 } };

static size_t put_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, const struct l2 *l2,
		      uint16_t et)
{
	size_t o = 12;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	for (unsigned i = 0; i < l2->ntags; i++, o += 4) {
		wr16(f + o, l2->tpid[i]);
		wr16(f + o + 2, l2->tci[i]);
	}
	wr16(f + o, et);
	return o + 2;
}

struct ip {
	uint8_t fam;
	uint8_t proto;       /* upper-layer protocol (after v6 extension headers) */
	uint8_t ttl;
	uint16_t id;         /* IPv4 */
	uint16_t frag;       /* IPv4 flags + fragment offset field as on the wire */
	uint32_t flowlabel;  /* IPv6 */
	const uint8_t *src, *dst;
	const uint8_t *ext;  /* IPv6 extension headers, chained to proto by the caller */
	size_t extlen;
};

/* IP header (+ IPv6 extension headers) for l4len bytes of upper layer. */
static size_t put_ip(uint8_t *p, const struct ip *ip, size_t l4len)
{
	if (ip->fam == 4) {
		p[0] = 0x45;
		p[1] = 0;
		wr16(p + 2, (uint16_t)(20 + l4len));
		wr16(p + 4, ip->id);
		wr16(p + 6, ip->frag);
		p[8] = ip->ttl;
		p[9] = ip->proto;
		memcpy(p + 12, ip->src, 4);
		memcpy(p + 16, ip->dst, 4);
		ip4_csum(p);
		return 20;
	}
	wr32(p, 0x60000000u | (ip->flowlabel & 0xfffff));
	wr16(p + 4, (uint16_t)(ip->extlen + l4len));
	p[6] = ip->extlen ? ip->ext[-1] : ip->proto;
	p[7] = ip->ttl;
	memcpy(p + 8, ip->src, 16);
	memcpy(p + 24, ip->dst, 16);
	if (ip->extlen)
		memcpy(p + 40, ip->ext, ip->extlen);
	return 40 + ip->extlen;
}

/* Complete frame: Ethernet, IP, the given upper-layer bytes (checksummed
 * here), zero padding up to the Ethernet minimum. */
static size_t mk_frame_opt(uint8_t *f, const uint8_t *dmac, const uint8_t *smac,
			   const struct l2 *l2, const struct ip *ip, const uint8_t *l4, size_t n,
			   int csum, int pad)
{
	size_t o = put_eth(f, dmac, smac, l2, ip->fam == 4 ? ET_IP4 : ET_IP6);

	o += put_ip(f + o, ip, n);
	memcpy(f + o, l4, n);
	if (csum)
		l4_csum(ip->fam, ip->src, ip->dst, ip->proto, f + o, n);
	o += n;
	if (pad && o < ETH_MIN) {
		memset(f + o, 0, ETH_MIN - o);
		o = ETH_MIN;
	}
	return o;
}

static size_t mk_frame(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, const struct l2 *l2,
		       const struct ip *ip, const uint8_t *l4, size_t n)
{
	return mk_frame_opt(f, dmac, smac, l2, ip, l4, n, 1, 1);
}

/* IPv6 extension header storage: the byte before ext holds the first
 * header's type (read by put_ip as ext[-1]). */
struct ext6 {
	uint8_t first;
	uint8_t b[200];
	size_t len;
	uint8_t *last_nh;
};

static void ext6_init(struct ext6 *e)
{
	e->len = 0;
	e->last_nh = &e->first;
}

/* Append an options header (hop-by-hop or destination options) of len8*8
 * bytes, padded with a PadN option. */
static void ext6_opts(struct ext6 *e, uint8_t type, unsigned len8)
{
	uint8_t *h = e->b + e->len;
	size_t n = (size_t)len8 * 8;

	*e->last_nh = type;
	memset(h, 0, n);
	h[1] = (uint8_t)(len8 - 1);
	h[2] = 1; /* PadN */
	h[3] = (uint8_t)(n - 4);
	e->last_nh = &h[0];
	e->len += n;
}

/* Append a type 2 routing header with one address, segments left 0. */
static void ext6_routing(struct ext6 *e, const uint8_t *addr)
{
	uint8_t *h = e->b + e->len;

	*e->last_nh = X_ROUTING;
	memset(h, 0, 24);
	h[1] = 2;
	h[2] = 2;
	memcpy(h + 8, addr, 16);
	e->last_nh = &h[0];
	e->len += 24;
}

static void ext6_frag(struct ext6 *e, unsigned off8, int more, uint32_t id)
{
	uint8_t *h = e->b + e->len;

	*e->last_nh = X_FRAG;
	h[1] = 0;
	wr16(h + 2, (uint16_t)(off8 << 3 | (more ? 1 : 0)));
	wr32(h + 4, id);
	e->last_nh = &h[0];
	e->len += 8;
}

static void ext6_end(struct ext6 *e, uint8_t proto)
{
	*e->last_nh = proto;
}

static void ip_set_ext(struct ip *ip, const struct ext6 *e)
{
	ip->ext = e->len ? e->b : NULL;
	ip->extlen = e->len;
}

static size_t put_tcp(uint8_t *t, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		      uint8_t flags, uint16_t win, const uint8_t *opt, size_t optlen)
{
	size_t hl = 20 + optlen;

	wr16(t, sport);
	wr16(t + 2, dport);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = (uint8_t)(hl / 4) << 4;
	t[13] = flags;
	wr16(t + 14, win);
	wr16(t + 16, 0);
	wr16(t + 18, 0);
	if (optlen)
		memcpy(t + 20, opt, optlen);
	return hl;
}

static size_t put_udp(uint8_t *u, uint16_t sport, uint16_t dport, size_t paylen)
{
	wr16(u, sport);
	wr16(u + 2, dport);
	wr16(u + 4, (uint16_t)(8 + paylen));
	wr16(u + 6, 0);
	return 8;
}

/* SYN options: MSS, NOP, window scale 7, SACK permitted, NOP, NOP (12 bytes). */
static size_t syn_opts(uint8_t *o, uint16_t mss)
{
	o[0] = 2;
	o[1] = 4;
	wr16(o + 2, mss);
	o[4] = 1;
	o[5] = 3;
	o[6] = 3;
	o[7] = 7;
	o[8] = 4;
	o[9] = 2;
	o[10] = 1;
	o[11] = 1;
	return 12;
}

/* A DNS query of exactly len bytes (len >= 30): one question whose name's
 * labels fill the space, QTYPE A or AAAA. */
static void dns_query(struct rng *r, uint8_t *p, size_t len)
{
	static const char *const tld[] = { "example", "test", "lan" };
	const char *t = tld[rng_below(r, 3)];
	size_t tl = strlen(t);
	size_t name = len - 16;  /* total QNAME bytes */
	size_t room = name - (tl + 2); /* for the labels before the TLD */
	size_t o = 12;

	wr16(p, (uint16_t)rng_next(r));
	wr16(p + 2, 0x0100);  /* RD */
	wr16(p + 4, 1);
	memset(p + 6, 0, 6);
	while (room) {
		size_t l = room - 1 < 63 ? room - 1 : 63;

		if (l > 1)
			l = rng_range(r, 1, (uint32_t)l);
		if (room - (l + 1) == 1) /* a lone byte left cannot be a label */
			l++;
		p[o++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++)
			p[o++] = (uint8_t)('a' + rng_below(r, 26));
		room -= l + 1;
	}
	p[o++] = (uint8_t)tl;
	memcpy(p + o, t, tl);
	o += tl;
	p[o++] = 0;
	wr16(p + o, rng_below(r, 2) ? 28 : 1);
	wr16(p + o + 2, 1);
}

/* A DNS query padded (EDNS(0) Padding option, RFC 7830) to exactly len bytes. */
static void dns_padded(struct rng *r, uint8_t *p, size_t len)
{
	size_t q = 40;  /* header + question part, built by dns_query */
	size_t o = q;

	dns_query(r, p, q);
	wr16(p + 10, 1);  /* ARCOUNT */
	p[o++] = 0;       /* root */
	wr16(p + o, 41);  /* OPT */
	wr16(p + o + 2, 4096);
	wr32(p + o + 4, 0);
	wr16(p + o + 8, (uint16_t)(len - q - 11));
	o += 10;
	wr16(p + o, 12);  /* Padding */
	wr16(p + o + 2, (uint16_t)(len - o - 4));
	memset(p + o + 4, 0, len - o - 4);
}

/* ---- packet sinks: packets with time, sorted before writing ---- */

/* Canonical flow key, as sluice and pcapcheck.py define it: protocol, then
 * the lower and the higher (address, port) endpoint; ports 0 for fragments;
 * an ICMP error takes the key of the packet it quotes. */
#define KEY_LEN 38

struct rec {
	uint64_t t_us;
	uint32_t seq;
	uint32_t len;
	size_t off;
	uint32_t dgram;  /* fragmented datagram id, 0 = not a fragment */
	uint16_t cats;
	uint8_t svc;
	uint8_t haskey;  /* 0 for non-IP and malformed frames */
	uint8_t bad;     /* index in bad_names of a malformed frame's reason, 0 = not */
	uint8_t key[KEY_LEN];
};

static void key_set(struct rec *r, int fam, uint8_t proto, const uint8_t *x, uint16_t px,
		    const uint8_t *y, uint16_t py)
{
	uint8_t ex[18] = { 0 }, ey[18] = { 0 };
	size_t al = fam == 4 ? 4 : 16;

	memcpy(ex, x, al);
	wr16(ex + 16, px);
	memcpy(ey, y, al);
	wr16(ey + 16, py);
	r->key[0] = (uint8_t)fam;
	r->key[1] = proto;
	if (memcmp(ex, ey, 18) > 0) {
		memcpy(r->key + 2, ey, 18);
		memcpy(r->key + 20, ex, 18);
	} else {
		memcpy(r->key + 2, ex, 18);
		memcpy(r->key + 20, ey, 18);
	}
	r->haskey = 1;
}

struct sink {
	struct rec *r;
	size_t n, cap;
	uint8_t *data;
	size_t dlen, dcap;
};

static struct rec *sink_add(struct sink *s, uint64_t t_us, const uint8_t *f, size_t len)
{
	struct rec *r;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->r = xrealloc(s->r, s->cap * sizeof(*s->r));
	}
	if (s->dlen + len > s->dcap) {
		while (s->dlen + len > s->dcap)
			s->dcap = s->dcap ? s->dcap * 2 : 1 << 20;
		s->data = xrealloc(s->data, s->dcap);
	}
	memcpy(s->data + s->dlen, f, len);
	r = &s->r[s->n];
	memset(r, 0, sizeof(*r));
	r->t_us = t_us;
	r->seq = (uint32_t)s->n;
	r->len = (uint32_t)len;
	r->off = s->dlen;
	s->n++;
	s->dlen += len;
	return r;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->t_us != y->t_us)
		return x->t_us < y->t_us ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sink_free(struct sink *s)
{
	free(s->r);
	free(s->data);
	memset(s, 0, sizeof(*s));
}

static pcap_dumper_t *dump_open(pcap_t **pd, const char *path, FILE *fp)
{
	pcap_dumper_t *d;

	*pd = pcap_open_dead(DLT_EN10MB, 65535);
	if (!*pd)
		die("pcap_open_dead failed");
	d = fp ? pcap_dump_fopen(*pd, fp) : pcap_dump_open(*pd, path);
	if (!d)
		die("%s: cannot write: %s", path, pcap_geterr(*pd));
	return d;
}

static void dump_close(pcap_t *pd, pcap_dumper_t *d, const char *path)
{
	if (pcap_dump_flush(d) != 0 || ferror(pcap_dump_file(d)))
		die("%s: write error: %s", path, strerror(errno));
	pcap_dump_close(d);
	pcap_close(pd);
}

static void dump_one(pcap_dumper_t *d, uint64_t t_us, const uint8_t *f, uint32_t len)
{
	struct pcap_pkthdr h;

	h.ts.tv_sec = (time_t)(T0_SEC + t_us / 1000000);
	h.ts.tv_usec = (suseconds_t)(t_us % 1000000);
	h.caplen = len;
	h.len = len;
	pcap_dump((u_char *)d, &h, f);
}

static void sink_write(struct sink *s, const char *path)
{
	pcap_t *pd;
	pcap_dumper_t *d = dump_open(&pd, path, NULL);

	qsort(s->r, s->n, sizeof(*s->r), rec_cmp);
	for (size_t i = 0; i < s->n; i++)
		dump_one(d, s->r[i].t_us, s->data + s->r[i].off, s->r[i].len);
	dump_close(pd, d, path);
}

/* ---- unique client endpoints ---- */

struct u64set {
	uint64_t *v;
	size_t mask, n;
};

static void set_init(struct u64set *s, unsigned bits)
{
	s->mask = ((size_t)1 << bits) - 1;
	s->n = 0;
	s->v = calloc(s->mask + 1, sizeof(uint64_t));
	if (!s->v)
		die("out of memory");
}

/* Insert a nonzero key; 0 if it was already there. */
static int set_add(struct u64set *s, uint64_t k)
{
	size_t i = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & s->mask;

	if (2 * (s->n + 1) > s->mask)
		die("internal: endpoint set too small (%zu entries)", s->n);
	for (;; i = (i + 1) & s->mask) {
		if (s->v[i] == k)
			return 0;
		if (s->v[i] == 0) {
			s->v[i] = k;
			s->n++;
			return 1;
		}
	}
}

/* ---- the demo and return captures ---- */

struct gen {
	struct rng r;
	struct sink demo, ret;
	struct u64set used4, used6;
	uint32_t next_dgram;
};

/* One conversation's addressing, from the client's point of view. */
struct conv {
	uint8_t fam, proto;
	struct l2 l2;
	uint8_t cli[16], srv[16];
	uint16_t cport, sport;
	uint32_t flowlabel;
	uint8_t svc;
	uint16_t cats;
	uint8_t ttl;
};

static void pick_client4(struct gen *g, uint8_t *addr, uint16_t *port)
{
	for (;;) {
		/* 203.0.113.0/24 or 198.51.100.0/24 */
		uint32_t net = rng_below(&g->r, 2) ? 0xcb007100u : 0xc6336400u;
		uint32_t a = net | rng_range(&g->r, 1, 253); /* .254 is the router */
		uint16_t p = (uint16_t)rng_range(&g->r, 1024, 65535);

		if (set_add(&g->used4, (uint64_t)a << 16 | p)) {
			wr32(addr, a);
			*port = p;
			return;
		}
	}
}

static void pick_client6(struct gen *g, uint8_t *addr, uint16_t *port)
{
	static const uint8_t pfx[8] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0 };
	uint64_t iid;

	do
		iid = rng_next(&g->r);
	while (iid == 0 || !set_add(&g->used6, iid));
	memcpy(addr, pfx, 8);
	for (int i = 0; i < 8; i++)
		addr[8 + i] = (uint8_t)(iid >> (56 - 8 * i));
	*port = (uint16_t)rng_range(&g->r, 1024, 65535);
}

static void conv_new(struct gen *g, struct conv *c, int fam, uint8_t proto, const uint8_t *srv,
		     uint16_t sport, uint8_t svc)
{
	memset(c, 0, sizeof(*c));
	c->fam = (uint8_t)fam;
	c->proto = proto;
	c->l2 = L2_NONE;
	if (fam == 4)
		pick_client4(g, c->cli, &c->cport);
	else
		pick_client6(g, c->cli, &c->cport);
	memcpy(c->srv, srv, fam == 4 ? 4 : 16);
	c->sport = sport;
	c->flowlabel = (uint32_t)rng_next(&g->r) & 0xfffff;
	c->svc = svc;
	c->ttl = (uint8_t)rng_range(&g->r, 48, 64);
}

/* A frame of conversation c in direction to_srv (client -> server) or back;
 * l4 is the upper-layer segment, checksummed here.  One IPv6 packet in ten
 * gets an 8-byte hop-by-hop or destination options header. */
static struct rec *conv_emit(struct gen *g, struct sink *s, const struct conv *c, int to_srv,
			     uint64_t t, const uint8_t *l4, size_t n)
{
	uint8_t f[FRAME_MAX];
	struct ext6 e;
	struct ip ip = { 0 };
	uint16_t cats = c->cats;
	struct rec *r;
	size_t len;

	ip.fam = c->fam;
	ip.proto = c->proto;
	ip.ttl = to_srv ? c->ttl : 64;
	ip.id = (uint16_t)rng_next(&g->r);
	ip.frag = c->proto == P_TCP ? DF : 0;
	ip.flowlabel = c->flowlabel;
	ip.src = to_srv ? c->cli : c->srv;
	ip.dst = to_srv ? c->srv : c->cli;
	ext6_init(&e);
	if (c->fam == 6 && rng_below(&g->r, 10) == 0) {
		ext6_opts(&e, rng_below(&g->r, 2) ? X_HBH : X_DSTOPT, 1);
		cats |= CAT(CAT_V6_EXT);
	}
	ext6_end(&e, c->proto);
	ip_set_ext(&ip, &e);
	len = to_srv ? mk_frame(f, MAC_SRV, MAC_CLI, &c->l2, &ip, l4, n) :
		       mk_frame(f, MAC_CLI, MAC_SRV, &c->l2, &ip, l4, n);
	r = sink_add(s, t, f, len);
	key_set(r, c->fam, c->proto, c->cli, c->cport, c->srv, c->sport);
	r->svc = c->svc;
	r->cats = cats;
	return r;
}

static struct rec *tcp_emit(struct gen *g, struct sink *s, const struct conv *c, int to_srv,
			    uint64_t t, uint32_t seq, uint32_t ack, uint8_t flags, size_t paylen)
{
	uint8_t l4[FRAME_MAX];
	uint8_t opt[12];
	size_t optlen = 0, hl;

	if (flags & F_SYN)
		optlen = syn_opts(opt, c->fam == 4 ? 1460 : 1440);
	hl = put_tcp(l4, to_srv ? c->cport : c->sport, to_srv ? c->sport : c->cport, seq, ack,
		     flags, (flags & F_SYN) ? 64240 : 502, opt, optlen);
	rng_bytes(&g->r, l4 + hl, paylen);
	return conv_emit(g, s, c, to_srv, t, l4, hl + paylen);
}

/* Segment payload sizes: mostly small, a tail up to 1400 bytes. */
static size_t pay_len(struct rng *r)
{
	uint32_t p = rng_below(r, 100);

	if (p < 4)
		return 0;
	if (p < 75)
		return rng_range(r, 1, 64);
	if (p < 92)
		return rng_range(r, 65, 256);
	if (p < 98)
		return rng_range(r, 257, 900);
	return rng_range(r, 901, 1400);
}

static unsigned data_segments(struct rng *r)
{
	static const uint8_t cum[6] = { 35, 60, 75, 85, 93, 100 };
	uint32_t p = rng_below(r, 100);
	unsigned i = 0;

	while (p >= cum[i])
		i++;
	return i + 1;
}

struct tcpplan {
	uint64_t t0;
	int to_return;  /* server packets also go to return.pcap */
	int srv_rst;    /* the server answers the client's FIN with a RST */
	int cli_rst;    /* the client aborts with a RST after its data */
	int icmp_err;   /* a router on the client side answers the server's
			   first data segment with ICMP frag needed */
	uint64_t t_end; /* out: time of the flow's last client packet */
};

static void emit_icmp_frag_needed(struct gen *g, const struct conv *c, uint64_t t,
				  uint32_t seq, size_t quoted_len);

/* One TCP connection.  Client packets: SYN, ACK, 1..6 data segments, FIN,
 * ACK (no final ACK after a server RST; client RST instead of FIN when
 * cli_rst).  Server packets (SYN-ACK, ACK, 1..2 data segments, FIN-ACK or
 * RST) exist in the timeline for sequence numbers and go to return.pcap only
 * for to_return flows.  rtt_c is the client-side round trip seen from sluice,
 * rtt_s the server side. */
static void emit_tcp_flow(struct gen *g, const struct conv *c, struct tcpplan *pl)
{
	struct rng *r = &g->r;
	struct sink *rs = pl->to_return ? &g->ret : NULL;
	uint64_t rtt_c = rng_range(r, 5000, 80000), rtt_s = rng_range(r, 100, 2000);
	uint32_t cisn = (uint32_t)rng_next(r), sisn = (uint32_t)rng_next(r);
	uint32_t cseq = cisn + 1, sseq = sisn + 1;
	unsigned nd = data_segments(r), ns = rng_range(r, 1, 2);
	uint64_t t = pl->t0, ts;
	size_t slen[2];
	struct rec *x;

	tcp_emit(g, &g->demo, c, 1, t, cisn, 0, F_SYN, 0);
	if (rs)
		tcp_emit(g, rs, c, 0, t + rtt_s, sisn, cseq, F_SYN | F_ACK, 0);
	t += rtt_s + rtt_c;
	tcp_emit(g, &g->demo, c, 1, t, cseq, sseq, F_ACK, 0);
	for (unsigned i = 0; i < nd; i++) {
		size_t n = pay_len(r);

		t += rng_range(r, 20, 3000);
		tcp_emit(g, &g->demo, c, 1, t, cseq, sseq, i + 1 == nd ? F_PSH | F_ACK : F_ACK, n);
		cseq += (uint32_t)n;
	}
	if (pl->cli_rst) {
		t += rng_range(r, 1000, 50000);
		tcp_emit(g, &g->demo, c, 1, t, cseq, sseq, F_RST | F_ACK, 0);
		pl->t_end = t;
		return;
	}
	/* the server acknowledges the request, then answers */
	ts = t + rtt_s;
	if (rs)
		tcp_emit(g, rs, c, 0, ts, sseq, cseq, F_ACK, 0);
	for (unsigned i = 0; i < ns; i++) {
		slen[i] = pay_len(r);
		if (i == 0 && pl->icmp_err)
			slen[i] = 1400; /* too big for the client side's MTU */
		ts += rng_range(r, 200, 3000);
		if (rs)
			tcp_emit(g, rs, c, 0, ts, sseq, cseq, F_PSH | F_ACK, slen[i]);
		if (i == 0 && pl->icmp_err)
			emit_icmp_frag_needed(g, c, ts + rng_range(r, 50, 500), sseq,
					      20 + 20 + slen[0]);
		sseq += (uint32_t)slen[i];
	}
	t = ts + rtt_c + rng_range(r, 0, 20000);
	tcp_emit(g, &g->demo, c, 1, t, cseq, sseq, F_FIN | F_ACK, 0);
	cseq++;
	pl->t_end = t;
	if (pl->srv_rst) {
		if (rs) {
			x = tcp_emit(g, rs, c, 0, t + rtt_s, sseq, cseq, F_RST | F_ACK, 0);
			x->cats |= CAT(CAT_SRV_RST);
		}
		return;
	}
	if (rs)
		tcp_emit(g, rs, c, 0, t + rtt_s, sseq, cseq, F_FIN | F_ACK, 0);
	t += rtt_s + rtt_c;
	tcp_emit(g, &g->demo, c, 1, t, cseq, sseq + 1, F_ACK, 0);
	pl->t_end = t;
}

/* ICMP destination unreachable, fragmentation needed (type 3 code 4), from
 * the router on the client's side to the VIP, quoting the IPv4 header and
 * the first 8 TCP bytes of the server's segment it could not forward. */
static void emit_icmp_frag_needed(struct gen *g, const struct conv *c, uint64_t t,
				  uint32_t seq, size_t quoted_len)
{
	uint8_t f[FRAME_MAX], icmp[8 + 28], router[4];
	struct ip ip = { 0 };
	uint8_t *q = icmp + 8;
	struct rec *r;
	size_t len;

	memset(icmp, 0, sizeof(icmp));
	icmp[0] = 3;
	icmp[1] = 4;
	wr16(icmp + 6, 1280); /* next-hop MTU */
	q[0] = 0x45;
	wr16(q + 2, (uint16_t)quoted_len);
	wr16(q + 4, (uint16_t)rng_next(&g->r));
	wr16(q + 6, DF);
	q[8] = 63;
	q[9] = P_TCP;
	memcpy(q + 12, c->srv, 4);
	memcpy(q + 16, c->cli, 4);
	ip4_csum(q);
	wr16(q + 20, c->sport);
	wr16(q + 22, c->cport);
	wr32(q + 24, seq);

	memcpy(router, c->cli, 3);
	router[3] = 254;
	ip.fam = 4;
	ip.proto = P_ICMP;
	ip.ttl = 255;
	ip.id = (uint16_t)rng_next(&g->r);
	ip.src = router;
	ip.dst = c->srv;
	len = mk_frame(f, MAC_SRV, MAC_CLI, &c->l2, &ip, icmp, sizeof(icmp));
	r = sink_add(&g->demo, t, f, len);
	key_set(r, 4, P_TCP, c->srv, c->sport, c->cli, c->cport);
	r->svc = c->svc;
	r->cats = (uint16_t)(c->cats | CAT(CAT_ICMP_ERR));
}

/* Pick k distinct indexes out of n into sel[] (n-sized flag array), marking
 * them with mark; order of choice is deterministic. */
static void pick_distinct(struct rng *r, uint8_t *sel, uint32_t n, uint32_t k, uint8_t mark)
{
	while (k) {
		uint32_t i = rng_below(r, n);

		if (sel[i] == 0) {
			sel[i] = mark;
			k--;
		}
	}
}

#define N_WEB4 4000
#define N_WEB6 500
#define N_RET4 1000
#define N_RET6 100
#define N_RST4 16
#define N_RST6 4
#define N_ICMP_ERR 20
#define N_DNS 1000
#define N_FRAG4 40
#define N_FRAG6 20
#define N_REUSE 5
#define SPAN_US 27000000u /* flows start within the first 27 s */

static void gen_web(struct gen *g, int fam)
{
	uint32_t n = fam == 4 ? N_WEB4 : N_WEB6;
	uint8_t *ret = calloc(n, 1), *err = calloc(n, 1);

	if (!ret || !err)
		die("out of memory");
	/* 1 = returned, 2 = returned and ends with a server RST */
	pick_distinct(&g->r, ret, n, fam == 4 ? N_RST4 : N_RST6, 2);
	pick_distinct(&g->r, ret, n, fam == 4 ? N_RET4 - N_RST4 : N_RET6 - N_RST6, 1);
	if (fam == 4)
		pick_distinct(&g->r, err, n, N_ICMP_ERR, 1);
	for (uint32_t i = 0; i < n; i++) {
		struct conv c;
		struct tcpplan pl = { 0 };
		uint32_t tag = rng_below(&g->r, 100);

		if (fam == 4)
			conv_new(g, &c, 4, P_TCP, IP_WEB, 443, SVC_WEB);
		else
			conv_new(g, &c, 6, P_TCP, IP6_WEB, 443, SVC_WEB6);
		if (fam == 4 && tag < 10) {
			c.l2 = L2_VLAN;
			c.cats |= CAT(CAT_VLAN);
		} else if (fam == 4 && tag < 15) {
			c.l2 = L2_QINQ;
			c.cats |= CAT(CAT_QINQ);
		}
		pl.t0 = rng_below(&g->r, SPAN_US);
		pl.to_return = ret[i] != 0;
		pl.srv_rst = ret[i] == 2;
		pl.icmp_err = err[i];
		emit_tcp_flow(g, &c, &pl);
	}
	free(ret);
	free(err);
}

/* A web flow aborted by a client RST, then the same 4-tuple again 1 s
 * later as a complete new connection. */
static void gen_port_reuse(struct gen *g)
{
	for (int i = 0; i < N_REUSE; i++) {
		struct conv c;
		struct tcpplan a = { 0 }, b = { 0 };

		conv_new(g, &c, 4, P_TCP, IP_WEB, 443, SVC_WEB);
		c.cats |= CAT(CAT_PORT_REUSE);
		a.t0 = rng_below(&g->r, 20000000);
		a.cli_rst = 1;
		emit_tcp_flow(g, &c, &a);
		b.t0 = a.t_end + 1000000;
		emit_tcp_flow(g, &c, &b);
	}
}

static void gen_dns(struct gen *g)
{
	for (int i = 0; i < N_DNS; i++) {
		struct conv c;
		uint64_t t = rng_below(&g->r, SPAN_US);
		unsigned n = rng_range(&g->r, 1, 3);

		conv_new(g, &c, 4, P_UDP, IP_DNS, 53, SVC_DNS);
		for (unsigned k = 0; k < n; k++) {
			uint8_t l4[8 + 200];
			size_t pl = rng_range(&g->r, 30, 200);

			put_udp(l4, c.cport, 53, pl);
			dns_query(&g->r, l4 + 8, pl);
			conv_emit(g, &g->demo, &c, 1, t, l4, 8 + pl);
			t += rng_range(&g->r, 1000, 500000);
		}
	}
}

/* UDP datagrams of 2000..4000 payload bytes (DNS queries with EDNS padding)
 * fragmented to a 1500-byte MTU: IPv4 to the dns VIP, IPv6 (fragment header)
 * to 2001:db8::53.  Every third datagram sends its fragments last first.
 * Each datagram comes from its own client address so that its 3-tuple key
 * (ports 0) is its own. */
static void gen_frags(struct gen *g)
{
	struct u64set addrs;

	set_init(&addrs, 8);
	for (int i = 0; i < N_FRAG4 + N_FRAG6; i++) {
		int fam = i < N_FRAG4 ? 4 : 6;
		uint8_t dg[8 + 4000], f[FRAME_MAX];
		size_t pl = rng_range(&g->r, 2000, 4000), dlen = 8 + pl;
		size_t max = fam == 4 ? 1480 : 1448;
		size_t nfr = (dlen + max - 1) / max;
		uint64_t t = rng_below(&g->r, SPAN_US);
		uint32_t id = (uint32_t)rng_next(&g->r);
		uint32_t dgid = ++g->next_dgram;
		struct conv c;
		uint64_t ak;

		do {
			if (fam == 4)
				conv_new(g, &c, 4, P_UDP, IP_DNS, 53, SVC_DNS);
			else
				conv_new(g, &c, 6, P_UDP, IP6_DNS, 53, SVC_DNS6);
			memcpy(&ak, c.cli + (fam == 4 ? 0 : 8), 8);
			if (fam == 4)
				ak = (ak & 0xffffffffull) | 1ull << 63;
		} while (!set_add(&addrs, ak));
		put_udp(dg, c.cport, 53, pl);
		dns_padded(&g->r, dg + 8, pl);
		l4_csum(fam, c.cli, c.srv, P_UDP, dg, dlen);
		for (size_t k = 0; k < nfr; k++) {
			size_t j = (i % 3 == 0) ? nfr - 1 - k : k;
			size_t off = j * max, sz = dlen - off < max ? dlen - off : max;
			int more = j + 1 < nfr;
			struct ip ip = { 0 };
			struct ext6 e;
			struct rec *r;
			size_t len;

			ip.fam = (uint8_t)fam;
			ip.proto = P_UDP;
			ip.ttl = c.ttl;
			ip.id = (uint16_t)id;
			ip.frag = (uint16_t)((more ? MF : 0) | off / 8);
			ip.flowlabel = c.flowlabel;
			ip.src = c.cli;
			ip.dst = c.srv;
			ext6_init(&e);
			if (fam == 6) {
				ext6_frag(&e, (unsigned)(off / 8), more, id);
				ext6_end(&e, P_UDP);
				ip_set_ext(&ip, &e);
			}
			len = mk_frame_opt(f, MAC_SRV, MAC_CLI, &L2_NONE, &ip, dg + off, sz, 0, 1);
			r = sink_add(&g->demo, t, f, len);
			key_set(r, fam, P_UDP, c.cli, 0, c.srv, 0);
			r->svc = c.svc;
			r->dgram = dgid;
			r->cats = CAT(CAT_FRAG);
			t += rng_range(&g->r, 10, 200);
		}
	}
	free(addrs.v);
}

static size_t arp_frame(uint8_t *f, int op, const uint8_t *dmac, const uint8_t *smac,
			const uint8_t *spa, const uint8_t *tha, const uint8_t *tpa)
{
	static const uint8_t zero[6];
	size_t o = put_eth(f, dmac, smac, &L2_NONE, ET_ARP);

	wr16(f + o, 1);
	wr16(f + o + 2, ET_IP4);
	f[o + 4] = 6;
	f[o + 5] = 4;
	wr16(f + o + 6, (uint16_t)op);
	memcpy(f + o + 8, smac, 6);
	memcpy(f + o + 14, spa, 4);
	memcpy(f + o + 18, tha ? tha : zero, 6);
	memcpy(f + o + 24, tpa, 4);
	memset(f + o + 28, 0, ETH_MIN - o - 28);
	return ETH_MIN;
}

static void emit_arp(struct sink *s, uint64_t t, int op, const uint8_t *dmac,
		     const uint8_t *smac, const uint8_t *spa, const uint8_t *tha,
		     const uint8_t *tpa)
{
	uint8_t f[ETH_MIN];
	struct rec *r;

	arp_frame(f, op, dmac, smac, spa, tha, tpa);
	r = sink_add(s, t, f, ETH_MIN);
	r->cats = CAT(CAT_ARP);
}

/* Traffic that matches no service. */
static void gen_other(struct gen *g)
{
	struct rng *r = &g->r;

	for (int i = 0; i < 60; i++) {
		uint8_t gw[4] = { 198, 51, 100, 254 };

		if (rng_below(r, 2))
			memcpy(gw, (const uint8_t[]){ 203, 0, 113, 254 }, 4);
		if (i % 2 == 0) /* who has the server-side router? */
			emit_arp(&g->demo, rng_below(r, 30000000), 1, MAC_BCAST, MAC_CLI, gw,
				 NULL, IP_SRV_GW);
		else /* answer to the server-side router's question */
			emit_arp(&g->demo, rng_below(r, 30000000), 2, MAC_SRV, MAC_CLI, gw,
				 MAC_SRV, IP_SRV_GW);
	}
	for (int i = 0; i < 20; i++) {
		struct conv c;
		uint8_t l4[64];
		struct rec *x;

		conv_new(g, &c, 4, P_ICMP, IP_WEB, 0, SVC_NONE);
		memset(l4, 0, 8);
		l4[0] = 8;
		wr16(l4 + 4, c.cport); /* identifier */
		wr16(l4 + 6, (uint16_t)rng_range(r, 1, 20));
		rng_bytes(r, l4 + 8, 56);
		c.cats = CAT(CAT_ICMP_ECHO);
		x = conv_emit(g, &g->demo, &c, 1, rng_below(r, 30000000), l4, sizeof(l4));
		key_set(x, 4, P_ICMP, c.cli, 0, c.srv, 0);
	}
	for (int i = 0; i < 30; i++) {
		struct conv c;
		uint64_t t;
		uint32_t isn;

		conv_new(g, &c, 4, P_TCP, IP_OTHER, 80, SVC_NONE);
		c.cats = CAT(CAT_OTHER_TCP);
		/* one PRNG call per statement: argument order is unspecified */
		t = rng_below(r, 30000000);
		isn = (uint32_t)rng_next(r);
		tcp_emit(g, &g->demo, &c, 1, t, isn, 0, F_SYN, 0);
	}
	for (int i = 0; i < 20; i++) {
		struct conv c;
		uint8_t l4[8 + 48];

		conv_new(g, &c, 4, P_UDP, IP_DNS, 123, SVC_NONE);
		c.cats = CAT(CAT_OTHER_UDP);
		put_udp(l4, c.cport, 123, 48);
		memset(l4 + 8, 0, 48);
		l4[8] = 0x23; /* NTPv4, client */
		rng_bytes(r, l4 + 8 + 40, 8); /* transmit timestamp */
		conv_emit(g, &g->demo, &c, 1, rng_below(r, 30000000), l4, sizeof(l4));
	}
	for (int i = 0; i < 20; i++) {
		uint8_t f[FRAME_MAX], l4[32], dst[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
		uint8_t dmac[6] = { 0x33, 0x33, 0xff };
		uint8_t target[16];
		struct ip ip = { 0 };
		struct rec *x;
		size_t len;

		memcpy(target, IP6_WEB, 16);
		if (i % 2)
			target[15] = (uint8_t)rng_range(r, 1, 0xfe);
		memcpy(dst + 13, target + 13, 3);
		memcpy(dmac + 3, target + 13, 3);
		memset(l4, 0, sizeof(l4));
		l4[0] = 135;
		memcpy(l4 + 8, target, 16);
		l4[24] = 1; /* source link-layer address */
		l4[25] = 1;
		memcpy(l4 + 26, MAC_CLI, 6);
		ip.fam = 6;
		ip.proto = P_ICMP6;
		ip.ttl = 255;
		ip.src = IP6_CLI_GW;
		ip.dst = dst;
		len = mk_frame(f, dmac, MAC_CLI, &L2_NONE, &ip, l4, sizeof(l4));
		x = sink_add(&g->demo, rng_below(r, 30000000), f, len);
		key_set(x, 6, P_ICMP6, IP6_CLI_GW, 0, dst, 0);
		x->cats = CAT(CAT_ND);
	}
	for (int i = 0; i < 20; i++) {
		static const uint8_t cgw[4] = { 198, 51, 100, 254 };

		emit_arp(&g->ret, rng_below(r, 30000000), 2, MAC_CLI, MAC_SRV, IP_SRV_GW, MAC_CLI,
			 cgw);
	}
}

/* ---- manifests ---- */

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KEY_LEN);
}

/* Distinct keys among the records selected by (svc, cats, frag) filters:
 * svc < 0 = any service, cat < 0 = any category, frag: -1 any, 0 non
 * fragments only. */
static size_t count_keys(const struct sink *s, int svc, int cat, int frag)
{
	uint8_t *k = malloc(s->n * KEY_LEN + 1);
	size_t n = 0, d = 0;

	if (!k)
		die("out of memory");
	for (size_t i = 0; i < s->n; i++) {
		const struct rec *r = &s->r[i];

		if (!r->haskey || (svc >= 0 && r->svc != svc) ||
		    (cat >= 0 && !(r->cats & CAT(cat))) || (frag == 0 && r->dgram))
			continue;
		memcpy(k + n++ * KEY_LEN, r->key, KEY_LEN);
	}
	qsort(k, n, KEY_LEN, key_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(k + i * KEY_LEN, k + (i - 1) * KEY_LEN, KEY_LEN) != 0)
			d++;
	free(k);
	return d;
}

static size_t count_dgrams(const struct sink *s, int svc)
{
	uint8_t seen[N_FRAG4 + N_FRAG6 + 1] = { 0 };
	size_t d = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct rec *r = &s->r[i];

		if (!r->dgram || (svc >= 0 && r->svc != svc))
			continue;
		if (r->dgram > N_FRAG4 + N_FRAG6)
			die("internal: datagram id %u out of range", r->dgram);
		d += !seen[r->dgram];
		seen[r->dgram] = 1;
	}
	return d;
}

/* {"total": N, "by_reason": {...}}, reasons in enum sl_bad order, only
 * those present. */
static json_t *malformed_manifest(const struct sink *s)
{
	json_t *o = json_object(), *by = json_object();
	uint64_t k[N_BAD] = { 0 }, total = 0;

	for (size_t i = 0; i < s->n; i++)
		k[s->r[i].bad]++;
	for (size_t i = 1; i < N_BAD; i++) {
		total += k[i];
		if (k[i])
			json_object_set_new(by, bad_names[i], json_integer((json_int_t)k[i]));
	}
	json_object_set_new(o, "total", json_integer((json_int_t)total));
	json_object_set_new(o, "by_reason", by);
	return o;
}

static json_t *file_manifest(const struct sink *s)
{
	json_t *o = json_object(), *svcs = json_object(), *cats = json_object();
	json_t *cflows = json_object();
	uint64_t bytes = 0;

	for (size_t i = 0; i < s->n; i++)
		bytes += s->r[i].len;
	json_object_set_new(o, "packets", json_integer((json_int_t)s->n));
	json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
	json_object_set_new(o, "flows", json_integer((json_int_t)count_keys(s, -1, -1, -1)));
	for (int v = 1; v < SVC__COUNT; v++) {
		json_t *j = json_object();
		uint64_t pk = 0, by = 0;

		for (size_t i = 0; i < s->n; i++) {
			if (s->r[i].svc == v) {
				pk++;
				by += s->r[i].len;
			}
		}
		json_object_set_new(j, "proto", json_string(svc_info[v].proto));
		json_object_set_new(j, "vip", json_string(svc_info[v].vip));
		json_object_set_new(j, "port", json_integer(svc_info[v].port));
		json_object_set_new(j, "in_demo_ini", json_boolean(svc_info[v].in_demo_ini));
		json_object_set_new(j, "packets", json_integer((json_int_t)pk));
		json_object_set_new(j, "bytes", json_integer((json_int_t)by));
		json_object_set_new(j, "flows", json_integer((json_int_t)count_keys(s, v, -1, 0)));
		json_object_set_new(j, "frag_datagrams",
				    json_integer((json_int_t)count_dgrams(s, v)));
		json_object_set_new(svcs, svc_info[v].name, j);
	}
	json_object_set_new(o, "services", svcs);
	for (int c = 0; c < CAT__COUNT; c++) {
		uint64_t pk = 0;

		for (size_t i = 0; i < s->n; i++)
			pk += (s->r[i].cats >> c) & 1;
		json_object_set_new(cats, cat_names[c], json_integer((json_int_t)pk));
		json_object_set_new(cflows, cat_names[c],
				    json_integer((json_int_t)count_keys(s, -1, c, -1)));
	}
	json_object_set_new(o, "categories", cats);
	json_object_set_new(o, "category_flows", cflows);
	json_object_set_new(o, "malformed", malformed_manifest(s));
	return o;
}

static void json_write(json_t *j, const char *path)
{
	char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	FILE *f;

	if (!txt)
		die("%s: cannot encode JSON", path);
	f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	if (fputs(txt, f) == EOF || fputc('\n', f) == EOF || fclose(f) != 0)
		die("%s: write error: %s", path, strerror(errno));
	free(txt);
}

static void write_manifest(const struct gen *g, uint64_t seed, const char *path)
{
	json_t *m = json_object(), *files = json_object(), *notes = json_array();

	json_object_set_new(m, "generator", json_string(GEN_NAME));
	json_object_set_new(m, "version", json_string(GEN_VERSION));
	json_object_set_new(m, "seed", json_integer((json_int_t)seed));
	json_array_append_new(notes, json_string(
		"flows: distinct canonical keys (proto, sorted endpoints); fragments key "
		"with ports 0 and are counted per service as frag_datagrams, not flows; "
		"an ICMP error counts as a packet of the flow it quotes"));
	json_array_append_new(notes, json_string(
		"categories: packets; category_flows: distinct keys among them "
		"(0 for non-IP)"));
	json_array_append_new(notes, json_string(
		"dns6 is not in conf/demo.ini: there its fragments match no service"));
	json_array_append_new(notes, json_string(
		"flows ending in a server RST have no final client ACK in demo.pcap"));
	json_array_append_new(notes, json_string(
		"malformed: frames sl_parse() rejects, by reason; demo.pcap carries one copy "
		"of every malformed case of malformed.pcap at scattered times; they count in "
		"packets and bytes, in no flow, service or category"));
	json_object_set_new(m, "notes", notes);
	json_object_set_new(files, "demo.pcap", file_manifest(&g->demo));
	json_object_set_new(files, "return.pcap", file_manifest(&g->ret));
	json_object_set_new(m, "files", files);
	json_write(m, path);
	json_decref(m);
}

/* ---- malformed.pcap: one case per packet, expected sl_parse() reason ---- */

struct mcase {
	uint8_t f[FRAME_MAX];
	size_t len;
	uint8_t bad;  /* index in bad_names */
	const char *reason;
	char what[160];
};

struct mlist {
	struct mcase *c;
	size_t n, cap;
};

static const uint8_t M_CLI4[4] = { 198, 51, 100, 7 };
static const uint8_t M_CLI6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 7 };

__attribute__((format(printf, 5, 6)))
static void m_add(struct mlist *m, const uint8_t *f, size_t len, const char *reason,
		  const char *fmt, ...)
{
	struct mcase *c;
	size_t i;
	va_list ap;

	for (i = 0; i < N_BAD && strcmp(bad_names[i], reason) != 0; i++)
		;
	if (i == N_BAD)
		die("internal: unknown reason \"%s\"", reason);
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->c = xrealloc(m->c, m->cap * sizeof(*m->c));
	}
	c = &m->c[m->n++];
	memcpy(c->f, f, len);
	c->len = len;
	c->bad = (uint8_t)i;
	c->reason = bad_names[i];
	va_start(ap, fmt);
	vsnprintf(c->what, sizeof(c->what), fmt, ap);
	va_end(ap);
}

/* TCP 40000 -> 443 with pay payload bytes; returns the segment length. */
static size_t m_tcp(struct rng *r, uint8_t *l4, size_t pay, uint8_t flags)
{
	size_t hl = put_tcp(l4, 40000, 443, 1000, 2000, flags, 502, NULL, 0);

	rng_bytes(r, l4 + hl, pay);
	return hl + pay;
}

static size_t m_udp(struct rng *r, uint8_t *l4, uint16_t dport, size_t pay)
{
	put_udp(l4, 40000, dport, pay);
	rng_bytes(r, l4 + 8, pay);
	return 8 + pay;
}

static size_t m_v4(uint8_t *f, const struct l2 *l2, uint8_t proto, uint16_t frag,
		   const uint8_t *l4, size_t n, int csum, int pad)
{
	struct ip ip = { 0 };

	ip.fam = 4;
	ip.proto = proto;
	ip.ttl = 64;
	ip.id = 0x1234;
	ip.frag = frag;
	ip.src = M_CLI4;
	ip.dst = proto == P_UDP ? IP_DNS : IP_WEB;
	return mk_frame_opt(f, MAC_SRV, MAC_CLI, l2, &ip, l4, n, csum, pad);
}

static size_t m_v6(uint8_t *f, const struct ext6 *e, uint8_t proto, const uint8_t *l4, size_t n,
		   int csum, int pad)
{
	struct ip ip = { 0 };

	ip.fam = 6;
	ip.proto = proto;
	ip.ttl = 64;
	ip.flowlabel = 0x12345;
	ip.src = M_CLI6;
	ip.dst = proto == P_UDP ? IP6_DNS : IP6_WEB;
	if (e)
		ip_set_ext(&ip, e);
	return mk_frame_opt(f, MAC_SRV, MAC_CLI, &L2_NONE, &ip, l4, n, csum, pad);
}

/* IPv4 with header options (opt: a multiple of 4 bytes). */
static size_t m_v4_opts(uint8_t *f, const uint8_t *opt, size_t optlen, uint8_t proto,
			uint8_t *l4, size_t n)
{
	size_t o = put_eth(f, MAC_SRV, MAC_CLI, &L2_NONE, ET_IP4), hl = 20 + optlen;
	uint8_t *ip = f + o;

	memset(ip, 0, 20);
	ip[0] = (uint8_t)(0x40 | hl / 4);
	wr16(ip + 2, (uint16_t)(hl + n));
	wr16(ip + 4, 0x4321);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, M_CLI4, 4);
	memcpy(ip + 16, proto == P_UDP ? IP_DNS : IP_WEB, 4);
	memcpy(ip + 20, opt, optlen);
	ip4_csum(ip);
	l4_csum(4, M_CLI4, ip + 16, proto, l4, n);
	memcpy(ip + hl, l4, n);
	o += hl + n;
	if (o < ETH_MIN) {
		memset(f + o, 0, ETH_MIN - o);
		o = ETH_MIN;
	}
	return o;
}

struct cut {
	uint16_t at;
	const char *reason;
	const char *what;
};

static void m_cuts(struct mlist *m, const uint8_t *f, const char *base, const struct cut *c,
		   size_t n)
{
	for (size_t i = 0; i < n; i++)
		m_add(m, f, c[i].at, c[i].reason, "%s cut at %u bytes: %s", base, c[i].at,
		      c[i].what);
}

/* "The header says so": the IP length field is set to end where the frame is
 * cut, so IP is consistent and the inner header is short. */
static void m_says(struct mlist *m, const uint8_t *f, size_t l3, size_t at, const char *reason,
		   const char *base, const char *what)
{
	uint8_t g[FRAME_MAX];

	memcpy(g, f, at);
	if ((g[l3] >> 4) == 4) {
		wr16(g + l3 + 2, (uint16_t)(at - l3));
		ip4_csum(g + l3);
		m_add(m, g, at, reason, "%s, IPv4 total length %zu: %s", base, at - l3, what);
	} else {
		wr16(g + l3 + 4, (uint16_t)(at - l3 - 40));
		m_add(m, g, at, reason, "%s, IPv6 payload length %zu: %s", base, at - l3 - 40,
		      what);
	}
}

static void mal_truncations(struct rng *r, struct mlist *bad)
{
	uint8_t f[FRAME_MAX] = { 0 }, l4[FRAME_MAX] = { 0 };
	size_t n;
	static const struct cut ca[] = {
		{ 5, "eth_trunc", "inside the destination MAC" },
		{ 13, "eth_trunc", "inside the ethertype" },
		{ 14, "ip4_trunc", "ethertype only" },
		{ 20, "ip4_trunc", "6 bytes of IPv4 header" },
		{ 33, "ip4_trunc", "19 bytes of IPv4 header" },
		{ 34, "ip4_len", "IPv4 header only, total length says 52" },
		{ 44, "ip4_len", "inside the TCP header, total length says 52" },
		{ 53, "ip4_len", "one byte short of the TCP header" },
		{ 54, "ip4_len", "TCP header complete, 12 payload bytes missing" },
		{ 65, "ip4_len", "last payload byte missing" },
	};
	static const struct cut cb[] = {
		{ 13, "eth_trunc", "inside the ethertype" },
		{ 14, "ip6_trunc", "ethertype only" },
		{ 30, "ip6_trunc", "16 bytes of IPv6 header" },
		{ 53, "ip6_trunc", "39 bytes of IPv6 header" },
		{ 54, "ip6_len", "IPv6 header only, payload length says 28" },
		{ 58, "ip6_len", "inside the UDP header" },
		{ 61, "ip6_len", "one byte short of the UDP header" },
		{ 62, "ip6_len", "UDP header complete, 20 payload bytes missing" },
		{ 81, "ip6_len", "last payload byte missing" },
	};
	static const struct cut cc[] = {
		{ 14, "vlan_trunc", "TPID 0x8100, no tag" },
		{ 16, "vlan_trunc", "TCI, no inner ethertype" },
		{ 17, "vlan_trunc", "inside the inner ethertype" },
		{ 18, "ip4_trunc", "tag complete, no IPv4 byte" },
		{ 20, "ip4_trunc", "2 bytes of IPv4 header" },
		{ 37, "ip4_trunc", "19 bytes of IPv4 header" },
		{ 38, "ip4_len", "IPv4 header only, total length says 46" },
		{ 42, "ip4_len", "inside the UDP header" },
		{ 45, "ip4_len", "one byte short of the UDP header" },
		{ 46, "ip4_len", "UDP header complete, 18 payload bytes missing" },
		{ 63, "ip4_len", "last payload byte missing" },
	};
	static const struct cut cd[] = {
		{ 18, "vlan_trunc", "outer tag complete, inner tag missing" },
		{ 21, "vlan_trunc", "inside the inner ethertype" },
		{ 22, "ip4_trunc", "both tags complete, no IPv4 byte" },
	};

	/* A: IPv4/TCP with 12 payload bytes, 66 bytes */
	n = m_tcp(r, l4, 12, F_PSH | F_ACK);
	m_v4(f, &L2_NONE, P_TCP, DF, l4, n, 1, 0);
	m_add(bad, f, 0, "eth_trunc", "zero-length frame");
	m_cuts(bad, f, "IPv4/TCP (66 bytes)", ca, sizeof(ca) / sizeof(ca[0]));
	m_says(bad, f, 14, 34, "tcp_trunc", "IPv4/TCP cut at 34", "no TCP header");
	m_says(bad, f, 14, 44, "tcp_trunc", "IPv4/TCP cut at 44", "10 bytes of TCP header");
	m_says(bad, f, 14, 53, "tcp_trunc", "IPv4/TCP cut at 53", "19 bytes of TCP header");

	/* B: IPv6/UDP with 20 payload bytes, 82 bytes */
	n = m_udp(r, l4, 53, 20);
	m_v6(f, NULL, P_UDP, l4, n, 1, 0);
	m_cuts(bad, f, "IPv6/UDP (82 bytes)", cb, sizeof(cb) / sizeof(cb[0]));
	m_says(bad, f, 14, 58, "udp_trunc", "IPv6/UDP cut at 58", "4 bytes of UDP header");
	m_says(bad, f, 14, 61, "udp_trunc", "IPv6/UDP cut at 61", "7 bytes of UDP header");
	m_says(bad, f, 14, 62, "udp_len", "IPv6/UDP cut at 62",
	       "UDP length still says 28");

	/* C: VLAN 100 IPv4/UDP with 18 payload bytes, 64 bytes */
	n = m_udp(r, l4, 53, 18);
	m_v4(f, &L2_VLAN, P_UDP, 0, l4, n, 1, 0);
	m_cuts(bad, f, "VLAN IPv4/UDP (64 bytes)", cc, sizeof(cc) / sizeof(cc[0]));
	m_says(bad, f, 18, 42, "udp_trunc", "VLAN IPv4/UDP cut at 42", "4 bytes of UDP header");
	m_says(bad, f, 18, 45, "udp_trunc", "VLAN IPv4/UDP cut at 45", "7 bytes of UDP header");
	m_says(bad, f, 18, 46, "udp_len", "VLAN IPv4/UDP cut at 46",
	       "UDP length still says 26");

	/* D: QinQ (0x88a8 vid 200, 0x8100 vid 100) IPv4/UDP, 68 bytes */
	n = m_udp(r, l4, 53, 18);
	m_v4(f, &L2_QINQ, P_UDP, 0, l4, n, 1, 0);
	m_cuts(bad, f, "QinQ IPv4/UDP (68 bytes)", cd, sizeof(cd) / sizeof(cd[0]));
}

/* Buffers start zeroed: the IHL 15 case checksums a header that reaches past
 * the frame. */
static void mal_headers(struct rng *r, struct mlist *bad)
{
	uint8_t f[FRAME_MAX] = { 0 }, g[FRAME_MAX] = { 0 }, l4[FRAME_MAX] = { 0 };
	struct ext6 e;
	size_t n, len;

	/* IPv4 header fields, on a complete 66-byte IPv4/TCP frame */
	n = m_tcp(r, l4, 12, F_PSH | F_ACK);
	len = m_v4(f, &L2_NONE, P_TCP, DF, l4, n, 1, 0);
	memcpy(g, f, len);
	g[14] = 0x55;
	ip4_csum(g + 14);
	m_add(bad, g, len, "ip4_version", "ethertype IPv4, IP version 5");
	g[14] = 0x65;
	ip4_csum(g + 14);
	m_add(bad, g, len, "ip4_version", "ethertype IPv4, IP version 6");
	g[14] = 0x43;
	ip4_csum(g + 14);
	m_add(bad, g, len, "ip4_ihl", "IPv4 IHL 3 (12-byte header)");
	g[14] = 0x40;
	ip4_csum(g + 14);
	m_add(bad, g, len, "ip4_ihl", "IPv4 IHL 0");
	g[14] = 0x4f;
	ip4_csum(g + 14);
	m_add(bad, g, len, "ip4_ihl", "IPv4 IHL 15 (60 bytes) beyond the 52 IP bytes present");
	memcpy(g, f, len);
	wr16(g + 16, 16);
	ip4_csum(g + 14);
	m_add(bad, g, len, "ip4_len", "IPv4 total length 16 < IHL*4 (20)");
	wr16(g + 16, 19);
	ip4_csum(g + 14);
	m_add(bad, g, len, "ip4_len", "IPv4 total length 19 < IHL*4 (20)");
	wr16(g + 16, 1500);
	ip4_csum(g + 14);
	m_add(bad, g, len, "ip4_len", "IPv4 total length 1500 beyond the 52 IP bytes present");

	rng_bytes(r, l4, 24);
	len = m_v4(f, &L2_NONE, P_UDP, 8189, l4, 24, 0, 1);
	m_add(bad, f, len, "ip4_frag", "IPv4 last fragment at offset 65512 with 24 bytes: ends "
	      "at 65536");
	len = m_v4(f, &L2_NONE, P_UDP, MF | 8190, l4, 16, 0, 1);
	m_add(bad, f, len, "ip4_frag", "IPv4 fragment (MF) at offset 65520 with 16 bytes: ends "
	      "at 65536");

	/* IPv6 */
	n = m_udp(r, l4, 53, 20);
	len = m_v6(f, NULL, P_UDP, l4, n, 1, 0);
	memcpy(g, f, len);
	g[14] = (uint8_t)((g[14] & 0x0f) | 0x40);
	m_add(bad, g, len, "ip6_version", "ethertype IPv6, IP version 4");
	memcpy(g, f, len);
	wr16(g + 18, 128);
	m_add(bad, g, len, "ip6_len", "IPv6 payload length 128 beyond the 28 bytes present");

	ext6_init(&e);
	ext6_opts(&e, X_HBH, 1);
	ext6_end(&e, P_UDP);
	e.b[2] = 0xc2; /* Jumbo Payload option */
	e.b[3] = 4;
	wr32(e.b + 4, (uint32_t)(8 + n));
	len = m_v6(g, &e, P_UDP, l4, n, 1, 0);
	wr16(g + 18, 0);
	m_add(bad, g, len, "ip6_len", "IPv6 payload length 0 with a hop-by-hop Jumbo Payload "
	      "option (jumbogram)");

	ext6_init(&e);
	ext6_opts(&e, X_DSTOPT, 1);
	ext6_end(&e, P_UDP);
	e.b[1] = 1; /* says 16 bytes */
	len = m_v6(g, &e, P_UDP, l4, 0, 0, 0);
	m_add(bad, g, len, "ip6_ext_trunc", "IPv6 destination options header says 16 bytes, "
	      "payload length 8");
	ext6_init(&e);
	ext6_opts(&e, X_HBH, 1);
	ext6_opts(&e, X_DSTOPT, 1);
	ext6_end(&e, P_UDP);
	e.b[9] = 2; /* second header says 24 bytes */
	len = m_v6(g, &e, P_UDP, l4, 0, 0, 0);
	m_add(bad, g, len, "ip6_ext_trunc", "IPv6 hop-by-hop, then destination options saying "
	      "24 bytes with 8 left in the payload");
	ext6_init(&e);
	ext6_frag(&e, 0, 1, 0x01020304);
	ext6_end(&e, P_UDP);
	e.len = 4; /* the fragment header's second half is missing */
	len = m_v6(g, &e, P_UDP, l4, 0, 0, 0);
	m_add(bad, g, len, "ip6_ext_trunc", "IPv6 fragment header cut to 4 of its 8 bytes");

	ext6_init(&e);
	for (int i = 0; i < 9; i++)
		ext6_opts(&e, X_DSTOPT, 1);
	ext6_end(&e, P_UDP);
	len = m_v6(g, &e, P_UDP, l4, n, 1, 0);
	m_add(bad, g, len, "ip6_ext_chain", "IPv6 chain of 9 destination options headers "
	      "(more than 8)");
	ext6_init(&e);
	ext6_opts(&e, X_DSTOPT, 1);
	ext6_opts(&e, X_HBH, 1);
	ext6_end(&e, P_UDP);
	len = m_v6(g, &e, P_UDP, l4, n, 1, 0);
	m_add(bad, g, len, "ip6_ext_chain", "IPv6 hop-by-hop as the second header, after "
	      "destination options");

	/* TCP */
	n = m_tcp(r, l4, 0, F_ACK);
	len = m_v4(f, &L2_NONE, P_TCP, DF, l4, 10, 0, 0);
	m_add(bad, f, len, "tcp_trunc", "IPv4 total length 30: 10 bytes of TCP header");
	len = m_v4(f, &L2_NONE, P_TCP, DF, l4, 10, 0, 1);
	m_add(bad, f, len, "tcp_trunc", "IPv4 total length 30: 10 bytes of TCP header, frame "
	      "padded to 60 (padding is not TCP)");
	len = m_v6(f, NULL, P_TCP, l4, 10, 0, 0);
	m_add(bad, f, len, "tcp_trunc", "IPv6 payload length 10: 10 bytes of TCP header");
	n = m_tcp(r, l4, 10, F_PSH | F_ACK);
	l4[12] = 3 << 4;
	len = m_v4(f, &L2_NONE, P_TCP, DF, l4, n, 1, 1);
	m_add(bad, f, len, "tcp_doff", "TCP data offset 3 (12 bytes)");
	l4[12] = 15 << 4;
	len = m_v4(f, &L2_NONE, P_TCP, DF, l4, n, 1, 1);
	m_add(bad, f, len, "tcp_doff", "TCP data offset 15 (60 bytes) in a 30-byte segment");
	l4[12] = 4 << 4;
	len = m_v6(f, NULL, P_TCP, l4, n, 1, 0);
	m_add(bad, f, len, "tcp_doff", "IPv6, TCP data offset 4 (16 bytes)");

	/* UDP */
	n = m_udp(r, l4, 53, 20);
	len = m_v4(f, &L2_NONE, P_UDP, 0, l4, 4, 0, 0);
	m_add(bad, f, len, "udp_trunc", "IPv4 total length 24: 4 bytes of UDP header");
	len = m_v4(f, &L2_NONE, P_UDP, 0, l4, 4, 0, 1);
	m_add(bad, f, len, "udp_trunc", "IPv4 total length 24: 4 bytes of UDP header, frame "
	      "padded to 60 (padding is not UDP)");
	wr16(l4 + 4, 4);
	len = m_v4(f, &L2_NONE, P_UDP, 0, l4, n, 1, 0);
	m_add(bad, f, len, "udp_len", "UDP length 4 (< 8)");
	wr16(l4 + 4, 100);
	len = m_v4(f, &L2_NONE, P_UDP, 0, l4, n, 1, 0);
	m_add(bad, f, len, "udp_len", "UDP length 100 beyond the 28-byte datagram");
	wr16(l4 + 4, 7);
	len = m_v6(f, NULL, P_UDP, l4, n, 1, 0);
	m_add(bad, f, len, "udp_len", "IPv6, UDP length 7 (< 8)");

	/* ICMP */
	memset(l4, 0, 8);
	l4[0] = 8;
	len = m_v4(f, &L2_NONE, P_ICMP, 0, l4, 4, 1, 0);
	m_add(bad, f, len, "icmp_trunc", "ICMPv4 echo request with 4 bytes of header");
	l4[0] = 128;
	len = m_v6(f, NULL, P_ICMP6, l4, 4, 1, 0);
	m_add(bad, f, len, "icmp_trunc", "ICMPv6 echo request with 4 bytes of header");

	/* three VLAN tags */
	{
		const struct l2 three = { 3, { ET_QINQ, ET_VLAN, ET_VLAN }, { 200, 100, 300 } };

		n = m_udp(r, l4, 53, 20);
		len = m_v4(f, &three, P_UDP, 0, l4, n, 1, 0);
		m_add(bad, f, len, "vlan_depth", "three VLAN tags (0x88a8 200, 0x8100 100, "
		      "0x8100 300) over IPv4/UDP");
	}
}

/* Valid frames of many shapes, so the counters are checked against more than
 * "everything is bad". */
static void mal_valid(struct rng *r, struct mlist *ok)
{
	uint8_t f[FRAME_MAX] = { 0 }, l4[FRAME_MAX] = { 0 }, opt[40] = { 0 }, dg[8 + 1600];
	struct ext6 e;
	size_t n, len;

	len = arp_frame(f, 1, MAC_BCAST, MAC_CLI, (const uint8_t[]){ 198, 51, 100, 254 }, NULL,
			IP_SRV_GW);
	m_add(ok, f, len, "ok", "ARP request (not IP, not malformed)");

	n = put_tcp(l4, 40001, 443, 7000, 0, F_SYN, 64240, opt, syn_opts(opt, 1460));
	len = m_v4(f, &L2_NONE, P_TCP, DF, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "IPv4 TCP SYN with MSS, window scale and SACK options");
	n = m_tcp(r, l4, 0, F_ACK);
	len = m_v4(f, &L2_NONE, P_TCP, DF, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "IPv4 TCP ACK, 54 bytes padded to 60");
	len = m_v4(f, &L2_NONE, P_TCP, DF, l4, n, 1, 0);
	m_add(ok, f, len, "ok", "IPv4 TCP ACK without padding (54-byte frame)");
	n = m_udp(r, l4, 53, 40);
	dns_query(r, l4 + 8, 40);
	len = m_v4(f, &L2_NONE, P_UDP, 0, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "IPv4 UDP DNS query");
	memset(l4, 0, 8);
	l4[0] = 8;
	wr16(l4 + 4, 77);
	wr16(l4 + 6, 1);
	rng_bytes(r, l4 + 8, 56);
	len = m_v4(f, &L2_NONE, P_ICMP, 0, l4, 64, 1, 1);
	m_add(ok, f, len, "ok", "ICMPv4 echo request");

	opt[0] = 0x94; /* router alert */
	opt[1] = 4;
	opt[2] = 0;
	opt[3] = 0;
	n = m_udp(r, l4, 53, 20);
	len = m_v4_opts(f, opt, 4, P_UDP, l4, n);
	m_add(ok, f, len, "ok", "IPv4 IHL 6 (router alert option) UDP");
	memset(opt, 1, 39);
	opt[39] = 0;
	n = m_tcp(r, l4, 8, F_PSH | F_ACK);
	len = m_v4_opts(f, opt, 40, P_TCP, l4, n);
	m_add(ok, f, len, "ok", "IPv4 IHL 15 (40 bytes of options) TCP");

	/* a 1608-byte UDP datagram in two IPv4 fragments */
	put_udp(dg, 40002, 53, 1600);
	rng_bytes(r, dg + 8, 1600);
	l4_csum(4, M_CLI4, IP_DNS, P_UDP, dg, sizeof(dg));
	len = m_v4(f, &L2_NONE, P_UDP, MF, dg, 1480, 0, 1);
	m_add(ok, f, len, "ok", "IPv4 first fragment: UDP length 1608 is the datagram's, "
	      "longer than this fragment");
	len = m_v4(f, &L2_NONE, P_UDP, 1480 / 8, dg + 1480, sizeof(dg) - 1480, 0, 1);
	m_add(ok, f, len, "ok", "IPv4 last fragment at offset 1480 (no L4 header)");
	rng_bytes(r, l4, 23);
	len = m_v4(f, &L2_NONE, P_UDP, 8189, l4, 23, 0, 1);
	m_add(ok, f, len, "ok", "IPv4 last fragment at offset 65512 with 23 bytes: ends at "
	      "65535 exactly");
	n = put_tcp(l4, 40003, 443, 9000, 0, F_SYN, 64240, opt, syn_opts(opt, 1440));
	len = m_v6(f, NULL, P_TCP, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "IPv6 TCP SYN");

	ext6_init(&e);
	ext6_opts(&e, X_HBH, 1);
	ext6_routing(&e, IP6_WEB);
	ext6_opts(&e, X_DSTOPT, 2);
	ext6_end(&e, P_UDP);
	n = m_udp(r, l4, 53, 20);
	len = m_v6(f, &e, P_UDP, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "IPv6 hop-by-hop, routing (type 2), destination options "
	      "(16 bytes), UDP");
	ext6_init(&e);
	for (int i = 0; i < 8; i++)
		ext6_opts(&e, X_DSTOPT, 1);
	ext6_end(&e, P_UDP);
	len = m_v6(f, &e, P_UDP, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "IPv6 chain of 8 destination options headers (the limit), UDP");

	l4_csum(6, M_CLI6, IP6_DNS, P_UDP, dg, sizeof(dg));
	ext6_init(&e);
	ext6_frag(&e, 0, 1, 0xabcdef01);
	ext6_end(&e, P_UDP);
	len = m_v6(f, &e, P_UDP, dg, 1448, 0, 1);
	m_add(ok, f, len, "ok", "IPv6 first fragment (UDP header inside)");
	ext6_init(&e);
	ext6_frag(&e, 1448 / 8, 0, 0xabcdef01);
	ext6_end(&e, P_UDP);
	len = m_v6(f, &e, P_UDP, dg + 1448, sizeof(dg) - 1448, 0, 1);
	m_add(ok, f, len, "ok", "IPv6 last fragment at offset 1448");
	ext6_init(&e);
	ext6_frag(&e, 0, 0, 0x55aa55aa);
	ext6_end(&e, P_UDP);
	len = m_v6(f, &e, P_UDP, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "IPv6 atomic fragment (offset 0, M=0, RFC 6946), UDP");
	ext6_init(&e);
	ext6_opts(&e, X_DSTOPT, 1);
	ext6_end(&e, X_NONE);
	len = m_v6(f, &e, X_NONE, l4, 0, 0, 1);
	m_add(ok, f, len, "ok", "IPv6 destination options, then No Next Header");
	n = m_udp(r, l4, 53, 0);
	len = m_v6(f, NULL, P_UDP, l4, n, 1, 0);
	m_add(ok, f, len, "ok", "IPv6 UDP with an empty payload (62 bytes)");

	n = m_tcp(r, l4, 30, F_PSH | F_ACK);
	len = m_v4(f, &L2_VLAN, P_TCP, DF, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "VLAN 100 IPv4 TCP");
	n = m_udp(r, l4, 53, 30);
	len = m_v4(f, &L2_QINQ, P_UDP, 0, l4, n, 1, 1);
	m_add(ok, f, len, "ok", "QinQ (0x88a8 200, 0x8100 100) IPv4 UDP");
	{
		const struct l2 q9100 = { 2, { 0x9100, ET_VLAN }, { 300, 100 } };

		len = m_v4(f, &q9100, P_UDP, 0, l4, n, 1, 1);
		m_add(ok, f, len, "ok", "QinQ (0x9100 300, 0x8100 100) IPv4 UDP");
	}

	/* ICMP errors */
	memset(l4, 0, 36);
	l4[0] = 3;
	l4[1] = 4;
	wr16(l4 + 6, 1280);
	l4[8] = 0x45;
	wr16(l4 + 10, 1440);
	wr16(l4 + 14, DF);
	l4[16] = 63;
	l4[17] = P_TCP;
	memcpy(l4 + 20, IP_WEB, 4);
	memcpy(l4 + 24, M_CLI4, 4);
	ip4_csum(l4 + 8);
	wr16(l4 + 28, 443);
	wr16(l4 + 30, 40000);
	wr32(l4 + 32, 123456);
	len = m_v4(f, &L2_NONE, P_ICMP, 0, l4, 36, 1, 1);
	m_add(ok, f, len, "ok", "ICMPv4 frag needed quoting 192.0.2.10:443 -> "
	      "198.51.100.7:40000 TCP (quoted total length 1440, 28 bytes quoted)");
	len = m_v4(f, &L2_NONE, P_ICMP, 0, l4, 18, 1, 1);
	m_add(ok, f, len, "ok", "ICMPv4 destination unreachable with a 10-byte quote (too "
	      "short to use, not malformed)");
	memset(l4, 0, 56);
	l4[0] = 2; /* packet too big */
	wr32(l4 + 4, 1280);
	wr32(l4 + 8, 0x60000000);
	wr16(l4 + 12, 1452);
	l4[14] = P_UDP;
	l4[15] = 64;
	memcpy(l4 + 16, IP6_DNS, 16);
	memcpy(l4 + 32, M_CLI6, 16);
	wr16(l4 + 48, 53);
	wr16(l4 + 50, 40000);
	wr16(l4 + 52, 1452);
	len = m_v6(f, NULL, P_ICMP6, l4, 56, 1, 1);
	m_add(ok, f, len, "ok", "ICMPv6 packet too big quoting [2001:db8::53]:53 -> "
	      "[2001:db8:1::7]:40000 UDP");
	memset(l4, 0, 24);
	l4[0] = 135;
	memcpy(l4 + 8, IP6_WEB, 16);
	len = m_v6(f, NULL, P_ICMP6, l4, 24, 1, 1);
	m_add(ok, f, len, "ok", "ICMPv6 neighbour solicitation");

	memset(l4, 0, 4);
	wr16(l4 + 2, ET_IP4);
	rng_bytes(r, l4 + 4, 40);
	len = m_v4(f, &L2_NONE, 47, 0, l4, 44, 0, 1);
	m_add(ok, f, len, "ok", "IPv4 GRE (protocol 47: no ports, not malformed)");
}

/* The cases of malformed.pcap: bad ones with their reasons, valid ones. */
static void mal_cases(struct rng *r, struct mlist *bad, struct mlist *ok)
{
	mal_truncations(r, bad);
	mal_headers(r, bad);
	mal_valid(r, ok);
}

static void gen_malformed(const struct mlist *bad, const struct mlist *ok,
			  const char *pcap_path, const char *json_path)
{
	json_t *j = json_object(), *by = json_object(), *cases = json_array();
	pcap_t *pd;
	pcap_dumper_t *d;
	size_t ib = 0, iv = 0, idx = 0;

	d = dump_open(&pd, pcap_path, NULL);
	/* one valid frame after every three malformed ones */
	while (ib < bad->n || iv < ok->n) {
		const struct mcase *c = (iv < ok->n && (ib >= bad->n || (idx + 1) % 4 == 0)) ?
					&ok->c[iv++] : &bad->c[ib++];
		json_t *o = json_object();

		dump_one(d, (uint64_t)idx * 1000, c->f, (uint32_t)c->len);
		json_object_set_new(o, "index", json_integer((json_int_t)idx));
		json_object_set_new(o, "reason", json_string(c->reason));
		json_object_set_new(o, "len", json_integer((json_int_t)c->len));
		json_object_set_new(o, "what", json_string(c->what));
		json_array_append_new(cases, o);
		idx++;
	}
	dump_close(pd, d, pcap_path);
	for (size_t i = 1; i < N_BAD; i++) {
		size_t k = 0;

		for (size_t b = 0; b < bad->n; b++)
			k += bad->c[b].reason == bad_names[i];
		if (k == 0)
			die("internal: no malformed case for %s", bad_names[i]);
		json_object_set_new(by, bad_names[i], json_integer((json_int_t)k));
	}
	json_object_set_new(j, "packets", json_integer((json_int_t)idx));
	json_object_set_new(j, "valid", json_integer((json_int_t)ok->n));
	json_object_set_new(j, "malformed", json_integer((json_int_t)bad->n));
	json_object_set_new(j, "by_reason", by);
	json_object_set_new(j, "cases", cases);
	json_write(j, json_path);
	json_decref(j);
}

/* One copy of every malformed case in demo.pcap, so the demo shows the
 * counters by reason.  The cases go in a shuffled order into as many equal
 * slots of demo.pcap's time span, each at a random time inside its slot: they
 * arrive one by one between real packets, all over the capture. */
static void demo_add_malformed(struct gen *g, const struct mlist *bad)
{
	size_t n = bad->n, *order;
	uint64_t t0 = UINT64_MAX, t1 = 0, slot;

	if (n == 0 || g->demo.n == 0)
		die("internal: no malformed cases or no demo packets");
	order = xrealloc(NULL, n * sizeof(*order));
	for (size_t i = 0; i < g->demo.n; i++) {
		uint64_t t = g->demo.r[i].t_us;

		t0 = t < t0 ? t : t0;
		t1 = t > t1 ? t : t1;
	}
	slot = (t1 - t0) / n;
	if (slot == 0 || slot > UINT32_MAX)
		die("internal: demo time span %" PRIu64 " us does not fit %zu slots", t1 - t0, n);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_below(&g->r, (uint32_t)(i + 1)), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (size_t i = 0; i < n; i++) {
		const struct mcase *c = &bad->c[order[i]];
		uint64_t t = t0 + i * slot + rng_below(&g->r, (uint32_t)slot);
		struct rec *r = sink_add(&g->demo, t, c->f, c->len);

		r->bad = c->bad;
	}
	free(order);
}

/* ---- bench mode ---- */

/* A bijection on 24 bits (0 -> 0), so that consecutive flows get scattered
 * sources. */
static uint32_t mix24(uint32_t x)
{
	x = (x * 0x5bd1e9u) & 0xffffff;
	x ^= x >> 11;
	x = (x * 0x2c1b3du) & 0xffffff;
	x ^= x >> 13;
	return x;
}

static void gen_bench(uint64_t flows, uint64_t seed, const char *path)
{
	uint8_t f[ETH_MIN];
	struct ip ip = { 0 };
	struct rng r;
	uint8_t src[4] = { 10 }, tcp[20];
	FILE *fp = fopen(path, "wb");
	pcap_dumper_t *d;
	pcap_t *pd;
	size_t l3;

	if (!fp)
		die("%s: cannot create: %s", path, strerror(errno));
	if (setvbuf(fp, NULL, _IOFBF, 1 << 22) != 0)
		die("%s: setvbuf failed", path);
	d = dump_open(&pd, path, fp);
	rng_seed(&r, seed);
	ip.fam = 4;
	ip.proto = P_TCP;
	ip.ttl = 64;
	ip.frag = DF;
	ip.src = src;
	ip.dst = IP_WEB;
	l3 = put_eth(f, MAC_SRV, MAC_CLI, &L2_NONE, ET_IP4);
	memset(f + l3, 0, ETH_MIN - l3);
	for (uint64_t i = 0; i < flows; i++) {
		uint32_t low = (uint32_t)(i & 0xffffff), a = mix24((low + 1) & 0xffffff);
		/* flows sharing a source (i >= 2^24) differ in (i >> 24) */
		uint16_t sport = (uint16_t)(1024 + ((i >> 24) + (low * 2654435761u >> 8)) % 64512);
		uint64_t x = rng_next(&r);

		src[1] = (uint8_t)(a >> 16);
		src[2] = (uint8_t)(a >> 8);
		src[3] = (uint8_t)a;
		ip.id = (uint16_t)i;
		put_tcp(tcp, sport, 443, (uint32_t)x, (uint32_t)(x >> 32), F_ACK, 502, NULL, 0);
		put_ip(f + l3, &ip, 20);
		l4_csum(4, src, IP_WEB, P_TCP, tcp, 20);
		memcpy(f + l3 + 20, tcp, 20);
		dump_one(d, i, f, ETH_MIN);
	}
	dump_close(pd, d, path);
}

/* ---- main ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " GEN_NAME " [--seed N] OUTDIR\n"
		"       " GEN_NAME " --bench FLOWS [--seed N] FILE\n"
		"  OUTDIR gets demo.pcap, return.pcap, malformed.pcap, malformed.json,\n"
		"  manifest.json; FILE gets FLOWS 60-byte IPv4 TCP frames, one per flow.\n"
		"  Same seed (default 1), same bytes.\n");
}

static void path_join(char *buf, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size)
		die("%s: path too long", dir);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	if (!s) {
		fprintf(stderr, GEN_NAME ": %s needs a value\n", opt);
		exit(2);
	}
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		goto bad;
	return v;
bad:
	fprintf(stderr, GEN_NAME ": %s: expected an integer from %" PRIu64 " to %" PRIu64
		", got \"%s\"\n", opt, min, max, s);
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, flows = 0;
	const char *out = NULL;
	char path[4096], jpath[4096];
	struct gen g;
	struct rng mr;
	struct mlist bad = { 0 }, ok = { 0 };
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed")) {
			seed = parse_u64("--seed", i + 1 < argc ? argv[++i] : NULL, 0, UINT64_MAX);
		} else if (!strcmp(argv[i], "--bench")) {
			flows = parse_u64("--bench", i + 1 < argc ? argv[++i] : NULL, 1,
					  BENCH_MAX_FLOWS);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, GEN_NAME ": unknown option \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		} else if (out) {
			fprintf(stderr, GEN_NAME ": one output path expected, got \"%s\" and "
				"\"%s\"\n", out, argv[i]);
			return 2;
		} else {
			out = argv[i];
		}
	}
	if (!out) {
		usage(stderr);
		return 2;
	}
	if (flows) {
		gen_bench(flows, seed, out);
		return 0;
	}
	if (mkdir(out, 0755) != 0 && errno != EEXIST)
		die("%s: cannot create directory: %s", out, strerror(errno));
	if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
		die("%s: not a directory", out);

	memset(&g, 0, sizeof(g));
	rng_seed(&g.r, seed);
	set_init(&g.used4, 15);
	set_init(&g.used6, 12);
	gen_web(&g, 4);
	gen_web(&g, 6);
	gen_port_reuse(&g);
	gen_dns(&g);
	gen_frags(&g);
	gen_other(&g);
	/* its own stream, so that changing the demo leaves malformed.pcap alone */
	rng_seed(&mr, seed ^ 0x6d616c666f726d64ull);
	mal_cases(&mr, &bad, &ok);
	/* last on g.r, so that the demo's real traffic stays as it was */
	demo_add_malformed(&g, &bad);

	path_join(path, sizeof(path), out, "demo.pcap");
	sink_write(&g.demo, path);
	path_join(path, sizeof(path), out, "return.pcap");
	sink_write(&g.ret, path);
	path_join(path, sizeof(path), out, "manifest.json");
	write_manifest(&g, seed, path);
	path_join(path, sizeof(path), out, "malformed.pcap");
	path_join(jpath, sizeof(jpath), out, "malformed.json");
	gen_malformed(&bad, &ok, path, jpath);
	free(bad.c);
	free(ok.c);
	sink_free(&g.demo);
	sink_free(&g.ret);
	free(g.used4.v);
	free(g.used6.v);
	return 0;
}
