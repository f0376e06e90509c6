#!/bin/sh
# Check the committed fixtures: regenerate them into a temporary directory and
# compare byte for byte with pcap-fixtures/, then read them with the
# independent reader (tools/pcapcheck.py) and compare its counts (malformed
# by reason included) with manifest.json and its per-packet verdicts with
# malformed.json; demo.pcap must carry one copy of each malformed case.
# Builds nothing.  Usage: tests/test-fixtures.sh [GENERATOR]
# (default build/tools/sluice-gen-fixtures).  Exit 0 all good, 1 otherwise.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
gen=${1:-$root/build/tools/sluice-gen-fixtures}
fix=$root/pcap-fixtures
check=$root/tools/pcapcheck.py

if [ ! -x "$gen" ]; then
	echo "test-fixtures: generator '$gen' not found or not executable (build it first)"
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fixtures.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

seed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seed"])' \
	"$fix/manifest.json") || { echo "test-fixtures: cannot read $fix/manifest.json"; exit 1; }
if ! "$gen" --seed "$seed" "$tmp/gen" >"$tmp/gen.log" 2>&1; then
	echo "test-fixtures: '$gen --seed $seed' failed:"
	cat "$tmp/gen.log"
	exit 1
fi

status=0
npass=0
nfail=0
for f in demo.pcap return.pcap malformed.pcap malformed.json manifest.json; do
	if [ ! -f "$fix/$f" ]; then
		echo "test-fixtures: $fix/$f is missing"
		status=1
	elif ! cmp -s "$tmp/gen/$f" "$fix/$f"; then
		echo "test-fixtures: $f differs from the regenerated one: $(cmp "$tmp/gen/$f" "$fix/$f" 2>&1)"
		status=1
		nfail=$((nfail + 1))
	else
		echo "test-fixtures: $f identical"
		npass=$((npass + 1))
	fi
done

if python3 - "$fix" "$check" <<'EOF'; then npass=$((npass + 1)); else status=1; nfail=$((nfail + 1)); fi
import collections, json, os, subprocess, sys

fix, check = sys.argv[1], sys.argv[2]
man = json.load(open(f"{fix}/manifest.json"))
bad = 0

def fail(msg):
    global bad
    bad += 1
    print(f"test-fixtures: {msg}")

def run(*args):
    r = subprocess.run([sys.executable, check, *args], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"pcapcheck {args[0]} exited {r.returncode}: {r.stderr.strip()}")
        sys.exit(1)
    return r.stdout

svcs = next(iter(man["files"].values()))["services"]
vips = []
for s in svcs.values():
    vips += ["--vip", f"{s['proto']}/{s['vip']}/{s['port']}"]
names = list(man["files"])
summ = json.loads(run("summary", *vips, *[f"{fix}/{n}" for n in names]))
for n in names:
    want, got = man["files"][n], summ[f"{fix}/{n}"]
    for k in ("packets", "bytes", "flows"):
        if want[k] != got[k]:
            fail(f"{n}: {k}: manifest {want[k]}, pcapcheck {got[k]}")
    wm = want.get("malformed")
    if wm is None:
        fail(f"{n}: manifest has no malformed counts")
    elif wm["total"] != got["malformed"] or wm["by_reason"] != got["malformed_by_reason"]:
        fail(f"{n}: malformed: manifest {wm['total']} {wm['by_reason']}, pcapcheck "
             f"{got['malformed']} {got['malformed_by_reason']}")
    elif sum(wm["by_reason"].values()) != wm["total"]:
        fail(f"{n}: malformed: manifest by_reason does not add up to total {wm['total']}")
    if want["categories"]["arp"] != got["non_ip"]:
        fail(f"{n}: non-IP packets: manifest {want['categories']['arp']} ARP, "
             f"pcapcheck {got['non_ip']}")
    for name, s in want["services"].items():
        key = f"{s['proto']}/{s['vip']}/{s['port']}"
        g = got["services"].get(key, {"packets": 0, "bytes": 0, "flows": 0,
                                      "frag_datagrams": 0})
        for k in ("packets", "bytes", "flows", "frag_datagrams"):
            if s[k] != g[k]:
                fail(f"{n}: service {name} ({key}): {k}: manifest {s[k]}, "
                     f"pcapcheck {g[k]}")
    if not bad:
        print(f"test-fixtures: {n}: pcapcheck agrees with manifest.json "
              f"({got['packets']} packets, {got['flows']} flows, "
              f"{got['malformed']} malformed)")

mal = json.load(open(f"{fix}/malformed.json"))
lines = run("records", f"{fix}/malformed.pcap").splitlines()
if len(lines) != mal["packets"] or len(mal["cases"]) != mal["packets"]:
    fail(f"malformed.pcap: {len(lines)} records, malformed.json says "
         f"{mal['packets']} packets and lists {len(mal['cases'])} cases")
for c, line in zip(mal["cases"], lines):
    idx, length, key = line.split("\t")
    verdict = key[4:] if key.startswith("bad ") else "ok"
    if int(idx) != c["index"] or int(length) != c["len"] or verdict != c["reason"]:
        fail(f"malformed.pcap packet {c['index']} ({c['what']}): manifest "
             f"{c['reason']} len {c['len']}, pcapcheck {verdict} len {length}")
counts = {}
for c in mal["cases"]:
    counts[c["reason"]] = counts.get(c["reason"], 0) + 1
if counts.pop("ok", 0) != mal["valid"] or counts != mal["by_reason"]:
    fail("malformed.json: valid/by_reason do not add up to its cases")

# demo.pcap carries exactly one copy of each malformed case of malformed.pcap
sys.path.insert(0, os.path.dirname(check))
import pcapcheck as pc
def bad_frames(path):
    return collections.Counter(d for _, d in pc.read_pcap(path) if pc.decode(d).bad)
dm, mm = bad_frames(f"{fix}/demo.pcap"), bad_frames(f"{fix}/malformed.pcap")
if dm != mm:
    fail(f"demo.pcap: its {sum(dm.values())} malformed frames are not one copy each of "
         f"the {sum(mm.values())} malformed cases of malformed.pcap")
if man["files"]["demo.pcap"].get("malformed", {}).get("by_reason") != mal["by_reason"]:
    fail("manifest.json: demo.pcap malformed by_reason differs from malformed.json's")
elif not bad:
    print(f"test-fixtures: demo.pcap: one copy of each of the {sum(mm.values())} "
          f"malformed cases of malformed.pcap")
if not bad:
    print(f"test-fixtures: malformed.pcap: pcapcheck agrees with all "
          f"{mal['packets']} verdicts of malformed.json")
sys.exit(1 if bad else 0)
EOF

if [ "$status" -eq 0 ]; then
	echo "test-fixtures: PASS"
else
	echo "test-fixtures: FAIL"
fi
echo "$npass passed, $nfail failed"
exit "$status"
