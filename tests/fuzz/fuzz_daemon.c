/* fuzz_daemon: sluiced's request handling end to end (sl_daemon_request:
 * decoder, state machine, rendering, journal, publication) on the daemon
 * in memory as sluice-replay runs it (tables in anonymous memory, no
 * dataplane attached, a virtual clock), started afresh for each input from
 * a built-in configuration (two services, a slice, a shadow port).  Each
 * line of the input is one request; between requests the clock moves
 * (by the line's first byte: 0 to 10 minutes) and the daemon's timer runs
 * (rollout steps, stats sampling).  Invariants, per request:
 *  - the reply is one line of JSON ending in '\n': an object with "ok"
 *    true and a "result", or false and "error" {"code" one of the
 *    protocol's, "message" not empty}; the request's "id" echoed;
 *  - a refused request changes nothing: the journal is byte-identical and
 *    the generation and the published table the same;
 *  - a request the daemon accepted is journaled in one line when it
 *    changed the generation;
 *  - status answers ok after every request.
 * SLUICE_FUZZ_VERBOSE=1 prints each request and its reply. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "commands.h"
#include "config.h"
#include "fuzz.h"
#include "fuzz_reply.h"
#include "proto.h"

#define MAX_LINES 48

static const char conf_text[] =
	"[dataplane]\n"
	"hash_seed = 0x5eed\n"
	"maglev_size = 251\n"
	"flow_capacity = 1024\n"
	"[port client]\nrole = client\ndevargs = net_null0\n"
	"[port blue]\nrole = backend\ndevargs = net_null1\n"
	"[port green]\nrole = backend\ndevargs = net_null2\n"
	"[port mirror]\nrole = shadow\ndevargs = net_null3\n"
	"[group blue]\nport = blue\nmode = port\n"
	"[group green]\nport = green\nmode = mac\n"
	"members = 02:00:00:00:0c:01, 02:00:00:00:0c:02\n"
	"[group canary]\nport = green\nmode = port\n"
	"[service web]\nproto = tcp\nvip = 192.0.2.10\nports = 443\n"
	"champion = blue\nchallenger = green\nshare = 0%\n"
	"[service dns]\nproto = udp\nvip = 2001:db8::53\nports = 53\n"
	"champion = blue\nchallenger = canary\nshare = 5%\n"
	"[slice billing]\nservice = web\nsrc = 198.51.100.0/24\n"
	"[control]\nack_timeout = 1s\n";

static struct sl_config cfg0;
static char conf_path[300], journal_path[300];

static void quiet(void *ctx, const char *line)
{
	(void)ctx;
	(void)line;
}

static void setup(void)
{
	char err[2048];

	snprintf(conf_path, sizeof(conf_path), "%s", fz_path("daemon", "ini"));
	snprintf(journal_path, sizeof(journal_path), "%s.journal", conf_path);
	fz_write(conf_path, (const uint8_t *)conf_text, sizeof(conf_text) - 1);
	FZ_CHECK(sl_config_load(conf_path, &cfg0, err, sizeof(err)) == 0,
		 "the built-in configuration is refused: %s", err);
	sl_log_sink(quiet, NULL);
}

static void cleanup(void)
{
	unlink(journal_path);
}

/* The journal's bytes (malloc'd, *n bytes). */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long sz;

	*n = 0;
	if (!f)
		return calloc(1, 1);
	FZ_CHECK(fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0, "journal size");
	rewind(f);
	buf = malloc((size_t)sz + 1);
	FZ_CHECK(buf != NULL, "out of memory");
	FZ_CHECK(fread(buf, 1, (size_t)sz, f) == (size_t)sz, "journal read");
	fclose(f);
	buf[sz] = 0;
	*n = (size_t)sz;
	return buf;
}

/* Checks one reply; returns its "ok". */
static int check_reply(const char *reply, const char *req, size_t reqlen)
{
	json_t *o, *id = NULL, *rq;
	json_error_t je;
	int ok;

	FZ_CHECK(reply != NULL, "no reply to '%.*s'", (int)reqlen, req);
	o = fz_reply_object(reply);
	ok = json_is_true(json_object_get(o, "ok"));
	/* the id of a request that is an object with an id comes back */
	rq = json_loadb(req, reqlen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (rq && json_is_object(rq))
		id = json_object_get(rq, "id");
	if (id && (json_is_integer(id) || json_is_string(id)) && json_object_get(o, "id"))
		FZ_CHECK(json_equal(json_object_get(o, "id"), id), "id not echoed: '%s' to "
			 "'%.*s'", reply, (int)reqlen, req);
	json_decref(rq);
	json_decref(o);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static const char status[] = "{\"cmd\":\"status\"}";
	const struct sl_actor who = { 0, 1, NULL };
	struct sl_daemon *d;
	char err[4096];
	size_t pos = 0;
	unsigned nlines = 0;

	if (!ready) {
		setup();
		atexit(cleanup);
		ready = 1;
	}
	if (size > 16 * 1024)
		return 0;
	unlink(journal_path);
	d = calloc(1, sizeof(*d));
	FZ_CHECK(d != NULL, "out of memory");
	d->cfg = malloc(sizeof(*d->cfg));
	FZ_CHECK(d->cfg != NULL, "out of memory");
	memcpy(d->cfg, &cfg0, sizeof(cfg0));
	snprintf(d->config_path, sizeof(d->config_path), "%s", conf_path);
	snprintf(d->instance, sizeof(d->instance), "fuzz");
	snprintf(d->journal_path, sizeof(d->journal_path), "%s", journal_path);
	d->in_memory = 1;
	d->virtual_clock = 1;
	d->clock_ms = 1700000000000ull;
	FZ_CHECK(sl_daemon_start(d, err, sizeof(err)) == 0, "the daemon does not start: %s", err);

	while (pos < size && nlines < MAX_LINES) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
		const char *line = (const char *)data + pos;
		char *before, *after, *reply;
		size_t nb, na;
		uint32_t gen = d->st->gen;
		int ok;

		pos += len + (nl != NULL);
		nlines++;
		before = slurp(journal_path, &nb);
		reply = sl_daemon_request(d, line, len, &who);
		if (getenv("SLUICE_FUZZ_VERBOSE"))
			fprintf(stderr, "> %.*s\n< %s", (int)len, line, reply ? reply : "(none)\n");
		ok = check_reply(reply, line, len);
		after = slurp(journal_path, &na);
		if (!ok) {
			FZ_CHECK(na == nb && !memcmp(before, after, na),
				 "refused '%.*s' (%s) and the journal changed (%zu -> %zu bytes)",
				 (int)len, line, reply, nb, na);
			FZ_CHECK(d->st->gen == gen, "refused '%.*s' (%s) and the generation moved "
				 "%u -> %u", (int)len, line, reply, gen, d->st->gen);
		} else if (d->st->gen != gen) {
			FZ_CHECK(na > nb && !memcmp(before, after, nb) && after[na - 1] == '\n' &&
				 memchr(after + nb, '\n', na - nb - 1) == NULL,
				 "'%.*s' moved generation %u -> %u and its journal line is not one "
				 "new line", (int)len, line, gen, d->st->gen);
		}
		free(reply);
		free(before);
		free(after);

		/* time passes: rollout steps due, stats sampled */
		d->clock_ms += len ? (uint64_t)(uint8_t)line[0] * 2345u : 0;
		sl_daemon_timer(d, d->clock_ms);
		reply = sl_daemon_request(d, status, sizeof(status) - 1, &who);
		FZ_CHECK(check_reply(reply, status, sizeof(status) - 1), "status refused: %s",
			 reply);
		free(reply);
	}
	sl_daemon_stop(d);
	free(d);
	return 0;
}
