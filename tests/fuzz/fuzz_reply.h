/* The shape every control reply has (control/PROTOCOL.md, "Replies"),
 * checked by the request and daemon harnesses alike. */
#ifndef SLUICE_FUZZ_REPLY_H
#define SLUICE_FUZZ_REPLY_H

#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "proto.h"

/* reply is one line of one JSON object with a boolean "ok": "result" when
 * true, else an "error" with one of the protocol's codes and a message.
 * Returns the object (the caller decrefs it). */
static inline json_t *fz_reply_object(const char *reply)
{
	json_error_t je;
	json_t *o, *v;
	size_t n;

	FZ_CHECK(reply != NULL, "no reply (out of memory?)");
	n = strlen(reply);
	FZ_CHECK(n >= 2 && reply[n - 1] == '\n' && memchr(reply, '\n', n - 1) == NULL,
		 "reply is not one line ending in a newline: '%s'", reply);
	o = json_loadb(reply, n - 1, JSON_REJECT_DUPLICATES, &je);
	FZ_CHECK(o != NULL && json_is_object(o), "reply is not a JSON object (%s): '%s'",
		 je.text, reply);
	v = json_object_get(o, "ok");
	FZ_CHECK(json_is_boolean(v), "reply without a boolean \"ok\": '%s'", reply);
	if (json_is_true(v)) {
		FZ_CHECK(json_object_get(o, "result") != NULL, "ok without result: '%s'", reply);
	} else {
		json_t *err = json_object_get(o, "error");
		const char *code;
		int known = 0;

		FZ_CHECK(json_is_object(err), "refusal without an error object: '%s'", reply);
		code = json_string_value(json_object_get(err, "code"));
		FZ_CHECK(code != NULL, "error without a code: '%s'", reply);
		for (int c = 1; c < SL_E__COUNT; c++)
			known |= !strcmp(code, sl_errcode_name((enum sl_errcode)c));
		FZ_CHECK(known, "unknown error code '%s'", code);
		v = json_object_get(err, "message");
		FZ_CHECK(json_is_string(v) && json_string_length(v) > 0,
			 "error without a message: '%s'", reply);
	}
	return o;
}

#endif
