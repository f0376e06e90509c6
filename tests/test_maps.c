/* The pinned maps: create, publish into alternate slots, open from the
 * dataplane side, acks, persistence, refusals (generation, acks, layout
 * version, value size), and a worker counting into the stats map.  Needs
 * root (bpffs, BPF map creation).  Instances are named test-PID-..., and
 * removed at exit even when a test fails. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/magic.h>

#include "decide.h"
#include "maps.h"
#include "pktbuild.h"
#include "tables.h"
#include "testcfg.h"
#include "unit.h"

#define BPFFS SL_BPFFS_DEFAULT
#define MAX_INST 16

static char inst_names[MAX_INST][SL_NAME_LEN];
static char inst_bpffs[MAX_INST][64];
static unsigned ninst;
static char tmp_bpffs[64]; /* a bpffs this suite mounted itself */

static void cleanup_all(void)
{
	char err[256];

	for (unsigned i = 0; i < ninst; i++)
		sl_maps_unpin(inst_bpffs[i], inst_names[i], err, sizeof(err));
	if (tmp_bpffs[0]) {
		char dir[96];

		snprintf(dir, sizeof(dir), "%s/sluice", tmp_bpffs);
		rmdir(dir);
		umount2(tmp_bpffs, MNT_DETACH);
		rmdir(tmp_bpffs);
		tmp_bpffs[0] = '\0';
	}
}

/* A fresh instance name, removed at exit whatever happens. */
static const char *inst(const char *bpffs, const char *tag)
{
	static int registered;
	unsigned i = ninst;

	CU_ASSERT_FATAL(i < MAX_INST);
	if (!registered)
		registered = atexit(cleanup_all) == 0;
	snprintf(inst_names[i], SL_NAME_LEN, "test-%d-%s", (int)getpid(), tag);
	snprintf(inst_bpffs[i], sizeof(inst_bpffs[i]), "%s", bpffs);
	ninst++;
	return inst_names[i];
}

/* build/tests/sluice-unit -> build/ebpf/sluice_maps.bpf.o, unless
 * SL_BPF_OBJECT names it. */
static const char *obj_path(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	const char *env = getenv("SL_BPF_OBJECT");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CU_ASSERT_FATAL(n > 0);
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	CU_ASSERT_FATAL(slash != NULL);
	*slash = '\0';
	snprintf(path, sizeof(path), "%.*s/../ebpf/" SL_MAPS_OBJ_NAME, PATH_MAX - 32, exe);
	return path;
}

static void create_ok(const char *bpffs, const char *name, struct sl_maps *m, int *fresh)
{
	char err[512] = "";
	int rc = sl_maps_create(bpffs, name, obj_path(), m, fresh, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "\nsl_maps_create %s (object %s): %s\n", name, obj_path(), err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

struct table {
	struct sl_table_hdr *hdr;
	struct sl_group_rec *groups;
	struct sl_config *cfg;
};

static void table_make(struct table *t, uint16_t share_bp, uint32_t gen)
{
	char err[256];

	t->cfg = tc_config(share_bp);
	t->hdr = calloc(1, sizeof(*t->hdr));
	t->groups = calloc(SL_MAX_GROUPS, sizeof(*t->groups));
	CU_ASSERT_FATAL(t->cfg && t->hdr && t->groups);
	CU_ASSERT_EQUAL_FATAL(sl_tables_build(t->hdr, t->groups, t->cfg, gen, err, sizeof(err)),
			      0);
}

static void table_free(struct table *t)
{
	free(t->hdr);
	free(t->groups);
	free(t->cfg);
}

static int publish(struct sl_maps *m, const struct table *t, char *err, size_t errlen)
{
	err[0] = '\0';
	return sl_maps_publish(m, t->hdr, t->groups, t->hdr->ngroups, err, errlen);
}

/* Slot s of m holds exactly t. */
static int slot_is(const struct sl_maps *m, unsigned s, const struct table *t)
{
	return memcmp(&m->tables[s], t->hdr, sizeof(*t->hdr)) == 0 &&
	       memcmp(&m->groups[s * SL_MAX_GROUPS], t->groups,
		      t->hdr->ngroups * sizeof(*t->groups)) == 0;
}

/* The value of key 0 of a pinned map, read by syscall (not mmap). */
static void pinned_read(const char *name, const char *map, void *val)
{
	char path[320];
	uint32_t key = 0;
	int fd;

	snprintf(path, sizeof(path), BPFFS "/sluice/%s/%s", name, map);
	fd = bpf_obj_get(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(fd, &key, val), 0);
	close(fd);
}

static void pinned_ack5(const char *name, uint32_t *gen)
{
	static struct sl_dp_info dpi;

	pinned_read(name, "acks", &dpi);
	*gen = dpi.ack[5].gen;
}

static void test_publish_slots(void)
{
	const char *name = inst(BPFFS, "pub");
	struct sl_maps m, dp;
	struct table t1, t2, t3;
	char err[512];
	int fresh = -1;

	create_ok(BPFFS, name, &m, &fresh);
	CU_ASSERT_EQUAL(fresh, 1);
	CU_ASSERT_EQUAL(m.control->layout_version, SL_LAYOUT_VERSION);
	CU_ASSERT_EQUAL(m.dp->layout_version, SL_LAYOUT_VERSION);
	CU_ASSERT_EQUAL(m.control->gen, 0);
	CU_ASSERT_EQUAL(sl_maps_workers(&m), 0);

	/* first publication: slot 0 */
	table_make(&t1, 500, 1);
	CU_ASSERT_EQUAL(publish(&m, &t1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(m.control->gen, 1);
	CU_ASSERT_EQUAL(m.control->active_slot, 0);
	CU_ASSERT(slot_is(&m, 0, &t1));

	/* the dataplane's mapping sees the same bytes */
	CU_ASSERT_EQUAL_FATAL(sl_maps_open(BPFFS, name, &dp, err, sizeof(err)), 0);
	CU_ASSERT(slot_is(&dp, 0, &t1));
	CU_ASSERT_EQUAL(dp.control->gen, 1);

	/* gen 2 goes to the other slot; slot 0 keeps gen 1 */
	table_make(&t2, 2500, 2);
	CU_ASSERT_EQUAL(publish(&m, &t2, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(dp.control->gen, 2);
	CU_ASSERT_EQUAL(dp.control->active_slot, 1);
	CU_ASSERT(slot_is(&dp, 1, &t2));
	CU_ASSERT(slot_is(&dp, 0, &t1));
	CU_ASSERT_EQUAL(dp.tables[1].services[TC_S_WEB].share_bp, 2500);

	/* a generation other than control.gen + 1 is refused, nothing written */
	CU_ASSERT_EQUAL(publish(&m, &t2, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "generation 2 refused: the next generation is 3"));
	table_make(&t3, 5000, 4);
	CU_ASSERT_EQUAL(publish(&m, &t3, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "generation 4 refused"));
	CU_ASSERT_EQUAL(m.control->gen, 2);
	CU_ASSERT_EQUAL(m.control->active_slot, 1);
	CU_ASSERT(slot_is(&m, 0, &t1));

	/* an attached worker still on gen 1 may use slot 0: refused */
	t3.hdr->gen = 3;
	dp.dp->pid = (uint32_t)getpid();
	dp.dp->ack[0].gen = 1;
	dp.dp->ack[1].gen = 2;
	__atomic_store_n(&dp.dp->nworkers, 2, __ATOMIC_RELEASE);
	CU_ASSERT_EQUAL(sl_maps_workers(&m), 2);
	CU_ASSERT_EQUAL(publish(&m, &t3, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "previous generation 2 not acknowledged by worker 0");
	dp.dp->ack[1].gen = 1;
	CU_ASSERT_EQUAL(publish(&m, &t3, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "previous generation 2 not acknowledged by workers 0, 1");
	CU_ASSERT_EQUAL(m.control->gen, 2);
	CU_ASSERT(slot_is(&m, 0, &t1));
	dp.dp->ack[0].gen = 2;
	dp.dp->ack[1].gen = 2;
	CU_ASSERT_EQUAL(publish(&m, &t3, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(dp.control->gen, 3);
	CU_ASSERT_EQUAL(dp.control->active_slot, 0);
	CU_ASSERT(slot_is(&dp, 0, &t3));
	CU_ASSERT(slot_is(&dp, 1, &t2));

	/* the dataplane's mapping of the tables is read-only, of its acks not:
	 * the kernel writing into them through read() says so without a signal */
	{
		uint32_t v7 = 7, got;
		int p[2];

		CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
		CU_ASSERT_EQUAL(write(p[1], &v7, 4), 4);
		errno = 0;
		CU_ASSERT_EQUAL(read(p[0], (void *)&dp.tables[0].pad0, 4), -1);
		CU_ASSERT_EQUAL(errno, EFAULT);
		CU_ASSERT_EQUAL(read(p[0], &dp.dp->ack[5].gen, 4), 4);
		pinned_ack5(name, &got);
		CU_ASSERT_EQUAL(got, 7);
		close(p[0]);
		close(p[1]);
	}

	/* a table of another layout version is refused */
	t1.hdr->gen = 4;
	t1.hdr->layout_version = SL_LAYOUT_VERSION + 1;
	CU_ASSERT_EQUAL(publish(&m, &t1, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "layout version"));

	sl_maps_close(&dp);
	sl_maps_close(&m);
	CU_ASSERT_PTR_NULL(m.control);
	table_free(&t1);
	table_free(&t2);
	table_free(&t3);
	CU_ASSERT_EQUAL(sl_maps_unpin(BPFFS, name, err, sizeof(err)), 0);
}

/* A table that would send a worker outside the table is refused. */
static void test_bad_table(void)
{
	const char *name = inst(BPFFS, "bad");
	struct sl_maps m;
	struct table t;
	char err[512];
	int fresh;

	create_ok(BPFFS, name, &m, &fresh);
	table_make(&t, 500, 1);
	t.hdr->services[TC_S_WEB].challenger = 5;
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "table of generation 1: service 0 ('web'): challenger group "
			       "5 out of range (expected 0..1)");
	t.hdr->services[TC_S_WEB].challenger = TC_G_GREEN;
	t.groups[TC_G_GREEN].maglev[65536] = 3;
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "table of generation 1: group 1 ('green'): Maglev entry 3 "
			       "out of range (expected 0..2)");
	t.groups[TC_G_GREEN].maglev[65536] = 2;
	t.groups[TC_G_BLUE].port = 4;
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "table of generation 1: group 0 ('blue'): port 4 out of "
			       "range (expected 0..3)");
	CU_ASSERT_EQUAL(sl_maps_publish(&m, t.hdr, t.groups, 1, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "2 groups (1 records given)"));
	CU_ASSERT_EQUAL(m.control->gen, 0);
	t.groups[TC_G_BLUE].port = TC_BLUE;
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(m.control->gen, 1);
	sl_maps_close(&m);
	table_free(&t);
	CU_ASSERT_EQUAL(sl_maps_unpin(BPFFS, name, err, sizeof(err)), 0);
}

struct late_ack {
	struct sl_worker_ack *ack;
	uint32_t gen;
	unsigned delay_us;
};

static void *ack_later(void *arg)
{
	struct late_ack *l = arg;
	struct timespec ts = { 0, (long)l->delay_us * 1000 };

	nanosleep(&ts, NULL);
	__atomic_store_n(&l->ack->gen, l->gen, __ATOMIC_RELEASE);
	return NULL;
}

static void test_wait_acks(void)
{
	const char *name = inst(BPFFS, "acks");
	uint32_t waited, missing[SL_MAX_WORKERS], nmissing;
	struct late_ack late;
	struct sl_maps m;
	struct table t;
	pthread_t th;
	char err[512];
	pid_t child;
	int fresh;

	create_ok(BPFFS, name, &m, &fresh);
	table_make(&t, 500, 1);
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), 0);

	/* no dataplane at all */
	CU_ASSERT_EQUAL(sl_maps_wait_acks(&m, 1, 1000, &waited, missing, &nmissing), 2);

	/* worker 0 acknowledges after 5 ms */
	m.dp->pid = (uint32_t)getpid();
	m.dp->ack[0].gen = 0;
	__atomic_store_n(&m.dp->nworkers, 1, __ATOMIC_RELEASE);
	late.ack = &m.dp->ack[0];
	late.gen = 1;
	late.delay_us = 5000;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, ack_later, &late), 0);
	CU_ASSERT_EQUAL(sl_maps_wait_acks(&m, 1, 1000000, &waited, missing, &nmissing), 0);
	pthread_join(th, NULL);
	CU_ASSERT(waited >= 5000 && waited < 1000000);
	CU_ASSERT_EQUAL(nmissing, 0);

	/* already acknowledged: at once, not after the timeout (a bound far
	 * from both: the machine may be busy) */
	CU_ASSERT_EQUAL(sl_maps_wait_acks(&m, 1, 1000000, &waited, missing, &nmissing), 0);
	CU_ASSERT(waited < 500000);

	/* worker 0 never acknowledges gen 2, worker 1 does */
	m.dp->ack[1].gen = 2;
	__atomic_store_n(&m.dp->nworkers, 2, __ATOMIC_RELEASE);
	CU_ASSERT_EQUAL(sl_maps_wait_acks(&m, 2, 3000, &waited, missing, &nmissing), 1);
	CU_ASSERT(waited >= 3000);
	CU_ASSERT_EQUAL(nmissing, 1);
	CU_ASSERT_EQUAL(missing[0], 0);

	/* the pid runs, but is another process than the one that attached (a
	 * pid reused): not attached; the same start time: attached */
	m.dp->pid_start = sl_proc_start((uint32_t)getpid());
	CU_ASSERT(m.dp->pid_start != 0);
	CU_ASSERT_EQUAL(sl_maps_workers(&m), 2);
	m.dp->pid_start += 1;
	CU_ASSERT_EQUAL(sl_maps_workers(&m), 0);
	m.dp->pid_start = 0; /* not known: the pid alone */
	CU_ASSERT_EQUAL(sl_maps_workers(&m), 2);

	/* the dataplane's process is gone */
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0)
		_exit(0);
	CU_ASSERT_EQUAL(waitpid(child, NULL, 0), child);
	m.dp->pid = (uint32_t)child;
	CU_ASSERT_EQUAL(sl_maps_workers(&m), 0);
	CU_ASSERT_EQUAL(sl_maps_wait_acks(&m, 2, 3000, &waited, missing, &nmissing), 2);
	/* ... so a publication does not wait for it */
	t.hdr->gen = 2;
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), 0);

	sl_maps_close(&m);
	table_free(&t);
	CU_ASSERT_EQUAL(sl_maps_unpin(BPFFS, name, err, sizeof(err)), 0);
}

static void test_persistence(void)
{
	const char *name = inst(BPFFS, "keep");
	struct sl_maps m;
	struct table t;
	char err[512];
	int fresh = -1;

	create_ok(BPFFS, name, &m, &fresh);
	CU_ASSERT_EQUAL(fresh, 1);
	table_make(&t, 700, 1);
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), 0);
	m.stats[3].grp[1][2].pkts = 12345;
	sl_maps_close(&m);

	/* a restarted daemon finds the state it left */
	create_ok(BPFFS, name, &m, &fresh);
	CU_ASSERT_EQUAL(fresh, 0);
	CU_ASSERT_EQUAL(m.control->gen, 1);
	CU_ASSERT_EQUAL(m.control->active_slot, 0);
	CU_ASSERT(slot_is(&m, 0, &t));
	CU_ASSERT_EQUAL(m.stats[3].grp[1][2].pkts, 12345);
	t.hdr->gen = 2;
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(m.control->active_slot, 1);
	sl_maps_close(&m);

	CU_ASSERT_EQUAL(sl_maps_unpin(BPFFS, name, err, sizeof(err)), 0);
	/* gone: the dataplane would wait, a daemon would start afresh */
	CU_ASSERT_EQUAL(sl_maps_open(BPFFS, name, &m, err, sizeof(err)), 1);
	table_free(&t);
}

static void test_version_mismatch(void)
{
	const char *name = inst(BPFFS, "ver");
	struct sl_control before, after;
	struct sl_dp_info dpi;
	struct sl_maps m, m2;
	struct table t;
	char err[512], want[64];
	int fresh;

	create_ok(BPFFS, name, &m, &fresh);
	/* half-stamped (a daemon between its two stores): not ready yet */
	m.control->layout_version = 0;
	CU_ASSERT_EQUAL(sl_maps_open(BPFFS, name, &m2, err, sizeof(err)), 1);
	m.control->layout_version = SL_LAYOUT_VERSION;
	table_make(&t, 500, 1);
	CU_ASSERT_EQUAL(publish(&m, &t, err, sizeof(err)), 0);
	m.control->layout_version = SL_LAYOUT_VERSION + 7;
	sl_maps_close(&m);
	pinned_read(name, "control", &before);

	snprintf(want, sizeof(want), "layout version %u, this sluice uses %u",
		 SL_LAYOUT_VERSION + 7, SL_LAYOUT_VERSION);
	err[0] = '\0';
	CU_ASSERT_EQUAL(sl_maps_create(BPFFS, name, obj_path(), &m2, &fresh, err, sizeof(err)),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_PTR_NULL(m2.control);
	err[0] = '\0';
	CU_ASSERT_EQUAL(sl_maps_open(BPFFS, name, &m2, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_PTR_NULL(m2.control);
	pinned_read(name, "control", &after);
	CU_ASSERT_EQUAL(memcmp(&before, &after, sizeof(before)), 0);
	pinned_read(name, "acks", &dpi);
	CU_ASSERT_EQUAL(dpi.layout_version, SL_LAYOUT_VERSION);

	table_free(&t);
	CU_ASSERT_EQUAL(sl_maps_unpin(BPFFS, name, err, sizeof(err)), 0);
}

static void test_value_size_mismatch(void)
{
	const char *name = inst(BPFFS, "size");
	/* LIBBPF_OPTS without its GNU statement expression (clang -Wpedantic) */
	struct bpf_map_create_opts opts = { .sz = sizeof(opts), .map_flags = BPF_F_MMAPABLE };
	char err[512], path[320];
	struct sl_maps m;
	uint32_t key = 0;
	uint8_t val[1000];
	int fd, fresh;

	/* the bpffs is there (a create mounts it if needed) */
	create_ok(BPFFS, name, &m, &fresh);
	sl_maps_close(&m);
	CU_ASSERT_EQUAL_FATAL(sl_maps_unpin(BPFFS, name, err, sizeof(err)), 0);

	snprintf(path, sizeof(path), BPFFS "/sluice/%s", name);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tables", 4, sizeof(val), 2, &opts);
	CU_ASSERT_FATAL(fd >= 0);
	strcat(path, "/tables");
	CU_ASSERT_EQUAL_FATAL(bpf_obj_pin(fd, path), 0);
	memset(val, 0x5a, sizeof(val));
	CU_ASSERT_EQUAL(bpf_map_update_elem(fd, &key, val, BPF_ANY), 0);

	err[0] = '\0';
	CU_ASSERT_EQUAL(sl_maps_create(BPFFS, name, obj_path(), &m, &fresh, err, sizeof(err)),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "value size 1000, expected"));
	/* nothing created next to it, nothing written into it */
	snprintf(path, sizeof(path), BPFFS "/sluice/%s/control", name);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	memset(val, 0, sizeof(val));
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(fd, &key, val), 0);
	CU_ASSERT(val[0] == 0x5a && val[999] == 0x5a);

	err[0] = '\0';
	CU_ASSERT_EQUAL(sl_maps_open(BPFFS, name, &m, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/tables: value size 1000, expected"));
	close(fd);
	CU_ASSERT_EQUAL(sl_maps_unpin(BPFFS, name, err, sizeof(err)), 0);
}

static void test_open_missing_and_bad_input(void)
{
	char err[512] = "";
	struct sl_maps m;
	int fresh;

	CU_ASSERT_EQUAL(sl_maps_open(BPFFS, inst(BPFFS, "none"), &m, err, sizeof(err)), 1);
	CU_ASSERT_PTR_NULL(m.control);
	CU_ASSERT_EQUAL(sl_maps_open(BPFFS, "../etc", &m, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "instance '../etc': not a valid instance name (expected "
			       "1..31 characters a-z, 0-9, _ or -)");
	CU_ASSERT_EQUAL(sl_maps_create(BPFFS, "", obj_path(), &m, &fresh, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "instance '': not a valid instance name"));
	CU_ASSERT_EQUAL(sl_maps_create(BPFFS, inst(BPFFS, "noobj"), "/nonexistent/maps.bpf.o",
				       &m, &fresh, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open the BPF object /nonexistent/maps.bpf.o"));
	CU_ASSERT_EQUAL(sl_maps_unpin(BPFFS, "a/b", err, sizeof(err)), -1);
}

/* A directory that is not a bpffs gets one mounted. */
static void test_mounts_bpffs(void)
{
	char tmpl[] = "/tmp/sluice-test-bpffs-XXXXXX", err[512];
	const char *name;
	struct statfs st;
	struct sl_maps m;
	int fresh;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpl));
	snprintf(tmp_bpffs, sizeof(tmp_bpffs), "%s", tmpl);
	name = inst(tmp_bpffs, "mnt");
	create_ok(tmp_bpffs, name, &m, &fresh);
	CU_ASSERT_EQUAL(statfs(tmp_bpffs, &st), 0);
	CU_ASSERT_EQUAL((unsigned long)st.f_type, BPF_FS_MAGIC);
	CU_ASSERT_EQUAL(fresh, 1);
	sl_maps_close(&m);
	CU_ASSERT_EQUAL(sl_maps_unpin(tmp_bpffs, name, err, sizeof(err)), 0);
	cleanup_all();
	CU_ASSERT_EQUAL(access(tmpl, F_OK), -1);
}

static uint16_t one(struct sl_worker *w, const struct sl_view *v, uint32_t flow)
{
	static uint8_t buf[256];
	const uint8_t *d[1] = { buf };
	uint16_t l[1];
	struct sl_verdict vd = { .out = 0xffff };
	struct tb_flow f;

	tb_client_flow(&f, flow, 4, 6, tc_vip_web, 443);
	l[0] = tb_frame(buf, &f, 0, SL_TCP_SYN, 0);
	sl_decide_burst(w, v, TC_CLIENT, d, l, 1, 1, &vd);
	return vd.out;
}

/* The worker reads the mapped slots and counts into the stats map. */
static void test_worker_on_maps(void)
{
	const char *name = inst(BPFFS, "work");
	struct sl_table_src src;
	struct sl_maps m, dp;
	const struct sl_view *v;
	struct sl_worker w;
	struct table t1, t2;
	char err[512];
	int fresh;

	create_ok(BPFFS, name, &m, &fresh);
	table_make(&t1, 0, 1);
	CU_ASSERT_EQUAL(publish(&m, &t1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(sl_maps_open(BPFFS, name, &dp, err, sizeof(err)), 0);
	sl_maps_source(&dp, &src);
	CU_ASSERT_PTR_EQUAL(src.acks, dp.dp->ack);
	v = sl_src_view(&src);
	CU_ASSERT_PTR_EQUAL(v, &src.slot[0]);
	CU_ASSERT_PTR_EQUAL(v->hdr, &dp.tables[0]);
	CU_ASSERT_PTR_EQUAL(v->groups, &dp.groups[0]);
	CU_ASSERT_EQUAL(v->hdr->gen, 1);

	memset(&m.stats[0], 0xee, sizeof(m.stats[0]));
	CU_ASSERT_EQUAL_FATAL(sl_worker_init(&w, t1.cfg, &dp.stats[0]), 0);
	/* the worker starts from zero in the map */
	CU_ASSERT_EQUAL(sl_svc_pkts(&m.stats[0], TC_S_WEB), 0);
	CU_ASSERT_EQUAL(one(&w, v, 1), 1u << TC_BLUE);
	CU_ASSERT_EQUAL(sl_svc_pkts(&m.stats[0], TC_S_WEB), 1);
	CU_ASSERT_EQUAL(m.stats[0].grp[TC_S_WEB][TC_G_BLUE].flows, 1);
	CU_ASSERT_EQUAL(m.stats[0].grp[TC_S_WEB][TC_G_BLUE].pkts, 1);
	CU_ASSERT_EQUAL(m.stats[0].grp[TC_S_WEB][TC_G_GREEN].flows, 0);

	/* gen 2: every new flow to green; the worker's next view is slot 1 */
	table_make(&t2, 10000, 2);
	CU_ASSERT_EQUAL(publish(&m, &t2, err, sizeof(err)), 0);
	v = sl_src_view(&src);
	CU_ASSERT_PTR_EQUAL(v, &src.slot[1]);
	CU_ASSERT_EQUAL(v->hdr->gen, 2);
	CU_ASSERT_EQUAL(one(&w, v, 2), 1u << TC_GREEN);
	CU_ASSERT_EQUAL(one(&w, v, 1), 1u << TC_BLUE); /* sticky */
	CU_ASSERT_EQUAL(sl_svc_pkts(&m.stats[0], TC_S_WEB), 3);
	CU_ASSERT_EQUAL(m.stats[0].grp[TC_S_WEB][TC_G_GREEN].flows, 1);
	CU_ASSERT_EQUAL(m.stats[0].grp[TC_S_WEB][TC_G_BLUE].flows, 1);
	CU_ASSERT_EQUAL(m.stats[0].grp[TC_S_WEB][TC_G_BLUE].pkts, 2);
	CU_ASSERT_EQUAL(sl_svc_pkts(&m.stats[1], TC_S_WEB), 0);

	sl_worker_fini(&w);
	sl_maps_close(&dp);
	sl_maps_close(&m);
	table_free(&t1);
	table_free(&t2);
	CU_ASSERT_EQUAL(sl_maps_unpin(BPFFS, name, err, sizeof(err)), 0);
}

void sl_test_register_maps(void)
{
	CU_pSuite s = CU_add_suite("maps", NULL, NULL);

	CU_add_test(s, "create, publish into alternate slots, acks refuse", test_publish_slots);
	CU_add_test(s, "a table with indexes out of range is refused", test_bad_table);
	CU_add_test(s, "wait for acks: acked, timeout, no dataplane", test_wait_acks);
	CU_add_test(s, "maps persist across a restart", test_persistence);
	CU_add_test(s, "another layout version is refused", test_version_mismatch);
	CU_add_test(s, "another value size is refused", test_value_size_mismatch);
	CU_add_test(s, "missing instance, bad names, bad object", test_open_missing_and_bad_input);
	CU_add_test(s, "a directory that is not a bpffs gets one", test_mounts_bpffs);
	CU_add_test(s, "a worker reads mapped tables, counts into the map", test_worker_on_maps);
}
