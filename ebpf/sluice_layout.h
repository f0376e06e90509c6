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

#include <linux/types.h>

#define SL_LAYOUT_VERSION 1u

#define SL_MAX_PORTS     16   /* port indexes fit a 16-bit output mask */
#define SL_MAX_SERVICES  128
#define SL_MAX_GROUPS    32
#define SL_MAX_MEMBERS   256  /* per group, mac mode */
#define SL_MAX_RANGES    16   /* destination port ranges per service */
#define SL_MAGLEV_MAX    65537u /* largest Maglev table (a prime) */
#define SL_VIP_SLOTS     512u /* open-addressing index of service VIPs, 2^n */
#define SL_NAME_LEN      32

#define SL_SHARE_MAX_BP  10000u /* 100 % in basis points */

enum sl_port_role { SL_ROLE_CLIENT = 0, SL_ROLE_BACKEND = 1, SL_ROLE_SHADOW = 2 };
enum sl_group_mode { SL_MODE_PORT = 0, SL_MODE_MAC = 1 };

struct sl_port_range {
	__u16 lo;
	__u16 hi; /* inclusive */
};

/* One service: a match on (family, proto, vip, dst port) and its split. */
struct sl_service_rec {
	__u8 family;     /* 4 or 6 */
	__u8 proto;      /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 champion;   /* group index */
	__u8 challenger; /* group index */
	__u16 share_bp;  /* challenger share of new flows, 0..10000 */
	__u16 nranges;
	__u32 reset_gen; /* flows decided by an older generation are re-decided */
	__u32 pad0;
	__u8 vip[16];    /* IPv4 in the first 4 bytes, rest zero */
	struct sl_port_range ranges[SL_MAX_RANGES];
	char name[SL_NAME_LEN];
};

/* A backend group; in mac mode the member is picked by a Maglev table. */
struct sl_group_rec {
	__u8 port;       /* port index the group's traffic leaves on */
	__u8 mode;       /* enum sl_group_mode */
	__u16 nmembers;  /* 0 in port mode */
	__u32 maglev_size; /* prime, entries used in maglev[] */
	char name[SL_NAME_LEN];
	__u8 macs[SL_MAX_MEMBERS][6];
	__u16 maglev[SL_MAGLEV_MAX]; /* member index per Maglev slot */
	__u16 pad0;
};

/* Everything but the groups' member tables: one cache-friendly block that
 * the per-packet path touches (services, VIP index). */
struct sl_table_hdr {
	__u32 layout_version; /* SL_LAYOUT_VERSION */
	__u32 gen;            /* table generation, strictly increasing */
	__u16 nservices;
	__u16 ngroups;
	__u32 pad0;
	__u64 seed_flow;      /* hash seeds: same configuration, same decisions */
	__u64 seed_group;
	__u64 seed_member;
	/* VIP index: linear probing on sl_vip_hash(); value = service index + 1,
	 * 0 = empty.  Services are inserted in index order, so for one VIP the
	 * lowest service index is met first. */
	__u8 vip_index[SL_VIP_SLOTS];
	struct sl_service_rec services[SL_MAX_SERVICES];
};

/* Which slot is live.  Written last by the publisher (release order), read
 * once per burst by each worker (acquire order). */
struct sl_control {
	__u32 layout_version;
	__u32 active_slot; /* 0 or 1 */
	__u32 gen;         /* generation of the active slot */
	__u32 pad0;
};

#endif
