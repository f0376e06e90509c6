/* The planners: a struct sl_txn for every verb (switch, canary, weights,
 * undo, shadow add and remove, the rollout verbs, reload, snapshot), the
 * rollout timer's ticks and deadlines (see state.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "state.h"
#include "state_int.h"
#include "tables.h"

void sl_st_txn_begin(const struct sl_state *st, struct sl_txn *t)
{
	t->gen = st->gen + 1;
	t->publish = 0;
	t->reload = 0;
	t->svc = -1;
	t->undo = SL_UNDO_NONE;
	t->nservices = st->nservices;
	memcpy(t->next, st->svc, sizeof(t->next));
	t->reason[0] = '\0';
	t->note[0] = '\0';
	t->shadows = st->shadows;
	t->shadow_changed = 0;
	t->shadow_op = SL_SHADOW_NONE;
	t->shadow_slot = -1;
	t->slices_changed = 0;
	t->slice_slot = -1;
}

static const char *ro_where(const struct sl_rollout *r, char *buf, size_t len)
{
	uint16_t bp = r->steps[r->step < SL_RO_MAX_STEPS ? r->step : 0].share_bp;
	char sh[16];

	snprintf(buf, len, "%s at step %u of %u (%s)", sl_ro_state_name(r->state), r->step + 1,
		 r->nsteps, sl_share_str(bp, sh, sizeof(sh)));
	return buf;
}

static int no_rollout(const struct sl_state *st, int s, const char *cmd, struct sl_error *e)
{
	const struct sl_rollout *r = &st->svc[s].ro;
	char where[96];

	if (!sl_ro_active(r))
		return 0;
	return sl_error_set(e, SL_E_BAD_STATE, "service", "%s refused: the rollout of %s is %s; "
			    "abort it (`rollout abort`) or let it complete first", cmd,
			    st->svc[s].st.name, ro_where(r, where, sizeof(where)));
}

/* A planned change of service s: published when its split changes. */
static int finish(const struct sl_state *st, struct sl_txn *t, int s, int reset)
{
	struct sl_svc *n = &t->next[s];

	t->svc = s;
	if (sl_st_split_eq(&st->svc[s].st, &n->st)) {
		t->next[s] = st->svc[s];
		return 0;
	}
	t->publish = 1;
	t->undo = SL_UNDO_PUSH;
	n->st.reset = (uint8_t)(reset != 0);
	n->gen = t->gen;
	if (reset)
		n->reset_gen = t->gen;
	return 1;
}

static int own_group(const struct sl_state *st, int s, const char *group, const char *field,
		     struct sl_error *e)
{
	const struct sl_svc_rec *r = &st->svc[s].st;

	if (!strcmp(group, r->champion) || !strcmp(group, r->challenger))
		return 0;
	if (sl_st_base_group(st, group) < 0)
		return sl_error_set(e, SL_E_UNKNOWN_GROUP, field, "no group '%s' (service %s has "
				    "champion %s and challenger %s)", group, r->name, r->champion,
				    r->challenger);
	return sl_error_set(e, SL_E_UNKNOWN_GROUP, field, "group '%s' is not one of service %s's "
			    "groups (champion %s, challenger %s)", group, r->name, r->champion,
			    r->challenger);
}

int sl_plan_switch(const struct sl_state *st, struct sl_txn *t, const char *service,
		   const char *group, int reset, struct sl_error *e)
{
	int s = sl_state_find_service(st, service, e);
	struct sl_svc_rec *n;
	char other[SL_NAME_LEN];

	if (s < 0 || no_rollout(st, s, "switch", e) || own_group(st, s, group, "group", e))
		return -1;
	sl_st_txn_begin(st, t);
	n = &t->next[s].st;
	snprintf(other, sizeof(other), "%s", strcmp(group, n->champion) ? n->champion :
		 n->challenger);
	snprintf(n->champion, sizeof(n->champion), "%s", group);
	snprintf(n->challenger, sizeof(n->challenger), "%s", other);
	n->share_bp = 0;
	n->strategy = SL_STRAT_BLUE_GREEN;
	snprintf(t->reason, sizeof(t->reason), "switch %s %s (%s)", service, group,
		 sl_st_mode_name(reset));
	return finish(st, t, s, reset);
}

int sl_plan_canary(const struct sl_state *st, struct sl_txn *t, const char *service,
		   uint16_t share_bp, int reset, struct sl_error *e)
{
	int s = sl_state_find_service(st, service, e);
	char sh[16];

	if (s < 0 || no_rollout(st, s, "canary", e))
		return -1;
	sl_st_txn_begin(st, t);
	t->next[s].st.share_bp = share_bp;
	t->next[s].st.strategy = share_bp ? SL_STRAT_CANARY : SL_STRAT_STEADY;
	snprintf(t->reason, sizeof(t->reason), "canary %s %s (%s)", service,
		 sl_share_str(share_bp, sh, sizeof(sh)), sl_st_mode_name(reset));
	return finish(st, t, s, reset);
}

int sl_plan_weights(const struct sl_state *st, struct sl_txn *t, const char *service,
		    const struct sl_weight *w, uint32_t n, int reset, struct sl_error *e)
{
	int s = sl_state_find_service(st, service, e);
	uint16_t share = 0;
	size_t len;
	char sh[16];

	if (s < 0 || no_rollout(st, s, "weights", e))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (own_group(st, s, w[i].group, "weights", e))
			return -1;
		if (!strcmp(w[i].group, st->svc[s].st.challenger))
			share = w[i].share_bp;
		else
			share = (uint16_t)(SL_SHARE_MAX_BP - w[i].share_bp);
	}
	sl_st_txn_begin(st, t);
	t->next[s].st.share_bp = share;
	t->next[s].st.strategy = share ? SL_STRAT_CANARY : SL_STRAT_STEADY;
	len = (size_t)snprintf(t->reason, sizeof(t->reason), "weights %s", service);
	for (uint32_t i = 0; i < n && len < sizeof(t->reason); i++)
		len += (size_t)snprintf(t->reason + len, sizeof(t->reason) - len, " %s=%s",
					w[i].group, sl_share_str(w[i].share_bp, sh, sizeof(sh)));
	if (len < sizeof(t->reason))
		snprintf(t->reason + len, sizeof(t->reason) - len, " (%s)", sl_st_mode_name(reset));
	return finish(st, t, s, reset);
}

int sl_plan_undo(const struct sl_state *st, struct sl_txn *t, const char *service,
		 struct sl_error *e)
{
	int s = sl_state_find_service(st, service, e);
	const struct sl_undo_ent *top;
	struct sl_svc *n;
	char sh[16];

	if (s < 0 || no_rollout(st, s, "undo", e))
		return -1;
	if (st->undo[s].n == 0)
		return sl_error_set(e, SL_E_BAD_STATE, "service", "nothing to undo for %s (no "
				    "change of it is left in the history)", service);
	top = &st->undo[s].e[st->undo[s].n - 1];
	if (sl_st_base_group(st, top->st.champion) < 0 ||
	    sl_st_base_group(st, top->st.challenger) < 0)
		return sl_error_set(e, SL_E_BAD_STATE, "service", "cannot undo %s: generation %u "
				    "had champion %s and challenger %s, and the configuration no "
				    "longer has both groups", service, top->gen, top->st.champion,
				    top->st.challenger);
	sl_st_txn_begin(st, t);
	n = &t->next[s];
	n->st = top->st;
	/* The rollout that state belonged to is over: keep its share only. */
	if (n->st.strategy == SL_STRAT_ROLLOUT)
		n->st.strategy = n->st.share_bp ? SL_STRAT_CANARY : SL_STRAT_STEADY;
	n->st.reset = 0;
	snprintf(t->reason, sizeof(t->reason), "undo %s: back to generation %u (%s %s / %s)",
		 service, top->gen, n->st.champion, sl_share_str(n->st.share_bp, sh, sizeof(sh)),
		 n->st.challenger);
	t->svc = s;
	t->undo = SL_UNDO_POP;
	if (sl_st_split_eq(&st->svc[s].st, &n->st)) {
		t->gen = st->gen; /* the stack still moves: journaled, not published */
	} else {
		t->publish = 1;
	}
	n->gen = t->gen;
	return 1;
}

int sl_plan_shadow_add(const struct sl_state *st, struct sl_txn *t, const struct sl_config *cfg,
		       const struct sl_req *req, struct sl_error *e)
{
	int have = sl_state_shadow(st, req->name), slot = -1, pc;
	char what[640], ports[SL_MAX_PORTS * (SL_NAME_LEN + 2)] = "";
	struct sl_shadow_rule rule;
	size_t n = 0;

	/* the request's names as sent: one that does not fit a rule is refused,
	 * never cut */
	if (!sl_name_valid(req->name))
		return sl_error_set(e, SL_E_BAD_REQUEST, "name", "name '%s' is not a valid shadow "
				    "rule name (expected " SL_NAME_RULE ")", req->name);
	if (sl_state_find_service(st, req->service, e) < 0)
		return -1;
	pc = sl_config_port(cfg, req->port);
	if (pc < 0 || cfg->ports[pc].role != SL_ROLE_SHADOW ||
	    sl_st_hdr_port(st->base, req->port) < 0) {
		for (unsigned p = 0; p < cfg->nports; p++)
			if (cfg->ports[p].role == SL_ROLE_SHADOW &&
			    sl_st_hdr_port(st->base, cfg->ports[p].name) >= 0 && n < sizeof(ports))
				n += (size_t)snprintf(ports + n, sizeof(ports) - n, "%s%s",
						      n ? ", " : "", cfg->ports[p].name);
		return sl_error_set(e, SL_E_BAD_PORT, "port", "%s '%s' %s (shadow ports: %s)",
				    pc < 0 ? "no port" : "port", req->port,
				    pc < 0 ? "in the configuration" :
				    cfg->ports[pc].role == SL_ROLE_SHADOW ?
				    "is not in the table in force" :
				    cfg->ports[pc].role == SL_ROLE_CLIENT ?
				    "has role client, not shadow" : "has role backend, not shadow",
				    n ? ports : "none configured");
	}
	/* every name fits now (checked, or found in the table): the precisions
	 * cut nothing */
	memset(&rule, 0, sizeof(rule));
	snprintf(rule.name, sizeof(rule.name), "%.*s", SL_NAME_LEN - 1, req->name);
	snprintf(rule.service, sizeof(rule.service), "%.*s", SL_NAME_LEN - 1, req->service);
	snprintf(rule.port, sizeof(rule.port), "%.*s", SL_NAME_LEN - 1, req->port);
	snprintf(rule.filter, sizeof(rule.filter), "%s", req->filter);
	rule.sample_bp = req->sample_bp;
	rule.has_mac = req->has_mac != 0;
	memcpy(rule.mac, req->mac, 6);
	if (have >= 0) {
		if (sl_st_rule_eq(&st->shadows.r[have], &rule)) {
			sl_st_txn_begin(st, t);
			t->shadow_op = SL_SHADOW_ADD;
			t->shadow_slot = have;
			return 0;
		}
		sl_shadow_describe(&st->shadows.r[have], what, sizeof(what));
		return sl_error_set(e, SL_E_BAD_STATE, "name", "shadow rule %s exists with another "
				    "definition (%s); remove it first (shadow remove %s)",
				    rule.name, what, rule.name);
	}
	for (int r = 0; r < SL_MAX_SHADOWS && slot < 0; r++)
		if (r >= st->shadows.n || !st->shadows.r[r].name[0])
			slot = r;
	if (slot < 0) {
		sl_st_shadow_names(&st->shadows, what, sizeof(what));
		return sl_error_set(e, SL_E_BAD_STATE, "name", "%u shadow rules already (%s), the "
				    "most a table holds: remove one first", SL_MAX_SHADOWS, what);
	}
	sl_st_txn_begin(st, t);
	t->shadows.r[slot] = rule;
	if (slot + 1 > t->shadows.n)
		t->shadows.n = (uint16_t)(slot + 1);
	t->publish = 1;
	t->shadow_changed = 1;
	t->shadow_op = SL_SHADOW_ADD;
	t->shadow_slot = slot;
	sl_shadow_describe(&rule, what, sizeof(what));
	snprintf(t->reason, sizeof(t->reason), "shadow add %s: %.440s", rule.name, what);
	return 1;
}

int sl_plan_shadow_remove(const struct sl_state *st, struct sl_txn *t, const char *name,
			  struct sl_error *e)
{
	int r = sl_state_shadow(st, name);
	char what[640];

	if (r < 0) {
		sl_st_shadow_names(&st->shadows, what, sizeof(what));
		return sl_error_set(e, SL_E_UNKNOWN_SHADOW, "name", "no shadow rule '%s' (shadow "
				    "rules: %s)", name, what);
	}
	sl_st_txn_begin(st, t);
	memset(&t->shadows.r[r], 0, sizeof(t->shadows.r[r]));
	sl_st_shadows_trim(&t->shadows);
	t->publish = 1;
	t->shadow_changed = 1;
	t->shadow_op = SL_SHADOW_REMOVE;
	t->shadow_slot = r;
	sl_shadow_describe(&st->shadows.r[r], what, sizeof(what));
	snprintf(t->reason, sizeof(t->reason), "shadow remove %s (was: %.440s)", name, what);
	return 1;
}

/* The only service with a running or paused rollout. */
static int active_rollout(const struct sl_state *st, struct sl_error *e)
{
	char list[1024];
	size_t n = 0;
	int found = -1, count = 0;

	list[0] = '\0';
	for (int i = 0; i < st->nservices; i++) {
		if (!st->svc[i].st.name[0] || !sl_ro_active(&st->svc[i].ro))
			continue;
		found = i;
		count++;
		if (n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", count > 1 ?
					      ", " : "", st->svc[i].st.name);
	}
	if (count == 1)
		return found;
	if (count == 0)
		return sl_error_set(e, SL_E_BAD_STATE, "service", "no rollout is running or "
				    "paused (start one with rollout_start)");
	return sl_error_set(e, SL_E_BAD_STATE, "service", "rollouts of %s are running or "
			    "paused: name the service", list);
}

/* Apply a rollout action to service s of t.  The rollout moved even when
 * the split stays (a pause): journaled, published only if the split moves. */
static int ro_apply(const struct sl_state *st, struct sl_txn *t, int s,
		    const struct sl_ro_action *a, int reset)
{
	struct sl_svc *n = &t->next[s];

	if (a->complete) {
		char champ[SL_NAME_LEN];

		memcpy(champ, n->st.champion, SL_NAME_LEN);
		memcpy(n->st.champion, n->st.challenger, SL_NAME_LEN);
		memcpy(n->st.challenger, champ, SL_NAME_LEN);
		n->st.share_bp = 0;
	} else if (a->apply) {
		n->st.share_bp = a->share_bp;
	}
	n->st.strategy = sl_ro_active(&n->ro) ? SL_STRAT_ROLLOUT : SL_STRAT_STEADY;
	t->svc = s;
	if (sl_st_split_eq(&st->svc[s].st, &n->st)) {
		t->gen = st->gen;
	} else {
		t->publish = 1;
		t->undo = SL_UNDO_PUSH;
		n->st.reset = (uint8_t)(reset != 0);
		if (reset)
			n->reset_gen = t->gen;
	}
	n->gen = t->gen;
	return 1;
}

/* abort of a canary set by hand (no rollout): the challenger back to 0 %
 * now, as the status sentence promises (DESIGN: "challenger back to 0 %
 * now"); a rollout's abort keeps its own record. */
static int plain_abort(const struct sl_state *st, struct sl_txn *t, int s, int reset)
{
	struct sl_svc *n;
	char sh[16];

	sl_st_txn_begin(st, t);
	n = &t->next[s];
	n->st.share_bp = 0;
	n->st.strategy = SL_STRAT_STEADY;
	snprintf(t->reason, sizeof(t->reason), "%s: canary aborted (%s was at %s): all new flows "
		 "-> %s%s", st->svc[s].st.name, st->svc[s].st.challenger,
		 sl_share_str(st->svc[s].st.share_bp, sh, sizeof(sh)), st->svc[s].st.champion,
		 reset ? ", established flows decided again" : "");
	return finish(st, t, s, reset);
}

int sl_plan_rollout(const struct sl_state *st, struct sl_txn *t, enum sl_cmd cmd,
		    const char *service, const struct sl_req *req, uint64_t now_ms,
		    struct sl_error *e)
{
	struct sl_ro_action a;
	struct sl_rollout ro;
	char msg[SL_ERR_LEN];
	int s, rc, reset = 0;

	s = service ? sl_state_find_service(st, service, e) : active_rollout(st, e);
	if (s < 0)
		return -1;
	ro = st->svc[s].ro;
	memset(&a, 0, sizeof(a));
	msg[0] = '\0';
	switch (cmd) {
	case SL_CMD_ROLLOUT_START:
		/* For the reasons the rollout writes ("green is champion"). */
		snprintf(ro.challenger, sizeof(ro.challenger), "%s", st->svc[s].st.challenger);
		rc = sl_ro_start(&ro, req->steps, req->nsteps, now_ms, &a, msg, sizeof(msg));
		break;
	case SL_CMD_ROLLOUT_PAUSE:
		rc = sl_ro_pause(&ro, now_ms, &a, msg, sizeof(msg));
		break;
	case SL_CMD_ROLLOUT_RESUME:
		rc = sl_ro_resume(&ro, now_ms, &a, msg, sizeof(msg));
		break;
	case SL_CMD_ROLLOUT_PROMOTE:
		rc = sl_ro_promote(&ro, req->full, now_ms, &a, msg, sizeof(msg));
		break;
	case SL_CMD_ROLLOUT_ABORT:
		if (service && !sl_ro_active(&ro) && st->svc[s].st.strategy == SL_STRAT_CANARY &&
		    st->svc[s].st.share_bp > 0)
			return plain_abort(st, t, s, req->reset);
		rc = sl_ro_abort(&ro, now_ms, &a, msg, sizeof(msg));
		reset = req->reset;
		break;
	default:
		return sl_error_set(e, SL_E_INTERNAL, "cmd", "%s is not a rollout verb",
				    sl_cmd_name(cmd));
	}
	if (rc)
		return sl_error_set(e, SL_E_BAD_STATE, "", "%s %s: %s", sl_cmd_name(cmd),
				    st->svc[s].st.name, msg);
	sl_st_txn_begin(st, t);
	t->next[s].ro = ro;
	snprintf(t->reason, sizeof(t->reason), "%s: %s", st->svc[s].st.name,
		 a.reason);
	return ro_apply(st, t, s, &a, reset);
}

int sl_plan_tick(const struct sl_state *st, struct sl_txn *t, uint64_t now_ms)
{
	return sl_plan_tick_skip(st, t, now_ms, NULL);
}

int sl_plan_tick_skip(const struct sl_state *st, struct sl_txn *t, uint64_t now_ms,
		      const uint8_t *skip)
{
	for (int s = 0; s < st->nservices; s++) {
		struct sl_rollout ro = st->svc[s].ro;
		struct sl_ro_action a;

		if (!st->svc[s].st.name[0] || (skip && skip[s]) || sl_ro_deadline(&ro) > now_ms)
			continue;
		memset(&a, 0, sizeof(a));
		if (!sl_ro_tick(&ro, now_ms, &a))
			continue;
		sl_st_txn_begin(st, t);
		t->next[s].ro = ro;
		snprintf(t->reason, sizeof(t->reason), "plan %s: %s", st->svc[s].st.name,
			 a.reason);
		return ro_apply(st, t, s, &a, 0);
	}
	return 0;
}

uint64_t sl_state_deadline(const struct sl_state *st)
{
	return sl_state_deadline_skip(st, NULL);
}

uint64_t sl_state_deadline_skip(const struct sl_state *st, const uint8_t *skip)
{
	uint64_t d = UINT64_MAX;

	for (int s = 0; s < st->nservices; s++) {
		uint64_t x;

		if (!st->svc[s].st.name[0] || (skip && skip[s]))
			continue;
		x = sl_ro_deadline(&st->svc[s].ro);
		if (x < d)
			d = x;
	}
	return d;
}

/* [dataplane] and [control] keys a reload cannot apply. */
static void restart_keys(const struct sl_config *c, const struct sl_config *o, char *note,
			 size_t len)
{
	char dp[256] = "", ctl[256] = "";
	struct { const char *name; int differs; } k[] = {
		{ "eal_args", strcmp(c->eal_args, o->eal_args) != 0 },
		{ "flow_capacity", c->flow_capacity != o->flow_capacity },
		{ "tcp_syn_timeout", c->tcp_syn_timeout_ms != o->tcp_syn_timeout_ms },
		{ "tcp_timeout", c->tcp_timeout_ms != o->tcp_timeout_ms },
		{ "tcp_fin_timeout", c->tcp_fin_timeout_ms != o->tcp_fin_timeout_ms },
		{ "tcp_closed_timeout", c->tcp_closed_timeout_ms != o->tcp_closed_timeout_ms },
		{ "udp_timeout", c->udp_timeout_ms != o->udp_timeout_ms },
		{ "other", c->other != o->other },
		{ "malformed", c->malformed != o->malformed },
		{ "mbufs", c->mbufs != o->mbufs },
		{ "mbuf_size", c->mbuf_size != o->mbuf_size },
		{ "rx_desc", c->rx_desc != o->rx_desc },
		{ "tx_desc", c->tx_desc != o->tx_desc },
	}, kc[] = {
		{ "instance", strcmp(c->instance, o->instance) != 0 },
		{ "bpffs", strcmp(c->bpffs, o->bpffs) != 0 },
		{ "socket", strcmp(c->socket_path, o->socket_path) != 0 },
		{ "journal", strcmp(c->journal_path, o->journal_path) != 0 },
		{ "bpf_object", strcmp(c->bpf_object, o->bpf_object) != 0 },
		{ "group", strcmp(c->control_group, o->control_group) != 0 ||
			   c->control_gid != o->control_gid },
		{ "idle_timeout", c->idle_timeout_ms != o->idle_timeout_ms },
		{ "max_connections", c->max_connections != o->max_connections },
		{ "max_connections_per_uid",
		  c->max_connections_per_uid != o->max_connections_per_uid },
		{ "journal_rotate", c->journal_rotate != o->journal_rotate },
		{ "journal_keep", c->journal_keep != o->journal_keep },
		{ "metrics", strcmp(c->metrics, o->metrics) != 0 },
	};
	size_t a = 0, b = 0;

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (k[i].differs && a < sizeof(dp))
			a += (size_t)snprintf(dp + a, sizeof(dp) - a, "%s%s", a ? ", " : "",
					      k[i].name);
	for (size_t i = 0; i < sizeof(kc) / sizeof(kc[0]); i++)
		if (kc[i].differs && b < sizeof(ctl))
			b += (size_t)snprintf(ctl + b, sizeof(ctl) - b, "%s%s", b ? ", " : "",
					      kc[i].name);
	if (a)
		sl_st_note_add(note, len, "[dataplane] %s: take effect when sluice-dp restarts",
			       dp);
	if (b)
		sl_st_note_add(note, len, "[control] %s: take effect when sluiced restarts", ctl);
}

/* May service s still have flows on a group of the removed mask?  Its
 * groups now, and those of the states its undo history remembers (flows
 * stick to the group they started on across later changes). */
static int holds_removed(const struct sl_state *st, int s, uint32_t removed)
{
	const struct sl_undo *u = &st->undo[s];

	if (!removed)
		return 0;
	for (int g = 0; g < st->base->ngroups; g++) {
		const char *name = st->base_groups[g].name;

		if (!(removed >> g & 1))
			continue;
		if (!strcmp(st->svc[s].st.champion, name) || !strcmp(st->svc[s].st.challenger, name))
			return 1;
		for (uint32_t i = 0; i < u->n; i++)
			if (!strcmp(u->e[i].st.champion, name) ||
			    !strcmp(u->e[i].st.challenger, name))
				return 1;
	}
	return 0;
}

int sl_plan_reload(struct sl_state *st, struct sl_txn *t, const struct sl_config *cfg,
		   const struct sl_config *old, struct sl_error *e)
{
	struct sl_config *laid;
	uint32_t removed = 0;
	char msg[SL_ERR_LEN], what[256];
	int changed;

	for (int s = 0; s < st->nservices; s++)
		if (st->svc[s].st.name[0] && no_rollout(st, s, "reload", e))
			return -1;
	laid = malloc(sizeof(*laid));
	if (!laid)
		return sl_error_set(e, SL_E_INTERNAL, "", "reload: out of memory");
	sl_st_txn_begin(st, t);
	if (sl_state_layout(cfg, old, st->base, st->base_groups, laid, &removed, msg,
			    sizeof(msg)) ||
	    sl_tables_build(st->nbase, st->nbase_groups, laid, t->gen, msg, sizeof(msg))) {
		free(laid);
		return sl_error_set(e, SL_E_RELOAD_INVALID, "", "%s", msg);
	}
	changed = sl_state_structure_diff(st->base, st->base_groups, st->nbase, st->nbase_groups,
					  what, sizeof(what));
	t->nservices = laid->nservices;
	memset(t->next, 0, sizeof(t->next));
	for (unsigned s = 0; s < laid->nservices; s++) {
		const struct sl_cfg_service *cs = &laid->services[s];
		struct sl_svc *n = &t->next[s];
		const struct sl_svc *o = s < st->nservices ? &st->svc[s] : NULL;
		struct sl_svc_rec want;

		if (!cs->name[0])
			continue;
		memset(&want, 0, sizeof(want));
		snprintf(want.name, sizeof(want.name), "%s", cs->name);
		snprintf(want.champion, sizeof(want.champion), "%s",
			 laid->groups[cs->champion].name);
		snprintf(want.challenger, sizeof(want.challenger), "%s",
			 laid->groups[cs->challenger].name);
		want.share_bp = cs->share_bp;
		want.strategy = cs->share_bp ? SL_STRAT_CANARY : SL_STRAT_STEADY;
		if (o && !strcmp(o->st.name, cs->name)) {
			*n = *o;
			if (!sl_st_split_eq(&o->st, &want)) {
				n->st = want;
				n->gen = t->gen;
				changed = 1;
			}
			/* Flows held by a group that is gone are decided again. */
			if (holds_removed(st, (int)s, removed)) {
				n->reset_gen = t->gen;
				n->st.reset = 1;
				n->gen = t->gen;
				changed = 1;
			}
		} else {
			n->st = want;
			n->gen = t->gen;
			changed = 1;
		}
	}
	for (int s = 0; s < st->nservices; s++)
		if (st->svc[s].st.name[0] && (s >= laid->nservices ||
					     strcmp(laid->services[s].name, st->svc[s].st.name)))
			changed = 1;
	/* the file's shadow rules replace the rule set, added ones included */
	sl_st_shadows_from_cfg(&t->shadows, laid);
	/* slice filters are compiled with the shadow rules: other slices are
	 * a new rule set (shadow_gen) */
	if (!sl_st_shadows_eq(&t->shadows, &st->shadows)) {
		t->shadow_changed = 1;
		changed = 1;
		if (!what[0])
			snprintf(what, sizeof(what), "other shadow rules");
	}
	if (st->nbase->nslices != st->base->nslices ||
	    memcmp(st->nbase->slices, st->base->slices, sizeof(st->base->slices))) {
		t->shadow_changed = 1;
		changed = 1;
		if (!what[0])
			snprintf(what, sizeof(what), "other slices");
	}
	if (old)
		restart_keys(cfg, old, t->note, sizeof(t->note));
	free(laid);
	if (!changed)
		return 0;
	t->publish = 1;
	t->reload = 1;
	t->undo = SL_UNDO_PUSH;
	snprintf(t->reason, sizeof(t->reason), "reload %.200s%s%s", cfg->path, what[0] ? ": " : "",
		 what);
	return 1;
}

void sl_plan_snapshot(const struct sl_state *st, struct sl_txn *t, int publish, int clear)
{
	sl_st_txn_begin(st, t);
	t->publish = publish;
	/* a published snapshot (init, recovery) states the rule set anew */
	t->shadow_changed = publish;
	if (!publish)
		t->gen = st->gen;
	t->undo = clear ? SL_UNDO_CLEAR : SL_UNDO_NONE;
	/* A new starting point is every service's last change. */
	if (clear)
		for (int s = 0; s < t->nservices; s++)
			t->next[s].gen = t->gen;
}
