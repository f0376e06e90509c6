/* Replay schedules: times, lines -> the same requests sluicectl builds,
 * quoting and comments, and every error naming the file and the line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedule.h"
#include "testcfg.h"
#include "unit.h"

static char err[2048];

static int parse(const char *text, struct sl_schedule *s)
{
	err[0] = '\0';
	return sl_schedule_parse("plan.sched", text, strlen(text), s, err, sizeof(err));
}

/* The text fails; err must contain every fragment (the file:line first). */
static void refused(const char *text, const char *where, const char *frag)
{
	struct sl_schedule s;
	int rc = parse(text, &s);

	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_PTR_NULL(s.a);
	CU_ASSERT_EQUAL(strncmp(err, where, strlen(where)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, frag));
	if (rc != -1 || strncmp(err, where, strlen(where)) || !strstr(err, frag))
		fprintf(stderr, "\n  schedule %s\n  error %s\n  expected %s ... %s\n", text, err,
			where, frag);
	if (rc == 0)
		sl_schedule_free(&s);
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void req_is(const struct sl_sched_action *a, const char *json)
{
	json_error_t je;
	json_t *want = json_loads(json, 0, &je);

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_TRUE(json_equal(a->req, want));
	if (!json_equal(a->req, want)) {
		char *got = dump(a->req);

		fprintf(stderr, "\n  line %u: got %s\n  expected %s\n", a->line, got, json);
		free(got);
	}
	json_decref(want);
}

static uint64_t ms(const char *s)
{
	uint64_t v = 12345;

	err[0] = '\0';
	if (sl_sched_time_parse(s, &v, err, sizeof(err)))
		return UINT64_MAX;
	return v;
}

static void test_times(void)
{
	CU_ASSERT_EQUAL(ms("0s"), 0);
	CU_ASSERT_EQUAL(ms("2.0s"), 2000);
	CU_ASSERT_EQUAL(ms("2.5s"), 2500);
	CU_ASSERT_EQUAL(ms("10s"), 10000);
	CU_ASSERT_EQUAL(ms("500ms"), 500);
	CU_ASSERT_EQUAL(ms("0.001s"), 1);
	CU_ASSERT_EQUAL(ms("1m"), 60000);
	CU_ASSERT_EQUAL(ms("1.5m"), 90000);
	CU_ASSERT_EQUAL(ms("2h"), 7200000);
	CU_ASSERT_EQUAL(ms(".5s"), 500);
	CU_ASSERT_EQUAL(ms("720h"), 720ull * 3600000);

	CU_ASSERT_EQUAL(ms("2"), UINT64_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'2' has no unit"));
	CU_ASSERT_EQUAL(ms("2d"), UINT64_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown unit 'd'"));
	CU_ASSERT_EQUAL(ms("2 s"), UINT64_MAX);
	CU_ASSERT_EQUAL(ms("-1s"), UINT64_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'-1s' is not a time"));
	CU_ASSERT_EQUAL(ms("0.0005s"), UINT64_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "finer than a millisecond"));
	CU_ASSERT_EQUAL(ms("1.5ms"), UINT64_MAX);
	CU_ASSERT_EQUAL(ms("2.s"), UINT64_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "digits after the decimal point"));
	CU_ASSERT_EQUAL(ms("721h"), UINT64_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "more than 30 days"));
	CU_ASSERT_EQUAL(ms("99999999999s"), UINT64_MAX);
	CU_ASSERT_EQUAL(ms(""), UINT64_MAX);
	CU_ASSERT_EQUAL(ms("s"), UINT64_MAX);
}

static void test_runbook(void)
{
	static const char text[] =
		"# rehearsal of the web rollout\n"
		"\n"
		"at 2.0s canary web 5%\n"
		"  at 2s   weights web green=20% --reset   # same time: file order\n"
		"at 10s rollout start web --steps 1,5,20 --dwell 2s\n"
		"at 12s rollout promote\n"
		"at 13s promote web --full\n"
		"at 14s pause\n"
		"at 15s rollout resume web\r\n"
		"at 20s abort --reset\n"
		"at 21s switch web green --sticky\n"
		"at 1m undo web";
	struct sl_schedule s;

	CU_ASSERT_EQUAL_FATAL(parse(text, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 10);
	CU_ASSERT_STRING_EQUAL(s.path, "plan.sched");
	CU_ASSERT_EQUAL(s.a[0].line, 3);
	CU_ASSERT_EQUAL(s.a[0].at_ms, 2000);
	CU_ASSERT_STRING_EQUAL(s.a[0].text, "canary web 5%");
	req_is(&s.a[0], "{\"cmd\": \"canary\", \"service\": \"web\", \"share\": \"5%\"}");
	CU_ASSERT_EQUAL(s.a[1].line, 4);
	CU_ASSERT_EQUAL(s.a[1].at_ms, 2000);
	CU_ASSERT_STRING_EQUAL(s.a[1].text, "weights web green=20% --reset");
	req_is(&s.a[1], "{\"cmd\": \"weights\", \"service\": \"web\", \"weights\": "
	       "{\"green\": \"20%\"}, \"mode\": \"reset\"}");
	req_is(&s.a[2], "{\"cmd\": \"rollout_start\", \"service\": \"web\", \"steps\": ["
	       "{\"share\": \"100bp\", \"dwell\": \"2000ms\"}, "
	       "{\"share\": \"500bp\", \"dwell\": \"2000ms\"}, "
	       "{\"share\": \"2000bp\", \"dwell\": \"2000ms\"}]}");
	CU_ASSERT_EQUAL(s.a[2].cmd->kind, SL_CMD_ROLLOUT_START);
	req_is(&s.a[3], "{\"cmd\": \"rollout_promote\"}");
	req_is(&s.a[4], "{\"cmd\": \"rollout_promote\", \"service\": \"web\", \"full\": true}");
	req_is(&s.a[5], "{\"cmd\": \"rollout_pause\"}");
	CU_ASSERT_EQUAL(s.a[6].line, 9);
	req_is(&s.a[6], "{\"cmd\": \"rollout_resume\", \"service\": \"web\"}");
	req_is(&s.a[7], "{\"cmd\": \"rollout_abort\", \"mode\": \"reset\"}");
	req_is(&s.a[8], "{\"cmd\": \"switch\", \"service\": \"web\", \"group\": \"green\", "
	       "\"mode\": \"sticky\"}");
	CU_ASSERT_EQUAL(s.a[9].line, 12);
	CU_ASSERT_EQUAL(s.a[9].at_ms, 60000);
	req_is(&s.a[9], "{\"cmd\": \"undo\", \"service\": \"web\"}");
	sl_schedule_free(&s);
	CU_ASSERT_EQUAL(s.n, 0);

	/* comments and blank lines only: an empty schedule */
	CU_ASSERT_EQUAL(parse("# nothing yet\n\n   \t\n", &s), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	sl_schedule_free(&s);
	CU_ASSERT_EQUAL(parse("", &s), 0);
	CU_ASSERT_EQUAL(s.n, 0);
}

static void test_quoting(void)
{
	struct sl_schedule s;

	CU_ASSERT_EQUAL_FATAL(parse("at 1s 'canary' \"web\" 5\\%\n"
				    "at 2s canary web 1%#x\n", &s), -1);
	/* '#' inside a word starts no comment: "1%#x" is the share, refused */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "plan.sched:2: share: '1%#x'"));

	CU_ASSERT_EQUAL_FATAL(parse("at 1s 'canary' \"web\" 5\\%\n"
				    "at 2s can\"ary\" w'e'b 1% # comment\n", &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	req_is(&s.a[0], "{\"cmd\": \"canary\", \"service\": \"web\", \"share\": \"5%\"}");
	req_is(&s.a[1], "{\"cmd\": \"canary\", \"service\": \"web\", \"share\": \"1%\"}");
	CU_ASSERT_STRING_EQUAL(s.a[1].text, "canary web 1%");
	sl_schedule_free(&s);
}

static void test_errors(void)
{
	refused("at 1s canary web 5%\nbogus\n", "plan.sched:2: ",
		"expected 'at TIME COMMAND ...'");
	refused("canary web 5%\n", "plan.sched:1: ", "not 'canary'");
	refused("at\n", "plan.sched:1: ", "'at' needs a TIME and a COMMAND");
	refused("# x\nat 2s\n", "plan.sched:2: ", "'at 2s' needs a COMMAND");
	refused("at 2 canary web 5%\n", "plan.sched:1: ", "TIME '2' has no unit");
	refused("at 2x canary web 5%\n", "plan.sched:1: ", "unknown unit 'x'");
	refused("at 5s canary web 5%\n\nat 2s canary web 10%\n", "plan.sched:3: ",
		"at 2s comes before the time of line 1 (5000 ms)");
	refused("at 1s frobnicate web\n", "plan.sched:1: ", "unknown command 'frobnicate'");
	refused("at 1s rollout sideways\n", "plan.sched:1: ", "unknown rollout verb 'sideways'");
	refused("at 1s canary web 120%\n", "plan.sched:1: ", "share: '120%'");
	refused("at 1s canary web\n", "plan.sched:1: ", "missing SHARE for 'canary'");
	refused("at 1s canary Web 5%\n", "plan.sched:1: ", "SERVICE 'Web' is not a valid name");
	refused("at 1s canary web 5% --bogus\n", "plan.sched:1: ",
		"unknown option '--bogus' for 'canary'");
	refused("at 1s canary web 5% --json\n", "plan.sched:1: ",
		"unknown option '--json' for 'canary'");
	refused("at 1s canary web 5% --sticky --reset\n", "plan.sched:1: ",
		"--sticky and --reset exclude each other");
	refused("at 1s weights web green=60% blue=60%\n", "plan.sched:1: ",
		"add up to 100%");
	refused("at 1s rollout start web --steps 5,1 --dwell 1s\n", "plan.sched:1: ",
		"--steps item 2 '1%': lower than item 1");
	refused("at 1s rollout start web --steps 5,10\n", "plan.sched:1: ",
		"--steps needs --dwell");
	refused("at 1s rollout start web --plan /nonexistent/plan.ini\n", "plan.sched:1: ",
		"/nonexistent/plan.ini");
	refused("at 1s status\n", "plan.sched:1: ", "'status' changes nothing");
	refused("at 1s history web\n", "plan.sched:1: ", "'history' changes nothing");
	refused("at 1s rollout status\n", "plan.sched:1: ", "'rollout status' changes nothing");
	refused("at 1s reload\n", "plan.sched:1: ", "'reload' cannot run in a replay");
	refused("at 1s canary 'web 5%\n", "plan.sched:1: ", "unterminated ' quote");
	refused("at 1s canary \"web 5%\n", "plan.sched:1: ", "unterminated \" quote");
	refused("at 1s canary web 5%\\", "plan.sched:1: ", "a backslash ends the line");
	refused("at 1s canary web 5% a b c d e f g h i j k l m n o p q r s t u v w x y z "
		"a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k\n",
		"plan.sched:1: ", "more than 64 words");
	{
		char big[SL_SCHED_MAX_LINE + 40];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memcpy(big, "at 1s canary web 5% #", 21);
		refused(big, "plan.sched:1: ", "line longer than 4096 bytes");
	}
	{
		struct sl_schedule s;
		static const char nul[] = "at 1s canary web 5%\nat 2s canary\0web 6%\n";

		CU_ASSERT_EQUAL(sl_schedule_parse("plan.sched", nul, sizeof(nul) - 1, &s, err,
						  sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "plan.sched:2: a NUL byte"));
	}
}

static void test_file(void)
{
	char dir[] = "/tmp/sluice-test-sched-XXXXXX", path[128], plan[128];
	struct sl_schedule s;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/runbook.sched", dir);
	snprintf(plan, sizeof(plan), "%s/plan.ini", dir);
	f = fopen(plan, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("[step 1]\nshare = 10%\ndwell = 3s\n[step 2]\nshare = 50%\npause = yes\n", f);
	fclose(f);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "at 0s rollout start web --plan %s\nat 4s resume\n", plan);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(sl_schedule_load(path, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	req_is(&s.a[0], "{\"cmd\": \"rollout_start\", \"service\": \"web\", \"steps\": ["
	       "{\"share\": \"1000bp\", \"dwell\": \"3000ms\"}, "
	       "{\"share\": \"5000bp\", \"pause\": true}]}");
	sl_schedule_free(&s);

	/* a bad plan file: named with its section and key, after the line */
	f = fopen(plan, "w");
	fputs("[step 1]\nshare = 10%\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(sl_schedule_load(path, &s, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(strncmp(err, path, strlen(path)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "[step 1]"));

	unlink(plan);
	unlink(path);
	CU_ASSERT_EQUAL(sl_schedule_load(path, &s, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open the schedule"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	rmdir(dir);
}

static void test_check(void)
{
	struct sl_config *cfg = tc_config(500);
	struct sl_schedule s;

	CU_ASSERT_EQUAL_FATAL(parse("at 1s canary web 5%\nat 2s switch dns green\n"
				    "at 3s weights web6 blue=70% green=30%\nat 4s promote\n", &s),
			      0);
	CU_ASSERT_EQUAL(sl_schedule_check(&s, cfg, err, sizeof(err)), 0);
	sl_schedule_free(&s);

	CU_ASSERT_EQUAL_FATAL(parse("at 1s canary web 5%\nat 2s canary webx 5%\n", &s), 0);
	CU_ASSERT_EQUAL(sl_schedule_check(&s, cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "plan.sched:2: canary webx 5%: unknown service "
					   "'webx' (test.ini has: web, dns, web6)"));
	sl_schedule_free(&s);

	CU_ASSERT_EQUAL_FATAL(parse("\nat 2s switch web purple\n", &s), 0);
	CU_ASSERT_EQUAL(sl_schedule_check(&s, cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "plan.sched:2: switch web purple: group 'purple' is "
					   "not one of service web's groups (blue, green"));
	sl_schedule_free(&s);

	CU_ASSERT_EQUAL_FATAL(parse("at 2s shadow add s1 --service web --sample 5% --port shadow\n"
				    "at 3s shadow remove s1\n", &s), 0);
	CU_ASSERT_EQUAL(sl_schedule_check(&s, cfg, err, sizeof(err)), 0);
	sl_schedule_free(&s);
	CU_ASSERT_EQUAL_FATAL(parse("at 2s shadow add s1 --service web --sample 5% --port blue\n",
				    &s), 0);
	CU_ASSERT_EQUAL(sl_schedule_check(&s, cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "plan.sched:1: shadow add s1 --service web --sample 5% "
					   "--port blue: not a shadow port 'blue' (expected a port "
					   "of role shadow in test.ini)"));
	sl_schedule_free(&s);
	CU_ASSERT_EQUAL_FATAL(parse("at 2s shadow add s1 --service web --sample 5% --port x\n",
				    &s), 0);
	CU_ASSERT_EQUAL(sl_schedule_check(&s, cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown port 'x'"));
	sl_schedule_free(&s);

	CU_ASSERT_EQUAL_FATAL(parse("at 2s weights web red=20%\n", &s), 0);
	CU_ASSERT_EQUAL(sl_schedule_check(&s, cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "plan.sched:1: weights web red=20%: group 'red'"));
	sl_schedule_free(&s);
	free(cfg);
}

void sl_test_register_schedule(void)
{
	CU_pSuite s = CU_add_suite("schedule", NULL, NULL);

	CU_add_test(s, "times", test_times);
	CU_add_test(s, "runbook lines", test_runbook);
	CU_add_test(s, "quoting and comments", test_quoting);
	CU_add_test(s, "every error names the line", test_errors);
	CU_add_test(s, "schedule and plan files", test_file);
	CU_add_test(s, "names against the configuration", test_check);
}
