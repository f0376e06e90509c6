/* Shadow filters in the dataplane: pcap-filter expressions compiled by
 * libpcap, converted to eBPF by DPDK (rte_bpf_convert), loaded and run
 * JIT-compiled (the interpreter when DPDK returns no JIT code) on the
 * mbufs of a burst.
 *
 * A table's rule set (its shadow_gen) becomes a struct sl_filter_set: one
 * program per rule, built off the packet path (sluice-dp's main lcore, or
 * a control thread when the main lcore is the only worker) from a cache
 * keyed by filter text, so that rules whose text did not change are not
 * compiled again.  struct sl_dp_shadow hands each set to the workers and
 * frees a set once no worker uses it.
 *
 * libpcap and DPDK only: never <linux/bpf.h> or libbpf (struct bpf_insn). */
#ifndef SLUICE_FILTER_H
#define SLUICE_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "../ebpf/sluice_layout.h"
#include "tables.h"

struct rte_mbuf;
struct rte_bpf;
struct sl_table_src;
struct sl_dp_worker;

/* One loaded program. */
struct sl_filter {
	char expr[SL_FILTER_LEN];
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *mbuf); /* NULL: run by the interpreter */
	unsigned refs;               /* sets that use it */
	struct sl_filter *next;      /* cache list */
};

/* Compile expr (libpcap, DLT_EN10MB, optimized, netmask unknown), convert
 * and load it.  Needs EAL (rte_bpf_convert allocates with rte_malloc).
 * Returns 0, or -1 with err: libpcap's message for an expression that does
 * not compile, DPDK's reason for one it cannot convert or load. */
int sl_filter_compile(const char *expr, struct sl_filter **out, char *err, size_t errlen);
void sl_filter_free(struct sl_filter *f);

/* 1 if m passes f: the JIT code when there is some, else the interpreter. */
int sl_filter_run(const struct sl_filter *f, struct rte_mbuf *m);
/* The interpreter alone (tests compare it with the JIT). */
int sl_filter_run_interp(const struct sl_filter *f, struct rte_mbuf *m);

/* Programs by filter text, shared by the sets built from them. */
struct sl_filter_cache {
	struct sl_filter *head;
	uint64_t compiled; /* programs compiled so far */
	uint64_t reused;   /* rules served from the cache */
};

/* The programs of one table's rule set (tables.h): prog[r] for
 * shadows[r], prog[SL_FILTER_SLICE(s)] for slices[s]; NULL for a rule or
 * slice without filter (every packet passes; the core never asks) and for
 * one whose filter could not be loaded (it never matches). */
struct sl_filter_set {
	uint32_t shadow_gen;
	uint16_t nshadows;
	uint16_t nbroken; /* rules and slices whose filter could not be loaded */
	uint16_t nrules;  /* rules (named slots) */
	uint16_t ninterp; /* programs run by the interpreter (DPDK gave no JIT code) */
	uint16_t nslices; /* slices (named slots) */
	uint16_t nslice_filters; /* of those, slices with a filter */
	struct sl_filter *prog[SL_FILTER_PROGS];
};

/* Build the set for the rules and slices of a table header (a stable
 * copy: see sl_dp_shadow_update for the mapped tables).  Returns the set
 * (NULL only when out of memory, with err); err names every rule and slice
 * whose filter could not be loaded ("" when all were). */
struct sl_filter_set *sl_filter_set_build(struct sl_filter_cache *c,
					  const struct sl_table_hdr *h, char *err,
					  size_t errlen);
/* Release a set; programs no set uses any more are destroyed. */
void sl_filter_set_free(struct sl_filter_cache *c, struct sl_filter_set *s);

/* The burst being decided, for struct sl_shadow_matcher: match(ctx, r, i)
 * runs program r (r < SL_FILTER_PROGS) on pkts[i]. */
struct sl_filter_burst {
	const struct sl_filter_set *set;
	struct rte_mbuf *const *pkts;
};
int sl_filter_match(void *ctx, unsigned r, unsigned i);

#define SL_SHADOW_RETIRED_MAX 64

/* Hands the filter sets of the table in force to the workers. */
struct sl_dp_shadow {
	const struct sl_table_src *src;
	struct sl_dp_worker **workers;
	unsigned nworkers;
	uint32_t *ready_gen;          /* attached: &dp->shadow_ready_gen, else NULL */
	struct sl_filter_cache cache;
	struct sl_filter_set *cur;    /* the set handed over last */
	unsigned nretired;            /* sets handed over before, maybe in use */
	struct sl_filter_set *retired[SL_SHADOW_RETIRED_MAX];
	uint64_t last_build_us;       /* time the last set took to build */
	struct sl_table_hdr *snap;    /* scratch: the rules and slices as read from src */
};

/* Returns 0, or -1 with err (out of memory). */
int sl_dp_shadow_init(struct sl_dp_shadow *sh, const struct sl_table_src *src,
		      struct sl_dp_worker **workers, unsigned nworkers, uint32_t *ready_gen,
		      char *err, size_t errlen);

/* Off the packet path, as often as convenient: when the table in force
 * has a shadow_gen without a set, build it, hand it to every worker and
 * write *ready_gen; free the sets no worker uses any more.  Returns 1 when
 * a set was handed over, 0 when there was nothing to do, -1 when one was
 * handed over but some rules' filters could not be loaded (err names them;
 * those rules never match). */
int sl_dp_shadow_update(struct sl_dp_shadow *sh, char *err, size_t errlen);

/* Once the workers have stopped: free every set and program. */
void sl_dp_shadow_fini(struct sl_dp_shadow *sh);

#endif
