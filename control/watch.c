/* sluicectl status --watch [--interval S] [SERVICE]: the status again and
 * again, for an operator watching a rollout (as `argo rollouts get rollout
 * --watch` does).
 *
 * On a terminal the status is redrawn in place (cursor home, each line
 * erased to its end, the rest of the screen erased), long lines wrapped at
 * the terminal's width and the block cut at its height, again at once on
 * SIGWINCH; the cursor is hidden meanwhile and shown again on the way out
 * (SIGINT, SIGTERM: exit 0).  Anywhere else (a pipe, a file, TERM=dumb) it
 * prints a plain block after a timestamp line, and only when the status
 * changed (countdowns aside), so that `| tee log` makes a log a person can
 * read.
 *
 * With SERVICE the watch ends by itself once that service's rollout has
 * ended (completed or aborted) after the watch saw it running or paused,
 * or ended in a generation the watch did not start in.  A daemon that goes
 * away after it answered once is tried again every interval, with one
 * message per outage; one that never answered is exit 3 at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../dataplane/config.h"
#include "ctl.h"

#define WATCH_DEFAULT_MS 2000u
#define WATCH_MIN_MS 100u
#define WATCH_MAX_MS 3600000u

static volatile sig_atomic_t stop_sig, winch;

static void on_stop(int sig)
{
	stop_sig = sig;
}

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

bool ctl_watch_wanted(int argc, char *const *argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--watch") || !strncmp(argv[i], "--interval", 10))
			return true;
	return false;
}

/* --interval S: seconds ("2"), or a duration as the plans write them
 * ("500ms", "2s", "1m"). */
static int parse_interval(const char *v, uint32_t *ms)
{
	char err[SL_ERR_LEN];

	if (sl_duration_parse(v, ms, err, sizeof(err)) || *ms < WATCH_MIN_MS ||
	    *ms > WATCH_MAX_MS)
		return fprintf(stderr, "sluicectl: usage: --interval: '%s' is not an interval of "
			       "100ms..1h (how often the status is read: seconds, e.g. 2, or "
			       "500ms, 1m)\n", v), EXIT_USAGE;
	return 0;
}

/* What the daemon said, countdowns and growing windows left out: the
 * status "changed" when this did. */
static json_t *signature(const json_t *res)
{
	json_t *sig = json_deep_copy(res), *s, *g;
	size_t i, k;

	json_array_foreach(json_object_get(sig, "services"), i, s) {
		json_t *ro = json_object_get(s, "rollout");

		json_object_del(ro, "next_step_in_ms");
		json_object_del(ro, "dwell_left_ms");
		json_array_foreach(json_object_get(s, "guards"), k, g)
			json_object_del(g, "window_s");
	}
	return sig;
}

/* The status as sluicectl prints it, into a string: print_status writes
 * to stdout, so stdout goes to a temporary file meanwhile. */
static char *render(const json_t *res)
{
	FILE *t = tmpfile();
	int saved;
	long n;
	char *buf = NULL;

	if (!t)
		return NULL;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(t), STDOUT_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		fclose(t);
		return NULL;
	}
	ctl_print_status(res);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = ftell(t);
	if (n >= 0 && (buf = malloc((size_t)n + 1)) != NULL) {
		rewind(t);
		if (fread(buf, 1, (size_t)n, t) != (size_t)n)
			n = 0;
		buf[n] = '\0';
	}
	fclose(t);
	return buf;
}

static void utc_now(char *buf, size_t len, const char *fmt)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, fmt, &tm);
}

/* ---- the terminal ---- */

struct screen {
	unsigned cols, rows;
	int drawn;      /* something on the screen already: no full clear */
};

static void screen_size(struct screen *sc)
{
	struct winsize ws;

	sc->cols = 80;
	sc->rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
		sc->cols = ws.ws_col;
		sc->rows = ws.ws_row;
	}
}

/* One line of the screen (erased to its end), if rows are left. */
static void screen_line(const char *s, size_t n, unsigned *row, unsigned max, unsigned *cut)
{
	if (*row >= max) {
		(*cut)++;
		return;
	}
	fwrite(s, 1, n, stdout);
	fputs("\033[K\n", stdout);
	(*row)++;
}

/* Prose wrapped at the width (at a blank where there is one, continuation
 * lines indented past the line's own indent), table rows (aligned on
 * double blanks) cut with a '>' at the edge, at most the screen's height:
 * a narrow terminal loses no sentence off its right edge, a short one
 * says how much it could not show. */
static void screen_text(const char *p, size_t w, unsigned *row, unsigned max, unsigned *cut)
{
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p), indent = 0, first = 1;
		char line[1024];

		while (indent < len && p[indent] == ' ')
			indent++;
		if (!len)
			screen_line("", 0, row, max, cut);
		if (len > w && memmem(p + indent, len - indent, "  ", 2)) {
			size_t take = w - 1 < sizeof(line) - 1 ? w - 1 : sizeof(line) - 2;

			memcpy(line, p, take);
			line[take] = '>';
			screen_line(line, take + 1, row, max, cut);
			len = 0;
		}
		while (len) {
			size_t pad = first ? 0 : indent + 4 < w / 2 ? indent + 4 : 0;
			size_t room = w - pad, take = len;

			if (take > room) {
				take = room;
				while (take > room / 2 && p[take] != ' ')
					take--;
				if (p[take] != ' ')
					take = room;
			}
			if (pad + take >= sizeof(line))
				take = sizeof(line) - pad - 1;
			memset(line, ' ', pad);
			memcpy(line + pad, p, take);
			screen_line(line, pad + take, row, max, cut);
			p += take;
			len -= take;
			while (len && *p == ' ') {
				p++;
				len--;
			}
			first = 0;
		}
		p = nl ? nl + 1 : p + strlen(p);
	}
}

static void screen_draw(struct screen *sc, const char *head, const char *msg, const char *text)
{
	unsigned row = 0, cut = 0, max = sc->rows > 1 ? sc->rows - 1 : 1;
	size_t w = sc->cols > 8 ? sc->cols : 8;

	fputs(sc->drawn ? "\033[H" : "\033[H\033[2J", stdout);
	sc->drawn = 1;
	screen_line(head, strlen(head) < w ? strlen(head) : w, &row, max, &cut);
	if (msg)
		screen_text(msg, w, &row, max, &cut);
	screen_line("", 0, &row, max, &cut);
	screen_text(text ? text : "", w, &row, max, &cut);
	if (cut) {
		char more[96];
		int n = snprintf(more, sizeof(more), "(%u more line%s: a taller terminal shows "
				 "them)", cut + 1, cut ? "s" : "");

		/* the last row holds this note instead of a line */
		fputs("\033[1A", stdout);
		screen_line(more, (size_t)n < w ? (size_t)n : w, &row, max + 1, &cut);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
}

/* A frame: when it was read, what is watched, a message, the status. */
static void frame(struct screen *sc, const char *when, const char *head, const char *msg,
		  const char *text)
{
	char h[320];

	snprintf(h, sizeof(h), "%s  %s", when, head);
	screen_draw(sc, h, msg, text);
}

/* ---- the loop ---- */

/* Sleeps ms, or less on a signal: 1 stop, 2 resized (redraw), 0 slept. */
static int nap(uint32_t ms)
{
	struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };

	/* a signal that came while the status was read */
	if (stop_sig)
		return 1;
	if (winch)
		return 2;
	while (nanosleep(&ts, &ts) && errno == EINTR) {
		if (stop_sig)
			return 1;
		if (winch)
			return 2;
	}
	return stop_sig ? 1 : 0;
}

/* The watched service's rollout ended: 1, with what to say in buf. */
static int rollout_ended(const json_t *res, bool *seen, json_int_t *first_gen, char *buf,
			 size_t len)
{
	const json_t *s = json_array_get(json_object_get(res, "services"), 0);
	const json_t *ro = json_object_get(s, "rollout");
	const char *state = json_string_value(json_object_get(ro, "state"));
	json_int_t gen = json_integer_value(json_object_get(s, "gen"));
	const char *name = json_string_value(json_object_get(json_object_get(s, "state"), "name"));

	if (*first_gen < 0)
		*first_gen = gen;
	if (state && (!strcmp(state, "running") || !strcmp(state, "paused"))) {
		*seen = true;
		return 0;
	}
	if (!state || (strcmp(state, "completed") && strcmp(state, "aborted")) ||
	    (!*seen && gen == *first_gen))
		return 0;
	snprintf(buf, len, "%s: the rollout %s (generation %lld); the watch ends", name ? name : "?",
		 state, (long long)gen);
	return 1;
}

int ctl_watch(const struct ctl_conn *conn, const struct sl_rq_command *c, bool json, int argc,
	      char *const *argv)
{
	char *rest[8], errbuf[1200] = "", head[256], when[40], out_msg[1400], endmsg[256];
	const char *service = NULL;
	uint32_t ms = WATCH_DEFAULT_MS;
	const char *term = getenv("TERM");
	/* a terminal that takes no cursor movement gets the log form */
	int tty = !json && isatty(STDOUT_FILENO) && !(term && !strcmp(term, "dumb"));
	int n = 0, rc = 0, watch = 0, got_interval = 0;
	bool ever_ok = false, outage = false, seen = false;
	json_int_t first_gen = -1;
	json_t *req = NULL, *last_sig = NULL;
	char *last_text = NULL;
	struct screen sc = { 0 };
	struct sl_rq_error e;
	struct sigaction sa;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--watch")) {
			watch = 1;
		} else if (!strncmp(a, "--interval", 10) && (a[10] == '=' || !a[10])) {
			const char *v = a[10] == '=' ? a + 11 : NULL;

			if (!v && i + 1 == argc)
				return fprintf(stderr, "sluicectl: usage: --interval needs a value "
					       "(seconds, e.g. --interval 2 or --interval 500ms)\n"),
				       EXIT_USAGE;
			if (got_interval++)
				return fprintf(stderr, "sluicectl: usage: --interval given twice\n"),
				       EXIT_USAGE;
			if ((rc = parse_interval(v ? v : argv[++i], &ms)) != 0)
				return rc;
		} else if (n < (int)(sizeof(rest) / sizeof(rest[0]))) {
			rest[n++] = argv[i];
		} else {
			return fprintf(stderr, "sluicectl: usage: unexpected argument '%s' (usage: "
				       "status [SERVICE] [--watch [--interval S]])\n", a), EXIT_USAGE;
		}
	}
	if (!watch)
		return fprintf(stderr, "sluicectl: usage: --interval is for status --watch (how "
			       "often the status is read)\n"), EXIT_USAGE;
	/* SERVICE and -h as for status itself */
	rc = sl_rq_build(c, n, rest, SL_RQ_CLI, &req, &e);
	if (rc > 0) {
		ctl_usage(stdout);
		return 0;
	}
	if (rc < 0)
		return fprintf(stderr, "sluicectl: %s: %s\n", e.code, e.message), EXIT_USAGE;
	service = json_string_value(json_object_get(req, "service"));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: the nap ends at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	if (tty) {
		screen_size(&sc);
		fputs("\033[?25l", stdout);
	}
	snprintf(head, sizeof(head), "every %g s: sluicectl status%s%s, Ctrl-C ends",
		 ms / 1000.0, service ? " " : "", service ? service : "");
	ctl_errors_to(errbuf, sizeof(errbuf));
	while (!stop_sig) {
		json_t *rep = NULL;
		char *raw = NULL;
		int r = ctl_call(conn, req, &rep, json ? &raw : NULL);
		int ended = 0;

		if (r && !ever_ok) {
			/* never answered: a wrong socket, not an outage to wait out */
			ctl_errors_to(NULL, 0);
			fprintf(stderr, "%s\n", errbuf);
			rc = r;
			break;
		}
		utc_now(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC");
		if (r) {
			snprintf(out_msg, sizeof(out_msg), "%s at %s; trying again every %g s "
				 "(Ctrl-C ends)", errbuf, when, ms / 1000.0);
			if (tty) {
				frame(&sc, when, head, out_msg, last_text);
			} else if (!outage) {
				/* once per outage, in the log and on stderr */
				printf("== %s ==\n%s\n\n", when, out_msg);
				fflush(stdout);
				fprintf(stderr, "%s\n", out_msg);
			}
			outage = true;
			json_decref(last_sig);
			last_sig = NULL; /* the first block after it is printed */
		} else if (json_is_false(json_object_get(rep, "ok"))) {
			/* the service is gone (a reload), or the daemon refuses */
			ctl_errors_to(NULL, 0);
			if (tty)
				fputs("\033[?25h", stdout), fflush(stdout);
			rc = ctl_refused(rep);
			json_decref(rep);
			tty = 0;
			break;
		} else {
			const json_t *res = json_object_get(rep, "result");
			json_t *sig = signature(res);
			char *text = render(res);

			if (outage && !tty)
				fprintf(stderr, "sluicectl: %s answers again (%s)\n", conn->path, when);
			ever_ok = true;
			outage = false;
			if (service)
				ended = rollout_ended(res, &seen, &first_gen, endmsg, sizeof(endmsg));
			if (tty) {
				frame(&sc, when, head, ended ? endmsg : NULL, text);
			} else if (!last_sig || !json_equal(sig, last_sig)) {
				if (json)
					puts(raw);
				else
					printf("== %s ==\n%s\n", when, text ? text : "");
				fflush(stdout);
			}
			json_decref(last_sig);
			last_sig = sig;
			free(last_text);
			last_text = text;
			json_decref(rep);
		}
		free(raw);
		if (ended) {
			if (!tty)
				printf("%s\n", endmsg);
			break;
		}
		/* a resize redraws what was read last, without asking again */
		while (nap(ms) == 2) {
			winch = 0;
			screen_size(&sc);
			sc.drawn = 0;
			if (tty)
				frame(&sc, when, head, outage ? out_msg : NULL, last_text);
		}
	}
	ctl_errors_to(NULL, 0);
	if (tty) {
		/* the last screen stays; the cursor comes back below it */
		fputs("\033[?25h", stdout);
		fflush(stdout);
	}
	fflush(stdout);
	free(last_text);
	json_decref(last_sig);
	json_decref(req);
	return rc;
}
