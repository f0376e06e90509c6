/* sluicectl note SERVICE [--markdown]: the text a release note owes
 * (../shared/seed/09-deployment-strategies.txt: "Write the traffic path
 * clearly in runbooks and release notes.  State whether challenger output
 * reaches users.  State what percentage of traffic is live.  State how
 * rollback works."), written from the live state, never from a file that
 * may have been edited since.
 *
 * Three replies the daemon already gives: status SERVICE (the three
 * sentences, the path, the state, the rollout and its guards' figures),
 * guard_list SERVICE (the configured guards that would watch the next
 * rollout) and history SERVICE (the last changes).  The rollback command
 * is the one that applies to the state now, spelled with the same
 * --socket or --instance as the note was asked with, so that it can be
 * pasted as it stands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../dataplane/config.h"
#include "ctl.h"

#define NOTE_HISTORY 5

struct doc {
	bool md;
	bool in_list; /* markdown: a list is open (a blank line ends it) */
};

static const char *jstr(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

static json_int_t jint(const json_t *o, const char *key, json_int_t dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static void end_list(struct doc *d)
{
	if (d->md && d->in_list)
		putchar('\n');
	d->in_list = false;
}

static void heading(struct doc *d, const char *title)
{
	end_list(d);
	if (d->md)
		printf("## %s\n\n", title);
	else
		printf("\n%s\n", title);
}

/* A line of a section (level 0) or under one (1: a plan step, a guard's
 * figures): a list item in markdown, indented text otherwise. */
static void __attribute__((format(printf, 3, 4))) line_at(struct doc *d, int level,
							  const char *fmt, ...)
{
	va_list ap;

	fputs(d->md ? (level ? "  - " : "- ") : level ? "    " : "  ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	d->in_list = true;
}

#define item(d, ...) line_at(d, 0, __VA_ARGS__)
#define subitem(d, ...) line_at(d, 1, __VA_ARGS__)

/* A command to run: a shell block in markdown, indented by 4 otherwise;
 * what it does on the line before it. */
static void command(struct doc *d, const char *what, const char *cmd)
{
	end_list(d);
	if (d->md)
		printf("%s\n\n```sh\n%s\n```\n\n", what, cmd);
	else
		printf("  %s\n    %s\n", what, cmd);
}

/* "a b" -> 'a b': what a shell takes back as the same word. */
static void shell_word(char *buf, size_t len, const char *w)
{
	size_t off = 0;
	bool plain = *w != '\0';

	for (const char *p = w; *p; p++)
		plain &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9') || strchr("/._-=:%+,@", *p);
	if (plain) {
		snprintf(buf, len, "%s", w);
		return;
	}
	off += (size_t)snprintf(buf, len, "'");
	for (const char *p = w; *p && off + 5 < len; p++)
		off += (size_t)snprintf(buf + off, len - off, *p == '\'' ? "'\\''" : "%c", *p);
	snprintf(buf + off, len > off ? len - off : 0, "'");
}

/* "sluicectl --socket /run/x.sock abort web": how to reach the same
 * daemon, then the words. */
static void __attribute__((format(printf, 4, 5))) cmdline(const struct ctl_conn *conn, char *buf,
							  size_t len, const char *fmt, ...)
{
	char word[600];
	size_t off = 0;
	va_list ap;

	off = (size_t)snprintf(buf, len, "sluicectl ");
	if (conn->socket_opt) {
		shell_word(word, sizeof(word), conn->socket_opt);
		off += (size_t)snprintf(buf + off, len - off, "--socket %s ", word);
	} else if (conn->instance_opt) {
		off += (size_t)snprintf(buf + off, len - off, "--instance %s ", conn->instance_opt);
	}
	va_start(ap, fmt);
	if (off < len)
		vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
}

static void dur_text(char *buf, size_t len, json_int_t ms)
{
	if (ms % 3600000 == 0 && ms)
		snprintf(buf, len, "%lld h", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms)
		snprintf(buf, len, "%lld min", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%lld s", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lld ms", (long long)ms);
}

static void members_text(const json_t *g, char *buf, size_t len)
{
	const json_t *m = json_object_get(g, "members");
	size_t off = 0, i;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(m, i, v)
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
						json_string_value(v));
	if (!off)
		snprintf(buf, len, "-");
}

/* ---- the sections ---- */

static void statements(struct doc *d, const json_t *s)
{
	static const char *const keys[] = { "challenger_output", "live_share", "rollback" };
	const json_t *sen = json_object_get(s, "sentences");

	heading(d, "The three statements");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		item(d, "%s", jstr(sen, keys[i], "(the daemon did not say)"));
}

static void traffic_path(struct doc *d, const json_t *res, const json_t *s)
{
	const json_t *path = json_object_get(s, "path"), *st = json_object_get(s, "state");
	const json_t *dp = json_object_get(res, "dataplane");
	json_int_t conf = jint(s, "configured_share_bp", jint(st, "share_bp", 0));
	json_int_t meas = jint(s, "measured_share_bp", -1);
	char clients[256] = "", share[32], mshare[32], members[1200];
	const json_t *g, *r, *p;
	size_t i, off = 0;

	heading(d, "Traffic path");
	json_array_foreach(json_object_get(path, "client_ports"), i, p)
		if (off < sizeof(clients))
			off += (size_t)snprintf(clients + off, sizeof(clients) - off, "%s%s",
						i ? ", " : "", json_string_value(p));
	item(d, "%s %s port %s, from the clients on port %s, through sluice-dp", jstr(path, "proto", "?"),
	     jstr(path, "vip", "?"), jstr(path, "ports", "?"), off ? clients : "?");
	if (d->md) {
		end_list(d);
		printf("| group | role | port | mode | members | configured | measured |\n");
		printf("| --- | --- | --- | --- | --- | ---: | ---: |\n");
	}
	json_array_foreach(json_object_get(path, "groups"), i, g) {
		bool chall = !strcmp(jstr(g, "role", ""), "challenger");
		json_int_t c = chall ? conf : 10000 - conf;

		ctl_fmt_share(share, sizeof(share), c);
		ctl_fmt_share(mshare, sizeof(mshare), meas < 0 ? -1 : chall ? meas : 10000 - meas);
		members_text(g, members, sizeof(members));
		if (d->md)
			printf("| %s | %s | %s | %s | %s | %s | %s |\n", jstr(g, "name", "?"),
			       jstr(g, "role", "?"), jstr(g, "port", "?"), jstr(g, "mode", "?"),
			       members, share, mshare);
		else if (json_array_size(json_object_get(g, "members")))
			item(d, "%-10s %s: port %s, mode %s, members %s; %s of new flows "
			     "(measured %s)", jstr(g, "role", "?"), jstr(g, "name", "?"),
			     jstr(g, "port", "?"), jstr(g, "mode", "?"), members, share, mshare);
		else
			item(d, "%-10s %s: port %s, mode %s; %s of new flows (measured %s)",
			     jstr(g, "role", "?"), jstr(g, "name", "?"), jstr(g, "port", "?"),
			     jstr(g, "mode", "?"), share, mshare);
	}
	if (d->md)
		putchar('\n');
	json_array_foreach(json_object_get(s, "shadows"), i, r) {
		char what[640];

		ctl_describe_rule(r, what, sizeof(what));
		item(d, "shadow %s: %s (copies only: their answers never reach a user)",
		     jstr(r, "name", "?"), what);
	}
	if (json_is_true(json_object_get(dp, "attached")))
		item(d, "dataplane: attached, %lld worker%s (pid %lld)",
		     (long long)jint(dp, "workers", 0), jint(dp, "workers", 0) == 1 ? "" : "s",
		     (long long)jint(dp, "pid", 0));
	else
		item(d, "dataplane: not attached (the table is published; no packet is "
		     "forwarded until sluice-dp attaches)");
}

static void strategy(struct doc *d, const json_t *s)
{
	const json_t *st = json_object_get(s, "state"), *ro = json_object_get(s, "rollout");
	const char *strat = jstr(st, "strategy", "?"), *ros = jstr(ro, "state", "none");
	const char *champ = jstr(st, "champion", "?"), *chall = jstr(st, "challenger", "?");
	char share[32], line[200];
	bool active = !strcmp(ros, "running") || !strcmp(ros, "paused");
	const json_t *step;
	size_t i;

	heading(d, "Strategy");
	ctl_fmt_share(share, sizeof(share), jint(st, "share_bp", 0));
	if (!strcmp(strat, "rollout"))
		item(d, "percentage rollout of %s next to the champion %s", chall, champ);
	else if (!strcmp(strat, "canary"))
		item(d, "canary: %s of new flows to the challenger %s, the rest to the champion "
		     "%s; no rollout plan (the share stays until it is changed)", share, chall,
		     champ);
	else if (!strcmp(strat, "blue-green"))
		item(d, "blue-green: 100 %% of new flows to %s; %s stays configured for a switch "
		     "back", champ, chall);
	else if (json_array_size(json_object_get(s, "shadows")))
		item(d, "shadow: every new flow to the champion %s; the challenger %s serves "
		     "none, and the shadow rules above copy traffic that no user sees", champ,
		     chall);
	else
		item(d, "steady: every new flow to the champion %s; the challenger %s serves "
		     "none", champ, chall);
	item(d, "mode of the last change: %s", !strcmp(jstr(st, "mode", "sticky"), "reset") ?
	     "reset (established flows were decided again)" :
	     "sticky (established flows keep their group and backend; new flows follow the "
	     "share)");
	if (ctl_rollout_line(ro, chall, line, sizeof(line)))
		item(d, "%s: %s", active ? "rollout" : "last rollout", line);
	if (!json_is_object(ro))
		return;
	json_array_foreach(json_object_get(ro, "steps"), i, step) {
		json_int_t at = jint(ro, "step", 0);
		char dw[32];
		const char *mark = !active ? "" : (json_int_t)i < at ? " (done)" :
				   (json_int_t)i == at ? " (current)" : "";

		ctl_fmt_share(share, sizeof(share), jint(step, "share_bp", 0));
		if (json_is_true(json_object_get(step, "pause"))) {
			subitem(d, "step %zu: %s, then pause until resume or promote%s", i + 1, share,
				mark);
		} else {
			dur_text(dw, sizeof(dw), jint(step, "dwell_ms", 0));
			subitem(d, "step %zu: %s for %s%s", i + 1, share, dw, mark);
		}
	}
	if (active)
		item(d, "after the last step %s becomes the champion with 100 %% of new flows",
		     jstr(ro, "challenger", chall));
}

/* One guard's definition: "signal rst on slice billing, ...". */
static void guard_def_text(const json_t *g, char *buf, size_t len)
{
	snprintf(buf, len, "signal %s%s%s%s%s, min_flows %lld per group, margin %s, alpha %s, "
		 "on_fail %s%s, on_inconclusive %s", jstr(g, "signal", "?"),
		 json_object_get(g, "threshold") ? " (threshold " : "", jstr(g, "threshold", ""),
		 json_object_get(g, "threshold") ? ")" : "",
		 json_object_get(g, "slice") ? "" : " on the whole service",
		 (long long)jint(g, "min_flows", 0), jstr(g, "margin", "?"), jstr(g, "alpha", "?"),
		 jstr(g, "on_fail", "?"), !strcmp(jstr(g, "reset", "no"), "yes") ? " --reset" : "",
		 jstr(g, "on_inconclusive", "?"));
}

static void guards(struct doc *d, const json_t *s, const json_t *glist)
{
	const json_t *ro = json_object_get(s, "rollout"), *figs = json_object_get(s, "guards");
	const char *ros = jstr(ro, "state", "none");
	bool active = !strcmp(ros, "running") || !strcmp(ros, "paused");
	char def[512];
	const json_t *g;
	size_t i, n = 0;

	heading(d, "Guards in force");
	if (active) {
		json_array_foreach(json_object_get(ro, "guards"), i, g) {
			const json_t *f = json_array_get(figs, i);

			guard_def_text(g, def, sizeof(def));
			item(d, "%s%s%s: %s", jstr(g, "name", "?"), json_object_get(g, "slice") ?
			     " on slice " : "", jstr(g, "slice", ""), def);
			if (json_is_object(f))
				subitem(d, "now %s (fails at log E >= %.2f): %s", jstr(f, "verdict", "?"),
					json_number_value(json_object_get(f, "threshold")),
					jstr(f, "sentence", ""));
			n++;
		}
		if (!n)
			item(d, "none: the %s rollout is watched by no guard (it steps on its dwell "
			     "times alone)", ros);
		return;
	}
	/* no rollout: what would watch the next one */
	json_array_foreach(json_object_get(glist, "guards"), i, g) {
		if (strcmp(jstr(g, "source", ""), "config"))
			continue;
		guard_def_text(g, def, sizeof(def));
		item(d, "%s%s%s (configured, %s): %s", jstr(g, "name", "?"),
		     json_object_get(g, "slice") ? " on slice " : "", jstr(g, "slice", ""),
		     !strcmp(jstr(g, "rollouts", "all"), "named") ?
		     "only for a rollout started with --guard naming it" :
		     "watches every rollout of the service", def);
		n++;
	}
	if (n)
		item(d, "none is looking now: guards watch a running rollout only");
	else
		item(d, "none: no rollout is running and no guard is configured for the service");
}

static void rollback(struct doc *d, const struct ctl_conn *conn, const json_t *s)
{
	const json_t *st = json_object_get(s, "state"), *ro = json_object_get(s, "rollout");
	const char *strat = jstr(st, "strategy", "?"), *ros = jstr(ro, "state", "none");
	const char *name = jstr(st, "name", "?"), *champ = jstr(st, "champion", "?");
	const char *chall = jstr(st, "challenger", "?");
	const char *sentence = jstr(json_object_get(s, "sentences"), "rollback", "");
	bool active = !strcmp(ros, "running") || !strcmp(ros, "paused");
	char cmd[800], why[400];

	heading(d, "How rollback works");
	item(d, "%s", sentence);
	if (active) {
		cmdline(conn, cmd, sizeof(cmd), "abort %s", name);
		snprintf(why, sizeof(why), "Roll back now (%s to 0 %% of new flows at once, the "
			 "rollout ends aborted; established %s flows keep their backend):", chall,
			 chall);
		command(d, why, cmd);
		cmdline(conn, cmd, sizeof(cmd), "abort %s --reset", name);
		command(d, "If the challenger is broken (established flows decided again too):",
			cmd);
	} else if (!strcmp(strat, "canary")) {
		/* a canary set by hand: abort sends its share back too */
		cmdline(conn, cmd, sizeof(cmd), "abort %s", name);
		snprintf(why, sizeof(why), "Roll back now (%s to 0 %% of new flows at once, all "
			 "new flows to %s; established %s flows keep their backend):", chall, champ,
			 chall);
		command(d, why, cmd);
		cmdline(conn, cmd, sizeof(cmd), "abort %s --reset", name);
		command(d, "If the challenger is broken (established flows decided again too):",
			cmd);
	} else if (!strcmp(strat, "blue-green") || !strcmp(ros, "completed")) {
		/* the former champion is still configured, as the challenger */
		cmdline(conn, cmd, sizeof(cmd), "switch %s %s", name, chall);
		snprintf(why, sizeof(why), "Roll back now (100 %% of new flows back to %s at once, "
			 "%s stays configured; established flows keep their backend):", chall,
			 champ);
		command(d, why, cmd);
	} else if (strstr(sentence, "undo restores")) {
		cmdline(conn, cmd, sizeof(cmd), "undo %s", name);
		item(d, "nothing is live on the challenger %s: there is nothing to roll back", chall);
		command(d, "To return to the state before the last change:", cmd);
	} else {
		item(d, "nothing is live on the challenger %s and there is no earlier state: there "
		     "is nothing to roll back", chall);
	}
	/* a shadow phase reaches no user; what ends it is removing its rules */
	{
		const json_t *r;
		size_t i;

		json_array_foreach(json_object_get(s, "shadows"), i, r) {
			snprintf(why, sizeof(why), "To stop the copies of shadow rule %s (no user sees "
				 "them either way):", jstr(r, "name", "?"));
			cmdline(conn, cmd, sizeof(cmd), "shadow remove %s", jstr(r, "name", "?"));
			command(d, why, cmd);
		}
	}
}

static void history(struct doc *d, const json_t *hist)
{
	const json_t *list = json_object_get(hist, "entries"), *e;
	size_t n = json_array_size(list), i;

	heading(d, "Recent changes");
	if (!n) {
		item(d, "none journaled");
		return;
	}
	json_array_foreach(list, i, e) {
		const json_t *a = json_object_get(e, "actor");
		char actor[64];

		if (json_is_object(a))
			snprintf(actor, sizeof(actor), "uid %lld pid %lld", (long long)jint(a, "uid", -1),
				 (long long)jint(a, "pid", -1));
		else
			snprintf(actor, sizeof(actor), "%s", json_string_value(a) ?
				 json_string_value(a) : "-");
		item(d, "%s, generation %lld, %s by %s%s%s", jstr(e, "time", "-"),
		     (long long)jint(e, "gen", 0), jstr(e, "cmd", "?"), actor,
		     *jstr(e, "reason", "") ? ": " : "", jstr(e, "reason", ""));
	}
}

/* ---- the command ---- */

static int ask(const struct ctl_conn *conn, json_t *req, json_t **res, json_t **rep)
{
	int rc;

	if (!req)
		return fprintf(stderr, "sluicectl: internal: out of memory\n"), EXIT_REFUSED;
	rc = ctl_call(conn, req, rep, NULL);
	json_decref(req);
	if (rc)
		return rc;
	if (!json_is_true(json_object_get(*rep, "ok"))) {
		rc = ctl_refused(*rep);
		json_decref(*rep);
		*rep = NULL;
		return rc;
	}
	*res = json_object_get(*rep, "result");
	return 0;
}

int ctl_note(const struct ctl_conn *conn, int argc, char *const *argv)
{
	static const char usage[] = "note SERVICE [--markdown]";
	struct doc d = { 0 };
	const char *service = NULL;
	json_t *srep = NULL, *grep = NULL, *hrep = NULL, *sres, *gres, *hres, *s;
	char when[40], title[256];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--markdown")) {
			if (d.md)
				return fprintf(stderr, "sluicectl: usage: --markdown given twice\n"),
				       EXIT_USAGE;
			d.md = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			ctl_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			return fprintf(stderr, "sluicectl: usage: unknown option '%s' for 'note' (it "
				       "takes --markdown; usage: %s)\n", argv[i], usage), EXIT_USAGE;
		} else if (service) {
			return fprintf(stderr, "sluicectl: usage: unexpected argument '%s' for 'note' "
				       "(usage: %s)\n", argv[i], usage), EXIT_USAGE;
		} else {
			service = argv[i];
		}
	}
	if (!service)
		return fprintf(stderr, "sluicectl: usage: missing SERVICE for 'note' (usage: %s)\n",
			       usage), EXIT_USAGE;
	if (!sl_name_valid(service))
		return fprintf(stderr, "sluicectl: usage: SERVICE '%s' is not a valid name "
			       "(expected %s)\n", service, SL_NAME_RULE), EXIT_USAGE;
	rc = ask(conn, json_pack("{s:s, s:s}", "cmd", "status", "service", service), &sres, &srep);
	if (!rc)
		rc = ask(conn, json_pack("{s:s, s:s}", "cmd", "guard_list", "service", service),
			 &gres, &grep);
	if (!rc)
		rc = ask(conn, json_pack("{s:s, s:s, s:i}", "cmd", "history", "service", service,
					 "limit", NOTE_HISTORY), &hres, &hrep);
	if (rc)
		goto out;
	s = json_array_get(json_object_get(sres, "services"), 0);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(title, sizeof(title), "Release note: %s", service);
	if (d.md)
		printf("# %s\n\n", title);
	else
		printf("%s\n", title);
	item(&d, "instance %s, generation %lld (%s last changed in generation %lld), written %s "
	     "from the live state", jstr(sres, "instance", "?"), (long long)jint(sres, "gen", 0),
	     service, (long long)jint(s, "gen", 0), when);
	statements(&d, s);
	traffic_path(&d, sres, s);
	strategy(&d, s);
	guards(&d, s, gres);
	rollback(&d, conn, s);
	history(&d, hres);
	end_list(&d);
	fflush(stdout);
out:
	json_decref(srep);
	json_decref(grep);
	json_decref(hrep);
	return rc;
}
