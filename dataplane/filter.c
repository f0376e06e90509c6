/* Shadow filters: libpcap -> rte_bpf_convert -> rte_bpf_load, cached by
 * text, handed to the workers by generation (see filter.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "filter.h"
#include "filtercheck.h"
#include "tables.h"
#include "worker.h"

int sl_filter_compile(const char *expr, struct sl_filter **out, char *err, size_t errlen)
{
	struct bpf_program prog;
	struct rte_bpf_prm *prm;
	struct rte_bpf_jit jit;
	struct sl_filter *f;

	*out = NULL;
	if (strlen(expr) >= SL_FILTER_LEN) {
		snprintf(err, errlen, "filter of %zu characters (at most %u)", strlen(expr),
			 SL_FILTER_LEN - 1);
		return -1;
	}
	if (sl_filter_pcap_compile(expr, &prog, err, errlen))
		return -1;
	prm = rte_bpf_convert(&prog);
	pcap_freecode(&prog);
	if (!prm) {
		snprintf(err, errlen, "DPDK cannot convert the program to eBPF: %s",
			 rte_strerror(rte_errno));
		return -1;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		rte_free(prm);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f->bpf = rte_bpf_load(prm);
	rte_free(prm);
	if (!f->bpf) {
		snprintf(err, errlen, "DPDK cannot load the converted program: %s",
			 rte_strerror(rte_errno));
		free(f);
		return -1;
	}
	if (rte_bpf_get_jit(f->bpf, &jit) == 0 && jit.func)
		f->jit = jit.func;
	snprintf(f->expr, sizeof(f->expr), "%s", expr);
	*out = f;
	return 0;
}

void sl_filter_free(struct sl_filter *f)
{
	if (!f)
		return;
	rte_bpf_destroy(f->bpf);
	free(f);
}

/* The one body of sl_filter_run, static so that it is inlined into
 * sl_filter_match, which runs per packet (a -fPIC library does not
 * inline its exported functions). */
static inline int filter_run(const struct sl_filter *f, struct rte_mbuf *m)
{
	return (f->jit ? f->jit(m) : rte_bpf_exec(f->bpf, m)) != 0;
}

int sl_filter_run(const struct sl_filter *f, struct rte_mbuf *m)
{
	return filter_run(f, m);
}

int sl_filter_run_interp(const struct sl_filter *f, struct rte_mbuf *m)
{
	return rte_bpf_exec(f->bpf, m) != 0;
}

int sl_filter_match(void *ctx, unsigned r, unsigned i)
{
	const struct sl_filter_burst *b = ctx;
	const struct sl_filter *f = b->set->prog[r];

	/* a filter that could not be loaded lets nothing through */
	if (unlikely(!f))
		return 0;
	return filter_run(f, b->pkts[i]);
}

/* ---- cache and sets ---- */

static struct sl_filter *cache_get(struct sl_filter_cache *c, const char *expr, char *err,
				   size_t errlen)
{
	struct sl_filter *f;

	for (f = c->head; f; f = f->next)
		if (!strcmp(f->expr, expr)) {
			c->reused++;
			f->refs++;
			return f;
		}
	if (sl_filter_compile(expr, &f, err, errlen))
		return NULL;
	c->compiled++;
	f->refs = 1;
	f->next = c->head;
	c->head = f;
	return f;
}

static void cache_put(struct sl_filter_cache *c, struct sl_filter *f)
{
	struct sl_filter **pp;

	if (!f || --f->refs)
		return;
	for (pp = &c->head; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	sl_filter_free(f);
}

/* Program slot k of set s for filter text raw (from shared memory: bounded
 * here); what names it in err. */
static void set_prog(struct sl_filter_cache *c, struct sl_filter_set *s, unsigned k,
		     const char *raw, const char *what, const char *name, char *err,
		     size_t errlen, size_t *used)
{
	char filter[SL_FILTER_LEN], why[SL_ERR_LEN];

	snprintf(filter, sizeof(filter), "%.*s", SL_FILTER_LEN - 1, raw);
	if (!filter[0])
		return;
	s->prog[k] = cache_get(c, filter, why, sizeof(why));
	if (s->prog[k]) {
		s->ninterp += !s->prog[k]->jit;
		return;
	}
	s->nbroken++;
	if (*used < errlen)
		*used += (size_t)snprintf(err + *used, errlen - *used, "%s%s %.*s: filter '%s': %s",
					  *used ? "; " : "", what, SL_NAME_LEN, name, filter, why);
}

struct sl_filter_set *sl_filter_set_build(struct sl_filter_cache *c,
					  const struct sl_table_hdr *h, char *err,
					  size_t errlen)
{
	struct sl_filter_set *s = calloc(1, sizeof(*s));
	size_t used = 0;
	unsigned nsl;

	if (errlen)
		err[0] = '\0';
	if (!s) {
		snprintf(err, errlen, "out of memory for a filter set");
		return NULL;
	}
	s->shadow_gen = h->shadow_gen;
	s->nshadows = h->nshadows < SL_MAX_SHADOWS ? h->nshadows : SL_MAX_SHADOWS;
	for (unsigned r = 0; r < s->nshadows; r++) {
		const struct sl_shadow_rec *sr = &h->shadows[r];

		if (!sr->name[0])
			continue;
		s->nrules++;
		set_prog(c, s, r, sr->filter, "shadow rule", sr->name, err, errlen, &used);
	}
	nsl = h->nslices < SL_MAX_SLICES ? h->nslices : SL_MAX_SLICES;
	for (unsigned k = 0; k < nsl; k++) {
		const struct sl_slice_rec *sl = &h->slices[k];

		if (!sl->name[0])
			continue;
		s->nslices++;
		s->nslice_filters += sl->filter[0] != '\0';
		set_prog(c, s, SL_FILTER_SLICE(k), sl->filter, "slice", sl->name, err, errlen,
			 &used);
	}
	return s;
}

void sl_filter_set_free(struct sl_filter_cache *c, struct sl_filter_set *s)
{
	if (!s)
		return;
	for (unsigned r = 0; r < SL_FILTER_PROGS; r++)
		cache_put(c, s->prog[r]);
	free(s);
}

static void cache_clear(struct sl_filter_cache *c)
{
	while (c->head) {
		struct sl_filter *f = c->head;

		c->head = f->next;
		sl_filter_free(f);
	}
}

/* ---- handing sets to the workers ---- */

int sl_dp_shadow_init(struct sl_dp_shadow *sh, const struct sl_table_src *src,
		      struct sl_dp_worker **workers, unsigned nworkers, uint32_t *ready_gen,
		      char *err, size_t errlen)
{
	memset(sh, 0, sizeof(*sh));
	sh->src = src;
	sh->workers = workers;
	sh->nworkers = nworkers;
	sh->ready_gen = ready_gen;
	sh->snap = calloc(1, sizeof(*sh->snap));
	if (!sh->snap) {
		snprintf(err, errlen, "out of memory for the shadow rules");
		return -1;
	}
	if (ready_gen)
		__atomic_store_n(ready_gen, 0, __ATOMIC_RELEASE);
	return 0;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The rules and slices of the table in force, copied whole.  A mapped slot is
 * rewritten only after the publisher moved control->gen away from it, so
 * an unchanged generation around the copy means the copy is whole. */
static void snapshot(struct sl_dp_shadow *sh)
{
	const struct sl_table_src *src = sh->src;
	struct sl_table_hdr *o = sh->snap;

	for (;;) {
		uint32_t g = __atomic_load_n(&src->control->gen, __ATOMIC_ACQUIRE);
		const struct sl_table_hdr *h = sl_src_view(src)->hdr;

		o->shadow_gen = h->shadow_gen;
		o->nshadows = h->nshadows;
		memcpy(o->shadows, h->shadows, sizeof(o->shadows));
		o->nslices = h->nslices;
		memcpy(o->slices, h->slices, sizeof(o->slices));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&src->control->gen, __ATOMIC_RELAXED) == g)
			return;
	}
}

/* Sets handed over before cur are freed once every worker uses cur: a
 * worker switches sets between bursts only. */
static void reap(struct sl_dp_shadow *sh)
{
	for (unsigned i = 0; i < sh->nworkers; i++)
		if (__atomic_load_n(&sh->workers[i]->shadow_used, __ATOMIC_ACQUIRE) != sh->cur)
			return;
	for (unsigned i = 0; i < sh->nretired; i++)
		sl_filter_set_free(&sh->cache, sh->retired[i]);
	sh->nretired = 0;
}

int sl_dp_shadow_update(struct sl_dp_shadow *sh, char *err, size_t errlen)
{
	struct sl_filter_set *s;
	uint64_t t0;

	if (errlen)
		err[0] = '\0';
	reap(sh);
	if (sh->cur && sl_src_view(sh->src)->hdr->shadow_gen == sh->cur->shadow_gen)
		return 0;
	/* too many sets still in use: hand over the next one once they are free */
	if (sh->nretired == SL_SHADOW_RETIRED_MAX)
		return 0;
	t0 = mono_us();
	snapshot(sh);
	if (sh->cur && sh->snap->shadow_gen == sh->cur->shadow_gen)
		return 0;
	s = sl_filter_set_build(&sh->cache, sh->snap, err, errlen);
	if (!s)
		return -1;
	for (unsigned i = 0; i < sh->nworkers; i++)
		__atomic_store_n(&sh->workers[i]->shadow_next, s, __ATOMIC_RELEASE);
	if (sh->cur)
		sh->retired[sh->nretired++] = sh->cur;
	sh->cur = s;
	sh->last_build_us = mono_us() - t0;
	if (sh->ready_gen)
		__atomic_store_n(sh->ready_gen, s->shadow_gen, __ATOMIC_RELEASE);
	return s->nbroken ? -1 : 1;
}

void sl_dp_shadow_fini(struct sl_dp_shadow *sh)
{
	for (unsigned i = 0; i < sh->nworkers; i++) {
		__atomic_store_n(&sh->workers[i]->shadow_next, NULL, __ATOMIC_RELEASE);
		sh->workers[i]->shadow_used = NULL;
	}
	for (unsigned i = 0; i < sh->nretired; i++)
		sl_filter_set_free(&sh->cache, sh->retired[i]);
	sh->nretired = 0;
	sl_filter_set_free(&sh->cache, sh->cur);
	sh->cur = NULL;
	cache_clear(&sh->cache);
	free(sh->snap);
	sh->snap = NULL;
}
