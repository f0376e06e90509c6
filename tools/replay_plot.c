/* sluice-replay's per-interval figures and its plot (see replay_plot.h).
 *
 * The plot is gnuplot's work, not ours: a tab-separated data file and a
 * script go to a temporary directory, gnuplot draws into FILE.part next to
 * FILE (svg terminal for .svg, pngcairo for .png), and only a complete
 * drawing is renamed to FILE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "config.h"
#include "replay_plot.h"

#define PLOT_PACKAGE "gnuplot-nox"

int rp_plot_init(struct rp_plot *p, unsigned nsvc, uint64_t interval_ns)
{
	memset(p, 0, sizeof(*p));
	p->interval_ns = interval_ns;
	p->nsvc = nsvc;
	p->prev = calloc(nsvc ? nsvc : 1, sizeof(*p->prev));
	return p->prev ? 0 : -1;
}

void rp_plot_free(struct rp_plot *p)
{
	free(p->to_ns);
	free(p->pt);
	free(p->prev);
	memset(p, 0, sizeof(*p));
}

int rp_plot_close(struct rp_plot *p, uint64_t to_ns, const struct sl_counters *c,
		  const struct sl_table_hdr *h)
{
	if (p->n == p->cap) {
		unsigned cap = p->cap ? p->cap * 2 : 64;
		uint64_t *t = realloc(p->to_ns, cap * sizeof(*t));
		struct rp_plot_point *pt;

		if (!t)
			return -1;
		p->to_ns = t;
		pt = realloc(p->pt, (size_t)cap * (p->nsvc ? p->nsvc : 1) * sizeof(*pt));
		if (!pt)
			return -1;
		p->pt = pt;
		p->cap = cap;
	}
	p->to_ns[p->n] = to_ns;
	for (unsigned s = 0; s < p->nsvc; s++) {
		struct rp_plot_point *o = &p->pt[(size_t)p->n * p->nsvc + s];
		const struct sl_service_rec *r = &h->services[s];

		memset(o, 0, sizeof(*o));
		if (s < h->nservices) {
			o->share_bp = r->share_bp;
			o->champion = r->champion;
			o->challenger = r->challenger;
		}
		for (unsigned g = 0; g < SL_MAX_GROUPS; g++) {
			uint64_t d = c->grp[s][g].flows - p->prev[s][g];

			if (s < h->nservices && g == r->champion)
				o->champ_flows = d;
			else if (s < h->nservices && g == r->challenger)
				o->chall_flows = d;
			p->prev[s][g] = c->grp[s][g].flows;
		}
	}
	p->from_ns = to_ns;
	p->n++;
	return 0;
}

/* The challenger's share of the interval's new flows (bp), or -1: none. */
static int measured_bp(const struct rp_plot_point *o)
{
	uint64_t all = o->champ_flows + o->chall_flows;

	return all ? (int)((o->chall_flows * 10000u + all / 2) / all) : -1;
}

json_t *rp_plot_json(const struct rp_plot *p, const struct sl_config *cfg)
{
	json_t *list = json_array();

	for (unsigned k = 0; list && k < p->n; k++) {
		json_t *svcs = json_object();

		for (unsigned s = 0; svcs && s < p->nsvc && s < cfg->nservices; s++) {
			const struct rp_plot_point *o = &p->pt[(size_t)k * p->nsvc + s];
			int m = measured_bp(o);

			json_object_set_new(svcs, cfg->services[s].name,
					    json_pack("{s:i, s:o, s:I, s:I}", "configured_share_bp",
						      (int)o->share_bp, "measured_share_bp",
						      m < 0 ? json_null() : json_integer(m),
						      "champion_flows", (json_int_t)o->champ_flows,
						      "challenger_flows", (json_int_t)o->chall_flows));
		}
		json_array_append_new(list, json_pack("{s:I, s:I, s:o}", "from_ms",
						      (json_int_t)(k ? p->to_ns[k - 1] / 1000000u : 0),
						      "to_ms", (json_int_t)(p->to_ns[k] / 1000000u),
						      "services", svcs ? svcs : json_null()));
	}
	return json_pack("{s:I, s:o}", "interval_ms", (json_int_t)(p->interval_ns / 1000000u),
			 "samples", list ? list : json_null());
}

const char *rp_plot_ext_error(const char *file)
{
	size_t n = strlen(file);

	if (n > 4 && (!strcmp(file + n - 4, ".svg") || !strcmp(file + n - 4, ".png")))
		return NULL;
	return "expected a file name ending in .svg (svg) or .png (pngcairo)";
}

int rp_plot_gnuplot_check(char *err, size_t errlen)
{
	const char *path = getenv("PATH");
	char dir[4096];

	while (path && *path) {
		const char *c = strchr(path, ':');
		size_t n = c ? (size_t)(c - path) : strlen(path);

		if (n && n < sizeof(dir) - 9) {
			memcpy(dir, path, n);
			memcpy(dir + n, "/gnuplot", 9);
			if (access(dir, X_OK) == 0)
				return 0;
		}
		path = c ? c + 1 : NULL;
	}
	snprintf(err, errlen, "--plot: gnuplot is not installed (no 'gnuplot' on PATH): install "
		 "Debian's %s package (apt-get install %s, or tools/install-deps.sh)",
		 PLOT_PACKAGE, PLOT_PACKAGE);
	return -1;
}

/* A gnuplot single-quoted string: ' doubled. */
static void gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		if (*s != '\n')
			fputc(*s, f);
	}
	fputc('\'', f);
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* The data: per service two blocks (index 2k: configured share, a step
 * per slice; 2k+1: measured share per interval, '?' when no new flow). */
static int write_data(const struct rp_plot *p, const struct rp_report *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	for (unsigned s = 0; s < p->nsvc; s++) {
		if (s)
			fputs("\n\n", f);
		fprintf(f, "# %s: configured share (%%) from each slice's start\n",
			r->cfg->services[s].name);
		for (unsigned k = 0; k < r->nslices; k++)
			fprintf(f, "%.6f\t%.2f\n", secs(r->slices[k].from_ns),
				r->slices[k].svc[s].share_bp / 100.0);
		if (r->nslices)
			fprintf(f, "%.6f\t%.2f\n", secs(r->slices[r->nslices - 1].to_ns),
				r->slices[r->nslices - 1].svc[s].share_bp / 100.0);
		fprintf(f, "\n\n# %s: measured share (%%) of each interval's new flows, at its "
			"middle\n", r->cfg->services[s].name);
		for (unsigned k = 0; k < p->n; k++) {
			const struct rp_plot_point *o = &p->pt[(size_t)k * p->nsvc + s];
			uint64_t from = k ? p->to_ns[k - 1] : 0;
			int m = measured_bp(o);

			if (m < 0)
				fprintf(f, "%.6f\t?\n", secs(from + (p->to_ns[k] - from) / 2));
			else
				fprintf(f, "%.6f\t%.2f\n", secs(from + (p->to_ns[k] - from) / 2),
					m / 100.0);
		}
	}
	return fclose(f);
}

/* An action is the service's when it named it (or named none: reload). */
static int action_of(const struct rp_action *a, const char *svc)
{
	return a->status != RP_NOT_REACHED && a->status != RP_REFUSED &&
	       (!a->service[0] || !strcmp(a->service, svc));
}

/* A label short enough to stand in a panel: the schedule's command, "step
 * 2/3: 50.00% (dwell 4s)" for a rollout step, "guard NAME -> abort" for a
 * guard's action. */
static void label_text(const struct rp_action *a, char *buf, size_t len)
{
	const char *c = a->command, *p;

	if (a->by_plan == RP_BY_GUARD) {
		p = strchr(c, ':');
		snprintf(buf, len, "%.*s -> %s", p ? (int)(p - c) : 40, c,
			 strstr(c, "abort") ? "abort" : strstr(c, "pause") ? "pause" : "acted");
		return;
	}
	if (a->by_plan && (p = strstr(c, "step ")) != NULL)
		c = p;
	if (strlen(c) > 34)
		snprintf(buf, len, "%.31s...", c);
	else
		snprintf(buf, len, "%s", c);
}

/* Marks for service s: a dashed vertical line and a label per action
 * (grey: the schedule, blue: a rollout step, red: a guard), and the
 * guards' verdicts where they changed (at the end of the slice). */
static void write_marks(FILE *f, const struct rp_report *r, unsigned s, unsigned *tag)
{
	const char *svc = r->cfg->services[s].name;

	for (unsigned k = 0; k < r->nactions; k++) {
		const struct rp_action *a = &r->actions[k];
		const char *color = a->by_plan == RP_BY_GUARD ? "#c00000" :
				    a->by_plan ? "#1f4fbf" : "#606060";
		char text[96];

		if (!action_of(a, svc))
			continue;
		label_text(a, text, sizeof(text));
		fprintf(f, "set arrow %u from %.6f, graph 0 to %.6f, graph 1 nohead dt 2 lw 1 "
			"lc rgb '%s'\n", ++*tag, secs(a->applied_ns), secs(a->applied_ns), color);
		fprintf(f, "set label %u ", *tag);
		gp_str(f, text);
		fprintf(f, " at %.6f, graph 0.98 rotate by 90 right offset -0.6,0 font ',8' "
			"tc rgb '%s' noenhanced\n", secs(a->applied_ns), color);
	}
	for (unsigned k = 0; k < r->nslices; k++) {
		const json_t *figs = r->slices[k].svc[s].guards, *g;
		size_t i;

		json_array_foreach(figs, i, g) {
			const char *name = json_string_value(json_object_get(g, "name"));
			const char *v = json_string_value(json_object_get(g, "verdict"));
			const json_t *prev = k ? r->slices[k - 1].svc[s].guards : NULL;
			const char *pv = json_string_value(json_object_get(json_array_get(prev, i),
									   "verdict"));
			const json_t *fa = json_object_get(g, "failed_at_ms");
			uint64_t at = r->slices[k].to_ns, fail_ms;
			char text[96];

			if (!name || !v || (pv && !strcmp(pv, v)))
				continue;
			/* a failure is marked when it happened, the rest as of the
			 * slice's end (when the figures were taken) */
			if (json_is_integer(fa) &&
			    (fail_ms = (uint64_t)json_integer_value(fa)) * 1000000u >= r->first_ns)
				at = fail_ms * 1000000u - r->first_ns;
			snprintf(text, sizeof(text), "%s: %s", name, v);
			fprintf(f, "set label %u ", ++*tag);
			gp_str(f, text);
			fprintf(f, " at %.6f, graph 0.03 rotate by 90 left offset -0.6,0 font ',8' "
				"tc rgb '%s' front point pt 9 ps 0.8 lc rgb '%s' noenhanced\n",
				secs(at), !strcmp(v, "failed") ? "#c00000" :
				!strcmp(v, "passing") ? "#207020" : "#808080",
				!strcmp(v, "failed") ? "#c00000" : "#207020");
		}
	}
}

static int write_script(const struct rp_plot *p, const struct rp_report *r, const char *path,
			const char *data, const char *out, int png)
{
	unsigned rows = p->nsvc ? p->nsvc : 1, tag = 0;
	double end = secs(r->last_ns - r->first_ns);
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs("# written by sluice-replay --plot; gnuplot draws it\n", f);
	if (png)
		fprintf(f, "set terminal pngcairo size 1000,%u font 'sans,10' noenhanced\n",
			300 * rows);
	else
		fprintf(f, "set terminal svg size 1000,%u font 'sans,10' noenhanced "
			"background '#ffffff'\n", 300 * rows);
	fputs("set output ", f);
	gp_str(f, out);
	fputs("\nset datafile separator '\\t'\nset datafile missing '?'\n", f);
	fputs("set key outside right top box\nset grid ytics\nset yrange [0:105]\n", f);
	fprintf(f, "set xrange [0:%.6f]\n", end > 0 ? end : 1.0);
	fputs("set xlabel 'seconds from the first packet'\nset ylabel '% of new flows'\n", f);
	fputs("set multiplot layout ", f);
	fprintf(f, "%u,1 title ", rows);
	gp_str(f, r->input_path ? r->input_path : "sluice-replay");
	fputs("\n", f);
	for (unsigned s = 0; s < p->nsvc; s++) {
		const struct sl_cfg_service *sv = &r->cfg->services[s];
		char vip[INET6_ADDRSTRLEN], title[256];

		inet_ntop(sv->family == 6 ? AF_INET6 : AF_INET, sv->vip, vip, sizeof(vip));
		snprintf(title, sizeof(title), "%s: the challenger's share of new flows (%s %s), "
			 "configured and measured per %.3g s", sv->name, sv->proto == 17 ? "udp" :
			 "tcp", vip, (double)p->interval_ns / 1e9);
		fputs("unset arrow\nunset label\nset title ", f);
		gp_str(f, title);
		fputc('\n', f);
		write_marks(f, r, s, &tag);
		fputs("plot ", f);
		gp_str(f, data);
		fprintf(f, " index %u using 1:2 with steps lw 2 lc rgb '#1f4fbf' title "
			"'configured', '' index %u using 1:2 with linespoints pt 7 ps 0.5 lw 1 "
			"lc rgb '#e07000' title 'measured'\n", 2 * s, 2 * s + 1);
	}
	fputs("unset multiplot\n", f);
	return fclose(f);
}

/* Runs gnuplot on the script; its output in log.  0, or -1 with err. */
static int run_gnuplot(const char *script, const char *log, char *err, size_t errlen)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		snprintf(err, errlen, "--plot: cannot start gnuplot: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		FILE *l = fopen(log, "w");

		if (l) {
			dup2(fileno(l), 1);
			dup2(fileno(l), 2);
		}
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		fprintf(stderr, "cannot run gnuplot: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "--plot: waiting for gnuplot: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	{
		char buf[4096], *line = buf;
		FILE *l = fopen(log, "r");
		size_t got = l ? fread(buf, 1, sizeof(buf) - 1, l) : 0;

		if (l)
			fclose(l);
		buf[got] = '\0';
		/* gnuplot's own words, on one line: its last ones say what failed */
		while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
			buf[--got] = '\0';
		for (size_t i = 0; i < got; i++)
			if (buf[i] == '\n')
				buf[i] = ' ';
		if (got > 300)
			line = buf + got - 300;
		snprintf(err, errlen, "--plot: gnuplot failed (%s %d)%s%s%s",
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			 *line ? ": " : "", line,
			 strstr(line, "terminal") ? " (a .png needs gnuplot's pngcairo terminal: "
			 "Debian 12's gnuplot-nox has it)" : "");
	}
	return -1;
}

int rp_plot_write(const struct rp_plot *p, const struct rp_report *r, const char *file,
		  char *err, size_t errlen)
{
	char dir[] = "/tmp/sluice-plot.XXXXXX", data[64], script[64], log[64], part[1024];
	size_t n = strlen(file);
	int png = n > 4 && !strcmp(file + n - 4, ".png"), rc = -1;

	if (snprintf(part, sizeof(part), "%s.part", file) >= (int)sizeof(part)) {
		snprintf(err, errlen, "--plot: '%s': the name is too long", file);
		return -1;
	}
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "--plot: cannot create a temporary directory: %s",
			 strerror(errno));
		return -1;
	}
	snprintf(data, sizeof(data), "%s/data.tsv", dir);
	snprintf(script, sizeof(script), "%s/plot.gp", dir);
	snprintf(log, sizeof(log), "%s/gnuplot.log", dir);
	if (write_data(p, r, data) || write_script(p, r, script, data, part, png))
		snprintf(err, errlen, "--plot: cannot write %s: %s", dir, strerror(errno));
	else if (run_gnuplot(script, log, err, errlen) == 0) {
		struct stat st;

		if (stat(part, &st) != 0 || st.st_size == 0)
			snprintf(err, errlen, "--plot: gnuplot wrote nothing to %s", part);
		else if (rename(part, file) != 0)
			snprintf(err, errlen, "--plot: cannot write %s: %s", file, strerror(errno));
		else
			rc = 0;
	}
	if (rc)
		unlink(part);
	unlink(data);
	unlink(script);
	unlink(log);
	rmdir(dir);
	return rc;
}
