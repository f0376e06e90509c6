#!/bin/sh
# Forwarding benchmark: sluice-dp against its peers, each on one forwarding
# core (-l 0-1: main lcore + one forwarding lcore), same input (net_pcap
# infinite_rx of 64-byte TCP frames, one per flow, into net_null no-rx=1),
# the same mbuf count and data room (256 B) everywhere:
#   testpmd-io      dpdk-testpmd --forward-mode=io (the PMDs alone)
#   testpmd-5tswap  dpdk-testpmd --forward-mode=5tswap (parses and rewrites
#                   L2-L4 headers, no lookup)
#   l3fwd-em        DPDK's l3fwd -E: one exact-match rule per flow of the
#                   capture (rte_hash, --rule_ipv4), 95 % of the rules to
#                   port 1 and 5 % to port 2 like sluice's 5 % canary;
#                   built from the dpdk-doc examples by tools/bench-l3fwd.sh
#                   into a temporary directory
#   sluice-dp       on the tables of its INI file
#   attached        sluice-dp attached to an instance whose pinned maps
#                   sluice-bench-publish filled from the same INI file
#                   (needs root: bpffs); reading the mapped tables must cost
#                   nothing per packet
# Every flow count runs the programs in turn, ROUNDS times (interleaved, so
# that the machine's load changes hit them all alike), and prints median,
# min and max Mpps per program and the ratio sluice-dp / l3fwd-em.
#
# Usage: tools/bench.sh [SECONDS]        (default 10 s per run)
# Environment: BUILD (default build), BENCH_FLOWS (default "1000 65536 1000000"),
#              BENCH_ROUNDS (default 3),
#              BENCH_PROGS (default "testpmd-io testpmd-5tswap l3fwd-em sluice-dp
#              attached"): the programs, in the order of a round,
#              BENCH_PERF=1 also profiles the first round's l3fwd-em and
#              sluice-dp runs (perf record) and prints where the forwarding
#              lcore spends its time,
#              BENCH_ATTACHED=0 skips the attached runs,
#              BENCH_L3FWD_DIR (default /tmp/sluice-bench-l3fwd): l3fwd's build,
#              BENCH_NOHUGE=1 runs without hugepages even when there are some.
#
# testpmd and l3fwd are measured each second: the median of port 0's Rx-pps
# samples, the first two (start-up) left out.  sluice-dp is measured by its
# own --stats "pps": packets received / (TSC of the last burst - TSC of the
# first), which excludes start-up and shutdown.
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
rounds=${BENCH_ROUNDS:-3}
progs=${BENCH_PROGS:-"testpmd-io testpmd-5tswap l3fwd-em sluice-dp attached"}
room=256

case $secs in
'' | *[!0-9]*) echo "bench: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;;
esac
case $rounds in
'' | *[!0-9]* | 0) echo "bench: BENCH_ROUNDS must be a whole number > 0" >&2; exit 2 ;;
esac
if [ "$secs" -lt 4 ]; then
	echo "bench: runs of at least 4 s (the first two 1-second samples are start-up)" >&2
	exit 2
fi
[ "$attached" = 1 ] || progs=$(echo "$progs" | sed 's/attached//')
has() { case " $progs " in *" $1 "*) return 0 ;; esac; return 1; }
for f in "$dp" "$gen" $(has attached && echo "$pub"); do
	if [ ! -x "$f" ]; then
		echo "bench: $f not found: build first (meson setup $build && ninja -C $build)" >&2
		exit 2
	fi
done
testpmd=$(command -v dpdk-testpmd || true)
if [ -z "$testpmd" ] && { has testpmd-io || has testpmd-5tswap; }; then
	echo "bench: dpdk-testpmd not found (Debian package dpdk)" >&2
	exit 2
fi
l3fwd=
if has l3fwd-em; then
	if ! l3fwd=$(./tools/bench-l3fwd.sh "${BENCH_L3FWD_DIR:-/tmp/sluice-bench-l3fwd}"); then
		echo "bench: no l3fwd (its message is above): l3fwd-em left out" >&2
		progs=$(echo "$progs" | sed 's/l3fwd-em//')
		l3fwd=
	fi
fi
if command -v ovs-vswitchd > /dev/null &&
	dpkg-query -W -f='${Status}' openvswitch-switch-dpdk 2> /dev/null | grep -q 'ok installed'; then
	echo "bench: openvswitch-switch-dpdk is installed, but the OVS-DPDK run is not written yet"
else
	echo "bench: OVS-DPDK skipped (package openvswitch-switch-dpdk not installed)"
fi

tmp=$(mktemp -d /tmp/sluice-bench.XXXXXX)
cleanup() {
	if [ -f "$tmp/bench-pub.ini" ]; then
		"$pub" -c "$tmp/bench-pub.ini" --instance "$instance" --unpin > /dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Hugepages: 2048 x 2 MB; otherwise every program runs with --no-huge (the
# pools are sized explicitly, so that works too).
# --in-memory needs hugepages: without, no shared files and a prefix of
# the bench's own (BENCH_NOHUGE=1 forces this, to try it).
mem="--in-memory"
./tools/hugepages.sh 2048
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [ "${BENCH_NOHUGE:-0}" != 1 ] && [ "${free:-0}" -ge 1024 ] &&
	grep -q " hugetlbfs " /proc/mounts; then
	echo "bench: ${free} free 2 MB hugepages"
else
	mem="--no-huge -m 3072 --no-shconf --file-prefix=sluice-bench-$$"
	echo "bench: fewer than 1024 free hugepages (${free:-0}), no hugetlbfs or" \
	     "BENCH_NOHUGE=1: running every program with --no-huge -m 3072"
fi
eal="-l 0-1 --no-pci $mem --log-level=*:warning"

# Median of the numbers on stdin.
median() {
	sort -n | awk '{v[NR] = $1} END {if (NR == 0) print 0; else print v[int((NR + 1) / 2)]}'
}

# Port 0's Rx-pps samples of a testpmd --stats-period log.
testpmd_pps() {
	awk '/NIC statistics for port/ {for (i = 1; i < NF; i++) if ($i == "port") port = $(i + 1)}
	     /Rx-pps:/ && port == 0 {n++; if (n > 2) print $2}' "$1" | median
}

# The patched l3fwd's samples (tools/bench-l3fwd.sh).
l3fwd_pps() {
	awk '/^bench Rx-pps:/ {n++; if (n > 2) print $3}' "$1" | median
}

json() { # FILE PYTHON-EXPRESSION-ON-d
	python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"
}

# One exact-match rule per frame of a --bench capture (l3fwd's EM format:
# R<dst> <src> <dst port> <src port> <proto> <out port>); every 20th rule
# to port 2, the others to port 1.
l3fwd_rules() { # PCAP OUT
	python3 - "$1" "$2" <<'PY'
import socket, struct, sys
data = open(sys.argv[1], "rb").read()
off, n, out = 24, 0, []
while off < len(data):
    cl = struct.unpack_from("<I", data, off + 8)[0]
    p = data[off + 16:off + 16 + cl]
    off += 16 + cl
    l4 = 14 + (p[14] & 15) * 4
    sport, dport = struct.unpack_from(">HH", p, l4)
    out.append("R%s %s %d %d 0x%02x %d\n" % (socket.inet_ntoa(p[30:34]),
               socket.inet_ntoa(p[26:30]), dport, sport, p[23], 2 if n % 20 == 0 else 1))
    n += 1
open(sys.argv[2], "w").write("".join(out))
PY
}

# A program that stops on SIGINT, run for $secs seconds after it printed
# MARKER (its first rate sample: loading a million flows takes a while, and
# longer on a loaded machine); OUT gets its output.
timed() { # OUT MARKER CMD...
	out=$1 marker=$2
	shift 2
	"$@" > "$out" 2>&1 < /dev/null &
	pid=$!
	waited=0
	while ! grep -q "$marker" "$out" && kill -0 "$pid" 2> /dev/null &&
		[ "$waited" -lt 600 ]; do
		sleep 0.5
		waited=$((waited + 1))
	done
	sleep "$secs"
	kill -INT "$pid" 2> /dev/null || true
	wait "$pid" || true
}

fail() { # WHAT LOG
	echo "bench: $1; its output:" >&2
	tail -20 "$2" >&2
	exit 1
}

# perf record of the forwarding lcore (thread rte-worker-1 with -l 0-1):
# the first round of l3fwd-em and sluice-dp when BENCH_PERF=1.
perf_wrap() { # NAME FLOWS ROUND -> sets perf_data
	perf_data=
	if [ "${BENCH_PERF:-0}" = 1 ] && [ "$3" = 1 ] && command -v perf > /dev/null; then
		perf_data=$tmp/perf-$1-$2.data
	fi
}

run_prog() { # PROG FLOWS ROUND -> prints pps
	prog=$1 flows=$2 round=$3
	pcap=$tmp/bench-$flows.pcap
	log=$tmp/$prog-$flows-$round.log
	perf_wrap "$prog" "$flows" "$round"
	case $prog in
	testpmd-io | testpmd-5tswap)
		# shellcheck disable=SC2086
		timed "$log" Rx-pps: "$testpmd" $eal \
			--vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null0,no-rx=1 -- \
			--nb-cores=1 --forward-mode="${prog#testpmd-}" --stats-period=1 \
			--total-num-mbufs="$mbufs" --mbuf-size=$room
		pps=$(testpmd_pps "$log")
		;;
	l3fwd-em)
		# l3fwd opens a TX queue per lcore on every port: net_pcap gets two
		# (to /dev/null; every frame matches a rule, none goes there)
		# shellcheck disable=SC2086
		set -- env BENCH_MBUFS="$mbufs" BENCH_DATA_ROOM=$room "$l3fwd" $eal \
			--vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1,tx_pcap=/dev/null,tx_pcap=/dev/null" \
			--vdev net_null1,no-rx=1 --vdev net_null2,no-rx=1 -- \
			-E -p 0x7 --parse-ptype --config='(0,0,1),(1,0,1),(2,0,1)' \
			--rule_ipv4="$tmp/rules-$flows.cfg" \
			--rule_ipv6=/usr/share/dpdk/examples/l3fwd/em_default_v6.cfg
		[ -z "$perf_data" ] || set -- perf record -q -o "$perf_data" -- "$@"
		timed "$log" "bench Rx-pps:" "$@"
		pps=$(l3fwd_pps "$log")
		grep -q '^bench port 0: .* tx 0$' "$log" ||
			fail "l3fwd sent frames back to port 0 (a rule missed)" "$log"
		;;
	sluice-dp)
		set -- "$dp" -c "$tmp/bench-$flows.ini" --duration "$secs" \
			--stats "$tmp/sluice-$flows-$round.json"
		[ -z "$perf_data" ] || set -- perf record -q -o "$perf_data" -- "$@"
		"$@" > "$log" 2>&1 || fail "sluice-dp failed for $flows flows" "$log"
		pps=$(json "$tmp/sluice-$flows-$round.json" 'd["pps"]')
		;;
	attached)
		# the same tables, published into pinned maps; sluice-dp reads them there
		cp "$tmp/bench-$flows.ini" "$tmp/bench-pub.ini"
		"$pub" -c "$tmp/bench-$flows.ini" --instance "$instance" > "$tmp/pub.log" 2>&1 ||
			fail "sluice-bench-publish failed (root and bpffs needed;" \
			     "BENCH_ATTACHED=0 skips the attached runs)" "$tmp/pub.log"
		"$dp" -c "$tmp/bench-$flows.ini" --instance "$instance" --duration "$secs" \
			--stats "$tmp/attached-$flows-$round.json" > "$log" 2>&1 ||
			fail "attached sluice-dp failed for $flows flows" "$log"
		pps=$(json "$tmp/attached-$flows-$round.json" 'd["pps"]')
		;;
	esac
	case $pps in
	0 | '') fail "$prog gave no rate for $flows flows" "$log" ;;
	esac
	echo "$pps"
}

perf_top() { # DATA
	perf report -i "$1" --comm rte-worker-1 --no-children --sort dso,symbol --stdio \
		2> /dev/null | grep '%' | grep -v '^#' | head -12 | sed 's/^/    /'
}

summary=$tmp/summary
: > "$summary"
for flows in $flows_list; do
	pcap=$tmp/bench-$flows.pcap
	"$gen" --bench "$flows" "$pcap" > /dev/null
	[ -z "$l3fwd" ] || l3fwd_rules "$pcap" "$tmp/rules-$flows.cfg"
	# infinite_rx keeps every frame of the file in the pool, plus the rings.
	mbufs=$((flows + 32768))
	cap=$((flows + flows / 10 + 1))
	cat > "$tmp/bench-$flows.ini" <<INI
[dataplane]
eal_args = $eal
hash_seed = 0x5eed
flow_capacity = $cap
mbufs = $mbufs
mbuf_size = $room

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
INI
	r=1
	while [ "$r" -le "$rounds" ]; do
		for prog in $progs; do
			pps=$(run_prog "$prog" "$flows" "$r")
			echo "$flows $prog $r $pps" >> "$tmp/results"
			printf 'bench: %7d flows, round %d, %-15s %6.2f Mpps\n' "$flows" "$r" "$prog" \
				"$(echo "$pps" | awk '{print $1 / 1e6}')"
		done
		r=$((r + 1))
	done
	stats=$tmp/sluice-$flows-1.json
	if [ -f "$stats" ]; then
		active=$(json "$stats" 'sum(g["active"] for g in d["services"]["web"]["groups"].values())')
		bytes=$(json "$stats" 'd["flow_table"]["bytes"]')
		capa=$(json "$stats" 'd["flow_table"]["capacity"]')
		drops=$(json "$stats" 'sum(p["drops"] + p["rx_missed"] for p in d["ports"].values())')
		awk -v f="$flows" -v b="$bytes" -v c="$capa" -v a="$active" -v d="$drops" 'BEGIN {
			printf "%9d flow table: %.1f B per flow of capacity, %.1f B per tracked flow" \
			       " (%d tracked)%s\n", f, b / c, (a ? b / a : 0), a,
			       (d ? sprintf(", %d dropped", d) : "")}' >> "$tmp/ft"
	fi
	for prog in l3fwd-em sluice-dp; do
		if [ -f "$tmp/perf-$prog-$flows.data" ]; then
			echo "bench: $prog, $flows flows, forwarding lcore (perf record, round 1):"
			perf_top "$tmp/perf-$prog-$flows.data"
		fi
	done
done

tsc_mhz=$(awk '/^cpu MHz/ {print $4; exit}' /proc/cpuinfo)
echo
printf '%9s %-15s %8s %8s %8s %10s %s\n' flows program median min max cycles/pkt \
	"(Mpps over $rounds rounds of ${secs} s)"
awk -v mhz="${tsc_mhz:-0}" '
	{ k = $1 " " $2; v[k] = v[k] " " $4; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
	  r[$1 " " $2 " " $3] = $4 }
	END {
		for (i = 1; i <= n; i++) {
			split(order[i], kk, " "); m = split(substr(v[order[i]], 2), a, " ")
			for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++)
				if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
			med = a[int((m + 1) / 2)]
			printf "%9d %-15s %8.2f %8.2f %8.2f %10.0f\n", kk[1], kk[2], med / 1e6,
			       a[1] / 1e6, a[m] / 1e6, mhz * 1e6 / med
			medv[order[i]] = med
		}
		print ""
		for (i = 1; i <= n; i++) {
			split(order[i], kk, " ")
			if (kk[2] != "sluice-dp" || !((kk[1] " l3fwd-em") in medv)) continue
			lo = 1e9; hi = 0
			for (j = 1; (kk[1] " sluice-dp " j) in r; j++) {
				q = r[kk[1] " sluice-dp " j] / r[kk[1] " l3fwd-em " j]
				if (q < lo) lo = q; if (q > hi) hi = q
			}
			printf "%9d sluice-dp / l3fwd-em: %.3f (ratio of medians; per round %.3f..%.3f)\n",
			       kk[1], medv[order[i]] / medv[kk[1] " l3fwd-em"], lo, hi
		}
	}' "$tmp/results"
[ ! -f "$tmp/ft" ] || { echo; cat "$tmp/ft"; }
echo
echo "Mpps = million 64-byte frames per second received and forwarded by one forwarding core;"
echo "cycles/pkt = TSC cycles (${tsc_mhz:-?} MHz) per packet at the median."
echo "attached = sluice-dp with the tables read from the pinned maps of an instance."
echo "Flow table: bytes of sluice-dp's table per flow it can hold and per flow tracked."
