#!/bin/sh
# Build DPDK's l3fwd example (Debian package dpdk-doc) for tools/bench.sh,
# into DIR (default /tmp/sluice-bench-l3fwd, never the repository): the
# bench's peer for exact match, one rte_hash lookup per packet (-E).
#
# Usage: tools/bench-l3fwd.sh [DIR]     prints the binary's path
#
# The copy is patched for the bench, nothing on the packet path:
#   - the pool's mbuf count and data room come from BENCH_MBUFS and
#     BENCH_DATA_ROOM (l3fwd has no option for them; the bench gives every
#     program the same);
#   - no RX checksum offload requested (virtual ports have none);
#   - the main lcore (idle with --config on lcore 1) prints port 0's Rx
#     packets per second ("bench Rx-pps: N"), like testpmd --stats-period 1.
set -eu
src=/usr/share/dpdk/examples/l3fwd
common=/usr/share/dpdk/examples/common
dir=${1:-/tmp/sluice-bench-l3fwd}
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

if [ ! -f "$src/main.c" ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
		echo "bench-l3fwd: installing dpdk-doc (DPDK's examples, for l3fwd)" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			dpdk-doc > /dev/null 2>&1 || true
	fi
	if [ ! -f "$src/main.c" ]; then
		echo "bench-l3fwd: $src not found: install the Debian package dpdk-doc" \
		     "(apt-get install dpdk-doc) for the l3fwd comparison" >&2
		exit 3
	fi
fi
bin=$dir/l3fwd
# built already, from these sources and this script
stamp="$(cksum < "$self") $(cksum < "$src/main.c") $(pkg-config --modversion libdpdk)"
if [ -x "$bin" ] && [ "$(cat "$dir/stamp" 2> /dev/null)" = "$stamp" ]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$dir"
work=$(mktemp -d "$dir/src.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$src"/*.c "$src"/*.h "$work"/
f=$work/main.c
# each anchor must be there once: a newer l3fwd fails here, not silently
for anchor in '^	(unsigned)8192)$' 'RTE_MBUF_DEFAULT_BUF_SIZE, socketid);' \
	'^	rte_eal_mp_remote_launch(l3fwd_lkp.main_loop, NULL, CALL_MAIN);$' \
	'^		.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,$'; do
	if [ "$(grep -c -- "$anchor" "$f")" != 1 ]; then
		echo "bench-l3fwd: $src/main.c: '$anchor' not found once: cannot patch" >&2
		exit 1
	fi
done
sed -i -e '/^	(unsigned)8192)$/a\
/* sluice bench: the pool size and data room from the environment */\
static unsigned bench_env(const char *name, unsigned dflt)\
{\
	const char *v = getenv(name);\
	return v ? (unsigned)strtoul(v, NULL, 0) : dflt;\
}\
#undef NB_MBUF\
#define NB_MBUF(nports) bench_env("BENCH_MBUFS", 8192)' \
	-e 's/RTE_MBUF_DEFAULT_BUF_SIZE, socketid);/bench_env("BENCH_DATA_ROOM", RTE_MBUF_DEFAULT_BUF_SIZE), socketid);/' \
	-e 's/^		.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,$/		.offloads = 0, \/* sluice bench: virtual ports *\//' \
	-e '/^	rte_eal_mp_remote_launch(l3fwd_lkp.main_loop, NULL, CALL_MAIN);$/a\
	/* sluice bench: port 0 Rx packets per second, sampled like testpmd */\
	{\
		uint64_t last = 0, t0 = rte_get_timer_cycles(), hz = rte_get_timer_hz();\
		struct rte_eth_stats st;\
		uint16_t pid;\
\
		while (!force_quit) {\
			uint64_t t;\
\
			rte_delay_us_sleep(1000000);\
			t = rte_get_timer_cycles();\
			if (force_quit || rte_eth_stats_get(0, &st) != 0)\
				break;\
			printf("bench Rx-pps: %.0f\\n", (double)(st.ipackets - last) *\
			       (double)hz / (double)(t - t0));\
			fflush(stdout);\
			last = st.ipackets;\
			t0 = t;\
		}\
		RTE_ETH_FOREACH_DEV(pid)\
			if (rte_eth_stats_get(pid, &st) == 0)\
				printf("bench port %u: rx %" PRIu64 " tx %" PRIu64 "\\n", pid,\
				       st.ipackets, st.opackets);\
	}' "$f"
echo "bench-l3fwd: building l3fwd in $dir" >&2
# shellcheck disable=SC2046
cc -O3 -DALLOW_EXPERIMENTAL_API -I"$common" $(pkg-config --cflags libdpdk) -w \
	"$work"/main.c "$work"/l3fwd_acl.c "$work"/l3fwd_em.c "$work"/l3fwd_event.c \
	"$work"/l3fwd_event_internal_port.c "$work"/l3fwd_event_generic.c \
	"$work"/l3fwd_fib.c "$work"/l3fwd_lpm.c -o "$bin.tmp" $(pkg-config --libs libdpdk) >&2
mv "$bin.tmp" "$bin"
echo "$stamp" > "$dir/stamp"
echo "$bin"
