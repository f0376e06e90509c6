/* The daemon's view of every service: its split (champion, challenger,
 * share), strategy, rollout and undo history; the table those states are
 * published in; the measured share and the status sentences.  No I/O:
 * control/commands.c journals and publishes what this module computes.
 *
 * Tables.  The state keeps the structure of the table in force (`base`:
 * services' matches, groups, members, seeds, ports).  A change renders a
 * complete table from base plus every service's state; a reload builds a
 * new base from the INI file at stable indexes (a service or group keeps
 * its index while its name exists: flow entries and counters hold them).
 *
 * Changes go through a transaction: a planner (sl_plan_*) fills struct
 * sl_txn from the current state, the daemon renders, journals and
 * publishes it, then commits it (or drops it: nothing changed). */
#ifndef SLUICE_STATE_H
#define SLUICE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../ebpf/sluice_layout.h"
#include "proto.h"
#include "rollout.h"

struct sl_config;

enum sl_strategy { SL_STRAT_STEADY = 0, SL_STRAT_BLUE_GREEN, SL_STRAT_CANARY, SL_STRAT_ROLLOUT };

/* "steady", "blue-green", "canary", "rollout" (the status JSON's names). */
const char *sl_strategy_name(enum sl_strategy s);

#define SL_UNDO_MAX 64     /* before-states kept per service */
#define SL_SHARE_SAMPLES 11 /* one a second: a 10 s window */

/* SERVICE_STATE (PROTOCOL.md): groups by name. */
struct sl_svc_rec {
	char name[SL_NAME_LEN];
	char champion[SL_NAME_LEN];
	char challenger[SL_NAME_LEN];
	uint16_t share_bp;
	uint8_t strategy; /* enum sl_strategy */
	uint8_t reset;    /* mode of the last change: 1 = reset */
};

/* A shadow rule as sluiced keeps it: by names, at a stable slot (its index
 * in the table's shadows[]: a rule keeps its slot while it exists, the
 * dataplane counts per slot).  PROTOCOL.md SHADOW_RULE. */
struct sl_shadow_rule {
	char name[SL_NAME_LEN];    /* "" : free slot */
	char service[SL_NAME_LEN];
	char port[SL_NAME_LEN];
	uint16_t sample_bp;
	uint8_t has_mac;
	uint8_t mac[6];
	char filter[SL_FILTER_LEN];
};

struct sl_shadows {
	uint16_t n; /* slots 0..n-1, used or free */
	struct sl_shadow_rule r[SL_MAX_SHADOWS];
};

enum sl_shadow_op { SL_SHADOW_NONE = 0, SL_SHADOW_ADD, SL_SHADOW_REMOVE };

/* Everything a change may change about one service. */
struct sl_svc {
	struct sl_svc_rec st; /* st.name "" : no service at this index */
	uint32_t reset_gen;   /* flows decided before it are re-decided */
	uint32_t gen;         /* generation of the service's last change */
	struct sl_rollout ro;
};

struct sl_undo_ent {
	struct sl_svc_rec st; /* the state before a change */
	uint32_t gen;         /* the generation that state was in force in */
};

struct sl_undo {
	uint32_t n;
	struct sl_undo_ent e[SL_UNDO_MAX]; /* e[n - 1]: the most recent */
};

enum sl_undo_op {
	SL_UNDO_NONE = 0,
	SL_UNDO_PUSH = 1,  /* push the before-state of every service whose split changes */
	SL_UNDO_POP = -1,  /* undo of service t->svc */
	SL_UNDO_CLEAR = -2 /* a new starting point: every stack emptied */
};

struct sl_txn {
	uint32_t gen;      /* generation journaled: st->gen + 1 if publish */
	int publish;       /* a new table */
	int reload;        /* rendered from the state's new base (sl_plan_reload) */
	int svc;           /* the service changed; -1: several (reload, snapshots) */
	int undo;          /* enum sl_undo_op */
	uint16_t nservices;
	struct sl_svc next[SL_MAX_SERVICES];
	char reason[512];
	char note[512];    /* reload: what takes effect only at a restart */
	struct sl_shadows shadows; /* the rule set after the change */
	int shadow_changed;        /* the rule set changes: shadow_gen = gen */
	int shadow_op;             /* enum sl_shadow_op: shadow_add / shadow_remove */
	int shadow_slot;           /* the rule added or removed */
	int slices_changed;        /* slice add / remove: the table's slices become these */
	int slice_slot;            /* the slice added or removed */
	uint16_t nslices;
	struct sl_slice_rec slices[SL_MAX_SLICES];
};

struct sl_state {
	uint32_t gen;                 /* generation in force (0: none yet) */
	uint16_t nservices;           /* indexes in use: base->nservices */
	struct sl_svc svc[SL_MAX_SERVICES];
	struct sl_undo undo[SL_MAX_SERVICES];
	struct sl_shadows shadows;    /* shadow rules in force */
	uint32_t shadow_gen;          /* generation that last changed them */
	int shadows_replayed;         /* the journal said which rules (replay) */
	/* The slices the journal's last slice_add / slice_remove left (service
	 * by name): restored when the table comes from the file (reboot). */
	int slices_replayed;
	/* The slices in force came from slice_add / slice_remove since the
	 * last entry of several services (what slices_replayed would be after
	 * replaying the journal): a checkpoint carries them then. */
	int slices_by_command;
	uint16_t rnslices;
	struct sl_slice_rec rslices[SL_MAX_SLICES];
	char rslice_svc[SL_MAX_SLICES][SL_NAME_LEN];

	/* Table structure in force, the next one (reload), the render target;
	 * each hdr has SL_MAX_GROUPS group records. */
	struct sl_table_hdr *base, *nbase, *out;
	struct sl_group_rec *base_groups, *nbase_groups, *out_groups;

	/* Measured share: cumulative new flows per service and group, one
	 * sample a second, the last SL_SHARE_SAMPLES kept. */
	uint32_t workers;             /* attached workers at the last sample */
	uint32_t nsamples, head;      /* head: index of the next sample */
	uint64_t sample_ms[SL_SHARE_SAMPLES];
	uint64_t (*flows)[SL_MAX_SERVICES][SL_MAX_GROUPS]; /* [SL_SHARE_SAMPLES] */
	uint64_t (*active)[SL_MAX_GROUPS];                 /* [SL_MAX_SERVICES], last sample */
};

struct sl_state *sl_state_new(void);
void sl_state_free(struct sl_state *st);

/* Index of the service called name in the table in force, or -1;
 * sl_state_find_service: or -1 with e (unknown_service, the services
 * listed). */
int sl_state_service(const struct sl_state *st, const char *name);
int sl_state_find_service(const struct sl_state *st, const char *name, struct sl_error *e);

/* "web, web6, dns": the services, for error messages. */
void sl_state_service_list(const struct sl_state *st, char *buf, size_t len);

/* Lay cfg out at stable indexes relative to the table prev (NULL: the
 * file's order): *out is cfg with services and groups moved to the index
 * their name has in prev, new names at the lowest free index, empty names
 * at indexes no longer used.  removed: bit g set when group g of prev has
 * no name in cfg.  Refused (-1, err) when the ports differ from prev's
 * (names and order) or, with old != NULL, from old's roles and devargs. */
int sl_state_layout(const struct sl_config *cfg, const struct sl_config *old,
		    const struct sl_table_hdr *prev, const struct sl_group_rec *prev_groups,
		    struct sl_config *out, uint32_t *removed, char *err, size_t errlen);

/* The first structural difference between two tables (services' matches
 * and names, groups, members, Maglev tables, seeds, ports; not the splits
 * nor generations) in what; 0 when equal. */
int sl_state_structure_diff(const struct sl_table_hdr *a, const struct sl_group_rec *ag,
			    const struct sl_table_hdr *b, const struct sl_group_rec *bg,
			    char *what, size_t len);

/* A fresh state from a configuration (file order); nothing published
 * (gen 0).  sl_plan_snapshot then gives the first table. */
int sl_state_from_config(struct sl_state *st, const struct sl_config *cfg, char *err,
			 size_t errlen);

/* How sl_state_adopt* treats the states replayed from the journal. */
enum sl_adopt {
	SL_ADOPT_TABLE = 0,   /* ignore them: states from the table's records */
	SL_ADOPT_CHECK,       /* theirs, but the table's split wins (listed in note) */
	SL_ADOPT_JOURNAL,     /* theirs, split included (the journal is ahead) */
};

/* Adopt a table (e.g. the pinned one) as base, generation hdr->gen.
 * Services the journal does not know (or SL_ADOPT_TABLE) take the table's
 * record: strategy "canary" when share > 0, else "steady".  Undo stacks
 * follow by name.  Replayed services the table lacks are dropped and
 * listed in note.  Returns 0, or -1 with err (a record naming no group). */
int sl_state_adopt(struct sl_state *st, const struct sl_table_hdr *hdr,
		   const struct sl_group_rec *groups, enum sl_adopt how, char *note,
		   size_t notelen, char *err, size_t errlen);

/* The same with the structure of a laid-out configuration, built as base
 * (generation gen is what st->gen becomes); services the journal does not
 * know take the configuration's split.  With SL_ADOPT_CHECK the
 * configuration's splits win. */
int sl_state_adopt_config(struct sl_state *st, const struct sl_config *laid, uint32_t gen,
			  enum sl_adopt how, char *note, size_t notelen, char *err,
			  size_t errlen);

/* Journal replay: apply one entry (control/PROTOCOL.md) to the states,
 * keyed by name until sl_state_adopt* puts them at table indexes. */
int sl_state_replay(struct sl_state *st, const json_t *entry, char *err, size_t errlen);

/* Planners.  Each fills t from the current state and returns 1 when the
 * request changes something, 0 when it would not (changed: false), -1
 * with e filled when it is refused.  now_ms: wall clock (rollouts). */
int sl_plan_switch(const struct sl_state *st, struct sl_txn *t, const char *service,
		   const char *group, int reset, struct sl_error *e);
int sl_plan_canary(const struct sl_state *st, struct sl_txn *t, const char *service,
		   uint16_t share_bp, int reset, struct sl_error *e);
int sl_plan_weights(const struct sl_state *st, struct sl_txn *t, const char *service,
		    const struct sl_weight *w, uint32_t n, int reset, struct sl_error *e);
int sl_plan_undo(const struct sl_state *st, struct sl_txn *t, const char *service,
		 struct sl_error *e);
/* Rollout verbs (cmd: SL_CMD_ROLLOUT_*); service NULL picks the only
 * running or paused rollout. */
int sl_plan_rollout(const struct sl_state *st, struct sl_txn *t, enum sl_cmd cmd,
		    const char *service, const struct sl_req *req, uint64_t now_ms,
		    struct sl_error *e);
/* Timer: the first service whose rollout deadline passed (1), or 0. */
int sl_plan_tick(const struct sl_state *st, struct sl_txn *t, uint64_t now_ms);
/* Earliest rollout deadline (UINT64_MAX: none). */
uint64_t sl_state_deadline(const struct sl_state *st);
/* The same skipping the services s with skip[s] != 0 (held by guards). */
int sl_plan_tick_skip(const struct sl_state *st, struct sl_txn *t, uint64_t now_ms,
		      const uint8_t *skip);
uint64_t sl_state_deadline_skip(const struct sl_state *st, const uint8_t *skip);
/* Reload: cfg (validated) becomes the structure; old is the configuration
 * loaded before (ports compared).  Fills st->nbase. */
int sl_plan_reload(struct sl_state *st, struct sl_txn *t, const struct sl_config *cfg,
		   const struct sl_config *old, struct sl_error *e);
/* The current states as they are (init, recovery): publish != 0 renders
 * them as a new generation; clear != 0 empties the undo stacks (a new
 * starting point). */
void sl_plan_snapshot(const struct sl_state *st, struct sl_txn *t, int publish, int clear);

/* Shadow rules.  add: the rule of a shadow_add request (checked: name,
 * service, a port of role shadow in cfg, the slot limit); the same rule
 * again is no change (0), a different rule of that name is refused.
 * remove: by name. */
int sl_plan_shadow_add(const struct sl_state *st, struct sl_txn *t, const struct sl_config *cfg,
		       const struct sl_req *req, struct sl_error *e);
int sl_plan_shadow_remove(const struct sl_state *st, struct sl_txn *t, const char *name,
			  struct sl_error *e);
/* Slot of the rule called name, or -1. */
int sl_state_shadow(const struct sl_state *st, const char *name);

/* Slices at run time (control/slices.c).  add: req's name, service, src
 * (a prefix list, "a/b, c/d") and filter (checked by the protocol); at the
 * lowest free slot and bit, at most SL_SLICES_PER_SERVICE per service and
 * SL_MAX_SLICES in all; the same slice again is no change (0), another one
 * under that name bad_state.  remove: by name (unknown_slice).  A change of
 * slices is a new rule set (shadow_gen): the dataplane compiles slice
 * filters with the shadow rules.  A reload sets the file's slices. */
int sl_plan_slice_add(const struct sl_state *st, struct sl_txn *t, const struct sl_req *req,
		      struct sl_error *e);
int sl_plan_slice_remove(const struct sl_state *st, struct sl_txn *t, const char *name,
			 struct sl_error *e);
/* Slot of the slice called name in table h (of service svc; svc < 0: of
 * any), or -1; "a, b" (or "none"): the slices' names (of svc; < 0: all). */
int sl_slice_find(const struct sl_table_hdr *h, int svc, const char *name);
void sl_slice_names(const struct sl_table_hdr *h, int svc, char *buf, size_t len);
/* SLICE json {"name", "service", "slot", "bit", "src": ["a/b"...], "filter"}, the
 * set of a table, and back (services: the service name of each slot). */
json_t *sl_slice_json(const struct sl_table_hdr *h, const struct sl_slice_rec *sr,
		      unsigned slot);
json_t *sl_slices_json(const struct sl_table_hdr *h, const struct sl_slice_rec *s, unsigned n);
int sl_slices_from_json(struct sl_slice_rec *out, uint16_t *n, char (*services)[SL_NAME_LEN],
			const json_t *a, char *err, size_t errlen);
/* SHADOW_RULE json ({"name", "index", "service", "filter", "sample_bp",
 * "port", "mac"}) and back (err names the field). */
json_t *sl_shadow_json(const struct sl_shadow_rule *r, unsigned slot);
int sl_shadow_from_json(struct sl_shadow_rule *r, unsigned *slot, const json_t *o, char *err,
			size_t errlen);
/* "10.00 % of web's flows matching 'tcp dst port 443' -> port mirror". */
void sl_shadow_describe(const struct sl_shadow_rule *r, char *buf, size_t len);

/* Render t into st->out / st->out_groups (generation t->gen). */
int sl_txn_render(struct sl_state *st, const struct sl_txn *t, char *err, size_t errlen);

/* Make t the state in force. */
void sl_txn_commit(struct sl_state *st, const struct sl_txn *t);

/* Journal entry for t: {"time", "gen", "cmd", "service", "actor", "before",
 * "after", "reason", "rollout"} for one service, {"time", "gen", "cmd",
 * "actor", "services": [{"before", "after", "rollout"}], "reason"} for
 * several.  actor is stolen. */
json_t *sl_txn_journal(const struct sl_state *st, const struct sl_txn *t, const char *cmd,
		       json_t *actor, uint64_t now_ms);

/* The checkpoint entry that starts a rotated journal: every state a
 * restart rebuilds from the lines before it (services at their indexes
 * with rollouts, reset generations and undo histories, shadow rules,
 * slices set by command), so that replaying it alone gives the same
 * state as replaying them.  reason says where the earlier lines went. */
json_t *sl_state_checkpoint(const struct sl_state *st, const char *reason, uint64_t now_ms);

/* SERVICE_STATE json. */
json_t *sl_svc_json(const struct sl_svc_rec *r);

/* Measured share: add a sample of the stats map (nworkers entries; 0: no
 * dataplane attached, the window is emptied).  A counter that went down
 * means the dataplane restarted: the window starts again. */
void sl_state_sample(struct sl_state *st, const struct sl_counters *stats, uint32_t nworkers,
		     uint64_t now_ms);

struct sl_measure {
	int measured;         /* 0: no new flow in the window (or no samples) */
	uint32_t interval_s;  /* window length */
	uint64_t champion_flows, challenger_flows, total_flows;
	uint16_t share_bp;    /* challenger / total, rounded */
	uint64_t champion_active, challenger_active;
};
void sl_state_measure(const struct sl_state *st, int svc, struct sl_measure *m);

struct sl_sentences {
	char challenger_output[1024]; /* a shadow phase names its rules */
	char live_share[256];
	char rollback[384];
};
void sl_state_sentences(const struct sl_state *st, int svc, struct sl_sentences *s);

/* One service's status object (PROTOCOL.md "status result"). */
json_t *sl_state_status_json(const struct sl_state *st, int svc, uint64_t now_ms);
/* Rollout object of one service (null when it never had one). */
json_t *sl_state_rollout_json(const struct sl_state *st, int svc, uint64_t now_ms);

#endif
