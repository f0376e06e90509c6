/* sluice-dp's end of run report: --stats JSON and the human summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dpstats.h"
#include "tables.h"
#include "testcfg.h"
#include "unit.h"

struct fixture {
	struct sl_config *cfg;
	struct sl_table_src *src;
	struct sl_counters *sum;
	uint64_t worker_rx[2];
	struct sl_dp_report r;
};

/* Seed 95,000 champion and 5,000 challenger flows on web, as in the
 * acceptance example, and one of every other kind of counter. */
static void fixture_init(struct fixture *f)
{
	char err[256];
	struct sl_grp_counters *blue, *green;

	memset(f, 0, sizeof(*f));
	f->cfg = tc_config(500);
	f->src = sl_tables_from_config(f->cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->src);
	f->sum = calloc(1, sizeof(*f->sum));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->sum);
	f->sum->port_rx[TC_CLIENT] = 1000;
	f->sum->port_rx[TC_BLUE] = 200;
	f->sum->port_tx[TC_BLUE] = 950;
	f->sum->port_tx[TC_GREEN] = 50;
	f->sum->port_tx[TC_CLIENT] = 200;
	f->sum->port_drop[TC_GREEN] = 7;
	f->sum->malformed[SL_BAD_IP4_IHL] = 3;
	f->sum->malformed[SL_BAD_TCP_DOFF] = 2;
	f->sum->malformed_drop = 5;
	f->sum->other_fwd = 11;
	f->sum->shadow_rx_drop = 13;
	f->sum->ft_full = 17;
	f->sum->expired = 19;
	f->sum->redecided = 23;
	f->sum->ret_untracked = 29;
	blue = &f->sum->grp[TC_S_WEB][TC_G_BLUE];
	green = &f->sum->grp[TC_S_WEB][TC_G_GREEN];
	blue->flows = 95000;
	blue->pkts = 95000;
	blue->bytes = 6080000;
	blue->active = 94000;
	blue->ret_pkts = 180;
	blue->ret_rst = 4;
	blue->ret_synack = 170;
	green->flows = 5000;
	green->pkts = 5000;
	green->active = 4990;
	green->ret_rst = 9;
	f->worker_rx[0] = 700;
	f->worker_rx[1] = 500;

	f->r.cfg = f->cfg;
	f->r.view = sl_src_view(f->src);
	f->r.sum = f->sum;
	f->r.nworkers = 2;
	f->r.worker_rx = f->worker_rx;
	f->r.elapsed_s = 2.5;
	f->r.pps = 480.0;
	f->r.rx_missed[TC_CLIENT] = 31;
	f->r.tx_errors[TC_SHADOW] = 37;
	f->r.ft_capacity = 1 << 18;
	f->r.ft_bytes = 32ull << 20;
}

static void fixture_fini(struct fixture *f)
{
	sl_tables_free(f->src);
	free(f->sum);
	free(f->cfg);
}

static json_int_t geti(json_t *o, const char *path)
{
	char buf[256], *save = NULL;
	json_t *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	CU_ASSERT_PTR_NOT_NULL(v);
	CU_ASSERT(json_is_integer(v));
	return v ? json_integer_value(v) : -1;
}

static void test_json_totals_and_ports(void)
{
	struct fixture f;
	json_t *j, *p;

	fixture_init(&f);
	j = sl_dp_stats_json(&f.r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "elapsed_s")), 2.5, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "pps")), 480.0, 1e-9);
	CU_ASSERT_EQUAL(geti(j, "rx_packets"), 1200);
	CU_ASSERT_EQUAL(geti(j, "tx_packets"), 1200);
	CU_ASSERT_EQUAL(geti(j, "workers"), 2);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "worker_rx")), 2);
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(json_object_get(j, "worker_rx"), 1)),
			500);
	p = json_object_get(j, "ports");
	CU_ASSERT_EQUAL(json_object_size(p), 4);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(p, "client"),
								 "role")), "client");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(p, "shadow"),
								 "role")), "shadow");
	CU_ASSERT_EQUAL(geti(j, "ports.client.rx"), 1000);
	CU_ASSERT_EQUAL(geti(j, "ports.client.rx_missed"), 31);
	CU_ASSERT_EQUAL(geti(j, "ports.blue.tx"), 950);
	CU_ASSERT_EQUAL(geti(j, "ports.green.drops"), 7);
	CU_ASSERT_EQUAL(geti(j, "ports.shadow.tx_errors"), 37);
	CU_ASSERT_EQUAL(geti(j, "malformed_dropped"), 5);
	CU_ASSERT_EQUAL(geti(j, "malformed_forwarded"), 0);
	CU_ASSERT_EQUAL(geti(j, "other_forwarded"), 11);
	CU_ASSERT_EQUAL(geti(j, "other_dropped"), 0);
	CU_ASSERT_EQUAL(geti(j, "shadow_rx_dropped"), 13);
	CU_ASSERT_EQUAL(geti(j, "flow_table.capacity"), 1 << 18);
	CU_ASSERT_EQUAL(geti(j, "flow_table.bytes"), 32 << 20);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_object_get(j, "flow_table"),
							       "bytes_per_flow")), 128.0, 1e-9);
	CU_ASSERT_EQUAL(geti(j, "flow_table.full_fallback"), 17);
	CU_ASSERT_EQUAL(geti(j, "flow_table.expired"), 19);
	CU_ASSERT_EQUAL(geti(j, "flow_table.redecided"), 23);
	CU_ASSERT_EQUAL(geti(j, "flow_table.return_untracked"), 29);
	json_decref(j);
	fixture_fini(&f);
}

static void test_json_services(void)
{
	struct fixture f;
	json_t *j, *web, *dns;

	fixture_init(&f);
	j = sl_dp_stats_json(&f.r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(json_object_size(json_object_get(j, "services")), 3);
	web = json_object_get(json_object_get(j, "services"), "web");
	CU_ASSERT_PTR_NOT_NULL_FATAL(web);
	CU_ASSERT_EQUAL(geti(web, "share_bp"), 500);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(web, "champion")), "blue");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(web, "challenger")), "green");
	CU_ASSERT_EQUAL(geti(web, "measured_share_bp"), 500);
	CU_ASSERT_EQUAL(geti(web, "packets"), 100000);
	CU_ASSERT_EQUAL(geti(web, "groups.blue.flows"), 95000);
	CU_ASSERT_EQUAL(geti(web, "groups.blue.bytes"), 6080000);
	CU_ASSERT_EQUAL(geti(web, "groups.blue.active"), 94000);
	CU_ASSERT_EQUAL(geti(web, "groups.blue.return_packets"), 180);
	CU_ASSERT_EQUAL(geti(web, "groups.blue.return_rst"), 4);
	CU_ASSERT_EQUAL(geti(web, "groups.blue.return_synack"), 170);
	CU_ASSERT_EQUAL(geti(web, "groups.green.return_rst"), 9);
	CU_ASSERT_EQUAL(geti(web, "groups.green.return_bytes"), 0);
	/* no flows at all: a measured share of 0, not a division by zero */
	dns = json_object_get(json_object_get(j, "services"), "dns");
	CU_ASSERT_EQUAL(geti(dns, "measured_share_bp"), 0);
	CU_ASSERT_EQUAL(json_object_size(json_object_get(dns, "groups")), 2);
	json_decref(j);
	fixture_fini(&f);
}

/* Percentiles of a latency histogram: the upper edge of the bucket of the
 * value of rank ceil(n * pct / 100). */
static void test_hist_pct(void)
{
	uint64_t h[SL_HIST_BUCKETS];

	memset(h, 0, sizeof(h));
	CU_ASSERT_EQUAL(sl_hist_pct(h, 50), -1);
	/* 98 at 1.5 ms ([1280, 1536)), 2 at 40 ms ([32768, 40960)) */
	h[sl_hist_bucket(1500)] = 98;
	h[sl_hist_bucket(40000)] = 2;
	CU_ASSERT_EQUAL(sl_hist_pct(h, 50), 1536);
	CU_ASSERT_EQUAL(sl_hist_pct(h, 98), 1536);
	CU_ASSERT_EQUAL(sl_hist_pct(h, 99), 40960);
	CU_ASSERT_EQUAL(sl_hist_pct(h, 100), 40960);
	CU_ASSERT_EQUAL(sl_hist_pct(h, 0), 1536);
	/* the last bucket is open above: its lower edge */
	memset(h, 0, sizeof(h));
	h[SL_HIST_BUCKETS - 1] = 1;
	CU_ASSERT_EQUAL(sl_hist_pct(h, 50), (int64_t)sl_hist_edge(SL_HIST_BUCKETS - 1));
	CU_ASSERT_EQUAL(sl_hist_bucket(30000000), SL_HIST_BUCKETS - 1);
}

/* Evidence per role and per slice of the service, by the slice's name. */
static void test_json_evidence(void)
{
	struct fixture f;
	struct sl_cfg_slice *sl;
	struct sl_evidence *ev;
	json_t *j, *web;
	char err[256];

	fixture_init(&f);
	sl_tables_free(f.src);
	sl = &f.cfg->slices[f.cfg->nslices++];
	snprintf(sl->name, sizeof(sl->name), "billing");
	sl->service = TC_S_WEB;
	snprintf(sl->filter, sizeof(sl->filter), "tcp");
	f.src = sl_tables_from_config(f.cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f.src);
	f.r.view = sl_src_view(f.src);
	ev = &f.sum->ev;
	ev->svc[TC_S_WEB][SL_EV_CHAMPION].flows = 95000;
	ev->svc[TC_S_WEB][SL_EV_CHAMPION].hs_ok = 94000;
	ev->svc[TC_S_WEB][SL_EV_CHAMPION].rst = 1710;
	ev->svc[TC_S_WEB][SL_EV_CHALLENGER].flows = 5000;
	ev->svc[TC_S_WEB][SL_EV_CHALLENGER].hs_fail = 7;
	ev->svc[TC_S_WEB][SL_EV_CHALLENGER].icmp = 3;
	ev->svc[TC_S_WEB][SL_EV_CHALLENGER].ttfb_flows = 4900;
	ev->slice[0][SL_EV_CHALLENGER].rst = 230;
	ev->svc[TC_S_WEB][SL_EV_CHALLENGER].ttfb_us[sl_hist_bucket(25000)] = 4900;
	j = sl_dp_stats_json(&f.r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	web = json_object_get(json_object_get(j, "services"), "web");
	CU_ASSERT_EQUAL(geti(web, "evidence.champion.flows"), 95000);
	CU_ASSERT_EQUAL(geti(web, "evidence.champion.hs_ok"), 94000);
	CU_ASSERT_EQUAL(geti(web, "evidence.champion.rst"), 1710);
	CU_ASSERT_EQUAL(geti(web, "evidence.challenger.flows"), 5000);
	CU_ASSERT_EQUAL(geti(web, "evidence.challenger.hs_fail"), 7);
	CU_ASSERT_EQUAL(geti(web, "evidence.challenger.icmp"), 3);
	CU_ASSERT_EQUAL(geti(web, "evidence.challenger.ttfb_flows"), 4900);
	CU_ASSERT_EQUAL(geti(web, "evidence.slices.billing.challenger.rst"), 230);
	/* 25 ms is in [24576, 28672): the percentiles say at most 28.672 ms */
	CU_ASSERT_EQUAL(geti(web, "evidence.challenger.ttfb_p50_us"), 28672);
	CU_ASSERT_EQUAL(geti(web, "evidence.challenger.ttfb_p99_us"), 28672);
	CU_ASSERT(json_is_null(json_object_get(json_object_get(json_object_get(web, "evidence"),
								"champion"), "ttfb_p50_us")));
	CU_ASSERT_EQUAL(geti(web, "evidence.slices.billing.champion.flows"), 0);
	CU_ASSERT_EQUAL(json_object_size(json_object_get(json_object_get(json_object_get(
		json_object_get(j, "services"), "dns"), "evidence"), "slices")), 0);
	json_decref(j);
	fixture_fini(&f);
}

static void test_json_malformed_only_nonzero(void)
{
	struct fixture f;
	json_t *j, *m;

	fixture_init(&f);
	j = sl_dp_stats_json(&f.r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	m = json_object_get(j, "malformed");
	CU_ASSERT_EQUAL(json_object_size(m), 3);
	CU_ASSERT_EQUAL(geti(m, "ip4_ihl"), 3);
	CU_ASSERT_EQUAL(geti(m, "tcp_doff"), 2);
	CU_ASSERT_EQUAL(geti(m, "total"), 5);
	CU_ASSERT_PTR_NULL(json_object_get(m, "eth_trunc"));
	json_decref(j);
	fixture_fini(&f);
}

/* A group outside champion/challenger appears once it has counters (after a
 * control change moved the service). */
static void test_json_extra_group(void)
{
	struct fixture f;
	json_t *j, *groups;

	fixture_init(&f);
	f.sum->grp[TC_S_DNS][TC_G_GREEN].ret_pkts = 1;
	f.sum->grp[TC_S_DNS][TC_G_BLUE].flows = 3;
	f.sum->grp[TC_S_DNS][TC_G_GREEN].flows = 1;
	j = sl_dp_stats_json(&f.r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	groups = json_object_get(json_object_get(json_object_get(j, "services"), "dns"), "groups");
	CU_ASSERT_EQUAL(geti(groups, "green.return_packets"), 1);
	CU_ASSERT_EQUAL(geti(json_object_get(json_object_get(j, "services"), "dns"),
			     "measured_share_bp"), 2500);
	json_decref(j);
	fixture_fini(&f);
}

static void test_write_and_read_back(void)
{
	struct fixture f;
	char path[] = "/tmp/sluice-test-dpstats-XXXXXX", err[512] = "";
	json_error_t jerr;
	json_t *j;
	int fd;

	fixture_init(&f);
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(sl_dp_stats_write(&f.r, path, err, sizeof(err)), 0);
	j = json_load_file(path, 0, &jerr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(geti(j, "services.web.groups.green.flows"), 5000);
	CU_ASSERT_EQUAL(geti(j, "rx_packets"), 1200);
	json_decref(j);
	unlink(path);

	CU_ASSERT_EQUAL(sl_dp_stats_write(&f.r, "/nonexistent-dir/x.json", err, sizeof(err)),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--stats /nonexistent-dir/x.json"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(ENOENT)));
	fixture_fini(&f);
}

static void test_summary_text(void)
{
	struct fixture f;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	fixture_init(&f);
	f.r.stop_reason = "signal SIGTERM";
	m = open_memstream(&buf, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	sl_dp_summary(&f.r, m);
	fclose(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "2 workers, rx 1200 tx 1200 packets, 480 pps, "
				     "stopped: signal SIGTERM"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "received per worker: 700 500"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "drops 7"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "service web: 100000 packets, champion blue, "
				     "challenger green, share 5.00% configured, 5.00% of flows "
				     "measured"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "group blue       packets 95000 flows 95000 active "
				     "94000 return 180 (rst 4, syn-ack 170)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "malformed 5 ip4_ihl=3 tcp_doff=2 (forwarded 0, "
				     "dropped 5)"));
	CU_ASSERT_PTR_NULL(strstr(buf, "eth_trunc"));
	free(buf);
	fixture_fini(&f);
}

/* The helpers sluice-dp's and sluice-replay's reports share. */
static void test_role_names_malformed_total(void)
{
	struct sl_counters *c = calloc(1, sizeof(*c));

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(sl_role_name(SL_ROLE_CLIENT), "client");
	CU_ASSERT_STRING_EQUAL(sl_role_name(SL_ROLE_BACKEND), "backend");
	CU_ASSERT_STRING_EQUAL(sl_role_name(SL_ROLE_SHADOW), "shadow");
	CU_ASSERT_STRING_EQUAL(sl_role_name(SL_ROLE_SHADOW + 1), "?");
	CU_ASSERT_EQUAL(sl_malformed_total(c), 0);
	c->malformed[0] = 100; /* not a reason: never counted */
	c->malformed[1] = 1;
	c->malformed[SL_BAD__COUNT - 1] = 2;
	CU_ASSERT_EQUAL(sl_malformed_total(c), 3);
	free(c);
}

void sl_test_register_dpstats(void)
{
	CU_pSuite s = CU_add_suite("dpstats", NULL, NULL);

	CU_add_test(s, "JSON totals, ports, flow table", test_json_totals_and_ports);
	CU_add_test(s, "JSON services, groups, measured share", test_json_services);
	CU_add_test(s, "JSON evidence per role and slice", test_json_evidence);
	CU_add_test(s, "latency percentiles", test_hist_pct);
	CU_add_test(s, "JSON malformed: non-zero reasons and total",
		    test_json_malformed_only_nonzero);
	CU_add_test(s, "JSON group outside champion/challenger", test_json_extra_group);
	CU_add_test(s, "write, read back, unwritable path", test_write_and_read_back);
	CU_add_test(s, "human summary", test_summary_text);
	CU_add_test(s, "role names, malformed total", test_role_names_malformed_total);
}
