/* The control protocol (control/PROTOCOL.md): one JSON request per line
 * validated into struct sl_req, and the reply lines.  No I/O, no state:
 * what needs the service list (unknown service or group, state machine) is
 * checked by the daemon. */
#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../ebpf/sluice_layout.h"
#include "rollout.h"

#define SL_PROTO_MAX_LINE 65536 /* bytes of one request, newline excluded */
#define SL_PROTO_NAME_MAX 128   /* service and group names as sent (checked later) */
#define SL_PROTO_HISTORY_MAX 10000
#define SL_PROTO_EVIDENCE_MAX 1000000000000ull /* flows of one push */
/* history's limit: the one rule of the daemon's "limit" field and of
 * sluicectl history --limit (both messages say SL_PROTO_HISTORY_RULE). */
#define SL_PROTO_STR_(x) #x
#define SL_PROTO_STR(x) SL_PROTO_STR_(x)
#define SL_PROTO_HISTORY_RULE "expected a whole number of entries 1.." SL_PROTO_STR(SL_PROTO_HISTORY_MAX)
static inline int sl_history_limit_ok(long long v)
{
	return v >= 1 && v <= SL_PROTO_HISTORY_MAX;
}

enum sl_cmd {
	SL_CMD_STATUS = 0,
	SL_CMD_SWITCH,
	SL_CMD_CANARY,
	SL_CMD_WEIGHTS,
	SL_CMD_ROLLOUT_START,
	SL_CMD_ROLLOUT_STATUS,
	SL_CMD_ROLLOUT_PAUSE,
	SL_CMD_ROLLOUT_RESUME,
	SL_CMD_ROLLOUT_PROMOTE,
	SL_CMD_ROLLOUT_ABORT,
	SL_CMD_UNDO,
	SL_CMD_HISTORY,
	SL_CMD_STATS,
	SL_CMD_RELOAD,
	SL_CMD_VERSION,
	SL_CMD_SHADOW_ADD,
	SL_CMD_SHADOW_REMOVE,
	SL_CMD_SHADOW_LIST,
	SL_CMD_EVIDENCE_PUSH,
	SL_CMD_GUARD_LIST,
	SL_CMD_SLICE_LIST,
	SL_CMD_SLICE_ADD,
	SL_CMD_SLICE_REMOVE,
	SL_CMD__COUNT
};

enum sl_errcode {
	SL_E_NONE = 0,
	SL_E_BAD_REQUEST,
	SL_E_UNKNOWN_COMMAND,
	SL_E_UNKNOWN_SERVICE,
	SL_E_UNKNOWN_GROUP,
	SL_E_BAD_SHARE,
	SL_E_BAD_MODE,
	SL_E_BAD_PLAN,
	SL_E_BAD_STATE,
	SL_E_BUSY,
	SL_E_RELOAD_INVALID,
	SL_E_INTERNAL,
	SL_E_BAD_FILTER,     /* a shadow filter libpcap does not compile */
	SL_E_BAD_PORT,       /* not a port with role shadow */
	SL_E_UNKNOWN_SHADOW, /* no shadow rule of that name */
	SL_E_UNKNOWN_SLICE,  /* no [slice NAME] of that service */
	SL_E_BAD_EVIDENCE,   /* counts that cannot be (bad > total, a group with no role) */
	SL_E_BAD_GUARD,      /* a guard named or defined that cannot watch this rollout */
	SL_E__COUNT
};

struct sl_error {
	enum sl_errcode code;
	char field[48];    /* "" when no single field is at fault */
	char message[640];
};

struct sl_weight {
	char group[SL_PROTO_NAME_MAX];
	uint16_t share_bp;
};

struct sl_req {
	json_t *id;         /* echoed (a reference, NULL when absent) */
	enum sl_cmd cmd;
	int has_service;
	char service[SL_PROTO_NAME_MAX];
	char group[SL_PROTO_NAME_MAX];   /* switch */
	uint16_t share_bp;               /* canary */
	int has_mode;
	int reset;                       /* mode "reset" */
	uint32_t nweights;               /* weights: 1 or 2 */
	struct sl_weight weights[2];
	uint32_t nsteps;                 /* rollout_start */
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	int full;                        /* rollout_promote */
	uint32_t limit;                  /* history, default 20 */
	char name[SL_PROTO_NAME_MAX];    /* shadow_add, shadow_remove: the rule */
	char port[SL_PROTO_NAME_MAX];    /* shadow_add */
	char filter[SL_FILTER_LEN];      /* shadow_add: "" = every packet */
	uint16_t sample_bp;              /* shadow_add */
	int has_mac;                     /* shadow_add: the copies' destination MAC */
	uint8_t mac[6];
	char src[1024];                  /* slice_add: client prefixes, "a/b, c/d" */
	char slice[SL_PROTO_NAME_MAX];   /* evidence_push: "" the whole service */
	char signal[SL_PROTO_NAME_MAX];  /* evidence_push: the pushed signal's name */
	uint64_t total, bad;             /* evidence_push */
	uint32_t nguard_names;           /* rollout_start "guards": names */
	char guard_names[SL_RO_MAX_GUARDS][SL_NAME_LEN];
	uint32_t nguard_defs;            /* rollout_start "guard_defs": a plan's guards */
	struct sl_cfg_guard guard_defs[SL_RO_MAX_GUARDS];
};

/* Command name <-> enum ("rollout_start"); NULL / -1 when unknown. */
const char *sl_cmd_name(enum sl_cmd c);
int sl_cmd_from_name(const char *name);

/* "bad_request", ... */
const char *sl_errcode_name(enum sl_errcode c);

/* Fill *e (printf-style message); returns -1 for tail calls. */
int sl_error_set(struct sl_error *e, enum sl_errcode code, const char *field, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

/* Validate one request line (without its newline, len bytes, need not be
 * NUL-terminated) into *r.  Returns 0, or -1 with *e filled; r->id is set
 * whenever the line was an object with a usable id, so that the error
 * reply can echo it.  Release r with sl_req_clear. */
int sl_req_parse(const char *line, size_t len, struct sl_req *r, struct sl_error *e);
void sl_req_clear(struct sl_req *r);

/* json_string that never fails on bytes that are not UTF-8 (replaced by
 * '?'); NULL only when out of memory. */
json_t *sl_json_str(const char *s);

/* Reply lines (compact JSON + '\n', malloc'd; NULL if out of memory).
 * sl_reply_ok steals result. */
char *sl_reply_ok(const json_t *id, json_t *result);
/* The same with result {"KEY": JSON} where json is already JSON text
 * (history: the journal's lines as they are); json is not freed. */
char *sl_reply_ok_text(const json_t *id, const char *key, const char *json);
char *sl_reply_error(const json_t *id, const struct sl_error *e);

#endif
