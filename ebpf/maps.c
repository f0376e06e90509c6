/* The pinned BPF maps of one sluice instance: create (daemon) or open
 * (dataplane), check, mmap, publish tables, follow the workers' acks.
 * libbpf lives here only: <linux/bpf.h> and <pcap/pcap.h> clash. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/magic.h>

#include "../dataplane/config.h"
#include "../dataplane/tables.h"
#include "maps.h"

/* An array map's elements are round_up(value_size, 8) apart in the mapping:
 * the C arrays below index them with sizeof, so the two must agree. */
_Static_assert(sizeof(struct sl_table_hdr) % 8 == 0, "tables: element stride is sizeof");
_Static_assert(sizeof(struct sl_group_rec) % 8 == 0, "groups: element stride is sizeof");
_Static_assert(sizeof(struct sl_control) % 8 == 0, "control: element stride is sizeof");
_Static_assert(sizeof(struct sl_dp_info) % 8 == 0, "acks: element stride is sizeof");
_Static_assert(sizeof(struct sl_counters) % 64 == 0, "stats: one cache line run per worker");
_Static_assert(offsetof(struct sl_dp_info, ack) % 64 == 0, "acks: one cache line per worker");
_Static_assert(sizeof(struct sl_worker_ack) == 64, "acks: one cache line per worker");

enum { M_TABLES, M_GROUPS, M_CONTROL, M_ACKS, M_STATS, M_COUNT };

struct map_spec {
	const char *name;
	const char *type; /* value type, for messages */
	uint32_t value_size;
	uint32_t max_entries;
};

static const struct map_spec specs[M_COUNT] = {
	{ "tables", "struct sl_table_hdr", sizeof(struct sl_table_hdr), 2 },
	{ "groups", "struct sl_group_rec", sizeof(struct sl_group_rec), 2 * SL_MAX_GROUPS },
	{ "control", "struct sl_control", sizeof(struct sl_control), 1 },
	{ "acks", "struct sl_dp_info", sizeof(struct sl_dp_info), 1 },
	{ "stats", "struct sl_counters", sizeof(struct sl_counters), SL_MAX_WORKERS },
};

/* The spin phase of sl_maps_wait_acks: a busy worker acks within a burst. */
#define SPIN_US 2000u
#define POLL_US 100u
#define SPIN_YIELD_MASK 255u

static void maps_reset(struct sl_maps *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < M_COUNT; i++)
		m->fd[i] = -1;
}

/* Unmap and close whatever is open; leaves m reset (dir kept). */
static void maps_release(struct sl_maps *m)
{
	void *addr[M_COUNT] = { m->tables, m->groups, m->control, m->dp, m->stats };
	char dir[sizeof(m->dir)];

	for (int i = 0; i < M_COUNT; i++) {
		if (addr[i] && m->len[i])
			munmap(addr[i], m->len[i]);
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	}
	memcpy(dir, m->dir, sizeof(dir));
	maps_reset(m);
	memcpy(m->dir, dir, sizeof(dir));
}

/* Same rule as [control] instance in the configuration. */
static int instance_check(const char *instance, char *err, size_t errlen)
{
	if (instance && sl_name_valid(instance))
		return 0;
	snprintf(err, errlen, "instance '%s': not a valid instance name (expected "
		 SL_NAME_RULE ")", instance ? instance : "");
	return -1;
}

static int dir_build(struct sl_maps *m, const char *bpffs, const char *instance, char *err,
		     size_t errlen)
{
	int n;

	if (!bpffs || !*bpffs)
		bpffs = SL_BPFFS_DEFAULT;
	if (instance_check(instance, err, errlen) != 0)
		return -1;
	n = snprintf(m->dir, sizeof(m->dir), "%s/sluice/%s", bpffs, instance);
	if (n < 0 || (size_t)n >= sizeof(m->dir) - sizeof("/control")) {
		snprintf(err, errlen, "bpffs '%s': path too long (expected at most %zu characters "
			 "with /sluice/%s)", bpffs, sizeof(m->dir) - sizeof("/control") - 1,
			 instance);
		return -1;
	}
	return 0;
}

static void pin_path(const struct sl_maps *m, int i, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", m->dir, specs[i].name);
}

int sl_mkdir_p(const char *dir, char *err, size_t errlen)
{
	char buf[256];
	size_t n = strlen(dir);

	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create directory %s: %s", buf,
				 strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* Pins need a bpf filesystem; mount one where the caller expects it. */
static int bpffs_ensure(const char *bpffs, char *err, size_t errlen)
{
	struct statfs st;

	if (statfs(bpffs, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC)
		return 0;
	if (sl_mkdir_p(bpffs, err, errlen) != 0)
		return -1;
	if (mount("bpf", bpffs, "bpf", 0, "mode=0755") != 0) {
		snprintf(err, errlen, "%s is not a bpf filesystem and mounting one there failed: "
			 "%s (as root: mount -t bpf bpf %s)", bpffs, strerror(errno), bpffs);
		return -1;
	}
	fprintf(stderr, "sluice: %s was not a bpf filesystem: mounted one there\n", bpffs);
	return 0;
}

/* A pinned map must be exactly the map the layout describes: libbpf's own
 * reuse check fails without saying which property differs. */
static int info_check(int fd, int i, const char *path, char *err, size_t errlen)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	const struct map_spec *s = &specs[i];

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
		snprintf(err, errlen, "pinned map %s: cannot read its properties: %s", path,
			 strerror(errno));
		return -1;
	}
	if (info.type != BPF_MAP_TYPE_ARRAY)
		snprintf(err, errlen, "pinned map %s: type %u, expected an array (%u)", path,
			 info.type, BPF_MAP_TYPE_ARRAY);
	else if (info.key_size != sizeof(uint32_t))
		snprintf(err, errlen, "pinned map %s: key size %u, expected %zu", path,
			 info.key_size, sizeof(uint32_t));
	else if (info.value_size != s->value_size)
		snprintf(err, errlen, "pinned map %s: value size %u, expected %u (%s of layout "
			 "version %u): maps of another sluice build; stop sluiced and sluice-dp "
			 "and remove them (sluiced --reset-state)", path, info.value_size,
			 s->value_size, s->type, SL_LAYOUT_VERSION);
	else if (info.max_entries != s->max_entries)
		snprintf(err, errlen, "pinned map %s: %u entries, expected %u (layout version "
			 "%u)", path, info.max_entries, s->max_entries, SL_LAYOUT_VERSION);
	else if (!(info.map_flags & BPF_F_MMAPABLE))
		snprintf(err, errlen, "pinned map %s: not created with BPF_F_MMAPABLE (flags "
			 "0x%x)", path, info.map_flags);
	else
		return 0;
	return -1;
}

/* The object must carry the maps this build expects (a stale .o built from
 * another sluice_layout.h would create maps of the wrong size). */
static int obj_check(struct bpf_object *obj, const char *obj_path, char *err, size_t errlen)
{
	for (int i = 0; i < M_COUNT; i++) {
		const struct map_spec *s = &specs[i];
		struct bpf_map *map = bpf_object__find_map_by_name(obj, s->name);

		if (!map) {
			snprintf(err, errlen, "BPF object %s has no map '%s' (expected tables, "
				 "groups, control, acks and stats)", obj_path, s->name);
			return -1;
		}
		if (bpf_map__type(map) != BPF_MAP_TYPE_ARRAY ||
		    bpf_map__key_size(map) != sizeof(uint32_t) ||
		    bpf_map__value_size(map) != s->value_size ||
		    bpf_map__max_entries(map) != s->max_entries ||
		    !(bpf_map__map_flags(map) & BPF_F_MMAPABLE)) {
			snprintf(err, errlen, "BPF object %s: map '%s' is not an mmapable array of "
				 "%u x %u bytes (it has %u x %u): built from another "
				 "sluice_layout.h, rebuild it", obj_path, s->name, s->max_entries,
				 s->value_size, bpf_map__max_entries(map),
				 bpf_map__value_size(map));
			return -1;
		}
	}
	return 0;
}

static size_t map_len(int i)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (size_t)specs[i].max_entries * ((specs[i].value_size + 7u) & ~7u);

	return (n + page - 1) & ~(page - 1);
}

/* The typed views of the mapped maps (addr[i]: map i). */
static void maps_point(struct sl_maps *m, void *const *addr)
{
	m->tables = addr[M_TABLES];
	m->groups = addr[M_GROUPS];
	m->control = addr[M_CONTROL];
	m->dp = addr[M_ACKS];
	m->stats = addr[M_STATS];
}

/* New maps take this build's layout version: dp first, control last (the
 * dataplane takes maps whose control is not stamped as not ready). */
static void maps_stamp(struct sl_maps *m)
{
	m->dp->layout_version = SL_LAYOUT_VERSION;
	__atomic_store_n(&m->control->layout_version, SL_LAYOUT_VERSION, __ATOMIC_RELEASE);
}

/* mmap every map; writable[i] selects PROT_WRITE. */
static int maps_map(struct sl_maps *m, const int *writable, char *err, size_t errlen)
{
	void *addr[M_COUNT];

	for (int i = 0; i < M_COUNT; i++) {
		int prot = PROT_READ | (writable[i] ? PROT_WRITE : 0);

		m->len[i] = map_len(i);
		addr[i] = mmap(NULL, m->len[i], prot, MAP_SHARED, m->fd[i], 0);
		if (addr[i] == MAP_FAILED) {
			char path[320];

			pin_path(m, i, path, sizeof(path));
			snprintf(err, errlen, "cannot map %s (%zu bytes%s): %s", path, m->len[i],
				 writable[i] ? ", writable" : "", strerror(errno));
			for (int j = 0; j < i; j++)
				munmap(addr[j], m->len[j]);
			memset(m->len, 0, sizeof(m->len));
			return -1;
		}
	}
	maps_point(m, addr);
	return 0;
}

/* 0 fresh (control not stamped yet: the daemon stamps dp first), 1 this
 * layout, -1 another one (err says which). */
static int version_check(const struct sl_maps *m, char *err, size_t errlen)
{
	uint32_t c = __atomic_load_n(&m->control->layout_version, __ATOMIC_ACQUIRE);
	uint32_t d = m->dp->layout_version, bad;

	if (d != 0 && d != SL_LAYOUT_VERSION)
		bad = d;
	else if (c == 0)
		return 0;
	else if (c != SL_LAYOUT_VERSION)
		bad = c;
	else
		return 1;
	snprintf(err, errlen, "maps under %s have layout version %u, this sluice uses %u: maps "
		 "of another sluice build; stop sluiced and sluice-dp and remove them (sluiced "
		 "--reset-state)", m->dir, bad, SL_LAYOUT_VERSION);
	return -1;
}

int sl_maps_create(const char *bpffs, const char *instance, const char *obj_path,
		   struct sl_maps *m, int *fresh, char *err, size_t errlen)
{
	static const int all_rw[M_COUNT] = { 1, 1, 1, 1, 1 };
	/* what LIBBPF_OPTS does, without its GNU statement expression (clang
	 * -Wpedantic refuses it) */
	struct bpf_object_open_opts opts;
	struct bpf_object *obj;
	char path[320];
	int rc, v;

	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	maps_reset(m);
	*fresh = 0;
	if (dir_build(m, bpffs, instance, err, errlen) != 0)
		return -1;
	if (!bpffs || !*bpffs)
		bpffs = SL_BPFFS_DEFAULT;
	if (bpffs_ensure(bpffs, err, errlen) != 0 || sl_mkdir_p(m->dir, err, errlen) != 0)
		return -1;

	opts.pin_root_path = m->dir;
	obj = bpf_object__open_file(obj_path, &opts);
	if (!obj) {
		snprintf(err, errlen, "cannot open the BPF object %s: %s", obj_path,
			 strerror(errno));
		return -1;
	}
	if (obj_check(obj, obj_path, err, errlen) != 0)
		goto fail_obj;
	for (int i = 0; i < M_COUNT; i++) {
		int fd;

		pin_path(m, i, path, sizeof(path));
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "cannot open pinned map %s: %s", path,
				 strerror(errno));
			goto fail_obj;
		}
		rc = info_check(fd, i, path, err, errlen);
		close(fd);
		if (rc != 0)
			goto fail_obj;
	}
	rc = bpf_object__load(obj);
	if (rc != 0) {
		snprintf(err, errlen, "cannot load the BPF object %s and pin its maps under %s: %s",
			 obj_path, m->dir, strerror(-rc));
		goto fail_obj;
	}
	for (int i = 0; i < M_COUNT; i++) {
		m->fd[i] = fcntl(bpf_map__fd(bpf_object__find_map_by_name(obj, specs[i].name)),
				 F_DUPFD_CLOEXEC, 3);
		if (m->fd[i] < 0) {
			snprintf(err, errlen, "map %s: cannot keep its descriptor: %s",
				 specs[i].name, strerror(errno));
			goto fail_obj;
		}
	}
	bpf_object__close(obj);
	obj = NULL;
	if (maps_map(m, all_rw, err, errlen) != 0)
		goto fail;
	v = version_check(m, err, errlen);
	if (v < 0)
		goto fail;
	if (v == 0)
		maps_stamp(m);
	*fresh = __atomic_load_n(&m->control->gen, __ATOMIC_ACQUIRE) == 0;
	return 0;

fail_obj:
	bpf_object__close(obj);
fail:
	maps_release(m);
	return -1;
}

int sl_maps_open(const char *bpffs, const char *instance, struct sl_maps *m, char *err,
		 size_t errlen)
{
	/* The dataplane writes only its info, acks and counters. */
	static const int rw[M_COUNT] = { [M_ACKS] = 1, [M_STATS] = 1 };
	char path[320];
	int v;

	maps_reset(m);
	if (dir_build(m, bpffs, instance, err, errlen) != 0)
		return -1;
	for (int i = 0; i < M_COUNT; i++) {
		pin_path(m, i, path, sizeof(path));
		m->fd[i] = bpf_obj_get(path);
		if (m->fd[i] < 0) {
			int e = errno;

			maps_release(m);
			if (e == ENOENT)
				return 1;
			snprintf(err, errlen, "cannot open pinned map %s: %s", path, strerror(e));
			return -1;
		}
		if (info_check(m->fd[i], i, path, err, errlen) != 0)
			goto fail;
	}
	if (maps_map(m, rw, err, errlen) != 0)
		goto fail;
	v = version_check(m, err, errlen);
	if (v < 0)
		goto fail;
	if (v == 0) {
		/* created, not yet stamped by the daemon: not ready */
		maps_release(m);
		return 1;
	}
	return 0;
fail:
	maps_release(m);
	return -1;
}

int sl_maps_memory(struct sl_maps *m, char *err, size_t errlen)
{
	void *addr[M_COUNT];

	maps_reset(m);
	snprintf(m->dir, sizeof(m->dir), "(memory)");
	for (int i = 0; i < M_COUNT; i++) {
		/* anonymous pages: zeroed, touched only where written */
		m->len[i] = map_len(i);
		addr[i] = mmap(NULL, m->len[i], PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (addr[i] == MAP_FAILED) {
			snprintf(err, errlen, "cannot allocate %zu bytes for the %s tables in "
				 "memory: %s", m->len[i], specs[i].name, strerror(errno));
			for (int j = 0; j < i; j++)
				munmap(addr[j], m->len[j]);
			maps_reset(m);
			return -1;
		}
	}
	maps_point(m, addr);
	maps_stamp(m);
	return 0;
}

void sl_maps_close(struct sl_maps *m)
{
	/* only what a successful create/open left mapped */
	if (!m->control)
		return;
	maps_release(m);
}

int sl_maps_unpin(const char *bpffs, const char *instance, char *err, size_t errlen)
{
	struct sl_maps m;
	char path[320];

	maps_reset(&m);
	if (dir_build(&m, bpffs, instance, err, errlen) != 0)
		return -1;
	for (int i = 0; i < M_COUNT; i++) {
		pin_path(&m, i, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove pinned map %s: %s", path,
				 strerror(errno));
			return -1;
		}
	}
	if (rmdir(m.dir) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", m.dir, strerror(errno));
		return -1;
	}
	return 0;
}

void sl_maps_source(struct sl_maps *m, struct sl_table_src *src)
{
	for (int s = 0; s < 2; s++) {
		src->slot[s].hdr = &m->tables[s];
		src->slot[s].groups = &m->groups[s * SL_MAX_GROUPS];
	}
	src->control = m->control;
	src->acks = m->dp->ack;
}

uint64_t sl_proc_start(uint32_t pid)
{
	char path[32], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the command name is in parentheses and may hold anything: count
	 * fields from the last ')', which ends field 2 */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field != 22 || sscanf(p, "%llu", &start) != 1)
		return 0;
	return start;
}

/* The dataplane's pid runs, and is the same process (its start time), not
 * a later one the pid was given to. */
static int pid_alive(uint32_t pid, uint64_t start)
{
	uint64_t now;

	if (pid == 0 || pid > INT_MAX)
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return 0;
	if (!start)
		return 1;
	now = sl_proc_start(pid);
	return now == 0 || now == start;
}

uint32_t sl_maps_workers(const struct sl_maps *m)
{
	uint32_t n = __atomic_load_n(&m->dp->nworkers, __ATOMIC_ACQUIRE);

	if (n == 0 || !pid_alive(__atomic_load_n(&m->dp->pid, __ATOMIC_RELAXED),
				 __atomic_load_n(&m->dp->pid_start, __ATOMIC_RELAXED)))
		return 0;
	return n > SL_MAX_WORKERS ? SL_MAX_WORKERS : n;
}

/* Workers of the first n whose ack is below gen, into missing (may be NULL). */
static uint32_t acks_missing(const struct sl_maps *m, uint32_t n, uint32_t gen,
			     uint32_t *missing)
{
	uint32_t k = 0;

	for (uint32_t w = 0; w < n; w++)
		if (__atomic_load_n(&m->dp->ack[w].gen, __ATOMIC_ACQUIRE) < gen) {
			if (missing)
				missing[k] = w;
			k++;
		}
	return k;
}

/* Every index the workers follow stays inside the table: a bad table from
 * a buggy publisher must not send a worker outside the mapped memory. */
static int table_check(const struct sl_table_hdr *h, const struct sl_group_rec *groups,
		       uint32_t ngroups, char *err, size_t errlen)
{
	char where[80];
	const char *what = NULL;
	unsigned val = 0, lo = 0, n = 0; /* valid: lo .. lo + n - 1 */

	if (h->nservices > SL_MAX_SERVICES || h->ngroups > ngroups || ngroups > SL_MAX_GROUPS ||
	    h->nports > SL_MAX_PORTS) {
		snprintf(err, errlen, "table of generation %u: %u services, %u groups (%u records "
			 "given), %u ports: expected at most %u, %u (all given), %u", h->gen,
			 h->nservices, h->ngroups, ngroups, h->nports, SL_MAX_SERVICES,
			 SL_MAX_GROUPS, SL_MAX_PORTS);
		return -1;
	}
	for (unsigned i = 0; i < SL_VIP_SLOTS && !what; i++)
		if (h->vip_index[i] > h->nservices) {
			snprintf(where, sizeof(where), "VIP index slot %u", i);
			what = "service number", val = h->vip_index[i], n = h->nservices + 1u;
		}
	for (unsigned s = 0; s < h->nservices && !what; s++) {
		const struct sl_service_rec *r = &h->services[s];

		snprintf(where, sizeof(where), "service %u ('%.*s')", s, SL_NAME_LEN, r->name);
		if (r->champion >= h->ngroups)
			what = "champion group", val = r->champion, n = h->ngroups;
		else if (r->challenger >= h->ngroups)
			what = "challenger group", val = r->challenger, n = h->ngroups;
		else if (r->nranges > SL_MAX_RANGES)
			what = "port ranges", val = r->nranges, n = SL_MAX_RANGES + 1u;
		else if (r->share_bp > SL_SHARE_MAX_BP)
			what = "share", val = r->share_bp, n = SL_SHARE_MAX_BP + 1u;
	}
	for (unsigned g = 0; g < h->ngroups && !what; g++) {
		const struct sl_group_rec *gr = &groups[g];

		snprintf(where, sizeof(where), "group %u ('%.*s')", g, SL_NAME_LEN, gr->name);
		if (gr->port >= h->nports)
			what = "port", val = gr->port, n = h->nports;
		else if (gr->mode != SL_MODE_PORT && gr->mode != SL_MODE_MAC)
			what = "mode", val = gr->mode, n = SL_MODE_MAC + 1u;
		else if (gr->mode != SL_MODE_MAC || gr->nmembers == 0)
			continue;
		else if (gr->nmembers > SL_MAX_MEMBERS)
			what = "members", val = gr->nmembers, n = SL_MAX_MEMBERS + 1u;
		else if (gr->maglev_size == 0 || gr->maglev_size > SL_MAGLEV_MAX)
			what = "Maglev size", val = gr->maglev_size, lo = 1, n = SL_MAGLEV_MAX;
		for (uint32_t i = 0; !what && i < gr->maglev_size; i++)
			if (gr->maglev[i] >= gr->nmembers)
				what = "Maglev entry", val = gr->maglev[i], n = gr->nmembers;
	}
	if (!what)
		return 0;
	if (n == 0)
		snprintf(err, errlen, "table of generation %u: %s: %s %u, but there is none",
			 h->gen, where, what, val);
	else
		snprintf(err, errlen, "table of generation %u: %s: %s %u out of range (expected "
			 "%u..%u)", h->gen, where, what, val, lo, lo + n - 1u);
	return -1;
}

int sl_maps_publish(struct sl_maps *m, const struct sl_table_hdr *hdr,
		    const struct sl_group_rec *groups, uint32_t ngroups, char *err,
		    size_t errlen)
{
	struct sl_control *c = m->control;
	uint32_t cur = __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE), slot, nw, k;
	uint32_t missing[SL_MAX_WORKERS];

	if (c->layout_version != SL_LAYOUT_VERSION) {
		snprintf(err, errlen, "maps under %s: layout version %u, expected %u", m->dir,
			 c->layout_version, SL_LAYOUT_VERSION);
		return -1;
	}
	if (hdr->layout_version != SL_LAYOUT_VERSION) {
		snprintf(err, errlen, "table of generation %u: layout version %u, expected %u",
			 hdr->gen, hdr->layout_version, SL_LAYOUT_VERSION);
		return -1;
	}
	if (hdr->gen != cur + 1) {
		snprintf(err, errlen, "table generation %u refused: the next generation is %u "
			 "(published: %u)", hdr->gen, cur + 1, cur);
		return -1;
	}
	if (table_check(hdr, groups, ngroups, err, errlen) != 0)
		return -1;
	nw = sl_maps_workers(m);
	k = cur && nw ? acks_missing(m, nw, cur, missing) : 0;
	if (k) {
		int n = snprintf(err, errlen, "previous generation %u not acknowledged by "
				 "worker%s", cur, k == 1 ? "" : "s");

		for (uint32_t i = 0; i < k && n >= 0 && (size_t)n < errlen; i++)
			n += snprintf(err + n, errlen - (size_t)n, "%s %u", i ? "," : "",
				      missing[i]);
		return -1;
	}

	slot = cur == 0 ? 0 : 1 - (__atomic_load_n(&c->active_slot, __ATOMIC_RELAXED) & 1);
	memcpy(&m->tables[slot], hdr, sizeof(*hdr));
	memcpy(&m->groups[slot * SL_MAX_GROUPS], groups, ngroups * sizeof(*groups));
	/* unused records: no stale names (member tables are never read) */
	for (uint32_t g = ngroups; g < SL_MAX_GROUPS; g++)
		memset(&m->groups[slot * SL_MAX_GROUPS + g], 0,
		       offsetof(struct sl_group_rec, maglev));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&c->gen, hdr->gen, __ATOMIC_RELEASE);
	__atomic_store_n(&c->active_slot, slot, __ATOMIC_RELEASE);
	return 0;
}

uint64_t sl_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

void sl_maps_avoid_workers(struct sl_maps *m)
{
	uint64_t w = sl_maps_workers(m) ? __atomic_load_n(&m->dp->worker_cpus, __ATOMIC_RELAXED)
					 : 0;
	cpu_set_t set;

	_Static_assert(sizeof(cpu_set_t) <= sizeof(m->cpu_base), "cpu_base holds a cpu_set_t");
	if (!m->have_cpu_base) {
		if (sched_getaffinity(0, sizeof(set), &set) != 0)
			return;
		memcpy(m->cpu_base, &set, sizeof(set));
		m->have_cpu_base = 1;
	}
	if (w == m->cpus_avoided)
		return;
	memcpy(&set, m->cpu_base, sizeof(set));
	for (unsigned c = 0; c < 64; c++)
		if (w >> c & 1)
			CPU_CLR(c, &set);
	if (CPU_COUNT(&set) == 0)
		memcpy(&set, m->cpu_base, sizeof(set));
	if (sched_setaffinity(0, sizeof(set), &set) == 0)
		m->cpus_avoided = w;
}

int sl_maps_wait_acks(const struct sl_maps *m, uint32_t gen, uint32_t timeout_us,
		      uint32_t *waited_us, uint32_t *missing, uint32_t *nmissing)
{
	uint64_t start = sl_mono_us(), el = 0;
	uint32_t nw = sl_maps_workers(m), iter = 0;

	*waited_us = 0;
	*nmissing = 0;
	if (nw == 0)
		return 2;
	for (;;) {
		if (acks_missing(m, nw, gen, NULL) == 0) {
			el = sl_mono_us() - start;
			*waited_us = el > UINT32_MAX ? UINT32_MAX : (uint32_t)el;
			return 0;
		}
		if (el >= timeout_us)
			break;
		if (el < SPIN_US) {
			cpu_relax();
			if ((++iter & SPIN_YIELD_MASK) == 0) {
				sched_yield();
				el = sl_mono_us() - start;
			}
			continue;
		}
		/* sleeping now: a dataplane that went away will not answer */
		nw = sl_maps_workers(m);
		if (nw == 0) {
			*waited_us = (uint32_t)el;
			return 2;
		}
		{
			struct timespec ts = { 0, POLL_US * 1000 };

			nanosleep(&ts, NULL);
		}
		el = sl_mono_us() - start;
	}
	*waited_us = el > UINT32_MAX ? UINT32_MAX : (uint32_t)el;
	*nmissing = acks_missing(m, nw, gen, missing);
	return 1;
}
