#!/bin/sh
# Forwarding benchmark: sluice-dp against dpdk-testpmd io-forward, both on one
# worker core (-l 0-1: main lcore + one worker; testpmd --nb-cores=1), same
# input (net_pcap infinite_rx of 64-byte frames, one per flow), same mbufs.
#
# Usage: tools/bench.sh [SECONDS]        (default 10 s per run)
# Environment: BUILD (default build), BENCH_FLOWS (default "1000 65536 1000000"),
#              BENCH_PERF=1 also profiles each sluice-dp run (perf record) and
#              prints where the worker lcore spends its time,
#              BENCH_ATTACHED=0 skips the attached runs.
#
# Every flow count runs sluice-dp twice: on the tables of its INI file, and
# attached to an instance whose pinned maps sluice-bench-publish filled from
# the same INI file (needs root: bpffs).  Both must forward alike: reading the
# mapped tables costs nothing per packet.
#
# testpmd is measured with --stats-period 1: the median of port 0's per-second
# Rx-pps samples, the first two (start-up) left out.  sluice-dp is measured by
# its own --stats "pps": packets received / (TSC of the last burst - TSC of
# the first), which excludes start-up and shutdown.
set -eu
cd "$(dirname "$0")/.."

secs=${1:-10}
build=${BUILD:-build}
dp=$build/dataplane/sluice-dp
gen=$build/tools/sluice-gen-fixtures
pub=$build/tools/sluice-bench-publish
attached=${BENCH_ATTACHED:-1}
instance=bench-$$
flows_list=${BENCH_FLOWS:-"1000 65536 1000000"}

case $secs in
'' | *[!0-9]*) echo "bench: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;;
esac
for f in "$dp" "$gen" $([ "$attached" = 1 ] && echo "$pub"); do
	if [ ! -x "$f" ]; then
		echo "bench: $f not found: build first (meson setup $build && ninja -C $build)" >&2
		exit 2
	fi
done
testpmd=$(command -v dpdk-testpmd || true)
if [ -z "$testpmd" ]; then
	echo "bench: dpdk-testpmd not found (Debian package dpdk)" >&2
	exit 2
fi

tmp=$(mktemp -d /tmp/sluice-bench.XXXXXX)
cleanup() {
	if [ "$attached" = 1 ] && [ -f "$tmp/bench-pub.ini" ]; then
		"$pub" -c "$tmp/bench-pub.ini" --instance "$instance" --unpin > /dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Hugepages: 2048 x 2 MB; otherwise both programs run with --no-huge.
huge=""
./tools/hugepages.sh 2048
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [ "${free:-0}" -ge 1024 ] && grep -q " hugetlbfs " /proc/mounts; then
	echo "bench: ${free} free 2 MB hugepages"
else
	huge="--no-huge -m 3072"
	echo "bench: fewer than 1024 free hugepages (${free:-0}) or no hugetlbfs:" \
	     "running both with --no-huge -m 3072"
fi

# Median of the numbers on stdin.
median() {
	sort -n | awk '{v[NR] = $1} END {if (NR == 0) print 0; else print v[int((NR + 1) / 2)]}'
}

# Port 0's Rx-pps samples of a testpmd --stats-period log.
testpmd_pps() {
	awk '/NIC statistics for port/ {for (i = 1; i < NF; i++) if ($i == "port") port = $(i + 1)}
	     /Rx-pps:/ && port == 0 {n++; if (n > 2) print $2}' "$1" | median
}

json() { # FILE PYTHON-EXPRESSION-ON-d
	python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"
}

printf '\n%9s %12s %12s %7s %13s %9s %14s %14s %12s\n' flows "testpmd Mpps" "sluice Mpps" \
	ratio "attached Mpps" "att/INI" "ft B/capacity" "ft B/active" "active flows"
summary=$tmp/summary
: > "$summary"
for flows in $flows_list; do
	pcap=$tmp/bench-$flows.pcap
	"$gen" --bench "$flows" "$pcap" > /dev/null
	# infinite_rx keeps every frame of the file in the pool, plus the rings.
	mbufs=$((flows + 32768))
	cap=$((flows + flows / 10 + 1))

	"$testpmd" -l 0-1 --no-pci --in-memory $huge --log-level='*:warning' \
		--vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null0,no-rx=1 -- \
		--nb-cores=1 --forward-mode=io --stats-period=1 \
		--total-num-mbufs=$mbufs --mbuf-size=384 \
		> "$tmp/testpmd-$flows.log" 2>&1 < /dev/null &
	pid=$!
	sleep "$secs"
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid" || true
	tp=$(testpmd_pps "$tmp/testpmd-$flows.log")
	if [ "$tp" = 0 ]; then
		echo "bench: testpmd gave no Rx-pps samples for $flows flows; its log:" >&2
		tail -20 "$tmp/testpmd-$flows.log" >&2
		exit 1
	fi

	cat > "$tmp/bench-$flows.ini" <<EOF
[dataplane]
eal_args = -l 0-1 --no-pci --in-memory $huge --log-level=*:warning
hash_seed = 0x5eed
flow_capacity = $cap
mbufs = $mbufs
mbuf_size = 256

[port client]
role = client
devargs = net_pcap0,rx_pcap=$pcap,infinite_rx=1

[port blue]
role = backend
devargs = net_null1,no-rx=1

[port green]
role = backend
devargs = net_null2,no-rx=1

[group blue]
port = blue
mode = port

[group green]
port = green
mode = port

[service web]
proto = tcp
vip = 192.0.2.10
ports = 443
champion = blue
challenger = green
share = 5%
EOF
	stats=$tmp/sluice-$flows.json
	set -- "$dp" -c "$tmp/bench-$flows.ini" --duration "$secs" --stats "$stats"
	if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf > /dev/null; then
		set -- perf record -q -o "$tmp/perf-$flows.data" -- "$@"
	fi
	if ! "$@" > "$tmp/sluice-$flows.log" 2>&1; then
		echo "bench: sluice-dp failed for $flows flows; its output:" >&2
		tail -20 "$tmp/sluice-$flows.log" >&2
		exit 1
	fi
	ap=0
	if [ "$attached" = 1 ]; then
		# the same tables, published into pinned maps; sluice-dp reads them there
		cp "$tmp/bench-$flows.ini" "$tmp/bench-pub.ini"
		if ! "$pub" -c "$tmp/bench-$flows.ini" --instance "$instance" \
			> "$tmp/pub-$flows.log" 2>&1; then
			echo "bench: sluice-bench-publish failed (root and bpffs needed;" \
			     "BENCH_ATTACHED=0 skips the attached runs):" >&2
			cat "$tmp/pub-$flows.log" >&2
			exit 1
		fi
		astats=$tmp/attached-$flows.json
		if ! "$dp" -c "$tmp/bench-$flows.ini" --instance "$instance" --duration "$secs" \
			--stats "$astats" > "$tmp/attached-$flows.log" 2>&1; then
			echo "bench: attached sluice-dp failed for $flows flows; its output:" >&2
			tail -20 "$tmp/attached-$flows.log" >&2
			exit 1
		fi
		ap=$(json "$astats" 'd["pps"]')
	fi
	sp=$(json "$stats" 'd["pps"]')
	active=$(json "$stats" 'sum(g["active"] for g in d["services"]["web"]["groups"].values())')
	bytes=$(json "$stats" 'd["flow_table"]["bytes"]')
	capa=$(json "$stats" 'd["flow_table"]["capacity"]')
	drops=$(json "$stats" 'sum(p["drops"] + p["rx_missed"] for p in d["ports"].values())')
	awk -v f="$flows" -v tp="$tp" -v sp="$sp" -v ap="$ap" -v b="$bytes" -v c="$capa" \
	    -v a="$active" -v d="$drops" 'BEGIN {
		printf "%9d %12.2f %12.2f %7.2f %13s %9s %14.1f %14.1f %12d%s\n", f, tp / 1e6,
		       sp / 1e6, sp / tp, (ap ? sprintf("%.2f", ap / 1e6) : "-"),
		       (ap ? sprintf("%.3f", ap / sp) : "-"), b / c, (a ? b / a : 0), a,
		       (d ? sprintf("  (%d dropped)", d) : "")
	}' | tee -a "$summary"
	if [ -f "$tmp/perf-$flows.data" ]; then
		# the worker lcore's thread is rte-worker-1 with -l 0-1
		perf report -i "$tmp/perf-$flows.data" --comm rte-worker-1 --no-children \
			--sort dso,symbol --stdio 2> /dev/null |
			grep '%' | grep -v '^#' | head -12 | sed 's/^/    /'
	fi
done
echo
echo "Mpps = million 64-byte frames per second received and forwarded by one worker core."
echo "attached = the same run with the tables read from the pinned maps of an instance" \
     "(sluice-dp --instance); att/INI = attached Mpps / sluice Mpps."
echo "ft B/capacity = flow table bytes per flow it can hold;" \
     "ft B/active = per flow tracked at the end."
