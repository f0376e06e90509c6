/* fuzz_request: the control protocol's request decoder (control/proto.c,
 * sl_req_parse) and its replies, and sluicectl's request builder
 * (control/request.c).  Each input is used twice:
 *  1. as one request line (what sluiced reads from its socket): decoded;
 *     a refusal, and an accepted request's reply, is what the daemon sends
 *     (sl_reply_error / sl_reply_ok, as sl_daemon_request does): exactly
 *     one line of JSON ending in '\n', an object with "ok" (true with a
 *     "result", false with "error": {"code" one of the protocol's codes,
 *     "message" not empty}) and the request's "id" echoed when it had one;
 *  2. as sluicectl's words (split on blanks, NUL and newlines): a request
 *     sl_rq_build accepts is accepted by the decoder as the same command
 *     (round trip), and with SLUICE_FUZZ_EMIT=DIR it is written to DIR as a
 *     seed (tools/fuzz-corpus.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "fuzz_reply.h"
#include "proto.h"
#include "request.h"

#define MAX_WORDS 64

static void check_reply(const char *reply, const json_t *id, int ok)
{
	json_t *o = fz_reply_object(reply);

	FZ_CHECK(json_is_true(json_object_get(o, "ok")) == ok, "reply's \"ok\": '%s'", reply);
	if (id)
		FZ_CHECK(json_equal(json_object_get(o, "id"), (json_t *)id),
			 "id not echoed: '%s'", reply);
	else
		FZ_CHECK(json_object_get(o, "id") == NULL, "an id out of nowhere: '%s'", reply);
	json_decref(o);
}

static void as_line(const uint8_t *data, size_t size)
{
	struct sl_req r;
	struct sl_error e;
	char *reply;

	memset(&e, 0, sizeof(e));
	if (sl_req_parse((const char *)data, size, &r, &e) == 0) {
		FZ_CHECK(r.cmd < SL_CMD__COUNT && sl_cmd_name(r.cmd) != NULL, "command %d", r.cmd);
		reply = sl_reply_ok(r.id, json_pack("{s:s}", "cmd", sl_cmd_name(r.cmd)));
		check_reply(reply, r.id, 1);
	} else {
		FZ_CHECK(e.code > SL_E_NONE && e.code < SL_E__COUNT, "refusal code %d", e.code);
		FZ_CHECK(e.message[0] != 0, "refusal without a message");
		reply = sl_reply_error(r.id, &e);
		check_reply(reply, r.id, 0);
	}
	free(reply);
	sl_req_clear(&r);
}

/* Words that could name a file that never ends or blocks (a plan file is
 * read by --plan): not tried. */
static int risky(const char *w)
{
	return fz_has(w, "/dev") || fz_has(w, "/proc") || fz_has(w, "/sys") ||
	       fz_has(w, "/run") || fz_has(w, "/tmp");
}

static void emit(const char *line)
{
	const char *dir = getenv("SLUICE_FUZZ_EMIT");
	char path[600];
	unsigned long h = 5381;
	FILE *f;

	if (!dir || !*dir)
		return;
	for (const char *p = line; *p; p++)
		h = h * 33 + (unsigned char)*p;
	snprintf(path, sizeof(path), "%s/json-%016lx", dir, h);
	f = fopen(path, "w");
	if (f) {
		fputs(line, f);
		fclose(f);
	}
}

static void as_words(const uint8_t *data, size_t size)
{
	char *buf, *argv[MAX_WORDS + 1];
	int argc = 0, used = 0;
	const struct sl_rq_command *c;
	struct sl_rq_error re;
	json_t *req = NULL;
	char *line;
	struct sl_req r;
	struct sl_error e;
	int rc;

	if (size > 4096)
		return;
	buf = malloc(size + 1);
	FZ_CHECK(buf != NULL, "out of memory");
	memcpy(buf, data, size);
	buf[size] = 0;
	for (size_t i = 0; i < size; i++)
		if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')
			buf[i] = 0;
	for (size_t i = 0; i < size && argc < MAX_WORDS; i++)
		if (buf[i] && (i == 0 || !buf[i - 1])) {
			argv[argc++] = buf + i;
			if (risky(buf + i))
				goto out;
		}
	argv[argc] = NULL;
	if (argc == 0 || sl_rq_find(argc, argv, SL_RQ_CLI, &c, &used, &re) != 0)
		goto out;
	FZ_CHECK(used >= 1 && used <= argc, "used %d of %d words", used, argc);
	rc = sl_rq_build(c, argc - used, argv + used, SL_RQ_CLI, &req, &re);
	if (rc != 0) {
		FZ_CHECK(rc == 1 || (re.message[0] && re.code), "refusal without a message");
		goto out;
	}
	FZ_CHECK(req != NULL && json_is_object(req), "no request object");
	json_object_set_new(req, "id", json_integer(7));
	line = json_dumps(req, JSON_COMPACT);
	FZ_CHECK(line != NULL, "request not serialisable");
	memset(&e, 0, sizeof(e));
	rc = sl_req_parse(line, strlen(line), &r, &e);
	FZ_CHECK(rc == 0, "sluicectl's request '%s' refused by the daemon's decoder: %s: %s", line,
		 sl_errcode_name(e.code), e.message);
	FZ_CHECK(r.cmd == c->kind, "'%s' decoded as %s, built as %s", line, sl_cmd_name(r.cmd),
		 sl_cmd_name(c->kind));
	emit(line);
	sl_req_clear(&r);
	free(line);
out:
	json_decref(req);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > SL_PROTO_MAX_LINE)
		return 0;
	as_line(data, size);
	as_words(data, size);
	return 0;
}
