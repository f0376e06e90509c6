/* Metrics (control/metrics.c): the exposition format (escaping of label
 * values and HELP text, numbers, histograms' cumulative buckets at octave
 * edges) and the figures of an in-memory daemon over counters set here
 * (the same reader as `sluicectl stats`), and [control] metrics's address
 * parsing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "commands.h"
#include "metrics.h"
#include "parse.h"
#include "testcfg.h"
#include "unit.h"

static void test_escaping(void)
{
	struct sl_prom p = { 0 };
	const struct sl_prom_label l[] = {
		{ "service", "a\"b\\c\nd" }, { "group", "" }, { "port", "x y=z,{}" },
	};

	sl_prom_family(&p, "sluice_x_total", "counter", "Back\\slash and\nnewline, \"quotes\" as is.");
	sl_prom_u64(&p, "sluice_x_total", l, 3, 18446744073709551615ull);
	sl_prom_u64(&p, "sluice_y", NULL, 0, 0);
	CU_ASSERT_FALSE_FATAL(p.oom);
	CU_ASSERT_STRING_EQUAL(p.buf,
		"# HELP sluice_x_total Back\\\\slash and\\nnewline, \"quotes\" as is.\n"
		"# TYPE sluice_x_total counter\n"
		"sluice_x_total{service=\"a\\\"b\\\\c\\nd\",group=\"\",port=\"x y=z,{}\"} "
		"18446744073709551615\n"
		"sluice_y 0\n");
	CU_ASSERT_EQUAL(p.len, strlen(p.buf));
	sl_prom_free(&p);
	CU_ASSERT_PTR_NULL(p.buf);
}

static void test_numbers(void)
{
	char b[40];

	sl_prom_number(b, sizeof(b), 0.05);
	CU_ASSERT_STRING_EQUAL(b, "0.05");
	sl_prom_number(b, sizeof(b), 1.0 - 0.05);
	CU_ASSERT_STRING_EQUAL(b, "0.95");
	sl_prom_number(b, sizeof(b), 0.1 + 0.2); /* not 0.3: the shortest exact text */
	CU_ASSERT_STRING_EQUAL(b, "0.30000000000000004");
	CU_ASSERT_EQUAL(strtod(b, NULL), 0.1 + 0.2);
	sl_prom_number(b, sizeof(b), 3);
	CU_ASSERT_STRING_EQUAL(b, "3");
	sl_prom_number(b, sizeof(b), NAN);
	CU_ASSERT_STRING_EQUAL(b, "NaN");
	sl_prom_number(b, sizeof(b), INFINITY);
	CU_ASSERT_STRING_EQUAL(b, "+Inf");
	sl_prom_number(b, sizeof(b), -INFINITY);
	CU_ASSERT_STRING_EQUAL(b, "-Inf");
	sl_prom_number(b, sizeof(b), -4.605170185988091);
	CU_ASSERT_STRING_EQUAL(b, "-4.605170185988091");
}

/* The value of the sample line that starts with head (NULL: none). */
static const char *sample(const char *text, const char *head)
{
	size_t n = strlen(head);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, head, n) && l[n] == ' ')
			return l + n + 1;
	return NULL;
}

static long long value(const char *text, const char *head)
{
	const char *v = sample(text, head);

	CU_ASSERT_PTR_NOT_NULL(v);
	if (!v)
		fprintf(stderr, "\nno sample %s\n", head);
	return v ? strtoll(v, NULL, 10) : -1;
}

static void test_histogram(void)
{
	uint64_t h[SL_HIST_BUCKETS] = { 0 }, sum = 0;
	const struct sl_prom_label l[] = { { "role", "champion" } };
	static const uint64_t us[] = { 0, 1, 3, 4, 5, 1000, 1023, 1024, 1025, 8388607, 8388608,
				       20000000 };
	struct sl_prom p = { 0 };
	unsigned nbuckets = 0;
	long long prev = -1;

	for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++) {
		h[sl_hist_bucket(us[i])]++;
		sum += us[i];
	}
	sl_prom_hist_us(&p, "sluice_t_seconds", l, 1, h, &sum);
	CU_ASSERT_FALSE_FATAL(p.oom);
	/* at most 2^k us, k = 0 .. 23 */
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"0.000001\"}"), 1);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"0.000002\"}"), 2);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"0.000004\"}"), 3);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"0.000008\"}"), 5);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"0.000512\"}"), 5);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"0.001024\"}"), 7);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"0.002048\"}"), 9);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"4.194304\"}"), 9);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"8.388608\"}"), 10);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{role=\"champion\",le=\"+Inf\"}"), 12);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_count{role=\"champion\"}"), 12);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sample(p.buf, "sluice_t_seconds_sum{role=\"champion\"}"));
	CU_ASSERT_DOUBLE_EQUAL(strtod(sample(p.buf, "sluice_t_seconds_sum{role=\"champion\"}"), NULL),
			       sum / 1e6, 1e-9);
	/* 24 finite buckets and +Inf, cumulative: never decreasing */
	for (const char *s = p.buf; (s = strstr(s, "_bucket{")); s++) {
		long long v = strtoll(strchr(s, ' ') + 1, NULL, 10);

		CU_ASSERT(v >= prev);
		prev = v;
		nbuckets++;
	}
	CU_ASSERT_EQUAL(nbuckets, 25);
	sl_prom_free(&p);

	/* without a sum (the dataplane's histograms): no _sum line */
	sl_prom_hist_us(&p, "sluice_t_seconds", NULL, 0, h, NULL);
	CU_ASSERT_PTR_NULL(strstr(p.buf, "_sum"));
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_bucket{le=\"+Inf\"}"), 12);
	CU_ASSERT_EQUAL(value(p.buf, "sluice_t_seconds_count"), 12);
	sl_prom_free(&p);
}

static void test_addr(void)
{
	struct sockaddr_storage ss;
	char err[SL_ERR_LEN];
	unsigned len;

	CU_ASSERT_EQUAL(sl_listen_addr_parse("127.0.0.1:9469", &ss, &len, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ss.ss_family, AF_INET);
	CU_ASSERT_EQUAL(sl_listen_addr_parse("[::1]:9469", &ss, &len, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ss.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(sl_listen_addr_parse("localhost:9469", &ss, &len, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'localhost' is not a numeric IPv4 address"));
	CU_ASSERT_EQUAL(sl_listen_addr_parse("127.0.0.1:0", &ss, &len, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "port 1..65535"));
	CU_ASSERT_EQUAL(sl_listen_addr_parse("127.0.0.1", &ss, &len, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(sl_listen_addr_parse("::1:9469", &ss, &len, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(sl_listen_addr_parse("[::1:9469", &ss, &len, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(sl_listen_addr_parse("[nope]:9469", &ss, &len, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(sl_listen_addr_parse("127.0.0.1:65536", &ss, &len, err, sizeof(err)), -1);
}

/* [control] metrics in a file: a bad value names file, section and key. */
static void test_config_key(void)
{
	char path[] = "/tmp/sluice-metrics-XXXXXX", err[SL_ERR_LEN];
	struct sl_config *c = calloc(1, sizeof(*c));
	const char *vals[] = { "127.0.0.1:9469", "", "127.0.0.1:http" };
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < 3; i++) {
		FILE *f;

		fd = mkstemp(path);
		CU_ASSERT_FATAL(fd >= 0);
		f = fdopen(fd, "w");
		fprintf(f, "[port client]\nrole = client\ndevargs = net_null0\n"
			"[port blue]\nrole = backend\ndevargs = net_null1\n"
			"[port green]\nrole = backend\ndevargs = net_null2\n"
			"[group blue]\nport = blue\n[group green]\nport = green\n"
			"[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 443\n"
			"champion = blue\nchallenger = green\n[control]\nmetrics = %s\n",
			vals[i]);
		fclose(f);
		memset(c, 0, sizeof(*c));
		err[0] = 0;
		if (i < 2) {
			CU_ASSERT_EQUAL(sl_config_load(path, c, err, sizeof(err)), 0);
			if (err[0])
				fprintf(stderr, "\n%s\n", err);
			CU_ASSERT_STRING_EQUAL(c->metrics, vals[i]);
		} else {
			CU_ASSERT_EQUAL(sl_config_load(path, c, err, sizeof(err)), -1);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "[control] metrics: '127.0.0.1:http'"));
		}
		unlink(path);
		strcpy(path, "/tmp/sluice-metrics-XXXXXX");
	}
	free(c);
}

static void quiet(void *ctx, const char *line)
{
	(void)ctx;
	(void)line;
}

/* The figures of an in-memory daemon: the counters it reads are set here. */
static void test_render(void)
{
	struct sl_daemon *d = calloc(1, sizeof(*d));
	struct sl_counters *c = calloc(1, sizeof(*c));
	char dir[] = "/tmp/sluice-metrics-XXXXXX", err[SL_ERR_LEN], *text, *reply;
	static const char req[] = "{\"id\": 1, \"cmd\": \"canary\", \"service\": \"web\", "
				  "\"share\": \"20%\"}";
	struct sl_actor who = { 0, 1, NULL };
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	d->cfg = tc_config(500);
	snprintf(d->config_path, sizeof(d->config_path), "test.ini");
	snprintf(d->instance, sizeof(d->instance), "unit");
	snprintf(d->journal_path, sizeof(d->journal_path), "%s/journal", dir);
	d->in_memory = 1;
	d->virtual_clock = 1;
	d->clock_ms = 1700000000000ull;
	sl_log_sink(quiet, NULL);
	CU_ASSERT_EQUAL_FATAL(sl_daemon_start(d, err, sizeof(err)), 0);
	c->grp[TC_S_WEB][TC_G_BLUE].pkts = 900;
	c->grp[TC_S_WEB][TC_G_GREEN].pkts = 100;
	c->grp[TC_S_WEB][TC_G_GREEN].bytes = 64000;
	c->grp[TC_S_WEB][TC_G_GREEN].active = 7;
	c->grp[TC_S_DNS][TC_G_BLUE].active = 3;
	c->port_rx[TC_CLIENT] = 1000;
	c->port_drop[TC_GREEN] = 2;
	c->malformed[SL_BAD_ETH_TRUNC] = 5;
	c->ft_full = 11;
	c->ev.svc[TC_S_WEB][SL_EV_CHALLENGER].hs_ok = 40;
	c->ev.svc[TC_S_WEB][SL_EV_CHALLENGER].hs_fail = 2;
	c->ev.svc[TC_S_WEB][SL_EV_CHALLENGER].hs_us[sl_hist_bucket(1500)] = 40;
	d->local_stats = c;

	reply = sl_daemon_request(d, req, strlen(req), &who);
	CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
	CU_ASSERT_PTR_NOT_NULL(strstr(reply, "\"ok\": true") ? reply : strstr(reply, "\"ok\":true"));
	free(reply);
	text = sl_metrics_render(d, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(strlen(text), len);
	CU_ASSERT_EQUAL(value(text, "sluice_generation"), (long long)d->st->gen);
	CU_ASSERT_EQUAL(value(text, "sluice_dataplane_workers"), 1);
	CU_ASSERT_EQUAL(strncmp(sample(text, "sluice_share_configured_ratio{service=\"web\","
				       "group=\"green\",role=\"challenger\"}"), "0.2\n", 4), 0);
	CU_ASSERT_EQUAL(strncmp(sample(text, "sluice_share_configured_ratio{service=\"web\","
				       "group=\"blue\",role=\"champion\"}"), "0.8\n", 4), 0);
	CU_ASSERT_EQUAL(strncmp(sample(text, "sluice_share_configured_ratio{service=\"dns\","
				       "group=\"green\",role=\"challenger\"}"), "0.05\n", 5), 0);
	CU_ASSERT_EQUAL(value(text, "sluice_packets_total{service=\"web\",group=\"blue\"}"), 900);
	CU_ASSERT_EQUAL(value(text, "sluice_packets_total{service=\"web\",group=\"green\"}"), 100);
	CU_ASSERT_EQUAL(value(text, "sluice_bytes_total{service=\"web\",group=\"green\"}"), 64000);
	CU_ASSERT_EQUAL(value(text, "sluice_flows_active{service=\"web\",group=\"green\"}"), 7);
	CU_ASSERT_EQUAL(value(text, "sluice_flowtable_flows"), 10);
	CU_ASSERT_EQUAL(value(text, "sluice_flowtable_capacity_flows"), (1 << 18) + (1 << 16));
	CU_ASSERT_EQUAL(value(text, "sluice_flowtable_full_total"), 11);
	CU_ASSERT_EQUAL(value(text, "sluice_port_rx_packets_total{port=\"client\"}"), 1000);
	CU_ASSERT_EQUAL(value(text, "sluice_port_tx_dropped_packets_total{port=\"green\"}"), 2);
	CU_ASSERT_EQUAL(value(text, "sluice_malformed_packets_total{reason=\"" "eth_trunc" "\"}"), 5);
	CU_ASSERT_EQUAL(value(text, "sluice_service_strategy{service=\"web\",strategy=\"canary\"}"), 1);
	CU_ASSERT_EQUAL(value(text, "sluice_service_strategy{service=\"web\",strategy=\"steady\"}"), 0);
	CU_ASSERT_EQUAL(value(text, "sluice_rollout_state{service=\"web\",state=\"none\"}"), 1);
	CU_ASSERT_EQUAL(value(text, "sluice_rollout_step{service=\"web\"}"), 0);
	CU_ASSERT_EQUAL(value(text, "sluice_evidence_handshakes_total{service=\"web\","
			      "role=\"challenger\",result=\"ok\"}"), 40);
	CU_ASSERT_EQUAL(value(text, "sluice_evidence_handshakes_total{service=\"web\","
			      "role=\"challenger\",result=\"failed\"}"), 2);
	/* 1500 us: above 1.024 ms, at most 2.048 ms */
	CU_ASSERT_EQUAL(value(text, "sluice_evidence_handshake_seconds_bucket{service=\"web\","
			      "role=\"challenger\",le=\"0.001024\"}"), 0);
	CU_ASSERT_EQUAL(value(text, "sluice_evidence_handshake_seconds_bucket{service=\"web\","
			      "role=\"challenger\",le=\"0.002048\"}"), 40);
	/* the in-memory tables acknowledge at once: one ack recorded */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE sluice_ack_latency_seconds histogram\n"));
	CU_ASSERT_PTR_NOT_NULL(sample(text, "sluice_ack_latency_seconds_count"));
	/* nothing measured yet (no samples): no measured share at all */
	CU_ASSERT_PTR_NULL(strstr(text, "sluice_share_measured_ratio{"));
	free(text);
	d->local_stats = NULL;
	sl_daemon_stop(d);
	sl_log_sink(NULL, NULL);
	free(d);
	free(c);
	snprintf(err, sizeof(err), "%s/journal", dir);
	unlink(err);
	rmdir(dir);
}

void sl_test_register_metrics(void)
{
	CU_pSuite s = CU_add_suite("metrics", NULL, NULL);

	CU_add_test(s, "label values and HELP escaped", test_escaping);
	CU_add_test(s, "numbers", test_numbers);
	CU_add_test(s, "histograms: cumulative buckets at octave edges", test_histogram);
	CU_add_test(s, "listening addresses", test_addr);
	CU_add_test(s, "[control] metrics in a file", test_config_key);
	CU_add_test(s, "the figures of a daemon", test_render);
}
