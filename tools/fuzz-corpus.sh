#!/bin/sh
# Seed corpora for the fuzzers of tests/fuzz, generated from the fixtures
# (never committed): tools/fuzz-corpus.sh BUILD_DIR OUT_DIR
# The seeds are added to OUT_DIR/TARGET (named by their hash): what a fuzzer
# kept there from earlier runs stays.
#   parse     frames of pcap-fixtures/*.pcap (every malformed one, a sample
#             of the others)
#   capture   small captures cut from the fixtures (both precisions)
#   config    conf/*.ini
#   ini       conf/*.ini and the plans, and a few lines iniparser reads its
#             own way (continuations, quotes, comments)
#   plan      conf/plans/* and --steps/--dwell pairs
#   schedule  conf/demo.sched and one-action schedules
#   request   sluicectl command lines, and the JSON requests request.c
#             builds from them (fuzz_request writes them: SLUICE_FUZZ_EMIT)
#   decide    frames of the fixtures, each with an input port byte
#   maglev    table sizes and member lists (the demo's MACs, duplicates)
#   daemon    those JSON requests, alone and as runbook sequences (one
#             request per line: canary, rollout, promote, abort, undo ...)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
out=$2
mkdir -p "$out"
for t in parse capture config ini plan schedule request decide daemon maglev; do
	mkdir -p "$out/$t"
done

python3 - "$root" "$out" <<'PY'
import hashlib, os, struct, sys
root, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(root, "tools"))
from pcapcheck import read_records

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

def pcap(recs, nano=False, order="<"):
    b = struct.pack(order + "IHHiIII", 0xa1b23c4d if nano else 0xa1b2c3d4, 2, 4, 0, 0,
                    65535, 1)
    for ts, fr in recs:
        frac = ts % 10**9 if nano else ts % 10**9 // 1000
        b += struct.pack(order + "IIII", ts // 10**9, frac, len(fr), len(fr)) + fr
    return b

fix = os.path.join(root, "pcap-fixtures")
for name, every in (("malformed.pcap", 1), ("demo.pcap", 97), ("return.pcap", 53)):
    recs, _ = read_records(os.path.join(fix, name))
    for i, (ts, fr) in enumerate(recs):
        if i % every == 0:
            put("parse", fr)
            # decide: a header byte, then [control][len lo][len hi][frame]
            # records (tests/fuzz/fuzz_decide.c): a few packets of the
            # capture from their port (client, or blue for the answers)
            port = 1 if name == "return.pcap" else 0
            seq = recs[i:i + 6]
            put("decide", bytes([i & 7]) + b"".join(
                bytes([port | (8 if j else 0) << 3]) + struct.pack("<H", len(f)) + f
                for j, (_, f) in enumerate(seq)))
    if name == "return.pcap":
        demo, _ = read_records(os.path.join(fix, "demo.pcap"))
        for k in range(0, 64, 8):
            mix = sorted([(ts, 0, f) for ts, f in demo[k:k + 8]] +
                         [(ts, 1 + (k // 8) % 2, f) for ts, f in recs[k:k + 8]])
            put("decide", bytes([k // 8 & 7]) + b"".join(
                bytes([port | 9 << 3]) + struct.pack("<H", len(f)) + f
                for _, port, f in mix))
    for n, nano, order in ((1, False, "<"), (4, True, "<"), (8, False, ">")):
        put("capture", pcap(recs[:n], nano, order))
put("capture", pcap([]))

# maglev: [size choice][members][seed 8][MACs]
macs = b"".join(bytes([2, 0, 0, 0, 0x0c, i]) for i in range(1, 9))
for sel, n in ((12, 3), (7, 2), (9, 8), (0, 1), (1, 2), (0x80, 3)):
    put("maglev", bytes([sel, n]) + struct.pack("<Q", 0x5eed) + macs[:6 * n])
put("maglev", bytes([8, 4]) + struct.pack("<Q", 1) + macs[:6] * 4)

conf = os.path.join(root, "conf")
for f in sorted(os.listdir(conf)):
    if f.endswith(".ini"):
        put("config", open(os.path.join(conf, f), "rb").read())
        put("ini", open(os.path.join(conf, f), "rb").read())
for f in sorted(os.listdir(os.path.join(conf, "plans"))):
    put("plan", open(os.path.join(conf, "plans", f), "rb").read())
    put("ini", open(os.path.join(conf, "plans", f), "rb").read())
for t in ("[a]\nk = v\\\n  w ; c\n[b]\nk = 'q' # c\n",
          "[ A ]\nKey = \"x;y\"\n\n; c\n# d\nk2 =\nk3 = ;\n",
          "[s]\r\nk = 1\r\n[t]\nk = \\\n\n",
          "[x:y]\nz = 1\n[x]\ny:z = 2\n", "[s]\nk = a\\"):
    put("ini", t)
put("plan", open(os.path.join(conf, "guards.ini"), "rb").read())
for steps, dwell in (("1%,5%,20%,50%,100%", "60s"), ("10,50,100", "4s"),
                     ("0.5%,50bp,100%", "500ms")):
    put("plan", f"{steps}\n{dwell}\n")

cmds = ["status", "status web", "switch web green", "switch web blue --reset",
        "canary web 5%", "canary web 0.5% --sticky", "weights web green=20%",
        "weights web blue=80% green=20%", "rollout start web --steps 1,5,20,50,100 --dwell 60s",
        "rollout start web --plan " + os.path.join(conf, "plans", "rollout-example.ini"),
        "rollout status web", "rollout pause web", "rollout resume web",
        "rollout promote web --full", "promote web", "abort web --reset",
        "rollout abort web", "undo web", "history web --limit 5", "stats", "reload",
        "version", "shadow add m1 --service web --filter 'tcp dst port 443' --sample 10% "
        "--port mirror --mac 02:00:00:00:0c:01", "shadow remove m1", "shadow list"]
for c in cmds:
    put("request", c)
sched = open(os.path.join(conf, "demo.sched"), "rb").read()
put("schedule", sched)
for i, c in enumerate(cmds):
    put("schedule", f"at {i}s {c}\n")
put("schedule", "# comment only\n\nat 500ms canary web 5%   # trailing\nat 1.5s abort web\n")
PY

# the JSON requests request.c builds from the command lines
# (from the seeds above only, named by 16 hex digits: not from what the
# fuzzer kept)
# shellcheck disable=SC2046
SLUICE_FUZZ_EMIT="$out/request" "$build/tests/fuzz/fuzz_request" \
	$(find "$out/request" -maxdepth 1 -type f -name '????????????????') >/dev/null 2>&1 || true
python3 - "$out" <<'PY'
import glob, hashlib, os, sys
out = sys.argv[1]
reqs = sorted(open(f, "rb").read().strip() for f in glob.glob(os.path.join(out, "request", "json-*")))
def put(data):
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(out, "daemon", name), "wb") as f:
        f.write(data)
for r in reqs:
    put(r + b"\n")
for seq in (
    ['{"cmd":"canary","service":"web","share":"5%"}', '{"cmd":"undo","service":"web"}',
     '{"cmd":"history","limit":5}'],
    ['{"cmd":"rollout_start","service":"web","steps":[{"share":"1%","dwell":"60s"},'
     '{"share":"50%","pause":true},{"share":"100%","dwell":"1s"}]}',
     '{"cmd":"rollout_status","service":"web"}', '{"cmd":"rollout_resume","service":"web"}',
     '{"cmd":"rollout_promote","service":"web","full":true}', '{"cmd":"undo","service":"web"}'],
    ['{"cmd":"switch","service":"dns","group":"canary","mode":"reset","id":"x"}',
     '{"cmd":"weights","service":"dns","weights":{"blue":"80%","canary":"20%"},"id":2}',
     '{"cmd":"rollout_abort","service":"dns"}', '{"cmd":"stats"}', '{"cmd":"reload"}'],
    ['{"cmd":"shadow_add","name":"m","service":"web","port":"mirror","sample":"10%",'
     '"filter":"tcp dst port 443"}', '{"cmd":"shadow_list"}',
     '{"cmd":"shadow_remove","name":"m"}', '{"cmd":"version"}']):
    put("\n".join(seq).encode() + b"\n")
PY
for t in parse capture config ini plan schedule request decide daemon maglev; do
	echo "fuzz-corpus: $t: $(ls "$out/$t" | wc -l) inputs"
done
