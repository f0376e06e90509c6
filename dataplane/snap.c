/* Serving flow-table snapshots (snap.h). */
#include <string.h>

#include "decide.h"
#include "snap.h"

void sl_snap_step(struct sl_snap *s, struct sl_flowtable *ft, const struct sl_view *v,
		  uint64_t now_us)
{
	uint32_t req = __atomic_load_n(&s->req, __ATOMIC_ACQUIRE);
	uint32_t now = sl_clock_ms(now_us);
	int complete;

	if (s->serving != req) {
		/* a new request: its parameters are read once, here */
		s->serving = req;
		s->cur_filter = s->filter;
		s->cur_max = s->max < SL_SNAP_MAX ? s->max : SL_SNAP_MAX;
		s->n = 0;
		s->pos = 0;
		if (s->by_key) {
			struct sl_key k = s->key;
			const struct sl_flow *f =
				sl_ft_lookup(ft, &k, sl_hash_key(&k, v->hdr->seed_flow), now);

			if (f) {
				struct sl_flow_rec *r = &s->buf[s->n++];

				memset(r, 0, sizeof(*r));
				r->key = k;
				r->f = *f;
			}
			s->pos = ft->slots;
		}
	}
	complete = sl_ft_snapshot(ft, now, &s->cur_filter, s->buf, s->cur_max, &s->n,
				  &s->pos, SL_SNAP_BUDGET);
	if (!complete)
		return;
	/* decided again at the next packet, also by a reset the worker has
	 * not met yet */
	for (uint32_t i = 0; i < s->n; i++) {
		struct sl_flow_rec *r = &s->buf[i];
		unsigned si = sl_flow_service(&r->f);

		if (si < v->hdr->nservices)
			r->stale = (uint8_t)sl_ft_redecides(ft, &r->f,
							    v->hdr->services[si].reset_gen);
	}
	s->now_ms = now;
	s->now_s = (uint32_t)(now_us / 1000000u);
	s->gen = v->hdr->gen;
	s->ft_count = sl_ft_count(ft);
	__atomic_store_n(&s->done, req, __ATOMIC_RELEASE);
}

