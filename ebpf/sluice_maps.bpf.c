/* The maps of one sluice instance: no program, only BTF-defined array maps
 * that sluiced loads and pins by name under BPFFS/sluice/INSTANCE/ and that
 * both processes mmap (BPF_F_MMAPABLE).  Names, sizes and value types are
 * the contract of maps.h and sluice_layout.h. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_layout.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct sl_table_hdr);
} tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 2 * SL_MAX_GROUPS);
	__type(key, __u32);
	__type(value, struct sl_group_rec);
} groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_control);
} control SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_dp_info);
} acks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, SL_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct sl_counters);
} stats SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
