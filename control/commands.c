/* sluiced's commands, startup and timers (see commands.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "path.h"
#include "errmsg.h"
#include "parse.h"
#include "proto.h"
#include "stats.h"
#include "tables.h"

#ifndef SL_VERSION
#define SL_VERSION "unknown"
#endif

uint64_t sl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The commands' clock: the wall clock, or the caller's (packet time). */
static uint64_t daemon_now(const struct sl_daemon *d)
{
	return d->virtual_clock ? d->clock_ms : sl_now_ms();
}

static void (*log_fn)(void *ctx, const char *line);
static void *log_ctx;

void sl_log_sink(void (*fn)(void *ctx, const char *line), void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
}

void sl_log(const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_fn)
		log_fn(log_ctx, line);
	else
		fprintf(stderr, "sluiced: %s\n", line);
}

static json_t *actor_json(const struct sl_actor *who)
{
	if (who && who->name)
		return json_string(who->name);
	if (!who || who->uid < 0)
		return json_string("daemon");
	return json_pack("{s:I, s:I}", "uid", (json_int_t)who->uid, "pid", (json_int_t)who->pid);
}

static void actor_text(const json_t *a, char *buf, size_t len)
{
	if (json_is_string(a))
		snprintf(buf, len, "%s", json_string_value(a));
	else
		snprintf(buf, len, "uid %lld pid %lld",
			 (long long)json_integer_value(json_object_get(a, "uid")),
			 (long long)json_integer_value(json_object_get(a, "pid")));
}

/* ---- acknowledgements ---- */

static void lat_record(struct sl_daemon *d, uint32_t us)
{
	d->lat[d->lat_count % SL_ACK_LAT_RING] = us;
	d->lat_count++;
	if (us > d->lat_max)
		d->lat_max = us;
	d->lat_hist[sl_hist_bucket(us)]++;
	d->lat_sum_us += us;
}

/* How long a change spins for its acknowledgement before its reply is
 * deferred (defer_acks): a busy worker acknowledges within a burst. */
#define SL_ACK_SPIN_US 2000

/* The acks object of the reply and a text for the log, from the outcome rc
 * of sl_maps_wait_acks, waited_us after the publication (the time reported
 * runs from the publication, not from the start of the wait: a busy worker
 * often acknowledges while the reply is being built). */
static json_t *acks_json(struct sl_daemon *d, int rc, uint64_t waited_us,
			 const uint32_t *missing, uint32_t nmissing, char *text, size_t len)
{
	uint32_t nw = sl_maps_workers(&d->maps);
	uint32_t waited = waited_us > UINT32_MAX ? UINT32_MAX : (uint32_t)waited_us;
	json_t *list;
	size_t n;

	if (rc == 0) {
		lat_record(d, waited);
		snprintf(text, len, "acked by %u worker%s in %u us", nw, nw == 1 ? "" : "s",
			 waited);
		return json_pack("{s:s, s:I, s:I}", "status", "acked", "workers", (json_int_t)nw,
				 "waited_us", (json_int_t)waited);
	}
	if (rc == 2) {
		snprintf(text, len, "no dataplane attached");
		return json_pack("{s:s}", "status", "no_dataplane");
	}
	d->ack_timeouts++;
	list = json_array();
	n = (size_t)snprintf(text, len, "NOT acknowledged within %u ms by worker%s",
			     d->cfg->ack_timeout_ms, nmissing == 1 ? "" : "s");
	for (uint32_t i = 0; i < nmissing; i++) {
		json_array_append_new(list, json_integer(missing[i]));
		if (n < len)
			n += (size_t)snprintf(text + n, len - n, "%s %u", i ? "," : "", missing[i]);
	}
	return json_pack("{s:s, s:I, s:I, s:I, s:o}", "status", "timeout", "workers",
			 (json_int_t)nw, "waited_us", (json_int_t)waited, "timeout_ms",
			 (json_int_t)d->cfg->ack_timeout_ms, "missing", list ? list : json_array());
}

/* Wait for gen, published at published_us (sl_mono_us), at most
 * ack_timeout: the acks object and the log's text. */
static json_t *wait_acks(struct sl_daemon *d, uint32_t gen, uint64_t published_us, char *text,
			 size_t len)
{
	uint32_t missing[SL_MAX_WORKERS], nmissing = 0, waited = 0;
	uint64_t before = sl_mono_us() - published_us;
	int rc = sl_maps_wait_acks(&d->maps, gen, d->cfg->ack_timeout_ms * 1000u, &waited,
				   missing, &nmissing);

	return acks_json(d, rc, before + waited, missing, nmissing, text, len);
}

/* A new rule set (shadow_gen = gen): has the dataplane compiled its
 * filters (dp->shadow_ready_gen)?  At most ack_timeout, timed from the
 * publication like the acks; block: wait until then, else NULL while it is
 * still to come. */
static json_t *filters_json(struct sl_daemon *d, uint32_t gen, uint64_t published_us,
			    int block, char *text, size_t len)
{
	uint64_t deadline = published_us + (uint64_t)d->cfg->ack_timeout_ms * 1000u, now, took;
	uint32_t ready;

	if (sl_maps_workers(&d->maps) == 0) {
		snprintf(text, len, "no dataplane attached to compile the filters");
		return json_pack("{s:s}", "status", "no_dataplane");
	}
	for (;;) {
		struct timespec ts = { 0, 50000 };

		ready = __atomic_load_n(&d->maps.dp->shadow_ready_gen, __ATOMIC_ACQUIRE);
		now = sl_mono_us();
		/* generations only grow: a later rule set compiled covers this one */
		if ((int32_t)(ready - gen) >= 0 || now >= deadline || !sl_maps_workers(&d->maps))
			break;
		if (!block)
			return NULL;
		nanosleep(&ts, NULL);
	}
	took = now - published_us;
	if ((int32_t)(ready - gen) >= 0) {
		snprintf(text, len, "filters compiled by the dataplane in %llu us",
			 (unsigned long long)took);
		return json_pack("{s:s, s:I}", "status", "compiled", "waited_us", (json_int_t)took);
	}
	if (!sl_maps_workers(&d->maps)) {
		snprintf(text, len, "the dataplane left before compiling the filters");
		return json_pack("{s:s}", "status", "no_dataplane");
	}
	snprintf(text, len, "filters NOT compiled by the dataplane within %u ms (it has those "
		 "of generation %u)", d->cfg->ack_timeout_ms, ready);
	return json_pack("{s:s, s:I, s:I}", "status", "timeout", "timeout_ms",
			 (json_int_t)d->cfg->ack_timeout_ms, "ready_gen", (json_int_t)ready);
}

/* ---- a published change waiting for the dataplane (sl_pending) ---- */

/* Start waiting for gen; res (may be NULL) gets "acks" (and "filters"). */
static void pending_start(struct sl_daemon *d, uint32_t gen, uint64_t pub_us, int shadow,
			  json_t *res, const char *what, const char *who, const char *reason,
			  const char *note)
{
	struct sl_pending *p = &d->pending;

	p->active = 1;
	p->deferred = 0;
	p->acks_done = 0;
	p->gen = gen;
	p->pub_us = pub_us;
	p->shadow = shadow;
	p->res = res ? json_incref(res) : NULL;
	p->id = NULL;
	snprintf(p->what, sizeof(p->what), "%s", what);
	snprintf(p->who, sizeof(p->who), "%s", who);
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	snprintf(p->note, sizeof(p->note), "%s", note);
	p->text[0] = '\0';
}

/* Settle d->pending if it can: acks, then filters, then the log line.
 * Spins spin_us for the acks first; block: waits until settled (at most
 * ack_timeout).  1 when settled (the result released unless a deferred
 * request waits for it), 0 while it waits. */
static int pending_check(struct sl_daemon *d, uint32_t spin_us, int block)
{
	struct sl_pending *p = &d->pending;
	uint64_t limit = (uint64_t)d->cfg->ack_timeout_ms * 1000u;

	if (!p->active)
		return 1;
	if (!p->acks_done) {
		uint32_t missing[SL_MAX_WORKERS], nmissing = 0, waited = 0;
		uint64_t el = sl_mono_us() - p->pub_us;
		uint32_t wait = block ? (el < limit ? (uint32_t)(limit - el) : 0) : spin_us;
		int rc = sl_maps_wait_acks(&d->maps, p->gen, wait, &waited, missing, &nmissing);
		json_t *acks;

		el = sl_mono_us() - p->pub_us;
		if (rc == 1 && !block && el < limit)
			return 0;
		acks = acks_json(d, rc, el, missing, nmissing, p->text, sizeof(p->text));
		if (p->res && acks)
			json_object_set_new(p->res, "acks", acks);
		else
			json_decref(acks);
		p->acks_done = 1;
	}
	if (p->shadow) {
		char text[160];
		size_t n = strlen(p->text);
		json_t *f = filters_json(d, p->gen, p->pub_us, block, text, sizeof(text));

		if (!f)
			return 0;
		if (p->res)
			json_object_set_new(p->res, "filters", f);
		else
			json_decref(f);
		snprintf(p->text + n, sizeof(p->text) - n, "; %.200s", text);
		p->shadow = 0;
	}
	if (p->who[0])
		sl_log("generation %u %s: %s, by %s: %s", p->gen, p->what, p->reason, p->who,
		       p->text);
	else
		sl_log("generation %u %s: %s", p->gen, p->what, p->text);
	if (p->note[0])
		sl_log("generation %u %s: note: %s", p->gen, p->what, p->note);
	p->active = 0;
	if (!p->deferred) {
		json_decref(p->res);
		p->res = NULL;
	}
	return 1;
}

int sl_daemon_poll(struct sl_daemon *d, char **reply)
{
	struct sl_pending *p = &d->pending;

	*reply = NULL;
	if (!p->active || !pending_check(d, 0, 0))
		return 0;
	if (!p->deferred)
		return 1;
	*reply = p->res ? sl_reply_ok(p->id, p->res) : NULL; /* steals res */
	p->res = NULL;
	json_decref(p->id);
	p->id = NULL;
	p->deferred = 0;
	return 2;
}

/* Counters of shadow rule slot r summed over the workers. */
static void shadow_sum(const struct sl_daemon *d, unsigned r, struct sl_shadow_counters *c)
{
	uint32_t nw = sl_maps_workers(&d->maps);

	memset(c, 0, sizeof(*c));
	for (uint32_t w = 0; w < nw; w++) {
		const struct sl_shadow_counters *x = &d->maps.stats[w].shadow[r];

		c->flows += __atomic_load_n(&x->flows, __ATOMIC_RELAXED);
		c->pkts += __atomic_load_n(&x->pkts, __ATOMIC_RELAXED);
		c->drops += __atomic_load_n(&x->drops, __ATOMIC_RELAXED);
		c->pending += __atomic_load_n(&x->pending, __ATOMIC_RELAXED);
	}
}

/* The rule of slot r since it was added; a dataplane that started again
 * counts from zero. */
void sl_daemon_shadow_counts(struct sl_daemon *d, unsigned r, struct sl_shadow_counters *c)
{
	struct sl_shadow_counters *b = &d->shadow_base[r];

	shadow_sum(d, r, c);
	if (c->flows < b->flows || c->pkts < b->pkts || c->drops < b->drops ||
	    c->pending < b->pending)
		memset(b, 0, sizeof(*b));
	c->flows -= b->flows;
	c->pkts -= b->pkts;
	c->drops -= b->drops;
	c->pending -= b->pending;
}

/* The previous generation must be in use by every worker before its slot
 * is rewritten. */
static int busy(struct sl_daemon *d, struct sl_error *e)
{
	uint32_t missing[SL_MAX_WORKERS], nmissing = 0, waited;
	char list[256];
	size_t n = 0;

	if (d->unpublished)
		return sl_error_set(e, SL_E_BUSY, "", "generation %u is journaled but not yet "
				    "published (sluiced retries every second); try again",
				    d->st->gen);
	if (d->pending.active)
		return sl_error_set(e, SL_E_BUSY, "", "generation %u waits for the dataplane's "
				    "acknowledgement (at most %u ms); try again", d->pending.gen,
				    d->cfg->ack_timeout_ms);
	if (sl_maps_wait_acks(&d->maps, d->st->gen, 0, &waited, missing, &nmissing) != 1)
		return 0;
	list[0] = '\0';
	for (uint32_t i = 0; i < nmissing && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%u", i ? ", " : "",
				      missing[i]);
	return sl_error_set(e, SL_E_BUSY, "", "generation %u is not yet acknowledged by "
			    "worker%s %s of the dataplane (pid %u); the change is refused until "
			    "every worker uses it: try again", d->st->gen,
			    nmissing == 1 ? "" : "s", list, d->maps.dp->pid);
}

/* ---- applying a change ---- */

/* The reply's result from the journal entry: what changed, without who
 * and when (the client knows); the reason only where it says more than
 * the request did (rollout steps, undo, reload). */
static json_t *result_of(const json_t *entry, const char *cmd, int published)
{
	int plain = !strcmp(cmd, "switch") || !strcmp(cmd, "canary") || !strcmp(cmd, "weights");
	json_t *r = json_pack("{s:b, s:O}", "changed", 1, "gen", json_object_get(entry, "gen"));
	const char *key;
	json_t *v;

	if (!r)
		return NULL;
	json_object_foreach((json_t *)entry, key, v) {
		if (!strcmp(key, "time") || !strcmp(key, "actor") || !strcmp(key, "cmd") ||
		    !strcmp(key, "gen") || !strcmp(key, "reset_gen") ||
		    (plain && !strcmp(key, "reason")))
			continue;
		json_object_set(r, key, v);
	}
	json_object_set_new(r, "published", json_boolean(published));
	return r;
}

/* Journal, publish and commit d->txn (planned); extra's members go into
 * the journal entry too (a guard's figures).  Returns the result, or NULL
 * with e (nothing changed). */
static json_t *apply_with(struct sl_daemon *d, const char *cmd, json_t *actor, json_t *extra,
			  struct sl_error *e)
{
	struct sl_state *st = d->st;
	struct sl_txn *t = d->txn;
	char err[SL_ERR_LEN], who[64], acks_text[400] = "not published: no table changes";
	json_t *entry, *res, *acks = NULL;
	int published = 0;
	uint64_t pub_us = 0;

	actor_text(actor, who, sizeof(who));
	if (t->publish) {
		if (busy(d, e)) {
			json_decref(actor);
			return NULL;
		}
		if (sl_txn_render(st, t, err, sizeof(err))) {
			json_decref(actor);
			sl_log("%s by %s refused: %s", t->reason, who, err);
			sl_error_set(e, SL_E_INTERNAL, "", "%s", err);
			return NULL;
		}
	}
	entry = sl_txn_journal(st, t, cmd, actor, daemon_now(d));
	if (!entry) {
		sl_error_set(e, SL_E_INTERNAL, "", "out of memory for the journal entry");
		return NULL;
	}
	if (!strcmp(cmd, "reload") || !strcmp(cmd, "init"))
		json_object_set_new(entry, "config", sl_json_str(d->config_path));
	if (extra)
		json_object_update(entry, extra);
	if (sl_journal_append(&d->journal, entry, err, sizeof(err))) {
		sl_log("%s by %s refused: %s", t->reason, who, err);
		sl_error_set(e, SL_E_INTERNAL, "", "%s (nothing changed)", err);
		json_decref(entry);
		return NULL;
	}
	if (t->publish) {
		sl_maps_avoid_workers(&d->maps);
		if (sl_maps_publish(&d->maps, st->out, st->out_groups, st->out->ngroups, err,
				    sizeof(err))) {
			/* Journaled: it is the state now; the timer publishes it. */
			sl_log("generation %u journaled but not published: %s (retrying every "
			       "second)", t->gen, err);
			d->unpublished = 1;
		} else {
			published = 1;
			pub_us = sl_mono_us();
		}
	}
	res = result_of(entry, cmd, published);
	json_decref(entry);
	if (t->shadow_op == SL_SHADOW_ADD)
		shadow_sum(d, (unsigned)t->shadow_slot, &d->shadow_base[t->shadow_slot]);
	sl_txn_commit(st, t);
	if (published) {
		/* The acks (and filters) and the log line: now, or, when the
		 * dataplane is slow and sluiced may defer, from sl_daemon_poll. */
		pending_start(d, t->gen, pub_us, t->shadow_changed, res, cmd, who, t->reason,
			      t->note);
		pending_check(d, d->defer_acks ? SL_ACK_SPIN_US : 0, !d->defer_acks);
		if (!res)
			sl_error_set(e, SL_E_INTERNAL, "", "generation %u is in force but its reply "
				     "ran out of memory", t->gen);
		return res;
	} else if (t->publish) {
		snprintf(acks_text, sizeof(acks_text), "publication pending");
		acks = json_pack("{s:s}", "status", "unpublished");
	}
	if (res && acks)
		json_object_set_new(res, "acks", acks);
	else
		json_decref(acks);
	sl_log("generation %u %s: %s, by %s: %s", t->gen, cmd, t->reason, who, acks_text);
	if (t->note[0])
		sl_log("generation %u %s: note: %s", t->gen, cmd, t->note);
	if (!res)
		sl_error_set(e, SL_E_INTERNAL, "", "generation %u is in force but its reply ran "
			     "out of memory", t->gen);
	return res;
}

static json_t *apply(struct sl_daemon *d, const char *cmd, json_t *actor, struct sl_error *e)
{
	return apply_with(d, cmd, actor, NULL, e);
}

/* Publish d->txn without journaling it (it already is: startup). */
static int publish_only(struct sl_daemon *d, char *err, size_t errlen)
{
	struct sl_txn *t = d->txn;
	char text[160];
	json_t *acks;
	uint64_t pub_us;

	if (sl_txn_render(d->st, t, err, errlen) ||
	    sl_maps_publish(&d->maps, d->st->out, d->st->out_groups, d->st->out->ngroups, err,
			    errlen))
		return -1;
	pub_us = sl_mono_us();
	sl_txn_commit(d->st, t);
	acks = wait_acks(d, t->gen, pub_us, text, sizeof(text));
	json_decref(acks);
	sl_log("generation %u published: %s", t->gen, text);
	return 0;
}

static json_t *shadow_list_item(struct sl_daemon *d, unsigned r)
{
	json_t *o = sl_shadow_json(&d->st->shadows.r[r], r);
	struct sl_shadow_counters c;

	if (!o)
		return NULL;
	sl_daemon_shadow_counts(d, r, &c);
	json_object_set_new(o, "flows", json_integer((json_int_t)c.flows));
	json_object_set_new(o, "packets", json_integer((json_int_t)c.pkts));
	json_object_set_new(o, "dropped", json_integer((json_int_t)c.drops));
	json_object_set_new(o, "pending", json_integer((json_int_t)c.pending));
	return o;
}

static json_t *shadow_list(struct sl_daemon *d)
{
	json_t *list = json_array();

	for (unsigned r = 0; r < d->st->shadows.n && list; r++)
		if (d->st->shadows.r[r].name[0])
			json_array_append_new(list, shadow_list_item(d, r));
	return list;
}

static json_t *unchanged(const struct sl_daemon *d, int svc)
{
	json_t *r = json_pack("{s:b, s:I}", "changed", 0, "gen", (json_int_t)d->st->gen);
	const struct sl_svc *s;

	if (!r || svc < 0)
		return r;
	s = &d->st->svc[svc];
	json_object_set_new(r, "service", json_string(s->st.name));
	json_object_set_new(r, "before", sl_svc_json(&s->st));
	json_object_set_new(r, "after", sl_svc_json(&s->st));
	return r;
}

/* ---- guards ---- */

/* A failed guard acts through the rollout verbs, as `sluicectl abort`
 * would, journaled with actor "guard NAME" and the figures. */
static void guard_act(struct sl_daemon *d, int s, unsigned i, uint64_t now)
{
	struct sl_guard_run *run = &d->board->r[s][i];
	const struct sl_cfg_guard *g = &run->def;
	const struct sl_svc *sv = &d->st->svc[s];
	char sentence[768], actor[SL_NAME_LEN + 8], why[640];
	struct sl_error e;
	struct sl_req *req;
	enum sl_cmd cmd;
	json_t *extra, *res;
	int rc, reset;

	if (g->on_fail == SL_GUARD_ABORT) {
		cmd = SL_CMD_ROLLOUT_ABORT;
	} else if (sv->ro.state == SL_RO_RUNNING) {
		cmd = SL_CMD_ROLLOUT_PAUSE;
	} else {
		snprintf(run->action, sizeof(run->action), "rollout already paused");
		sl_guard_sentence(run, sentence, sizeof(sentence));
		sl_log("%s: %s", sv->st.name, sentence);
		return;
	}
	reset = cmd == SL_CMD_ROLLOUT_ABORT && g->reset;
	req = calloc(1, sizeof(*req));
	if (!req) {
		sl_log("guard %s failed but there is no memory to act on it", g->name);
		return;
	}
	req->cmd = cmd;
	req->reset = reset;
	rc = sl_plan_rollout(d->st, d->txn, cmd, sv->st.name, req, now, &e);
	free(req);
	if (rc <= 0) {
		sl_log("guard %s failed; %s refused: %s", g->name, sl_cmd_name(cmd),
		       rc < 0 ? e.message : "no change");
		if (rc == 0)
			snprintf(run->action, sizeof(run->action), "no change");
		return;
	}
	/* the figures as the journal keeps them, with the action taken */
	snprintf(run->action, sizeof(run->action), "rollout %s%s",
		 cmd == SL_CMD_ROLLOUT_ABORT ? "aborted" : "paused",
		 reset ? ", established flows re-decided" : "");
	sl_guard_sentence(run, sentence, sizeof(sentence));
	snprintf(why, sizeof(why), "%s", d->txn->reason);
	sl_seterr(d->txn->reason, sizeof(d->txn->reason), "guard %s; %s", sentence, why);
	snprintf(actor, sizeof(actor), "guard %s", g->name);
	extra = json_pack("{s:o}", "guard", sl_guard_run_json(run, now));
	res = apply_with(d, sl_cmd_name(cmd), json_string(actor), extra, &e);
	json_decref(extra);
	if (!res) {
		/* busy: the guard stays failed and acts again at the next look */
		sl_log("guard %s failed; %s waits: %s", g->name, sl_cmd_name(cmd), e.message);
		run->action[0] = '\0';
		return;
	}
	json_decref(res);
}

/* Look at every running rollout's guards (each sample, each push) and act
 * on those that failed. */
static void guards_look(struct sl_daemon *d, uint64_t now)
{
	struct sl_state *st = d->st;
	const struct sl_counters *stats = d->local_stats ? d->local_stats : d->maps.stats;
	uint32_t nw = d->local_stats ? 1 : sl_maps_workers(&d->maps);

	for (int s = 0; s < st->nservices; s++) {
		struct sl_svc *sv = &st->svc[s];
		struct sl_guard_look_svc out;

		if (!sv->st.name[0] || !sv->ro.nguards) {
			d->held[s] = 0;
			continue;
		}
		/* an operator resumed a rollout a guard had paused: fresh evidence */
		for (uint32_t i = 0; i < sv->ro.nguards && sv->ro.state == SL_RO_RUNNING; i++) {
			struct sl_guard_run *r = &d->board->r[s][i];

			if (r->used && r->verdict == SL_GV_FAILED &&
			    r->def.on_fail == SL_GUARD_PAUSE && r->action[0]) {
				sl_log("%s: rollout running again after guard %s paused it: the "
				       "guard's window starts again", sv->st.name, r->def.name);
				r->used = 0;
			}
		}
		sl_guards_look(d->board, s, &sv->ro, sv->st.champion, sv->st.challenger, st->base,
			       stats, nw, d->pushed, now, &out);
		for (uint32_t i = 0; i < SL_RO_MAX_GUARDS && i < sv->ro.nguards; i++) {
			struct sl_guard_run *r = &d->board->r[s][i];

			/* a failed guard whose action did not go through yet acts now */
			if (r->used && !r->frozen && r->verdict == SL_GV_FAILED && !r->action[0] &&
			    sl_ro_active(&sv->ro))
				guard_act(d, s, i, now);
		}
		if (!sl_ro_active(&sv->ro))
			d->held[s] = 0;
	}
}

/* At the end of a dwell, every guard must have its flows and not have
 * failed: otherwise pause (on_inconclusive = pause) or hold the step.
 * Fills d->held for the tick. */
static void guards_gate(struct sl_daemon *d, uint64_t now)
{
	struct sl_state *st = d->st;

	for (int s = 0; s < st->nservices; s++) {
		struct sl_svc *sv = &st->svc[s];
		char reason[320];
		struct sl_error e;
		struct sl_req *req;
		int pause, rc;
		json_t *res;

		if (!sv->st.name[0] || !sv->ro.nguards || sv->ro.state != SL_RO_RUNNING ||
		    sl_ro_deadline(&sv->ro) > now) {
			if (sv->ro.state != SL_RO_RUNNING)
				d->held[s] = 0;
			continue;
		}
		if (!sl_guards_gate(d->board, s, &sv->ro, &pause, reason, sizeof(reason))) {
			if (d->held[s])
				sl_log("%s: step %u/%u held until now: every guard has its flows",
				       sv->st.name, sv->ro.step + 1, sv->ro.nsteps);
			d->held[s] = 0;
			continue;
		}
		if (!pause) {
			if (!d->held[s] || strcmp(d->held_why[s], reason))
				sl_log("%s: step %u/%u dwell ended, held: %s", sv->st.name,
				       sv->ro.step + 1, sv->ro.nsteps, reason);
			d->held[s] = 1;
			snprintf(d->held_why[s], sizeof(d->held_why[s]), "%s", reason);
			continue;
		}
		req = calloc(1, sizeof(*req));
		if (!req)
			continue;
		req->cmd = SL_CMD_ROLLOUT_PAUSE;
		rc = sl_plan_rollout(st, d->txn, SL_CMD_ROLLOUT_PAUSE, sv->st.name, req, now, &e);
		free(req);
		if (rc <= 0) {
			sl_log("%s: guards would pause the rollout (%s) but: %s", sv->st.name, reason,
			       rc < 0 ? e.message : "no change");
			d->held[s] = 1;
			snprintf(d->held_why[s], sizeof(d->held_why[s]), "%s", reason);
			continue;
		}
		{
			char why[512];

			snprintf(why, sizeof(why), "%s", d->txn->reason);
			sl_seterr(d->txn->reason, sizeof(d->txn->reason), "step %u/%u dwell ended "
				  "inconclusive: %s; %s", sv->ro.step + 1, sv->ro.nsteps, reason, why);
		}
		res = apply(d, "rollout_pause", json_string("guards"), &e);
		if (!res) {
			d->held[s] = 1;
			sl_seterr(d->held_why[s], sizeof(d->held_why[s]), "%s (pause waits: %s)",
				  reason, e.message);
			continue;
		}
		json_decref(res);
		d->held[s] = 0;
	}
}

/* The figures of service s's guards (status, guard list). */
static json_t *guards_json(const struct sl_daemon *d, int s, uint64_t now)
{
	const struct sl_svc *sv = &d->st->svc[s];
	json_t *list = json_array();

	for (uint32_t i = 0; list && i < sv->ro.nguards && i < SL_RO_MAX_GUARDS; i++) {
		const struct sl_guard_run *r = &d->board->r[s][i];
		struct sl_guard_run fresh;

		if (!r->used || strcmp(r->def.name, sv->ro.guards[i].name)) {
			/* not looked at since sluiced started (or since the rollout began) */
			memset(&fresh, 0, sizeof(fresh));
			fresh.def = sv->ro.guards[i];
			sl_seq_init(&fresh.seq, fresh.def.alpha, fresh.def.margin);
			fresh.used = 1;
			fresh.window_ms = now;
			fresh.verdict = SL_GV_NONE;
			fresh.frozen = !sl_ro_active(&sv->ro);
			r = &fresh;
		}
		json_array_append_new(list, sl_guard_run_json(r, now));
	}
	return list;
}

json_t *sl_daemon_guards(const struct sl_daemon *d, int svc, uint64_t now_ms)
{
	return guards_json(d, svc, now_ms);
}

/* The guards of a new rollout of service s: the configuration's guards of
 * the service with rollouts = all, the guards named (a plan's, or the
 * configuration's), and every guard the plan defines.  A plan's guard
 * wins over a configuration's of the same name. */
static int rollout_guards(struct sl_daemon *d, int s, const struct sl_req *r,
			  struct sl_cfg_guard *out, uint32_t *n, struct sl_error *e)
{
	const struct sl_config *cfg = d->cfg;
	const char *svc = d->st->svc[s].st.name;
	char where[64];
	const struct sl_cfg_guard *pick[SL_MAX_GUARDS + SL_RO_MAX_GUARDS];
	uint32_t np = 0;

	for (uint32_t i = 0; i < r->nguard_defs; i++)
		pick[np++] = &r->guard_defs[i];
	for (uint32_t i = 0; i < r->nguard_names; i++) {
		const struct sl_cfg_guard *g = NULL;
		int dup = 0;

		for (uint32_t k = 0; k < r->nguard_defs && !g; k++)
			if (!strcmp(r->guard_defs[k].name, r->guard_names[i]))
				g = &r->guard_defs[k], dup = 1;
		for (uint32_t k = 0; k < cfg->nguards && !g; k++)
			if (!strcmp(cfg->guards[k].name, r->guard_names[i]))
				g = &cfg->guards[k];
		if (!g) {
			char list[512] = "";
			size_t len = 0;

			for (uint32_t k = 0; k < cfg->nguards && len < sizeof(list); k++)
				if (!strcmp(cfg->guards[k].service, svc))
					len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
								len ? ", " : "", cfg->guards[k].name);
			return sl_error_set(e, SL_E_BAD_GUARD, "guards", "guards: no guard named "
					    "'%s' in %s or the plan (guards of %s: %s)",
					    r->guard_names[i], d->config_path, svc,
					    list[0] ? list : "none");
		}
		if (!dup)
			pick[np++] = g;
	}
	for (uint32_t k = 0; k < cfg->nguards; k++) {
		const struct sl_cfg_guard *g = &cfg->guards[k];
		int have = 0;

		if (g->named || strcmp(g->service, svc))
			continue;
		for (uint32_t j = 0; j < np && !have; j++)
			have = !strcmp(pick[j]->name, g->name);
		if (!have)
			pick[np++] = g;
	}
	if (np > SL_RO_MAX_GUARDS)
		return sl_error_set(e, SL_E_BAD_GUARD, "guards", "%u guards would watch this "
				    "rollout of %s (at most %u)", np, svc, SL_RO_MAX_GUARDS);
	for (uint32_t j = 0; j < np; j++) {
		snprintf(where, sizeof(where), "guard %s", pick[j]->name);
		if (strcmp(pick[j]->service, svc))
			return sl_error_set(e, SL_E_BAD_GUARD, "guards", "%s watches service %s, "
					    "not %s", where, pick[j]->service, svc);
		/* its slice must be in the table in force (the file's or one added
		 * by `slice add`) */
		if (pick[j]->slice[0]) {
			struct sl_guard_src src;

			sl_guard_resolve(pick[j], d->st->base, &src);
			if (src.slot < 0) {
				char list[512];

				sl_slice_names(d->st->base, s, list, sizeof(list));
				return sl_error_set(e, SL_E_BAD_GUARD, "guards", "%s slice: %s has no "
						    "slice named '%s' (slices of %s: %s)", where, svc,
						    pick[j]->slice, svc, list);
			}
		}
		out[j] = *pick[j];
	}
	*n = np;
	return 0;
}

/* ---- read-only commands ---- */

static json_t *dataplane_json(const struct sl_daemon *d)
{
	uint32_t nw = sl_maps_workers(&d->maps);

	return json_pack("{s:b, s:I, s:o}", "attached", nw > 0, "workers", (json_int_t)nw, "pid",
			 nw ? json_integer(d->maps.dp->pid) : json_null());
}

static json_t *cmd_status(struct sl_daemon *d, const struct sl_req *r, struct sl_error *e)
{
	const struct sl_state *st = d->st;
	uint64_t now = daemon_now(d);
	json_t *list = json_array();
	int only = -1;

	if (r->has_service && (only = sl_state_find_service(st, r->service, e)) < 0) {
		json_decref(list);
		return NULL;
	}
	/* A dataplane attached or gone since the last sample: say so now, not
	 * up to a second later in contradiction with "dataplane". */
	if (sl_maps_workers(&d->maps) != st->workers)
		sl_state_sample(d->st, d->maps.stats, sl_maps_workers(&d->maps), now);
	for (int s = 0; s < st->nservices && list; s++) {
		json_t *o;

		if (!st->svc[s].st.name[0] || (only >= 0 && s != only))
			continue;
		o = sl_state_status_json(st, s, now);
		if (o) {
			json_object_set_new(o, "guards", guards_json(d, s, now));
			json_object_set_new(o, "path", sl_state_path_json(st, s, d->cfg));
			if (d->held[s])
				json_object_set_new(o, "held", sl_json_str(d->held_why[s]));
		}
		json_array_append_new(list, o);
	}
	return json_pack("{s:s, s:I, s:o, s:o}", "instance", d->instance, "gen",
			 (json_int_t)st->gen, "dataplane", dataplane_json(d), "services",
			 list ? list : json_null());
}

static json_t *cmd_rollout_status(struct sl_daemon *d, const struct sl_req *r,
				  struct sl_error *e)
{
	const struct sl_state *st = d->st;
	uint64_t now = daemon_now(d);
	json_t *list = json_array();
	int only = -1;

	if (r->has_service && (only = sl_state_find_service(st, r->service, e)) < 0) {
		json_decref(list);
		return NULL;
	}
	for (int s = 0; s < st->nservices && list; s++) {
		if (!st->svc[s].st.name[0] || (only >= 0 && s != only) ||
		    (only < 0 && st->svc[s].ro.state == SL_RO_NONE))
			continue;
		json_array_append_new(list, json_pack("{s:s, s:o}", "service", st->svc[s].st.name,
						      "rollout",
						      sl_state_rollout_json(st, s, now)));
	}
	return json_pack("{s:o}", "rollouts", list ? list : json_null());
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static json_t *ack_latency(const struct sl_daemon *d)
{
	uint32_t n = d->lat_count < SL_ACK_LAT_RING ? (uint32_t)d->lat_count : SL_ACK_LAT_RING;
	uint32_t *v;
	json_t *o;

	if (n == 0)
		return json_pack("{s:I, s:n, s:n, s:n}", "count", (json_int_t)0, "p50_us",
				 "p99_us", "max_us");
	v = malloc(n * sizeof(*v));
	if (!v)
		return NULL;
	memcpy(v, d->lat, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u32);
	o = json_pack("{s:I, s:I, s:I, s:I}", "count", (json_int_t)d->lat_count, "p50_us",
		      (json_int_t)v[(n - 1) * 50 / 100], "p99_us",
		      (json_int_t)v[(n - 1) * 99 / 100], "max_us", (json_int_t)d->lat_max);
	free(v);
	return o;
}

static json_t *grp_json(const char *svc, const char *grp, const struct sl_grp_counters *c)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "service", svc,
			 "group", grp, "pkts", (json_int_t)c->pkts, "bytes", (json_int_t)c->bytes,
			 "flows", (json_int_t)c->flows, "active", (json_int_t)c->active,
			 "ret_pkts", (json_int_t)c->ret_pkts, "ret_bytes",
			 (json_int_t)c->ret_bytes, "ret_rst", (json_int_t)c->ret_rst,
			 "ret_synack", (json_int_t)c->ret_synack);
}

uint32_t sl_daemon_counters(const struct sl_daemon *d, struct sl_counters *sum)
{
	const struct sl_counters *stats = d->local_stats ? d->local_stats : d->maps.stats;
	uint32_t nw = d->local_stats ? 1 : sl_maps_workers(&d->maps);

	memset(sum, 0, sizeof(*sum));
	for (uint32_t w = 0; w < nw; w++)
		sl_counters_add(sum, &stats[w]);
	return nw;
}

int sl_daemon_port_dev(const struct sl_daemon *d, unsigned p, struct sl_port_dev *out)
{
	const struct sl_port_dev *v;

	if (d->local_stats || p >= SL_MAX_PORTS || !d->maps.dp || !sl_maps_workers(&d->maps) ||
	    !__atomic_load_n(&d->maps.dp->port_dev_ns, __ATOMIC_ACQUIRE))
		return 0;
	v = &d->maps.dp->port_dev[p];
	out->rx_missed = __atomic_load_n(&v->rx_missed, __ATOMIC_RELAXED);
	out->rx_errors = __atomic_load_n(&v->rx_errors, __ATOMIC_RELAXED);
	out->rx_nombuf = __atomic_load_n(&v->rx_nombuf, __ATOMIC_RELAXED);
	out->tx_errors = __atomic_load_n(&v->tx_errors, __ATOMIC_RELAXED);
	return 1;
}

int sl_daemon_group_shown(const struct sl_daemon *d, int s, unsigned g,
			  const struct sl_grp_counters *c)
{
	const struct sl_svc_rec *r = &d->st->svc[s].st;
	const char *name = d->st->base_groups[g].name;

	return !strcmp(name, r->champion) || !strcmp(name, r->challenger) || c->pkts ||
	       c->active || c->ret_pkts;
}

static json_t *cmd_stats(struct sl_daemon *d, struct sl_error *e)
{
	const struct sl_state *st = d->st;
	const struct sl_table_hdr *h = st->base;
	struct sl_counters *sum = malloc(sizeof(*sum));
	json_t *ports, *groups, *bad, *o;
	uint32_t nw;

	if (!sum) {
		sl_error_set(e, SL_E_INTERNAL, "", "out of memory for the counters");
		return NULL;
	}
	nw = sl_daemon_counters(d, sum);
	ports = json_array();
	for (unsigned p = 0; p < h->nports && ports; p++) {
		struct sl_port_dev dev;
		json_t *o = json_pack("{s:s, s:I, s:I, s:I}", "port", h->port_names[p], "rx",
				      (json_int_t)sum->port_rx[p], "tx",
				      (json_int_t)sum->port_tx[p], "drop",
				      (json_int_t)sum->port_drop[p]);
		/* the device's own losses; null while no dataplane has read them */
		int known = sl_daemon_port_dev(d, p, &dev);

		if (o)
			json_object_update_new(o, json_pack("{s:o, s:o, s:o, s:o}",
				"rx_missed", known ? json_integer((json_int_t)dev.rx_missed) : json_null(),
				"rx_errors", known ? json_integer((json_int_t)dev.rx_errors) : json_null(),
				"rx_nombuf", known ? json_integer((json_int_t)dev.rx_nombuf) : json_null(),
				"tx_errors", known ? json_integer((json_int_t)dev.tx_errors) : json_null()));
		json_array_append_new(ports, o);
	}
	groups = json_array();
	for (int s = 0; s < st->nservices && groups; s++) {
		const struct sl_svc_rec *r = &st->svc[s].st;

		if (!r->name[0])
			continue;
		for (unsigned g = 0; g < h->ngroups; g++) {
			const struct sl_grp_counters *c = &sum->grp[s][g];

			if (sl_daemon_group_shown(d, s, g, c))
				json_array_append_new(groups, grp_json(r->name,
								       st->base_groups[g].name, c));
		}
	}
	bad = json_object();
	for (int b = 1; b < SL_BAD__COUNT && bad; b++)
		json_object_set_new(bad, sl_bad_name((enum sl_bad)b),
				    json_integer((json_int_t)sum->malformed[b]));
	o = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:I}, s:o}",
		      "gen", (json_int_t)st->gen, "workers", (json_int_t)nw,
		      "dataplane", dataplane_json(d),
		      "ports", ports ? ports : json_null(), "groups", groups ? groups : json_null(),
		      "malformed", bad ? bad : json_null(), "counters",
		      "malformed_fwd", (json_int_t)sum->malformed_fwd,
		      "malformed_drop", (json_int_t)sum->malformed_drop,
		      "other_fwd", (json_int_t)sum->other_fwd,
		      "other_drop", (json_int_t)sum->other_drop,
		      "shadow_rx_drop", (json_int_t)sum->shadow_rx_drop,
		      "ft_full", (json_int_t)sum->ft_full,
		      "redecided", (json_int_t)sum->redecided,
		      "expired", (json_int_t)sum->expired,
		      "ret_untracked", (json_int_t)sum->ret_untracked,
		      "ack_latency", ack_latency(d));
	if (o)
		json_object_set_new(o, "shadows", shadow_list(d));
	free(sum);
	if (!o)
		sl_error_set(e, SL_E_INTERNAL, "", "out of memory for the stats");
	return o;
}

/* The history is the journal's lines as they are: answered without
 * parsing or encoding them again (10 000 entries in a few ms, not the
 * event loop's half second), the reply put together around them. */
static char *history_reply(struct sl_daemon *d, const struct sl_req *r)
{
	struct sl_error e;
	char err[SL_ERR_LEN], *text, *out;
	uint32_t n;

	text = sl_journal_history_text(d->journal_path, d->journal.size, &d->journal.trust,
				       d->journal_keep,
				       r->has_service ? r->service : NULL, r->limit, &n, err,
				       sizeof(err));
	if (!text) {
		sl_error_set(&e, SL_E_INTERNAL, "", "%s", err);
		return sl_reply_error(r->id, &e);
	}
	out = sl_reply_ok_text(r->id, "entries", text);
	free(text);
	return out;
}

/* A new journal file when this one has journal_rotate entries: a restart
 * replays one file's worth, not the journal's whole life.  Only with the
 * state published (a checkpoint of a generation the table lacks would
 * hide which change a restart has to complete). */
#define SL_ROTATE_RETRY_MS 10000u

static void journal_maybe_rotate(struct sl_daemon *d, uint64_t now_ms)
{
	char err[SL_ERR_LEN], reason[400];
	json_t *cp;

	if (!d->journal_rotate || d->journal.lines < d->journal_rotate || d->unpublished ||
	    d->pending.active || d->journal.fd < 0 || now_ms < d->rotate_retry_ms)
		return;
	snprintf(reason, sizeof(reason), "journal rotated after %llu entries: they are in "
		 "%.300s.1", (unsigned long long)d->journal.lines, d->journal_path);
	cp = sl_state_checkpoint(d->st, reason, daemon_now(d));
	if (!cp) {
		sl_log("journal %s: not rotated: out of memory for the checkpoint",
		       d->journal_path);
		return;
	}
	err[0] = '\0';
	if (sl_journal_rotate(&d->journal, cp, d->journal_keep, err, sizeof(err))) {
		/* the journal stays as it was and goes on; not a log line a second */
		d->rotate_retry_ms = now_ms + SL_ROTATE_RETRY_MS;
		sl_log("%s (the journal goes on in one file; tried again in %u s)", err,
		       SL_ROTATE_RETRY_MS / 1000);
	} else {
		sl_log("journal %s rotated: %llu entries moved to %s.1, generation %u checkpointed",
		       d->journal_path, (unsigned long long)d->journal.rotated, d->journal_path,
		       d->st->gen);
		if (err[0])
			sl_log("warning: %s", err);
	}
	json_decref(cp);
}

/* ---- changing commands ---- */

static json_t *cmd_reload(struct sl_daemon *d, const struct sl_actor *who, struct sl_error *e)
{
	struct sl_config *nc = malloc(sizeof(*nc));
	char msg[SL_ERR_LEN];
	json_t *res;
	int rc;

	if (!nc) {
		sl_error_set(e, SL_E_INTERNAL, "", "reload: out of memory");
		return NULL;
	}
	if (sl_config_load(d->config_path, nc, msg, sizeof(msg))) {
		free(nc);
		sl_log("reload refused: %s", msg);
		sl_error_set(e, SL_E_RELOAD_INVALID, "", "%s (nothing changed)", msg);
		return NULL;
	}
	rc = sl_plan_reload(d->st, d->txn, nc, d->cfg, e);
	if (rc < 0) {
		free(nc);
		sl_log("reload refused: %s", e->message);
		return NULL;
	}
	if (rc == 0) {
		res = unchanged(d, -1);
		if (res && d->txn->note[0])
			json_object_set_new(res, "note", sl_json_str(d->txn->note));
	} else {
		res = apply(d, "reload", actor_json(who), e);
	}
	if (!res) {
		free(nc);
		return NULL;
	}
	free(d->cfg);
	d->cfg = nc;
	return res;
}

static json_t *cmd_shadow_list(struct sl_daemon *d)
{
	uint32_t nw = sl_maps_workers(&d->maps);

	return json_pack("{s:I, s:I, s:o, s:o}", "gen", (json_int_t)d->st->gen, "shadow_gen",
			 (json_int_t)d->st->shadow_gen, "ready_gen",
			 nw ? json_integer(__atomic_load_n(&d->maps.dp->shadow_ready_gen,
							   __ATOMIC_ACQUIRE)) : json_null(),
			 "shadows", shadow_list(d));
}

static json_t *cmd_shadow(struct sl_daemon *d, const struct sl_req *r, const struct sl_actor *who,
			  struct sl_error *e)
{
	struct sl_txn *t = d->txn;
	int rc;

	if (r->cmd == SL_CMD_SHADOW_ADD)
		rc = sl_plan_shadow_add(d->st, t, d->cfg, r, e);
	else
		rc = sl_plan_shadow_remove(d->st, t, r->name, e);
	if (rc < 0)
		return NULL;
	if (rc == 0)
		return json_pack("{s:b, s:I, s:o}", "changed", 0, "gen", (json_int_t)d->st->gen,
				 "shadow", sl_shadow_json(&d->st->shadows.r[t->shadow_slot],
							  (unsigned)t->shadow_slot));
	return apply(d, sl_cmd_name(r->cmd), actor_json(who), e);
}

static json_t *cmd_change(struct sl_daemon *d, const struct sl_req *r, const struct sl_actor *who,
			  struct sl_error *e)
{
	struct sl_txn *t = d->txn;
	json_t *res;
	int rc;

	switch (r->cmd) {
	case SL_CMD_SWITCH:
		rc = sl_plan_switch(d->st, t, r->service, r->group, r->reset, e);
		break;
	case SL_CMD_CANARY:
		rc = sl_plan_canary(d->st, t, r->service, r->share_bp, r->reset, e);
		break;
	case SL_CMD_WEIGHTS:
		rc = sl_plan_weights(d->st, t, r->service, r->weights, r->nweights, r->reset, e);
		break;
	case SL_CMD_UNDO:
		rc = sl_plan_undo(d->st, t, r->service, e);
		break;
	case SL_CMD_ROLLOUT_START: {
		struct sl_cfg_guard *g = calloc(SL_RO_MAX_GUARDS, sizeof(*g));
		uint32_t ng = 0;
		int s = sl_state_find_service(d->st, r->service, e);

		if (!g) {
			sl_error_set(e, SL_E_INTERNAL, "", "out of memory for the guards");
			return NULL;
		}
		if (s < 0 || rollout_guards(d, s, r, g, &ng, e)) {
			free(g);
			return NULL;
		}
		rc = sl_plan_rollout(d->st, t, r->cmd, r->service, r, daemon_now(d), e);
		if (rc > 0) {
			t->next[s].ro.nguards = ng;
			memcpy(t->next[s].ro.guards, g, ng * sizeof(*g));
			if (ng) {
				size_t len = strlen(t->reason);

				for (uint32_t i = 0; i < ng && len < sizeof(t->reason); i++)
					len += (size_t)snprintf(t->reason + len, sizeof(t->reason) - len,
								"%s%s", i ? ", " : "; guards: ",
								g[i].name);
			}
		}
		free(g);
		break;
	}
	default:
		rc = sl_plan_rollout(d->st, t, r->cmd, r->has_service ? r->service : NULL, r,
				     daemon_now(d), e);
		break;
	}
	if (rc < 0)
		return NULL;
	if (rc == 0)
		return unchanged(d, t->svc);
	res = apply(d, sl_cmd_name(r->cmd), actor_json(who), e);
	/* a step began or a rollout ended: the guards' windows follow now */
	if (res)
		guards_look(d, daemon_now(d));
	return res;
}

/* evidence push: counts from an application monitor, journaled with its
 * actor; the guards look at once. */
/* A refusal from a function returning the result. */
static json_t *refused(int rc)
{
	(void)rc;
	return NULL;
}

static json_t *cmd_evidence(struct sl_daemon *d, const struct sl_req *r,
			    const struct sl_actor *who, struct sl_error *e)
{
	struct sl_state *st = d->st;
	char err[SL_ERR_LEN], who_text[64];
	const struct sl_svc_rec *rec;
	struct sl_pushed_ent *pe;
	json_t *entry, *ev, *res;
	uint64_t now = daemon_now(d);
	int s, role;

	if ((s = sl_state_find_service(st, r->service, e)) < 0)
		return NULL;
	rec = &st->svc[s].st;
	if (!strcmp(r->group, rec->champion) && rec->challenger[0] &&
	    !strcmp(r->group, rec->challenger))
		role = -1;
	else if (!strcmp(r->group, rec->champion))
		role = SL_EV_CHAMPION;
	else if (rec->challenger[0] && !strcmp(r->group, rec->challenger))
		role = SL_EV_CHALLENGER;
	else
		return refused(sl_error_set(e, SL_E_BAD_EVIDENCE, "group", "group: %.64s is neither %s's "
				    "champion (%s) nor its challenger (%s): evidence is counted "
				    "for those two", r->group, rec->name, rec->champion,
				    rec->challenger[0] ? rec->challenger : "none"));
	if (role < 0)
		return refused(sl_error_set(e, SL_E_BAD_EVIDENCE, "group", "group: %.64s is both "
				    "champion and challenger of %s", r->group, rec->name));
	if (r->slice[0] && sl_slice_find(st->base, s, r->slice) < 0) {
		char list[512];

		sl_slice_names(st->base, s, list, sizeof(list));
		return refused(sl_error_set(e, SL_E_UNKNOWN_SLICE, "slice", "slice: %s has no slice "
					    "named '%.64s' (slices of %s: %s)", rec->name, r->slice,
					    rec->name, list));
	}
	/* windows that start now (a step began since the last look) start
	 * before these counts */
	guards_look(d, now);
	pe = sl_pushed_add(d->pushed, rec->name, r->slice, r->signal, role, r->total, r->bad,
			   err, sizeof(err));
	if (!pe)
		return refused(sl_error_set(e, SL_E_BAD_EVIDENCE, "total", "%s", err));
	ev = json_pack("{s:s, s:s, s:s, s:I, s:I, s:{s:I, s:I}}", "group", r->group, "role",
		       role ? "challenger" : "champion", "signal", r->signal, "total",
		       (json_int_t)r->total, "bad", (json_int_t)r->bad, "cumulative", "total",
		       (json_int_t)pe->total[role], "bad", (json_int_t)pe->bad[role]);
	if (ev && r->slice[0])
		json_object_set_new(ev, "slice", json_string(r->slice));
	entry = json_pack("{s:I, s:I, s:s, s:s, s:o, s:o}", "time", (json_int_t)now, "gen",
			  (json_int_t)st->gen, "cmd", "evidence_push", "service", rec->name,
			  "actor", actor_json(who), "evidence", ev ? json_incref(ev) : json_null());
	actor_text(json_object_get(entry, "actor"), who_text, sizeof(who_text));
	if (!entry || sl_journal_append(&d->journal, entry, err, sizeof(err))) {
		/* counted but not journaled: take it back */
		pe->total[role] -= r->total;
		pe->bad[role] -= r->bad;
		sl_error_set(e, SL_E_INTERNAL, "", "%s (nothing changed)",
			     entry ? err : "out of memory");
		json_decref(entry);
		json_decref(ev);
		return NULL;
	}
	json_decref(entry);
	sl_log("evidence %s%s%s %s %s: %llu bad of %llu, by %s", rec->name,
	       r->slice[0] ? "/" : "", r->slice, r->signal, r->group,
	       (unsigned long long)r->bad, (unsigned long long)r->total, who_text);
	guards_look(d, now);
	res = json_pack("{s:s, s:o, s:o}", "service", rec->name, "evidence", ev ? ev : json_null(),
			"guards", guards_json(d, s, now));
	return res;
}

static json_t *cmd_guard_list(struct sl_daemon *d, const struct sl_req *r, struct sl_error *e)
{
	const struct sl_config *cfg = d->cfg;
	uint64_t now = daemon_now(d);
	json_t *list = json_array();
	int only = -1;

	if (r->has_service && (only = sl_state_find_service(d->st, r->service, e)) < 0) {
		json_decref(list);
		return NULL;
	}
	for (uint32_t k = 0; k < cfg->nguards && list; k++) {
		json_t *o;

		if (only >= 0 && strcmp(cfg->guards[k].service, d->st->svc[only].st.name))
			continue;
		o = sl_guard_def_json(&cfg->guards[k]);
		if (!o)
			continue;
		json_object_set_new(o, "rollouts", json_string(cfg->guards[k].named ? "named" :
							       "all"));
		json_object_set_new(o, "source", json_string("config"));
		json_array_append_new(list, o);
	}
	for (int s = 0; s < d->st->nservices && list; s++) {
		const struct sl_svc *sv = &d->st->svc[s];
		json_t *figs;

		if (!sv->st.name[0] || !sv->ro.nguards || (only >= 0 && s != only))
			continue;
		figs = guards_json(d, s, now);
		for (uint32_t i = 0; figs && i < json_array_size(figs); i++) {
			json_t *o = sl_guard_def_json(&sv->ro.guards[i]);

			if (!o)
				continue;
			json_object_set_new(o, "source", json_string("rollout"));
			json_object_set_new(o, "rollout", json_string(sl_ro_state_name(sv->ro.state)));
			json_object_set(o, "figures", json_array_get(figs, i));
			json_array_append_new(list, o);
		}
		json_decref(figs);
	}
	return json_pack("{s:o}", "guards", list ? list : json_null());
}

static json_t *ev_cell_json(const struct sl_ev_cell *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "flows", (json_int_t)c->flows,
			 "hs_ok", (json_int_t)c->hs_ok, "hs_fail", (json_int_t)c->hs_fail, "rst",
			 (json_int_t)c->rst, "icmp", (json_int_t)c->icmp, "ttfb_flows",
			 (json_int_t)c->ttfb_flows);
}

static json_t *cmd_slice(struct sl_daemon *d, const struct sl_req *r, const struct sl_actor *who,
			 struct sl_error *e)
{
	struct sl_txn *t = d->txn;
	json_t *extra, *res;
	int rc;

	if (r->cmd == SL_CMD_SLICE_ADD)
		rc = sl_plan_slice_add(d->st, t, r, e);
	else
		rc = sl_plan_slice_remove(d->st, t, r->name, e);
	if (rc < 0)
		return NULL;
	if (rc == 0)
		return json_pack("{s:b, s:I, s:o}", "changed", 0, "gen", (json_int_t)d->st->gen,
				 "slice", sl_slice_json(d->st->base,
							&d->st->base->slices[t->slice_slot],
							(unsigned)t->slice_slot));
	/* the slice added (or removed) and the whole set after the change */
	extra = json_pack("{s:o, s:o}", "slice",
			  sl_slice_json(d->st->base, r->cmd == SL_CMD_SLICE_ADD ?
					&t->slices[t->slice_slot] :
					&d->st->base->slices[t->slice_slot],
					(unsigned)t->slice_slot),
			  "slices", sl_slices_json(d->st->base, t->slices, t->nslices));
	res = apply_with(d, sl_cmd_name(r->cmd), actor_json(who), extra, e);
	json_decref(extra);
	return res;
}

/* The slices of the table in force, with what the dataplane counted for
 * each (since it started). */
static json_t *cmd_slice_list(struct sl_daemon *d, const struct sl_req *r, struct sl_error *e)
{
	const struct sl_table_hdr *h = d->st->base;
	const struct sl_counters *stats = d->local_stats ? d->local_stats : d->maps.stats;
	uint32_t nw = d->local_stats ? 1 : sl_maps_workers(&d->maps);
	json_t *list = json_array();
	int only = -1;

	if (r->has_service && (only = sl_state_find_service(d->st, r->service, e)) < 0) {
		json_decref(list);
		return NULL;
	}
	for (unsigned k = 0; k < h->nslices && k < SL_MAX_SLICES && list; k++) {
		const struct sl_slice_rec *sr = &h->slices[k];
		struct sl_ev_cell sum[2];
		json_t *o;

		if (!sr->name[0] || sr->service >= h->nservices || (only >= 0 && sr->service != only))
			continue;
		memset(sum, 0, sizeof(sum));
		for (uint32_t w = 0; w < nw; w++)
			for (int role = 0; role < 2; role++) {
				const struct sl_ev_cell *c = &stats[w].ev.slice[k][role];

				sum[role].flows += __atomic_load_n(&c->flows, __ATOMIC_RELAXED);
				sum[role].hs_ok += __atomic_load_n(&c->hs_ok, __ATOMIC_RELAXED);
				sum[role].hs_fail += __atomic_load_n(&c->hs_fail, __ATOMIC_RELAXED);
				sum[role].rst += __atomic_load_n(&c->rst, __ATOMIC_RELAXED);
				sum[role].icmp += __atomic_load_n(&c->icmp, __ATOMIC_RELAXED);
				sum[role].ttfb_flows += __atomic_load_n(&c->ttfb_flows, __ATOMIC_RELAXED);
			}
		o = sl_slice_json(h, sr, k);
		if (o)
			json_object_set_new(o, "evidence", json_pack("{s:o, s:o}", "champion",
								    ev_cell_json(&sum[0]),
								    "challenger",
								    ev_cell_json(&sum[1])));
		json_array_append_new(list, o);
	}
	return json_pack("{s:I, s:o}", "workers", (json_int_t)nw, "slices",
			 list ? list : json_null());
}

char *sl_daemon_request(struct sl_daemon *d, const char *line, size_t len,
			const struct sl_actor *who)
{
	int was_pending = d->pending.active;
	struct sl_error e;
	struct sl_req r;
	json_t *res = NULL;
	char *reply;

	if (sl_req_parse(line, len, &r, &e) == 0) {
		switch (r.cmd) {
		case SL_CMD_STATUS:
			res = cmd_status(d, &r, &e);
			break;
		case SL_CMD_HISTORY:
			reply = history_reply(d, &r);
			sl_req_clear(&r);
			return reply;
		case SL_CMD_ROLLOUT_STATUS:
			res = cmd_rollout_status(d, &r, &e);
			break;
		case SL_CMD_STATS:
			res = cmd_stats(d, &e);
			break;
		case SL_CMD_VERSION:
			res = json_pack("{s:s, s:i, s:s}", "version", SL_VERSION, "layout",
					(int)SL_LAYOUT_VERSION, "instance", d->instance);
			break;
		case SL_CMD_RELOAD:
			res = cmd_reload(d, who, &e);
			break;
		case SL_CMD_SHADOW_LIST:
			res = cmd_shadow_list(d);
			break;
		case SL_CMD_SHADOW_ADD:
		case SL_CMD_SHADOW_REMOVE:
			res = cmd_shadow(d, &r, who, &e);
			break;
		case SL_CMD_EVIDENCE_PUSH:
			res = cmd_evidence(d, &r, who, &e);
			break;
		case SL_CMD_GUARD_LIST:
			res = cmd_guard_list(d, &r, &e);
			break;
		case SL_CMD_SLICE_LIST:
			res = cmd_slice_list(d, &r, &e);
			break;
		case SL_CMD_SLICE_ADD:
		case SL_CMD_SLICE_REMOVE:
			res = cmd_slice(d, &r, who, &e);
			break;
		default:
			res = cmd_change(d, &r, who, &e);
			break;
		}
		if (!res && e.code == SL_E_NONE)
			sl_error_set(&e, SL_E_INTERNAL, "", "out of memory for the reply");
	}
	/* a push's reply never waits: a change it set off (a guard's abort)
	 * is not the push's own */
	if (res && !was_pending && d->pending.active && r.cmd != SL_CMD_EVIDENCE_PUSH) {
		/* this change waits for the dataplane: answered by sl_daemon_poll */
		d->pending.deferred = 1;
		d->pending.id = r.id ? json_incref(r.id) : NULL;
		json_decref(res);
		sl_req_clear(&r);
		return SL_DAEMON_DEFERRED;
	}
	reply = res ? sl_reply_ok(r.id, res) : sl_reply_error(r.id, &e);
	sl_req_clear(&r);
	return reply;
}

/* ---- timers ---- */

void sl_daemon_timer(struct sl_daemon *d, uint64_t now_ms)
{
	struct sl_error e;

	if (now_ms >= d->next_sample_ms) {
		uint32_t nw = sl_maps_workers(&d->maps);

		sl_state_sample(d->st, d->maps.stats, nw, now_ms);
		d->next_sample_ms = now_ms + 1000;
		guards_look(d, now_ms);
		journal_maybe_rotate(d, now_ms);
	}
	if (d->unpublished && !d->pending.active &&
	    sl_maps_publish(&d->maps, d->st->out, d->st->out_groups, d->st->out->ngroups,
			    e.message, sizeof(e.message)) == 0) {
		d->unpublished = 0;
		pending_start(d, d->st->gen, sl_mono_us(), 0, NULL, "published at last", "", "",
			      "");
		pending_check(d, d->defer_acks ? SL_ACK_SPIN_US : 0, !d->defer_acks);
	}
	if (now_ms < d->tick_retry_ms)
		return;
	guards_gate(d, now_ms);
	for (int i = 0; i <= SL_MAX_SERVICES; i++) {
		json_t *res;

		if (!sl_plan_tick_skip(d->st, d->txn, now_ms, d->held))
			break;
		res = apply(d, "rollout_step", json_string("plan"), &e);
		if (res)
			guards_look(d, now_ms);
		if (!res) {
			/* Busy: the step is taken once the workers caught up. */
			if (d->tick_retry_ms == 0 || e.code != SL_E_BUSY)
				sl_log("%s: waits: %s", d->txn->reason, e.message);
			d->tick_retry_ms = now_ms + (e.code == SL_E_BUSY ? 200 : 1000);
			return;
		}
		json_decref(res);
	}
	d->tick_retry_ms = 0;
}

uint64_t sl_daemon_next_ms(const struct sl_daemon *d)
{
	uint64_t next = d->next_sample_ms, ro = sl_state_deadline_skip(d->st, d->held);

	if (d->pending.active) /* its acknowledgement is looked at every ms */
		return daemon_now(d) + 1;

	if (ro < d->tick_retry_ms)
		ro = d->tick_retry_ms;
	if (ro < next)
		next = ro;
	return next;
}

/* ---- startup ---- */

struct replay_ctx {
	struct sl_state *st;
	const char *path;
	char last_cmd[32];
};

static int replay_cb(void *ctx, const json_t *entry, uint64_t line, char *err, size_t errlen)
{
	struct replay_ctx *c = ctx;
	char sub[SL_ERR_LEN];

	if (sl_state_replay(c->st, entry, sub, sizeof(sub))) {
		snprintf(err, errlen, "journal %s: line %llu: %s (the journal is damaged; repair "
			 "or move it away)", c->path, (unsigned long long)line, sub);
		return -1;
	}
	snprintf(c->last_cmd, sizeof(c->last_cmd), "%s",
		 json_string_value(json_object_get(entry, "cmd")));
	return 0;
}

/* What of the configuration the restored table does not apply. */
static void compare_config(struct sl_daemon *d)
{
	struct sl_state *st = d->st;
	struct sl_config *laid = malloc(sizeof(*laid));
	char msg[SL_ERR_LEN], what[256];

	if (!laid)
		return;
	if (sl_state_layout(d->cfg, NULL, st->base, st->base_groups, laid, NULL, msg,
			    sizeof(msg)) ||
	    sl_tables_build(st->nbase, st->nbase_groups, laid, st->gen, msg, sizeof(msg))) {
		sl_log("%s; the pinned table stays in force", msg);
		free(laid);
		return;
	}
	if (sl_state_structure_diff(st->base, st->base_groups, st->nbase, st->nbase_groups, what,
				    sizeof(what)))
		sl_log("the pinned table differs from %s (%s): the pinned table stays in force; "
		       "`sluicectl reload` applies the file", d->config_path, what);
	for (unsigned s = 0; s < laid->nservices && s < st->nservices; s++) {
		const struct sl_cfg_service *c = &laid->services[s];
		const struct sl_svc_rec *r = &st->svc[s].st;

		if (!c->name[0] || strcmp(c->name, r->name))
			continue;
		if (c->share_bp != r->share_bp || strcmp(laid->groups[c->champion].name, r->champion) ||
		    strcmp(laid->groups[c->challenger].name, r->challenger))
			sl_log("service %s: %s says %s %.2f %% / %s, %s %.2f %% / %s stays in force "
			       "(a restart never rolls a change back; `sluicectl reload` applies "
			       "the file)", r->name, d->config_path,
			       laid->groups[c->champion].name, c->share_bp / 100.0,
			       laid->groups[c->challenger].name, r->champion,
			       r->share_bp / 100.0, r->challenger);
	}
	free(laid);
}

static int fail_with(char *err, size_t errlen, const struct sl_error *e)
{
	snprintf(err, errlen, "%s", e->message);
	return -1;
}

int sl_daemon_start(struct sl_daemon *d, char *err, size_t errlen)
{
	struct replay_ctx rc = { 0 };
	struct sl_error e;
	char note[2048];
	uint32_t pgen, jgen;
	uint64_t jn;
	json_t *res;
	int fresh = 0;

	d->journal_rotate = d->cfg ? d->cfg->journal_rotate : 0;
	d->journal_keep = d->cfg ? d->cfg->journal_keep : 1;
	d->st = sl_state_new();
	d->txn = malloc(sizeof(*d->txn));
	d->board = calloc(1, sizeof(*d->board));
	d->pushed = calloc(1, sizeof(*d->pushed));
	d->held_why = calloc(SL_MAX_SERVICES, sizeof(*d->held_why));
	memset(d->held, 0, sizeof(d->held));
	if (!d->st || !d->txn || !d->board || !d->pushed || !d->held_why) {
		snprintf(err, errlen, "out of memory for the service states");
		return -1;
	}
	if (d->in_memory) {
		if (sl_maps_memory(&d->maps, err, errlen))
			return -1;
		fresh = 1;
	} else if (sl_maps_create(d->bpffs, d->instance, d->bpf_object, &d->maps, &fresh, err,
				  errlen)) {
		return -1;
	}
	pgen = __atomic_load_n(&d->maps.control->gen, __ATOMIC_ACQUIRE);
	sl_log("instance %s: maps %s under %s, generation %u", d->instance,
	       fresh ? "created" : "reused", d->maps.dir, pgen);

	rc.st = d->st;
	rc.path = d->journal_path;
	if (sl_journal_open(&d->journal, d->journal_path, replay_cb, &rc, note, sizeof(note), err,
			    errlen))
		return -1;
	if (note[0])
		sl_log("%s", note);
	d->st->slices_by_command = d->st->slices_replayed;
	jn = d->journal.lines;
	jgen = d->journal.last_gen;
	if (jn)
		sl_log("journal %s: %llu entries, last generation %u", d->journal_path,
		       (unsigned long long)jn, jgen);
	else
		sl_log("journal %s: empty", d->journal_path);

	if (pgen == 0 && jn == 0) {
		if (sl_state_from_config(d->st, d->cfg, err, errlen))
			return -1;
		sl_plan_snapshot(d->st, d->txn, 1, 1);
		snprintf(d->txn->reason, sizeof(d->txn->reason), "initial table from %.400s",
			 d->config_path);
		res = apply(d, "init", json_string("daemon"), &e);
		if (!res)
			return fail_with(err, errlen, &e);
		json_decref(res);
		return 0;
	}
	if (pgen == 0) {
		/* bpffs is not persistent: new maps after a reboot, the journal
		 * knows the states; the table structure comes from the file. */
		if (sl_state_adopt_config(d->st, d->cfg, 0, SL_ADOPT_JOURNAL, note, sizeof(note),
					  err, errlen))
			return -1;
		if (note[0])
			sl_log("%s", note);
		if (jgen == 1) {
			sl_plan_snapshot(d->st, d->txn, 1, 0);
			sl_log("the journal ends at generation 1, not yet published: publishing it");
			return publish_only(d, err, errlen);
		}
		sl_plan_snapshot(d->st, d->txn, 1, 1);
		snprintf(d->txn->reason, sizeof(d->txn->reason), "the maps are new (the machine "
			 "restarted?) and the journal ends at generation %u: service states "
			 "restored from the journal, tables from %.300s", jgen, d->config_path);
		sl_log("warning: %s", d->txn->reason);
		res = apply(d, "recover", json_string("daemon"), &e);
		if (!res)
			return fail_with(err, errlen, &e);
		json_decref(res);
		return 0;
	}

	{
		uint32_t slot = __atomic_load_n(&d->maps.control->active_slot, __ATOMIC_ACQUIRE) & 1;
		const struct sl_table_hdr *h = &d->maps.tables[slot];
		const struct sl_group_rec *g = &d->maps.groups[slot * SL_MAX_GROUPS];

		if (jn && jgen == pgen) {
			if (sl_state_adopt(d->st, h, g, SL_ADOPT_CHECK, note, sizeof(note), err,
					   errlen))
				return -1;
			if (note[0])
				sl_log("warning: %s", note);
			sl_log("restored %u service states from the journal at generation %u",
			       d->st->nservices, pgen);
		} else if (jn && jgen == pgen + 1) {
			int done = -1;

			if (!strcmp(rc.last_cmd, "reload")) {
				struct sl_config *laid = malloc(sizeof(*laid));

				if (laid && !sl_state_layout(d->cfg, NULL, h, g, laid, NULL, err, errlen))
					done = sl_state_adopt_config(d->st, laid, pgen,
								     SL_ADOPT_JOURNAL, note,
								     sizeof(note), err, errlen);
				free(laid);
			} else {
				done = sl_state_adopt(d->st, h, g, SL_ADOPT_JOURNAL, note, sizeof(note),
						      err, errlen);
			}
			if (done)
				return -1;
			if (note[0])
				sl_log("warning: %s", note);
			sl_log("the journal ends at generation %u (%s), the pinned table at %u: the "
			       "previous sluiced stopped between journaling and publishing; "
			       "publishing it", jgen, rc.last_cmd, pgen);
			sl_plan_snapshot(d->st, d->txn, 1, 0);
			if (publish_only(d, err, errlen))
				return -1;
		} else if (jn && pgen == jgen + 1) {
			/* The entry that published generation P is not in the journal
			 * (torn at a crash): the journal's states, rollouts and undo
			 * history, with the pinned table's splits (what differs is
			 * named). */
			if (sl_state_adopt(d->st, h, g, SL_ADOPT_CHECK, note, sizeof(note), err,
					   errlen))
				return -1;
			/* a rollout whose share is not its step's lost its last change
			 * (an abort, maybe): it waits for the operator */
			for (int s = 0; s < d->st->nservices; s++) {
				struct sl_svc *sv = &d->st->svc[s];
				struct sl_ro_action a;
				char msg[SL_ERR_LEN];

				if (sv->ro.state != SL_RO_RUNNING ||
				    sv->ro.steps[sv->ro.step].share_bp == sv->st.share_bp ||
				    sl_ro_pause(&sv->ro, daemon_now(d), &a, msg, sizeof(msg)))
					continue;
				sl_adderr(note, sizeof(note), "%srollout of %s paused: the table's "
					  "share is not its step's (resume, promote or abort it)",
					  note[0] ? "; " : "", sv->st.name);
			}
			sl_plan_snapshot(d->st, d->txn, 0, 0);
			sl_seterr(d->txn->reason, sizeof(d->txn->reason), "the journal ends at "
				  "generation %u, the pinned table is at %u: the entry that published "
				  "%u is not in the journal (%s); service states, rollouts and undo "
				  "history from the journal, splits from the pinned table%s%s", jgen,
				  pgen, pgen, d->journal.torn ? "its torn line is kept in the .torn "
				  "file next to the journal" : "lost", note[0] ? ": " : "", note);
			sl_log("warning: %s", d->txn->reason);
			res = apply(d, "recover", json_string("daemon"), &e);
			if (!res)
				return fail_with(err, errlen, &e);
			json_decref(res);
		} else {
			if (sl_state_adopt(d->st, h, g, SL_ADOPT_TABLE, note, sizeof(note), err,
					   errlen))
				return -1;
			sl_plan_snapshot(d->st, d->txn, 0, 1);
			if (jn)
				snprintf(d->txn->reason, sizeof(d->txn->reason), "the journal ends at "
					 "generation %u, the pinned table is at generation %u: service "
					 "states taken from the pinned table (strategies from the "
					 "shares, undo history restarts)", jgen, pgen);
			else
				snprintf(d->txn->reason, sizeof(d->txn->reason), "the journal is empty, "
					 "the pinned table is at generation %u: service states taken "
					 "from the pinned table (strategies from the shares)", pgen);
			sl_log("warning: %s", d->txn->reason);
			res = apply(d, "recover", json_string("daemon"), &e);
			if (!res)
				return fail_with(err, errlen, &e);
			json_decref(res);
		}
	}
	compare_config(d);
	return 0;
}

void sl_daemon_stop(struct sl_daemon *d)
{
	if (d->pending.active)
		sl_log("generation %u %s: stopped before the dataplane acknowledged it",
		       d->pending.gen, d->pending.what);
	json_decref(d->pending.res);
	json_decref(d->pending.id);
	memset(&d->pending, 0, sizeof(d->pending));
	sl_journal_close(&d->journal);
	sl_maps_close(&d->maps);
	sl_state_free(d->st);
	d->st = NULL;
	free(d->txn);
	d->txn = NULL;
	free(d->board);
	d->board = NULL;
	free(d->pushed);
	d->pushed = NULL;
	free(d->held_why);
	d->held_why = NULL;
	free(d->cfg);
	d->cfg = NULL;
}
