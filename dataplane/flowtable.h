/* Per-lcore flow table: open addressing with linear probing over one
 * cache line per entry, no locks (one writer), no allocation after create.
 *
 * Expired entries are reused in place by lookups and removed by an
 * incremental sweep (backward-shift deletion, no tombstones). */
#ifndef SLUICE_FLOWTABLE_H
#define SLUICE_FLOWTABLE_H

#include <stdint.h>

#include "hash.h"
#include "../ebpf/sluice_layout.h"

/* Flow state bits. */
#define SL_FS_TCP   0x01 /* TCP flow: state bits below are tracked */
#define SL_FS_SYN   0x02 /* SYN seen from the client */
#define SL_FS_EST   0x04 /* traffic seen after the SYN, or picked up mid-stream */
#define SL_FS_FIN_C 0x08 /* FIN from the client */
#define SL_FS_FIN_S 0x10 /* FIN from the server */
#define SL_FS_RST   0x20 /* RST from either side */
#define SL_FS_RST_S 0x40 /* RST from the server (with SL_FS_RST): counted as
			  * evidence when it is set; no timeout of its own */
#define SL_FS_USED  0x80 /* entry in use */

/* The byte `gev` of an entry: its group and its evidence flags. */
#define SL_FLOW_GROUP 0x1f /* group index (SL_MAX_GROUPS 32) */
#define SL_EV_PHASE   0x60 /* timing phase: */
#define SL_EV_IDLE    0x00 /*   the client's next data starts the TTFB timer
			    *   (a new UDP flow, or a TCP handshake just done) */
#define SL_EV_SYNACK  0x20 /*   SYN seen at t0_us, awaiting the SYN-ACK */
#define SL_EV_DATA    0x40 /*   client data seen at t0_us, awaiting the server's */
#define SL_EV_DONE    0x60 /*   nothing more to time (also mid-stream pickups) */
#define SL_EV_ICMP    0x80 /* an ICMP unreachable from the backend was counted */

/* One cache line per flow.  The key's two pad bytes hold the slice mask
 * and gev in a stored entry: key_eq ignores them (the lookup key's pad
 * stays zero and the hash never covers a stored key). */
struct sl_flow {
	union {
		struct sl_key key; /* 40 */
		struct {
			uint8_t key_bytes_[38]; /* the key up to its pad */
			uint8_t slices;  /* slice mask: bit sl_slice_rec.bit of the
					  * service's slices the flow is in */
			uint8_t gev;     /* group (SL_FLOW_GROUP) | SL_EV_* flags */
		};
	};
	uint32_t sig;       /* low half of the digest, checked before the key; its
			     * low bits are the home slot (backward-shift
			     * deletion needs every entry's home) */
	uint32_t last_seen; /* ms, wrapping */
	uint32_t gen;       /* table generation that decided the flow */
	uint32_t t0_us;     /* start of the phase being timed (us, wrapping) */
	uint8_t service;
	uint8_t state;      /* SL_FS_* */
	uint8_t mac[6];     /* member MAC in mac mode (survives member list changes) */
};

_Static_assert(sizeof(struct sl_flow) == 64, "one cache line per flow");
_Static_assert(__builtin_offsetof(struct sl_flow, slices) ==
	       __builtin_offsetof(struct sl_flow, key.pad), "slices and gev are the key's pad");
_Static_assert(SL_MAX_SERVICES <= 256, "a flow's service is a byte");
_Static_assert(SL_MAX_GROUPS <= SL_FLOW_GROUP + 1, "a flow's group is 5 bits");

static inline uint8_t sl_flow_group(const struct sl_flow *f)
{
	return f->gev & SL_FLOW_GROUP;
}

/* FIN from both sides, or RST: the connection is over. */
static inline int sl_fs_closed(uint8_t st)
{
	return (st & SL_FS_RST) || (st & (SL_FS_FIN_C | SL_FS_FIN_S)) ==
					   (SL_FS_FIN_C | SL_FS_FIN_S);
}

/* Idle timeouts in ms. */
struct sl_ft_timeouts {
	uint32_t tcp_syn;     /* SYN seen, nothing after it */
	uint32_t tcp_est;     /* established */
	uint32_t tcp_fin;     /* FIN from one side */
	uint32_t tcp_closed;  /* FIN from both sides, or RST */
	uint32_t other;       /* UDP, fragments, anything else */
};

/* Slot indexes and home slots are 32-bit. */
#define SL_FT_MAX_CAPACITY (1u << 31)

struct sl_flowtable {
	struct sl_flow *slots;
	uint64_t mask;        /* number of slots - 1 */
	uint32_t capacity;    /* live entries allowed */
	uint32_t count;       /* live (not yet swept) entries */
	uint32_t max_probe;   /* probe length bound */
	uint32_t sweep_pos;
	uint32_t timeout[256]; /* by state byte, precomputed */
	uint64_t map_bytes;   /* length of the slots mapping */
};

/* capacity: flows the table must hold.  Slots = next power of two >=
 * capacity * 5 / 4 (at least 16).  Returns NULL if allocation fails, t is
 * NULL, or capacity is 0 or above SL_FT_MAX_CAPACITY. */
struct sl_flowtable *sl_ft_create(uint32_t capacity, const struct sl_ft_timeouts *t);
void sl_ft_destroy(struct sl_flowtable *ft);
/* Bytes allocated for the table (for "bytes per tracked flow"). */
uint64_t sl_ft_bytes(const struct sl_flowtable *ft);

static inline uint32_t sl_ft_timeout_of(const struct sl_flowtable *ft, uint8_t state)
{
	return ft->timeout[state];
}

static inline int sl_ft_expired(const struct sl_flowtable *ft, const struct sl_flow *f,
				uint32_t now)
{
	return (uint32_t)(now - f->last_seen) > ft->timeout[f->state];
}

/* The home slot and the one after it: at load a, a new key's walk to a
 * free slot reads (1 + 1/(1-a)^2)/2 slots (2.5 at a = 0.5), a live key's
 * (1 + 1/(1-a))/2 (1.5). */
static inline void sl_ft_prefetch(const struct sl_flowtable *ft, uint64_t digest)
{
	__builtin_prefetch(&ft->slots[digest & ft->mask], 1, 3);
	__builtin_prefetch(&ft->slots[(digest + 1) & ft->mask], 1, 3);
}

enum sl_ft_result {
	SL_FT_HIT = 0,      /* live entry for this key */
	SL_FT_NEW = 1,      /* fresh entry for this key (state 0 + USED, to fill) */
	SL_FT_REUSED = 2,   /* an expired entry was taken over; *old holds it */
	SL_FT_FULL = 3,     /* no room (capacity or probe bound): NULL returned */
};

/* Find the entry of key, or make one.  For SL_FT_REUSED the previous
 * occupant (an expired flow, possibly of this same key) is copied to *old
 * so that its counters can be settled. */
struct sl_flow *sl_ft_lookup_insert(struct sl_flowtable *ft, const struct sl_key *key,
				    uint64_t digest, uint32_t now, enum sl_ft_result *res,
				    struct sl_flow *old);

/* Find a live entry of key without inserting (return traffic). */
struct sl_flow *sl_ft_lookup(struct sl_flowtable *ft, const struct sl_key *key,
			     uint64_t digest, uint32_t now);

/* Advance the sweep cursor by budget slots, removing expired entries and
 * calling gone(ctx, entry) (if not NULL) for each before removal; a slot an
 * entry was shifted into is looked at again.  Returns entries removed.
 * Removal moves entries: pointers from lookups do not survive a sweep. */
uint32_t sl_ft_sweep(struct sl_flowtable *ft, uint32_t now, uint32_t budget,
		     void (*gone)(void *ctx, const struct sl_flow *f), void *ctx);

/* Which entries a snapshot copies: live ones (used, not expired) of a
 * service (-1: any) and group (-1: any). */
struct sl_ft_snap_filter {
	int service;
	int group;
};

/* One step of a snapshot walk (read only; the owner of the table calls it
 * between bursts): look at up to budget slots from *pos, copying the live
 * entries that pass f into out[*n], until *n reaches max.  Returns 1 when
 * the snapshot is complete (the whole table walked, or max entries), 0 if
 * slots remain for the next step.  Entries the sweep moves between steps
 * may be missed or copied twice: a snapshot is an observation, not a
 * transaction. */
int sl_ft_snapshot(const struct sl_flowtable *ft, uint32_t now,
		   const struct sl_ft_snap_filter *f, struct sl_flow *out, uint32_t max,
		   uint32_t *n, uint64_t *pos, uint32_t budget);

#endif
