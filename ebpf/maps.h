/* The pinned BPF maps of one sluice instance, mapped as plain memory.
 *
 * The control daemon creates them (from sluice_maps.bpf.o, pinned by name
 * under BPFFS/sluice/INSTANCE/), the dataplane opens them.  Both check the
 * layout version and every map's value size before touching anything.
 *
 *   tables   array[2]                       struct sl_table_hdr (slots A/B)
 *   groups   array[2 * SL_MAX_GROUPS]       struct sl_group_rec (slot s:
 *                                           entries s*SL_MAX_GROUPS + g)
 *   control  array[1]                       struct sl_control
 *   acks     array[1]                       struct sl_dp_info (per-worker acks)
 *   stats    array[SL_MAX_WORKERS]          struct sl_counters
 *
 * Publication (sl_maps_publish): write the inactive slot completely, then
 * control (active slot + generation) with release ordering; the dataplane's
 * workers read control once per burst with acquire ordering and write the
 * generation they use into their ack.  The old slot may be rewritten only
 * when every worker has acknowledged the new generation. */
#ifndef SLUICE_MAPS_H
#define SLUICE_MAPS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice_layout.h"

struct sl_table_src; /* dataplane/tables.h */

#define SL_BPFFS_DEFAULT "/sys/fs/bpf"
#define SL_MAPS_OBJ_NAME "sluice_maps.bpf.o"

struct sl_maps {
	char dir[256];                 /* BPFFS/sluice/INSTANCE */
	int fd[5];                     /* tables, groups, control, acks, stats */
	struct sl_table_hdr *tables;   /* [2] */
	struct sl_group_rec *groups;   /* [2 * SL_MAX_GROUPS] */
	struct sl_control *control;
	struct sl_dp_info *dp;
	struct sl_counters *stats;     /* [SL_MAX_WORKERS] */
	size_t len[5];                 /* mapped lengths */
	uint64_t cpus_avoided;         /* sl_maps_avoid_workers: worker CPUs left */
	int have_cpu_base;
	unsigned char cpu_base[128];   /* the caller's affinity before (a cpu_set_t) */
};

/* Daemon side: mount bpffs at bpffs if it is not mounted (saying so on
 * stderr), create BPFFS/sluice/INSTANCE, load obj_path and pin its maps by
 * name there, or reuse the maps already pinned (their state survives).
 * Refuses (nothing written) if pinned maps have another layout version or
 * value size.  *fresh = 1 when no table was ever published (control.gen 0).
 * Returns 0, or -1 with the reason in err. */
int sl_maps_create(const char *bpffs, const char *instance, const char *obj_path,
		   struct sl_maps *m, int *fresh, char *err, size_t errlen);

/* Dataplane side: open the pinned maps of instance (never creates them).
 * Returns 0, 1 if they do not exist yet (the daemon has not run: caller
 * waits and retries), or -1 with the reason in err (version or size
 * mismatch, permissions). */
int sl_maps_open(const char *bpffs, const char *instance, struct sl_maps *m, char *err,
		 size_t errlen);

/* The same maps as anonymous memory in this process (sluice-replay runs
 * the daemon's commands and a worker in one process): laid out like the
 * pinned maps, layout version stamped, no file descriptors, no dataplane
 * attached (dp->nworkers 0: acknowledgement waits return at once).
 * sl_maps_close releases them.  Returns 0, or -1 with err. */
int sl_maps_memory(struct sl_maps *m, char *err, size_t errlen);

void sl_maps_close(struct sl_maps *m);

/* Remove the pinned maps of instance (tests, `sluiced --reset-state`). */
int sl_maps_unpin(const char *bpffs, const char *instance, char *err, size_t errlen);

/* Point a worker table source at the mapped slots, control and acks. */
void sl_maps_source(struct sl_maps *m, struct sl_table_src *src);

/* Publish a complete table (hdr + ngroups group records) as generation
 * hdr->gen (must be control->gen + 1): writes the inactive slot, then
 * control.  Refuses (-1, err) if the previous generation is not yet
 * acknowledged by every attached worker (the inactive slot may still be in
 * use). */
int sl_maps_publish(struct sl_maps *m, const struct sl_table_hdr *hdr,
		    const struct sl_group_rec *groups, uint32_t ngroups, char *err,
		    size_t errlen);

/* Keep the calling thread off the CPUs the attached workers poll on (as
 * long as another CPU is allowed): a publisher spinning for acks on a
 * worker's CPU would preempt the very worker it waits for.  Cheap when
 * nothing changed; call before publishing. */
void sl_maps_avoid_workers(struct sl_maps *m);

/* Workers attached now (0 when no dataplane is attached, its pid is gone or
 * now names another process: pid_start differs). */
uint32_t sl_maps_workers(const struct sl_maps *m);

/* Start time of process pid (clock ticks since boot, /proc/PID/stat field
 * 22), 0 when it cannot be read: with the pid, it names one process. */
uint64_t sl_proc_start(uint32_t pid);

/* Wait until every attached worker acknowledges gen, spinning first (a busy
 * worker acknowledges within a burst) then sleeping; at most timeout_us.
 * Returns 0 when all acknowledged (*waited_us = time taken), 1 on timeout
 * with the indexes of the missing workers in missing[] (room for
 * SL_MAX_WORKERS, or NULL) and their count in *nmissing, 2 when no
 * dataplane is attached (or it went away while waiting). */
int sl_maps_wait_acks(const struct sl_maps *m, uint32_t gen, uint32_t timeout_us,
		      uint32_t *waited_us, uint32_t *missing, uint32_t *nmissing);

/* mkdir -p dir (mode 0755).  Returns 0, or -1 with err ("cannot create
 * directory D: reason"). */
int sl_mkdir_p(const char *dir, char *err, size_t errlen);

/* CLOCK_MONOTONIC in microseconds: publication and acknowledgement times. */
uint64_t sl_mono_us(void);

#endif
