/* sluice-dp's telemetry commands.  Everything a reply says comes from
 * memory others write: the counters (one writer each, read as sluiced
 * reads the stats map), the tables in force (published slots, checked
 * against the control word after reading), and the workers' snapshots.
 * Nothing here writes anything a worker reads but its snapshot request. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_telemetry.h>

#include "stats.h"
#include "telemetry.h"
#include "tuple.h"

/* One request at a time: DPDK runs a thread per telemetry client, and a
 * worker serves one snapshot request at a time. */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct sl_dp_tel *tel;
static struct sl_counters tel_sum; /* big: summed here, under tel_lock */
static int registered;

#define NAME(n) SL_NAME_LEN, (n)

/* Replies carry an "error" string rather than DPDK's bare null, so that a
 * reader learns what was wrong. */
static int reply_error(struct rte_tel_data *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int reply_error(struct rte_tel_data *d, const char *fmt, ...)
{
	char msg[RTE_TEL_MAX_STRING_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", msg);
	return 0;
}

static void name_copy(char *dst, const char *src)
{
	snprintf(dst, SL_NAME_LEN + 1, "%.*s", NAME(src));
}

/* The tables in force, and whether they stayed so while read: a
 * publisher rewrites only the inactive slot, and only after every worker
 * acknowledged the active one, so two flips during one read are needed to
 * tear it; the generation check sees them. */
static const struct sl_view *view_begin(uint32_t *gen)
{
	const struct sl_view *v = sl_src_view(tel->src);

	*gen = __atomic_load_n(&v->hdr->gen, __ATOMIC_ACQUIRE);
	return v;
}

static int view_stable(const struct sl_view *v, uint32_t gen)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return sl_src_view(tel->src) == v && __atomic_load_n(&v->hdr->gen, __ATOMIC_RELAXED) == gen;
}

static int service_index(const struct sl_table_hdr *h, const char *name)
{
	for (unsigned i = 0; i < h->nservices && i < SL_MAX_SERVICES; i++)
		if (h->services[i].name[0] && strncmp(h->services[i].name, name, SL_NAME_LEN) == 0 &&
		    strlen(name) <= SL_NAME_LEN)
			return (int)i;
	return -1;
}

static int group_index(const struct sl_view *v, const char *name)
{
	for (unsigned g = 0; g < v->hdr->ngroups && g < SL_MAX_GROUPS; g++)
		if (v->groups[g].name[0] && strncmp(v->groups[g].name, name, SL_NAME_LEN) == 0 &&
		    strlen(name) <= SL_NAME_LEN)
			return (int)g;
	return -1;
}

static struct rte_tel_data *array(enum rte_tel_value_type type)
{
	struct rte_tel_data *a = rte_tel_data_alloc();

	if (a)
		rte_tel_data_start_array(a, type);
	return a;
}

/* Add the arrays of a columnar reply (NULLs from a failed allocation are
 * skipped, the reply says so). */
static int add_columns(struct rte_tel_data *d, const char *const *names,
		       struct rte_tel_data **cols, unsigned n)
{
	int ok = 1;

	for (unsigned i = 0; i < n; i++) {
		if (!cols[i] || rte_tel_data_add_dict_container(d, names[i], cols[i], 0) != 0) {
			rte_tel_data_free(cols[i]);
			ok = 0;
		}
	}
	if (!ok)
		rte_tel_data_add_dict_string(d, "error", "out of memory for a column");
	return ok;
}

/* The comma-separated parameters in buf, up to n of them into part (the
 * rest NULL).  Returns how many there were (more than n: n + 1). */
static int split_params(const char *params, char *buf, size_t len, char **part, int n)
{
	char *save = NULL, *p;
	int k = 0;

	for (int i = 0; i < n; i++)
		part[i] = NULL;
	if (!params)
		return 0;
	snprintf(buf, len, "%s", params);
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (k == n)
			return n + 1;
		part[k++] = p;
	}
	return k;
}

/* ---- snapshots ---- */

/* Post a request to every worker and wait for all of them; answered[i]
 * says which answered within SL_TEL_WAIT_MS. */
static unsigned snap_all(const struct sl_ft_snap_filter *f, const struct sl_key *key,
			 uint32_t max, uint8_t *answered)
{
	uint64_t end = rte_get_tsc_cycles() + rte_get_tsc_hz() * SL_TEL_WAIT_MS / 1000;
	uint32_t want[RTE_MAX_LCORE];
	unsigned left = tel->nw, got = 0;

	for (unsigned i = 0; i < tel->nw; i++) {
		struct sl_snap *s = &tel->w[i]->snap;

		s->filter = *f;
		s->by_key = key != NULL;
		if (key)
			s->key = *key;
		s->max = max;
		want[i] = s->req + 1;
		__atomic_store_n(&s->req, want[i], __ATOMIC_RELEASE);
		answered[i] = 0;
	}
	while (left) {
		for (unsigned i = 0; i < tel->nw; i++) {
			if (answered[i] ||
			    __atomic_load_n(&tel->w[i]->snap.done, __ATOMIC_ACQUIRE) != want[i])
				continue;
			answered[i] = 1;
			left--;
			got++;
		}
		if (!left || rte_get_tsc_cycles() >= end)
			break;
		rte_delay_us_sleep(100);
	}
	return got;
}

static void no_answer(struct rte_tel_data *d, const uint8_t *answered)
{
	struct rte_tel_data *a = array(RTE_TEL_INT_VAL);

	if (!a)
		return;
	for (unsigned i = 0; i < tel->nw; i++)
		if (!answered[i])
			rte_tel_data_add_array_int(a, (int)i);
	if (rte_tel_data_add_dict_container(d, "no_answer", a, 0) != 0)
		rte_tel_data_free(a);
}

/* ---- flows ---- */

struct server_ctx {
	const struct sl_table_hdr *h;
	int si;
};

static int is_server(void *ctx, uint8_t family, const uint8_t *addr, uint16_t port)
{
	const struct server_ctx *c = ctx;
	const struct sl_service_rec *s = &c->h->services[c->si];

	return sl_find_service(c->h, family, s->proto, addr, port, 0) == c->si;
}

static const char *state_name(uint8_t st)
{
	if (!(st & SL_FS_TCP))
		return "active";
	if (st & SL_FS_RST)
		return "reset";
	if (sl_fs_closed(st))
		return "closed";
	if (st & (SL_FS_FIN_C | SL_FS_FIN_S))
		return "closing";
	if (st & SL_FS_EST)
		return "established";
	return "syn";
}

static void mac_text(const uint8_t *m, char *buf, size_t len)
{
	static const uint8_t zero[6];

	if (memcmp(m, zero, 6) == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
			 m[5]);
}

/* A flow's member in its group (-1: port mode) and its MAC ("-"). */
static int member_mac(const struct sl_view *v, const struct sl_flow_rec *e, char *mac,
		      size_t len)
{
	int m = sl_flow_member(v, &e->f, sl_hash_key(&e->key, v->hdr->seed_flow));

	if (m < 0)
		snprintf(mac, len, "-");
	else
		mac_text(v->groups[sl_flow_group(&e->f)].macs[m], mac, len);
	return m;
}

enum { C_SRC, C_DST, C_GROUP, C_MEMBER, C_MAC, C_STATE, C_AGE, C_IDLE, C_PKTS, C_WORKER, C_N };
static const char *const flow_cols[C_N] = {
	"src", "dst", "group", "member", "mac", "state", "age_s", "idle_ms", "packets", "worker",
};

static unsigned digits(uint64_t v)
{
	unsigned n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* A reply's JSON must stay under DPDK's 16 KB: rows are added while their
 * size fits, leaving room for the keys and the scalars around them. */
#define FLOWS_BYTES 15000

static int cmd_flows(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char buf[256], *part[3], *svc, *lim, *grp;
	struct sl_ft_snap_filter f = { -1, -1 };
	struct rte_tel_data *cols[C_N];
	uint8_t answered[RTE_MAX_LCORE];
	const struct sl_view *v;
	struct server_ctx sc;
	unsigned long limit = SL_TEL_FLOWS_DEFAULT;
	uint64_t active = 0;
	unsigned shown = 0, bytes = 0;
	int more = 0;
	uint32_t gen;

	(void)cmd;
	if (split_params(params, buf, sizeof(buf), part, 3) < 1)
		return reply_error(d, "usage: /sluice/flows,SERVICE[,LIMIT[,GROUP]]");
	svc = part[0];
	lim = part[1];
	grp = part[2];
	v = view_begin(&gen);
	f.service = svc ? service_index(v->hdr, svc) : -1;
	if (f.service < 0)
		return reply_error(d, "unknown service '%s'", svc ? svc : "");
	if (lim) {
		char *end;

		errno = 0;
		limit = strtoul(lim, &end, 10);
		if (errno || end == lim || *end || lim[0] == '-' || limit == 0 ||
		    limit > SL_TEL_FLOWS_MAX)
			return reply_error(d, "limit '%s': expected an integer from 1 to %u", lim,
					   SL_TEL_FLOWS_MAX);
	}
	if (grp && (f.group = group_index(v, grp)) < 0)
		return reply_error(d, "unknown group '%s'", grp);
	snap_all(&f, NULL, (uint32_t)limit + 1, answered);

	rte_tel_data_start_dict(d);
	cols[C_SRC] = array(RTE_TEL_STRING_VAL);
	cols[C_DST] = array(RTE_TEL_STRING_VAL);
	cols[C_GROUP] = array(RTE_TEL_STRING_VAL);
	cols[C_MEMBER] = array(RTE_TEL_INT_VAL);
	cols[C_MAC] = array(RTE_TEL_STRING_VAL);
	cols[C_STATE] = array(RTE_TEL_STRING_VAL);
	cols[C_AGE] = array(RTE_TEL_U64_VAL);
	cols[C_IDLE] = array(RTE_TEL_U64_VAL);
	cols[C_PKTS] = array(RTE_TEL_U64_VAL);
	cols[C_WORKER] = array(RTE_TEL_INT_VAL);
	sc.h = v->hdr;
	sc.si = f.service;
	for (unsigned i = 0; i < tel->nw; i++) {
		const struct sl_snap *s = &tel->w[i]->snap;

		if (!answered[i])
			continue;
		for (unsigned k = 0; k < s->n; k++) {
			const struct sl_flow_rec *e = &s->buf[k];
			char src[SL_ENDPOINT_LEN], dst[SL_ENDPOINT_LEN], g[SL_NAME_LEN + 1], mac[18];
			uint32_t age = sl_flow_age_s(&e->f, s->now_s), idle = s->now_ms - e->f.last_seen;
			struct sl_tuple t;
			unsigned row;
			int m;

			if (shown >= limit) {
				more = 1;
				break;
			}
			sl_tuple_from_key(&e->key, &t, is_server, &sc);
			sl_endpoint_format(t.family, t.src, t.sport, src, sizeof(src));
			sl_endpoint_format(t.family, t.dst, t.dport, dst, sizeof(dst));
			name_copy(g, v->groups[sl_flow_group(&e->f)].name);
			m = member_mac(v, e, mac, sizeof(mac));
			/* its bytes in the reply: each string with quotes and a comma,
			 * each number with a comma */
			row = (unsigned)(strlen(src) + strlen(dst) + strlen(g) + strlen(mac) +
					 strlen(state_name(e->f.state))) + 5 * 3 + digits(age) +
			      digits(idle) + digits(e->f.packets) + digits(i) + 4 +
			      3 /* member: -1 .. 255 */ + 1;
			if (bytes + row > FLOWS_BYTES) {
				more = 1;
				break;
			}
			bytes += row;
			shown++;
			if (cols[C_SRC])
				rte_tel_data_add_array_string(cols[C_SRC], src);
			if (cols[C_DST])
				rte_tel_data_add_array_string(cols[C_DST], dst);
			if (cols[C_GROUP])
				rte_tel_data_add_array_string(cols[C_GROUP], g);
			if (cols[C_MEMBER])
				rte_tel_data_add_array_int(cols[C_MEMBER], m);
			if (cols[C_MAC])
				rte_tel_data_add_array_string(cols[C_MAC], mac);
			if (cols[C_STATE])
				rte_tel_data_add_array_string(cols[C_STATE], state_name(e->f.state));
			if (cols[C_AGE])
				rte_tel_data_add_array_u64(cols[C_AGE], age);
			if (cols[C_IDLE])
				rte_tel_data_add_array_u64(cols[C_IDLE], idle);
			if (cols[C_PKTS])
				rte_tel_data_add_array_u64(cols[C_PKTS], e->f.packets);
			if (cols[C_WORKER])
				rte_tel_data_add_array_int(cols[C_WORKER], (int)i);
		}
		/* a worker with more than it copied has more flows too */
		if (s->n > limit)
			more = 1;
	}
	for (unsigned i = 0; i < tel->nw; i++)
		for (unsigned g = 0; g < SL_MAX_GROUPS; g++)
			if (f.group < 0 || (int)g == f.group)
				active += tel->w[i]->core.cnt->grp[f.service][g].active;
	{
		char name[SL_NAME_LEN + 1];

		name_copy(name, v->hdr->services[f.service].name);
		rte_tel_data_add_dict_string(d, "service", name);
	}
	rte_tel_data_add_dict_string(d, "proto", sl_proto_name(v->hdr->services[f.service].proto));
	if (grp)
		rte_tel_data_add_dict_string(d, "group_filter", grp);
	rte_tel_data_add_dict_u64(d, "generation", gen);
	rte_tel_data_add_dict_u64(d, "limit", limit);
	rte_tel_data_add_dict_u64(d, "shown", shown);
	rte_tel_data_add_dict_int(d, "more", more);
	rte_tel_data_add_dict_u64(d, "active", active);
	rte_tel_data_add_dict_int(d, "workers", (int)tel->nw);
	no_answer(d, answered);
	add_columns(d, flow_cols, cols, C_N);
	if (!view_stable(v, gen))
		return reply_error(d, "the tables changed while the reply was made; ask again");
	return 0;
}

/* /sluice/flow,PROTO,SRC,DST: the sticky entry of the connection if a
 * worker holds one, and how a new flow of it would be decided now. */
static int cmd_flow(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char buf[256], err[256], *part[3];
	char name[SL_NAME_LEN + 1];
	struct sl_ft_snap_filter f = { -1, -1 };
	uint8_t answered[RTE_MAX_LCORE];
	const struct sl_service_rec *s;
	const struct sl_view *v;
	struct sl_decision dec;
	struct sl_tuple t;
	struct sl_key k;
	uint32_t gen;
	int si, found = -1;

	(void)cmd;
	if (split_params(params, buf, sizeof(buf), part, 3) != 3)
		return reply_error(d, "usage: /sluice/flow,PROTO,SRC:PORT,DST:PORT");
	if (sl_tuple_parse(part[0], part[1], part[2], &t, err, sizeof(err)) != 0)
		return reply_error(d, "%s", err);
	v = view_begin(&gen);
	si = sl_find_service(v->hdr, t.family, t.proto, t.dst, t.dport, 0);
	if (si < 0)
		return reply_error(d, "dst %s: no service has this %s VIP and port", part[2],
				   part[0]);
	s = &v->hdr->services[si];
	sl_tuple_key(&t, &k);
	snap_all(&f, &k, 1, answered);

	rte_tel_data_start_dict(d);
	name_copy(name, s->name);
	rte_tel_data_add_dict_string(d, "service", name);
	rte_tel_data_add_dict_u64(d, "generation", gen);
	name_copy(name, v->groups[s->champion].name);
	rte_tel_data_add_dict_string(d, "champion", name);
	name_copy(name, v->groups[s->challenger].name);
	rte_tel_data_add_dict_string(d, "challenger", name);
	rte_tel_data_add_dict_u64(d, "share_bp", s->share_bp);
	rte_tel_data_add_dict_u64(d, "reset_gen", s->reset_gen);
	for (unsigned i = 0; i < tel->nw; i++)
		if (answered[i] && tel->w[i]->snap.n) {
			found = (int)i;
			break;
		}
	rte_tel_data_add_dict_int(d, "sticky", found >= 0);
	if (found >= 0) {
		const struct sl_snap *sn = &tel->w[found]->snap;
		const struct sl_flow_rec *e = &sn->buf[0];
		unsigned fg = sl_flow_group(&e->f);
		char mac[18];
		int m = member_mac(v, e, mac, sizeof(mac));

		name_copy(name, v->groups[fg].name);
		rte_tel_data_add_dict_string(d, "group", name);
		rte_tel_data_add_dict_int(d, "member", m);
		rte_tel_data_add_dict_string(d, "mac", mac);
		rte_tel_data_add_dict_string(d, "state", state_name(e->f.state));
		rte_tel_data_add_dict_u64(d, "age_s", sl_flow_age_s(&e->f, sn->now_s));
		rte_tel_data_add_dict_u64(d, "idle_ms", sn->now_ms - e->f.last_seen);
		rte_tel_data_add_dict_u64(d, "packets", e->f.packets);
		rte_tel_data_add_dict_int(d, "worker", found);
		/* what the packet path does with its next packet (decide.c) */
		rte_tel_data_add_dict_int(d, "redecide", e->stale || fg >= v->hdr->ngroups ||
					  !v->groups[fg].name[0]);
	}
	sl_decide_new_flow(v, si, sl_hash_key(&k, v->hdr->seed_flow), &dec);
	rte_tel_data_add_dict_u64(d, "u", dec.u);
	name_copy(name, v->groups[dec.group].name);
	rte_tel_data_add_dict_string(d, "new_group", name);
	rte_tel_data_add_dict_int(d, "new_member", dec.member);
	if (dec.member >= 0) {
		char mac[18];

		mac_text(v->groups[dec.group].macs[dec.member], mac, sizeof(mac));
		rte_tel_data_add_dict_string(d, "new_mac", mac);
	}
	rte_tel_data_add_dict_int(d, "workers", (int)tel->nw);
	no_answer(d, answered);
	if (!view_stable(v, gen))
		return reply_error(d, "the tables changed while the reply was made; ask again");
	return 0;
}

/* ---- counters, tables, flow tables ---- */

static void sum_counters(void)
{
	memset(&tel_sum, 0, sizeof(tel_sum));
	for (unsigned i = 0; i < tel->nw; i++)
		sl_counters_add(&tel_sum, tel->w[i]->core.cnt);
}

enum { S_SVC, S_GRP, S_ROLE, S_PKTS, S_BYTES, S_FLOWS, S_ACTIVE, S_RPKTS, S_RBYTES, S_RST,
       S_N };
static const char *const stat_cols[S_N] = {
	"service", "group", "role", "packets", "bytes", "flows", "active", "return_packets",
	"return_bytes", "return_rsts",
};
enum { P_NAME, P_RX, P_TX, P_DROPS, P_N };
static const char *const port_cols[P_N] = { "port", "port_rx", "port_tx", "port_drops" };

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *c[S_N], *p[P_N];
	const struct sl_view *v;
	int only = -1;
	uint32_t gen;

	(void)cmd;
	v = view_begin(&gen);
	if (params && params[0] && (only = service_index(v->hdr, params)) < 0)
		return reply_error(d, "unknown service '%s'", params);
	sum_counters();
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "generation", gen);
	for (unsigned i = 0; i < S_N; i++)
		c[i] = array(i <= S_ROLE ? RTE_TEL_STRING_VAL : RTE_TEL_U64_VAL);
	/* one row per service and group it has counted for or names */
	for (unsigned si = 0; si < v->hdr->nservices && si < SL_MAX_SERVICES; si++) {
		const struct sl_service_rec *s = &v->hdr->services[si];

		if (!s->name[0] || (only >= 0 && (int)si != only))
			continue;
		for (unsigned g = 0; g < v->hdr->ngroups && g < SL_MAX_GROUPS; g++) {
			const struct sl_grp_counters *gc = &tel_sum.grp[si][g];
			char sn[SL_NAME_LEN + 1], gn[SL_NAME_LEN + 1];
			const uint64_t val[] = { gc->pkts, gc->bytes, gc->flows, gc->active,
						 gc->ret_pkts, gc->ret_bytes, gc->ret_rst };

			if (g != s->champion && g != s->challenger && !gc->pkts && !gc->active)
				continue;
			name_copy(sn, s->name);
			name_copy(gn, v->groups[g].name);
			if (c[S_SVC])
				rte_tel_data_add_array_string(c[S_SVC], sn);
			if (c[S_GRP])
				rte_tel_data_add_array_string(c[S_GRP], gn);
			if (c[S_ROLE])
				rte_tel_data_add_array_string(c[S_ROLE], g == s->champion ? "champion" :
							      g == s->challenger ? "challenger" :
							      "former");
			for (unsigned k = 0; k < sizeof(val) / sizeof(val[0]); k++)
				if (c[S_PKTS + k])
					rte_tel_data_add_array_u64(c[S_PKTS + k], val[k]);
		}
	}
	add_columns(d, stat_cols, c, S_N);
	p[P_NAME] = array(RTE_TEL_STRING_VAL);
	for (unsigned i = 1; i < P_N; i++)
		p[i] = array(RTE_TEL_U64_VAL);
	for (unsigned q = 0; q < tel->cfg->nports; q++) {
		if (p[P_NAME])
			rte_tel_data_add_array_string(p[P_NAME], tel->cfg->ports[q].name);
		if (p[P_RX])
			rte_tel_data_add_array_u64(p[P_RX], tel_sum.port_rx[q]);
		if (p[P_TX])
			rte_tel_data_add_array_u64(p[P_TX], tel_sum.port_tx[q]);
		if (p[P_DROPS])
			rte_tel_data_add_array_u64(p[P_DROPS], tel_sum.port_drop[q]);
	}
	add_columns(d, port_cols, p, P_N);
	rte_tel_data_add_dict_u64(d, "malformed", sl_malformed_total(&tel_sum));
	rte_tel_data_add_dict_u64(d, "malformed_dropped", tel_sum.malformed_drop);
	rte_tel_data_add_dict_u64(d, "other_forwarded", tel_sum.other_fwd);
	rte_tel_data_add_dict_u64(d, "other_dropped", tel_sum.other_drop);
	rte_tel_data_add_dict_u64(d, "shadow_rx_dropped", tel_sum.shadow_rx_drop);
	rte_tel_data_add_dict_u64(d, "flowtable_full", tel_sum.ft_full);
	rte_tel_data_add_dict_u64(d, "redecided", tel_sum.redecided);
	if (!view_stable(v, gen))
		return reply_error(d, "the tables changed while the reply was made; ask again");
	return 0;
}

enum { V_NAME, V_PROTO, V_VIP, V_PORTS, V_CHAMP, V_CHALL, V_SHARE, V_RESET, V_N };
static const char *const svc_cols[V_N] = {
	"service", "proto", "vip", "ports", "champion", "challenger", "share_bp", "reset_gen",
};
enum { G_NAME, G_PORT, G_MODE, G_MEMBERS, G_N };
static const char *const grp_cols[G_N] = {
	"group", "group_port", "group_mode", "group_members",
};

static int cmd_services(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *c[V_N], *g[G_N];
	const struct sl_table_hdr *h;
	const struct sl_view *v;
	uint32_t gen;

	(void)cmd;
	(void)params;
	v = view_begin(&gen);
	h = v->hdr;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "generation", gen);
	rte_tel_data_add_dict_string(d, "tables", tel->instance[0] ? "instance" : "config");
	if (tel->instance[0])
		rte_tel_data_add_dict_string(d, "instance", tel->instance);
	for (unsigned i = 0; i < V_N; i++)
		c[i] = array(i < V_SHARE ? RTE_TEL_STRING_VAL : RTE_TEL_U64_VAL);
	for (unsigned si = 0; si < h->nservices && si < SL_MAX_SERVICES; si++) {
		const struct sl_service_rec *s = &h->services[si];
		char txt[SL_MAX_RANGES * 12 + 1] = "", vip[SL_ENDPOINT_LEN];
		char sn[SL_NAME_LEN + 1], a[SL_NAME_LEN + 1], b[SL_NAME_LEN + 1];
		size_t off = 0;

		if (!s->name[0])
			continue;
		name_copy(sn, s->name);
		name_copy(a, v->groups[s->champion].name);
		name_copy(b, v->groups[s->challenger].name);
		sl_addr_format(s->family, s->vip, vip, sizeof(vip));
		for (unsigned r = 0; r < s->nranges && r < SL_MAX_RANGES; r++)
			if (s->ranges[r].lo == s->ranges[r].hi)
				off += (size_t)snprintf(txt + off, sizeof(txt) - off, "%s%u",
							r ? "," : "", s->ranges[r].lo);
			else
				off += (size_t)snprintf(txt + off, sizeof(txt) - off, "%s%u-%u",
							r ? "," : "", s->ranges[r].lo,
							s->ranges[r].hi);
		{
			const char *str[] = { sn, sl_proto_name(s->proto), vip, txt, a, b };

			for (unsigned k = 0; k < V_SHARE; k++)
				if (c[k])
					rte_tel_data_add_array_string(c[k], str[k]);
		}
		if (c[V_SHARE])
			rte_tel_data_add_array_u64(c[V_SHARE], s->share_bp);
		if (c[V_RESET])
			rte_tel_data_add_array_u64(c[V_RESET], s->reset_gen);
	}
	add_columns(d, svc_cols, c, V_N);
	for (unsigned i = 0; i < G_N; i++)
		g[i] = array(i == G_MEMBERS ? RTE_TEL_U64_VAL : RTE_TEL_STRING_VAL);
	for (unsigned k = 0; k < h->ngroups && k < SL_MAX_GROUPS; k++) {
		const struct sl_group_rec *gr = &v->groups[k];
		char gn[SL_NAME_LEN + 1], pn[SL_NAME_LEN + 1];

		if (!gr->name[0])
			continue;
		name_copy(gn, gr->name);
		name_copy(pn, gr->port < SL_MAX_PORTS ? h->port_names[gr->port] : "?");
		if (g[G_NAME])
			rte_tel_data_add_array_string(g[G_NAME], gn);
		if (g[G_PORT])
			rte_tel_data_add_array_string(g[G_PORT], pn);
		if (g[G_MODE])
			rte_tel_data_add_array_string(g[G_MODE], gr->mode == SL_MODE_MAC ? "mac" :
						      "port");
		if (g[G_MEMBERS])
			rte_tel_data_add_array_u64(g[G_MEMBERS], gr->nmembers);
	}
	add_columns(d, grp_cols, g, G_N);
	if (!view_stable(v, gen))
		return reply_error(d, "the tables changed while the reply was made; ask again");
	return 0;
}

enum { F_WORKER, F_LCORE, F_CAP, F_COUNT, F_BYTES, F_FULL, F_REDEC, F_EXPIRED, F_GEN, F_N };
static const char *const ft_cols[F_N] = {
	"worker", "lcore", "capacity", "count", "bytes", "full", "redecided", "expired",
	"generation",
};

static int cmd_flowtable(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct sl_ft_snap_filter f = { -1, -1 };
	uint8_t answered[RTE_MAX_LCORE];
	struct rte_tel_data *c[F_N];

	(void)cmd;
	(void)params;
	/* max 0: the worker only reports its count, between two bursts */
	snap_all(&f, NULL, 0, answered);
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < F_N; i++)
		c[i] = array(i <= F_LCORE ? RTE_TEL_INT_VAL : RTE_TEL_U64_VAL);
	for (unsigned i = 0; i < tel->nw; i++) {
		const struct sl_dp_worker *w = tel->w[i];
		const struct sl_counters *cnt = w->core.cnt;
		const uint64_t val[] = {
			sl_ft_capacity(w->core.ft), w->snap.ft_count, sl_ft_bytes(w->core.ft),
			__atomic_load_n(&cnt->ft_full, __ATOMIC_RELAXED),
			__atomic_load_n(&cnt->redecided, __ATOMIC_RELAXED),
			__atomic_load_n(&cnt->expired, __ATOMIC_RELAXED), w->snap.gen,
		};

		if (c[F_WORKER])
			rte_tel_data_add_array_int(c[F_WORKER], (int)i);
		if (c[F_LCORE])
			rte_tel_data_add_array_int(c[F_LCORE], (int)tel->lcores[i]);
		for (unsigned k = 0; k < sizeof(val) / sizeof(val[0]); k++)
			if (c[F_CAP + k])
				/* count and generation of a worker that did not answer: 0 */
				rte_tel_data_add_array_u64(c[F_CAP + k],
							   answered[i] || (k != 1 && k != 6) ?
							   val[k] : 0);
	}
	add_columns(d, ft_cols, c, F_N);
	no_answer(d, answered);
	return 0;
}

static int cmd_generation(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *a = array(RTE_TEL_U64_VAL);
	uint32_t gen;

	(void)cmd;
	(void)params;
	view_begin(&gen);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "generation", gen);
	rte_tel_data_add_dict_string(d, "tables", tel->instance[0] ? "instance" : "config");
	if (tel->instance[0])
		rte_tel_data_add_dict_string(d, "instance", tel->instance);
	rte_tel_data_add_dict_int(d, "workers", (int)tel->nw);
	/* the generation each worker acknowledged (attached only) */
	if (a && tel->src->acks) {
		for (unsigned i = 0; i < tel->nw; i++)
			rte_tel_data_add_array_u64(a, __atomic_load_n(&tel->src->acks[i].gen,
								      __ATOMIC_ACQUIRE));
		if (rte_tel_data_add_dict_container(d, "acks", a, 0) == 0)
			a = NULL;
	}
	rte_tel_data_free(a);
	return 0;
}

/* ---- registration ---- */

typedef int (*sl_tel_fn)(const char *cmd, const char *params, struct rte_tel_data *d);

struct cmd {
	const char *name;
	sl_tel_fn fn;
	const char *help;
};

static int dispatch(const char *cmd, const char *params, struct rte_tel_data *d);

/* Help texts: under RTE_TEL_MAX_STRING_LEN (128), or registration fails. */
static const struct cmd cmds[] = {
	{ "/sluice/stats", cmd_stats,
	  "Per service and group packets, bytes, flows, active, return; per port rx, tx, "
	  "drops. Param: SERVICE" },
	{ "/sluice/services", cmd_services,
	  "Services (vip, ports, champion, challenger, share_bp) and groups in force, with "
	  "their generation" },
	{ "/sluice/flowtable", cmd_flowtable,
	  "Per worker flow table: capacity, live entries, bytes, full (not tracked), "
	  "redecided, expired" },
	{ "/sluice/generation", cmd_generation,
	  "Table generation in force and the generation each worker acknowledged" },
	{ "/sluice/flows", cmd_flows,
	  "Flows in the workers' tables. Params: SERVICE[,LIMIT[,GROUP]], LIMIT 1..100 "
	  "(default 20)" },
	{ "/sluice/flow", cmd_flow,
	  "A connection's sticky entry and a new flow's decision now. Params: "
	  "PROTO,SRC:PORT,DST:PORT" },
};

static int dispatch(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = 0;

	pthread_mutex_lock(&tel_lock);
	if (!tel) {
		rc = reply_error(d, "sluice-dp is stopping");
	} else {
		for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcmp(cmd, cmds[i].name) == 0)
				rc = cmds[i].fn(cmd, params, d);
	}
	pthread_mutex_unlock(&tel_lock);
	return rc;
}

int sl_dp_telemetry_init(const struct sl_dp_tel *t, char *err, size_t errlen)
{
	pthread_mutex_lock(&tel_lock);
	tel = t;
	pthread_mutex_unlock(&tel_lock);
	if (registered)
		return 0;
	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc = rte_telemetry_register_cmd(cmds[i].name, dispatch, cmds[i].help);

		if (rc != 0) {
			snprintf(err, errlen, "cannot register telemetry command %s: %s (its help "
				 "text is %zu characters, DPDK takes up to %d)", cmds[i].name,
				 strerror(-rc), strlen(cmds[i].help), RTE_TEL_MAX_STRING_LEN - 1);
			return -1;
		}
	}
	registered = 1;
	return 0;
}

void sl_dp_telemetry_fini(void)
{
	pthread_mutex_lock(&tel_lock);
	tel = NULL;
	pthread_mutex_unlock(&tel_lock);
}
