/* INTERNAL to the state module: the helpers its files share.  The module
 * is state.c, shadows.c, layout.c, adopt.c, planners.c, txn.c and measure.c;
 * only they include this header.  Everything else uses state.h, the
 * module's API.  Each function is described where it is defined. */
#ifndef SLUICE_STATE_INT_H
#define SLUICE_STATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "state.h"

/* state.c: names, lookups, service records, the undo stack */
int sl_st_strategy_from_name(const char *s);
const char *sl_st_mode_name(int reset);
/* Append to a note buffer ("; " between items). */
void sl_st_note_add(char *note, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sl_st_name_of(const json_t *o, const char *key, char *out, const char *where, char *err,
		  size_t errlen);
int sl_st_hdr_service(const struct sl_table_hdr *h, const char *name);
int sl_st_hdr_port(const struct sl_table_hdr *h, const char *name);
int sl_st_group_in(const struct sl_table_hdr *h, const struct sl_group_rec *g,
		   const char *name);
int sl_st_base_group(const struct sl_state *st, const char *name);
int sl_st_split_eq(const struct sl_svc_rec *a, const struct sl_svc_rec *b);
void sl_st_undo_push(struct sl_undo *u, const struct sl_svc_rec *r, uint32_t gen);

/* shadows.c: rule sets */
int sl_st_rule_eq(const struct sl_shadow_rule *a, const struct sl_shadow_rule *b);
int sl_st_shadows_eq(const struct sl_shadows *a, const struct sl_shadows *b);
void sl_st_shadows_trim(struct sl_shadows *s);
void sl_st_shadows_from_hdr(struct sl_shadows *o, const struct sl_table_hdr *h);
void sl_st_shadows_from_cfg(struct sl_shadows *o, const struct sl_config *c);
json_t *sl_st_shadows_json(const struct sl_shadows *s);
int sl_st_shadows_from_json(struct sl_shadows *o, const json_t *a, char *err, size_t errlen);
void sl_st_shadow_names(const struct sl_shadows *s, char *buf, size_t len);

/* planners.c: a transaction from the state in force (nothing changed yet) */
void sl_st_txn_begin(const struct sl_state *st, struct sl_txn *t);

/* measure.c: the measured-share window starts again */
void sl_st_window_reset(struct sl_state *st);

#endif
