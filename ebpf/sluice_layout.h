/* sluice shared table layout.
 *
 * One definition of the decision tables, read by the dataplane and written by
 * whoever publishes them: the INI loader today, the control daemon through
 * pinned BPF array maps next.  Only fixed-width types and fixed-size arrays so
 * that the BPF object (clang -target bpf), the daemon and the dataplane agree
 * byte for byte.  Any change to a struct below must bump SL_LAYOUT_VERSION:
 * both sides refuse to attach to a different version.
 */
#ifndef SLUICE_LAYOUT_H
#define SLUICE_LAYOUT_H

/* Fixed-width types: the kernel's in the BPF object, <stdint.h>'s in C
 * (same sizes; uint64_t and __u64 are different types to a C compiler). */
#ifdef __bpf__
#include <linux/types.h>
typedef __u8 sl_u8;
typedef __u16 sl_u16;
typedef __u32 sl_u32;
typedef __u64 sl_u64;
#else
#include <stdint.h>
typedef uint8_t sl_u8;
typedef uint16_t sl_u16;
typedef uint32_t sl_u32;
typedef uint64_t sl_u64;
#endif

#define SL_LAYOUT_VERSION 6u

#define SL_MAX_PORTS     16   /* port indexes fit a 16-bit output mask */
#define SL_MAX_SERVICES  128
#define SL_MAX_GROUPS    32
#define SL_MAX_MEMBERS   256  /* per group, mac mode */
#define SL_MAX_RANGES    16   /* destination port ranges per service */
#define SL_MAGLEV_MAX    65537u /* largest Maglev table (a prime) */
#define SL_VIP_SLOTS     512u /* open-addressing index of service VIPs, 2^n */
#define SL_NAME_LEN      32

#define SL_MAX_WORKERS   64   /* worker lcores of one dataplane */
#define SL_MAX_SHADOWS   16   /* shadow rules (a 16-bit mask per service) */
#define SL_FILTER_LEN    256  /* pcap-filter expression of a shadow rule */
#define SL_MAX_BAD       24   /* malformed-reason counters (>= SL_BAD__COUNT) */

#define SL_SHARE_MAX_BP  10000u /* 100 % in basis points */

/* Slices: named parts of a service's flows (by client source prefixes
 * and/or a pcap-filter on the flow's first packet), counted apart. */
#define SL_MAX_SLICES         64 /* slice slots of a table, all services */
#define SL_SLICES_PER_SERVICE 8  /* a flow's slice mask is 8 bits */
#define SL_SLICE_PREFIXES     8  /* src prefixes of one slice */

/* Latency histograms: 4 buckets per octave of microseconds.  Bucket 0
 * holds 0 us; bucket k >= 1 holds [sl_hist_edge(k), sl_hist_edge(k + 1));
 * the last bucket holds everything from its edge up (12.6 s). */
#define SL_HIST_BUCKETS 96

enum sl_port_role { SL_ROLE_CLIENT = 0, SL_ROLE_BACKEND = 1, SL_ROLE_SHADOW = 2 };
enum sl_group_mode { SL_MODE_PORT = 0, SL_MODE_MAC = 1 };

struct sl_port_range {
	sl_u16 lo;
	sl_u16 hi; /* inclusive */
};

/* One service: a match on (family, proto, vip, dst port) and its split. */
struct sl_service_rec {
	sl_u8 family;     /* 4 or 6 */
	sl_u8 proto;      /* IPPROTO_TCP or IPPROTO_UDP */
	sl_u8 champion;   /* group index */
	sl_u8 challenger; /* group index */
	sl_u16 share_bp;  /* challenger share of new flows, 0..10000 */
	sl_u16 nranges;
	sl_u32 reset_gen; /* flows decided by an older generation are re-decided */
	sl_u16 shadow_mask; /* shadow rules of this service (bit r = shadows[r]) */
	sl_u16 pad0;
	sl_u8 vip[16];    /* IPv4 in the first 4 bytes, rest zero */
	struct sl_port_range ranges[SL_MAX_RANGES];
	char name[SL_NAME_LEN];
};

/* A backend group; in mac mode the member is picked by a Maglev table. */
struct sl_group_rec {
	sl_u8 port;       /* port index the group's traffic leaves on */
	sl_u8 mode;       /* enum sl_group_mode */
	sl_u16 nmembers;  /* 0 in port mode */
	sl_u32 maglev_size; /* prime, entries used in maglev[] */
	char name[SL_NAME_LEN];
	sl_u8 macs[SL_MAX_MEMBERS][6];
	sl_u16 maglev[SL_MAGLEV_MAX]; /* member index per Maglev slot */
	sl_u16 pad0[3]; /* size a multiple of 8: an array map's element stride */
};

/* A shadow rule: packets of a sample of the service's flows that pass the
 * filter are copied to a shadow port.  The copy never delays or replaces
 * the original. */
struct sl_shadow_rec {
	char name[SL_NAME_LEN];
	sl_u8 service;      /* service index */
	sl_u8 port;         /* port index (role shadow) */
	sl_u8 has_mac;      /* 1: the copy's destination MAC becomes mac */
	sl_u8 pad0;
	sl_u16 sample_bp;   /* share of the service's flows, 0..10000 */
	sl_u8 mac[6];
	sl_u64 seed;        /* flow sampling seed: from hash_seed and the rule's name,
	                       so a flow's sampling survives other rules' changes */
	char filter[SL_FILTER_LEN]; /* pcap-filter expression, "" = every packet */
};

struct sl_prefix {
	sl_u8 addr[16];  /* IPv4 in the first 4 bytes, rest zero; bits past len zero */
	sl_u8 family;    /* 4 or 6 */
	sl_u8 len;       /* prefix length in bits */
	sl_u8 pad[2];
};

/* A slice: flows of the service whose client source address is in one of
 * src[] (nprefixes 0: any) and whose first packet passes filter ("": any).
 * Decided once per flow, at its first packet; kept in the flow entry as
 * bit `bit` of its slice mask. */
struct sl_slice_rec {
	char name[SL_NAME_LEN]; /* "": free slot */
	sl_u8 service;          /* service index */
	sl_u8 bit;              /* 0..SL_SLICES_PER_SERVICE-1, unique per service */
	sl_u8 nprefixes;
	sl_u8 pad0;
	struct sl_prefix src[SL_SLICE_PREFIXES];
	char filter[SL_FILTER_LEN];
};

/* Everything but the groups' member tables: one cache-friendly block that
 * the per-packet path touches (services, VIP index). */
struct sl_table_hdr {
	sl_u32 layout_version; /* SL_LAYOUT_VERSION */
	sl_u32 gen;            /* table generation, strictly increasing */
	sl_u16 nservices;
	sl_u16 ngroups;
	sl_u32 pad0;
	sl_u64 seed_flow;      /* hash seeds: same configuration, same decisions */
	sl_u64 seed_group;
	sl_u64 seed_member;
	/* The ports the group records refer to, by index: a dataplane whose
	 * configuration names other ports refuses the table. */
	sl_u16 nports;
	sl_u16 pad1[3];
	char port_names[SL_MAX_PORTS][SL_NAME_LEN];
	/* VIP index: linear probing on sl_vip_hash(); value = service index + 1,
	 * 0 = empty.  Services are inserted in index order, so for one VIP the
	 * lowest service index is met first. */
	sl_u8 vip_index[SL_VIP_SLOTS];
	struct sl_service_rec services[SL_MAX_SERVICES];
	/* Shadow rules.  shadow_gen is the generation at which the rule set last
	 * changed: a dataplane compiles the filters once per shadow_gen. */
	sl_u16 nshadows;
	sl_u16 pad2;
	sl_u32 shadow_gen;
	struct sl_shadow_rec shadows[SL_MAX_SHADOWS];
	/* Slices, in slots 0..nslices-1 (a slot keeps its index while its
	 * name exists: counters are per slot).  Their filters are compiled
	 * with the shadow rules' (one set per shadow_gen: a change to either
	 * moves shadow_gen). */
	sl_u16 nslices;
	sl_u16 pad3[3];
	struct sl_slice_rec slices[SL_MAX_SLICES];
};

/* Which slot is live.  Written last by the publisher (release order), read
 * once per burst by each worker (acquire order). */
struct sl_control {
	sl_u32 layout_version;
	sl_u32 active_slot; /* 0 or 1 */
	sl_u32 gen;         /* generation of the active slot */
	sl_u32 pad0;
};

/* Where each worker says which generation it uses: written once per burst
 * by the worker (its own cache line), read by the publisher. */
struct sl_worker_ack {
	sl_u32 gen;
	sl_u32 pad[15];
};

/* The attached dataplane.  Written by the dataplane at attach and exit. */
struct sl_dp_info {
	sl_u32 layout_version;
	sl_u32 nworkers;  /* 0: no dataplane attached */
	sl_u32 pid;
	sl_u32 nports;
	sl_u64 attach_ns; /* CLOCK_REALTIME */
	sl_u64 worker_cpus; /* CPUs the workers poll on (bit n = CPU n, n < 64) */
	sl_u32 shadow_ready_gen; /* shadow_gen whose filters the dataplane has compiled */
	sl_u32 pad0;
	sl_u64 pid_start; /* pid's start time (clock ticks since boot, /proc/PID/stat field
			     22): a pid reused by another process is not the dataplane;
			     0: not known (only the pid is checked) */
	sl_u64 port_dev_ns; /* CLOCK_REALTIME of the last port_dev read (0: none yet) */
	sl_u8 pad[8];
	struct sl_worker_ack ack[SL_MAX_WORKERS];
	/* What the ports' own counters say (rte_eth_stats), read by the
	 * dataplane's main thread about once a second: what the device lost
	 * before a worker saw it.  Since the port started; by port index. */
	struct sl_port_dev {
		sl_u64 rx_missed;  /* imissed: the RX ring was full */
		sl_u64 rx_errors;  /* ierrors: bad frames */
		sl_u64 rx_nombuf;  /* no mbuf for a received frame */
		sl_u64 tx_errors;  /* oerrors */
	} port_dev[SL_MAX_PORTS];
};

/* Counters, per worker (one writer each, plain increments; readers sum).
 * The dataplane keeps them in the `stats` map when attached, on the heap
 * otherwise. */
struct sl_grp_counters {
	sl_u64 pkts;        /* client -> server packets sent to the group */
	sl_u64 bytes;
	sl_u64 flows;       /* new flows decided for the group */
	sl_u64 active;      /* flows tracked now (inserted - expired) */
	sl_u64 ret_pkts;    /* server -> client packets from the group */
	sl_u64 ret_bytes;
	sl_u64 ret_rst;     /* TCP RSTs from the group's backends */
	sl_u64 ret_synack;  /* SYN-ACKs from the group's backends */
} __attribute__((aligned(64)));

/* Evidence of one service (or slice) and role: per-flow events, each
 * counted once per flow, and latency histograms (SL_HIST_BUCKETS). */
enum sl_ev_role { SL_EV_CHAMPION = 0, SL_EV_CHALLENGER = 1 };

struct sl_ev_cell {
	sl_u64 flows;      /* new flows decided for the group (exposures) */
	sl_u64 hs_ok;      /* SYN-ACK from the backend within handshake_timeout */
	sl_u64 hs_fail;    /* no SYN-ACK within handshake_timeout (the SYN
			      retransmitted, answered late, refused by RST or
			      ICMP, or the entry expired) */
	sl_u64 rst;        /* flows reset by the backend side */
	sl_u64 icmp;       /* flows that got an ICMP/ICMPv6 unreachable from
			      the backend side */
	sl_u64 ttfb_flows; /* flows whose TTFB was measured */
	sl_u64 pad[2];
	sl_u64 hs_us[SL_HIST_BUCKETS];   /* SYN -> SYN-ACK, first SYN to answer */
	sl_u64 ttfb_us[SL_HIST_BUCKETS]; /* client's first data -> server's first data */
} __attribute__((aligned(64)));

/* The role is the flow's group at the event: the champion or challenger
 * of the service in the table the worker uses (a flow of a third group is
 * not counted). */
struct sl_evidence {
	struct sl_ev_cell svc[SL_MAX_SERVICES][2];  /* [service][enum sl_ev_role] */
	struct sl_ev_cell slice[SL_MAX_SLICES][2];  /* [slice slot][role] */
};

struct sl_counters {
	sl_u64 port_rx[SL_MAX_PORTS];
	sl_u64 port_tx[SL_MAX_PORTS];
	sl_u64 port_drop[SL_MAX_PORTS];  /* TX queue full: dropped, counted */
	sl_u64 malformed[SL_MAX_BAD];    /* by reason (enum sl_bad; [0] unused) */
	sl_u64 malformed_fwd;            /* malformed, forwarded by the rule */
	sl_u64 malformed_drop;           /* malformed, dropped by the rule */
	sl_u64 other_fwd;                /* matched no service, forwarded */
	sl_u64 other_drop;               /* matched no service, dropped by rule */
	sl_u64 shadow_rx_drop;           /* received on a shadow port */
	sl_u64 ft_full;                  /* new flow not tracked: stateless decision */
	sl_u64 redecided;                /* flows decided again (port reuse after
	                                   close, --reset, expired) */
	sl_u64 expired;                  /* entries removed by the sweep */
	sl_u64 ret_untracked;            /* return packets of no tracked flow */
	struct sl_shadow_counters {
		sl_u64 flows;   /* new flows whose first packet was mirrored */
		sl_u64 pkts;    /* packets selected for a copy */
		sl_u64 drops;   /* of those, copies not sent (no mbuf, shadow queue
		                   full): the original is never held back */
		sl_u64 pending; /* sampled packets not evaluated: filters of this
		                   rule set not compiled yet */
	} shadow[SL_MAX_SHADOWS];
	struct sl_grp_counters grp[SL_MAX_SERVICES][SL_MAX_GROUPS];
	struct sl_evidence ev;
};

#ifndef __bpf__
/* Client -> server packets of service s: each is counted in the pkts of
 * the group it went to (the dataplane keeps no other count of them). */
static inline sl_u64 sl_svc_pkts(const struct sl_counters *c, unsigned s)
{
	sl_u64 n = 0;

	for (unsigned g = 0; g < SL_MAX_GROUPS; g++)
		n += c->grp[s][g].pkts;
	return n;
}

/* Histogram bucket of a latency in microseconds, and a bucket's lower edge. */
static inline unsigned sl_hist_bucket(sl_u64 us)
{
	unsigned l, sub, k;

	if (us == 0)
		return 0;
	l = 63u - (unsigned)__builtin_clzll(us);
	sub = l >= 2 ? (unsigned)(us >> (l - 2)) & 3u : (unsigned)(us << (2 - l)) & 3u;
	k = 1u + 4u * l + sub;
	return k < SL_HIST_BUCKETS ? k : SL_HIST_BUCKETS - 1;
}

static inline sl_u64 sl_hist_edge(unsigned k)
{
	unsigned l, sub;

	if (k == 0)
		return 0;
	l = (k - 1) / 4;
	sub = (k - 1) % 4;
	return ((sl_u64)(4 + sub) << l) >> 2;
}
#endif

#endif
