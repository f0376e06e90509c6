/* The change journal: lines written and replayed, torn last lines cut,
 * damaged lines refused, history, one writer. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "unit.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sluice-test-journal-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static void remove_dir(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = calloc(1, (size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void append_raw(const char *path, const char *bytes)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
	close(fd);
}

struct seen {
	int n;
	uint32_t gen[16];
	char svc[16][16];
	uint64_t line[16];
	int stop_at; /* callback fails at this line (0: never) */
};

static int collect(void *ctx, const json_t *e, uint64_t line, char *err, size_t errlen)
{
	struct seen *s = ctx;
	const char *svc = json_string_value(json_object_get(e, "service"));

	if (s->stop_at && line == (uint64_t)s->stop_at) {
		snprintf(err, errlen, "stopped at line %llu", (unsigned long long)line);
		return -1;
	}
	if (s->n < 16) {
		s->gen[s->n] = (uint32_t)json_integer_value(json_object_get(e, "gen"));
		snprintf(s->svc[s->n], sizeof(s->svc[0]), "%s", svc ? svc : "-");
		s->line[s->n] = line;
	}
	s->n++;
	return 0;
}

static json_t *entry(uint32_t gen, const char *svc)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:s}", "time", "2026-11-27T18:40:01.123Z", "gen",
			 (json_int_t)gen, "cmd", "canary", "service", svc, "actor", "daemon");
}

static void write_entries(const char *path, int n)
{
	struct sl_journal j;
	char err[512], note[512];

	CU_ASSERT_EQUAL_FATAL(sl_journal_open(&j, path, NULL, NULL, note, sizeof(note), err,
					      sizeof(err)), 0);
	for (int i = 1; i <= n; i++) {
		json_t *e = entry((uint32_t)i, i % 2 ? "web" : "dns");

		CU_ASSERT_EQUAL(sl_journal_append(&j, e, err, sizeof(err)), 0);
		json_decref(e);
	}
	CU_ASSERT_EQUAL(j.lines, (uint64_t)n);
	CU_ASSERT_EQUAL(j.last_gen, (uint32_t)n);
	sl_journal_close(&j);
}

static void test_write_replay(void)
{
	char path[128], err[512], note[512], expect[4096] = "";
	struct sl_journal j;
	struct seen s = { 0 };
	size_t len, n = 0;
	char *text;

	make_dir();
	/* the directory is made as well */
	snprintf(path, sizeof(path), "%s/sub/dir/test.journal", dir);
	write_entries(path, 5);
	for (int i = 1; i <= 5; i++)
		n += (size_t)snprintf(expect + n, sizeof(expect) - n,
				      "{\"time\":\"2026-11-27T18:40:01.123Z\",\"gen\":%d,\"cmd\":"
				      "\"canary\",\"service\":\"%s\",\"actor\":\"daemon\"}\n", i,
				      i % 2 ? "web" : "dns");
	text = slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(len, strlen(expect));
	CU_ASSERT_STRING_EQUAL(text, expect);
	free(text);

	CU_ASSERT_EQUAL_FATAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
					      sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(note, "");
	CU_ASSERT_EQUAL(s.n, 5);
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(s.gen[i], (uint32_t)i + 1);
		CU_ASSERT_EQUAL(s.line[i], (uint64_t)i + 1);
		CU_ASSERT_STRING_EQUAL(s.svc[i], i % 2 ? "dns" : "web");
	}
	CU_ASSERT_EQUAL(j.lines, 5);
	CU_ASSERT_EQUAL(j.last_gen, 5);
	CU_ASSERT_EQUAL(j.size, strlen(expect));
	sl_journal_close(&j);
	remove_dir(dir);
}

static void test_torn_last_line(void)
{
	/* no newline, not a whole entry: kept in .torn, cut off */
	static const char torn[] = "{\"time\":\"x\",\"gen\":6,\"cm";
	char path[128], tpath[160], err[512], note[512], want[512];
	struct sl_journal j;
	struct seen s = { 0 };
	size_t before, after;
	char *text;
	json_t *e;

	make_dir();
	snprintf(path, sizeof(path), "%s/test.journal", dir);
	snprintf(tpath, sizeof(tpath), "%s.torn", path);
	write_entries(path, 3);
	free(slurp(path, &before));
	append_raw(path, torn);
	CU_ASSERT_EQUAL_FATAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
					      sizeof(err)), 0);
	snprintf(want, sizeof(want), "journal %s: line 4 is torn (%zu bytes): cut off, kept in "
		 "%s.torn", path, strlen(torn), path);
	CU_ASSERT_STRING_EQUAL(note, want);
	CU_ASSERT_EQUAL(j.torn, 1);
	CU_ASSERT_EQUAL(s.n, 3);
	CU_ASSERT_EQUAL(j.last_gen, 3);
	/* what was cut is kept, whole */
	text = slurp(tpath, &after);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(after, strlen(torn) + 1);
	CU_ASSERT_EQUAL(memcmp(text, torn, strlen(torn)), 0);
	free(text);
	/* the file ends with the last complete line ... */
	free(slurp(path, &after));
	CU_ASSERT_EQUAL(after, before);
	/* ... so the next entry is a line of its own */
	e = entry(4, "web");
	CU_ASSERT_EQUAL(sl_journal_append(&j, e, err, sizeof(err)), 0);
	json_decref(e);
	sl_journal_close(&j);
	text = slurp(path, &after);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"gen\":3,\"cmd\":\"canary\",\"service\":"
				      "\"web\",\"actor\":\"daemon\"}\n{\"time\":"));
	CU_ASSERT_EQUAL(text[after - 1], '\n');
	free(text);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
					sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(note, "");
	CU_ASSERT_EQUAL(s.n, 4);
	sl_journal_close(&j);
	remove_dir(dir);
}

/* A whole entry whose newline is missing is completed and replayed. */
static void test_newline_missing(void)
{
	char path[128], err[512], note[512], want[256];
	struct sl_journal j;
	struct seen s = { 0 };
	size_t len;
	char *text;

	make_dir();
	snprintf(path, sizeof(path), "%s/test.journal", dir);
	write_entries(path, 3);
	append_raw(path, "{\"gen\":4,\"cmd\":\"canary\"}");
	CU_ASSERT_EQUAL_FATAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
					      sizeof(err)), 0);
	snprintf(want, sizeof(want), "journal %s: line 4 had no newline: completed", path);
	CU_ASSERT_STRING_EQUAL(note, want);
	CU_ASSERT_EQUAL(s.n, 4);
	CU_ASSERT_EQUAL(j.last_gen, 4);
	CU_ASSERT_EQUAL(j.torn, 0);
	sl_journal_close(&j);
	text = slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT(len > 0 && text[len - 1] == '\n');
	free(text);
	remove_dir(dir);
}

/* A whole last line that is not ours, and a generation gap: refused with
 * the line, nothing deleted. */
static void test_damage_refused(void)
{
	static const struct {
		const char *line, *why;
	} cases[] = {
		{ "{\"time\":\"x\",\"gen\":6,\"cm\n", "line 4 is invalid: not JSON" },
		{ "[6]\n", "line 4 is invalid: not a JSON object" },
		{ "{\"gen\":4,\"service\":\"web\"}\n", "line 4 is invalid: no command" },
		{ "{\"gen\":5,\"cmd\":\"canary\"}\n", "line 4: generation 5 after 3 (expected 3 "
		  "or 4: a line is missing or out of order" },
		{ "{\"gen\":2,\"cmd\":\"canary\"}\n", "line 4: generation 2 after 3" },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char path[128], err[512], note[512], want[256];
		struct sl_journal j;
		struct seen s = { 0 };
		size_t before, after;

		make_dir();
		snprintf(path, sizeof(path), "%s/test.journal", dir);
		write_entries(path, 3);
		append_raw(path, cases[k].line);
		free(slurp(path, &before));
		CU_ASSERT_EQUAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
						sizeof(err)), -1);
		snprintf(want, sizeof(want), "journal %s: %s", path, cases[k].why);
		if (strncmp(err, want, strlen(want)))
			printf("\n  got:  %s\n  want: %s...\n", err, want);
		CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
		free(slurp(path, &after));
		CU_ASSERT_EQUAL(after, before);
		remove_dir(dir);
	}
	/* a recover entry may start the generations again */
	{
		char path[128], err[512], note[512];
		struct sl_journal j;
		struct seen s = { 0 };

		make_dir();
		snprintf(path, sizeof(path), "%s/test.journal", dir);
		write_entries(path, 3);
		append_raw(path, "{\"gen\":1,\"cmd\":\"recover\"}\n{\"gen\":2,\"cmd\":\"canary\"}\n");
		CU_ASSERT_EQUAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
						sizeof(err)), 0);
		CU_ASSERT_EQUAL(s.n, 5);
		sl_journal_close(&j);
		remove_dir(dir);
	}
}

static void test_invalid_middle_line(void)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "garbage\n", "not JSON: " },
		{ "{\"cmd\":\"canary\"}\n", "no generation (expected \"gen\": a whole number)" },
		{ "{\"gen\":-1,\"cmd\":\"canary\"}\n", "no generation (expected \"gen\": a whole "
		  "number)" },
		{ "{\"gen\":2}\n", "no command (expected \"cmd\": a string)" },
		{ "\n", "not JSON: " },
	};

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		char path[128], err[512] = "", note[512], want[256];
		struct sl_journal j;
		struct seen s = { 0 };
		size_t before, after;
		json_t *e = entry(9, "web");
		char *line;

		make_dir();
		snprintf(path, sizeof(path), "%s/test.journal", dir);
		write_entries(path, 1);
		append_raw(path, bad[k].line);
		line = json_dumps(e, JSON_COMPACT);
		append_raw(path, line);
		append_raw(path, "\n");
		free(line);
		json_decref(e);
		free(slurp(path, &before));
		CU_ASSERT_EQUAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
						sizeof(err)), -1);
		snprintf(want, sizeof(want), "journal %s: line 2 is invalid: %s", path,
			 bad[k].why);
		CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "(the journal is damaged; repair or move it "
						  "away)"));
		/* never "repaired" silently */
		free(slurp(path, &after));
		CU_ASSERT_EQUAL(after, before);
		CU_ASSERT_EQUAL(j.fd, -1);
		remove_dir(dir);
	}
}

static void test_callback_error(void)
{
	char path[128], err[512], note[512];
	struct sl_journal j;
	struct seen s = { .stop_at = 2 };

	make_dir();
	snprintf(path, sizeof(path), "%s/test.journal", dir);
	write_entries(path, 3);
	CU_ASSERT_EQUAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
					sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "stopped at line 2");
	CU_ASSERT_EQUAL(s.n, 1);
	remove_dir(dir);
}

/* The history as an array (the text must be JSON). */
static json_t *history(const char *path, uint64_t trusted, unsigned keep, const char *service,
		       uint32_t limit, char *err, size_t errlen)
{
	uint32_t n = 0;
	char *text = sl_journal_history_text(path, trusted, NULL, keep, service, limit, &n, err,
					     errlen);
	json_t *a;

	if (!text)
		return NULL;
	a = json_loads(text, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_EQUAL(json_array_size(a), n);
	free(text);
	return a;
}

static void test_history(void)
{
	char path[128], err[512];
	json_t *h, *list;
	size_t len;
	char *text;

	make_dir();
	snprintf(path, sizeof(path), "%s/test.journal", dir);
	write_entries(path, 7); /* web: 1 3 5 7, dns: 2 4 6 */
	/* a reload names services in its list */
	list = json_pack("{s:I, s:s, s:[{s:n, s:{s:s}}]}", "gen", (json_int_t)8, "cmd", "reload",
			 "services", "before", "after", "name", "dns");
	text = json_dumps(list, JSON_COMPACT);
	append_raw(path, text);
	append_raw(path, "\n");
	free(text);
	json_decref(list);

	h = history(path, 0, 0, NULL, 3, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_array_size(h), 3);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, 0), "gen")), 6);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, 2), "gen")), 8);
	json_decref(h);

	h = history(path, 0, 0, "dns", 20, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_array_size(h), 4);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, 0), "gen")), 2);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, 3), "gen")), 8);
	json_decref(h);

	h = history(path, 0, 0, "web", 2, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_array_size(h), 2);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, 0), "gen")), 5);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, 1), "gen")), 7);
	json_decref(h);

	h = history(path, 0, 0, "nosuch", 5, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_array_size(h), 0);
	json_decref(h);

	/* a line being written (no newline yet) is not shown */
	append_raw(path, "{\"gen\":9,\"cmd\":\"can");
	h = history(path, 0, 0, NULL, 1, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, 0), "gen")), 8);
	json_decref(h);

	snprintf(path, sizeof(path), "%s/none.journal", dir);
	CU_ASSERT_PTR_NULL(history(path, 0, 0, NULL, 5, err, sizeof(err)));
	CU_ASSERT_EQUAL(strncmp(err, "journal ", 8), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open: No such file or directory"));
	(void)len;
	remove_dir(dir);
}

static json_t *checkpoint(uint32_t gen)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:[]}", "time", "2026-11-27T18:40:02.000Z", "gen",
			 (json_int_t)gen, "cmd", "checkpoint", "actor", "daemon", "services");
}

static int exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* Rotation: the old file becomes PATH.1, the checkpoint starts PATH, the
 * history goes on across the files without the checkpoints, the oldest
 * file past keep goes, and a reopened journal replays PATH alone. */
static void test_rotate(void)
{
	char path[128], p1[140], p2[140], p3[140], err[512], note[512];
	struct sl_journal j;
	struct seen s = { 0 };
	json_t *h, *e;

	make_dir();
	snprintf(path, sizeof(path), "%s/test.journal", dir);
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	snprintf(p3, sizeof(p3), "%s.3", path);
	write_entries(path, 5);
	CU_ASSERT_EQUAL_FATAL(sl_journal_open(&j, path, NULL, NULL, note, sizeof(note), err,
					      sizeof(err)), 0);
	e = checkpoint(5);
	CU_ASSERT_EQUAL_FATAL(sl_journal_rotate(&j, e, 2, err, sizeof(err)), 0);
	json_decref(e);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(j.rotated, 5);
	CU_ASSERT_EQUAL(j.lines, 1);
	CU_ASSERT_EQUAL(j.last_gen, 5);
	CU_ASSERT(exists(p1));
	CU_ASSERT(!exists(p2));
	for (uint32_t g = 6; g <= 7; g++) {
		e = entry(g, "web");
		CU_ASSERT_EQUAL(sl_journal_append(&j, e, err, sizeof(err)), 0);
		json_decref(e);
	}
	/* trusted: the bytes this writer wrote */
	h = history(path, j.size, 2, NULL, 20, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_array_size(h), 7);
	for (size_t i = 0; i < json_array_size(h); i++)
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, i), "gen")),
				(json_int_t)i + 1);
	json_decref(h);
	h = history(path, j.size, 2, "dns", 1, err, sizeof(err)); /* from PATH.1 */
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_array_size(h), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, 0), "gen")), 4);
	json_decref(h);
	/* without the rotated files asked for: PATH alone */
	h = history(path, j.size, 0, NULL, 20, err, sizeof(err));
	CU_ASSERT_EQUAL(json_array_size(h), 2);
	json_decref(h);

	/* twice more with keep 2: the first file (gens 1..5) goes */
	e = checkpoint(7);
	CU_ASSERT_EQUAL(sl_journal_rotate(&j, e, 2, err, sizeof(err)), 0);
	CU_ASSERT(exists(p2));
	CU_ASSERT_EQUAL(sl_journal_rotate(&j, e, 2, err, sizeof(err)), 0);
	json_decref(e);
	CU_ASSERT(!exists(p3));
	h = history(path, 0, 2, NULL, 20, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_array_size(h), 2); /* 6 and 7; the checkpoints left out */
	json_decref(h);
	sl_journal_close(&j);

	/* a rotation cut short after the link: PATH.1 is PATH, not read twice */
	CU_ASSERT_EQUAL(unlink(p1), 0);
	CU_ASSERT_EQUAL(link(path, p1), 0);
	h = history(path, 0, 2, NULL, 20, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(json_array_size(h), 2);
	json_decref(h);

	/* a restart replays the checkpoint, not the files before it */
	CU_ASSERT_EQUAL_FATAL(sl_journal_open(&j, path, collect, &s, note, sizeof(note), err,
					      sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.n, 1);
	CU_ASSERT_EQUAL(s.gen[0], 7);
	sl_journal_close(&j);

	/* an edited rotated file: named with its line, not passed on, also
	 * after it was read through once (and trusted while unchanged) */
	{
		struct sl_journal_trust trust = { 0 };
		uint32_t n;
		char *text = sl_journal_history_text(path, 0, &trust, 2, NULL, 20, &n, err,
						     sizeof(err));

		CU_ASSERT_PTR_NOT_NULL(text);
		free(text);
		CU_ASSERT_EQUAL(trust.n, 1); /* PATH.1 is PATH: not read */
		append_raw(p2, "not json\n");
		CU_ASSERT_PTR_NULL(sl_journal_history_text(path, 0, &trust, 2, NULL, 20, &n, err,
							   sizeof(err)));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, ".journal.2: line 4 is invalid: not JSON"));
	}
	CU_ASSERT_PTR_NULL(history(path, 0, 2, NULL, 20, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ".journal.2: line 4 is invalid: not JSON"));
	remove_dir(dir);
}

static void test_one_writer(void)
{
	char path[128], err[512], note[512], want[256];
	struct sl_journal a, b;

	make_dir();
	snprintf(path, sizeof(path), "%s/test.journal", dir);
	CU_ASSERT_EQUAL_FATAL(sl_journal_open(&a, path, NULL, NULL, note, sizeof(note), err,
					      sizeof(err)), 0);
	CU_ASSERT_EQUAL(sl_journal_open(&b, path, NULL, NULL, note, sizeof(note), err,
					sizeof(err)), -1);
	snprintf(want, sizeof(want), "journal %s is in use by another process (another sluiced "
		 "of this instance?)", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	sl_journal_close(&a);
	CU_ASSERT_EQUAL(sl_journal_open(&b, path, NULL, NULL, note, sizeof(note), err,
					sizeof(err)), 0);
	sl_journal_close(&b);
	remove_dir(dir);
}

static void test_time(void)
{
	char buf[32];

	sl_journal_time(buf, sizeof(buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "1970-01-01T00:00:00.000Z");
	sl_journal_time(buf, sizeof(buf), 1795804801123ull);
	CU_ASSERT_STRING_EQUAL(buf, "2026-11-27T18:40:01.123Z");
	sl_journal_time(buf, sizeof(buf), 951782400007ull); /* 2000-02-29 */
	CU_ASSERT_STRING_EQUAL(buf, "2000-02-29T00:00:00.007Z");
}

void sl_test_register_journal(void)
{
	CU_pSuite s = CU_add_suite("journal", NULL, NULL);

	CU_add_test(s, "write and replay, bytes", test_write_replay);
	CU_add_test(s, "torn last line kept aside and cut off", test_torn_last_line);
	CU_add_test(s, "whole last entry without its newline completed", test_newline_missing);
	CU_add_test(s, "damaged lines and generation gaps refused, nothing cut",
		    test_damage_refused);
	CU_add_test(s, "invalid middle line refused", test_invalid_middle_line);
	CU_add_test(s, "replay callback error", test_callback_error);
	CU_add_test(s, "history", test_history);
	CU_add_test(s, "rotation: checkpoint, history across files, keep", test_rotate);
	CU_add_test(s, "one writer", test_one_writer);
	CU_add_test(s, "time format", test_time);
}
