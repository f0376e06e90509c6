/* Configuration loader: every error class checked by its full text (file,
 * section, key, expectation), valid files checked value by value, and the
 * share and duration grammars checked as tables. */
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "errmsg.h"
#include "ini.h"
#include "unit.h"

#ifndef SL_SOURCE_ROOT
#define SL_SOURCE_ROOT "."
#endif

static struct sl_config cfg;
static char err[SL_ERR_LEN];
static char tmp_path[64];
static char text[65536];
static size_t text_len;

/* Three ports, a port-mode and a mac-mode group: a valid base to build on. */
#define PORTS \
	"[port client]\nrole = client\ndevargs = net_null0\n" \
	"[port blue]\nrole = backend\ndevargs = net_null1\n" \
	"[port green]\nrole = backend\ndevargs = net_null2\n"
#define GROUP_BLUE "[group blue]\nport = blue\n"
#define GROUP_GREEN \
	"[group green]\nport = green\nmode = mac\n" \
	"members = 02:00:00:00:0c:01, 02:00:00:00:0c:02\n"
#define GROUPS GROUP_BLUE GROUP_GREEN
#define SVC(name, proto, vip, ports, champion, challenger, share) \
	"[service " name "]\nproto = " proto "\nvip = " vip "\nports = " ports \
	"\nchampion = " champion "\nchallenger = " challenger "\nshare = " share "\n"
#define WEB SVC("web", "tcp", "192.0.2.10", "443", "blue", "green", "5%")
#define BASE PORTS GROUPS WEB

#define SECTION_TYPES \
	"[dataplane], [port NAME], [group NAME], [service NAME], [shadow NAME], " \
	"[slice NAME], [guard NAME] or [control]"

static void reset_text(void)
{
	text_len = 0;
	text[0] = '\0';
}

__attribute__((format(printf, 1, 2)))
static void add(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text + text_len, sizeof(text) - text_len, fmt, ap);
	va_end(ap);
	CU_ASSERT_FATAL(n >= 0 && (size_t)n < sizeof(text) - text_len);
	text_len += (size_t)n;
}

/* Load s from a fresh temporary file into a cfg full of garbage. */
static int load_text(const char *s)
{
	size_t len = strlen(s);
	int fd, rc;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/sluice-config-XXXXXX.ini");
	fd = mkstemps(tmp_path, 4);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, s, len) == (ssize_t)len);
	close(fd);
	memset(&cfg, 0xa5, sizeof(cfg));
	err[0] = '\0';
	rc = sl_config_load(tmp_path, &cfg, err, sizeof(err));
	unlink(tmp_path);
	return rc;
}

static bool cfg_is_zero(void)
{
	static const struct sl_config zero;

	return !memcmp(&cfg, &zero, sizeof(cfg));
}

static void expect_ok(const char *s, int line)
{
	int rc = load_text(s);

	if (rc != 0)
		fprintf(stderr, "\n  test_config.c:%d: unexpected error: %s\n", line, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

/* msg is what follows "FILE: " in the error. */
static void expect_err(const char *s, const char *msg, int line)
{
	char want[1024];
	int rc = load_text(s);

	snprintf(want, sizeof(want), "%s: %s", tmp_path, msg);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT(cfg_is_zero());
	if (strcmp(err, want)) {
		fprintf(stderr, "\n  test_config.c:%d:\n  want: %s\n  got:  %s\n", line, want, err);
		CU_FAIL("error text differs");
	}
}

#define EXPECT_OK(s) expect_ok(s, __LINE__)
#define EXPECT_ERR(s, msg) expect_err(s, msg, __LINE__)

static void test_unknown_section(void)
{
	EXPECT_ERR(BASE "[frobnicate]\nx = 1\n",
		   "[frobnicate]: unknown section (expected " SECTION_TYPES ")");
	EXPECT_ERR(BASE "[Backend blue]\n",
		   "[backend blue]: unknown section (expected " SECTION_TYPES ")");
	EXPECT_ERR(BASE "[slices billing]\nport = green\n",
		   "[slices billing]: unknown section (expected " SECTION_TYPES ")");
	EXPECT_ERR("[control main]\n" BASE,
		   "[control main]: [control] takes no name (expected [control])");
	EXPECT_ERR("[dataplane main]\n" BASE,
		   "[dataplane main]: [dataplane] takes no name (expected [dataplane])");
	EXPECT_ERR(BASE "[port]\nrole = backend\n",
		   "[port]: missing name (expected [port NAME], NAME of 1..31 characters a-z, "
		   "0-9, _ or -)");
	EXPECT_ERR(BASE "[port Blue.1]\n",
		   "[port blue.1]: name 'blue.1' is not valid (expected 1..31 characters a-z, "
		   "0-9, _ or -)");
	EXPECT_ERR(BASE "[group abcdefghijklmnopqrstuvwxyz012345]\n",
		   "[group abcdefghijklmnopqrstuvwxyz012345]: name "
		   "'abcdefghijklmnopqrstuvwxyz012345' is not valid (expected 1..31 characters "
		   "a-z, 0-9, _ or -)");
	EXPECT_ERR(BASE "[]\n",
		   "line 23: empty section name (expected " SECTION_TYPES ")");
}

/* [control]: where sluiced and an attached sluice-dp meet. */
static void test_control_section(void)
{
	EXPECT_OK("[control]\ninstance = edge-1\nbpffs = /tmp/bpf\nsocket = /tmp/s.sock\n"
		  "journal = /tmp/j.journal\nack_timeout = 250ms\n" BASE);
	CU_ASSERT_STRING_EQUAL(cfg.instance, "edge-1");
	CU_ASSERT_STRING_EQUAL(cfg.bpffs, "/tmp/bpf");
	CU_ASSERT_STRING_EQUAL(cfg.socket_path, "/tmp/s.sock");
	CU_ASSERT_STRING_EQUAL(cfg.journal_path, "/tmp/j.journal");
	CU_ASSERT_EQUAL(cfg.ack_timeout_ms, 250);
	EXPECT_OK(BASE);
	CU_ASSERT_STRING_EQUAL(cfg.instance, "");
	CU_ASSERT_STRING_EQUAL(cfg.bpffs, "/sys/fs/bpf");
	CU_ASSERT_EQUAL(cfg.ack_timeout_ms, 1000);
	EXPECT_ERR("[control]\ninstance = Edge.1\n" BASE,
		   "[control] instance: 'Edge.1' is not a valid instance name (expected "
		   "1..31 characters a-z, 0-9, _ or -)");
	EXPECT_ERR("[control]\nack_timeout = soon\n" BASE,
		   "[control] ack_timeout: 'soon' is not a duration (expected 1ms..7 days as a "
		   "whole number with ms, s, m or h, e.g. 500ms, 30s, 2m, 1h; a bare number is "
		   "seconds)");
	EXPECT_ERR("[control]\nsockett = /x\n" BASE,
		   "[control] sockett: unknown key (expected one of: instance, bpffs, socket, "
		   "journal, bpf_object, ack_timeout, group, idle_timeout, max_connections, "
		   "max_connections_per_uid, journal_rotate, journal_keep, metrics)");
	EXPECT_ERR("[control]\njournal_rotate = 50\n" BASE,
		   "[control] journal_rotate: '50' is out of range (expected 0 (never) or "
		   "100..10000000 entries per file)");
	EXPECT_ERR("[control]\njournal_keep = 0\n" BASE,
		   "[control] journal_keep: '0' is out of range (expected 1..1000 rotated files)");
	EXPECT_ERR("[control]\ngroup = no-such-group-x\n" BASE,
		   "[control] group: no group 'no-such-group-x' on this system (expected a "
		   "group of the group database, e.g. `groupadd no-such-group-x`, or a numeric "
		   "gid)");
	EXPECT_ERR("[control]\ngroup = a:b\n" BASE,
		   "[control] group: 'a:b' is not a group name (expected letters, digits, '_', "
		   "'-', '.', or a numeric gid)");
	EXPECT_ERR("[control]\nidle_timeout = 50ms\n" BASE,
		   "[control] idle_timeout: '50ms' is out of range (expected 100ms..24h, e.g. "
		   "30s)");
	EXPECT_ERR("[control]\nmax_connections = 8\n" BASE,
		   "[control] max_connections: '8' is out of range (expected 16..1048576 "
		   "connections)");
	EXPECT_ERR("[control]\nmax_connections_per_uid = 0\n" BASE,
		   "[control] max_connections_per_uid: '0' is out of range (expected "
		   "1..1048576 connections of one uid (root is not limited))");
}

static void test_unknown_key(void)
{
	EXPECT_ERR("[port client]\nrole = client\ndevargs = net_null0\n"
		   "[port blue]\nrole = backend\ndevargs = net_null1\ncolour = blue\n",
		   "[port blue] colour: unknown key (expected one of: role, devargs)");
	EXPECT_ERR("[dataplane]\nhash_seed = 1\nflow_capacty = 100\n" BASE,
		   "[dataplane] flow_capacty: unknown key (expected one of: eal_args, hash_seed, "
		   "group_seed, member_seed, flow_capacity, flow_capacity_v6, maglev_size, tcp_syn_timeout, "
		   "tcp_timeout, tcp_fin_timeout, tcp_closed_timeout, udp_timeout, other, "
		   "malformed, mbufs, mbuf_size, rx_desc, tx_desc, handshake_timeout)");
	EXPECT_ERR(PORTS GROUPS "[service web]\nProto = tcp\nweight = 5\n",
		   "[service web] weight: unknown key (expected one of: proto, vip, ports, "
		   "champion, challenger, share)");
	EXPECT_ERR(PORTS "[group blue]\nport = blue\nmember = 02:00:00:00:0b:01\n",
		   "[group blue] member: unknown key (expected one of: port, mode, members)");
}

static void test_missing_key(void)
{
	EXPECT_ERR(PORTS GROUPS "[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 443\n"
		   "challenger = green\n",
		   "[service web] champion: missing (expected a group name)");
	EXPECT_ERR(PORTS GROUPS "[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 443\n"
		   "champion = blue\n",
		   "[service web] challenger: missing (expected a group name)");
	EXPECT_ERR(PORTS GROUPS "[service web]\nvip = 192.0.2.10\n",
		   "[service web] proto: missing (expected tcp or udp)");
	EXPECT_ERR(PORTS GROUPS "[service web]\nproto = udp\nports = 53\n",
		   "[service web] vip: missing (expected an IPv4 or IPv6 address, e.g. "
		   "192.0.2.10 or 2001:db8::10)");
	EXPECT_ERR(PORTS GROUPS "[service web]\nproto = udp\nvip = 192.0.2.10\n",
		   "[service web] ports: missing (expected ports 1..65535 and ranges LO-HI, "
		   "e.g. 443 or 80,443 or 8000-8099)");
	EXPECT_ERR("[port client]\ndevargs = net_null0\n" GROUPS WEB,
		   "[port client] role: missing (expected client, backend or shadow)");
	EXPECT_ERR("[port client]\nrole = client\n" GROUPS WEB,
		   "[port client] devargs: missing (expected DPDK devargs, e.g. 0000:3b:00.0 "
		   "or net_pcap0,rx_pcap=in.pcap)");
	EXPECT_ERR("[port client]\nrole = client\ndevargs =\n" GROUPS WEB,
		   "[port client] devargs: empty (expected DPDK devargs, e.g. 0000:3b:00.0 "
		   "or net_pcap0,rx_pcap=in.pcap)");
	EXPECT_ERR(PORTS "[group blue]\nmode = port\n" WEB,
		   "[group blue] port: missing (expected the name of a port with role backend)");
	EXPECT_ERR(PORTS GROUPS SVC("web", "tcp", "192.0.2.10", "443", "blue", "green", ""),
		   "[service web] share: empty (expected 0%..100%, e.g. 5%, 0.5%, 50bp)");
	/* Whole sections missing. */
	EXPECT_ERR("[dataplane]\nhash_seed = 7\n",
		   "no [port NAME] section (expected 1..16 ports, exactly one with role client)");
	EXPECT_ERR(PORTS WEB,
		   "no [group NAME] section (expected 1..32 groups)");
	EXPECT_ERR(PORTS GROUPS,
		   "no [service NAME] section (expected 1..128 services)");
	EXPECT_ERR("",
		   "no [port NAME] section (expected 1..16 ports, exactly one with role client)");
}

static void test_bad_role(void)
{
	EXPECT_ERR("[port client]\nrole = server\ndevargs = net_null0\n" GROUPS WEB,
		   "[port client] role: 'server' is not a role (expected client, backend or "
		   "shadow)");
}

static void test_client_ports(void)
{
	EXPECT_ERR("[port blue]\nrole = backend\ndevargs = net_null1\n"
		   "[port green]\nrole = backend\ndevargs = net_null2\n" GROUPS WEB,
		   "no port with role client (expected exactly one [port NAME] with role = "
		   "client)");
	EXPECT_ERR(PORTS "[port c2]\nrole = client\ndevargs = net_null3\n" GROUPS WEB,
		   "[port c2] role: a second client port, after [port client] (expected "
		   "exactly one client port)");
	EXPECT_ERR("[port client]\nrole = client\ndevargs = net_null0\n"
		   "[port mirror]\nrole = shadow\ndevargs = net_null3\n" GROUPS WEB,
		   "no port with role backend (expected at least one [port NAME] with role = "
		   "backend)");
	EXPECT_ERR("[port client]\nrole = client\n"
		   "devargs = net_pcap0,rx_pcap=a.pcap\n"
		   "[port blue]\nrole = backend\ndevargs = net_pcap0,rx_pcap=b.pcap\n" GROUPS WEB,
		   "[port blue] devargs: device 'net_pcap0' is already used by [port client] "
		   "(expected one port per device)");
}

static void test_too_many_ports(void)
{
	reset_text();
	add("[port client]\nrole = client\ndevargs = net_null99\n");
	for (int i = 1; i < SL_MAX_PORTS; i++)
		add("[port p%d]\nrole = backend\ndevargs = net_null%d\n", i, i);
	add("[group blue]\nport = p1\n[group green]\nport = p2\n%s", WEB);
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.nports, SL_MAX_PORTS);
	CU_ASSERT_STRING_EQUAL(cfg.ports[15].name, "p15");
	CU_ASSERT_STRING_EQUAL(cfg.ports[15].devargs, "net_null15");
	reset_text();
	add("[port client]\nrole = client\ndevargs = net_null99\n");
	for (int i = 1; i <= SL_MAX_PORTS; i++)
		add("[port p%d]\nrole = backend\ndevargs = net_null%d\n", i, i);
	add("[group blue]\nport = p1\n[group green]\nport = p2\n%s", WEB);
	EXPECT_ERR(text, "[port p16]: too many ports (expected at most 16)");
}

static void test_too_many_groups(void)
{
	reset_text();
	add("%s", PORTS);
	for (int i = 0; i < SL_MAX_GROUPS; i++)
		add("[group g%d]\nport = %s\n", i, i % 2 ? "green" : "blue");
	add("%s", SVC("web", "tcp", "192.0.2.10", "443", "g0", "g31", "5%"));
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.ngroups, SL_MAX_GROUPS);
	CU_ASSERT_EQUAL(cfg.services[0].challenger, 31);
	CU_ASSERT_EQUAL(cfg.groups[31].port, 2);
	add("[group g%d]\nport = blue\n", SL_MAX_GROUPS);
	EXPECT_ERR(text, "[group g32]: too many groups (expected at most 32)");
}

static void build_services(int n)
{
	reset_text();
	add("%s%s", PORTS, GROUPS);
	for (int i = 0; i < n; i++)
		add("[service s%d]\nproto = %s\nvip = 192.0.2.%d\nports = %d\nchampion = blue\n"
		    "challenger = green\nshare = %dbp\n", i, i % 2 ? "udp" : "tcp", 1 + i % 7,
		    1000 + i, i);
}

static void test_too_many_services(void)
{
	build_services(SL_MAX_SERVICES);
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.nservices, SL_MAX_SERVICES);
	CU_ASSERT_STRING_EQUAL(cfg.services[127].name, "s127");
	CU_ASSERT_EQUAL(cfg.services[127].proto, 17);
	CU_ASSERT_EQUAL(cfg.services[127].share_bp, 127);
	CU_ASSERT_EQUAL(cfg.services[127].ranges[0].lo, 1127);
	CU_ASSERT_EQUAL(cfg.services[127].vip[3], 1 + 127 % 7);
	build_services(SL_MAX_SERVICES + 1);
	EXPECT_ERR(text, "[service s128]: too many services (expected at most 128)");
}

static void test_share_in_config(void)
{
	EXPECT_ERR(PORTS GROUPS SVC("web", "tcp", "192.0.2.10", "443", "blue", "green", "120%"),
		   "[service web] share: '120%' is above 100% (expected 0%..100%, e.g. 5%, "
		   "0.5%, 50bp)");
	EXPECT_ERR(PORTS GROUPS SVC("web", "tcp", "192.0.2.10", "443", "blue", "green", "5"),
		   "[service web] share: '5' has no unit (expected % or bp, e.g. 5% or 50bp)");
	EXPECT_ERR(PORTS GROUPS SVC("web", "tcp", "192.0.2.10", "443", "blue", "green",
				   "0.005%"),
		   "[service web] share: '0.005%' has more than two decimals, not a whole "
		   "basis point (expected steps of 0.01% = 1bp, e.g. 0.05%)");
	/* Missing share means 0 %. */
	EXPECT_OK(PORTS GROUPS "[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 443\n"
		  "champion = blue\nchallenger = green\n");
	CU_ASSERT_EQUAL(cfg.services[0].share_bp, 0);
}

static void test_share_parse(void)
{
	static const struct {
		const char *s;
		uint16_t bp;
	} good[] = {
		{ "5%", 500 }, { "0.5%", 50 }, { "0.05%", 5 }, { "50bp", 50 },
		{ "100%", 10000 }, { "0%", 0 }, { "10000bp", 10000 }, { "0bp", 0 },
		{ "0.01%", 1 }, { "12.34%", 1234 }, { "99.99%", 9999 }, { "100.00%", 10000 },
		{ "05%", 500 }, { "1bp", 1 },
	};
	static const struct {
		const char *s;
		const char *err;
	} bad[] = {
		{ "100.01%", "'100.01%' is above 100% (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ "120%", "'120%' is above 100% (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ "99999999999999999999%",
		  "'99999999999999999999%' is above 100% (expected 0%..100%, e.g. 5%, 0.5%, "
		  "50bp)" },
		{ "10001bp", "'10001bp' is above 10000bp (expected 0bp..10000bp, e.g. 50bp)" },
		{ "", "empty (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ "%", "'%' is not a share (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ "bp", "'bp' is not a share (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ "-1%", "'-1%' is not a share (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ "abc", "'abc' is not a share (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ ".5%", "'.5%' is not a share (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ "5.%", "'5.%' is not a share (expected 0%..100%, e.g. 5%, 0.5%, 50bp)" },
		{ "5x", "'5x' has an unknown unit 'x' (expected % or bp, e.g. 5% or 50bp)" },
		{ "5%%", "'5%%' has an unknown unit '%%' (expected % or bp, e.g. 5% or 50bp)" },
		{ "5", "'5' has no unit (expected % or bp, e.g. 5% or 50bp)" },
		{ "5 %", "'5 %' has a blank before the unit (expected the unit right after the "
			 "number, e.g. 5% or 50bp)" },
		{ "0.005%", "'0.005%' has more than two decimals, not a whole basis point "
			    "(expected steps of 0.01% = 1bp, e.g. 0.05%)" },
		{ "0.5bp", "'0.5bp': basis points must be a whole number (expected "
			   "0bp..10000bp, e.g. 50bp)" },
	};
	char e[SL_ERR_LEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint16_t bp = 0xffff;

		CU_ASSERT_EQUAL(sl_share_parse(good[i].s, &bp, e, sizeof(e)), 0);
		if (bp != good[i].bp)
			fprintf(stderr, "\n  share '%s': got %u, want %u\n", good[i].s, bp,
				good[i].bp);
		CU_ASSERT_EQUAL(bp, good[i].bp);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint16_t bp = 777;

		e[0] = '\0';
		CU_ASSERT_EQUAL(sl_share_parse(bad[i].s, &bp, e, sizeof(e)), -1);
		CU_ASSERT_EQUAL(bp, 777);
		if (strcmp(e, bad[i].err))
			fprintf(stderr, "\n  share '%s':\n  want: %s\n  got:  %s\n", bad[i].s,
				bad[i].err, e);
		CU_ASSERT_STRING_EQUAL(e, bad[i].err);
	}
}

static void test_duration_parse(void)
{
	static const struct {
		const char *s;
		uint32_t ms;
	} good[] = {
		{ "30s", 30000 }, { "500ms", 500 }, { "2m", 120000 }, { "1h", 3600000 },
		{ "45", 45000 }, { "1ms", 1 }, { "168h", 604800000 }, { "604800", 604800000 },
	};
	static const char *const bad[] = { "0s", "0", "0ms", "169h", "604801s", "1.5s", "s",
					   "-1s", "5 s", "5d", "99999999999999999999999h" };
	char e[SL_ERR_LEN], want[SL_ERR_LEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint32_t ms = 0;

		CU_ASSERT_EQUAL(sl_duration_parse(good[i].s, &ms, e, sizeof(e)), 0);
		CU_ASSERT_EQUAL(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t ms = 7;
		bool range = i < 5 || i == 10;

		snprintf(want, sizeof(want), "'%s' is %s (expected 1ms..7 days as a whole number "
			 "with ms, s, m or h, e.g. 500ms, 30s, 2m, 1h; a bare number is seconds)",
			 bad[i], range ? "out of range" : "not a duration");
		CU_ASSERT_EQUAL(sl_duration_parse(bad[i], &ms, e, sizeof(e)), -1);
		CU_ASSERT_EQUAL(ms, 7);
		if (strcmp(e, want))
			fprintf(stderr, "\n  want: %s\n  got:  %s\n", want, e);
		CU_ASSERT_STRING_EQUAL(e, want);
	}
}

static void test_bad_duration(void)
{
	EXPECT_ERR("[dataplane]\ntcp_timeout = 1.5s\n" BASE,
		   "[dataplane] tcp_timeout: '1.5s' is not a duration (expected 1ms..7 days as "
		   "a whole number with ms, s, m or h, e.g. 500ms, 30s, 2m, 1h; a bare number "
		   "is seconds)");
	EXPECT_ERR("[dataplane]\nudp_timeout = 8000000s\n" BASE,
		   "[dataplane] udp_timeout: '8000000s' is out of range (expected 1ms..7 days "
		   "as a whole number with ms, s, m or h, e.g. 500ms, 30s, 2m, 1h; a bare "
		   "number is seconds)");
	EXPECT_ERR("[dataplane]\ntcp_syn_timeout =\n" BASE,
		   "[dataplane] tcp_syn_timeout: empty (expected 1ms..7 days as a whole number "
		   "with ms, s, m or h, e.g. 500ms, 30s, 2m, 1h; a bare number is seconds)");
}

static void test_bad_mac(void)
{
	static const struct {
		const char *members;
		const char *err;
	} cases[] = {
		{ "02:00:00:00:0c:01, 02:00:00:00:0c",
		  "'02:00:00:00:0c' is not a MAC address (expected aa:bb:cc:dd:ee:ff)" },
		{ "02:00:00:00:0c:0g",
		  "'02:00:00:00:0c:0g' is not a MAC address (expected aa:bb:cc:dd:ee:ff)" },
		{ "02-00-00-00-0c-01",
		  "'02-00-00-00-0c-01' is not a MAC address (expected aa:bb:cc:dd:ee:ff)" },
		{ "02:00:00:00:0c:01:02",
		  "'02:00:00:00:0c:01:02' is not a MAC address (expected aa:bb:cc:dd:ee:ff)" },
		{ "01:00:5e:00:00:01",
		  "'01:00:5e:00:00:01' is a multicast address (expected a unicast MAC)" },
		{ "ff:ff:ff:ff:ff:ff",
		  "'ff:ff:ff:ff:ff:ff' is the broadcast address (expected a unicast MAC)" },
		{ "00:00:00:00:00:00",
		  "'00:00:00:00:00:00' is the zero address (expected a unicast MAC)" },
		{ "02:00:00:00:0c:01,,02:00:00:00:0c:02",
		  "entry 2 is empty (expected comma-separated MAC addresses aa:bb:cc:dd:ee:ff)" },
		{ "02:00:00:00:0c:01,",
		  "entry 2 is empty (expected comma-separated MAC addresses aa:bb:cc:dd:ee:ff)" },
	};
	char s[2048], want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(s, sizeof(s), "%s[group green]\nport = green\nmode = mac\n"
			 "members = %s\n%s", PORTS GROUP_BLUE, cases[i].members, WEB);
		snprintf(want, sizeof(want), "[group green] members: %s", cases[i].err);
		EXPECT_ERR(s, want);
	}
}

static void test_duplicate_member(void)
{
	EXPECT_ERR(PORTS GROUP_BLUE "[group green]\nport = green\nmode = mac\n"
		   "members = 02:00:00:00:0c:01, 02:00:00:00:0c:02, 02:00:00:00:0C:01\n" WEB,
		   "[group green] members: '02:00:00:00:0C:01' appears twice, as entries 1 and 3 "
		   "(expected distinct MACs)");
}

/* iniparser 4.1 reads lines of at most 1022 characters: 56 MACs fit. */
static void test_many_members(void)
{
	reset_text();
	add("%s%s[group green]\nport = green\nmode = mac\nmembers = ", PORTS, GROUP_BLUE);
	for (int i = 0; i < 56; i++)
		add("%s02:00:00:00:%02x:%02x", i ? "," : "", i / 7, i);
	add("\n%s", WEB);
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.groups[1].nmembers, 56);
	CU_ASSERT_EQUAL(cfg.groups[1].macs[55][4], 55 / 7);
	CU_ASSERT_EQUAL(cfg.groups[1].macs[55][5], 55);
	CU_ASSERT_EQUAL(cfg.groups[1].macs[0][0], 2);
}

static void test_members_and_mode(void)
{
	EXPECT_ERR(PORTS "[group blue]\nport = blue\nmembers = 02:00:00:00:0b:01\n"
		   GROUP_GREEN WEB,
		   "[group blue] members: not allowed in port mode (expected mode = mac to use "
		   "members, or no members)");
	EXPECT_ERR(PORTS GROUP_BLUE "[group green]\nport = green\nmode = mac\n" WEB,
		   "[group green] members: missing (expected 1..256 MAC addresses in mac mode, "
		   "e.g. 02:00:00:00:0c:01, 02:00:00:00:0c:02)");
	EXPECT_ERR(PORTS GROUP_BLUE "[group green]\nport = green\nmode = dsr\n" WEB,
		   "[group green] mode: 'dsr' is not a mode (expected port or mac)");
}

static void test_group_port(void)
{
	EXPECT_ERR(PORTS GROUP_BLUE "[group green]\nport = grene\n" WEB,
		   "[group green] port: no port named 'grene' (ports: client, blue, green)");
	EXPECT_ERR(PORTS GROUP_BLUE "[group green]\nport = client\n" WEB,
		   "[group green] port: port 'client' has role client (expected a port with "
		   "role backend: blue, green)");
	EXPECT_ERR(PORTS "[port mirror]\nrole = shadow\ndevargs = net_null3\n" GROUP_BLUE
		   "[group green]\nport = mirror\n" WEB,
		   "[group green] port: port 'mirror' has role shadow (expected a port with "
		   "role backend: blue, green)");
}

static void test_service_groups(void)
{
	EXPECT_ERR(PORTS GROUPS SVC("web", "tcp", "192.0.2.10", "443", "blu", "green", "5%"),
		   "[service web] champion: no group named 'blu' (groups: blue, green)");
	EXPECT_ERR(PORTS GROUPS SVC("web", "tcp", "192.0.2.10", "443", "blue", "red", "5%"),
		   "[service web] challenger: no group named 'red' (groups: blue, green)");
	EXPECT_ERR(PORTS GROUPS SVC("web", "tcp", "192.0.2.10", "443", "blue", "blue", "5%"),
		   "[service web] challenger: 'blue' is also the champion (expected a different "
		   "group)");
	/* Two port-mode groups on one port: the split would be invisible. */
	EXPECT_ERR(PORTS GROUPS "[group blue2]\nport = blue\n"
		   SVC("web", "tcp", "192.0.2.10", "443", "blue", "blue2", "5%"),
		   "[service web] challenger: group 'blue2' leaves on port 'blue' like champion "
		   "'blue', both in port mode (expected groups on different ports, or mode = "
		   "mac)");
	/* ... but a mac-mode group may share the port, and a group many services. */
	EXPECT_OK(PORTS GROUPS "[group green2]\nport = blue\nmode = mac\n"
		  "members = 02:00:00:00:0d:01\n"
		  SVC("web", "tcp", "192.0.2.10", "443", "blue", "green2", "5%")
		  SVC("web2", "tcp", "192.0.2.11", "443", "blue", "green2", "5%"));
	CU_ASSERT_EQUAL(cfg.services[1].challenger, 2);
	CU_ASSERT_EQUAL(cfg.groups[2].port, 1);
}

static void test_bad_vip(void)
{
	static const struct {
		const char *vip;
		const char *what;
	} cases[] = {
		{ "192.0.2.300", "is not an IPv4 or IPv6 address" },
		{ "192.0.2.0/24", "is not an IPv4 or IPv6 address" },
		{ "web.example", "is not an IPv4 or IPv6 address" },
		{ "2001:db8::g", "is not an IPv4 or IPv6 address" },
		{ "0.0.0.0", "is not a unicast address" },
		{ "224.0.0.1", "is not a unicast address" },
		{ "255.255.255.255", "is not a unicast address" },
		{ "::", "is not a unicast address" },
		{ "ff02::1", "is not a unicast address" },
	};
	char s[2048], want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(s, sizeof(s), PORTS GROUPS "[service web]\nproto = tcp\nvip = %s\n"
			 "ports = 443\nchampion = blue\nchallenger = green\n", cases[i].vip);
		snprintf(want, sizeof(want), "[service web] vip: '%s' %s (expected an IPv4 or "
			 "IPv6 address, e.g. 192.0.2.10 or 2001:db8::10)", cases[i].vip,
			 cases[i].what);
		EXPECT_ERR(s, want);
	}
	EXPECT_ERR(PORTS GROUPS SVC("web", "sctp", "192.0.2.10", "443", "blue", "green", "5%"),
		   "[service web] proto: 'sctp' is not a protocol (expected tcp or udp)");
}

#define PORTS_EXPECT "ports 1..65535 and ranges LO-HI, e.g. 443 or 80,443 or 8000-8099"

static void test_bad_ports(void)
{
	static const struct {
		const char *ports;
		const char *err;
	} cases[] = {
		{ "0", "'0' is out of range (expected " PORTS_EXPECT ")" },
		{ "70000", "'70000' is out of range (expected " PORTS_EXPECT ")" },
		{ "80, 99999999999999999999", "'99999999999999999999' is out of range (expected "
					      PORTS_EXPECT ")" },
		{ "1-65536", "'1-65536' is out of range (expected " PORTS_EXPECT ")" },
		{ "90-80", "'90-80' is a reversed range (expected LO-HI with LO <= HI, e.g. "
			   "8000-8099)" },
		{ "http", "'http' is not a port or range (expected " PORTS_EXPECT ")" },
		{ "-80", "'-80' is not a port or range (expected " PORTS_EXPECT ")" },
		{ "80-", "'80-' is not a port or range (expected " PORTS_EXPECT ")" },
		{ "80 443", "'80 443' is not a port or range (expected " PORTS_EXPECT ")" },
		{ "80,,443", "item 2 of '80,,443' is empty (expected " PORTS_EXPECT ")" },
		{ "80,443,", "item 3 of '80,443,' is empty (expected " PORTS_EXPECT ")" },
		{ "8000-8099, 8080", "'8080' overlaps '8000-8099' (expected each port at most "
				     "once)" },
		{ "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
		  "more than 16 items in '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17' (expected "
		  "at most 16 ports or ranges)" },
	};
	char s[2048], want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(s, sizeof(s), PORTS GROUPS "[service web]\nproto = tcp\n"
			 "vip = 192.0.2.10\nports = %s\nchampion = blue\nchallenger = green\n",
			 cases[i].ports);
		snprintf(want, sizeof(want), "[service web] ports: %s", cases[i].err);
		EXPECT_ERR(s, want);
	}
	EXPECT_OK(PORTS GROUPS SVC("web", "tcp", "192.0.2.10",
				   "1,2,3,4,5,6,7,8,9,10,11,12,13,14, 100 - 200 ,65535", "blue",
				   "green", "0bp"));
	CU_ASSERT_EQUAL(cfg.services[0].nranges, 16);
	CU_ASSERT_EQUAL(cfg.services[0].ranges[14].lo, 100);
	CU_ASSERT_EQUAL(cfg.services[0].ranges[14].hi, 200);
	CU_ASSERT_EQUAL(cfg.services[0].ranges[15].lo, 65535);
	CU_ASSERT_EQUAL(cfg.services[0].ranges[15].hi, 65535);
}

static void test_overlapping_services(void)
{
	EXPECT_ERR(PORTS GROUPS
		   SVC("web", "tcp", "192.0.2.10", "8000-8099", "blue", "green", "5%")
		   SVC("web2", "tcp", "192.0.2.10", "443, 8080-9000", "blue", "green", "5%"),
		   "[service web2] ports: port 8080 of tcp 192.0.2.10 is already served by "
		   "[service web] (expected ports no other service uses on the same proto and "
		   "vip)");
	EXPECT_ERR(PORTS GROUPS
		   SVC("web6", "tcp", "2001:db8::10", "443", "blue", "green", "5%")
		   SVC("alt6", "tcp", "2001:DB8:0::10", "80,443", "blue", "green", "5%"),
		   "[service alt6] ports: port 443 of tcp 2001:db8::10 is already served by "
		   "[service web6] (expected ports no other service uses on the same proto and "
		   "vip)");
	/* Other proto, other address, other family, adjacent ports: no overlap. */
	EXPECT_OK(PORTS GROUPS
		  SVC("web", "tcp", "192.0.2.10", "8000-8099", "blue", "green", "5%")
		  SVC("quic", "udp", "192.0.2.10", "8000-8099", "blue", "green", "5%")
		  SVC("other", "tcp", "192.0.2.11", "8000-8099", "blue", "green", "5%")
		  SVC("mapped", "tcp", "::ffff:192.0.2.10", "8000-8099", "blue", "green", "5%")
		  SVC("next", "tcp", "192.0.2.10", "7999, 8100", "blue", "green", "5%"));
	CU_ASSERT_EQUAL(cfg.nservices, 5);
	CU_ASSERT_EQUAL(cfg.services[3].family, 6);
}

static void test_maglev_size(void)
{
	EXPECT_ERR("[dataplane]\nmaglev_size = 65536\n" BASE,
		   "[dataplane] maglev_size: '65536' is not a prime (expected a prime 3..65537, "
		   "e.g. 65537)");
	EXPECT_ERR("[dataplane]\nmaglev_size = 65539\n" BASE,
		   "[dataplane] maglev_size: '65539' is out of range (expected a prime "
		   "3..65537, e.g. 65537)");
	EXPECT_ERR("[dataplane]\nmaglev_size = 2\n" BASE,
		   "[dataplane] maglev_size: '2' is out of range (expected a prime 3..65537, "
		   "e.g. 65537)");
	/* Two members, table of 2 would not do: must be greater. */
	EXPECT_ERR("[dataplane]\nmaglev_size = 3\n" PORTS GROUP_BLUE
		   "[group green]\nport = green\nmode = mac\nmembers = 02:00:00:00:0c:01, "
		   "02:00:00:00:0c:02, 02:00:00:00:0c:03\n" WEB,
		   "[dataplane] maglev_size: 3 is not greater than the 3 members of [group "
		   "green] (expected a prime > 3, e.g. 65537)");
	EXPECT_OK("[dataplane]\nmaglev_size = 3\n" BASE);
	CU_ASSERT_EQUAL(cfg.maglev_size, 3);
	EXPECT_OK("[dataplane]\nmaglev_size = 0x101\n" BASE);
	CU_ASSERT_EQUAL(cfg.maglev_size, 257);
}

static void test_bad_integers(void)
{
	EXPECT_ERR("[dataplane]\nhash_seed = 0x\n" BASE,
		   "[dataplane] hash_seed: '0x' is not an integer (expected a 64-bit decimal "
		   "or 0x hex number, e.g. 0x5eed)");
	EXPECT_ERR("[dataplane]\nhash_seed = 18446744073709551616\n" BASE,
		   "[dataplane] hash_seed: '18446744073709551616' is not an integer (expected "
		   "a 64-bit decimal or 0x hex number, e.g. 0x5eed)");
	EXPECT_ERR("[dataplane]\ngroup_seed = -1\n" BASE,
		   "[dataplane] group_seed: '-1' is not an integer (expected a 64-bit decimal "
		   "or 0x hex number; 0 derives it from hash_seed)");
	EXPECT_ERR("[dataplane]\nflow_capacity = 0\n" BASE,
		   "[dataplane] flow_capacity: '0' is out of range (expected 1..16777216 IPv4 "
		   "flows per worker lcore)");
	EXPECT_ERR("[dataplane]\nflow_capacity = 1e6\n" BASE,
		   "[dataplane] flow_capacity: '1e6' is not an integer (expected 1..16777216 "
		   "IPv4 flows per worker lcore)");
	EXPECT_ERR("[dataplane]\nflow_capacity_v6 = 16777217\n" BASE,
		   "[dataplane] flow_capacity_v6: '16777217' is out of range (expected "
		   "0..16777216 IPv6 flows per worker lcore; 0 is a quarter of flow_capacity, "
		   "at least 1024)");
	EXPECT_ERR("[dataplane]\nmbufs = 1000\n" BASE,
		   "[dataplane] mbufs: '1000' is out of range (expected 0 (computed by "
		   "sluice-dp) or 1024..16777216)");
	EXPECT_ERR("[dataplane]\nmbuf_size = 128\n" BASE,
		   "[dataplane] mbuf_size: '128' is out of range (expected 256..65535 bytes of "
		   "data room)");
	EXPECT_ERR("[dataplane]\nrx_desc = 1000\n" BASE,
		   "[dataplane] rx_desc: '1000' is not a power of two (expected a power of two "
		   "64..16384)");
	EXPECT_ERR("[dataplane]\ntx_desc = 32768\n" BASE,
		   "[dataplane] tx_desc: '32768' is out of range (expected a power of two "
		   "64..16384)");
	EXPECT_ERR("[dataplane]\nother = forward\n" BASE,
		   "[dataplane] other: 'forward' is not an action (expected flood or drop)");
	EXPECT_ERR("[dataplane]\nmalformed = flood\n" BASE,
		   "[dataplane] malformed: 'flood' is not an action (expected drop or forward)");
}

static void test_duplicates(void)
{
	EXPECT_ERR(PORTS GROUPS "[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 443\n"
		   "champion = blue\nchallenger = green\nshare = 5%\nShare = 50%\n",
		   "[service web] share: set twice, at lines 22 and 23 (expected each key once "
		   "per section)");
	EXPECT_ERR(BASE "[port blue]\nrole = backend\ndevargs = net_null5\n",
		   "[port blue]: appears twice, at lines 4 and 23 (expected each section once)");
	EXPECT_ERR(BASE "[PORT  Blue]\n",
		   "[port  blue]: name ' blue' is not valid (expected 1..31 characters a-z, "
		   "0-9, _ or -)");
	EXPECT_ERR("[dataplane]\n" BASE "[dataplane]\n",
		   "[dataplane]: appears twice, at lines 1 and 24 (expected each section once)");
}

static void test_syntax_error(void)
{
	EXPECT_ERR(PORTS "[group blue]\nport blue\n",
		   "line 11: syntax error: 'port blue' (expected [SECTION], KEY = VALUE or a ; "
		   "comment)");
	EXPECT_ERR("; comment\n[port client\nrole = client\n",
		   "line 2: syntax error: '[port client' (expected [SECTION], KEY = VALUE or "
		   "a ; comment)");
	EXPECT_ERR("top = 1\n" BASE,
		   "line 1: key 'top' is outside any section (expected a [SECTION] header "
		   "before it)");
	EXPECT_ERR(PORTS "[group blue]\nport = \"blue\n",
		   "line 11: syntax error: unterminated quote in 'port = \"blue' (expected KEY = "
		   "\"VALUE\")");
	EXPECT_ERR(PORTS "[group blue]\nport = 'blue' green\n",
		   "line 11: syntax error: text after the closing quote in 'port = 'blue' "
		   "green' (expected nothing or a ; comment after it)");
	/* iniparser takes no comment after a section header. */
	EXPECT_ERR("[port client] ; the client side\n",
		   "line 1: syntax error: '[port client] ; the client side' (expected [SECTION], "
		   "KEY = VALUE or a ; comment)");
	EXPECT_ERR(PORTS "[port x]y]\n",
		   "line 10: syntax error: '[port x]y]' (expected [SECTION])");
	/* a line that quotes iniparser's own words is a syntax error on its
	 * line (found by tests/fuzz/fuzz_config: it was taken for iniparser's
	 * "input line too long" and named "line 0", or a number in the text) */
	EXPECT_ERR(PORTS "[port x]\ninput line too long (0 is the main lcore)\n",
		   "line 11: syntax error: 'input line too long (0 is the main lcore)' "
		   "(expected [SECTION], KEY = VALUE or a ; comment)");
	/* the scan joins continued lines as iniparser does: the blanks at the
	 * end of the whole logical line go, so "blue \ \" continued by an
	 * empty line ends in a '\' again and takes the next line too (found
	 * by tests/fuzz/fuzz_ini: the scan ended the line at the empty one and
	 * took mode for a key of its own, which iniparser had not) */
	EXPECT_ERR(PORTS "[group blue]\nport = blue \\ \\\n\nmode = port\n",
		   "[group blue] port: no port named 'blue mode = port' (ports: client, blue, "
		   "green)");
	EXPECT_ERR(PORTS "[port x]\nsyntax error in (7):\n",
		   "line 11: syntax error: 'syntax error in (7):' (expected [SECTION], KEY = "
		   "VALUE or a ; comment)");
	reset_text();
	add("[port client]\nrole = client\ndevargs = net_null0,x=");
	for (int i = 0; i < 1100; i++)
		add("y");
	add("\n");
	EXPECT_ERR(text, "line 3: line too long (expected at most 1022 characters)");
}

static void test_file_errors(void)
{
	int rc;

	memset(&cfg, 0xa5, sizeof(cfg));
	rc = sl_config_load("/nonexistent/sluice.ini", &cfg, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT(cfg_is_zero());
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/sluice.ini: cannot read: No such file or "
			       "directory");
	/* A message that does not fit is cut visibly, never overrun. */
	memset(err, 'x', sizeof(err));
	rc = sl_config_load("/nonexistent/sluice.ini", &cfg, err, 20);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/slu\xe2\x80\xa6");
	CU_ASSERT_EQUAL(err[20], 'x');
}

/* Load len bytes (NULs and all) from a fresh temporary file. */
static int load_bytes(const char *s, size_t len)
{
	int fd, rc;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/sluice-config-XXXXXX.ini");
	fd = mkstemps(tmp_path, 4);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, s, len) == (ssize_t)len);
	close(fd);
	memset(&cfg, 0xa5, sizeof(cfg));
	err[0] = '\0';
	rc = sl_config_load(tmp_path, &cfg, err, sizeof(err));
	unlink(tmp_path);
	return rc;
}

static void expect_bytes_err(const char *s, size_t len, const char *msg, int line)
{
	char want[1024];
	int rc = load_bytes(s, len);

	snprintf(want, sizeof(want), "%s: %s", tmp_path, msg);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT(cfg_is_zero());
	if (strcmp(err, want)) {
		fprintf(stderr, "\n  test_config.c:%d:\n  want: %s\n  got:  %s\n", line, want, err);
		CU_FAIL("error text differs");
	}
}

#define EXPECT_BYTES_ERR(s, msg) expect_bytes_err(s, sizeof(s) - 1, msg, __LINE__)
#define ZERO_SHARE PORTS GROUPS SVC("web", "tcp", "192.0.2.10", "443", "blue", "green", "0%")

/* What the line scan checks is what iniparser reads: bytes they could read
 * differently are refused with the line. */
static void test_hidden_bytes(void)
{
	/* the visible text says 0%; iniparser read the share after the NUL */
	EXPECT_BYTES_ERR(ZERO_SHARE "\0\nshare = 50%\n",
			 "line 23: a NUL byte (expected text: the lines after it would be read "
			 "by one parser and not the other)");
	EXPECT_BYTES_ERR(ZERO_SHARE "; a comment\0share = 50%\n",
			 "line 23: a NUL byte (expected text: the lines after it would be read "
			 "by one parser and not the other)");
	EXPECT_BYTES_ERR("\0" ZERO_SHARE, "line 1: a NUL byte (expected text: the lines after "
			 "it would be read by one parser and not the other)");
	/* a lone CR: one line for both parsers, two in an editor */
	EXPECT_BYTES_ERR(ZERO_SHARE "; note\rshare = 50%\n",
			 "line 23: a carriage return inside a line (expected LF or CR LF line "
			 "ends)");
	EXPECT_BYTES_ERR(PORTS "[group blue]\rport = green\n",
			 "line 10: a carriage return inside a line (expected LF or CR LF line "
			 "ends)");
	EXPECT_BYTES_ERR(ZERO_SHARE "\r", "line 23: a carriage return inside a line (expected "
			 "LF or CR LF line ends)");
	EXPECT_BYTES_ERR(ZERO_SHARE "; \v\n", "line 23: control byte 0x0b (expected text: "
			 "printable characters, tabs and line ends)");
	EXPECT_BYTES_ERR(ZERO_SHARE "\f\n", "line 23: control byte 0x0c (expected text: "
			 "printable characters, tabs and line ends)");
	EXPECT_BYTES_ERR(PORTS "[group blue]\nport = blue\x1b[2K\n",
			 "line 11: control byte 0x1b (expected text: printable characters, tabs "
			 "and line ends)");
	EXPECT_BYTES_ERR(PORTS "[group blue]\nport = blue\x7f\n",
			 "line 11: control byte 0x7f (expected text: printable characters, tabs "
			 "and line ends)");
	/* CR LF line ends, tabs and UTF-8 text are fine */
	reset_text();
	for (const char *p = BASE "; caf\xc3\xa9\t\xe2\x80\xa6\n"; *p; p++)
		add(*p == '\n' ? "\r\n" : "%c", *p);
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.services[0].share_bp, 500);
	CU_ASSERT_STRING_EQUAL(cfg.ports[2].devargs, "net_null2");
	EXPECT_OK(PORTS GROUPS "[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 80, \\\r\n"
		  "\t443\r\nchampion = blue\nchallenger = green\nshare = 5%\r\n");
	CU_ASSERT_EQUAL(cfg.services[0].nranges, 2);
	/* a line iniparser cuts: refused, not read in two parts */
	reset_text();
	add("%s[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 443\nchampion = blue\n"
	    "challenger = green\n; ", PORTS GROUPS);
	for (int i = 0; i < 1020; i++)
		add("x");
	add("share = 50%%\n");
	EXPECT_ERR(text, "line 22: line too long (expected at most 1022 characters)");
}

/* The two parsers on random text: whenever both accept, iniparser holds
 * exactly the sections and keys the scan saw. */
struct fz {
	char names[64][80];
	unsigned n;
	char sec[80];
	int have_sec;
};

static int fz_add(struct fz *f, const char *name)
{
	for (unsigned i = 0; i < f->n; i++)
		if (!strcmp(f->names[i], name))
			return -1; /* duplicates are the callbacks' to refuse */
	if (f->n == 64 || strlen(name) >= sizeof(f->names[0]))
		return -1;
	snprintf(f->names[f->n++], sizeof(f->names[0]), "%s", name);
	return 0;
}

static int fz_section(void *ctx, char *line, unsigned lineno)
{
	struct fz *f = ctx;
	char *end = strchr(line, ']'), *inner;

	(void)lineno;
	if (end[1])
		return -1; /* as the configuration: nothing after the first ']' */
	*end = '\0';
	inner = sl_ini_strip(line + 1);
	sl_ini_lower(inner);
	if (!*inner || strlen(inner) >= sizeof(f->sec))
		return -1;
	snprintf(f->sec, sizeof(f->sec), "%s", inner);
	f->have_sec = 1;
	return fz_add(f, inner);
}

static int fz_key(void *ctx, char *key, unsigned lineno)
{
	struct fz *f = ctx;
	char full[200];

	(void)lineno;
	if (!f->have_sec || !*key)
		return -1;
	snprintf(full, sizeof(full), "%s:%s", f->sec, key);
	return fz_add(f, full);
}

static void test_parsers_agree(void)
{
	static const char alphabet[] = "ab [] =;#\"'\\\n\n\n\r\t\v\0\x01\x7f\xc3\xa9Z";
	unsigned seed = 12345, accepted = 0, refused_bytes = 0;
	char buf[200], msg[SL_ERR_LEN];

	for (int round = 0; round < 3000; round++) {
		size_t len = 0, got;
		struct fz f;
		dictionary *d;
		char *t;
		int fd, rc, rc2;

		/* well-formed lines, some with a byte put in */
		for (int line = 0; line < 6; line++) {
			static const char *const frags[] = {
				"[s a]\n", "[b]\n", "k = v\n", "K = \"x;y\"\n", "k2 = 'q' ; c\n",
				"a = b \\\n c\n", "; c\n", "[ C ]\n", "k3=\n", "\n", "k4 = v # c\n",
			};
			const char *fr;
			size_t fl, at;

			seed = seed * 1103515245 + 12345;
			fr = frags[(seed >> 8) % (sizeof(frags) / sizeof(frags[0]))];
			fl = strlen(fr);
			memcpy(buf + len, fr, fl);
			seed = seed * 1103515245 + 12345;
			if ((seed >> 16) % 3 == 0) {
				at = (seed >> 8) % fl;
				memmove(buf + len + at + 1, buf + len + at, fl - at);
				buf[len + at] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
				fl++;
			}
			len += fl;
		}
		snprintf(tmp_path, sizeof(tmp_path), "/tmp/sluice-config-XXXXXX.ini");
		fd = mkstemps(tmp_path, 4);
		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT_FATAL(write(fd, buf, len) == (ssize_t)len);
		close(fd);
		t = sl_ini_read(tmp_path, &got, msg, sizeof(msg));
		unlink(tmp_path);
		if (!t) {
			refused_bytes++;
			continue;
		}
		CU_ASSERT_EQUAL(got, len);
		d = sl_ini_parse(t, got, "x", msg, sizeof(msg));
		if (!d) {
			free(t);
			continue;
		}
		memset(&f, 0, sizeof(f));
		rc = sl_ini_scan(t, NULL, fz_section, fz_key, &f, msg, sizeof(msg));
		if (rc == 0) {
			/* the test's own comparison, independent of the scan's check */
			bool same = d->n == (int)f.n;

			for (unsigned i = 0; same && i < f.n; i++)
				same = iniparser_find_entry(d, f.names[i]);
			if (!same) {
				fprintf(stderr, "\n  parsers differ on: ");
				fwrite(buf, 1, len, stderr);
				CU_FAIL("iniparser and the scan differ");
			}
			accepted++;
			/* and the scan's own check agrees */
			memset(&f, 0, sizeof(f));
			rc2 = sl_ini_scan(t, d, fz_section, fz_key, &f, msg, sizeof(msg));
			CU_ASSERT_EQUAL(rc2, 0);
		}
		iniparser_freedict(d);
		free(t);
	}
	if (accepted <= 100 || refused_bytes <= 100)
		fprintf(stderr, "\n  accepted %u, refused for bytes %u\n", accepted, refused_bytes);
	CU_ASSERT(accepted > 100);
	CU_ASSERT(refused_bytes > 100);
}

/* sl_config_load in a child that cannot hang (5 s) or take much memory
 * (1 GiB): 0 or -1 with err as the child saw it, -2 when it was killed. */
#if defined(__SANITIZE_ADDRESS__)
#define SL_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SL_UNDER_ASAN 1
#endif
#endif
#ifndef SL_UNDER_ASAN
#define SL_UNDER_ASAN 0
#endif

static int load_in_child(const char *path)
{
	int fds[2], status, rc = -2;
	pid_t pid;
	ssize_t n;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rlimit lim = { 1ul << 30, 1ul << 30 };
		static struct sl_config c;
		char e[SL_ERR_LEN];

		close(fds[0]);
		alarm(5);
		/* AddressSanitizer reserves terabytes of shadow: a limit on the
		 * address space stops it at start; the alarm still bounds a
		 * read that does not end */
		if (!SL_UNDER_ASAN)
			setrlimit(RLIMIT_AS, &lim);
		rc = sl_config_load(path, &c, e, sizeof(e));
		if (write(fds[1], e, strlen(e) + 1) < 0)
			_exit(3);
		_exit(rc ? 1 : 0);
	}
	close(fds[1]);
	memset(err, 0, sizeof(err));
	n = read(fds[0], err, sizeof(err) - 1);
	close(fds[0]);
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) <= 1 && n > 0)
		rc = WEXITSTATUS(status) ? -1 : 0;
	else
		snprintf(err, sizeof(err), "(the load was killed or failed: status %d)", status);
	return rc;
}

#define NOT_REGULAR ", not a regular file (expected a file of at most 1 MiB)"

/* Only regular files of at most 1 MiB, after symlinks; nothing blocks. */
static void test_not_regular(void)
{
	char dir[64], path[128], want[256];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/sluice-config-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	/* a FIFO nobody writes to */
	snprintf(path, sizeof(path), "%s/fifo.ini", dir);
	CU_ASSERT_FATAL(mkfifo(path, 0600) == 0);
	CU_ASSERT_EQUAL(load_in_child(path), -1);
	snprintf(want, sizeof(want), "%s: cannot read: a FIFO" NOT_REGULAR, path);
	CU_ASSERT_STRING_EQUAL(err, want);
	unlink(path);
	/* a symlink to /dev/zero */
	snprintf(path, sizeof(path), "%s/zero.ini", dir);
	CU_ASSERT_FATAL(symlink("/dev/zero", path) == 0);
	CU_ASSERT_EQUAL(load_in_child(path), -1);
	snprintf(want, sizeof(want), "%s: cannot read: a character device" NOT_REGULAR, path);
	CU_ASSERT_STRING_EQUAL(err, want);
	unlink(path);
	/* a directory, directly and through a symlink */
	CU_ASSERT_EQUAL(load_in_child(dir), -1);
	snprintf(want, sizeof(want), "%s: cannot read: a directory" NOT_REGULAR, dir);
	CU_ASSERT_STRING_EQUAL(err, want);
	snprintf(path, sizeof(path), "%s/dir.ini", dir);
	CU_ASSERT_FATAL(symlink(dir, path) == 0);
	CU_ASSERT_EQUAL(load_in_child(path), -1);
	snprintf(want, sizeof(want), "%s: cannot read: a directory" NOT_REGULAR, path);
	CU_ASSERT_STRING_EQUAL(err, want);
	unlink(path);
	/* 1 MiB loads, a byte more does not */
	snprintf(path, sizeof(path), "%s/big.ini", dir);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(BASE, f);
	for (long n = (long)strlen(BASE); n < (1l << 20); n += 100)
		fprintf(f, ";%.*s\n", (int)((1l << 20) - n < 100 ? (1l << 20) - n - 2 : 98),
			"----------------------------------------------------------------------"
			"----------------------------");
	CU_ASSERT_EQUAL(ftell(f), 1l << 20);
	fclose(f);
	if (load_in_child(path) != 0)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_EQUAL(load_in_child(path), 0);
	f = fopen(path, "a");
	CU_ASSERT_FATAL(f != NULL);
	fputs(";", f);
	fclose(f);
	CU_ASSERT_EQUAL(load_in_child(path), -1);
	snprintf(want, sizeof(want), "%s: cannot read: larger than 1048576 bytes (expected a "
		 "file of at most 1 MiB)", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	unlink(path);
	rmdir(dir);
}

/* A message names file, section and key whole, or ends in "…" where it was
 * cut: a 200-character section name under a long path. */
static void test_long_names(void)
{
	char parent[64], mid[256], dir[600], path[700], want[1024], sec[201];
	size_t n;
	FILE *f;
	int rc;

	memset(sec, 'a', 200);
	sec[200] = '\0';
	/* short path: the whole message fits */
	reset_text();
	add("%s[%s]\n", BASE, sec);
	snprintf(want, sizeof(want), "[%s]: unknown section (expected " SECTION_TYPES ")", sec);
	EXPECT_ERR(text, want);
	/* a 300-character path: cut, and visibly */
	snprintf(parent, sizeof(parent), "/tmp/sluice-config-long-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(parent) != NULL);
	n = strlen(parent);
	snprintf(mid, sizeof(mid), "%.63s/%0150d", parent, 0);
	CU_ASSERT_FATAL(mkdir(mid, 0700) == 0);
	snprintf(dir, sizeof(dir), "%s/%0*d", mid, (int)(300 - n - 152), 0);
	CU_ASSERT_FATAL(strlen(dir) == 300);
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	snprintf(path, sizeof(path), "%s/c.ini", dir);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fprintf(f, "%s[%s]\n", BASE, sec);
	fclose(f);
	memset(err, 'x', sizeof(err));
	rc = sl_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	rmdir(dir);
	rmdir(mid);
	rmdir(parent);
	CU_ASSERT_EQUAL(rc, -1);
	snprintf(want, sizeof(want), "%s: [%s]: unknown section", path, sec);
	n = strlen(err);
	CU_ASSERT(n < sizeof(err));
	/* as much as fits, then "…" */
	CU_ASSERT(n >= 3 && !strcmp(err + n - 3, "\xe2\x80\xa6"));
	CU_ASSERT(n >= 3 && !strncmp(err, want, n - 3));
	if (n < 3 || strcmp(err + n - 3, "\xe2\x80\xa6"))
		fprintf(stderr, "\n  cut without a mark: %s\n", err);
}

/* The visible cut itself: on a character boundary, appended text too. */
static void test_errmsg_cut(void)
{
	char e[12];

	CU_ASSERT_EQUAL(sl_seterr(e, sizeof(e), "%s", "0123456789ab"), -1);
	CU_ASSERT_STRING_EQUAL(e, "01234567\xe2\x80\xa6");
	CU_ASSERT_EQUAL(sl_seterr(e, sizeof(e), "%s", "0123456\xc3\xa9xyz"), -1);
	CU_ASSERT_STRING_EQUAL(e, "0123456\xe2\x80\xa6"); /* not half of the é */
	sl_seterr(e, sizeof(e), "abc");
	sl_adderr(e, sizeof(e), "%s", "defgh");
	CU_ASSERT_STRING_EQUAL(e, "abcdefgh");
	sl_adderr(e, sizeof(e), "%s", "ijkl");
	CU_ASSERT_STRING_EQUAL(e, "abcdefgh\xe2\x80\xa6");
	sl_adderr(e, sizeof(e), "%s", "more");
	CU_ASSERT_STRING_EQUAL(e, "abcdefgh\xe2\x80\xa6"); /* nothing after the mark */
	sl_seterr(e, sizeof(e), "0123456789a");
	CU_ASSERT_STRING_EQUAL(e, "0123456789a"); /* exactly full: not cut */
	sl_seterr(e, 3, "abcdef");
	CU_ASSERT_STRING_EQUAL(e, "ab"); /* no room for the mark */
}

static void test_comments_quotes_case(void)
{
	EXPECT_OK("; leading comment\n# another\n\n"
		  "[Port Client]\n"
		  "ROLE = Client\n"
		  "devargs = \"net_pcap0,rx_pcap=in;1.pcap\" ; quoted, keeps the ;\n"
		  "[port blue]\nrole = 'backend'\n"
		  "devargs = net_null1 # hash comment\n"
		  "[port green]\nrole = backend\ndevargs = net_null2\n"
		  GROUPS
		  "[service web]\n"
		  "proto = TCP\n"
		  "vip = 192.0.2.10   ; inline\n"
		  "ports = 80, \\\n  443\n"
		  "champion = blue\nchallenger = green\n"
		  "share = 5% ; canary\n"
		  "[service dns]\nproto = udp\nvip = 192.0.2.53\nports = 53\nchampion = blue\n"
		  "challenger = green\nshare = \"0.5%\"\n");
	CU_ASSERT_STRING_EQUAL(cfg.ports[0].name, "client");
	CU_ASSERT_EQUAL(cfg.ports[0].role, SL_ROLE_CLIENT);
	CU_ASSERT_STRING_EQUAL(cfg.ports[0].devargs, "net_pcap0,rx_pcap=in;1.pcap");
	CU_ASSERT_EQUAL(cfg.ports[1].role, SL_ROLE_BACKEND);
	CU_ASSERT_STRING_EQUAL(cfg.ports[1].devargs, "net_null1");
	CU_ASSERT_EQUAL(cfg.services[0].proto, 6);
	CU_ASSERT_EQUAL(cfg.services[0].share_bp, 500);
	CU_ASSERT_EQUAL(cfg.services[0].nranges, 2);
	CU_ASSERT_EQUAL(cfg.services[0].ranges[1].lo, 443);
	CU_ASSERT_EQUAL(cfg.services[1].share_bp, 50);
}

/* Every [dataplane] default but eal_args. */
static void check_defaults_dataplane(void)
{
	CU_ASSERT_EQUAL(cfg.hash_seed, 0x5eed);
	CU_ASSERT_EQUAL(cfg.group_seed, 0);
	CU_ASSERT_EQUAL(cfg.member_seed, 0);
	CU_ASSERT_EQUAL(cfg.flow_capacity, 1048576);
	CU_ASSERT_EQUAL(cfg.flow_capacity_v6, 0);
	CU_ASSERT_EQUAL(sl_cfg_capacity_v6(&cfg), 262144);
	CU_ASSERT_EQUAL(cfg.maglev_size, 65537);
	CU_ASSERT_EQUAL(cfg.tcp_syn_timeout_ms, 30000);
	CU_ASSERT_EQUAL(cfg.tcp_timeout_ms, 900000);
	CU_ASSERT_EQUAL(cfg.tcp_fin_timeout_ms, 120000);
	CU_ASSERT_EQUAL(cfg.tcp_closed_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg.udp_timeout_ms, 300000);
	CU_ASSERT_EQUAL(cfg.other, SL_OTHER_FLOOD);
	CU_ASSERT_EQUAL(cfg.malformed, SL_MALFORMED_DROP);
	CU_ASSERT_EQUAL(cfg.mbufs, 0);
	CU_ASSERT_EQUAL(cfg.mbuf_size, 2176);
	CU_ASSERT_EQUAL(cfg.rx_desc, 1024);
	CU_ASSERT_EQUAL(cfg.tx_desc, 1024);
	CU_ASSERT_EQUAL(cfg.handshake_timeout_ms, 3000);
	CU_ASSERT_EQUAL(cfg.nslices, 0);
	CU_ASSERT_EQUAL(cfg.nguards, 0);
}

static void test_defaults(void)
{
	EXPECT_OK(BASE);
	check_defaults_dataplane();
	CU_ASSERT_STRING_EQUAL(cfg.eal_args, "");
	CU_ASSERT_STRING_EQUAL(cfg.path, tmp_path);
	CU_ASSERT_EQUAL(cfg.groups[0].mode, SL_MODE_PORT);
	CU_ASSERT_EQUAL(cfg.groups[0].nmembers, 0);
	EXPECT_OK("[dataplane]\n" BASE);
	check_defaults_dataplane();
	EXPECT_OK("[dataplane]\neal_args = -l 0-3 --vdev=net_null9\nhash_seed = 12345\n"
		  "group_seed = 0xFFFFFFFFFFFFFFFF\nmember_seed = 7\nflow_capacity = 16777216\n"
		  "flow_capacity_v6 = 5000\n"
		  "maglev_size = 251\ntcp_syn_timeout = 500ms\ntcp_timeout = 2m\n"
		  "tcp_fin_timeout = 1h\ntcp_closed_timeout = 3\nudp_timeout = 168h\n"
		  "other = drop\nmalformed = forward\nmbufs = 1024\nmbuf_size = 65535\n"
		  "rx_desc = 64\ntx_desc = 16384\n" BASE);
	CU_ASSERT_STRING_EQUAL(cfg.eal_args, "-l 0-3 --vdev=net_null9");
	CU_ASSERT_EQUAL(cfg.hash_seed, 12345);
	CU_ASSERT_EQUAL(cfg.group_seed, UINT64_MAX);
	CU_ASSERT_EQUAL(cfg.member_seed, 7);
	CU_ASSERT_EQUAL(cfg.flow_capacity, 16777216);
	CU_ASSERT_EQUAL(sl_cfg_capacity_v6(&cfg), 5000);
	CU_ASSERT_EQUAL(cfg.maglev_size, 251);
	CU_ASSERT_EQUAL(cfg.tcp_syn_timeout_ms, 500);
	CU_ASSERT_EQUAL(cfg.tcp_timeout_ms, 120000);
	CU_ASSERT_EQUAL(cfg.tcp_fin_timeout_ms, 3600000);
	CU_ASSERT_EQUAL(cfg.tcp_closed_timeout_ms, 3000);
	CU_ASSERT_EQUAL(cfg.udp_timeout_ms, 604800000);
	CU_ASSERT_EQUAL(cfg.other, SL_OTHER_DROP);
	CU_ASSERT_EQUAL(cfg.malformed, SL_MALFORMED_FORWARD);
	CU_ASSERT_EQUAL(cfg.mbufs, 1024);
	CU_ASSERT_EQUAL(cfg.mbuf_size, 65535);
	CU_ASSERT_EQUAL(cfg.rx_desc, 64);
	CU_ASSERT_EQUAL(cfg.tx_desc, 16384);
}

/* [shadow NAME]: a sample of a service's flows copied to a shadow port. */
#define MIRROR "[port mirror]\nrole = shadow\ndevargs = net_null3\n"
#define DNS SVC("dns", "udp", "192.0.2.53", "53", "blue", "green", "0%")
#define SHADOW_BASE PORTS MIRROR GROUPS WEB DNS

static void test_shadow_section(void)
{
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0x0d, 0x01 };

	EXPECT_OK(SHADOW_BASE "[shadow web-443]\nservice = web\nfilter = tcp dst port 443 and "
		  "src net 198.51.100.0/24\nsample = 10%\nport = mirror\n"
		  "mac = 02:00:00:00:0D:01\n"
		  "[shadow all-dns]\nservice = dns\nsample = 50bp\nport = mirror\n");
	CU_ASSERT_EQUAL(cfg.nshadows, 2);
	CU_ASSERT_STRING_EQUAL(cfg.shadows[0].name, "web-443");
	CU_ASSERT_EQUAL(cfg.shadows[0].service, 0);
	CU_ASSERT_EQUAL(cfg.shadows[0].port, 3);
	CU_ASSERT_EQUAL(cfg.shadows[0].sample_bp, 1000);
	CU_ASSERT_STRING_EQUAL(cfg.shadows[0].filter,
			       "tcp dst port 443 and src net 198.51.100.0/24");
	CU_ASSERT_EQUAL(cfg.shadows[0].has_mac, 1);
	CU_ASSERT_EQUAL(memcmp(cfg.shadows[0].mac, mac, 6), 0);
	CU_ASSERT_STRING_EQUAL(cfg.shadows[1].name, "all-dns");
	CU_ASSERT_EQUAL(cfg.shadows[1].service, 1);
	CU_ASSERT_EQUAL(cfg.shadows[1].sample_bp, 50);
	CU_ASSERT_STRING_EQUAL(cfg.shadows[1].filter, "");
	CU_ASSERT_EQUAL(cfg.shadows[1].has_mac, 0);
	CU_ASSERT_EQUAL(sl_config_service(&cfg, "dns"), 1);
	CU_ASSERT_EQUAL(sl_config_service(&cfg, "mirror"), -1);
	/* a quoted filter keeps its inner text */
	EXPECT_OK(SHADOW_BASE "[shadow q]\nservice = web\nfilter = \"ip6 and udp\"\n"
		  "sample = 100%\nport = mirror\n");
	CU_ASSERT_STRING_EQUAL(cfg.shadows[0].filter, "ip6 and udp");

	EXPECT_ERR(SHADOW_BASE "[shadow s]\nsample = 5%\nport = mirror\n",
		   "[shadow s] service: missing (expected the name of a [service NAME])");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = www\nsample = 5%\nport = mirror\n",
		   "[shadow s] service: no service named 'www' (services: web, dns)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\n",
		   "[shadow s] port: missing (expected the name of a port with role shadow)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = mirorr\n",
		   "[shadow s] port: no port named 'mirorr' (ports: client, blue, green, mirror)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = green\n",
		   "[shadow s] port: port 'green' has role backend (expected a port with role "
		   "shadow: mirror)");
	EXPECT_ERR(PORTS GROUPS WEB "[shadow s]\nservice = web\nsample = 5%\nport = client\n",
		   "[shadow s] port: port 'client' has role client (expected a port with role "
		   "shadow: none configured)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nport = mirror\n",
		   "[shadow s] sample: missing (expected the share of the service's flows to "
		   "copy, 0%..100%, e.g. 5%, 0.5%, 50bp)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5\nport = mirror\n",
		   "[shadow s] sample: '5' has no unit (expected % or bp, e.g. 5% or 50bp)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 101%\nport = mirror\n",
		   "[shadow s] sample: '101%' is above 100% (expected 0%..100%, e.g. 5%, 0.5%, "
		   "50bp)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = mirror\n"
		   "filter = tcp dst port\n",
		   "[shadow s] filter: 'tcp dst port' does not compile: can't parse filter "
		   "expression: syntax error (expected a pcap-filter expression, e.g. tcp dst "
		   "port 443)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = mirror\n"
		   "filter = src net 198.51.100.1/24\n",
		   "[shadow s] filter: 'src net 198.51.100.1/24' does not compile: non-network "
		   "bits set in \"198.51.100.1/24\" (expected a pcap-filter expression, e.g. "
		   "tcp dst port 443)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = mirror\n"
		   "filter =\n",
		   "[shadow s] filter: empty (expected a pcap-filter expression, e.g. tcp dst "
		   "port 443 (or no filter key: every packet))");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = mirror\n"
		   "mac = ff:ff:ff:ff:ff:ff\n",
		   "[shadow s] mac: 'ff:ff:ff:ff:ff:ff' is a broadcast address (expected a "
		   "unicast MAC)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = mirror\n"
		   "mac = 01:00:5e:00:00:01\n",
		   "[shadow s] mac: '01:00:5e:00:00:01' is a multicast address (expected a "
		   "unicast MAC)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = mirror\n"
		   "mac = 02:00:00:00:0d\n",
		   "[shadow s] mac: '02:00:00:00:0d' is not a MAC address (expected "
		   "aa:bb:cc:dd:ee:ff)");
	EXPECT_ERR(SHADOW_BASE "[shadow s]\nservice = web\nsample = 5%\nport = mirror\n"
		   "rate = 5\n",
		   "[shadow s] rate: unknown key (expected one of: service, filter, sample, port, "
		   "mac)");
	EXPECT_ERR(SHADOW_BASE "[shadow]\nservice = web\n",
		   "[shadow]: missing name (expected [shadow NAME], NAME of 1..31 characters "
		   "a-z, 0-9, _ or -)");
}

static void test_shadow_limits(void)
{
	char longf[400];
	size_t n = 0;

	reset_text();
	add("%s", SHADOW_BASE);
	for (int i = 0; i < SL_MAX_SHADOWS; i++)
		add("[shadow r%d]\nservice = web\nsample = %d%%\nport = mirror\n", i, i + 1);
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.nshadows, SL_MAX_SHADOWS);
	CU_ASSERT_EQUAL(cfg.shadows[SL_MAX_SHADOWS - 1].sample_bp, SL_MAX_SHADOWS * 100);
	add("[shadow r%d]\nservice = web\nsample = 1%%\nport = mirror\n", SL_MAX_SHADOWS);
	EXPECT_ERR(text, "[shadow r16]: too many shadow rules (expected at most 16)");

	/* 64 times "ip or " then "ip": 388 characters, more than a rule holds */
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(longf + n, sizeof(longf) - n, "ip or ");
	snprintf(longf + n, sizeof(longf) - n, "ip");
	reset_text();
	add("%s[shadow s]\nservice = web\nsample = 5%%\nport = mirror\nfilter = %s\n",
	    SHADOW_BASE, longf);
	EXPECT_ERR(text, "[shadow s] filter: 386 characters long (expected at most 255: a "
		   "pcap-filter expression, e.g. tcp dst port 443)");
}

static void test_lookup(void)
{
	EXPECT_OK(BASE);
	CU_ASSERT_EQUAL(sl_config_port(&cfg, "client"), 0);
	CU_ASSERT_EQUAL(sl_config_port(&cfg, "green"), 2);
	CU_ASSERT_EQUAL(sl_config_port(&cfg, "grene"), -1);
	CU_ASSERT_EQUAL(sl_config_port(&cfg, ""), -1);
	CU_ASSERT_EQUAL(sl_config_group(&cfg, "blue"), 0);
	CU_ASSERT_EQUAL(sl_config_group(&cfg, "green"), 1);
	CU_ASSERT_EQUAL(sl_config_group(&cfg, "client"), -1);
}

static void load_conf(const char *name)
{
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/conf/%s", SL_SOURCE_ROOT, name);
	rc = sl_config_load(path, &cfg, err, sizeof(err));
	if (rc)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(cfg.path, path);
}

static const uint8_t v4_web[16] = { 192, 0, 2, 10 };
static const uint8_t v6_web[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };

static void check_service(int i, const char *name, uint8_t proto, uint8_t family,
			  const uint8_t *vip, uint16_t lo, uint16_t hi, uint16_t share)
{
	const struct sl_cfg_service *s = &cfg.services[i];

	CU_ASSERT_STRING_EQUAL(s->name, name);
	CU_ASSERT_EQUAL(s->proto, proto);
	CU_ASSERT_EQUAL(s->family, family);
	CU_ASSERT_EQUAL(memcmp(s->vip, vip, 16), 0);
	CU_ASSERT_EQUAL(s->ranges[s->nranges - 1].lo, lo);
	CU_ASSERT_EQUAL(s->ranges[s->nranges - 1].hi, hi);
	CU_ASSERT_EQUAL(s->champion, sl_config_group(&cfg, "blue"));
	CU_ASSERT_EQUAL(s->challenger, sl_config_group(&cfg, "green"));
	CU_ASSERT_EQUAL(s->share_bp, share);
}

static void test_conf_demo(void)
{
	static const uint8_t dns[16] = { 192, 0, 2, 53 };
	static const uint8_t mac3[6] = { 0x02, 0, 0, 0, 0x0c, 0x03 };

	load_conf("demo.ini");
	CU_ASSERT_STRING_EQUAL(cfg.eal_args,
			       "--no-pci --in-memory -l 0-1 --log-level=*:warning");
	CU_ASSERT_EQUAL(cfg.hash_seed, 0x5eed);
	CU_ASSERT_EQUAL(cfg.flow_capacity, 65536);
	CU_ASSERT_EQUAL(cfg.maglev_size, 65537);
	CU_ASSERT_EQUAL(cfg.udp_timeout_ms, 300000);
	CU_ASSERT_EQUAL(cfg.nports, 3);
	CU_ASSERT_STRING_EQUAL(cfg.ports[0].name, "client");
	CU_ASSERT_EQUAL(cfg.ports[0].role, SL_ROLE_CLIENT);
	CU_ASSERT_STRING_EQUAL(cfg.ports[0].devargs, "net_pcap0,rx_pcap=pcap-fixtures/demo.pcap,"
			       "tx_pcap=build/demo/client.pcap");
	CU_ASSERT_STRING_EQUAL(cfg.ports[1].name, "blue");
	CU_ASSERT_EQUAL(cfg.ports[1].role, SL_ROLE_BACKEND);
	CU_ASSERT_STRING_EQUAL(cfg.ports[1].devargs, "net_pcap1,rx_pcap=pcap-fixtures/return.pcap,"
			       "tx_pcap=build/demo/blue.pcap");
	CU_ASSERT_STRING_EQUAL(cfg.ports[2].devargs, "net_pcap2,tx_pcap=build/demo/green.pcap");
	CU_ASSERT_EQUAL(cfg.ngroups, 2);
	CU_ASSERT_STRING_EQUAL(cfg.groups[0].name, "blue");
	CU_ASSERT_EQUAL(cfg.groups[0].port, 1);
	CU_ASSERT_EQUAL(cfg.groups[0].mode, SL_MODE_PORT);
	CU_ASSERT_EQUAL(cfg.groups[0].nmembers, 0);
	CU_ASSERT_STRING_EQUAL(cfg.groups[1].name, "green");
	CU_ASSERT_EQUAL(cfg.groups[1].port, 2);
	CU_ASSERT_EQUAL(cfg.groups[1].mode, SL_MODE_MAC);
	CU_ASSERT_EQUAL(cfg.groups[1].nmembers, 3);
	CU_ASSERT_EQUAL(memcmp(cfg.groups[1].macs[2], mac3, 6), 0);
	CU_ASSERT_EQUAL(cfg.nservices, 3);
	check_service(0, "web", 6, 4, v4_web, 443, 443, 500);
	check_service(1, "web6", 6, 6, v6_web, 443, 443, 500);
	check_service(2, "dns", 17, 4, dns, 53, 53, 500);
}

static void test_conf_example_4port(void)
{
	static const uint8_t rtp[16] = { 192, 0, 2, 20 };
	static const uint8_t mac4[6] = { 0x02, 0, 0, 0, 0x0b, 0x04 };

	load_conf("example-4port.ini");
	CU_ASSERT_STRING_EQUAL(cfg.eal_args, "-l 0-3 -n 4 --log-level=*:notice");
	check_defaults_dataplane();
	CU_ASSERT_EQUAL(cfg.nports, 4);
	CU_ASSERT_STRING_EQUAL(cfg.ports[0].devargs, "0000:3b:00.0");
	CU_ASSERT_EQUAL(cfg.ports[0].role, SL_ROLE_CLIENT);
	CU_ASSERT_STRING_EQUAL(cfg.ports[3].name, "shadow");
	CU_ASSERT_STRING_EQUAL(cfg.ports[3].devargs, "0000:af:00.1");
	CU_ASSERT_EQUAL(cfg.ports[3].role, SL_ROLE_SHADOW);
	CU_ASSERT_EQUAL(cfg.ngroups, 2);
	CU_ASSERT_EQUAL(cfg.groups[0].mode, SL_MODE_MAC);
	CU_ASSERT_EQUAL(cfg.groups[0].nmembers, 4);
	CU_ASSERT_EQUAL(memcmp(cfg.groups[0].macs[3], mac4, 6), 0);
	CU_ASSERT_EQUAL(cfg.groups[1].mode, SL_MODE_MAC);
	CU_ASSERT_EQUAL(cfg.groups[1].nmembers, 3);
	CU_ASSERT_EQUAL(cfg.groups[1].port, 2);
	CU_ASSERT_EQUAL(cfg.nservices, 4);
	check_service(0, "web", 6, 4, v4_web, 443, 443, 100);
	CU_ASSERT_EQUAL(cfg.services[0].nranges, 2);
	CU_ASSERT_EQUAL(cfg.services[0].ranges[0].lo, 80);
	check_service(1, "web6", 6, 6, v6_web, 443, 443, 100);
	check_service(2, "quic", 17, 4, v4_web, 443, 443, 50);
	check_service(3, "rtp", 17, 4, rtp, 16384, 32767, 0);
	CU_ASSERT_EQUAL(cfg.nshadows, 1);
	CU_ASSERT_STRING_EQUAL(cfg.shadows[0].name, "web-443");
	CU_ASSERT_EQUAL(cfg.shadows[0].service, 0);
	CU_ASSERT_EQUAL(cfg.shadows[0].port, 3);
	CU_ASSERT_EQUAL(cfg.shadows[0].sample_bp, 1000);
	CU_ASSERT_STRING_EQUAL(cfg.shadows[0].filter, "tcp dst port 443");
	CU_ASSERT_EQUAL(cfg.shadows[0].has_mac, 0);
}

static void test_conf_netns(void)
{
	static const uint8_t vip[16] = { 10, 99, 0, 100 };

	load_conf("netns.ini");
	CU_ASSERT_EQUAL(cfg.nports, 3);
	CU_ASSERT_STRING_EQUAL(cfg.ports[0].devargs, "net_af_packet0,iface=sl-cli,qpairs=1");
	CU_ASSERT_STRING_EQUAL(cfg.ports[1].devargs, "net_af_packet1,iface=sl-blue,qpairs=1");
	CU_ASSERT_STRING_EQUAL(cfg.ports[2].devargs, "net_af_packet2,iface=sl-green,qpairs=1");
	CU_ASSERT_EQUAL(cfg.groups[0].mode, SL_MODE_PORT);
	CU_ASSERT_EQUAL(cfg.groups[1].mode, SL_MODE_PORT);
	CU_ASSERT_EQUAL(cfg.groups[1].port, 2);
	CU_ASSERT_EQUAL(cfg.nservices, 3);
	check_service(0, "web", 6, 4, vip, 8080, 8080, 0);
	check_service(1, "echo", 6, 4, vip, 7, 7, 0);
	check_service(2, "query", 17, 4, vip, 5353, 5353, 0);
	CU_ASSERT_EQUAL(cfg.tcp_fin_timeout_ms, 5000);
	CU_ASSERT_EQUAL(cfg.tcp_closed_timeout_ms, 1000);
}

static void test_conf_all(void)
{
	char pattern[1024];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/conf/*.ini", SL_SOURCE_ROOT);
	CU_ASSERT_EQUAL_FATAL(glob(pattern, 0, NULL, &g), 0);
	CU_ASSERT(g.gl_pathc >= 3);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		int rc = sl_config_load(g.gl_pathv[i], &cfg, err, sizeof(err));

		if (rc)
			fprintf(stderr, "\n  %s\n", err);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(cfg.nports >= 2 && cfg.ngroups >= 1 && cfg.nservices >= 1);
	}
	globfree(&g);
}


/* [dataplane] handshake_timeout: 1ms..60s, default 3s. */
#define HS_EXPECT "(expected 1ms..60s as a whole number with ms, s or m, e.g. 3s or 500ms; " \
	"a bare number is seconds)"

static void test_handshake_timeout(void)
{
	EXPECT_OK(BASE);
	CU_ASSERT_EQUAL(cfg.handshake_timeout_ms, 3000);
	EXPECT_OK("[dataplane]\nhandshake_timeout = 500ms\n" BASE);
	CU_ASSERT_EQUAL(cfg.handshake_timeout_ms, 500);
	EXPECT_OK("[dataplane]\nhandshake_timeout = 1m\n" BASE);
	CU_ASSERT_EQUAL(cfg.handshake_timeout_ms, 60000);
	EXPECT_OK("[dataplane]\nhandshake_timeout = 1ms\n" BASE);
	CU_ASSERT_EQUAL(cfg.handshake_timeout_ms, 1);
	EXPECT_OK("[dataplane]\nhandshake_timeout = 7\n" BASE);
	CU_ASSERT_EQUAL(cfg.handshake_timeout_ms, 7000);
	EXPECT_ERR("[dataplane]\nhandshake_timeout = 61s\n" BASE,
		   "[dataplane] handshake_timeout: '61s' is out of range " HS_EXPECT);
	EXPECT_ERR("[dataplane]\nhandshake_timeout = 0ms\n" BASE,
		   "[dataplane] handshake_timeout: '0ms' is out of range " HS_EXPECT);
	EXPECT_ERR("[dataplane]\nhandshake_timeout = 8d\n" BASE,
		   "[dataplane] handshake_timeout: '8d' is not a duration " HS_EXPECT);
	EXPECT_ERR("[dataplane]\nhandshake_timeout = soon\n" BASE,
		   "[dataplane] handshake_timeout: 'soon' is not a duration " HS_EXPECT);
	EXPECT_ERR("[dataplane]\nhandshake_timeout =\n" BASE,
		   "[dataplane] handshake_timeout: empty (expected 1ms..60s as a whole number "
		   "with ms, s or m, e.g. 3s or 500ms; a bare number is seconds)");
}

/* [slice NAME]: a named part of a service's flows. */
#define WEB6 SVC("web6", "tcp", "2001:db8::10", "443", "blue", "green", "5%")
#define SLICE_BASE BASE WEB6
#define SRC_EXPECT "client source prefixes ADDR/LEN separated by commas, e.g. " \
	"198.51.100.0/24, 2001:db8::/32"

static void test_slice_section(void)
{
	static const uint8_t a24[16] = { 198, 51, 100, 0 }, a32[16] = { 203, 0, 113, 7 };
	static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
	char want[SL_ERR_LEN + 64], why[SL_ERR_LEN];

	EXPECT_OK(SLICE_BASE "[slice billing]\nservice = web\n"
		  "src = 198.51.100.0/24, 203.0.113.7\n"
		  "[slice v6]\nservice = web6\nsrc = 2001:db8:1::/48\nfilter = tcp dst port 443\n"
		  "[slice tls]\nservice = web\nfilter = tcp[13] & 2 != 0\n"
		  "[slice all4]\nservice = web\nsrc = 0.0.0.0/0\n");
	CU_ASSERT_EQUAL_FATAL(cfg.nslices, 4);
	CU_ASSERT_STRING_EQUAL(cfg.slices[0].name, "billing");
	CU_ASSERT_EQUAL(cfg.slices[0].service, 0);
	CU_ASSERT_EQUAL(cfg.slices[0].nprefixes, 2);
	CU_ASSERT_EQUAL(cfg.slices[0].src[0].family, 4);
	CU_ASSERT_EQUAL(cfg.slices[0].src[0].len, 24);
	CU_ASSERT_EQUAL(memcmp(cfg.slices[0].src[0].addr, a24, 16), 0);
	CU_ASSERT_EQUAL(cfg.slices[0].src[1].len, 32); /* a bare address: one host */
	CU_ASSERT_EQUAL(memcmp(cfg.slices[0].src[1].addr, a32, 16), 0);
	CU_ASSERT_STRING_EQUAL(cfg.slices[0].filter, "");
	CU_ASSERT_STRING_EQUAL(cfg.slices[1].name, "v6");
	CU_ASSERT_EQUAL(cfg.slices[1].service, 1);
	CU_ASSERT_EQUAL(cfg.slices[1].src[0].family, 6);
	CU_ASSERT_EQUAL(cfg.slices[1].src[0].len, 48);
	CU_ASSERT_EQUAL(memcmp(cfg.slices[1].src[0].addr, a6, 16), 0);
	CU_ASSERT_STRING_EQUAL(cfg.slices[1].filter, "tcp dst port 443");
	CU_ASSERT_EQUAL(cfg.slices[2].nprefixes, 0);
	CU_ASSERT_STRING_EQUAL(cfg.slices[2].filter, "tcp[13] & 2 != 0");
	CU_ASSERT_EQUAL(cfg.slices[3].src[0].len, 0);
	CU_ASSERT_EQUAL(sl_config_slice(&cfg, "tls"), 2);
	CU_ASSERT_EQUAL(sl_config_slice(&cfg, "nope"), -1);

	EXPECT_ERR(SLICE_BASE "[slice billing]\nsrc = 198.51.100.0/24\n",
		   "[slice billing] service: missing (expected the name of a [service NAME])");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = mail\nsrc = 198.51.100.0/24\n",
		   "[slice billing] service: no service named 'mail' (services: web, web6)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice =\nsrc = 198.51.100.0/24\n",
		   "[slice billing] service: empty (expected the name of a [service NAME])");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\n",
		   "[slice billing]: neither src nor filter (expected at least one of them, "
		   "e.g. src = 198.51.100.0/24 or filter = tcp dst port 443)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc =\n",
		   "[slice billing] src: empty (expected " SRC_EXPECT ")");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100.1/24\n",
		   "[slice billing] src: '198.51.100.1/24' has host bits set (expected "
		   "198.51.100.0/24)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web6\nsrc = 2001:db8::1/32\n",
		   "[slice billing] src: '2001:db8::1/32' has host bits set (expected "
		   "2001:db8::/32)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 0.0.0.1/0\n",
		   "[slice billing] src: '0.0.0.1/0' has host bits set (expected 0.0.0.0/0)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100.0/24, "
		   "2001:db8::/32\n",
		   "[slice billing] src: '2001:db8::/32' is IPv6 but [service web] has an IPv4 "
		   "vip (expected IPv4 prefixes)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web6\nsrc = 198.51.100.0/24\n",
		   "[slice billing] src: '198.51.100.0/24' is IPv4 but [service web6] has an "
		   "IPv6 vip (expected IPv6 prefixes)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100/24\n",
		   "[slice billing] src: '198.51.100/24' is not a prefix (expected " SRC_EXPECT
		   ")");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100.0/33\n",
		   "[slice billing] src: '198.51.100.0/33': prefix length 33 is above 32 "
		   "(expected an IPv4 prefix length 0..32)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web6\nsrc = 2001:db8::/129\n",
		   "[slice billing] src: '2001:db8::/129': prefix length 129 is above 128 "
		   "(expected an IPv6 prefix length 0..128)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100.0/\n",
		   "[slice billing] src: '198.51.100.0/' has no prefix length after '/' "
		   "(expected " SRC_EXPECT ")");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100.0/+8\n",
		   "[slice billing] src: '198.51.100.0/+8' has no prefix length after '/' "
		   "(expected " SRC_EXPECT ")");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100.0/24,\n",
		   "[slice billing] src: item 2 of '198.51.100.0/24,' is empty (expected "
		   SRC_EXPECT ")");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100.0/24, "
		   "10.0.0.0/8, 198.51.100.0/24\n",
		   "[slice billing] src: '198.51.100.0/24' is the same prefix as "
		   "'198.51.100.0/24' (expected each prefix once)");
	EXPECT_OK(SLICE_BASE "[slice billing]\nservice = web\nsrc = 10.0.0.0/8, 10.1.0.0/16, "
		  "10.2.0.0/16, 10.3.0.0/16, 10.4.0.0/16, 10.5.0.0/16, 10.6.0.0/16, 10.7.0.0/16\n");
	CU_ASSERT_EQUAL(cfg.slices[0].nprefixes, SL_SLICE_PREFIXES);
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nsrc = 10.0.0.0/8, 10.1.0.0/16, "
		   "10.2.0.0/16, 10.3.0.0/16, 10.4.0.0/16, 10.5.0.0/16, 10.6.0.0/16, 10.7.0.0/16, "
		   "10.8.0.0/16\n",
		   "[slice billing] src: more than 8 prefixes in '10.0.0.0/8, 10.1.0.0/16, "
		   "10.2.0.0/16, 10.3.0.0/16, 10.4.0.0/16, 10.5.0.0/16, 10.6.0.0/16, 10.7.0.0/16, "
		   "10.8.0.0/16' (expected at most 8)");
	CU_ASSERT_EQUAL(sl_shadow_filter_check("tcp dst prot 443", why, sizeof(why)), -1);
	snprintf(want, sizeof(want), "[slice billing] filter: %s", why);
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nfilter = tcp dst prot 443\n", want);
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nfilter =\n",
		   "[slice billing] filter: empty (expected a pcap-filter expression, e.g. tcp "
		   "dst port 443)");
	EXPECT_ERR(SLICE_BASE "[slice billing]\nservice = web\nport = blue\n",
		   "[slice billing] port: unknown key (expected one of: service, src, filter)");
	EXPECT_ERR(SLICE_BASE "[slice]\nservice = web\n",
		   "[slice]: missing name (expected [slice NAME], NAME of 1..31 characters a-z, "
		   "0-9, _ or -)");
	EXPECT_ERR(SLICE_BASE "[slice Bill.ing]\nservice = web\n",
		   "[slice bill.ing]: name 'bill.ing' is not valid (expected 1..31 characters "
		   "a-z, 0-9, _ or -)");
	EXPECT_ERR(SLICE_BASE "[slice b]\nservice = web\nsrc = 10.0.0.0/8\n[slice b]\n",
		   "[slice b]: appears twice, at lines 30 and 33 (expected each section once)");
}

static void test_slice_limits(void)
{
	/* 8 per service */
	reset_text();
	add("%s", SLICE_BASE);
	for (int i = 0; i < SL_SLICES_PER_SERVICE; i++)
		add("[slice s%d]\nservice = web\nsrc = 10.%d.0.0/16\n", i, i);
	add("[slice v6]\nservice = web6\nsrc = 2001:db8::/32\n");
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.nslices, SL_SLICES_PER_SERVICE + 1);
	add("[slice s8]\nservice = web\nsrc = 10.8.0.0/16\n");
	EXPECT_ERR(text, "[slice s8] service: [service web] has 8 slices already (expected at "
		   "most 8 slices per service)");
	/* 64 in all */
	build_services(SL_MAX_SLICES / SL_SLICES_PER_SERVICE + 1);
	for (int i = 0; i < SL_MAX_SLICES; i++)
		add("[slice x%d]\nservice = s%d\nfilter = tcp\n", i, i / SL_SLICES_PER_SERVICE);
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.nslices, SL_MAX_SLICES);
	CU_ASSERT_EQUAL(cfg.slices[63].service, 7);
	add("[slice x64]\nservice = s8\nfilter = tcp\n");
	EXPECT_ERR(text, "[slice x64]: too many slices (expected at most 64)");
}

/* [guard NAME]: every key's good and bad values. */
#define GUARD_BASE SLICE_BASE "[slice billing]\nservice = web\nsrc = 198.51.100.0/24\n" \
	"[slice v6]\nservice = web6\nsrc = 2001:db8::/32\n"
#define GUARD(keys) GUARD_BASE "[guard g]\n" keys
#define RST "service = web\nsignal = rst\n"
#define THR_EXPECT "(expected 1us..1h as a whole number with us, ms, s, m or h, e.g. " \
	"500us, 200ms, 2s; a bare number is seconds)"
#define MARGIN_EXPECT "(expected percentage points 0..below 100, e.g. 0.5pp or 0.5%, or 0)"
#define ALPHA_EXPECT "(expected a false-alarm rate above 0 and below 0.5, e.g. 0.01 or 1%)"

static void test_guard_section(void)
{
	const struct sl_cfg_guard *g = &cfg.guards[0];

	/* defaults */
	EXPECT_OK(GUARD(RST));
	CU_ASSERT_EQUAL_FATAL(cfg.nguards, 1);
	CU_ASSERT_STRING_EQUAL(g->name, "g");
	CU_ASSERT_STRING_EQUAL(g->service, "web");
	CU_ASSERT_STRING_EQUAL(g->slice, "");
	CU_ASSERT_EQUAL(g->signal, SL_SIG_RST);
	CU_ASSERT_STRING_EQUAL(g->pushed, "");
	CU_ASSERT_EQUAL(g->threshold_us, 0);
	CU_ASSERT_EQUAL(g->min_flows, 1000);
	CU_ASSERT_DOUBLE_EQUAL(g->margin, 0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(g->alpha, 0.01, 1e-12);
	CU_ASSERT_EQUAL(g->on_fail, SL_GUARD_ABORT);
	CU_ASSERT_EQUAL(g->on_inconclusive, SL_GUARD_INC_PAUSE);
	CU_ASSERT_EQUAL(g->reset, 0);
	CU_ASSERT_EQUAL(g->named, 0);
	/* every key set */
	EXPECT_OK(GUARD("service = web6\nslice = v6\nsignal = TTFB\nthreshold = 1500us\n"
			"min_flows = 1000000000\nmargin = 0.5pp\nalpha = 1%\non_fail = pause\n"
			"on_inconclusive = hold\nreset = no\nrollouts = named\n"));
	CU_ASSERT_STRING_EQUAL(g->service, "web6");
	CU_ASSERT_STRING_EQUAL(g->slice, "v6");
	CU_ASSERT_EQUAL(g->signal, SL_SIG_TTFB);
	CU_ASSERT_EQUAL(g->threshold_us, 1500);
	CU_ASSERT_EQUAL(g->min_flows, 1000000000);
	CU_ASSERT_DOUBLE_EQUAL(g->margin, 0.005, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(g->alpha, 0.01, 1e-12);
	CU_ASSERT_EQUAL(g->on_fail, SL_GUARD_PAUSE);
	CU_ASSERT_EQUAL(g->on_inconclusive, SL_GUARD_INC_HOLD);
	CU_ASSERT_EQUAL(g->named, 1);

	/* service */
	EXPECT_ERR(GUARD("signal = rst\n"),
		   "[guard g] service: missing (expected the name of a [service NAME])");
	EXPECT_ERR(GUARD("service =\nsignal = rst\n"),
		   "[guard g] service: empty (expected the name of a [service NAME])");
	EXPECT_ERR(GUARD("service = mail\nsignal = rst\n"),
		   "[guard g] service: no service named 'mail' (services: web, web6)");
	EXPECT_ERR(GUARD("service = Web\nsignal = rst\n"),
		   "[guard g] service: 'Web' is not a valid service name (expected 1..31 "
		   "characters a-z, 0-9, _ or -)");
	/* slice */
	EXPECT_OK(GUARD(RST "slice = billing\n"));
	CU_ASSERT_STRING_EQUAL(g->slice, "billing");
	EXPECT_ERR(GUARD(RST "slice = v6\n"),
		   "[guard g] slice: slice 'v6' belongs to [service web6] (expected a slice of "
		   "[service web]: billing)");
	EXPECT_ERR(GUARD(RST "slice = vip\n"),
		   "[guard g] slice: no slice named 'vip' (slices of [service web]: billing)");
	EXPECT_ERR(BASE "[guard g]\n" RST "slice = vip\n",
		   "[guard g] slice: no slice named 'vip' (slices of [service web]: none)");
	EXPECT_ERR(GUARD(RST "slice = Bill\n"),
		   "[guard g] slice: 'Bill' is not a valid slice name (expected 1..31 "
		   "characters a-z, 0-9, _ or -)");
	EXPECT_ERR(GUARD(RST "slice =\n"),
		   "[guard g] slice: empty (expected the name of a [slice NAME] of the service, "
		   "or no slice key)");
	/* signal */
	static const struct { const char *v; uint8_t sig; } sigs[] = {
		{ "rst", SL_SIG_RST }, { "handshake", SL_SIG_HANDSHAKE }, { "icmp", SL_SIG_ICMP },
		{ "Rst", SL_SIG_RST },
	};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		reset_text();
		add("%s[guard g]\nservice = web\nsignal = %s\n", GUARD_BASE, sigs[i].v);
		EXPECT_OK(text);
		CU_ASSERT_EQUAL(g->signal, sigs[i].sig);
	}
	EXPECT_OK(GUARD("service = web\nsignal = synack\nthreshold = 2s\n"));
	CU_ASSERT_EQUAL(g->signal, SL_SIG_SYNACK);
	CU_ASSERT_EQUAL(g->threshold_us, 2000000);
	EXPECT_OK(GUARD("service = web\nsignal = pushed:checkout-errors\n"));
	CU_ASSERT_EQUAL(g->signal, SL_SIG_PUSHED);
	CU_ASSERT_STRING_EQUAL(g->pushed, "checkout-errors");
	EXPECT_ERR(GUARD("service = web\n"),
		   "[guard g] signal: missing (expected rst, handshake, icmp, ttfb, synack or "
		   "pushed:NAME)");
	EXPECT_ERR(GUARD("service = web\nsignal = resets\n"),
		   "[guard g] signal: 'resets' is not a signal (expected rst, handshake, icmp, "
		   "ttfb, synack or pushed:NAME)");
	EXPECT_ERR(GUARD("service = web\nsignal = pushed:\n"),
		   "[guard g] signal: 'pushed:': pushed signal name '' is not valid (expected "
		   "pushed:NAME, NAME of 1..31 characters a-z, 0-9, _ or -)");
	EXPECT_ERR(GUARD("service = web\nsignal = pushed:Bad.Name\n"),
		   "[guard g] signal: 'pushed:Bad.Name': pushed signal name 'Bad.Name' is not "
		   "valid (expected pushed:NAME, NAME of 1..31 characters a-z, 0-9, _ or -)");
	/* threshold */
	static const struct { const char *v; uint32_t us; } thr[] = {
		{ "1us", 1 }, { "500us", 500 }, { "200ms", 200000 }, { "2", 2000000 },
		{ "1m", 60000000 }, { "1h", 3600000000u }, { "3600000000us", 3600000000u },
	};
	for (size_t i = 0; i < sizeof(thr) / sizeof(thr[0]); i++) {
		reset_text();
		add("%s[guard g]\nservice = web\nsignal = ttfb\nthreshold = %s\n", GUARD_BASE,
		    thr[i].v);
		EXPECT_OK(text);
		CU_ASSERT_EQUAL(g->threshold_us, thr[i].us);
	}
	EXPECT_ERR(GUARD("service = web\nsignal = ttfb\n"),
		   "[guard g] threshold: missing (expected, with signal ttfb, the time above "
		   "which a flow is bad: 1us..1h as a whole number with us, ms, s, m or h, e.g. "
		   "500us, 200ms, 2s; a bare number is seconds)");
	EXPECT_ERR(GUARD("service = web\nsignal = synack\n"),
		   "[guard g] threshold: missing (expected, with signal synack, the time above "
		   "which a flow is bad: 1us..1h as a whole number with us, ms, s, m or h, e.g. "
		   "500us, 200ms, 2s; a bare number is seconds)");
	EXPECT_ERR(GUARD(RST "threshold = 200ms\n"),
		   "[guard g] threshold: not used by signal rst (expected threshold only with "
		   "signal ttfb or synack)");
	EXPECT_ERR(GUARD("service = web\nsignal = pushed:x\nthreshold = 1s\n"),
		   "[guard g] threshold: not used by signal pushed:x (expected threshold only "
		   "with signal ttfb or synack)");
	EXPECT_ERR(GUARD("service = web\nsignal = ttfb\nthreshold = 1.5s\n"),
		   "[guard g] threshold: '1.5s' is not a duration " THR_EXPECT);
	EXPECT_ERR(GUARD("service = web\nsignal = ttfb\nthreshold = 200 ms\n"),
		   "[guard g] threshold: '200 ms' is not a duration " THR_EXPECT);
	EXPECT_ERR(GUARD("service = web\nsignal = ttfb\nthreshold = 0ms\n"),
		   "[guard g] threshold: '0ms' is out of range " THR_EXPECT);
	EXPECT_ERR(GUARD("service = web\nsignal = ttfb\nthreshold = 61m\n"),
		   "[guard g] threshold: '61m' is out of range " THR_EXPECT);
	EXPECT_ERR(GUARD("service = web\nsignal = ttfb\nthreshold = 99999999999999999999us\n"),
		   "[guard g] threshold: '99999999999999999999us' is out of range " THR_EXPECT);
	EXPECT_ERR(GUARD("service = web\nsignal = ttfb\nthreshold =\n"),
		   "[guard g] threshold: empty " THR_EXPECT);
	/* min_flows */
	EXPECT_OK(GUARD(RST "min_flows = 1\n"));
	CU_ASSERT_EQUAL(g->min_flows, 1);
	EXPECT_ERR(GUARD(RST "min_flows = 0\n"),
		   "[guard g] min_flows: '0' is out of range (expected 1..1000000000 flows per "
		   "group)");
	EXPECT_ERR(GUARD(RST "min_flows = 1000000001\n"),
		   "[guard g] min_flows: '1000000001' is out of range (expected 1..1000000000 "
		   "flows per group)");
	EXPECT_ERR(GUARD(RST "min_flows = 0x10\n"),
		   "[guard g] min_flows: '0x10' is not an integer (expected 1..1000000000 flows "
		   "per group)");
	EXPECT_ERR(GUARD(RST "min_flows = -5\n"),
		   "[guard g] min_flows: '-5' is not an integer (expected 1..1000000000 flows "
		   "per group)");
	/* margin */
	static const struct { const char *v; double f; } margins[] = {
		{ "0", 0 }, { "0pp", 0 }, { "0.5%", 0.005 }, { "2pp", 0.02 }, { "99.99pp", 0.9999 },
		{ "0.0", 0 },
	};
	for (size_t i = 0; i < sizeof(margins) / sizeof(margins[0]); i++) {
		reset_text();
		add("%s[guard g]\n%smargin = %s\n", GUARD_BASE, RST, margins[i].v);
		EXPECT_OK(text);
		CU_ASSERT_DOUBLE_EQUAL(g->margin, margins[i].f, 1e-12);
	}
	EXPECT_ERR(GUARD(RST "margin = 0.5\n"),
		   "[guard g] margin: '0.5' has no unit (expected pp or % after the number, "
		   "e.g. 0.5pp; only 0 needs none)");
	EXPECT_ERR(GUARD(RST "margin = 100pp\n"),
		   "[guard g] margin: '100pp' is not below 100pp " MARGIN_EXPECT);
	EXPECT_ERR(GUARD(RST "margin = -1pp\n"),
		   "[guard g] margin: '-1pp' is not a margin " MARGIN_EXPECT);
	EXPECT_ERR(GUARD(RST "margin = 0.5 pp\n"),
		   "[guard g] margin: '0.5 pp' is not a margin " MARGIN_EXPECT);
	EXPECT_ERR(GUARD(RST "margin = .5pp\n"),
		   "[guard g] margin: '.5pp' is not a margin " MARGIN_EXPECT);
	EXPECT_ERR(GUARD(RST "margin = 5bp\n"),
		   "[guard g] margin: '5bp' is not a margin " MARGIN_EXPECT);
	/* alpha */
	static const struct { const char *v; double a; } alphas[] = {
		{ "0.01", 0.01 }, { "1%", 0.01 }, { "0.001", 0.001 }, { "0.4999", 0.4999 },
		{ "49.9%", 0.499 },
	};
	for (size_t i = 0; i < sizeof(alphas) / sizeof(alphas[0]); i++) {
		reset_text();
		add("%s[guard g]\n%salpha = %s\n", GUARD_BASE, RST, alphas[i].v);
		EXPECT_OK(text);
		CU_ASSERT_DOUBLE_EQUAL(g->alpha, alphas[i].a, 1e-12);
	}
	EXPECT_ERR(GUARD(RST "alpha = 0.7\n"),
		   "[guard g] alpha: '0.7' is outside (0, 0.5) " ALPHA_EXPECT);
	EXPECT_ERR(GUARD(RST "alpha = 0.5\n"),
		   "[guard g] alpha: '0.5' is outside (0, 0.5) " ALPHA_EXPECT);
	EXPECT_ERR(GUARD(RST "alpha = 0\n"),
		   "[guard g] alpha: '0' is outside (0, 0.5) " ALPHA_EXPECT);
	EXPECT_ERR(GUARD(RST "alpha = 50%\n"),
		   "[guard g] alpha: '50%' is outside (0, 0.5) " ALPHA_EXPECT);
	EXPECT_ERR(GUARD(RST "alpha = 1e-3\n"),
		   "[guard g] alpha: '1e-3' is not a fraction or a percentage " ALPHA_EXPECT);
	EXPECT_ERR(GUARD(RST "alpha = 1pp\n"),
		   "[guard g] alpha: '1pp' is not a fraction or a percentage " ALPHA_EXPECT);
	/* on_fail, on_inconclusive, reset, rollouts */
	EXPECT_OK(GUARD(RST "on_fail = Abort\nreset = yes\non_inconclusive = pause\n"
			"rollouts = all\n"));
	CU_ASSERT_EQUAL(g->on_fail, SL_GUARD_ABORT);
	CU_ASSERT_EQUAL(g->reset, 1);
	CU_ASSERT_EQUAL(g->on_inconclusive, SL_GUARD_INC_PAUSE);
	CU_ASSERT_EQUAL(g->named, 0);
	EXPECT_OK(GUARD(RST "reset = yes\n"));
	CU_ASSERT_EQUAL(g->reset, 1);
	EXPECT_OK(GUARD(RST "on_fail = pause\nreset = no\n"));
	CU_ASSERT_EQUAL(g->reset, 0);
	EXPECT_ERR(GUARD(RST "on_fail = stop\n"),
		   "[guard g] on_fail: 'stop' is not an action (expected abort or pause)");
	EXPECT_ERR(GUARD(RST "on_inconclusive = abort\n"),
		   "[guard g] on_inconclusive: 'abort' is not an action (expected pause or hold)");
	EXPECT_ERR(GUARD(RST "reset = maybe\n"),
		   "[guard g] reset: 'maybe' is not yes or no (expected yes to re-decide "
		   "existing flows on abort, or no)");
	EXPECT_ERR(GUARD(RST "on_fail = pause\nreset = yes\n"),
		   "[guard g] reset: yes with on_fail = pause (expected reset = yes only with "
		   "on_fail = abort)");
	EXPECT_ERR(GUARD(RST "rollouts = some\n"),
		   "[guard g] rollouts: 'some' is not all or named (expected all: every rollout "
		   "of the service, or named: only when a plan or --guard names it)");
	EXPECT_ERR(GUARD(RST "rollouts =\n"),
		   "[guard g] rollouts: empty (expected all or named)");
	/* unknown keys, names, duplicates, limits */
	EXPECT_ERR(GUARD(RST "window = 5m\n"),
		   "[guard g] window: unknown key (expected one of: service, slice, signal, "
		   "threshold, min_flows, margin, alpha, on_fail, on_inconclusive, reset, "
		   "rollouts)");
	EXPECT_ERR(GUARD_BASE "[guard Bill.ing]\n" RST,
		   "[guard bill.ing]: name 'bill.ing' is not valid (expected 1..31 characters "
		   "a-z, 0-9, _ or -)");
	EXPECT_ERR(GUARD_BASE "[guard g]\n" RST "[guard g]\n" RST,
		   "[guard g]: appears twice, at lines 36 and 39 (expected each section once)");
	reset_text();
	add("%s", GUARD_BASE);
	for (int i = 0; i < SL_MAX_GUARDS; i++)
		add("[guard g%d]\n%s", i, RST);
	EXPECT_OK(text);
	CU_ASSERT_EQUAL(cfg.nguards, SL_MAX_GUARDS);
	add("[guard g64]\n%s", RST);
	EXPECT_ERR(text, "[guard g64]: too many guards (expected at most 64)");
}

/* sl_guard_parse without a configuration, as plans use it. */
struct kv {
	const char *const *pairs; /* key, value, ..., NULL */
};

static const char *kv_get(void *ctx, const char *key)
{
	const struct kv *kv = ctx;

	for (int i = 0; kv->pairs[i]; i += 2)
		if (!strcmp(kv->pairs[i], key))
			return kv->pairs[i + 1];
	return NULL;
}

static void test_guard_parse(void)
{
	static const char *const good[] = { "service", "nowhere", "slice", "nothing",
					    "signal", "icmp", NULL };
	static const char *const bad[] = { "service", "web", "signal", "rst", "alpha", "0.7",
					   NULL };
	struct kv kv = { good };
	struct sl_cfg_guard g;
	struct sl_config *c = calloc(1, sizeof(*c));

	memset(&g, 0x5a, sizeof(g));
	CU_ASSERT_EQUAL_FATAL(sl_guard_parse(&g, "billing-errors", kv_get, &kv,
					     "demo.ini: [guard billing-errors]", err,
					     sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(g.name, "billing-errors");
	CU_ASSERT_STRING_EQUAL(g.service, "nowhere"); /* no configuration to ask */
	CU_ASSERT_STRING_EQUAL(g.slice, "nothing");
	CU_ASSERT_EQUAL(g.signal, SL_SIG_ICMP);
	CU_ASSERT_EQUAL(g.min_flows, 1000);
	/* the configuration check names the place the same way */
	strcpy(c->services[0].name, "web");
	c->nservices = 1;
	CU_ASSERT_EQUAL(sl_guard_check(&g, c, "plan.ini: [guard billing-errors]", err,
				       sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "plan.ini: [guard billing-errors] service: no service "
			       "named 'nowhere' (services: web)");
	strcpy(g.service, "web");
	CU_ASSERT_EQUAL(sl_guard_check(&g, c, "plan.ini: [guard billing-errors]", err,
				       sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "plan.ini: [guard billing-errors] slice: no slice named "
			       "'nothing' (slices of [service web]: none)");
	g.slice[0] = '\0';
	CU_ASSERT_EQUAL(sl_guard_check(&g, c, "x", err, sizeof(err)), 0);
	free(c);

	kv.pairs = bad;
	memset(&g, 0x5a, sizeof(g));
	CU_ASSERT_EQUAL(sl_guard_parse(&g, "billing-errors", kv_get, &kv,
				       "demo.ini: [guard billing-errors]", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "demo.ini: [guard billing-errors] alpha: '0.7' is outside "
			       "(0, 0.5) (expected a false-alarm rate above 0 and below 0.5, "
			       "e.g. 0.01 or 1%)");
	CU_ASSERT_EQUAL(g.min_flows, 0x5a5a5a5a); /* untouched on error */
	CU_ASSERT_EQUAL(sl_guard_parse(&g, "Bad", kv_get, &kv, "p.ini: [guard Bad]", err,
				       sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "p.ini: [guard Bad]: name 'Bad' is not valid (expected "
			       "1..31 characters a-z, 0-9, _ or -)");
}

static void test_conf_guards(void)
{
	load_conf("guards.ini");
	CU_ASSERT_EQUAL(cfg.nservices, 3);
	CU_ASSERT_EQUAL(cfg.handshake_timeout_ms, 3000);
	CU_ASSERT_EQUAL_FATAL(cfg.nslices, 2);
	CU_ASSERT_STRING_EQUAL(cfg.slices[0].name, "billing");
	CU_ASSERT_EQUAL(cfg.slices[0].service, 0);
	CU_ASSERT_EQUAL(cfg.slices[0].nprefixes, 2);
	CU_ASSERT_EQUAL(cfg.slices[0].src[1].len, 25);
	CU_ASSERT_STRING_EQUAL(cfg.slices[1].name, "web6-api");
	CU_ASSERT_EQUAL(cfg.slices[1].service, 1);
	CU_ASSERT_STRING_EQUAL(cfg.slices[1].filter, "tcp dst port 443");
	CU_ASSERT_EQUAL_FATAL(cfg.nguards, 3);
	CU_ASSERT_STRING_EQUAL(cfg.guards[0].name, "billing-resets");
	CU_ASSERT_STRING_EQUAL(cfg.guards[0].slice, "billing");
	CU_ASSERT_EQUAL(cfg.guards[0].signal, SL_SIG_RST);
	CU_ASSERT_DOUBLE_EQUAL(cfg.guards[0].margin, 0.005, 1e-12);
	CU_ASSERT_EQUAL(cfg.guards[0].reset, 1);
	CU_ASSERT_EQUAL(cfg.guards[1].signal, SL_SIG_TTFB);
	CU_ASSERT_EQUAL(cfg.guards[1].threshold_us, 200000);
	CU_ASSERT_EQUAL(cfg.guards[1].on_fail, SL_GUARD_PAUSE);
	CU_ASSERT_EQUAL(cfg.guards[1].on_inconclusive, SL_GUARD_INC_HOLD);
	CU_ASSERT_EQUAL(cfg.guards[2].signal, SL_SIG_PUSHED);
	CU_ASSERT_STRING_EQUAL(cfg.guards[2].pushed, "checkout-errors");
	CU_ASSERT_DOUBLE_EQUAL(cfg.guards[2].alpha, 0.05, 1e-12);
	CU_ASSERT_EQUAL(cfg.guards[2].named, 1);
}

void sl_test_register_config(void)
{
	CU_pSuite s = CU_add_suite("config", NULL, NULL);

	CU_add_test(s, "unknown section", test_unknown_section);
	CU_add_test(s, "unknown key", test_unknown_key);
	CU_add_test(s, "[control] section", test_control_section);
	CU_add_test(s, "missing key or section", test_missing_key);
	CU_add_test(s, "bad role", test_bad_role);
	CU_add_test(s, "client and backend ports", test_client_ports);
	CU_add_test(s, "16 ports load, 17 fail", test_too_many_ports);
	CU_add_test(s, "32 groups load, 33 fail", test_too_many_groups);
	CU_add_test(s, "128 services load, 129 fail", test_too_many_services);
	CU_add_test(s, "share in a file", test_share_in_config);
	CU_add_test(s, "sl_share_parse table", test_share_parse);
	CU_add_test(s, "sl_duration_parse table", test_duration_parse);
	CU_add_test(s, "bad duration", test_bad_duration);
	CU_add_test(s, "bad MAC", test_bad_mac);
	CU_add_test(s, "duplicate member", test_duplicate_member);
	CU_add_test(s, "56 members on one line", test_many_members);
	CU_add_test(s, "members and mode", test_members_and_mode);
	CU_add_test(s, "group port not found or not a backend", test_group_port);
	CU_add_test(s, "service groups", test_service_groups);
	CU_add_test(s, "bad vip or proto", test_bad_vip);
	CU_add_test(s, "bad ports", test_bad_ports);
	CU_add_test(s, "overlapping services", test_overlapping_services);
	CU_add_test(s, "maglev_size", test_maglev_size);
	CU_add_test(s, "bad integers and actions", test_bad_integers);
	CU_add_test(s, "duplicate keys and sections", test_duplicates);
	CU_add_test(s, "syntax errors", test_syntax_error);
	CU_add_test(s, "file errors", test_file_errors);
	CU_add_test(s, "FIFO, /dev/zero, directory, 1 MiB + 1", test_not_regular);
	CU_add_test(s, "NUL, CR and control bytes refused by line", test_hidden_bytes);
	CU_add_test(s, "iniparser and the line scan agree (random text)", test_parsers_agree);
	CU_add_test(s, "long section name and path: cut visibly", test_long_names);
	CU_add_test(s, "sl_seterr / sl_adderr cut", test_errmsg_cut);
	CU_add_test(s, "comments, quotes, case", test_comments_quotes_case);
	CU_add_test(s, "defaults and every dataplane key", test_defaults);
	CU_add_test(s, "port and group lookup", test_lookup);
	CU_add_test(s, "[shadow NAME] sections", test_shadow_section);
	CU_add_test(s, "16 shadow rules load, 17 fail; long filter", test_shadow_limits);
	CU_add_test(s, "conf/demo.ini", test_conf_demo);
	CU_add_test(s, "conf/example-4port.ini", test_conf_example_4port);
	CU_add_test(s, "conf/netns.ini", test_conf_netns);
	CU_add_test(s, "every conf/*.ini loads", test_conf_all);
	CU_add_test(s, "[dataplane] handshake_timeout", test_handshake_timeout);
	CU_add_test(s, "[slice NAME] sections", test_slice_section);
	CU_add_test(s, "8 slices per service, 64 in all", test_slice_limits);
	CU_add_test(s, "[guard NAME] sections, every key", test_guard_section);
	CU_add_test(s, "sl_guard_parse and sl_guard_check alone", test_guard_parse);
	CU_add_test(s, "conf/guards.ini", test_conf_guards);
}
