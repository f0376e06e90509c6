#!/usr/bin/env python3
"""Integration tests of sluice-replay (build/tools/sluice-replay).

The input is the bundled fixtures merged into one client-side capture
(pcap-fixtures/demo.pcap and the servers' answers, return.pcap, by time).
Every count of the report is recomputed from the output pcaps with
tools/pcapcheck.py (a packet reader independent of the C parser) and a
small model of the decision rules written here: which port each packet
arrives on and leaves by, which packets start a flow, which flows a
--reset moves, which are alive at the end of each slice.

Prints PASS/FAIL per test and a final "N passed, N failed" line.

Usage: tests/replay.py [--build DIR] [--keep] [TEST...]
"""

import collections
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import pcapcheck as pc  # noqa: E402
from pcapcheck import read_records, tcp_dst_443  # noqa: E402
from harness import ROUTER_MAC, check, restore_dmac  # noqa: E402
import harness  # noqa: E402

FIX = os.path.join(ROOT, "pcap-fixtures")
DEMO = os.path.join(FIX, "demo.pcap")
RETURN = os.path.join(FIX, "return.pcap")
DEMO_INI = os.path.join(ROOT, "conf", "demo.ini")
SERVICES = [  # conf/demo.ini, in file order: (name, family, proto, vip, port)
    ("web", 4, 6, pc.parse_vip("tcp/192.0.2.10/443")[2], 443),
    ("web6", 6, 6, pc.parse_vip("tcp/2001:db8::10/443")[2], 443),
    ("dns", 4, 17, pc.parse_vip("udp/192.0.2.53/53")[2], 53),
]
# conf/demo.ini leaves the timeouts at their defaults (ms)
TIMEOUTS = {"syn": 30000, "est": 900000, "fin": 120000, "closed": 10000, "other": 300000}

BUILD = os.path.join(ROOT, "build")
WORK = None  # per-run directory with the merged input


# ---- pcap files (records with their timestamps: pcapcheck.read_records) ----

def write_pcap(path, records, nano=False, linktype=1, snaplen=65535, lens=None, order="<"):
    """records: [(ts_ns, frame)]; lens: original lengths (default: whole);
    order: "<" little-endian, ">" big-endian."""
    with open(path, "wb") as f:
        f.write(struct.pack(order + "IHHiIII", 0xa1b23c4d if nano else 0xa1b2c3d4, 2, 4, 0,
                            0, snaplen, linktype))
        for i, (ts, frame) in enumerate(records):
            frac = ts % 1000000000 if nano else ts % 1000000000 // 1000
            ln = lens[i] if lens else len(frame)
            f.write(struct.pack(order + "IIII", ts // 1000000000, frac, len(frame), ln) +
                    frame)


def merged_input():
    """demo.pcap and return.pcap by time (ties: demo first), once per run."""
    path = os.path.join(WORK, "both.pcap")
    if not os.path.exists(path):
        a, _ = read_records(DEMO)
        b, _ = read_records(RETURN)
        recs = sorted([(ts, 0, i, fr) for i, (ts, fr) in enumerate(a)] +
                      [(ts, 1, i, fr) for i, (ts, fr) in enumerate(b)])
        write_pcap(path, [(ts, fr) for ts, _, _, fr in recs])
    return path


# ---- running the tool ----

def run_replay(args, timeout=300):
    cmd = [os.path.join(BUILD, "tools", "sluice-replay")] + list(args)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def replay_ok(out, schedule=None, config=DEMO_INI, inp=None, extra=()):
    args = ["-c", config, "-r", inp or merged_input(), "-o", out] + list(extra)
    if schedule:
        args += ["--schedule", schedule]
    rc, so, se = run_replay(args)
    check(rc == 0, f"sluice-replay exited {rc}:\n{se[-3000:]}")
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    check(rep["complete"] is True, "report not marked complete")
    return rep, so, se


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# ---- the model: what each packet must do ----

LAST_L4 = [None]
_decode_l4 = pc.decode_l4


def _l4_spy(b, o, end, p):
    LAST_L4[0] = o
    return _decode_l4(b, o, end, p)


pc.decode_l4 = _l4_spy


def decode(frame):
    """pcapcheck's decode, plus the TCP flags (0 when not TCP)."""
    LAST_L4[0] = None
    p = pc.decode(frame)
    flags = 0
    if (not p.bad and p.proto == 6 and not p.icmp_err and not p.frag and
            LAST_L4[0] is not None):
        flags = frame[LAST_L4[0] + 13]
    return p, flags


def service_of(family, proto, addr, port, frag):
    for i, (_, fam, pr, vip, vport) in enumerate(SERVICES):
        if fam == family and pr == proto and addr.ljust(16, b"\0") == vip and \
                (frag or port == vport):
            return i
    return -1


TCP, SYN, EST, FINC, FINS, RST = 1, 2, 4, 8, 16, 32


def tcp_next(st, fl, client):
    if fl & 0x04:
        st |= RST
    if fl & 0x01:
        st |= FINC if client else FINS
    if not fl & 0x02 or fl & 0x10:
        st |= EST
    return st


def closed(st):
    return bool(st & RST) or st & (FINC | FINS) == (FINC | FINS)


def timeout(st):
    if not st & TCP:
        return TIMEOUTS["other"]
    if closed(st):
        return TIMEOUTS["closed"]
    if st & (FINC | FINS):
        return TIMEOUTS["fin"]
    if st & EST:
        return TIMEOUTS["est"]
    return TIMEOUTS["syn"]


class Flow:
    __slots__ = ("svc", "group", "st", "last", "gen")

    def __init__(self, svc, group, st, last, gen):
        self.svc, self.group, self.st, self.last, self.gen = svc, group, st, last, gen


def model(inp, out, rep, resets=None):
    """Replays the decision rules over the input, taking each client
    packet's group from the output pcaps, and checks every output frame
    and every count of the report.  resets: {service name: reset_gen} from
    the --reset actions, with the generation they took effect."""
    resets = resets or {}
    recs, _ = read_records(inp)
    names = [s[0] for s in SERVICES]
    outs = {p: collections.Counter((ts, restore_dmac(fr)) for ts, fr in
                                   read_records(os.path.join(out, f"{p}.pcap"))[0])
            for p in ("client", "blue", "green")}
    slices = rep["slices"]
    check(slices[0]["first_packet"] == 1, "the first slice starts at packet 1")
    for a, b in zip(slices, slices[1:]):
        check(b["first_packet"] == a["first_packet"] + a["packets"],
              f"slice {b['index']} does not follow slice {a['index']}")
    check(sum(s["packets"] for s in slices) == len(recs), "slices do not cover the input")
    starts = [s["first_packet"] - 1 for s in slices]
    reset_at = {}  # service -> reset_gen, once its slice starts
    flows = {}
    zero = {"packets": 0, "bytes": 0, "new_flows": 0, "return_packets": 0}
    cnt = [{n: {"blue": dict(zero), "green": dict(zero), "changed": 0, "broken": 0}
            for n in names} for _ in slices]
    port_in = collections.Counter()
    champion = [{n: "blue" for n in names}]
    first = recs[0][0] if recs else 0
    clock = first
    k = -1
    active_at = []

    def actives(now):
        a = {n: {"blue": 0, "green": 0} for n in names}
        for f in flows.values():
            if now - f.last <= timeout(f.st):
                a[names[f.svc]][f.group] += 1
        return a

    for i, (ts, frame) in enumerate(recs):
        clock = max(clock, ts)
        now = (clock - first) // 1000000
        if k + 1 < len(slices) and i == starts[k + 1]:
            if k >= 0:
                active_at.append(actives(now))
            k += 1
            for n, g in resets.items():
                if slices[k]["gen"] >= g:
                    reset_at[n] = g
        c = cnt[k]
        gen = slices[k]["gen"]
        p, fl = decode(frame)
        key = None if p.bad or not p.family else p.key()
        rs = -1
        if key and p.proto in (6, 17):
            a, pt = (p.dst, p.dport) if p.icmp_err else (p.src, p.sport)
            rs = service_of(p.family, p.proto, a, pt, bool(p.frag))
        if p.bad:
            port_in["client"] += 1
            continue
        if rs >= 0:
            # return traffic: in on its flow's group port, out on the client port
            n = names[rs]
            f = flows.get(key)
            if f and now - f.last > timeout(f.st):
                f = None
            g = f.group if f else slices[k]["services"][n]["champion"]
            port_in[g] += 1
            c[n][g]["return_packets"] += 1
            if f:
                f.last = now
                if p.proto == 6 and not p.icmp_err and not p.frag and f.st & TCP:
                    f.st = tcp_next(f.st, fl, False)
            check(outs["client"][(ts, frame)] > 0,
                  f"return packet {i + 1} is not on the client port")
            outs["client"][(ts, frame)] -= 1
            continue
        port_in["client"] += 1
        cs = -1
        if key and p.proto in (6, 17):
            a, pt = (p.src, p.sport) if p.icmp_err else (p.dst, p.dport)
            cs = service_of(p.family, p.proto, a, pt, bool(p.frag))
        if cs < 0:
            # matches no service: flooded to every backend port
            for g in ("blue", "green"):
                check(outs[g][(ts, frame)] > 0, f"packet {i + 1} (other) is not on {g}")
                outs[g][(ts, frame)] -= 1
            continue
        n = names[cs]
        g = "blue" if outs["blue"][(ts, frame)] > 0 else "green"
        check(outs[g][(ts, frame)] > 0, f"packet {i + 1} ({n}) is on no group port")
        outs[g][(ts, frame)] -= 1
        c[n][g]["packets"] += 1
        c[n][g]["bytes"] += len(frame)
        if p.icmp_err:
            f = flows.get(key)
            if f and now - f.last <= timeout(f.st):
                check(f.group == g, f"packet {i + 1}: an ICMP error left its flow's group")
            continue
        is_tcp = p.proto == 6 and not p.frag
        f = flows.get(key)
        live = f is not None and now - f.last <= timeout(f.st)
        syn = is_tcp and fl & 0x12 == 0x02
        if live and f.gen >= reset_at.get(n, 0) and not (syn and closed(f.st)):
            check(f.group == g, f"packet {i + 1}: flow {pc.key_text(key)} went to {g}, "
                  f"decided {f.group}")
            f.last = now
            if is_tcp:
                f.st = tcp_next(f.st, fl, True)
            continue
        if live and f.gen < reset_at.get(n, 0) and not (f.st & TCP and closed(f.st)) and \
                f.group != g:
            c[n]["changed"] += 1
            if f.st & TCP and f.st & EST:
                c[n]["broken"] += 1
        st = tcp_next(TCP | (SYN if fl & 0x02 else 0), fl, True) if is_tcp else 0
        flows[key] = Flow(cs, g, st, now, gen)
        c[n][g]["new_flows"] += 1
    active_at.append(actives((clock - first) // 1000000))

    for p in outs:
        left = sum(v for v in outs[p].values() if v > 0)
        check(left == 0, f"{p}.pcap: {left} frames the model does not explain")
    for p in ("client", "blue", "green"):
        check(rep["ports"][p]["in"] == port_in[p],
              f"port {p}: report says {rep['ports'][p]['in']} in, model {port_in[p]}")
    for k, s in enumerate(slices):
        for n in names:
            rs = s["services"][n]
            for g in ("blue", "green"):
                got = rs["groups"][g]
                for field in ("packets", "bytes", "new_flows", "return_packets"):
                    check(got[field] == cnt[k][n][g][field],
                          f"slice {k} {n} {g}: {field} {got[field]} in the report, "
                          f"{cnt[k][n][g][field]} recomputed")
                check(got["active_flows"] == active_at[k][n][g],
                      f"slice {k} {n} {g}: active_flows {got['active_flows']} in the "
                      f"report, {active_at[k][n][g]} recomputed")
            for field, mk in (("changed_group", "changed"), ("reset_broken", "broken")):
                check(rs[field] == cnt[k][n][mk], f"slice {k} {n}: {field} {rs[field]} in "
                      f"the report, {cnt[k][n][mk]} recomputed")
            ch, cl = rs["champion"], rs["challenger"]
            fc, fl_ = cnt[k][n][cl]["new_flows"], cnt[k][n][ch]["new_flows"]
            want = None if fc + fl_ == 0 else (fc * 10000 + (fc + fl_) // 2) // (fc + fl_)
            check(rs["measured_share_bp"] == want, f"slice {k} {n}: measured share "
                  f"{rs['measured_share_bp']}, recomputed {want}")
    return cnt


# ---- tests ----

TESTS, test = harness.registry()


@test
def demo_without_schedule(tmp):
    """The fixtures with conf/demo.ini: every frame where the rules send it,
    every count of the report recomputed from the output pcaps."""
    out = os.path.join(tmp, "out")
    rep, so, _ = replay_ok(out)
    check(len(rep["slices"]) == 1 and rep["actions"] == [], "slices or actions without a "
          "schedule")
    check(rep["input"]["packets"] == len(read_records(merged_input())[0]), "packet count")
    cnt = model(merged_input(), out, rep)
    web = cnt[0]["web"]
    check(web["blue"]["new_flows"] > 1000 and web["green"]["new_flows"] > 50,
          "too few flows to check anything")
    for p, st in rep["ports"].items():
        n = len(read_records(os.path.join(out, f"{p}.pcap"))[0])
        check(st["out"] == n, f"port {p}: out {st['out']}, its pcap holds {n}")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "pcapcheck.py"), "split",
                        "--vip", "tcp/192.0.2.10/443", "--vip", "tcp/2001:db8::10/443",
                        "--vip", "udp/192.0.2.53/53", os.path.join(out, "blue.pcap"),
                        os.path.join(out, "green.pcap")], stdout=subprocess.PIPE, text=True)
    check(r.returncode == 0, f"a flow on both groups: {r.stdout[-500:]}")
    check(sum(rep["malformed"].values()) == rep["drops"]["malformed"] > 0,
          "malformed packets not counted")
    for line in ("web: tcp 192.0.2.10 port 443", "web6: tcp 2001:db8::10 port 443",
                 "flows that changed group: 0", "(configuration)", "M packets/s"):
        check(line in so, f"summary without '{line}':\n{so}")
    with open(os.path.join(out, "journal.jsonl")) as f:
        j = [json.loads(x) for x in f]
    check(len(j) == 1 and j[0]["cmd"] == "init" and j[0]["gen"] == 1, f"journal: {j}")


REHEARSAL = """# canary, a percentage rollout, then a broken challenger
at 3s canary web 10%
at 6s rollout start web --steps 20,50,100 --dwell 4s
at 13s abort web --reset
at 18s canary dns 50%
at 22s switch dns green
at 1h undo dns   # after the capture: not reached
"""


GUARD_SCHED = """\
at 2s rollout start web --steps 5%,20%,100% --dwell 4s --guard web-checkout
at 3s evidence push web --group blue --signal checkout-errors --total 95000 --bad 1710
at 4s evidence push web --group green --signal checkout-errors --total 5000 --bad 230
"""


@test
def rehearsal_guard_abort(tmp):
    """A guard in a rehearsal: pushed counts in the schedule (the seed's 1.8 %
    vs 4.6 %) make the guard abort at packet time; the report and the summary
    name the guard's action, and no new flow reaches green after it."""
    sched = write(os.path.join(tmp, "guard.sched"), GUARD_SCHED)
    out = os.path.join(tmp, "out")
    rep, so, _ = replay_ok(out, sched, config=os.path.join(ROOT, "conf", "guards.ini"))
    by = [(a["by"], a.get("line"), a["status"]) for a in rep["actions"]]
    want = [("schedule", 1, "changed"), ("schedule", 2, "changed"),
            ("schedule", 3, "changed"), ("guard", None, "changed")]
    check(by == want, f"actions {by}, expected {want}")
    g = rep["actions"][3]
    check(g["reason"].startswith("guard web-checkout: challenger 4.60 % vs champion 1.80 % "
                                 "on 5000 / 95000 flows: failed"), f"reason {g['reason']}")
    check(g["applied_ms"] == rep["actions"][2]["applied_ms"], "the abort is not at the push")
    last = rep["slices"][-1]
    check(last["services"]["web"]["configured_share_bp"] == 0 and
          last["services"]["web"]["groups"]["green"]["new_flows"] == 0 and
          last["actions"] == [2, 3], f"last slice {last['services']['web']} {last['actions']}")
    with open(os.path.join(out, "journal.jsonl")) as f:
        j = [json.loads(x) for x in f]
    check([e["cmd"] for e in j] == ["init", "rollout_start", "evidence_push", "evidence_push",
                                    "rollout_abort"] and
          j[4]["actor"] == "guard web-checkout" and j[4]["guard"]["challenger"]["bad"] == 230,
          f"journal {[(e['cmd'], e['actor']) for e in j]}")
    check("1 guard action" in so and "guard web-checkout: challenger 4.60 %" in so,
          f"summary:\n{so}")


RST_GUARD = """
[guard web-resets]
service = web
signal = rst
min_flows = 20
alpha = 1%
on_fail = abort
on_inconclusive = hold
"""


def tcp_frame(src_port, to_server, flags, seq, ack, payload=b""):
    """An Ethernet/IPv4/TCP frame of a web flow (client 198.51.100.7)."""
    ip = bytearray(20)
    ip[0], ip[8], ip[9] = 0x45, 64, 6
    struct.pack_into(">H", ip, 2, 40 + len(payload))
    client, server = bytes([198, 51, 100, 7]), bytes([192, 0, 2, 10])
    ip[12:16], ip[16:20] = (client, server) if to_server else (server, client)
    tcp = bytearray(20)
    ports = (src_port, 443) if to_server else (443, src_port)
    struct.pack_into(">HHII", tcp, 0, ports[0], ports[1], seq, ack)
    tcp[12], tcp[13] = 0x50, flags
    struct.pack_into(">H", tcp, 14, 65535)
    macs = (ROUTER_MAC + bytes.fromhex("020000000101") if to_server else
            bytes.fromhex("020000000101") + ROUTER_MAC)
    return macs + b"\x08\x00" + bytes(ip) + bytes(tcp) + payload


def web_flows(n, reset=frozenset()):
    """n TCP flows to web, one every 100 ms from t0 (ports 20000..): handshake,
    a request, then the server's answer and a clean close, or the server's
    RST for the ports in reset.  Returns [(ts_ns, frame)]."""
    t0, ms = 1700000000 * 10**9, 10**6
    recs = []
    for i in range(n):
        p, t = 20000 + i, t0 + i * 100 * ms
        SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04
        recs += [(t, tcp_frame(p, True, SYN, 1000, 0)),
                 (t + 1 * ms, tcp_frame(p, False, SYN | ACK, 5000, 1001)),
                 (t + 2 * ms, tcp_frame(p, True, ACK, 1001, 5001)),
                 (t + 3 * ms, tcp_frame(p, True, PSH | ACK, 1001, 5001, b"GET / HTTP/1.0\r\n"))]
        if p in reset:
            recs.append((t + 5 * ms, tcp_frame(p, False, RST | ACK, 5001, 1017)))
        else:
            recs += [(t + 5 * ms, tcp_frame(p, False, PSH | ACK, 5001, 1017, b"HTTP/1.0 200")),
                     (t + 6 * ms, tcp_frame(p, True, FIN | ACK, 1017, 5013)),
                     (t + 7 * ms, tcp_frame(p, False, FIN | ACK, 5013, 1018)),
                     (t + 8 * ms, tcp_frame(p, True, ACK, 1018, 5014))]
    return sorted(recs, key=lambda r: r[0])


def log_evalue(na, xa, nb, xb):
    """control/sequential.h's statistic at margin 0, recomputed: Jeffreys
    mixture over the binomial likelihood maximised under p_b <= p_a."""
    from math import lgamma, log, pi

    def lbeta(a, b):
        return lgamma(a) + lgamma(b) - lgamma(a + b)

    def ll(x, n, p):
        return (x * log(p) if x else 0.0) + ((n - x) * log(1 - p) if n - x else 0.0)
    num = lbeta(xa + .5, na - xa + .5) + lbeta(xb + .5, nb - xb + .5) - 2 * log(pi)
    if nb == 0 or na == 0 or xb / nb <= xa / na:
        den = ll(xa, na, xa / na if na else 0) + ll(xb, nb, xb / nb if nb else 0)
    else:
        p = (xa + xb) / (na + nb)
        den = ll(xa, na, p) + ll(xb, nb, p)
    return num - den


@test
def guard_on_green_resets(tmp):
    """A capture whose green flows get RSTs from the server: the rst guard
    fails and aborts the rehearsed rollout; its counts (flows and resets of
    each group in the step's window) and its statistic are recomputed from
    the output pcaps and the input; the same capture without the RSTs lets
    the rollout run."""
    conf = write(os.path.join(tmp, "guard.ini"), open(DEMO_INI).read() + RST_GUARD)
    sched = write(os.path.join(tmp, "s.sched"),
                  "at 500ms rollout start web --steps 20%,50% --dwell 60s\n")
    n = 400
    healthy = os.path.join(tmp, "healthy.pcap")
    write_pcap(healthy, web_flows(n))
    out1 = os.path.join(tmp, "out1")
    rep1, so1, _ = replay_ok(out1, sched, config=conf, inp=healthy)
    check([a["by"] for a in rep1["actions"]] == ["schedule"] and "0 guard actions" in so1,
          f"healthy capture: actions {rep1['actions']}")
    model(healthy, out1, rep1)

    def green_ports(out):
        return {int.from_bytes(fr[34:36], "big") for _, fr in
                read_records(os.path.join(out, "green.pcap"))[0] if fr[47] == 0x02}
    green = sorted(green_ports(out1))
    check(len(green) > 40, f"only {len(green)} green flows")
    bad = frozenset(p for i, p in enumerate(green) if i % 5 < 2)  # 40 % of green's
    inp = os.path.join(tmp, "resets.pcap")
    recs = web_flows(n, bad)
    write_pcap(inp, recs)
    out = os.path.join(tmp, "out2")
    rep, so, _ = replay_ok(out, sched, config=conf, inp=inp)
    model(inp, out, rep)
    # the same decisions up to the abort (then every new flow is blue's)
    check(green_ports(out) <= set(green), "the RSTs changed which flows went to green")
    acts = rep["actions"]
    check([a["by"] for a in acts] == ["schedule", "guard"] and
          acts[1]["reason"].startswith("guard web-resets: challenger ") and
          "failed (log E " in acts[1]["reason"] and "1 guard action" in so,
          f"actions {acts}")
    # the slice the guard ended: green gets no new flow after it
    last = rep["slices"][-1]
    check(last["actions"] == [1] and last["services"]["web"]["configured_share_bp"] == 0 and
          last["services"]["web"]["groups"]["green"]["new_flows"] == 0, f"last slice {last}")
    # the verdict per slice: none before the rollout, failed at the end of the
    # slice whose evidence made it fail (the one the abort ends)
    verdicts = [[x["verdict"] for x in sl["services"]["web"].get("guards", [])]
                for sl in rep["slices"]]
    check(verdicts[0] == [] and verdicts[-2] == ["failed"] and
          all(v == ["collecting"] or v == ["passing"] for v in verdicts[1:-2]),
          f"verdicts per slice {verdicts}")
    check(f"guard at the end of slice {len(verdicts) - 1}: web-resets: challenger " in so,
          f"summary:\n{so}")
    with open(os.path.join(out, "journal.jsonl")) as f:
        abort = [json.loads(x) for x in f][-1]
    check(abort["actor"] == "guard web-resets", f"last entry {abort}")
    g = abort["guard"]
    # the window: packets from the rollout's start up to the guard's look
    lo, hi = acts[0]["packet"] - 1, acts[1]["packet"] - 1
    flows = {"blue": 0, "green": 0}
    resets = {"blue": 0, "green": 0}
    for ts, fr in recs[lo:hi]:
        port = int.from_bytes(fr[34:36] if fr[30:34] == bytes([192, 0, 2, 10]) else
                              fr[36:38], "big")
        grp = "green" if port in green else "blue"
        if fr[47] == 0x02:
            flows[grp] += 1
        if fr[47] & 0x04:
            resets[grp] += 1
    want = {"champion": (flows["blue"], resets["blue"]),
            "challenger": (flows["green"], resets["green"])}
    got = {r: (g[r]["flows"], g[r]["bad"]) for r in ("champion", "challenger")}
    check(got == want, f"guard counts {got}, recomputed from the capture {want}")
    stat = log_evalue(flows["blue"], resets["blue"], flows["green"], resets["green"])
    check(abs(stat - g["statistic"]) < 1e-6 and stat >= g["threshold"],
          f"statistic {g['statistic']}, recomputed {stat}, threshold {g['threshold']}")


@test
def rehearsal_canary_rollout_abort(tmp):
    """canary -> rollout (a step taken by the daemon's timer at packet
    time) -> abort --reset: the slices, configured and measured shares,
    flows moved and connections broken match the output pcaps."""
    sched = write(os.path.join(tmp, "plan.sched"), REHEARSAL)
    out = os.path.join(tmp, "out")
    rep, so, _ = replay_ok(out, sched)
    acts = rep["actions"]
    by = [(a["by"], a.get("line"), a["status"], a.get("gen")) for a in acts]
    want = [("schedule", 2, "changed", 2), ("schedule", 3, "changed", 3),
            ("plan", None, "changed", 4), ("schedule", 4, "changed", 5),
            ("schedule", 5, "changed", 6), ("schedule", 6, "changed", 7),
            ("schedule", 7, "not_reached", None)]
    check(by == want, f"actions {by}, expected {want}")
    with open(os.path.join(out, "journal.jsonl")) as f:
        j = [json.loads(x) for x in f]
    check(acts[2]["reason"] == j[3]["reason"] and "rollout step 2/3: 50.00%" in j[3]["reason"],
          f"plan step reason: {acts[2]['reason']}, journal {j[3]['reason']}")
    # the step comes one dwell after the start, at packet time
    check(acts[2]["applied_ms"] - acts[1]["applied_ms"] in range(4000, 4050),
          f"step at {acts[2]['applied_ms']} ms, rollout started at {acts[1]['applied_ms']}")
    shares = [(s["gen"], s["services"]["web"]["configured_share_bp"],
               s["services"]["dns"]["configured_share_bp"],
               s["services"]["dns"]["champion"]) for s in rep["slices"]]
    check(shares == [(1, 500, 500, "blue"), (2, 1000, 500, "blue"), (3, 2000, 500, "blue"),
                     (4, 5000, 500, "blue"), (5, 0, 500, "blue"), (6, 0, 5000, "blue"),
                     (7, 0, 0, "green")], f"slices: {shares}")
    for s, a in zip(rep["slices"][1:], ([0], [1], [2], [3], [4], [5])):
        check(s["actions"] == a, f"slice {s['index']} actions {s['actions']}, expected {a}")
    cnt = model(merged_input(), out, rep, resets={"web": 5})
    moved = sum(c["web"]["changed"] for c in cnt)
    check(moved > 0 and rep["services"]["web"]["changed_group"] == moved,
          f"--reset moved {moved} flows, report says {rep['services']['web']['changed_group']}")
    check(sum(c["web"]["broken"] for c in cnt) > 0, "no established connection was broken")
    check(rep["services"]["dns"]["changed_group"] == 0, "sticky changes moved dns flows")
    for n in ("web6",):
        check(all(s["services"][n]["configured_share_bp"] == 500 for s in rep["slices"]),
              f"{n} was changed")
    check([(e["gen"], e["cmd"]) for e in j] ==
          [(1, "init"), (2, "canary"), (3, "rollout_start"), (4, "rollout_step"),
           (5, "rollout_abort"), (6, "canary"), (7, "switch")],
          f"journal: {[(e['gen'], e['cmd']) for e in j]}")
    check(j[1]["actor"] == f"schedule {sched}:2" and j[3]["actor"] == "plan",
          f"actors {j[1]['actor']}, {j[3]['actor']}")
    check(j[4]["after"]["mode"] == "reset" and j[4]["reset_gen"] == 5, "abort not --reset")
    check(j[1]["time"] == "2026-01-01T00:00:03.001Z", f"journal time {j[1]['time']} is not "
          "the packet time of the action")
    check("not reached" in so and "1 rollout step by the plan" in so, f"summary:\n{so}")


@test
def two_runs_identical(tmp):
    """Same input, configuration and schedule: the same bytes in every
    output pcap (timestamps included: they are the input's), the same
    journal and the same report but for the run's own timing."""
    sched = write(os.path.join(tmp, "plan.sched"), REHEARSAL)
    reps = []
    for name in ("a", "b"):
        rep, _, _ = replay_ok(os.path.join(tmp, name), sched)
        reps.append(rep)
    for f in sorted(os.listdir(os.path.join(tmp, "a"))):
        if f == "report.json":
            continue
        with open(os.path.join(tmp, "a", f), "rb") as x, \
                open(os.path.join(tmp, "b", f), "rb") as y:
            check(x.read() == y.read(), f"{f} differs between two runs")
    for rep in reps:
        rep.pop("run")
        rep.pop("outdir")
    check(reps[0] == reps[1], "the reports differ")


@test
def timestamps_preserved(tmp):
    """Every output frame carries its input timestamp, per port in input
    order; a capture with ns timestamps gives ns outputs, exactly."""
    out = os.path.join(tmp, "out")
    replay_ok(out)
    inp, _ = read_records(merged_input())
    seen = collections.Counter(inp)
    for p in ("client", "blue", "green"):
        recs, nano = read_records(os.path.join(out, f"{p}.pcap"))
        check(not nano, f"{p}.pcap: ns timestamps from a us capture")
        for ts, fr in recs:
            check(seen[(ts, restore_dmac(fr))] > 0, f"{p}.pcap: a frame at {ts} ns that is "
                  "not in the input with that timestamp")
        check(all(a[0] <= b[0] for a, b in zip(recs, recs[1:])),
              f"{p}.pcap: timestamps go back")
    # ns precision: shift each packet by a few ns
    ns_in = os.path.join(tmp, "ns.pcap")
    recs = [(ts + i % 997, fr) for i, (ts, fr) in enumerate(inp[:3000])]
    write_pcap(ns_in, recs, nano=True)
    out2 = os.path.join(tmp, "out2")
    replay_ok(out2, inp=ns_in)
    have = collections.Counter(recs)
    for p in ("client", "blue", "green"):
        got, nano = read_records(os.path.join(out2, f"{p}.pcap"))
        check(nano, f"{p}.pcap: us timestamps from an ns capture")
        for ts, fr in got:
            check(have[(ts, restore_dmac(fr))] > 0, f"{p}.pcap: ns timestamp {ts} changed")
    # a big-endian capture (written on another machine) replays the same
    be_in = os.path.join(tmp, "be.pcap")
    write_pcap(be_in, recs, nano=True, order=">")
    out3 = os.path.join(tmp, "out3")
    replay_ok(out3, inp=be_in)
    for p in ("client", "blue", "green"):
        a, _ = read_records(os.path.join(out2, f"{p}.pcap"))
        b, _ = read_records(os.path.join(out3, f"{p}.pcap"))
        check(a == b and a, f"{p}.pcap: a big-endian capture replays otherwise "
              f"({len(b)} records, {len(a)} from the little-endian one)")


@test
def json_and_quiet(tmp):
    """--json prints report.json on stdout; --quiet prints nothing."""
    out = os.path.join(tmp, "out")
    rep, so, _ = replay_ok(out, extra=["--json"])
    check(json.loads(so) == rep, "--json output differs from report.json")
    rc, so, se = run_replay(["-c", DEMO_INI, "-r", merged_input(), "-o", out, "--quiet"])
    check(rc == 0 and so == "" and se == "", f"--quiet printed: {so[:200]} {se[:200]}")


def bad_input(tmp, data_or_records, *frags, rc_want=2, **kw):
    """A bad capture: exit rc_want, every fragment in the message, and no
    report.json (an earlier one is removed)."""
    path = os.path.join(tmp, "bad.pcap")
    if isinstance(data_or_records, bytes):
        with open(path, "wb") as f:
            f.write(data_or_records)
    else:
        write_pcap(path, data_or_records, **kw)
    out = os.path.join(tmp, "out")
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "report.json"), '{"complete": true}')
    rc, so, se = run_replay(["-c", DEMO_INI, "-r", path, "-o", out])
    check(rc == rc_want, f"exit {rc}, expected {rc_want}: {se}")
    for fr in frags:
        check(fr.replace("PATH", path) in se, f"message without '{fr}': {se}")
    check(not os.path.exists(os.path.join(out, "report.json")),
          "a report.json is left after a failed run")
    return se


def syn_frame(size, sport):
    """A TCP SYN of size bytes to the demo's web service, from port sport."""
    ip_len = size - 14
    ip = bytearray(20)
    ip[0], ip[8], ip[9] = 0x45, 64, 6
    struct.pack_into(">H", ip, 2, ip_len)
    ip[12:16] = bytes([198, 51, 100, 7])
    ip[16:20] = bytes([192, 0, 2, 10])
    tcp = bytearray(20)
    struct.pack_into(">HH", tcp, 0, sport, 443)
    tcp[12], tcp[13] = 0x50, 0x02
    body = bytes((sport + i) & 0xff for i in range(ip_len - 40))
    return (ROUTER_MAC + bytes.fromhex("020000000101") + b"\x08\x00" + bytes(ip) +
            bytes(tcp) + body)


@test
def jumbo_frame_forwarded(tmp):
    """A 2 100-byte frame fits sluice-dp's default mbuf (2 176 bytes of data
    room) and is forwarded whole, as sluice-dp forwards it: the replay sizes
    its mbufs the same way."""
    frame = syn_frame(2100, 40000)
    path = os.path.join(tmp, "jumbo.pcap")
    write_pcap(path, [(1700000000 * 10**9, frame)])
    out = os.path.join(tmp, "out")
    rep, _, _ = replay_ok(out, inp=path)
    check(sum(rep["malformed"].values()) == 0, f"malformed: {rep['malformed']}")
    sent = [fr for p in ("blue", "green")
            for _, fr in pc.read_records(os.path.join(out, f"{p}.pcap"))[0]]
    check([restore_dmac(fr) for fr in sent] == [frame],
          f"{len(sent)} frames out ({[len(fr) for fr in sent]} bytes), expected the input")


@test
def records_across_read_windows(tmp):
    """A capture several times the window it is read through (772 KiB),
    frames of 60 to 2 100 bytes so that records straddle each window's end:
    every frame comes out whole, in its order, and the counts add up."""
    frames = [syn_frame(60 + (i * 397) % 2041, 20000 + i) for i in range(3000)]
    path = os.path.join(tmp, "windows.pcap")
    write_pcap(path, [(1700000000 * 10**9 + i * 1000, fr) for i, fr in enumerate(frames)])
    check(os.path.getsize(path) > 3 * 772 * 1024, f"{os.path.getsize(path)} bytes")
    out = os.path.join(tmp, "out")
    rep, _, _ = replay_ok(out, inp=path)
    check(rep["input"]["packets"] == len(frames), f"packets {rep['input']['packets']}")
    check(sum(rep["malformed"].values()) == 0, f"malformed: {rep['malformed']}")
    order = {fr: i for i, fr in enumerate(frames)}
    seen = 0
    for port in ("blue", "green"):
        sent = [restore_dmac(fr) for _, fr in pc.read_records(os.path.join(out, f"{port}.pcap"))[0]]
        idx = [order.get(fr, -1) for fr in sent]
        check(-1 not in idx, f"{port}: a frame that is not one of the input's")
        check(idx == sorted(idx), f"{port}: frames out of their order")
        seen += len(idx)
    check(seen == len(frames), f"{seen} frames out of {len(frames)}")


@test
def bad_captures(tmp):
    """Not a pcap, empty, pcapng, a cut header, a cut record, another link
    type, a snaplen cut: a clear error naming the file (and the packet and
    its byte offset), exit 2, no report."""
    recs, _ = read_records(DEMO)
    recs = recs[:50]
    bad_input(tmp, b"this is not a capture\n", "PATH: not a pcap capture (magic number "
              "74686973")
    bad_input(tmp, b"", "PATH: empty file")
    bad_input(tmp, bytes.fromhex("0a0d0d0a") + bytes(40), "PATH: a pcapng capture",
              "editcap -F pcap")
    bad_input(tmp, bytes.fromhex("d4c3b2a1") + bytes(10), "PATH: the pcap file header is "
              "cut: 14 of its 24 bytes")
    # the last record cut in its data: packet 50, its offset
    write_pcap(os.path.join(tmp, "whole.pcap"), recs)
    with open(os.path.join(tmp, "whole.pcap"), "rb") as f:
        whole = f.read()
    off = 24 + sum(16 + len(fr) for _, fr in recs[:49])
    bad_input(tmp, whole[:-10], f"PATH: packet 50 at byte offset {off}:", "truncated")
    bad_input(tmp, whole[:off + 9], f"PATH: packet 50 at byte offset {off}:", "truncated")
    # a record claiming more than any pcap record holds: damaged, not read
    damaged = bytearray(whole)
    struct.pack_into("<II", damaged, off + 8, 300000, 300000)
    bad_input(tmp, bytes(damaged), f"PATH: packet 50 at byte offset {off}:",
              "a captured length of 300000 bytes", "at most 262144")
    se = bad_input(tmp, recs, "PATH: link type 113 (LINUX_SLL", "Ethernet captures only",
                   linktype=113)
    lens = [len(fr) for _, fr in recs]
    lens[7] += 100
    off = 24 + sum(16 + len(fr) for _, fr in recs[:7])
    bad_input(tmp, recs, f"PATH: packet 8 at byte offset {off}: only {len(recs[7][1])} of "
              f"its {lens[7]} bytes were captured", "needs whole packets", lens=lens)
    check("sluice-replay:" in se, "messages are not prefixed")


@test
def fraction_out_of_range(tmp):
    """A record whose fraction of a second is a second or more (us >= 10^6
    in a microsecond capture, ns >= 10^9 in a nanosecond one, either byte
    order) would carry the clock into the next seconds: refused, naming the
    packet and its byte offset; the largest valid fraction is replayed."""
    recs, _ = read_records(DEMO)
    recs = recs[:30]
    off = 24 + sum(16 + len(fr) for _, fr in recs[:11])
    for nano, order, frac in ((False, "<", 1000000), (False, ">", 0xffffffff),
                              (True, "<", 1000000000), (True, ">", 0xffffffff)):
        path = os.path.join(tmp, "whole.pcap")
        write_pcap(path, recs, nano=nano, order=order)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        struct.pack_into(order + "I", data, off + 4, frac)
        unit = "ns" if nano else "us"
        bad_input(tmp, bytes(data), f"PATH: packet 12 at byte offset {off}:",
                  f"{frac} {unit}", "out of range")
    # the largest fraction of each precision is a valid timestamp
    for nano, frac in ((False, 999999), (True, 999999999)):
        path = os.path.join(tmp, "edge.pcap")
        write_pcap(path, recs, nano=nano)
        with open(path, "r+b") as f:
            f.seek(off + 4)
            f.write(struct.pack("<I", frac))
        rep, _, _ = replay_ok(os.path.join(tmp, f"out-{nano}"), inp=path)
        check(rep["input"]["packets"] == len(recs), f"packets: {rep['input']['packets']}")


@test
def empty_capture(tmp):
    """A capture with a header and no packet: a complete report of nothing
    and an empty pcap per port."""
    path = os.path.join(tmp, "empty.pcap")
    write_pcap(path, [])
    out = os.path.join(tmp, "out")
    rep, _, _ = replay_ok(out, inp=path)
    check(rep["input"]["packets"] == 0 and rep["slices"][0]["packets"] == 0, "packets")
    for p in ("client", "blue", "green"):
        check(os.path.getsize(os.path.join(out, f"{p}.pcap")) == 24, f"{p}.pcap not empty")


@test
def out_of_order_timestamps(tmp):
    """A packet earlier than the one before it is replayed at the clock
    reached (which never goes back) and counted; its output keeps its own
    timestamp."""
    recs, _ = read_records(merged_input())
    recs = recs[:2000]
    recs[1000] = (recs[1000][0] - 5000000000, recs[1000][1])
    path = os.path.join(tmp, "ooo.pcap")
    write_pcap(path, recs)
    out = os.path.join(tmp, "out")
    rep, _, _ = replay_ok(out, inp=path)
    check(rep["input"]["out_of_order"] == 1, f"out_of_order {rep['input']['out_of_order']}")
    got = collections.Counter()
    for p in ("client", "blue", "green"):
        got.update(ts for ts, _ in read_records(os.path.join(out, f"{p}.pcap"))[0])
    check(got[recs[1000][0]] >= 1, "the early packet lost its timestamp")


@test
def schedule_errors(tmp):
    """A schedule that does not parse, or names an unknown service or
    group: exit 2, the file and line named, nothing replayed (OUTDIR not
    even created)."""
    cases = [
        ("at 1s canary web 5%\nat 2s canary web 120%\n", ":2: share: '120%'"),
        ("at 1s canary web 5%\n\n# x\nbogus\n", ":4: expected 'at TIME COMMAND ...'"),
        ("at 5s canary web 5%\nat 2s canary web 10%\n", ":2: at 2s comes before"),
        ("at 2 canary web 5%\n", ":1: TIME '2' has no unit"),
        ("at 1s status\n", ":1: 'status' changes nothing"),
        ("at 1s canary webx 5%\n", ":1: canary webx 5%: unknown service 'webx'"),
        ("at 1s switch web purple\n", ":1: switch web purple: group 'purple' is not one of "
         "service web's groups"),
    ]
    for i, (text, frag) in enumerate(cases):
        sched = write(os.path.join(tmp, f"s{i}.sched"), text)
        out = os.path.join(tmp, f"out{i}")
        rc, _, se = run_replay(["-c", DEMO_INI, "-r", merged_input(), "-o", out,
                                "--schedule", sched])
        check(rc == 2, f"case {i}: exit {rc}: {se}")
        check(f"{sched}{frag}" in se, f"case {i}: message without '{sched}{frag}': {se}")
        check("nothing was replayed" in se, f"case {i}: {se}")
        check(not os.path.exists(out), f"case {i}: OUTDIR was created")
    rc, _, se = run_replay(["-c", DEMO_INI, "-r", merged_input(), "-o",
                            os.path.join(tmp, "o"), "--schedule",
                            os.path.join(tmp, "nope.sched")])
    check(rc == 2 and "nope.sched: cannot open the schedule" in se, f"missing file: {se}")


@test
def outdir_not_writable(tmp):
    """OUTDIR that cannot be a directory: exit 2, named."""
    f = write(os.path.join(tmp, "file"), "x")
    for out in (f, os.path.join(f, "sub")):
        rc, _, se = run_replay(["-c", DEMO_INI, "-r", merged_input(), "-o", out])
        check(rc == 2 and f"OUTDIR {out}:" in se, f"{out}: exit {rc}: {se}")


@test
def refused_action(tmp):
    """An action the daemon refuses stops the replay (exit 3, the line and
    the daemon's message, no report), or is reported with --keep-going."""
    sched = write(os.path.join(tmp, "plan.sched"),
                  "at 2s canary web 10%\nat 4s rollout promote web\nat 6s canary web 20%\n")
    out = os.path.join(tmp, "out")
    rc, _, se = run_replay(["-c", DEMO_INI, "-r", merged_input(), "-o", out, "--schedule",
                            sched])
    check(rc == 3, f"exit {rc}, expected 3: {se}")
    check(f"{sched}:2: rollout promote web: refused by the daemon at 4.0" in se and
          "bad_state" in se, f"message: {se}")
    check(not os.path.exists(os.path.join(out, "report.json")), "report written")
    rep, _, se = replay_ok(out, sched, extra=["--keep-going"])
    st = [(a["line"], a["status"]) for a in rep["actions"]]
    check(st == [(1, "changed"), (2, "refused"), (3, "changed")], f"actions {st}")
    check(rep["actions"][1]["error"]["code"] == "bad_state", "error code")
    with open(os.path.join(out, "journal.jsonl")) as f:
        cmds = [json.loads(x)["cmd"] for x in f]
    check(cmds == ["init", "canary", "canary"], f"journal {cmds}")


MIRROR = """
[port mirror]
role = shadow
devargs = net_null3

[shadow web443]
service = web
sample = 30%
port = mirror
filter = tcp dst port 443
"""


def web_client(frame):
    """A client packet of service web (what its shadow rules look at)."""
    p, _ = decode(frame)
    return (not p.bad and p.family == 4 and not p.icmp_err and
            service_of(p.family, p.proto, p.dst, p.dport, bool(p.frag)) == 0)


@test
def shadow_rules(tmp):
    """A [shadow] rule in the replay: every packet of a selected, sampled
    flow is on the shadow port and on its group port; no other packet is
    on the shadow port; flows mirrored and coverage match the pcaps."""
    with open(DEMO_INI) as f:
        cfg = write(os.path.join(tmp, "shadow.ini"), f.read() + MIRROR)
    out = os.path.join(tmp, "out")
    rep, so, _ = replay_ok(out, config=cfg)
    mirror, _ = read_records(os.path.join(out, "mirror.pcap"))
    web = collections.defaultdict(list)
    for ts, fr in read_records(merged_input())[0]:
        if web_client(fr) and tcp_dst_443(fr):
            web[decode(fr)[0].key()].append((ts, fr))
    on = collections.defaultdict(list)
    for ts, fr in mirror:
        k = decode(fr)[0].key()
        check(k in web and (ts, fr) in web[k], "a frame no rule selects is on the mirror port")
        on[k].append((ts, fr))
    partial = [k for k in on if on[k] != web[k]]
    check(not partial, f"{len(partial)} flows mirrored in part")
    groups = collections.Counter()
    for g in ("blue", "green"):
        groups.update((ts, restore_dmac(fr)) for ts, fr in
                      read_records(os.path.join(out, f"{g}.pcap"))[0])
    missing = collections.Counter(m for m in mirror) - groups
    check(not missing, f"{sum(missing.values())} mirrored packets not on their group port")
    n, m = len(web), len(on)
    sd = (n * 0.3 * 0.7) ** 0.5
    check(abs(m - 0.3 * n) <= 4.5 * sd, f"{m} of {n} flows mirrored, expected about 30 %")
    sh = rep["shadows"]["web443"]
    check(sh["packets_mirrored"] == len(mirror) == rep["ports"]["mirror"]["out"],
          f"packets {sh['packets_mirrored']}, mirror.pcap {len(mirror)}")
    check(sh["copies_dropped"] == 0 and sh["pending"] == 0, f"dropped/pending: {sh}")
    # flows: new flows whose first packet was mirrored (port reuse makes a
    # key a new flow again, so at least the distinct keys)
    check(m <= sh["flows_mirrored"] <= m + rep["counters"]["redecided"],
          f"flows_mirrored {sh['flows_mirrored']}, {m} flows on the mirror port")
    check(sh["service_flows"] == rep["services"]["web"]["new_flows"], "service_flows")
    check(abs(sh["coverage"] - sh["flows_mirrored"] / sh["service_flows"]) < 1e-9,
          "coverage")
    check("shadow web443 -> mirror: web, sample 30.00 %" in so, f"summary:\n{so}")
    model(merged_input(), out, rep)


@test
def shadow_rule_scheduled(tmp):
    """shadow add / remove in a schedule: the shadow port carries the
    rule's packets between the two, and nothing outside."""
    with open(DEMO_INI) as f:
        text = f.read() + MIRROR.split("[shadow")[0]
    cfg = write(os.path.join(tmp, "mirror.ini"), text)
    sched = write(os.path.join(tmp, "plan.sched"),
                  "at 10s shadow add all443 --service web --sample 100% --port mirror "
                  "--filter 'tcp dst port 443'\nat 20s shadow remove all443\n")
    out = os.path.join(tmp, "out")
    rep, _, _ = replay_ok(out, sched, config=cfg)
    st = [a["status"] for a in rep["actions"]]
    check(st == ["changed", "changed"], f"actions {st}")
    lo = rep["slices"][1]["first_packet"]
    hi = rep["slices"][2]["first_packet"]
    recs, _ = read_records(merged_input())
    want = collections.Counter((ts, fr) for i, (ts, fr) in enumerate(recs, 1)
                               if lo <= i < hi and web_client(fr) and tcp_dst_443(fr))
    got = collections.Counter(read_records(os.path.join(out, "mirror.pcap"))[0])
    check(got == want, f"mirror port: {sum((got - want).values())} frames too many, "
          f"{sum((want - got).values())} missing")
    check(len(want) > 100, "too few packets in the window")
    sh = rep["shadows"]["all443"]
    check(sh["packets_mirrored"] == len(want) and sh["pending"] == 0, f"counters {sh}")


# ---- evidence ----

def hist_bucket(us):
    """sl_hist_bucket (ebpf/sluice_layout.h): 4 buckets per octave of us."""
    if us == 0:
        return 0
    lg = us.bit_length() - 1
    sub = (us >> (lg - 2)) & 3 if lg >= 2 else (us << (2 - lg)) & 3
    return min(1 + 4 * lg + sub, 95)


def hist_edge(k):
    if k == 0:
        return 0
    lg, sub = (k - 1) // 4, (k - 1) % 4
    return ((4 + sub) << lg) >> 2


def hist_pct(values, pct):
    """The report's percentile: the upper edge of the bucket of the value
    of rank ceil(n * pct / 100)."""
    if not values:
        return None
    v = sorted(values)[max(1, (len(values) * pct + 99) // 100) - 1]
    k = hist_bucket(v)
    return hist_edge(k + 1 if k + 1 < 96 else k)


def tcp4(src, dst, sport, dport, flags, payload=b""):
    ip = bytearray(20)
    ip[0], ip[8], ip[9] = 0x45, 64, 6
    struct.pack_into(">H", ip, 2, 40 + len(payload))
    ip[12:16], ip[16:20] = bytes(src), bytes(dst)
    tcp = bytearray(20)
    struct.pack_into(">HH", tcp, 0, sport, dport)
    tcp[12], tcp[13] = 0x50, flags
    return (ROUTER_MAC + bytes.fromhex("020000000101") + b"\x08\x00" + bytes(ip) +
            bytes(tcp) + payload)


def icmp4_unreach(quoted):
    """Port unreachable from the server side, quoting the client frame's
    datagram (IP header and 28 bytes)."""
    q = quoted[14:14 + 48]
    ip = bytearray(20)
    ip[0], ip[8], ip[9] = 0x45, 64, 1
    struct.pack_into(">H", ip, 2, 20 + 8 + len(q))
    ip[12:16], ip[16:20] = q[16:20], q[12:16]
    return (bytes.fromhex("020000000101") + ROUTER_MAC + b"\x08\x00" + bytes(ip) +
            bytes([3, 3, 0, 0, 0, 0, 0, 0]) + q)


EVIDENCE_SLICES = """
[slice ent]
service = web
src = 198.51.100.0/24

[slice low-ports]
service = web
filter = tcp src portrange 20000-20049
"""


@test
def evidence_per_role(tmp):
    """Evidence in the report: 200 web flows at a 50 % canary; blue answers
    every handshake in 1.5 ms and the first request in 5 ms (40 ms for one
    flow in ten, an ICMP port unreachable instead for a few), green refuses
    odd flows with a RST and never answers even ones (their SYN sent
    twice).  Flows, handshakes, resets, ICMP and the TTFB percentiles per
    role, overall and per slice (src prefix, filter), match what the
    capture holds, with each flow's group read from the output pcaps."""
    with open(DEMO_INI) as f:
        text = f.read().replace("share = 5%", "share = 50%", 1)
    cfg = write(os.path.join(tmp, "evidence.ini"), text + EVIDENCE_SLICES)
    vip = bytes([192, 0, 2, 10])
    n, t0, gap = 200, 1700000000 * 10**9, 100 * 10**6

    def client(i):
        return bytes([198, 51, 100, i % 100 + 1]) if i < 100 else bytes([203, 0, 113, i % 100 + 1])

    def syn(i):
        return tcp4(client(i), vip, 20000 + i, 443, 0x02)

    # pass 1: the SYNs alone tell each flow's group (the decision is a pure
    # function of the configuration and the 5-tuple)
    first = os.path.join(tmp, "syns.pcap")
    write_pcap(first, [(t0 + i * gap, syn(i)) for i in range(n)])
    out1 = os.path.join(tmp, "out1")
    replay_ok(out1, config=cfg, inp=first)
    group = {}
    for g in ("blue", "green"):
        for _, fr in read_records(os.path.join(out1, f"{g}.pcap"))[0]:
            group[struct.unpack_from(">H", fr, 34)[0] - 20000] = g
    check(sorted(group) == list(range(n)), "a flow on no group")
    nb = sum(1 for g in group.values() if g == "blue")
    check(40 < nb < 160, f"{nb} of {n} flows on blue at a 50 % share")

    us = 1000
    recs, ttfb, icmp = [], [], set()
    for i in range(n):
        t = t0 + i * gap
        c = (client(i), vip, 20000 + i, 443)
        s = (vip, client(i), 443, 20000 + i)
        recs.append((t, syn(i)))
        if group[i] == "blue":
            recs.append((t + 1500 * us, tcp4(*s, 0x12)))
            recs.append((t + 2000 * us, tcp4(*c, 0x10)))
            recs.append((t + 3000 * us, tcp4(*c, 0x18, b"GET / HTTP/1.1\r\n\r\n")))
            if i % 25 == 3:
                icmp.add(i)
                recs.append((t + 4000 * us, icmp4_unreach(syn(i))))
                continue
            d = 40000 if i % 10 == 0 else 5000
            ttfb.append(d)
            recs.append((t + (3000 + d) * us, tcp4(*s, 0x18, b"HTTP/1.1 200 OK\r\n\r\n")))
        elif i % 2:
            recs.append((t + 1000 * us, tcp4(*s, 0x14)))
        else:
            recs.append((t + 1050 * 1000 * us, syn(i)))  # a retransmit, between flows
    # other traffic 4 s after the last flow: every unanswered SYN has timed out
    recs.append((t0 + n * gap + 4 * 10**9,
                 tcp4(bytes([198, 51, 100, 1]), bytes([192, 0, 2, 99]), 30000, 80, 0x02)))
    recs.sort(key=lambda r: r[0])
    inp = os.path.join(tmp, "evidence.pcap")
    write_pcap(inp, recs)
    out = os.path.join(tmp, "out")
    rep, so, _ = replay_ok(out, config=cfg, inp=inp)
    got = {}
    for g in ("blue", "green"):
        for _, fr in read_records(os.path.join(out, f"{g}.pcap"))[0]:
            if fr[23] == 6 and struct.unpack_from(">H", fr, 36)[0] == 443:
                got[struct.unpack_from(">H", fr, 34)[0] - 20000] = g
    check(got == group, "the flows' groups differ between the two runs")

    def expect(sel):
        b = [i for i in range(n) if sel(i) and group[i] == "blue"]
        g = [i for i in range(n) if sel(i) and group[i] == "green"]
        bt = [40000 if i % 10 == 0 else 5000 for i in b if i not in icmp]
        return {
            "champion": {"group": "blue", "flows": len(b), "hs_ok": len(b), "hs_fail": 0,
                         "rst": 0, "icmp": len([i for i in b if i in icmp]),
                         "ttfb_flows": len(bt), "hs_p50_us": hist_pct([1500] * len(b), 50),
                         "hs_p99_us": hist_pct([1500] * len(b), 99),
                         "ttfb_p50_us": hist_pct(bt, 50), "ttfb_p99_us": hist_pct(bt, 99)},
            "challenger": {"group": "green", "flows": len(g), "hs_ok": 0,
                           "hs_fail": len(g), "rst": len([i for i in g if i % 2]),
                           "icmp": 0, "ttfb_flows": 0, "hs_p50_us": None,
                           "hs_p99_us": None, "ttfb_p50_us": None, "ttfb_p99_us": None}}

    ev = rep["services"]["web"]["evidence"]
    want = expect(lambda i: True)
    check(want["champion"]["ttfb_p50_us"] == 5120 and want["champion"]["ttfb_p99_us"] == 40960
          and want["champion"]["hs_p50_us"] == 1536, f"model percentiles: {want}")
    for role in ("champion", "challenger"):
        check(ev[role] == want[role], f"web {role}: report {ev[role]}, recomputed {want[role]}")
    for name, sel in (("ent", lambda i: i < 100), ("low-ports", lambda i: i < 50)):
        w = expect(sel)
        for role in ("champion", "challenger"):
            check(ev["slices"][name][role] == w[role],
                  f"slice {name} {role}: report {ev['slices'][name][role]}, recomputed "
                  f"{w[role]}")
    check(sorted(ev["slices"]) == ["ent", "low-ports"], f"slices {sorted(ev['slices'])}")
    sl = rep["slices"][0]["services"]["web"]["evidence"]
    for role in ("champion", "challenger"):
        check(all(sl[role][k] == ev[role][k] for k in sl[role]),
              f"the one slice of time: {sl[role]}, the run: {ev[role]}")
    for name in ("web6", "dns"):
        e = rep["services"][name]["evidence"]
        check(e["champion"]["flows"] == e["challenger"]["flows"] == 0, f"{name}: {e}")
    check(f"evidence champion   blue     flows {nb}, handshakes ok {nb} failed 0" in so and
          f"evidence challenger green    flows {n - nb}, handshakes ok 0 failed {n - nb}"
          in so and "TTFB p50 5.12 ms p99 41 ms" in so, f"summary:\n{so}")


@test
def streams_big_captures(tmp):
    """Memory does not grow with the capture: the same configuration over
    200 000 and 1 000 000 packets peaks at about the same size."""
    gen = os.path.join(BUILD, "tools", "sluice-gen-fixtures")
    cfg = write(os.path.join(tmp, "b.ini"), """[dataplane]
hash_seed = 0x5eed
flow_capacity = 1100000
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
[group green]
port = green
[service web]
proto = tcp
vip = 192.0.2.10
ports = 443
champion = blue
challenger = green
share = 5%
""")
    peaks = []
    for n in (200000, 1000000):
        pcap = os.path.join(tmp, f"b{n}.pcap")
        subprocess.run([gen, "--bench", str(n), pcap], check=True, stdout=subprocess.DEVNULL)
        r = subprocess.run(["/bin/sh", "-c", 'ulimit -S -c 0; exec "$@"', "sh",
                            os.path.join(BUILD, "tools", "sluice-replay"), "-c", cfg, "-r",
                            pcap, "-o", os.path.join(tmp, f"o{n}"), "--quiet"])
        check(r.returncode == 0, f"{n} packets: exit {r.returncode}")
        with open(os.path.join(tmp, f"o{n}", "report.json")) as f:
            check(json.load(f)["input"]["packets"] == n, "packets")
        peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        os.unlink(pcap)
    # ru_maxrss of the children so far: the largest peak (kB)
    check(peaks[1] - peaks[0] < 32 * 1024, f"peak memory {peaks[0]} kB for 200 000 "
          f"packets, {peaks[1]} kB for 1 000 000")


def big_replay(tmp, packets, ready):
    """sluice-replay over a --bench capture of packets packets, with a
    report.json left in OUTDIR beforehand; returns (process, capture,
    OUTDIR) once ready(OUTDIR) holds (or 20 s have passed)."""
    gen = os.path.join(BUILD, "tools", "sluice-gen-fixtures")
    pcap = os.path.join(tmp, "big.pcap")
    subprocess.run([gen, "--bench", str(packets), pcap], check=True,
                   stdout=subprocess.DEVNULL)
    out = os.path.join(tmp, "out")
    os.makedirs(out)
    write(os.path.join(out, "report.json"), "{}")
    p = subprocess.Popen([os.path.join(BUILD, "tools", "sluice-replay"), "-c", DEMO_INI, "-r",
                          pcap, "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20 and p.poll() is None and not ready(out):
        time.sleep(0.002)
    return p, pcap, out


def ended_without_report(p, out):
    check(not os.path.exists(os.path.join(out, "report.json")), "a report.json is left")
    check(not os.path.exists(f"/var/run/dpdk/sluice-replay-{p.pid}"),
          "the EAL runtime directory is left")


@test
def stopped_by_sigterm(tmp):
    """SIGTERM during a replay: exit 130 at once, saying where, no report;
    the EAL leaves no runtime directory behind."""
    def writing(out):
        blue = os.path.join(out, "blue.pcap")
        return os.path.exists(blue) and os.path.getsize(blue) > 1 << 20

    p, _, out = big_replay(tmp, 6000000, writing)
    check(p.poll() is None, "the replay ended before it could be stopped")
    p.send_signal(15)
    so, se = p.communicate(timeout=30)
    check(p.returncode == 130, f"exit {p.returncode}: {se}")
    check("stopped by SIGTERM at packet" in se, f"message: {se}")
    ended_without_report(p, out)


@test
def capture_cut_while_read(tmp):
    """The capture truncated by another program during the replay: exit 2,
    the sizes said, no report, no EAL runtime directory left."""
    # the output files are made before the packet loop: stop it there, cut
    # the capture to 1 000 records, and let it go on
    p, pcap, out = big_replay(tmp, 2000000,
                              lambda out: os.path.exists(os.path.join(out, "client.pcap")))
    p.send_signal(19)  # SIGSTOP
    try:
        with open(pcap, "r+b") as f:
            f.truncate(24 + 1000 * 76)
    finally:
        p.send_signal(18)  # SIGCONT
    so, se = p.communicate(timeout=60)
    check(p.returncode == 2, f"exit {p.returncode}: {se}")
    check(f"{pcap}: the capture was cut short while being read" in se and
          f"{24 + 1000 * 76} now)" in se, f"message: {se}")
    # the record it stopped at: past the window read before the cut, and
    # its number and byte offset agree (76-byte records)
    m = re.search(r"now\): packet (\d+) at byte offset (\d+)", se)
    check(m and int(m.group(2)) == 24 + (int(m.group(1)) - 1) * 76 and
          int(m.group(1)) > 1000, f"message: {se}")
    ended_without_report(p, out)


@test
def usage_errors(tmp):
    """Missing options and unknown ones: exit 2 with the reason."""
    for args, frag in (([], "missing -c CONFIG"), (["-c", DEMO_INI], "missing -r IN.pcap"),
                       (["-c", DEMO_INI, "-r", "x.pcap"], "missing -o OUTDIR"),
                       (["--bogus"], "unknown option '--bogus'")):
        rc, _, se = run_replay(args)
        check(rc == 2 and frag in se, f"{args}: exit {rc}: {se}")
    rc, _, se = run_replay(["-c", os.path.join(tmp, "nope.ini"), "-r", merged_input(), "-o",
                            os.path.join(tmp, "o")])
    check(rc == 2 and "nope.ini" in se, f"missing config: {rc} {se}")


def main():
    global BUILD, WORK
    a = harness.parse(__doc__, TESTS)
    BUILD = a.build
    if not os.access(os.path.join(BUILD, "tools", "sluice-replay"), os.X_OK):
        print(f"replay: {BUILD}/tools/sluice-replay not found: build first")
        print("0 passed, 1 failed")
        return 1
    WORK = tempfile.mkdtemp(prefix="sluice-replay-tests-")
    try:
        return harness.run(a.todo, "sluice-rp-", a.keep)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
