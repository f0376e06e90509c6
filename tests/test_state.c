/* Service states: stable indexes across reloads, ports refused, changes
 * and their tables, undo history (also rebuilt from the journal), the
 * measured share, the status sentences of every strategy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "tables.h"
#include "testcfg.h"
#include "unit.h"

static char err[1024];
static struct sl_error e;

static struct sl_txn *txn(void)
{
	static struct sl_txn *t;

	if (!t)
		t = calloc(1, sizeof(*t));
	return t;
}

/* A state from tc_config with generation 1 published. */
static struct sl_state *fresh(uint16_t share_bp)
{
	struct sl_config *c = tc_config(share_bp);
	struct sl_state *st = sl_state_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(sl_state_from_config(st, c, err, sizeof(err)), 0);
	free(c);
	sl_plan_snapshot(st, txn(), 1, 1);
	CU_ASSERT_EQUAL_FATAL(sl_txn_render(st, txn(), err, sizeof(err)), 0);
	sl_txn_commit(st, txn());
	CU_ASSERT_EQUAL(st->gen, 1);
	return st;
}

/* Render and commit a planned change, as the daemon does after its
 * journal line; *journal (if given) gets the entry. */
static void commit(struct sl_state *st, const char *cmd, json_t *journal)
{
	struct sl_txn *t = txn();

	if (journal)
		json_array_append_new(journal, sl_txn_journal(st, t, cmd, json_string("daemon"),
							      0));
	if (t->publish)
		CU_ASSERT_EQUAL_FATAL(sl_txn_render(st, t, err, sizeof(err)), 0);
	sl_txn_commit(st, t);
}

static const struct sl_svc_rec *svc(const struct sl_state *st, const char *name)
{
	int i = sl_state_service(st, name);

	CU_ASSERT_FATAL(i >= 0);
	return &st->svc[i].st;
}

/* Move entries of a configuration: order[i] is the old index now at i. */
static void reorder_groups(struct sl_config *c, const int *order, int n)
{
	struct sl_cfg_group g[SL_MAX_GROUPS];
	int back[SL_MAX_GROUPS];

	memcpy(g, c->groups, sizeof(g));
	for (int i = 0; i < n; i++) {
		c->groups[i] = g[order[i]];
		back[order[i]] = i;
	}
	c->ngroups = (uint16_t)n;
	for (int s = 0; s < c->nservices; s++) {
		c->services[s].champion = (uint8_t)back[c->services[s].champion];
		c->services[s].challenger = (uint8_t)back[c->services[s].challenger];
	}
}

static void add_group(struct sl_config *c, const char *name, uint8_t port)
{
	struct sl_cfg_group *g = &c->groups[c->ngroups++];

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->port = port;
	g->mode = SL_MODE_PORT;
}

static const uint8_t vip_api[16] = { 192, 0, 2, 80 };

static void test_layout_stable(void)
{
	struct sl_state *st = fresh(500);
	struct sl_config *n = tc_config(500), *laid = calloc(1, sizeof(*laid));
	struct sl_cfg_service sv[SL_MAX_SERVICES];
	static const int gorder[] = { 2, 1, 0 }; /* canary, green, blue */
	struct sl_txn *t = txn();
	uint32_t removed = 99;
	const struct sl_table_hdr *h;

	CU_ASSERT_PTR_NOT_NULL_FATAL(laid);
	/* The file now lists web6, api (new), dns, web; groups canary (new),
	 * green, blue. */
	add_group(n, "canary", TC_GREEN);
	reorder_groups(n, gorder, 3);
	memcpy(sv, n->services, sizeof(sv));
	n->services[0] = sv[2];
	tc_service(&n->services[1], "api", 6, 4, vip_api, 8080, 8080, 100);
	n->services[1].champion = 2;   /* blue */
	n->services[1].challenger = 0; /* canary */
	n->services[2] = sv[1];
	n->services[3] = sv[0];
	n->nservices = 4;

	CU_ASSERT_EQUAL_FATAL(sl_state_layout(n, NULL, st->base, st->base_groups, laid, &removed,
					      err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(removed, 0);
	CU_ASSERT_EQUAL(laid->ngroups, 3);
	CU_ASSERT_STRING_EQUAL(laid->groups[0].name, "blue");
	CU_ASSERT_STRING_EQUAL(laid->groups[1].name, "green");
	CU_ASSERT_STRING_EQUAL(laid->groups[2].name, "canary");
	CU_ASSERT_EQUAL(laid->nservices, 4);
	CU_ASSERT_STRING_EQUAL(laid->services[0].name, "web");
	CU_ASSERT_STRING_EQUAL(laid->services[1].name, "dns");
	CU_ASSERT_STRING_EQUAL(laid->services[2].name, "web6");
	CU_ASSERT_STRING_EQUAL(laid->services[3].name, "api");
	/* group references follow the groups */
	CU_ASSERT_EQUAL(laid->services[0].champion, 0);
	CU_ASSERT_EQUAL(laid->services[0].challenger, 1);
	CU_ASSERT_EQUAL(laid->services[3].champion, 0);
	CU_ASSERT_EQUAL(laid->services[3].challenger, 2);
	CU_ASSERT_EQUAL(laid->services[3].share_bp, 100);

	/* The same through a reload: the table keeps the indexes. */
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, NULL, &e), 1);
	CU_ASSERT_EQUAL(t->publish, 1);
	CU_ASSERT_EQUAL(t->gen, 2);
	CU_ASSERT_EQUAL(t->nservices, 4);
	commit(st, "reload", NULL);
	h = st->out;
	CU_ASSERT_EQUAL(h->gen, 2);
	CU_ASSERT_STRING_EQUAL(h->services[0].name, "web");
	CU_ASSERT_STRING_EQUAL(h->services[2].name, "web6");
	CU_ASSERT_STRING_EQUAL(h->services[3].name, "api");
	CU_ASSERT_STRING_EQUAL(st->out_groups[2].name, "canary");
	CU_ASSERT_EQUAL(h->services[3].challenger, 2);
	CU_ASSERT_EQUAL(h->services[3].share_bp, 100);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 6, vip_api, 8080, 0), 3);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 6, tc_vip_web, 443, 0), 0);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 17, tc_vip_dns, 5353, 0), 1);
	CU_ASSERT_STRING_EQUAL(svc(st, "api")->challenger, "canary");
	CU_ASSERT_EQUAL(svc(st, "api")->strategy, SL_STRAT_CANARY);
	/* the same file again changes nothing */
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, n, &e), 0);
	free(n);
	free(laid);
	sl_state_free(st);
}

static void test_layout_removed(void)
{
	struct sl_state *st = fresh(0);
	struct sl_config *n = tc_config(0), *laid = calloc(1, sizeof(*laid));
	struct sl_txn *t = txn();
	uint32_t removed = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(laid);
	/* dns goes away; api is new: it takes the free index 1 */
	n->services[1] = n->services[2];
	tc_service(&n->services[2], "api", 6, 4, vip_api, 80, 80, 0);
	CU_ASSERT_EQUAL_FATAL(sl_state_layout(n, NULL, st->base, st->base_groups, laid, &removed,
					      err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(laid->nservices, 3);
	CU_ASSERT_STRING_EQUAL(laid->services[1].name, "api");
	CU_ASSERT_STRING_EQUAL(laid->services[2].name, "web6");

	/* web6 goes away and the file lists dns before web: web keeps 0, dns 1,
	 * and the last index is dropped */
	free(n);
	n = tc_config(0);
	{
		struct sl_cfg_service w = n->services[0];

		n->services[0] = n->services[1];
		n->services[1] = w;
	}
	n->nservices = 2;
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, NULL, &e), 1);
	commit(st, "reload", NULL);
	CU_ASSERT_EQUAL(st->base->nservices, 2);
	CU_ASSERT_EQUAL(sl_state_service(st, "web6"), -1);
	CU_ASSERT_EQUAL(sl_state_service(st, "dns"), 1);

	/* web goes away: index 0 stays, empty, and nobody finds it */
	free(n);
	n = tc_config(0);
	n->services[0] = n->services[1]; /* dns */
	n->nservices = 1;
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, NULL, &e), 1);
	commit(st, "reload", NULL);
	CU_ASSERT_EQUAL(st->base->nservices, 2);
	CU_ASSERT_STRING_EQUAL(st->base->services[0].name, "");
	CU_ASSERT_STRING_EQUAL(st->base->services[1].name, "dns");
	CU_ASSERT_EQUAL(sl_find_service(st->out, 4, 6, tc_vip_web, 443, 0), -1);
	CU_ASSERT_EQUAL(sl_find_service(st->out, 4, 6, tc_vip_web, 443, 1), -1);
	CU_ASSERT_EQUAL(sl_find_service(st->out, 4, 17, tc_vip_dns, 53, 0), 1);
	free(n);
	free(laid);
	sl_state_free(st);
}

static void test_group_removed(void)
{
	struct sl_state *st = fresh(500);
	struct sl_config *n = tc_config(500), *laid = calloc(1, sizeof(*laid));
	struct sl_txn *t = txn();
	uint32_t removed = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(laid);
	/* green is replaced by teal (a new name): teal takes green's free index,
	 * and every service that had green re-decides its flows */
	snprintf(n->groups[1].name, sizeof(n->groups[1].name), "teal");
	CU_ASSERT_EQUAL_FATAL(sl_state_layout(n, NULL, st->base, st->base_groups, laid, &removed,
					      err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(removed, 1u << 1);
	CU_ASSERT_STRING_EQUAL(laid->groups[1].name, "teal");
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, NULL, &e), 1);
	CU_ASSERT_EQUAL(t->next[0].reset_gen, 2);
	CU_ASSERT_EQUAL(t->next[1].reset_gen, 2);
	CU_ASSERT_EQUAL(t->next[0].st.reset, 1);
	commit(st, "reload", NULL);
	CU_ASSERT_EQUAL(st->out->services[0].reset_gen, 2);
	CU_ASSERT_EQUAL(st->out->services[2].reset_gen, 2);
	CU_ASSERT_STRING_EQUAL(svc(st, "web")->challenger, "teal");
	/* an undo back to green is refused: the group is gone */
	CU_ASSERT_EQUAL(sl_plan_undo(st, t, "web", &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_STATE);
	CU_ASSERT_STRING_EQUAL(e.message, "cannot undo web: generation 1 had champion blue and "
			       "challenger green, and the configuration no longer has both groups");
	free(n);
	free(laid);
	sl_state_free(st);
}

static void test_group_left_before(void)
{
	struct sl_state *st = fresh(500);
	struct sl_config *m = tc_config(500);
	struct sl_txn *t = txn();

	add_group(m, "teal", TC_GREEN);
	m->services[TC_S_WEB].challenger = 2;
	m->services[TC_S_DNS].challenger = 2;
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, m, NULL, &e), 1);
	commit(st, "reload", NULL);
	/* web goes back to green: its flows on teal stay there (sticky) */
	m->services[TC_S_WEB].challenger = 1;
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, m, NULL, &e), 1);
	commit(st, "reload", NULL);
	/* teal goes: dns has it, web had it, web6 never did */
	m->ngroups = 2;
	m->services[TC_S_DNS].challenger = 1;
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, m, NULL, &e), 1);
	CU_ASSERT_EQUAL(t->gen, 4);
	CU_ASSERT_EQUAL(t->next[TC_S_WEB].reset_gen, 4);
	CU_ASSERT_EQUAL(t->next[TC_S_DNS].reset_gen, 4);
	CU_ASSERT_EQUAL(t->next[TC_S_WEB6].reset_gen, 0);
	commit(st, "reload", NULL);
	CU_ASSERT_EQUAL(st->out->ngroups, 2);
	CU_ASSERT_EQUAL(st->out->services[TC_S_WEB].reset_gen, 4);
	CU_ASSERT_EQUAL(st->out->services[TC_S_WEB6].reset_gen, 0);
	free(m);
	sl_state_free(st);
}

static void test_ports_refused(void)
{
	struct sl_state *st = fresh(0);
	struct sl_config *n = tc_config(0), *old = tc_config(0);
	struct sl_config *laid = calloc(1, sizeof(*laid));
	struct sl_txn *t = txn();

	CU_ASSERT_PTR_NOT_NULL_FATAL(laid);
	snprintf(n->ports[2].name, sizeof(n->ports[2].name), "teal");
	snprintf(n->groups[1].name, sizeof(n->groups[1].name), "green");
	CU_ASSERT_EQUAL(sl_state_layout(n, old, st->base, st->base_groups, laid, NULL, err,
					sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "test.ini: the ports may not change at run time: the table "
			       "in force has ports client, blue, green, shadow, the file has client, "
			       "blue, teal, shadow (restart sluice-dp and sluiced to change ports)");
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, old, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_RELOAD_INVALID);
	CU_ASSERT_STRING_EQUAL(e.message, err);

	free(n);
	n = tc_config(0);
	n->nports = 3;
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, old, &e), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "the file has client, blue, green (restart"));

	free(n);
	n = tc_config(0);
	snprintf(n->ports[2].devargs, sizeof(n->ports[2].devargs), "net_null9");
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, old, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.message, "test.ini: [port green] devargs: the ports may not "
			       "change at run time ('net_null0' in force, 'net_null9' in the file; "
			       "restart sluice-dp and sluiced to change ports)");
	n->ports[2] = old->ports[2];
	n->ports[3].role = SL_ROLE_BACKEND;
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, old, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.message, "test.ini: [port shadow] role: the ports may not "
			       "change at run time (restart sluice-dp and sluiced to change ports)");
	/* keys sluice-dp reads at its start are named, not refused */
	n->ports[3] = old->ports[3];
	n->flow_capacity *= 2;
	n->udp_timeout_ms = 1000;
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, old, &e), 0);
	CU_ASSERT_STRING_EQUAL(t->note, "[dataplane] flow_capacity, udp_timeout: take effect "
			       "when sluice-dp restarts");
	free(n);
	free(old);
	free(laid);
	sl_state_free(st);
}

static void test_changes(void)
{
	struct sl_state *st = fresh(0);
	struct sl_txn *t = txn();
	struct sl_weight w[2] = { { "green", 2000 }, { "blue", 8000 } };

	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web", 500, 0, &e), 1);
	CU_ASSERT_EQUAL(t->svc, 0);
	CU_ASSERT_EQUAL(t->gen, 2);
	CU_ASSERT_EQUAL(t->undo, SL_UNDO_PUSH);
	CU_ASSERT_STRING_EQUAL(t->reason, "canary web 5% (sticky)");
	commit(st, "canary", NULL);
	CU_ASSERT_EQUAL(st->out->services[0].share_bp, 500);
	CU_ASSERT_EQUAL(st->out->services[1].share_bp, 0);
	CU_ASSERT_EQUAL(st->out->gen, 2);
	CU_ASSERT_EQUAL(svc(st, "web")->strategy, SL_STRAT_CANARY);
	/* idempotent */
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web", 500, 1, &e), 0);
	CU_ASSERT_EQUAL(t->svc, 0);

	/* weights: one group names the other's complement */
	CU_ASSERT_EQUAL(sl_plan_weights(st, t, "web", &w[0], 1, 0, &e), 1);
	CU_ASSERT_EQUAL(t->next[0].st.share_bp, 2000);
	CU_ASSERT_STRING_EQUAL(t->reason, "weights web green=20% (sticky)");
	commit(st, "weights", NULL);
	CU_ASSERT_EQUAL(sl_plan_weights(st, t, "web", &w[1], 1, 0, &e), 0);
	CU_ASSERT_EQUAL(sl_plan_weights(st, t, "web", w, 2, 0, &e), 0);
	w[0].share_bp = 7000;
	w[1].share_bp = 3000;
	CU_ASSERT_EQUAL(sl_plan_weights(st, t, "web", w, 2, 1, &e), 1);
	CU_ASSERT_EQUAL(t->next[0].st.share_bp, 7000);
	CU_ASSERT_EQUAL(t->next[0].reset_gen, t->gen);
	CU_ASSERT_EQUAL(t->next[0].st.reset, 1);
	commit(st, "weights", NULL);
	CU_ASSERT_EQUAL(st->out->services[0].reset_gen, 4);
	CU_ASSERT_EQUAL(st->out->services[0].share_bp, 7000);

	/* switch: the group becomes champion with everything, reset_gen kept */
	CU_ASSERT_EQUAL(sl_plan_switch(st, t, "web", "green", 0, &e), 1);
	commit(st, "switch", NULL);
	CU_ASSERT_STRING_EQUAL(svc(st, "web")->champion, "green");
	CU_ASSERT_STRING_EQUAL(svc(st, "web")->challenger, "blue");
	CU_ASSERT_EQUAL(svc(st, "web")->share_bp, 0);
	CU_ASSERT_EQUAL(svc(st, "web")->strategy, SL_STRAT_BLUE_GREEN);
	CU_ASSERT_EQUAL(st->out->services[0].champion, TC_G_GREEN);
	CU_ASSERT_EQUAL(st->out->services[0].challenger, TC_G_BLUE);
	CU_ASSERT_EQUAL(st->out->services[0].reset_gen, 4);
	CU_ASSERT_EQUAL(sl_plan_switch(st, t, "web", "green", 0, &e), 0);
	CU_ASSERT_EQUAL(st->gen, 5);

	/* refusals */
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "nope", 100, 0, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_UNKNOWN_SERVICE);
	CU_ASSERT_STRING_EQUAL(e.message, "no service 'nope' (services: web, dns, web6)");
	CU_ASSERT_EQUAL(sl_plan_switch(st, t, "dns", "teal", 0, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_UNKNOWN_GROUP);
	CU_ASSERT_STRING_EQUAL(e.field, "group");
	CU_ASSERT_STRING_EQUAL(e.message, "no group 'teal' (service dns has champion blue and "
			       "challenger green)");
	snprintf(w[0].group, sizeof(w[0].group), "teal");
	CU_ASSERT_EQUAL(sl_plan_weights(st, t, "dns", w, 1, 0, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_UNKNOWN_GROUP);
	CU_ASSERT_STRING_EQUAL(e.field, "weights");
	sl_state_free(st);
}

static void test_group_of_other_service(void)
{
	struct sl_state *st = sl_state_new();
	struct sl_config *c = tc_config(0);
	struct sl_txn *t = txn();

	add_group(c, "canary", TC_GREEN);
	c->services[1].challenger = 2;
	CU_ASSERT_EQUAL_FATAL(sl_state_from_config(st, c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sl_plan_switch(st, t, "web", "canary", 0, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_UNKNOWN_GROUP);
	CU_ASSERT_STRING_EQUAL(e.message, "group 'canary' is not one of service web's groups "
			       "(champion blue, challenger green)");
	CU_ASSERT_EQUAL(sl_plan_switch(st, t, "dns", "canary", 0, &e), 1);
	free(c);
	sl_state_free(st);
}

static void test_undo(void)
{
	struct sl_state *st = fresh(0), *again = sl_state_new();
	struct sl_txn *t = txn();
	json_t *journal = json_array(), *entry;
	char note[512];
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(again);
	/* the initial table is the journal's first line */
	sl_plan_snapshot(st, t, 0, 1);
	json_array_append_new(journal, sl_txn_journal(st, t, "init", json_string("daemon"), 0));
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web", 500, 0, &e), 1);
	commit(st, "canary", journal);                       /* gen 2 */
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web", 2000, 0, &e), 1);
	commit(st, "canary", journal);                       /* gen 3 */
	CU_ASSERT_EQUAL(sl_plan_switch(st, t, "dns", "green", 1, &e), 1);
	commit(st, "switch", journal);                       /* gen 4 */
	CU_ASSERT_EQUAL(st->undo[0].n, 2);
	CU_ASSERT_EQUAL(st->undo[0].e[1].gen, 2);
	CU_ASSERT_EQUAL(st->undo[0].e[1].st.share_bp, 500);
	CU_ASSERT_EQUAL(st->undo[1].n, 1);

	CU_ASSERT_EQUAL(sl_plan_undo(st, t, "web", &e), 1);
	CU_ASSERT_EQUAL(t->publish, 1);
	CU_ASSERT_STRING_EQUAL(t->reason, "undo web: back to generation 2 (blue 5% / green)");
	commit(st, "undo", journal);                         /* gen 5 */
	CU_ASSERT_EQUAL(svc(st, "web")->share_bp, 500);
	CU_ASSERT_EQUAL(st->out->services[0].share_bp, 500);
	CU_ASSERT_EQUAL(st->undo[0].n, 1);
	/* the undo of dns's switch restores blue and its share */
	CU_ASSERT_EQUAL(sl_plan_undo(st, t, "dns", &e), 1);
	commit(st, "undo", journal);                         /* gen 6 */
	CU_ASSERT_STRING_EQUAL(svc(st, "dns")->champion, "blue");
	CU_ASSERT_EQUAL(svc(st, "dns")->strategy, SL_STRAT_STEADY);
	CU_ASSERT_EQUAL(sl_plan_undo(st, t, "dns", &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_STATE);
	CU_ASSERT_STRING_EQUAL(e.message, "nothing to undo for dns (no change of it is left in "
			       "the history)");
	CU_ASSERT_EQUAL(st->gen, 6);

	/* The journal gives the same states and undo stacks back. */
	json_array_foreach(journal, i, entry)
		CU_ASSERT_EQUAL_FATAL(sl_state_replay(again, entry, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(again->gen, 6);
	CU_ASSERT_EQUAL_FATAL(sl_state_adopt(again, st->out, st->out_groups, SL_ADOPT_CHECK, note,
					     sizeof(note), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(note, "");
	for (int s = 0; s < 3; s++) {
		CU_ASSERT_EQUAL(memcmp(&again->svc[s].st, &st->svc[s].st, sizeof(st->svc[s].st)), 0);
		CU_ASSERT_EQUAL(again->undo[s].n, st->undo[s].n);
		CU_ASSERT_EQUAL(memcmp(again->undo[s].e, st->undo[s].e,
				       st->undo[s].n * sizeof(st->undo[s].e[0])), 0);
		CU_ASSERT_EQUAL(again->svc[s].reset_gen, st->svc[s].reset_gen);
		CU_ASSERT_EQUAL(again->svc[s].gen, st->svc[s].gen);
	}
	CU_ASSERT_EQUAL(again->svc[1].reset_gen, 4);
	/* the last undo of web goes back to the initial 0 % */
	CU_ASSERT_EQUAL(sl_plan_undo(again, t, "web", &e), 1);
	CU_ASSERT_EQUAL(t->next[0].st.share_bp, 0);
	CU_ASSERT_EQUAL(t->next[0].st.strategy, SL_STRAT_STEADY);

	/* The table's split wins over a journal that disagrees, and says so. */
	st->out->services[0].share_bp = 900;
	CU_ASSERT_EQUAL_FATAL(sl_state_adopt(again, st->out, st->out_groups, SL_ADOPT_CHECK, note,
					     sizeof(note), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(note, "web: the journal says blue 5% / green, the table blue 9% "
			       "/ green (kept)");
	CU_ASSERT_EQUAL(svc(again, "web")->share_bp, 900);

	json_decref(journal);
	sl_state_free(again);
	sl_state_free(st);
}

static void test_replay_errors(void)
{
	struct sl_state *st = sl_state_new();
	json_t *bad = json_pack("{s:I, s:s, s:s, s:{s:s, s:s, s:s, s:i, s:s, s:s}}", "gen",
				(json_int_t)3, "cmd", "canary", "service", "web", "after", "name",
				"web", "champion", "blue", "challenger", "green", "share_bp", 20000,
				"strategy", "canary", "mode", "sticky");

	CU_ASSERT_EQUAL(sl_state_replay(st, bad, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "after: \"share_bp\" is not 0..10000");
	json_object_set_new(json_object_get(bad, "after"), "share_bp", json_integer(100));
	json_object_set_new(json_object_get(bad, "after"), "strategy", json_string("yolo"));
	CU_ASSERT_EQUAL(sl_state_replay(st, bad, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "after: \"strategy\" is not a strategy");
	json_object_del(bad, "after");
	CU_ASSERT_EQUAL(sl_state_replay(st, bad, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "canary entry without \"after\" or \"services\"");
	json_decref(bad);
	sl_state_free(st);
}

static void test_rollout(void)
{
	struct sl_state *st = fresh(0);
	struct sl_txn *t = txn();
	struct sl_req r;

	memset(&r, 0, sizeof(r));
	r.nsteps = 3;
	r.steps[0] = (struct sl_ro_step){ .share_bp = 100, .dwell_ms = 1000 };
	r.steps[1] = (struct sl_ro_step){ .share_bp = 5000, .pause = 1 };
	r.steps[2] = (struct sl_ro_step){ .share_bp = 10000, .dwell_ms = 1000 };

	CU_ASSERT_EQUAL(sl_plan_rollout(st, t, SL_CMD_ROLLOUT_PAUSE, NULL, &r, 1000, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_STATE);
	CU_ASSERT_STRING_EQUAL(e.message, "no rollout is running or paused (start one with "
			       "rollout_start)");
	CU_ASSERT_EQUAL(sl_plan_rollout(st, t, SL_CMD_ROLLOUT_START, "web", &r, 1000, &e), 1);
	CU_ASSERT_EQUAL(t->publish, 1);
	commit(st, "rollout_start", NULL);
	CU_ASSERT_EQUAL(svc(st, "web")->share_bp, 100);
	CU_ASSERT_EQUAL(svc(st, "web")->strategy, SL_STRAT_ROLLOUT);
	CU_ASSERT_EQUAL(st->out->services[0].share_bp, 100);
	CU_ASSERT_EQUAL(sl_state_deadline(st), 2000);
	/* one running rollout: verbs need no service */
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web", 500, 0, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_STATE);
	CU_ASSERT_STRING_EQUAL(e.message, "canary refused: the rollout of web is running at step "
			       "1 of 3 (1%); abort it (`rollout abort`) or let it complete first");
	CU_ASSERT_EQUAL(sl_plan_undo(st, t, "web", &e), -1);
	{
		struct sl_config *c = tc_config(0);

		CU_ASSERT_EQUAL(sl_plan_reload(st, t, c, NULL, &e), -1);
		CU_ASSERT_EQUAL(e.code, SL_E_BAD_STATE);
		free(c);
	}

	/* pause: the rollout moves, the table does not */
	CU_ASSERT_EQUAL(sl_plan_rollout(st, t, SL_CMD_ROLLOUT_PAUSE, NULL, &r, 1400, &e), 1);
	CU_ASSERT_EQUAL(t->publish, 0);
	CU_ASSERT_EQUAL(t->gen, st->gen);
	CU_ASSERT_EQUAL(t->undo, SL_UNDO_NONE);
	commit(st, "rollout_pause", NULL);
	CU_ASSERT_EQUAL(st->gen, 2);
	CU_ASSERT_EQUAL(st->svc[0].ro.state, SL_RO_PAUSED);
	CU_ASSERT_EQUAL(sl_state_deadline(st), UINT64_MAX);
	CU_ASSERT_EQUAL(sl_plan_rollout(st, t, SL_CMD_ROLLOUT_RESUME, "web", &r, 5000, &e), 1);
	commit(st, "rollout_resume", NULL);
	CU_ASSERT_EQUAL(sl_state_deadline(st), 5600);
	CU_ASSERT_EQUAL(sl_plan_tick(st, t, 5599), 0);
	CU_ASSERT_EQUAL(sl_plan_tick(st, t, 5600), 1);
	CU_ASSERT_EQUAL(t->publish, 1);
	CU_ASSERT_EQUAL(t->next[0].st.share_bp, 5000);
	commit(st, "rollout_step", NULL);
	CU_ASSERT_EQUAL(st->svc[0].ro.state, SL_RO_PAUSED); /* a pause step */
	CU_ASSERT_EQUAL(sl_plan_tick(st, t, 99999), 0);
	CU_ASSERT_EQUAL(sl_plan_rollout(st, t, SL_CMD_ROLLOUT_PROMOTE, NULL, &r, 7000, &e), 1);
	commit(st, "rollout_promote", NULL);
	CU_ASSERT_EQUAL(svc(st, "web")->share_bp, 10000);
	CU_ASSERT_EQUAL(sl_plan_tick(st, t, 8000), 1);
	commit(st, "rollout_step", NULL);
	/* complete: the roles swap, share 0 */
	CU_ASSERT_EQUAL(st->svc[0].ro.state, SL_RO_COMPLETED);
	CU_ASSERT_STRING_EQUAL(svc(st, "web")->champion, "green");
	CU_ASSERT_STRING_EQUAL(svc(st, "web")->challenger, "blue");
	CU_ASSERT_EQUAL(svc(st, "web")->share_bp, 0);
	CU_ASSERT_EQUAL(svc(st, "web")->strategy, SL_STRAT_STEADY);
	CU_ASSERT_EQUAL(st->out->services[0].champion, TC_G_GREEN);
	CU_ASSERT_EQUAL(st->gen, 5);

	/* abort --reset: share 0, steady, flows re-decided */
	CU_ASSERT_EQUAL(sl_plan_rollout(st, t, SL_CMD_ROLLOUT_START, "dns", &r, 9000, &e), 1);
	commit(st, "rollout_start", NULL);
	r.reset = 1;
	CU_ASSERT_EQUAL(sl_plan_rollout(st, t, SL_CMD_ROLLOUT_ABORT, NULL, &r, 9100, &e), 1);
	commit(st, "rollout_abort", NULL);
	CU_ASSERT_EQUAL(st->svc[1].ro.state, SL_RO_ABORTED);
	CU_ASSERT_EQUAL(svc(st, "dns")->share_bp, 0);
	CU_ASSERT_EQUAL(svc(st, "dns")->strategy, SL_STRAT_STEADY);
	CU_ASSERT_EQUAL(svc(st, "dns")->reset, 1);
	CU_ASSERT_EQUAL(st->out->services[1].reset_gen, st->gen);
	sl_state_free(st);
}

/* Synthetic stats: per second, blue gets b and green g new flows for web,
 * split over two workers. */
static void add_flows(struct sl_counters *w, uint64_t b, uint64_t g)
{
	w[0].grp[TC_S_WEB][TC_G_BLUE].flows += b / 2;
	w[1].grp[TC_S_WEB][TC_G_BLUE].flows += b - b / 2;
	w[1].grp[TC_S_WEB][TC_G_GREEN].flows += g;
}

static void test_measured_share(void)
{
	struct sl_state *st = fresh(500);
	struct sl_counters *w = calloc(2, sizeof(*w));
	struct sl_measure m;
	struct sl_sentences s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	sl_state_measure(st, TC_S_WEB, &m);
	CU_ASSERT_EQUAL(m.measured, 0);
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.live_share, "Live on the challenger: 5.00 % of new flows "
			       "(nothing measured yet: no dataplane attached).");
	w[0].grp[TC_S_WEB][TC_G_GREEN].active = 3;
	w[1].grp[TC_S_WEB][TC_G_GREEN].active = 4;
	w[1].grp[TC_S_WEB][TC_G_BLUE].active = 10;
	for (int i = 0; i <= 15; i++) {
		/* 5 % at first, 2 % in the last 10 s */
		if (i <= 5)
			add_flows(w, 950, 50);
		else
			add_flows(w, 980, 20);
		sl_state_sample(st, w, 2, 100000 + (uint64_t)i * 1000);
		if (i == 0) {
			sl_state_sentences(st, TC_S_WEB, &s);
			CU_ASSERT_STRING_EQUAL(s.live_share, "Live on the challenger: 5.00 % of new "
					       "flows (nothing measured yet: the dataplane "
					       "attached less than 2 s ago).");
		}
		if (i == 3) {
			sl_state_measure(st, TC_S_WEB, &m);
			CU_ASSERT_EQUAL(m.interval_s, 3);
			CU_ASSERT_EQUAL(m.challenger_flows, 150);
			CU_ASSERT_EQUAL(m.share_bp, 500);
		}
	}
	sl_state_measure(st, TC_S_WEB, &m);
	CU_ASSERT_EQUAL(m.measured, 1);
	CU_ASSERT_EQUAL(m.interval_s, 10);
	CU_ASSERT_EQUAL(m.champion_flows, 9800);
	CU_ASSERT_EQUAL(m.challenger_flows, 200);
	CU_ASSERT_EQUAL(m.total_flows, 10000);
	CU_ASSERT_EQUAL(m.share_bp, 200);
	CU_ASSERT_EQUAL(m.challenger_active, 7);
	CU_ASSERT_EQUAL(m.champion_active, 10);
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.live_share, "Live on the challenger: 5.00 % of new flows "
			       "(measured 2.00 % over the last 10 s).");
	/* another service saw nothing */
	sl_state_sentences(st, TC_S_DNS, &s);
	CU_ASSERT_STRING_EQUAL(s.live_share, "Live on the challenger: 5.00 % of new flows "
			       "(no new flows in the last 10 s).");

	/* A counter went down: the dataplane restarted, the window too. */
	memset(w, 0, 2 * sizeof(*w));
	add_flows(w, 10, 10);
	sl_state_sample(st, w, 2, 200000);
	sl_state_measure(st, TC_S_WEB, &m);
	CU_ASSERT_EQUAL(m.measured, 0);
	CU_ASSERT_EQUAL(st->nsamples, 1);
	add_flows(w, 30, 10);
	sl_state_sample(st, w, 2, 201000);
	sl_state_measure(st, TC_S_WEB, &m);
	CU_ASSERT_EQUAL(m.measured, 1);
	CU_ASSERT_EQUAL(m.interval_s, 1);
	CU_ASSERT_EQUAL(m.challenger_flows, 10);
	CU_ASSERT_EQUAL(m.total_flows, 40);
	CU_ASSERT_EQUAL(m.share_bp, 2500);

	/* the dataplane went away */
	sl_state_sample(st, w, 0, 202000);
	sl_state_measure(st, TC_S_WEB, &m);
	CU_ASSERT_EQUAL(m.measured, 0);
	CU_ASSERT_EQUAL(m.challenger_active, 0);
	free(w);
	sl_state_free(st);
}

static void test_sentences(void)
{
	struct sl_state *st = fresh(0);
	struct sl_counters *w = calloc(1, sizeof(*w));
	struct sl_txn *t = txn();
	struct sl_sentences s;
	struct sl_req r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	/* steady, nothing done yet */
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: no, green "
			       "receives no new flows (0 established green flows remain).");
	CU_ASSERT_STRING_EQUAL(s.live_share, "Live on the challenger: 0.00 % of new flows "
			       "(nothing measured yet: no dataplane attached).");
	CU_ASSERT_STRING_EQUAL(s.rollback, "Rollback: nothing to roll back; nothing to undo.");

	/* canary, one established green flow */
	w->grp[TC_S_WEB][TC_G_GREEN].active = 1;
	sl_state_sample(st, w, 1, 1000);
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web", 5, 0, &e), 1);
	commit(st, "canary", NULL);
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: yes, green "
			       "serves 0.05 % of new flows.");
	CU_ASSERT_STRING_EQUAL(s.rollback, "Rollback: abort sends 100 % of new flows to blue at "
			       "once; 1 established green flow keeps its backend until it ends "
			       "(sticky; with --reset they are re-decided at once).");

	/* back to 0 %: steady, with something to undo */
	w->grp[TC_S_WEB][TC_G_GREEN].active = 640;
	sl_state_sample(st, w, 1, 2000);
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web", 0, 0, &e), 1);
	commit(st, "canary", NULL);
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: no, green "
			       "receives no new flows (640 established green flows remain).");
	CU_ASSERT_STRING_EQUAL(s.rollback, "Rollback: nothing to roll back; undo restores "
			       "generation 2 (share 0.05 %).");

	/* blue-green */
	CU_ASSERT_EQUAL(sl_plan_switch(st, t, "web", "green", 0, &e), 1);
	commit(st, "switch", NULL);
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: no, blue "
			       "receives no new flows (0 established blue flows remain).");
	CU_ASSERT_STRING_EQUAL(s.rollback, "Rollback: `switch web blue` moves 100 % of new flows "
			       "back to blue at once; blue is still configured.");

	/* rollout */
	memset(&r, 0, sizeof(r));
	r.nsteps = 1;
	r.steps[0] = (struct sl_ro_step){ .share_bp = 2000, .dwell_ms = 60000 };
	CU_ASSERT_EQUAL(sl_plan_rollout(st, t, SL_CMD_ROLLOUT_START, "dns", &r, 1000, &e), 1);
	commit(st, "rollout_start", NULL);
	w->grp[TC_S_DNS][TC_G_GREEN].active = 12;
	sl_state_sample(st, w, 1, 3000);
	sl_state_sentences(st, TC_S_DNS, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: yes, green "
			       "serves 20.00 % of new flows.");
	CU_ASSERT_STRING_EQUAL(s.live_share, "Live on the challenger: 20.00 % of new flows "
			       "(no new flows in the last 2 s).");
	CU_ASSERT_STRING_EQUAL(s.rollback, "Rollback: abort sends 100 % of new flows to blue at "
			       "once; 12 established green flows keep their backend until they end "
			       "(sticky; with --reset they are re-decided at once).");
	free(w);
	sl_state_free(st);
}

static void test_status_json(void)
{
	struct sl_state *st = fresh(500);
	json_t *o = sl_state_status_json(st, TC_S_WEB, 0);
	char *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	s = json_dumps(o, JSON_COMPACT);
	CU_ASSERT_STRING_EQUAL(s, "{\"state\":{\"name\":\"web\",\"champion\":\"blue\","
			       "\"challenger\":\"green\",\"share_bp\":500,\"strategy\":\"canary\","
			       "\"mode\":\"sticky\"},\"gen\":1,\"configured_share_bp\":500,"
			       "\"measured_share_bp\":null,\"interval_s\":0,\"new_flows\":{},"
			       "\"active_flows\":{\"blue\":0,\"green\":0},\"rollout\":null,"
			       "\"sentences\":{\"challenger_output\":\"Challenger output reaches "
			       "users: yes, green serves 5.00 % of new flows.\",\"live_share\":"
			       "\"Live on the challenger: 5.00 % of new flows (nothing measured yet: "
			       "no dataplane attached).\",\"rollback\":\"Rollback: abort sends 100 % "
			       "of new flows to blue at once; 0 established green flows keep their "
			       "backend until they end (sticky; with --reset they are re-decided at "
			       "once).\"}}");
	free(s);
	json_decref(o);
	sl_state_free(st);
}

static void test_structure_diff(void)
{
	struct sl_state *a = fresh(0), *b;
	struct sl_config *c = tc_config(0);
	char what[256];

	c->groups[1].macs[2][5] = 9;
	b = sl_state_new();
	CU_ASSERT_EQUAL_FATAL(sl_state_from_config(b, c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sl_state_structure_diff(a->base, a->base_groups, a->base, a->base_groups,
						what, sizeof(what)), 0);
	CU_ASSERT_EQUAL(sl_state_structure_diff(a->base, a->base_groups, b->base, b->base_groups,
						what, sizeof(what)), 1);
	CU_ASSERT_STRING_EQUAL(what, "group green: other members");
	/* the split is not structure */
	free(c);
	c = tc_config(1234);
	sl_state_free(b);
	b = sl_state_new();
	CU_ASSERT_EQUAL_FATAL(sl_state_from_config(b, c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sl_state_structure_diff(a->base, a->base_groups, b->base, b->base_groups,
						what, sizeof(what)), 0);
	c->services[2].ranges[0].hi = 444;
	sl_state_free(b);
	b = sl_state_new();
	CU_ASSERT_EQUAL_FATAL(sl_state_from_config(b, c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sl_state_structure_diff(a->base, a->base_groups, b->base, b->base_groups,
						what, sizeof(what)), 1);
	CU_ASSERT_STRING_EQUAL(what, "service web6: other proto, vip or ports");
	free(c);
	sl_state_free(a);
	sl_state_free(b);
}

/* ---- shadow rules ---- */

/* A shadow_add request, as sluiced has it from the protocol. */
static struct sl_req rule(const char *name, const char *service, uint16_t bp,
			  const char *filter)
{
	struct sl_req r;

	memset(&r, 0, sizeof(r));
	r.cmd = SL_CMD_SHADOW_ADD;
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.service, sizeof(r.service), "%s", service);
	snprintf(r.port, sizeof(r.port), "shadow");
	r.sample_bp = bp;
	snprintf(r.filter, sizeof(r.filter), "%s", filter);
	return r;
}

static void test_shadow_rules(void)
{
	struct sl_state *st = fresh(0), *again = sl_state_new();
	struct sl_config *c = tc_config(0);
	struct sl_txn *t = txn();
	struct sl_req a = rule("a", "web", 1000, "tcp dst port 443");
	struct sl_req b = rule("b", "dns", 10000, ""), x;
	json_t *journal = json_array(), *entry;
	char note[512], name[8];
	size_t i;

	CU_ASSERT_FATAL(again && journal);
	sl_plan_snapshot(st, t, 0, 1);
	json_array_append_new(journal, sl_txn_journal(st, t, "init", json_string("daemon"), 0));

	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &a, &e), 1);
	CU_ASSERT_EQUAL(t->gen, 2);
	CU_ASSERT_EQUAL(t->publish, 1);
	CU_ASSERT_EQUAL(t->shadow_slot, 0);
	CU_ASSERT_STRING_EQUAL(t->reason, "shadow add a: 10.00 % of web's flows matching 'tcp dst "
			       "port 443' -> port shadow");
	commit(st, "shadow_add", journal);                         /* gen 2 */
	CU_ASSERT_EQUAL(st->gen, 2);
	CU_ASSERT_EQUAL(st->shadow_gen, 2);
	CU_ASSERT_EQUAL(st->out->shadow_gen, 2);
	CU_ASSERT_EQUAL(st->out->nshadows, 1);
	CU_ASSERT_STRING_EQUAL(st->out->shadows[0].name, "a");
	CU_ASSERT_EQUAL(st->out->shadows[0].service, TC_S_WEB);
	CU_ASSERT_EQUAL(st->out->shadows[0].port, TC_SHADOW);
	CU_ASSERT_EQUAL(st->out->shadows[0].sample_bp, 1000);
	CU_ASSERT_STRING_EQUAL(st->out->shadows[0].filter, "tcp dst port 443");
	CU_ASSERT_EQUAL(st->out->shadows[0].seed, sl_shadow_seed(st->out->seed_flow, "a"));
	CU_ASSERT_EQUAL(st->out->services[TC_S_WEB].shadow_mask, 1);
	entry = json_array_get(journal, 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(entry, "service")), "web");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(entry, "shadow_gen")), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(entry, "shadow"),
								 "filter")), "tcp dst port 443");

	/* the same rule again changes nothing; another under that name is refused */
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &a, &e), 0);
	CU_ASSERT_EQUAL(t->shadow_slot, 0);
	x = a;
	x.sample_bp = 2000;
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_STATE);
	CU_ASSERT_STRING_EQUAL(e.message, "shadow rule a exists with another definition (10.00 % "
			       "of web's flows matching 'tcp dst port 443' -> port shadow); remove "
			       "it first (shadow remove a)");
	x = rule("x", "www", 100, "");
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_UNKNOWN_SERVICE);
	CU_ASSERT_STRING_EQUAL(e.message, "no service 'www' (services: web, dns, web6)");
	x = rule("x", "web", 100, "");
	snprintf(x.port, sizeof(x.port), "blue");
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_PORT);
	CU_ASSERT_STRING_EQUAL(e.field, "port");
	CU_ASSERT_STRING_EQUAL(e.message, "port 'blue' has role backend, not shadow (shadow "
			       "ports: shadow)");
	snprintf(x.port, sizeof(x.port), "mirror");
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.message, "no port 'mirror' in the configuration (shadow ports: "
			       "shadow)");
	x = rule("Web.1", "web", 100, "");
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_REQUEST);
	CU_ASSERT_STRING_EQUAL(e.message, "name 'Web.1' is not a valid shadow rule name "
			       "(expected 1..31 characters a-z, 0-9, _ or -)");
	/* names as sent (the protocol takes up to 127 characters): one too long
	 * for a rule is refused or unknown, never cut to 31 */
	x = rule("shadow-rule-with-a-name-of-40-chars-long", "web", 100, "");
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_REQUEST);
	CU_ASSERT_STRING_EQUAL(e.field, "name");
	CU_ASSERT_STRING_EQUAL(e.message, "name 'shadow-rule-with-a-name-of-40-chars-long' is not "
			       "a valid shadow rule name (expected 1..31 characters a-z, 0-9, _ "
			       "or -)");
	x = rule("x", "web-service-with-a-name-of-40-chars-long", 100, "");
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_UNKNOWN_SERVICE);
	CU_ASSERT_STRING_EQUAL(e.message, "no service 'web-service-with-a-name-of-40-chars-long' "
			       "(services: web, dns, web6)");
	x = rule("x", "web", 100, "");
	snprintf(x.port, sizeof(x.port), "shadow-port-with-a-name-of-40-chars-long");
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_PORT);
	CU_ASSERT_STRING_EQUAL(e.message, "no port 'shadow-port-with-a-name-of-40-chars-long' in the "
			       "configuration (shadow ports: shadow)");

	b.has_mac = 1;
	b.mac[0] = 2;
	b.mac[5] = 0x42;
	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &b, &e), 1);
	commit(st, "shadow_add", journal);                         /* gen 3 */
	CU_ASSERT_EQUAL(st->out->nshadows, 2);
	CU_ASSERT_EQUAL(st->out->services[TC_S_DNS].shadow_mask, 2);
	CU_ASSERT_EQUAL(st->out->shadows[1].has_mac, 1);
	CU_ASSERT_EQUAL(st->out->shadows[1].mac[5], 0x42);

	/* other changes keep the rule set and its generation */
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web6", 500, 0, &e), 1);
	commit(st, "canary", journal);                             /* gen 4 */
	CU_ASSERT_EQUAL(st->out->gen, 4);
	CU_ASSERT_EQUAL(st->out->shadow_gen, 3);
	CU_ASSERT_EQUAL(st->out->nshadows, 2);
	CU_ASSERT_EQUAL(st->out->services[TC_S_WEB].shadow_mask, 1);

	/* removing a frees its slot; the next rule takes it */
	CU_ASSERT_EQUAL(sl_plan_shadow_remove(st, t, "zz", &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_UNKNOWN_SHADOW);
	CU_ASSERT_STRING_EQUAL(e.message, "no shadow rule 'zz' (shadow rules: a, b)");
	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_remove(st, t, "a", &e), 1);
	CU_ASSERT_STRING_EQUAL(t->reason, "shadow remove a (was: 10.00 % of web's flows matching "
			       "'tcp dst port 443' -> port shadow)");
	commit(st, "shadow_remove", journal);                      /* gen 5 */
	CU_ASSERT_EQUAL(st->out->shadow_gen, 5);
	CU_ASSERT_EQUAL(st->out->nshadows, 2);
	CU_ASSERT_STRING_EQUAL(st->out->shadows[0].name, "");
	CU_ASSERT_EQUAL(st->out->services[TC_S_WEB].shadow_mask, 0);
	CU_ASSERT_EQUAL(sl_state_shadow(st, "a"), -1);
	CU_ASSERT_EQUAL(sl_state_shadow(st, "b"), 1);
	x = rule("c", "web", 5000, "");
	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &x, &e), 1);
	CU_ASSERT_EQUAL(t->shadow_slot, 0);
	commit(st, "shadow_add", journal);                         /* gen 6 */

	/* the journal gives the same rules back, and the table agrees */
	json_array_foreach(journal, i, entry)
		CU_ASSERT_EQUAL_FATAL(sl_state_replay(again, entry, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(again->shadows_replayed, 1);
	CU_ASSERT_EQUAL(again->shadow_gen, 6);
	CU_ASSERT_EQUAL_FATAL(sl_state_adopt(again, st->out, st->out_groups, SL_ADOPT_CHECK, note,
					     sizeof(note), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(note, "");
	CU_ASSERT_EQUAL(again->shadows.n, 2);
	CU_ASSERT_EQUAL(memcmp(&again->shadows, &st->shadows, sizeof(st->shadows)), 0);
	/* a journal ahead of the table (J = P + 1) keeps its rules */
	json_array_foreach(journal, i, entry)
		CU_ASSERT_EQUAL_FATAL(sl_state_replay(again, entry, err, sizeof(err)), 0);
	st->out->nshadows = 0;
	CU_ASSERT_EQUAL_FATAL(sl_state_adopt(again, st->out, st->out_groups, SL_ADOPT_JOURNAL,
					     note, sizeof(note), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(memcmp(&again->shadows, &st->shadows, sizeof(st->shadows)), 0);
	/* the table wins over a journal that disagrees (J = P), and says so */
	CU_ASSERT_EQUAL_FATAL(sl_state_adopt(again, st->out, st->out_groups, SL_ADOPT_CHECK, note,
					     sizeof(note), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(note, "the journal's shadow rules differ from the table's (the "
			       "table's kept)");
	CU_ASSERT_EQUAL(again->shadows.n, 0);

	/* sixteen rules at most */
	for (int k = 0; k < SL_MAX_SHADOWS - 2; k++) {
		snprintf(name, sizeof(name), "r%d", k);
		x = rule(name, "web6", 100, "");
		CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &x, &e), 1);
		commit(st, "shadow_add", NULL);
	}
	CU_ASSERT_EQUAL(st->out->nshadows, SL_MAX_SHADOWS);
	CU_ASSERT_EQUAL(st->out->services[TC_S_WEB6].shadow_mask, 0xfffc);
	x = rule("one-more", "web", 100, "");
	CU_ASSERT_EQUAL(sl_plan_shadow_add(st, t, c, &x, &e), -1);
	CU_ASSERT_EQUAL(e.code, SL_E_BAD_STATE);
	CU_ASSERT_STRING_EQUAL(e.message, "16 shadow rules already (c, b, r0, r1, r2, r3, r4, r5, "
			       "r6, r7, r8, r9, r10, r11, r12, r13), the most a table holds: "
			       "remove one first");
	json_decref(journal);
	sl_state_free(again);
	sl_state_free(st);
	free(c);
}

/* reload applies the file's rules: a rule keeps its slot by name. */
static void test_shadow_reload(void)
{
	struct sl_state *st = fresh(0);
	struct sl_config *c = tc_config(0), *n = tc_config(0);
	struct sl_txn *t = txn();
	struct sl_req a = rule("a", "web", 1000, ""), b = rule("b", "dns", 500, "udp");
	struct sl_cfg_shadow *r;

	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &a, &e), 1);
	commit(st, "shadow_add", NULL);                            /* gen 2 */
	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &b, &e), 1);
	commit(st, "shadow_add", NULL);                            /* gen 3 */
	/* the file has b (as it is) and a new rule d, no a */
	r = &n->shadows[n->nshadows++];
	snprintf(r->name, sizeof(r->name), "d");
	r->service = TC_S_WEB6;
	r->port = TC_SHADOW;
	r->sample_bp = 10000;
	r = &n->shadows[n->nshadows++];
	snprintf(r->name, sizeof(r->name), "b");
	r->service = TC_S_DNS;
	r->port = TC_SHADOW;
	r->sample_bp = 500;
	snprintf(r->filter, sizeof(r->filter), "udp");
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, c, &e), 1);
	CU_ASSERT_EQUAL(t->shadow_changed, 1);
	CU_ASSERT_STRING_EQUAL(t->reason, "reload test.ini: other shadow rules");
	commit(st, "reload", NULL);                                /* gen 4 */
	CU_ASSERT_EQUAL(st->shadow_gen, 4);
	CU_ASSERT_STRING_EQUAL(st->out->shadows[0].name, "d");
	CU_ASSERT_EQUAL(st->out->shadows[0].service, TC_S_WEB6);
	CU_ASSERT_STRING_EQUAL(st->out->shadows[1].name, "b");
	CU_ASSERT_EQUAL(st->out->services[TC_S_WEB].shadow_mask, 0);
	CU_ASSERT_EQUAL(st->out->services[TC_S_WEB6].shadow_mask, 1);
	CU_ASSERT_EQUAL(st->out->services[TC_S_DNS].shadow_mask, 2);
	/* the same file again: nothing to do */
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, n, &e), 0);
	/* a rule added at run time keeps its slot when the file takes it up */
	a = rule("e", "web", 100, "");
	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &a, &e), 1);
	CU_ASSERT_EQUAL(t->shadow_slot, 2);
	commit(st, "shadow_add", NULL);                            /* gen 5 */
	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_remove(st, t, "b", &e), 1);
	commit(st, "shadow_remove", NULL);                         /* gen 6 */
	r = &n->shadows[1]; /* the file: d, then e where b was */
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "e");
	r->service = TC_S_WEB;
	r->port = TC_SHADOW;
	r->sample_bp = 100;
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, c, &e), 0);
	snprintf(r->filter, sizeof(r->filter), "tcp");
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, c, &e), 1);
	commit(st, "reload", NULL);                                /* gen 7 */
	CU_ASSERT_EQUAL(st->out->nshadows, 3);
	CU_ASSERT_STRING_EQUAL(st->out->shadows[0].name, "d");
	CU_ASSERT_STRING_EQUAL(st->out->shadows[1].name, "");
	CU_ASSERT_STRING_EQUAL(st->out->shadows[2].name, "e");
	CU_ASSERT_STRING_EQUAL(st->out->shadows[2].filter, "tcp");
	free(c);
	free(n);
	sl_state_free(st);
}

/* Slices through a reload: their service index follows the stable layout
 * (the file lists web last), other slices are a new rule set (shadow_gen:
 * their filters are compiled with the shadow rules'). */
static void test_slice_reload(void)
{
	struct sl_state *st = fresh(0);
	struct sl_config *c = tc_config(0), *n = tc_config(0);
	struct sl_cfg_service sv[SL_MAX_SERVICES];
	struct sl_cfg_slice *sl;
	struct sl_txn *t = txn();

	memcpy(sv, n->services, sizeof(sv));
	n->services[0] = sv[TC_S_WEB6];
	n->services[1] = sv[TC_S_DNS];
	n->services[2] = sv[TC_S_WEB];
	sl = &n->slices[n->nslices++];
	snprintf(sl->name, sizeof(sl->name), "billing");
	sl->service = 2; /* web, in the file's order */
	snprintf(sl->filter, sizeof(sl->filter), "tcp dst port 443");
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, c, &e), 1);
	CU_ASSERT_EQUAL(t->shadow_changed, 1);
	CU_ASSERT_STRING_EQUAL(t->reason, "reload test.ini: other slices");
	commit(st, "reload", NULL);                                /* gen 2 */
	CU_ASSERT_EQUAL(st->shadow_gen, 2);
	CU_ASSERT_EQUAL(st->out->shadow_gen, 2);
	CU_ASSERT_EQUAL(st->out->nslices, 1);
	CU_ASSERT_STRING_EQUAL(st->out->slices[0].name, "billing");
	CU_ASSERT_EQUAL(st->out->slices[0].service, TC_S_WEB);
	CU_ASSERT_STRING_EQUAL(st->out->services[st->out->slices[0].service].name, "web");
	CU_ASSERT_STRING_EQUAL(st->out->slices[0].filter, "tcp dst port 443");
	/* the same file again: nothing to do */
	CU_ASSERT_EQUAL(sl_plan_reload(st, t, n, n, &e), 0);
	/* the slice's filter changes */
	snprintf(sl->filter, sizeof(sl->filter), "tcp");
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, n, &e), 1);
	commit(st, "reload", NULL);                                /* gen 3 */
	CU_ASSERT_EQUAL(st->out->shadow_gen, 3);
	CU_ASSERT_STRING_EQUAL(st->out->slices[0].filter, "tcp");
	/* a second slice of web, then the first removed: the second keeps its
	 * slot (counters) and its bit (live flows' masks) */
	sl = &n->slices[n->nslices++];
	snprintf(sl->name, sizeof(sl->name), "gold");
	sl->service = 2;
	snprintf(sl->filter, sizeof(sl->filter), "tcp dst port 8443");
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, n, &e), 1);
	commit(st, "reload", NULL);                                /* gen 4 */
	CU_ASSERT_STRING_EQUAL(st->out->slices[1].name, "gold");
	CU_ASSERT_EQUAL(st->out->slices[1].bit, 1);
	n->slices[0] = n->slices[1];
	n->nslices = 1;
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, n, &e), 1);
	commit(st, "reload", NULL);                                /* gen 5 */
	CU_ASSERT_EQUAL(st->out->nslices, 2);
	CU_ASSERT_STRING_EQUAL(st->out->slices[0].name, "");
	CU_ASSERT_STRING_EQUAL(st->out->slices[1].name, "gold");
	CU_ASSERT_EQUAL(st->out->slices[1].bit, 1);
	/* a new slice takes the free slot and the free bit */
	sl = &n->slices[n->nslices++];
	snprintf(sl->name, sizeof(sl->name), "silver");
	sl->service = 2;
	snprintf(sl->filter, sizeof(sl->filter), "udp");
	CU_ASSERT_EQUAL_FATAL(sl_plan_reload(st, t, n, n, &e), 1);
	commit(st, "reload", NULL);                                /* gen 6 */
	CU_ASSERT_STRING_EQUAL(st->out->slices[0].name, "silver");
	CU_ASSERT_EQUAL(st->out->slices[0].bit, 0);
	CU_ASSERT_EQUAL(st->out->slices[1].bit, 1);
	free(c);
	free(n);
	sl_state_free(st);
}

/* A shadow phase: share 0 with rules; the status says where copies go. */
static void test_shadow_sentences(void)
{
	struct sl_state *st = fresh(0);
	struct sl_config *c = tc_config(0);
	struct sl_txn *t = txn();
	struct sl_req a = rule("web-443", "web", 1000, "tcp dst port 443");
	struct sl_req b = rule("all", "web", 50, "");
	struct sl_sentences s;
	json_t *o;

	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &a, &e), 1);
	commit(st, "shadow_add", NULL);
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: no; the "
			       "shadow port receives copies of 10.00 % of web's flows matching "
			       "'tcp dst port 443' (rule web-443); its output never reaches a "
			       "user.");
	/* dns has no rule: the usual sentence */
	sl_state_sentences(st, TC_S_DNS, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: no, green "
			       "receives no new flows (0 established green flows remain).");
	CU_ASSERT_EQUAL_FATAL(sl_plan_shadow_add(st, t, c, &b, &e), 1);
	commit(st, "shadow_add", NULL);
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: no; the "
			       "shadow port receives copies of 10.00 % of web's flows matching "
			       "'tcp dst port 443' (rule web-443) and of 0.50 % of web's flows "
			       "(rule all); its output never reaches a user.");
	o = sl_state_status_json(st, TC_S_WEB, 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(o, "shadows")), 2);
	json_decref(o);
	o = sl_state_status_json(st, TC_S_DNS, 0);
	CU_ASSERT_PTR_NULL(json_object_get(o, "shadows"));
	json_decref(o);
	/* a canary: challenger output reaches users again */
	CU_ASSERT_EQUAL(sl_plan_canary(st, t, "web", 100, 0, &e), 1);
	commit(st, "canary", NULL);
	sl_state_sentences(st, TC_S_WEB, &s);
	CU_ASSERT_STRING_EQUAL(s.challenger_output, "Challenger output reaches users: yes, green "
			       "serves 1.00 % of new flows.");
	free(c);
	sl_state_free(st);
}

/* Journal lines of shadow changes are checked like the others. */
static void test_shadow_replay_errors(void)
{
	struct sl_state *st = sl_state_new();
	json_t *bad = json_pack("{s:I, s:s, s:[{s:s, s:i, s:s, s:s, s:i, s:s, s:n}]}", "gen",
				(json_int_t)4, "cmd", "shadow_add", "shadows", "name", "a",
				"index", 16, "service", "web", "filter", "", "sample_bp", 100,
				"port", "shadow", "mac");

	CU_ASSERT_FATAL(st && bad);
	CU_ASSERT_EQUAL(sl_state_replay(st, bad, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "shadows: shadow rule a: \"index\" is not 0..15");
	json_object_set_new(json_array_get(json_object_get(bad, "shadows"), 0), "index",
			    json_integer(3));
	json_object_set_new(json_array_get(json_object_get(bad, "shadows"), 0), "mac",
			    json_string("nope"));
	CU_ASSERT_EQUAL(sl_state_replay(st, bad, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "shadows: shadow rule a: \"mac\" is not a MAC address");
	json_object_set_new(json_array_get(json_object_get(bad, "shadows"), 0), "mac",
			    json_null());
	CU_ASSERT_EQUAL(sl_state_replay(st, bad, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(st->shadows.n, 4);
	CU_ASSERT_STRING_EQUAL(st->shadows.r[3].name, "a");
	CU_ASSERT_EQUAL(st->shadow_gen, 4);
	json_decref(bad);
	sl_state_free(st);
}

void sl_test_register_state(void)
{
	CU_pSuite s = CU_add_suite("state", NULL, NULL);

	CU_add_test(s, "reload keeps indexes (reorder, add)", test_layout_stable);
	CU_add_test(s, "removed services leave their index empty", test_layout_removed);
	CU_add_test(s, "removed group: flows re-decided", test_group_removed);
	CU_add_test(s, "group left earlier, then removed", test_group_left_before);
	CU_add_test(s, "ports may not change", test_ports_refused);
	CU_add_test(s, "canary, weights, switch, refusals", test_changes);
	CU_add_test(s, "group of another service", test_group_of_other_service);
	CU_add_test(s, "undo stack, rebuilt from the journal", test_undo);
	CU_add_test(s, "journal entries checked", test_replay_errors);
	CU_add_test(s, "rollout verbs and timer", test_rollout);
	CU_add_test(s, "measured share, counter reset", test_measured_share);
	CU_add_test(s, "sentences of every strategy", test_sentences);
	CU_add_test(s, "status object", test_status_json);
	CU_add_test(s, "structure differences", test_structure_diff);
	CU_add_test(s, "shadow rules: add, remove, slots, journal", test_shadow_rules);
	CU_add_test(s, "shadow rules from a reload keep their slots", test_shadow_reload);
	CU_add_test(s, "slices through a reload", test_slice_reload);
	CU_add_test(s, "shadow phase sentences", test_shadow_sentences);
	CU_add_test(s, "shadow journal lines checked", test_shadow_replay_errors);
}
