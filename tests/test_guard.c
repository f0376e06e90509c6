/* Guards (control/guard.c): definitions as JSON and back with the
 * configuration's messages, counts from the dataplane's evidence cells
 * (summed over workers, latency thresholds at bucket edges), pushes, the
 * window per step (restarted at a step change and when counters go down),
 * the verdicts, the gate at a dwell's end and the operator's sentence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "unit.h"

static struct sl_cfg_guard guard(const char *signal, const char *slice)
{
	struct sl_cfg_guard g;
	char err[SL_ERR_LEN];
	json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "name", "g1", "service", "web", "signal",
			      signal, "min_flows", 100);

	if (slice)
		json_object_set_new(o, "slice", json_string(slice));
	if (!strcmp(signal, "ttfb") || !strcmp(signal, "synack"))
		json_object_set_new(o, "threshold", json_string("200ms"));
	memset(&g, 0, sizeof(g));
	CU_ASSERT_EQUAL_FATAL(sl_guard_def_from_json(&g, o, "t", err, sizeof(err)), 0);
	json_decref(o);
	return g;
}

static void test_def_json(void)
{
	struct sl_cfg_guard g, back;
	char err[SL_ERR_LEN];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name",
			      "billing-errors", "service", "web", "slice", "billing", "signal",
			      "pushed:http-errors", "min_flows", "5000", "margin", "0.5pp",
			      "alpha", "1%", "on_fail", "pause", "on_inconclusive", "hold",
			      "reset", "no", "rollouts", "named");
	json_t *j;

	CU_ASSERT_EQUAL_FATAL(sl_guard_def_from_json(&g, o, "x", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(g.signal, SL_SIG_PUSHED);
	CU_ASSERT_STRING_EQUAL(g.pushed, "http-errors");
	CU_ASSERT_EQUAL(g.min_flows, 5000);
	CU_ASSERT_DOUBLE_EQUAL(g.margin, 0.005, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(g.alpha, 0.01, 1e-15);
	CU_ASSERT_EQUAL(g.on_fail, SL_GUARD_PAUSE);
	CU_ASSERT_EQUAL(g.on_inconclusive, SL_GUARD_INC_HOLD);
	json_decref(o);
	/* and back: the same guard, field for field */
	j = sl_guard_def_json(&g);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "margin")), "0.5pp");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "alpha")), "0.01");
	CU_ASSERT_EQUAL_FATAL(sl_guard_def_from_json(&back, j, "x", err, sizeof(err)), 0);
	back.named = g.named; /* rollouts is the configuration's business */
	CU_ASSERT_EQUAL(memcmp(&g, &back, sizeof(g)), 0);
	json_decref(j);
	/* a threshold survives in microseconds */
	g = guard("ttfb", NULL);
	CU_ASSERT_EQUAL(g.threshold_us, 200000);
	j = sl_guard_def_json(&g);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "threshold")), "200000us");
	CU_ASSERT_EQUAL(sl_guard_def_from_json(&back, j, "x", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(back.threshold_us, 200000);
	json_decref(j);
}

static void test_def_errors(void)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "[]", "guard_defs[0]: expected a guard object" },
		{ "{\"service\": \"web\"}", "guard_defs[0]: name: missing" },
		{ "{\"name\": \"g\", \"service\": \"web\", \"signal\": \"rst\", \"colour\": \"red\"}",
		  "guard_defs[0]: unknown key 'colour'" },
		{ "{\"name\": \"g\", \"service\": \"web\", \"signal\": 7}",
		  "guard_defs[0]: signal: expected a string" },
		{ "{\"name\": \"g\", \"service\": \"web\", \"signal\": \"rst\", \"alpha\": \"0.7\"}",
		  "guard_defs[0] (guard g) alpha: '0.7' is outside" },
		{ "{\"name\": \"g\", \"service\": \"web\", \"signal\": \"ttfb\"}",
		  "guard_defs[0] (guard g) threshold: missing" },
		{ "{\"name\": \"g\", \"service\": \"web\", \"signal\": \"loss\"}",
		  "guard_defs[0] (guard g) signal: 'loss' is not a signal" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *o = json_loads(cases[i].json, 0, NULL);
		struct sl_cfg_guard g;
		char err[SL_ERR_LEN] = "";

		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_EQUAL(sl_guard_def_from_json(&g, o, "guard_defs[0]", err, sizeof(err)),
				-1);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)))
			printf("\n  got:  %s\n  want: %s...\n", err, cases[i].want);
		CU_ASSERT_EQUAL(strncmp(err, cases[i].want, strlen(cases[i].want)), 0);
		json_decref(o);
	}
}

/* A table with service web at index 1 and slice billing at slot 3. */
static struct sl_table_hdr *table(void)
{
	struct sl_table_hdr *h = calloc(1, sizeof(*h));

	h->nservices = 2;
	snprintf(h->services[0].name, sizeof(h->services[0].name), "dns");
	snprintf(h->services[1].name, sizeof(h->services[1].name), "web");
	h->nslices = 4;
	snprintf(h->slices[3].name, sizeof(h->slices[3].name), "billing");
	h->slices[3].service = 1;
	snprintf(h->slices[1].name, sizeof(h->slices[1].name), "billing");
	h->slices[1].service = 0; /* dns's billing: not web's */
	return h;
}

static void test_read_cells(void)
{
	struct sl_counters *w = calloc(2, sizeof(*w));
	struct sl_table_hdr *h = table();
	struct sl_guard_counts c;
	struct sl_guard_src src;
	struct sl_cfg_guard g;
	unsigned k;

	/* two workers: counts add up */
	for (int i = 0; i < 2; i++) {
		struct sl_ev_cell *a = &w[i].ev.svc[1][SL_EV_CHAMPION];
		struct sl_ev_cell *b = &w[i].ev.svc[1][SL_EV_CHALLENGER];

		a->flows = 1000;
		a->rst = 10;
		a->hs_ok = 900;
		a->hs_fail = 5;
		a->ttfb_flows = 800;
		a->ttfb_us[sl_hist_bucket(150000)] = 790;
		a->ttfb_us[sl_hist_bucket(250000)] = 10;
		b->flows = 100;
		b->rst = 7;
		b->ttfb_flows = 50;
		b->ttfb_us[sl_hist_bucket(199000)] = 30; /* below 200 ms, same bucket */
		b->ttfb_us[sl_hist_bucket(400000)] = 20;
		w[i].ev.slice[3][SL_EV_CHALLENGER].flows = 40;
		w[i].ev.slice[3][SL_EV_CHALLENGER].icmp = 4;
	}
	g = guard("rst", NULL);
	sl_guard_resolve(&g, h, &src);
	CU_ASSERT_EQUAL(src.svc, 1);
	CU_ASSERT_EQUAL(src.slot, -1);
	sl_guard_read(&g, &src, w, 2, NULL, &c);
	CU_ASSERT_EQUAL(c.n[0], 2000);
	CU_ASSERT_EQUAL(c.x[0], 20);
	CU_ASSERT_EQUAL(c.n[1], 200);
	CU_ASSERT_EQUAL(c.x[1], 14);
	/* one worker only */
	sl_guard_read(&g, &src, w, 1, NULL, &c);
	CU_ASSERT_EQUAL(c.n[0], 1000);
	g = guard("handshake", NULL);
	sl_guard_read(&g, &src, w, 2, NULL, &c);
	CU_ASSERT_EQUAL(c.n[0], 1810);
	CU_ASSERT_EQUAL(c.x[0], 10);
	/* TTFB above 200 ms: 200 ms is inside a bucket, so that bucket is not
	 * bad (199 ms is there); 250 ms and 400 ms are */
	k = sl_guard_bad_bucket(200000);
	CU_ASSERT(sl_hist_edge(k) >= 200000);
	CU_ASSERT(sl_hist_edge(k - 1) < 200000);
	g = guard("ttfb", NULL);
	sl_guard_read(&g, &src, w, 2, NULL, &c);
	CU_ASSERT_EQUAL(c.n[0], 1600);
	CU_ASSERT_EQUAL(c.x[0], 20);
	CU_ASSERT_EQUAL(c.n[1], 100);
	CU_ASSERT_EQUAL(c.x[1], 40);
	/* a threshold on an edge: that bucket is bad */
	CU_ASSERT_EQUAL(sl_guard_bad_bucket((uint32_t)sl_hist_edge(70)), 70);
	/* the slice: web's billing at slot 3, not dns's at slot 1 */
	g = guard("icmp", "billing");
	sl_guard_resolve(&g, h, &src);
	CU_ASSERT_EQUAL(src.slot, 3);
	sl_guard_read(&g, &src, w, 2, NULL, &c);
	CU_ASSERT_EQUAL(c.n[1], 80);
	CU_ASSERT_EQUAL(c.x[1], 8);
	CU_ASSERT_EQUAL(c.n[0], 0);
	/* a slice not in the table: no counts, and why */
	g = guard("icmp", "gold");
	sl_guard_resolve(&g, h, &src);
	CU_ASSERT_EQUAL(src.slot, -1);
	CU_ASSERT_STRING_EQUAL(src.why, "slice gold of web is not in the table");
	sl_guard_read(&g, &src, w, 2, NULL, &c);
	CU_ASSERT_EQUAL(c.n[0] + c.n[1], 0);
	free(w);
	free(h);
}

static void test_pushed(void)
{
	struct sl_pushed *p = calloc(1, sizeof(*p));
	struct sl_cfg_guard g = guard("pushed:http-errors", "billing");
	struct sl_guard_src src = { .svc = 1, .slot = 3 };
	struct sl_guard_counts c;
	char err[SL_ERR_LEN];

	CU_ASSERT_PTR_NOT_NULL(sl_pushed_add(p, "web", "billing", "http-errors", 0, 95000, 1710, err,
				      sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(sl_pushed_add(p, "web", "billing", "http-errors", 1, 3000, 130, err,
				      sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(sl_pushed_add(p, "web", "billing", "http-errors", 1, 2000, 100, err,
				      sizeof(err)));
	/* the whole service's pushes are another count */
	CU_ASSERT_PTR_NOT_NULL(sl_pushed_add(p, "web", "", "http-errors", 1, 7, 7, err, sizeof(err)));
	CU_ASSERT_PTR_NULL(sl_pushed_add(p, "web", "", "http-errors", 1, 7, 8, err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "bad 8 > total 7");
	sl_guard_read(&g, &src, NULL, 0, p, &c);
	CU_ASSERT_EQUAL(c.n[0], 95000);
	CU_ASSERT_EQUAL(c.x[0], 1710);
	CU_ASSERT_EQUAL(c.n[1], 5000);
	CU_ASSERT_EQUAL(c.x[1], 230);
	CU_ASSERT_EQUAL(p->n, 2);
	for (unsigned i = 0; i < SL_MAX_PUSHED; i++) {
		char sig[16];

		snprintf(sig, sizeof(sig), "s%u", i);
		sl_pushed_add(p, "web", "", sig, 0, 1, 0, err, sizeof(err));
	}
	CU_ASSERT_EQUAL(p->n, SL_MAX_PUSHED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "pushed signals are kept already"));
	free(p);
}

static void rollout(struct sl_rollout *ro, const struct sl_cfg_guard *g, uint32_t n)
{
	memset(ro, 0, sizeof(*ro));
	ro->state = SL_RO_RUNNING;
	ro->nsteps = 3;
	ro->steps[0] = (struct sl_ro_step){ .share_bp = 500, .dwell_ms = 60000 };
	ro->steps[1] = (struct sl_ro_step){ .share_bp = 2000, .dwell_ms = 60000 };
	ro->steps[2] = (struct sl_ro_step){ .share_bp = 10000, .dwell_ms = 60000 };
	ro->started_ms = 1000;
	ro->step_started_ms = 1000;
	ro->dwell_left_ms = 60000;
	ro->nguards = n;
	memcpy(ro->guards, g, n * sizeof(*g));
}

/* The window per step, a restart when counters go down, the latched
 * failure, the gate, the sentence. */
static void test_board(void)
{
	struct sl_guard_board *b = calloc(1, sizeof(*b));
	struct sl_counters *w = calloc(1, sizeof(*w));
	struct sl_table_hdr *h = table();
	struct sl_ev_cell *a = &w->ev.svc[1][0], *c = &w->ev.svc[1][1];
	struct sl_cfg_guard g[2] = { guard("rst", NULL), guard("icmp", NULL) };
	struct sl_guard_look_svc out;
	struct sl_rollout ro;
	char why[512], sentence[512];
	int pause;

	g[1].on_inconclusive = SL_GUARD_INC_HOLD;
	snprintf(g[1].name, sizeof(g[1].name), "g2");
	rollout(&ro, g, 2);
	a->flows = 5000; /* before the step: not in its window */
	a->rst = 500;
	sl_guards_look(b, 1, &ro, "blue", "green", h, w, 1, NULL, 2000, &out);
	CU_ASSERT_EQUAL(out.nfailed, 0);
	CU_ASSERT_EQUAL(b->r[1][0].verdict, SL_GV_COLLECTING);
	CU_ASSERT_EQUAL(b->r[1][0].win.n[0], 0);
	/* not enough flows at the end of the dwell: g1 pauses, g2 would hold */
	CU_ASSERT_EQUAL(sl_guards_gate(b, 1, &ro, &pause, why, sizeof(why)), 1);
	CU_ASSERT_EQUAL(pause, 1);
	CU_ASSERT_STRING_EQUAL(why, "guard g1 inconclusive: challenger 0 and champion 0 flows, "
			       "100 needed in each; guard g2 inconclusive: challenger 0 and "
			       "champion 0 flows, 100 needed in each");
	/* healthy: both pass */
	a->flows += 2000;
	a->rst += 20;
	c->flows = 200;
	c->rst = 2;
	sl_guards_look(b, 1, &ro, "blue", "green", h, w, 1, NULL, 3000, &out);
	CU_ASSERT_EQUAL(b->r[1][0].verdict, SL_GV_PASSING);
	CU_ASSERT_EQUAL(b->r[1][0].win.n[0], 2000);
	CU_ASSERT_EQUAL(b->r[1][0].win.x[0], 20);
	CU_ASSERT_EQUAL(sl_guards_gate(b, 1, &ro, &pause, why, sizeof(why)), 0);
	/* the dataplane restarted: counters went down, the window starts again */
	memset(w, 0, sizeof(*w));
	sl_guards_look(b, 1, &ro, "blue", "green", h, w, 1, NULL, 4000, &out);
	CU_ASSERT_EQUAL(b->r[1][0].restarts, 1);
	CU_ASSERT_EQUAL(b->r[1][0].verdict, SL_GV_COLLECTING);
	CU_ASSERT_EQUAL(sl_guards_gate(b, 1, &ro, &pause, why, sizeof(why)), 1);
	/* a bad challenger: fails once, latched */
	a->flows = 2000;
	a->rst = 20;
	c->flows = 300;
	c->rst = 30;
	sl_guards_look(b, 1, &ro, "blue", "green", h, w, 1, NULL, 5000, &out);
	CU_ASSERT_EQUAL(out.nfailed, 1);
	CU_ASSERT_EQUAL(out.failed[0], 0);
	CU_ASSERT_EQUAL(b->r[1][0].verdict, SL_GV_FAILED);
	CU_ASSERT_EQUAL(b->r[1][0].failed_ms, 5000);
	c->rst = 30; /* stays failed at the next looks, not failed again */
	a->flows += 100000;
	sl_guards_look(b, 1, &ro, "blue", "green", h, w, 1, NULL, 6000, &out);
	CU_ASSERT_EQUAL(out.nfailed, 0);
	CU_ASSERT_EQUAL(b->r[1][0].verdict, SL_GV_FAILED);
	CU_ASSERT_EQUAL(sl_guards_gate(b, 1, &ro, &pause, why, sizeof(why)), 1);
	snprintf(b->r[1][0].action, sizeof(b->r[1][0].action), "rollout aborted");
	sl_guard_sentence(&b->r[1][0], sentence, sizeof(sentence));
	CU_ASSERT_EQUAL(strncmp(sentence, "g1: challenger 10.00 % vs champion 1.00 % on 300 / "
				"2000 flows: failed (log E ", 67), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(sentence, "), rollout aborted at 00:00:05 UTC"));
	/* the next step: a new window, not failed */
	ro.step = 1;
	sl_guards_look(b, 1, &ro, "blue", "green", h, w, 1, NULL, 7000, &out);
	CU_ASSERT_EQUAL(b->r[1][0].verdict, SL_GV_COLLECTING);
	CU_ASSERT_EQUAL(b->r[1][0].step, 1);
	CU_ASSERT_EQUAL(b->r[1][0].window_ms, 7000);
	/* champion and challenger swapped (another rollout): new window too */
	c->flows += 500;
	sl_guards_look(b, 1, &ro, "blue", "green", h, w, 1, NULL, 8000, &out);
	CU_ASSERT_EQUAL(b->r[1][0].win.n[1], 500);
	sl_guards_look(b, 1, &ro, "green", "blue", h, w, 1, NULL, 9000, &out);
	CU_ASSERT_EQUAL(b->r[1][0].win.n[1], 0);
	/* the rollout ends: figures frozen */
	ro.state = SL_RO_ABORTED;
	c->flows += 999;
	sl_guards_look(b, 1, &ro, "green", "blue", h, w, 1, NULL, 10000, &out);
	CU_ASSERT_EQUAL(b->r[1][0].frozen, 1);
	CU_ASSERT_EQUAL(b->r[1][0].win.n[1], 0);
	free(b);
	free(w);
	free(h);
}

/* A/A through the board, looked at every "second": the guard fails in at
 * most about alpha of the rollouts (the sequential suite checks the test
 * itself on 10 000 rollouts; this checks the board does not add looks that
 * break it, e.g. by restarting windows). */
static void test_board_aa(void)
{
	struct sl_guard_board *b = calloc(1, sizeof(*b));
	struct sl_counters *w = calloc(1, sizeof(*w));
	struct sl_table_hdr *h = table();
	struct sl_cfg_guard g = guard("rst", NULL);
	struct sl_guard_look_svc out;
	struct sl_rollout ro;
	uint64_t s = 12345;
	unsigned failed = 0, runs = 400;

	for (unsigned run = 0; run < runs; run++) {
		memset(w, 0, sizeof(*w));
		rollout(&ro, &g, 1);
		ro.started_ms = 1000 + run;
		for (unsigned t = 0; t < 120 && !b->r[1][0].seq.rejected; t++) {
			/* 200 flows a second, 10 % to the challenger, 2 % reset on both */
			for (unsigned f = 0; f < 200; f++) {
				int role, bad;

				s = s * 6364136223846793005ULL + 1442695040888963407ULL;
				role = (s >> 33) % 10 == 0;
				bad = (s >> 40) % 50 == 0;
				w->ev.svc[1][role].flows++;
				w->ev.svc[1][role].rst += (uint64_t)bad;
			}
			sl_guards_look(b, 1, &ro, "blue", "green", h, w, 1, NULL, 2000 + t * 1000,
				       &out);
			failed += out.nfailed;
		}
	}
	printf("\n    A/A through the board: %u of %u rollouts failed (alpha 1 %%) ", failed,
	       runs);
	CU_ASSERT(failed <= runs / 100 + 4);
	free(b);
	free(w);
	free(h);
}

void sl_test_register_guard(void)
{
	CU_pSuite s = CU_add_suite("guard", NULL, NULL);

	CU_add_test(s, "definitions as JSON and back", test_def_json);
	CU_add_test(s, "definition errors name the field", test_def_errors);
	CU_add_test(s, "counts from the evidence cells", test_read_cells);
	CU_add_test(s, "pushed evidence", test_pushed);
	CU_add_test(s, "windows, verdicts, gate, sentence", test_board);
	CU_add_test(s, "A/A rollouts through the board", test_board_aa);
}
