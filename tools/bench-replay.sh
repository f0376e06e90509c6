#!/bin/sh
# sluice-replay benchmark: packets per second of one replay (one core) over
# captures made by sluice-gen-fixtures --bench (60-byte TCP segments to
# 192.0.2.10:443, one per flow):
#   - FLOWS flows seen again and again: the --bench capture of FLOWS flows
#     repeated (timestamps moved on) up to PACKETS packets, like sluice-dp's
#     bench that loops over its capture (established flows);
#   - PACKETS flows once each: every packet starts a flow (the worst case).
# The rate is the replay's own: packets / time of the packet loop (reading,
# deciding, writing the output pcaps), set-up and the summary aside.  The
# captures and the outputs live on a tmpfs (BENCH_OUT, default /dev/shm:
# about 1 GB for 4 M packets) so that the disk, and the write-back of the
# captures just made, are not what is measured.  Each case runs 5 times;
# the median and the best are printed (virtual machines are noisy).
#
# Usage: tools/bench-replay.sh [PACKETS]     (default 4000000)
# Environment: BUILD (default build), BENCH_FLOWS (default 65536), BENCH_OUT.
set -eu
cd "$(dirname "$0")/.."

packets=${1:-4000000}
build=${BUILD:-build}
flows=${BENCH_FLOWS:-65536}
replay=$build/tools/sluice-replay
gen=$build/tools/sluice-gen-fixtures

case $packets in
'' | *[!0-9]*) echo "bench-replay: PACKETS must be a whole number, not '$packets'" >&2; exit 2 ;;
esac
for f in "$replay" "$gen"; do
	if [ ! -x "$f" ]; then
		echo "bench-replay: $f not found: build first (meson setup $build && ninja -C $build)" >&2
		exit 2
	fi
done
tmp=$(mktemp -d "${BENCH_OUT:-/dev/shm}/sluice-bench-replay.XXXXXX")
out=$tmp/out
mkdir "$out"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

config() { # CAPACITY
	cat <<EOF
[dataplane]
hash_seed = 0x5eed
flow_capacity = $1

[port client]
role = client
devargs = net_null0

[port blue]
role = backend
devargs = net_null1

[port green]
role = backend
devargs = net_null2

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
}

# The --bench capture of FLOWS flows, repeated up to PACKETS packets; each
# repetition starts 1 us after the previous one ended.
repeat() { # IN PACKETS OUT
	python3 - "$@" <<'EOF'
import struct, sys
src, total, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(src, "rb").read()
recs, off = [], 24
while off < len(data):
    s, u, cl, _ = struct.unpack_from("<IIII", data, off)
    recs.append((s * 1000000 + u, data[off + 8:off + 16 + cl]))
    off += 16 + cl
span = recs[-1][0] - recs[0][0] + 1
with open(dst, "wb") as o:
    o.write(data[:24])
    n, r = 0, 0
    while n < total:
        part = recs[:total - n]
        o.write(b"".join(struct.pack("<II", (t + r * span) // 1000000, (t + r * span) % 1000000)
                         + rest for t, rest in part))
        n += len(part)
        r += 1
EOF
}

# A failed run stops the bench: a median over the runs that worked would
# not say that one failed.
run() { # NAME CONFIG CAPTURE
	for i in 1 2 3 4 5; do
		rc=0
		"$replay" -c "$2" -r "$3" -o "$out" --json > "$tmp/run.json" || rc=$?
		if [ "$rc" -ne 0 ]; then
			echo "bench-replay: $1: run $i of 5 of $replay failed (exit $rc;" \
			     "its message is above): no result" >&2
			exit 1
		fi
		python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["run"]["pps"])' \
			< "$tmp/run.json"
	done > "$tmp/pps"
	sort -n "$tmp/pps" | awk -v n="$1" -v p="$packets" '{v[NR] = $1} END {
		printf "%-34s %10d %8.2f Mpps %8.2f Mpps\n", n, p, v[int((NR + 1) / 2)] / 1e6,
		       v[NR] / 1e6}'
}

echo "bench-replay: making the captures ($packets packets)..."
"$gen" --bench "$flows" "$tmp/flows.pcap" > /dev/null
repeat "$tmp/flows.pcap" "$packets" "$tmp/repeated.pcap"
"$gen" --bench "$packets" "$tmp/new.pcap" > /dev/null
config $((flows + flows / 4)) > "$tmp/repeated.ini"
config $((packets + packets / 4)) > "$tmp/new.ini"

printf '\n%-34s %10s %13s %13s\n' "capture" packets "median" "best"
run "$flows flows, seen again and again" "$tmp/repeated.ini" "$tmp/repeated.pcap"
run "every packet a new flow" "$tmp/new.ini" "$tmp/new.pcap"
echo
echo "Mpps = million packets per second through sluice-replay on one core: read from the"
echo "capture (through one reused window), decided by the dataplane's code, written to the output pcaps."
