/* Control protocol: every error class of control/PROTOCOL.md with its
 * message, valid requests into the right struct, reply bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "unit.h"

static struct sl_req req;
static struct sl_error err;

/* Parse a NUL-terminated line; returns sl_req_parse's result. */
static int parse(const char *line)
{
	sl_req_clear(&req);
	return sl_req_parse(line, strlen(line), &req, &err);
}

static void expect_error(const char *line, enum sl_errcode code, const char *field,
			 const char *message)
{
	int rc = parse(line);

	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_EQUAL(err.code, code);
	CU_ASSERT_STRING_EQUAL(err.field, field);
	CU_ASSERT_STRING_EQUAL(err.message, message);
	if (rc != -1 || err.code != code || strcmp(err.message, message) ||
	    strcmp(err.field, field))
		printf("\n  line %s\n  got %s [%s] %s\n", line, sl_errcode_name(err.code),
		       err.field, err.message);
}

#define CMDS "status, switch, canary, weights, rollout_start, rollout_status, rollout_pause, " \
	"rollout_resume, rollout_promote, rollout_abort, undo, history, stats, reload, version, " \
	"shadow_add, shadow_remove, shadow_list, evidence_push, guard_list, slice_list, slice_add, slice_remove"

static void test_not_json(void)
{
	CU_ASSERT_EQUAL(parse("{\"cmd\": "), -1);
	CU_ASSERT_EQUAL(err.code, SL_E_BAD_REQUEST);
	CU_ASSERT_EQUAL(strncmp(err.message, "not JSON: ", 10), 0);
	CU_ASSERT_PTR_NULL(req.id);
	CU_ASSERT_EQUAL(parse(""), -1);
	CU_ASSERT_EQUAL(err.code, SL_E_BAD_REQUEST);
	CU_ASSERT_EQUAL(strncmp(err.message, "not JSON: ", 10), 0);
	/* trailing garbage after the object */
	CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\"} x"), -1);
	CU_ASSERT_EQUAL(strncmp(err.message, "not JSON: ", 10), 0);
	/* a duplicated field is ambiguous: refused */
	CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\",\"cmd\":\"stats\"}"), -1);
	CU_ASSERT_EQUAL(err.code, SL_E_BAD_REQUEST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "duplicate"));
}

static void test_not_object(void)
{
	expect_error("[1, 2]", SL_E_BAD_REQUEST, "",
		     "request is an array, expected a JSON object such as {\"cmd\": \"status\"}");
	expect_error("\"status\"", SL_E_BAD_REQUEST, "",
		     "request is a string, expected a JSON object such as {\"cmd\": \"status\"}");
}

static void test_oversized(void)
{
	size_t n = SL_PROTO_MAX_LINE + 1;
	char *line = malloc(n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	memset(line, ' ', n);
	memcpy(line, "{\"cmd\":\"status\"}", 16);
	CU_ASSERT_EQUAL(sl_req_parse(line, n, &req, &err), -1);
	CU_ASSERT_EQUAL(err.code, SL_E_BAD_REQUEST);
	CU_ASSERT_STRING_EQUAL(err.message, "request line of 65537 bytes is too long (expected "
			       "at most 65536)");
	/* exactly the limit is fine (blanks are JSON whitespace) */
	CU_ASSERT_EQUAL(sl_req_parse(line, n - 1, &req, &err), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_STATUS);
	free(line);
}

static void test_cmd_errors(void)
{
	expect_error("{\"id\": 3}", SL_E_BAD_REQUEST, "cmd",
		     "missing field 'cmd' (expected one of: " CMDS ")");
	/* the id is kept so that the error reply can echo it */
	CU_ASSERT_PTR_NOT_NULL_FATAL(req.id);
	CU_ASSERT_EQUAL(json_integer_value(req.id), 3);
	expect_error("{\"cmd\": 5}", SL_E_BAD_REQUEST, "cmd",
		     "field 'cmd': expected a string, got a number");
	expect_error("{\"cmd\": \"frobnicate\"}", SL_E_UNKNOWN_COMMAND, "cmd",
		     "unknown command 'frobnicate' (expected one of: " CMDS ")");
	expect_error("{\"cmd\": \"status\", \"id\": {}}", SL_E_BAD_REQUEST, "id",
		     "field 'id': expected a number or a string, got an object");
	CU_ASSERT_PTR_NULL(req.id);
}

static void test_unknown_field(void)
{
	expect_error("{\"cmd\":\"canary\",\"service\":\"web\",\"share\":\"5%\",\"shar\":\"5%\"}",
		     SL_E_BAD_REQUEST, "shar",
		     "unknown field 'shar' for canary (expected: id, cmd, service, share, mode)");
	/* a field of another command is unknown here */
	expect_error("{\"cmd\":\"switch\",\"service\":\"web\",\"group\":\"green\",\"share\":\"5%\"}",
		     SL_E_BAD_REQUEST, "share",
		     "unknown field 'share' for switch (expected: id, cmd, service, group, mode)");
	expect_error("{\"cmd\":\"version\",\"service\":\"web\"}", SL_E_BAD_REQUEST, "service",
		     "unknown field 'service' for version (expected: id, cmd)");
}

static void test_missing_field(void)
{
	expect_error("{\"cmd\":\"canary\",\"service\":\"web\"}", SL_E_BAD_REQUEST, "share",
		     "missing field 'share' (canary needs it)");
	expect_error("{\"cmd\":\"switch\",\"group\":\"green\"}", SL_E_BAD_REQUEST, "service",
		     "missing field 'service' (switch needs it)");
	expect_error("{\"cmd\":\"rollout_start\",\"service\":\"web\"}", SL_E_BAD_REQUEST, "steps",
		     "missing field 'steps' (rollout_start needs it)");
	expect_error("{\"cmd\":\"undo\"}", SL_E_BAD_REQUEST, "service",
		     "missing field 'service' (undo needs it)");
}

static void test_wrong_types(void)
{
	expect_error("{\"cmd\":\"status\",\"service\":7}", SL_E_BAD_REQUEST, "service",
		     "field 'service': expected a string, got a number");
	expect_error("{\"cmd\":\"status\",\"service\":\"\"}", SL_E_BAD_REQUEST, "service",
		     "field 'service': empty (expected a name)");
	expect_error("{\"cmd\":\"switch\",\"service\":\"web\",\"group\":[\"green\"]}",
		     SL_E_BAD_REQUEST, "group", "field 'group': expected a string, got an array");
	expect_error("{\"cmd\":\"canary\",\"service\":\"web\",\"share\":5}", SL_E_BAD_REQUEST,
		     "share", "share: expected a string such as \"5%\", \"0.5%\" or \"50bp\", got "
		     "a number");
	expect_error("{\"cmd\":\"rollout_promote\",\"full\":\"yes\"}", SL_E_BAD_REQUEST, "full",
		     "field 'full': expected true or false, got a string");
	expect_error("{\"cmd\":\"history\",\"limit\":0}", SL_E_BAD_REQUEST, "limit",
		     "field 'limit': expected a whole number of entries 1..10000, got 0");
	expect_error("{\"cmd\":\"history\",\"limit\":2.5}", SL_E_BAD_REQUEST, "limit",
		     "field 'limit': expected a whole number of entries 1..10000, got a "
		     "number");
	expect_error("{\"cmd\":\"weights\",\"service\":\"web\",\"weights\":\"green=20%\"}",
		     SL_E_BAD_REQUEST, "weights", "field 'weights': expected an object of group "
		     "-> share such as {\"green\": \"20%\"}, got a string");
	expect_error("{\"cmd\":\"rollout_start\",\"service\":\"web\",\"steps\":{}}",
		     SL_E_BAD_REQUEST, "steps", "field 'steps': expected an array of steps, got "
		     "an object");
}

static void test_bad_share(void)
{
	expect_error("{\"cmd\":\"canary\",\"service\":\"web\",\"share\":\"120%\"}", SL_E_BAD_SHARE,
		     "share", "share: '120%' is above 100% (expected 0%..100%, e.g. 5%, 0.5%, "
		     "50bp)");
	expect_error("{\"cmd\":\"canary\",\"service\":\"web\",\"share\":\"5\"}", SL_E_BAD_SHARE,
		     "share", "share: '5' has no unit (expected % or bp, e.g. 5% or 50bp)");
	expect_error("{\"cmd\":\"canary\",\"service\":\"web\",\"share\":\"-1%\"}", SL_E_BAD_SHARE,
		     "share", "share: '-1%' is not a share (expected 0%..100%, e.g. 5%, 0.5%, "
		     "50bp)");
}

static void test_bad_mode(void)
{
	expect_error("{\"cmd\":\"canary\",\"service\":\"web\",\"share\":\"5%\",\"mode\":\"fast\"}",
		     SL_E_BAD_MODE, "mode",
		     "mode: 'fast' is not a mode (expected \"sticky\" or \"reset\")");
	expect_error("{\"cmd\":\"rollout_abort\",\"mode\":true}", SL_E_BAD_MODE, "mode",
		     "mode: expected \"sticky\" or \"reset\", got a boolean");
}

#define START "{\"cmd\":\"rollout_start\",\"service\":\"web\",\"steps\":"

static void test_bad_steps(void)
{
	char line[4096];
	size_t n;

	expect_error(START "[]}", SL_E_BAD_PLAN, "steps", "steps: empty (expected 1..32 steps)");
	n = (size_t)snprintf(line, sizeof(line), START "[");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s{\"share\":\"%d%%\","
				      "\"dwell\":\"1s\"}", i ? "," : "", i);
	snprintf(line + n, sizeof(line) - n, "]}");
	expect_error(line, SL_E_BAD_PLAN, "steps", "steps: 33 steps (expected at most 32)");
	expect_error(START "[{\"share\":\"5%\",\"dwell\":\"1m\"},{\"share\":\"1%\",\"dwell\":\"1m\"}]}",
		     SL_E_BAD_PLAN, "steps",
		     "steps: step 2: 1% after 5%: shares must not decrease");
	expect_error(START "[{\"share\":\"5%\",\"dwell\":\"soon\"}]}", SL_E_BAD_PLAN, "steps",
		     "steps: step 1: dwell: 'soon' is not a duration (expected 1ms..7 days as a "
		     "whole number with ms, s, m or h, e.g. 500ms, 30s, 2m, 1h; a bare number is "
		     "seconds)");
	expect_error(START "[{\"share\":\"5%\",\"dwell\":\"1m\",\"pause\":true}]}", SL_E_BAD_PLAN,
		     "steps", "steps: step 1: both dwell and pause (a pause step waits for resume "
		     "or promote: expected one of them)");
	expect_error(START "[{\"share\":\"5%\"}]}", SL_E_BAD_PLAN, "steps",
		     "steps: step 1: no dwell (expected \"dwell\": \"60s\" or \"pause\": true)");
	expect_error(START "[{\"dwell\":\"1m\"}]}", SL_E_BAD_PLAN, "steps",
		     "steps: step 1: no share (expected e.g. {\"share\": \"5%\", \"dwell\": "
		     "\"60s\"})");
	expect_error(START "[{\"share\":\"5%\",\"dwel\":\"1m\"}]}", SL_E_BAD_REQUEST, "steps",
		     "steps: step 1: unknown field 'dwel' (expected share, dwell, pause)");
	expect_error(START "[{\"share\":\"500%\",\"dwell\":\"1m\"}]}", SL_E_BAD_SHARE, "steps",
		     "steps: step 1: share: '500%' is above 100% (expected 0%..100%, e.g. 5%, "
		     "0.5%, 50bp)");
	expect_error(START "[\"5%\"]}", SL_E_BAD_REQUEST, "steps",
		     "steps: step 1: expected an object such as {\"share\": \"5%\", \"dwell\": "
		     "\"60s\"}, got a string");
}

#define WEIGHTS "{\"cmd\":\"weights\",\"service\":\"web\",\"weights\":"

static void test_bad_weights(void)
{
	expect_error(WEIGHTS "{\"blue\":\"80%\",\"green\":\"30%\"}}", SL_E_BAD_SHARE, "weights",
		     "weights: blue 80.00 % + green 30.00 % = 110.00 % (expected a total of 100 %)");
	expect_error(WEIGHTS "{}}", SL_E_BAD_REQUEST, "weights",
		     "weights: 0 groups given (expected one or two: the service's champion and "
		     "challenger, e.g. {\"green\": \"20%\"})");
	expect_error(WEIGHTS "{\"a\":\"10%\",\"b\":\"10%\",\"c\":\"80%\"}}", SL_E_BAD_REQUEST,
		     "weights", "weights: 3 groups given (expected one or two: the service's "
		     "champion and challenger, e.g. {\"green\": \"20%\"})");
	expect_error(WEIGHTS "{\"green\":\"2O%\"}}", SL_E_BAD_SHARE, "weights",
		     "weights: green: '2O%' has an unknown unit 'O%' (expected % or bp, e.g. 5% "
		     "or 50bp)");
}

static void test_valid(void)
{
	CU_ASSERT_EQUAL_FATAL(parse("{\"id\":\"a7\",\"cmd\":\"canary\",\"service\":\"web\","
				    "\"share\":\"0.05%\"}"), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_CANARY);
	CU_ASSERT_STRING_EQUAL(req.service, "web");
	CU_ASSERT_EQUAL(req.share_bp, 5);
	CU_ASSERT_EQUAL(req.reset, 0);
	CU_ASSERT_EQUAL(req.has_mode, 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(req.id), "a7");

	CU_ASSERT_EQUAL_FATAL(parse("{\"cmd\":\"switch\",\"service\":\"web\",\"group\":\"green\","
				    "\"mode\":\"reset\"}"), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_SWITCH);
	CU_ASSERT_STRING_EQUAL(req.group, "green");
	CU_ASSERT_EQUAL(req.reset, 1);
	CU_ASSERT_EQUAL(req.has_mode, 1);
	CU_ASSERT_PTR_NULL(req.id);

	CU_ASSERT_EQUAL_FATAL(parse(WEIGHTS "{\"blue\":\"80%\",\"green\":\"2000bp\"}}"), 0);
	CU_ASSERT_EQUAL(req.nweights, 2);
	CU_ASSERT_STRING_EQUAL(req.weights[0].group, "blue");
	CU_ASSERT_EQUAL(req.weights[0].share_bp, 8000);
	CU_ASSERT_STRING_EQUAL(req.weights[1].group, "green");
	CU_ASSERT_EQUAL(req.weights[1].share_bp, 2000);

	CU_ASSERT_EQUAL_FATAL(parse(START "[{\"share\":\"1%\",\"dwell\":\"90s\"},"
				    "{\"share\":\"20%\",\"pause\":true},"
				    "{\"share\":\"100%\",\"dwell\":\"500ms\"}]}"), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_ROLLOUT_START);
	CU_ASSERT_EQUAL(req.nsteps, 3);
	CU_ASSERT_EQUAL(req.steps[0].share_bp, 100);
	CU_ASSERT_EQUAL(req.steps[0].dwell_ms, 90000);
	CU_ASSERT_EQUAL(req.steps[0].pause, 0);
	CU_ASSERT_EQUAL(req.steps[1].share_bp, 2000);
	CU_ASSERT_EQUAL(req.steps[1].pause, 1);
	CU_ASSERT_EQUAL(req.steps[1].dwell_ms, 0);
	CU_ASSERT_EQUAL(req.steps[2].dwell_ms, 500);

	CU_ASSERT_EQUAL_FATAL(parse("{\"cmd\":\"rollout_promote\",\"full\":true}"), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_ROLLOUT_PROMOTE);
	CU_ASSERT_EQUAL(req.full, 1);
	CU_ASSERT_EQUAL(req.has_service, 0);

	CU_ASSERT_EQUAL_FATAL(parse("{\"cmd\":\"history\",\"service\":\"dns\",\"limit\":3}"), 0);
	CU_ASSERT_EQUAL(req.limit, 3);
	CU_ASSERT_EQUAL(req.has_service, 1);
	CU_ASSERT_EQUAL_FATAL(parse("{\"cmd\":\"history\"}"), 0);
	CU_ASSERT_EQUAL(req.limit, 20);

	/* a line need not be NUL-terminated */
	CU_ASSERT_EQUAL_FATAL(sl_req_parse("{\"cmd\":\"stats\"}garbage", 15, &req, &err), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_STATS);
	sl_req_clear(&req);
}

static void test_names(void)
{
	for (int c = 0; c < SL_CMD__COUNT; c++)
		CU_ASSERT_EQUAL(sl_cmd_from_name(sl_cmd_name((enum sl_cmd)c)), c);
	CU_ASSERT_EQUAL(sl_cmd_from_name("rollout"), -1);
	CU_ASSERT_STRING_EQUAL(sl_errcode_name(SL_E_RELOAD_INVALID), "reload_invalid");
	CU_ASSERT_STRING_EQUAL(sl_errcode_name(SL_E_BUSY), "busy");
}

static void test_replies(void)
{
	json_t *id = json_integer(7);
	char *s = sl_reply_ok(id, json_pack("{s:b, s:i}", "changed", 1, "gen", 12));
	struct sl_error e;

	CU_ASSERT_STRING_EQUAL(s, "{\"id\":7,\"ok\":true,\"result\":{\"changed\":true,\"gen\":12}}\n");
	free(s);
	sl_error_set(&e, SL_E_BAD_SHARE, "share", "share: '%s' is above 100%%", "120%");
	s = sl_reply_error(id, &e);
	CU_ASSERT_STRING_EQUAL(s, "{\"id\":7,\"ok\":false,\"error\":{\"code\":\"bad_share\","
			       "\"field\":\"share\",\"message\":\"share: '120%' is above 100%\"}}\n");
	free(s);
	/* no id, no field: neither key */
	sl_error_set(&e, SL_E_BAD_REQUEST, "", "not JSON");
	s = sl_reply_error(NULL, &e);
	CU_ASSERT_STRING_EQUAL(s, "{\"ok\":false,\"error\":{\"code\":\"bad_request\","
			       "\"message\":\"not JSON\"}}\n");
	free(s);
	/* a message cut inside a UTF-8 sequence still makes valid JSON */
	sl_error_set(&e, SL_E_UNKNOWN_SERVICE, "service", "no service '%.5s'", "ab\xc3\xa9xyz");
	s = sl_reply_error(NULL, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"message\":\"no service 'ab\xc3\xa9x'\""));
	free(s);
	sl_error_set(&e, SL_E_UNKNOWN_SERVICE, "service", "no service '%.3s'", "ab\xc3\xa9xyz");
	s = sl_reply_error(NULL, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"message\":\"no service 'ab?'\""));
	free(s);
	json_decref(id);
}

#define SADD "{\"cmd\":\"shadow_add\",\"name\":\"web-443\",\"service\":\"web\"," \
	"\"port\":\"mirror\","

static void test_shadow_requests(void)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0x0d, 1 };

	CU_ASSERT_EQUAL_FATAL(parse(SADD "\"sample\":\"10%\",\"filter\":\"tcp dst port 443 and "
				    "src net 198.51.100.0/24\",\"mac\":\"02:00:00:00:0D:01\"}"), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_SHADOW_ADD);
	CU_ASSERT_STRING_EQUAL(req.name, "web-443");
	CU_ASSERT_STRING_EQUAL(req.service, "web");
	CU_ASSERT_STRING_EQUAL(req.port, "mirror");
	CU_ASSERT_EQUAL(req.sample_bp, 1000);
	CU_ASSERT_STRING_EQUAL(req.filter, "tcp dst port 443 and src net 198.51.100.0/24");
	CU_ASSERT_EQUAL(req.has_mac, 1);
	CU_ASSERT_EQUAL(memcmp(req.mac, mac, 6), 0);
	/* no filter: every packet of the sampled flows */
	CU_ASSERT_EQUAL_FATAL(parse(SADD "\"sample\":\"50bp\"}"), 0);
	CU_ASSERT_STRING_EQUAL(req.filter, "");
	CU_ASSERT_EQUAL(req.has_mac, 0);
	CU_ASSERT_EQUAL(req.sample_bp, 50);
	CU_ASSERT_EQUAL_FATAL(parse("{\"cmd\":\"shadow_remove\",\"name\":\"web-443\"}"), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_SHADOW_REMOVE);
	CU_ASSERT_STRING_EQUAL(req.name, "web-443");
	CU_ASSERT_EQUAL_FATAL(parse("{\"cmd\":\"shadow_list\"}"), 0);
	CU_ASSERT_EQUAL(req.cmd, SL_CMD_SHADOW_LIST);

	expect_error(SADD "\"sample\":\"10%\",\"filter\":\"tcp dst port\"}", SL_E_BAD_FILTER,
		     "filter", "filter: 'tcp dst port' does not compile: can't parse filter "
		     "expression: syntax error (expected a pcap-filter expression, e.g. tcp dst "
		     "port 443)");
	expect_error(SADD "\"sample\":\"10%\",\"filter\":\"net 10.0.0.1/8\"}", SL_E_BAD_FILTER,
		     "filter", "filter: 'net 10.0.0.1/8' does not compile: non-network bits set "
		     "in \"10.0.0.1/8\" (expected a pcap-filter expression, e.g. tcp dst port "
		     "443)");
	expect_error(SADD "\"sample\":\"10%\",\"filter\":443}", SL_E_BAD_REQUEST, "filter",
		     "field 'filter': expected a string such as \"tcp dst port 443\", got a "
		     "number");
	expect_error(SADD "\"sample\":\"10\"}", SL_E_BAD_SHARE, "sample",
		     "sample: '10' has no unit (expected % or bp, e.g. 5% or 50bp)");
	expect_error(SADD "\"sample\":\"10%\",\"mac\":\"ff:ff:ff:ff:ff:ff\"}",
		     SL_E_BAD_REQUEST, "mac", "mac: 'ff:ff:ff:ff:ff:ff' is a broadcast address "
		     "(expected a unicast MAC)");
	expect_error(SADD "\"sample\":\"10%\",\"mac\":\"02:00:00\"}", SL_E_BAD_REQUEST, "mac",
		     "mac: '02:00:00' is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
	expect_error("{\"cmd\":\"shadow_add\",\"name\":\"x\",\"service\":\"web\","
		     "\"sample\":\"1%\"}", SL_E_BAD_REQUEST, "port",
		     "missing field 'port' (shadow_add needs it)");
	expect_error("{\"cmd\":\"shadow_add\",\"service\":\"web\",\"port\":\"m\","
		     "\"sample\":\"1%\"}", SL_E_BAD_REQUEST, "name",
		     "missing field 'name' (shadow_add needs it)");
	expect_error("{\"cmd\":\"shadow_remove\"}", SL_E_BAD_REQUEST, "name",
		     "missing field 'name' (shadow_remove needs it)");
	expect_error("{\"cmd\":\"shadow_remove\",\"name\":\"a\",\"service\":\"web\"}",
		     SL_E_BAD_REQUEST, "service",
		     "unknown field 'service' for shadow_remove (expected: id, cmd, name)");
	expect_error("{\"cmd\":\"shadow_list\",\"name\":\"a\"}", SL_E_BAD_REQUEST, "name",
		     "unknown field 'name' for shadow_list (expected: id, cmd)");
	expect_error("{\"cmd\":\"shadow_add\",\"name\":\"a\",\"service\":\"web\","
		     "\"port\":\"m\",\"sample\":\"1%\",\"rate\":1}", SL_E_BAD_REQUEST, "rate",
		     "unknown field 'rate' for shadow_add (expected: id, cmd, service, name, "
		     "filter, sample, port, mac)");
	CU_ASSERT_STRING_EQUAL(sl_errcode_name(SL_E_BAD_FILTER), "bad_filter");
	CU_ASSERT_STRING_EQUAL(sl_errcode_name(SL_E_BAD_PORT), "bad_port");
	CU_ASSERT_STRING_EQUAL(sl_errcode_name(SL_E_UNKNOWN_SHADOW), "unknown_shadow");
	CU_ASSERT_STRING_EQUAL(sl_errcode_name(SL_E__COUNT), "internal");
	sl_req_clear(&req);
}

void sl_test_register_proto(void)
{
	CU_pSuite s = CU_add_suite("proto", NULL, NULL);

	CU_add_test(s, "not JSON", test_not_json);
	CU_add_test(s, "not an object", test_not_object);
	CU_add_test(s, "oversized line", test_oversized);
	CU_add_test(s, "missing or unknown cmd, bad id", test_cmd_errors);
	CU_add_test(s, "unknown field", test_unknown_field);
	CU_add_test(s, "missing field", test_missing_field);
	CU_add_test(s, "wrong types", test_wrong_types);
	CU_add_test(s, "bad share", test_bad_share);
	CU_add_test(s, "bad mode", test_bad_mode);
	CU_add_test(s, "bad steps", test_bad_steps);
	CU_add_test(s, "bad weights", test_bad_weights);
	CU_add_test(s, "valid requests", test_valid);
	CU_add_test(s, "command and error names", test_names);
	CU_add_test(s, "reply lines", test_replies);
	CU_add_test(s, "shadow_add, shadow_remove, shadow_list", test_shadow_requests);
}
