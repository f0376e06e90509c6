#!/usr/bin/env python3
"""Integration tests: the real sluice-dp on DPDK net_pcap ports.

Each test writes a configuration into a temporary directory, runs
build/dataplane/sluice-dp over the bundled fixtures, and reads the output
pcaps back with tools/pcapcheck.py, a parser written independently of the C
one.  Prints PASS/FAIL per test and a final "N passed, N failed" line.

Usage: tests/integration.py [--build DIR] [--keep] [TEST...]
"""

import collections
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import pcapcheck as pc  # noqa: E402
from harness import Fail, check, restore_dmac, GREEN_MACS  # noqa: E402
import harness  # noqa: E402

FIX = os.path.join(ROOT, "pcap-fixtures")
DEMO = os.path.join(FIX, "demo.pcap")
RETURN = os.path.join(FIX, "return.pcap")
MALFORMED = os.path.join(FIX, "malformed.pcap")
VIPS = {pc.parse_vip(v) for v in
        ("tcp/192.0.2.10/443", "tcp/2001:db8::10/443", "udp/192.0.2.53/53")}

BUILD = os.path.join(ROOT, "build")


def frames(path):
    return [data for _, data in pc.read_pcap(path)]


def classify(frame):
    """'svc', 'other' or 'bad', and the flow key (None unless 'svc')."""
    p = pc.decode(frame)
    if p.bad:
        return "bad", None
    if not p.family:
        return "other", None
    k = p.key()
    if pc.in_services(k, VIPS):
        return "svc", k
    return "other", None


def write_config(d, share="5%", client_rx=DEMO, blue_rx=RETURN, green_mode="mac",
                 dataplane="", hash_seed="0x5eed", services=None, extra=""):
    """extra: sections appended (a shadow port comes after client, blue,
    green: port index 3)."""
    out = os.path.join(d, "out")
    os.makedirs(out, exist_ok=True)
    blue_dev = f"net_pcap1,tx_pcap={out}/blue.pcap"
    if blue_rx:
        blue_dev = f"net_pcap1,rx_pcap={blue_rx},tx_pcap={out}/blue.pcap"
    green = ("mode = mac\nmembers = 02:00:00:00:0c:01, 02:00:00:00:0c:02, "
             "02:00:00:00:0c:03\n" if green_mode == "mac" else "mode = port\n")
    if services is None:
        services = ""
        for name, proto, vip, port in (("web", "tcp", "192.0.2.10", 443),
                                       ("web6", "tcp", "2001:db8::10", 443),
                                       ("dns", "udp", "192.0.2.53", 53)):
            services += (f"[service {name}]\nproto = {proto}\nvip = {vip}\n"
                         f"ports = {port}\nchampion = blue\nchallenger = green\n"
                         f"share = {share}\n\n")
    text = f"""[dataplane]
eal_args = --no-pci --in-memory -l 0-1 --log-level=*:warning
hash_seed = {hash_seed}
flow_capacity = 65536
{dataplane}

[port client]
role = client
devargs = net_pcap0,rx_pcap={client_rx},tx_pcap={out}/client.pcap

[port blue]
role = backend
devargs = {blue_dev}

[port green]
role = backend
devargs = net_pcap2,tx_pcap={out}/green.pcap

[group blue]
port = blue
mode = port

[group green]
port = green
{green}
{services}
{extra}"""
    path = os.path.join(d, "sluice.ini")
    with open(path, "w") as f:
        f.write(text)
    return path, out


def run_dp(cfg, *args, timeout=120):
    """Run sluice-dp until its input is exhausted; returns (rc, output, stats)."""
    stats = os.path.join(os.path.dirname(cfg), "stats.json")
    if os.path.exists(stats):
        os.unlink(stats)
    cmd = [os.path.join(BUILD, "dataplane", "sluice-dp"), "-c", cfg,
           "--stats", stats] + list(args)
    if "--duration" not in args:
        cmd += ["--exit-when-idle", "300"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True)
    st = None
    if os.path.exists(stats):
        with open(stats) as f:
            st = json.load(f)
    return r.returncode, r.stdout, st


def run_ok(cfg, *args):
    rc, out, st = run_dp(cfg, *args)
    check(rc == 0, f"sluice-dp exited {rc}:\n{out[-2000:]}")
    check(st is not None, "no --stats file written")
    return out, st


TESTS, test = harness.registry()
EXPLICIT = []  # run only when named (they need a particular machine state)


@test
def conservation(tmp):
    """Every client->server packet of a service leaves on exactly one group
    port, unchanged but for the member MAC in mac mode; traffic matching no
    service is flooded to both backends; every return packet reaches the
    client port; no flow is on two groups; counters match the pcaps."""
    cfg, out = write_config(tmp)
    _, st = run_ok(cfg)
    inp = frames(DEMO)
    ret = frames(RETURN)
    blue = frames(os.path.join(out, "blue.pcap"))
    green = frames(os.path.join(out, "green.pcap"))
    client = frames(os.path.join(out, "client.pcap"))

    want = {"svc": collections.Counter(), "other": collections.Counter(),
            "bad": collections.Counter()}
    for f in inp:
        want[classify(f)[0]][f] += 1
    got = {}
    groups_of = collections.defaultdict(set)
    for name, port in (("blue", blue), ("green", green)):
        got[name] = {"svc": collections.Counter(), "other": collections.Counter()}
        for f in port:
            kind, key = classify(f)
            check(kind != "bad", f"{name}: a malformed frame was forwarded")
            if name == "green" and kind == "svc":
                check(f[:6] in GREEN_MACS,
                      f"green: service frame with dst MAC {f[:6].hex()}, not a member")
            got[name][kind][restore_dmac(f)] += 1
            if kind == "svc":
                groups_of[key].add(name)
    check(got["blue"]["svc"] + got["green"]["svc"] == want["svc"],
          "service packets on blue + green differ from the service packets sent")
    check(got["blue"]["other"] == want["other"] and got["green"]["other"] == want["other"],
          "traffic matching no service was not flooded to both backends exactly once")
    split = [k for k, g in groups_of.items() if len(g) > 1]
    check(not split, f"{len(split)} flows on both groups, e.g. {pc.key_text(split[0]) if split else ''}")
    check(collections.Counter(client) == collections.Counter(ret),
          "client port output differs from the return traffic sent")
    nsvc = sum(want["svc"].values())
    check(len(blue) + len(green) == nsvc + 2 * sum(want["other"].values()),
          "extra frames on the backend ports")

    # counters agree with what the pcaps show
    check(st["rx_packets"] == len(inp) + len(ret),
          f"rx_packets {st['rx_packets']} != {len(inp) + len(ret)}")
    check(st["tx_packets"] == len(blue) + len(green) + len(client),
          f"tx_packets {st['tx_packets']} != {len(blue) + len(green) + len(client)}")
    for g, frames_g in (("blue", got["blue"]["svc"]), ("green", got["green"]["svc"])):
        n = sum(s["groups"][g]["packets"] for s in st["services"].values())
        check(n == sum(frames_g.values()), f"stats say {n} packets to {g}, "
              f"its pcap has {sum(frames_g.values())}")
    nret = sum(s["groups"][g]["return_packets"] for s in st["services"].values()
               for g in ("blue", "green"))
    ret_svc = sum(1 for f in ret if classify(f)[0] == "svc")
    check(nret == ret_svc, f"stats say {nret} return packets, return.pcap has {ret_svc}")
    check(st["ports"]["client"]["tx"] == len(client), "client tx counter")
    for p in ("client", "blue", "green"):
        check(st["ports"][p]["drops"] == 0, f"drops on port {p}")
    with open(os.path.join(FIX, "manifest.json")) as f:
        man = json.load(f)["files"]["demo.pcap"]["malformed"]
    got = {k: v for k, v in st["malformed"].items() if k != "total"}
    check(got == man["by_reason"], f"malformed by reason {got} != manifest {man['by_reason']}")
    check(st["malformed_dropped"] == man["total"] == sum(want["bad"].values()),
          "malformed_dropped differs from the manifest")


def group_flows(out):
    """Service flow keys seen on each group port."""
    res = {}
    for g in ("blue", "green"):
        keys = set()
        for f in frames(os.path.join(out, f"{g}.pcap")):
            kind, key = classify(f)
            if kind == "svc":
                keys.add(key)
        res[g] = keys
    return res


def check_share(tmp, share, bp):
    cfg, out = write_config(tmp, share=share, blue_rx=None)
    _, st = run_ok(cfg)
    fl = group_flows(out)
    check(not (fl["blue"] & fl["green"]), f"share {share}: a flow on both groups")
    n = len(fl["blue"]) + len(fl["green"])
    g = len(fl["green"])
    p = bp / 10000
    if bp == 0:
        check(g == 0, f"share 0%: {g} flows on green")
    elif bp == 10000:
        check(len(fl["blue"]) == 0, f"share 100%: {len(fl['blue'])} flows on blue")
    else:
        sd = (n * p * (1 - p)) ** 0.5
        check(abs(g - n * p) <= 4.5 * sd + 2,
              f"share {share}: {g} of {n} flows on green, expected {n * p:.1f} "
              f"+- {4.5 * sd + 2:.1f}")
    # the dataplane's own flow counters agree with the output (port-reuse
    # flows are decided twice, so the counter may exceed distinct keys)
    dp_green = sum(s["groups"]["green"]["flows"] for s in st["services"].values())
    redecided = st["flow_table"]["redecided"]
    check(g <= dp_green <= g + redecided,
          f"share {share}: stats count {dp_green} green flows, pcap {g}")
    for s in st["services"].values():
        check(s["share_bp"] == bp, f"configured share {s['share_bp']} != {bp}")
    return g, n


@test
def share_0(tmp):
    check_share(tmp, "0%", 0)


@test
def share_1bp(tmp):
    g, n = check_share(tmp, "1bp", 1)
    check(g <= 5, f"1bp: {g} of {n} flows on green")


@test
def share_1(tmp):
    check_share(tmp, "1%", 100)


@test
def share_5(tmp):
    check_share(tmp, "5%", 500)


@test
def share_50(tmp):
    check_share(tmp, "50%", 5000)


@test
def share_100(tmp):
    check_share(tmp, "100%", 10000)


@test
def malformed_dropped(tmp):
    """Malformed fixture: counted by reason exactly as the generator's
    manifest says, dropped by default, valid packets still forwarded."""
    with open(os.path.join(FIX, "malformed.json")) as f:
        man = json.load(f)
    cfg, out = write_config(tmp, client_rx=MALFORMED, blue_rx=None)
    _, st = run_ok(cfg)
    got = {k: v for k, v in st["malformed"].items() if k != "total"}
    check(got == man["by_reason"], f"malformed by reason {got} != manifest {man['by_reason']}")
    check(st["malformed"]["total"] == sum(man["by_reason"].values()), "malformed total")
    check(st["malformed_dropped"] == sum(man["by_reason"].values()), "malformed_dropped")
    check(st["rx_packets"] == man["packets"], "every malformed.pcap frame received")
    outs = frames(os.path.join(out, "blue.pcap")) + frames(os.path.join(out, "green.pcap"))
    for f in outs:
        check(classify(f)[0] != "bad", "a malformed frame left on a backend port")
    valid = [f for f in frames(MALFORMED) if classify(f)[0] != "bad"]
    vs = sum(1 for f in valid if classify(f)[0] == "svc")
    vo = len(valid) - vs
    check(len(outs) == vs + 2 * vo, f"{len(outs)} frames out, expected {vs + 2 * vo} "
          "from the valid packets")


@test
def malformed_forwarded(tmp):
    """malformed = forward: malformed frames are flooded like traffic that
    matches no service (and still counted)."""
    cfg, out = write_config(tmp, client_rx=MALFORMED, blue_rx=None,
                            dataplane="malformed = forward")
    _, st = run_ok(cfg)
    bad_in = collections.Counter(f for f in frames(MALFORMED) if classify(f)[0] == "bad")
    for g in ("blue", "green"):
        bad_out = collections.Counter(f for f in frames(os.path.join(out, f"{g}.pcap"))
                                      if classify(f)[0] == "bad")
        check(bad_out == bad_in, f"{g}: malformed frames out differ from those sent")
    check(st["malformed_forwarded"] == sum(bad_in.values()), "malformed_forwarded")


@test
def determinism(tmp):
    """Two runs, same configuration: the same packets on the same ports in
    the same order (fleet determinism, DESIGN §9)."""
    outs = []
    for i in range(2):
        d = os.path.join(tmp, f"run{i}")
        os.makedirs(d)
        cfg, out = write_config(d, share="20%")
        run_ok(cfg)
        outs.append(out)
    for name in ("blue.pcap", "green.pcap", "client.pcap"):
        a = frames(os.path.join(outs[0], name))
        b = frames(os.path.join(outs[1], name))
        check(len(a) == len(b), f"{name}: {len(a)} vs {len(b)} packets")
        for i, (x, y) in enumerate(zip(a, b)):
            check(x == y, f"{name}: packet {i} differs between runs")
    # another seed really decides otherwise
    d = os.path.join(tmp, "seed")
    os.makedirs(d)
    cfg, out = write_config(d, share="20%", hash_seed="0x1234")
    run_ok(cfg)
    check(group_flows(out)["green"] != group_flows(outs[0])["green"],
          "a different hash_seed gave the same split")


@test
def port_mode_unchanged(tmp):
    """Port mode: frames leave byte for byte as they came (VLAN and QinQ
    tags, MACs, payload)."""
    cfg, out = write_config(tmp, share="50%", blue_rx=None, green_mode="port")
    run_ok(cfg)
    inp = collections.Counter(f for f in frames(DEMO) if classify(f)[0] == "svc")
    outp = collections.Counter()
    for g in ("blue", "green"):
        outp.update(f for f in frames(os.path.join(out, f"{g}.pcap"))
                    if classify(f)[0] == "svc")
    check(outp == inp, "service frames changed on their way through")
    tagged = sum(n for f, n in outp.items() if f[12:14] in (b"\x81\x00", b"\x88\xa8"))
    check(tagged > 0, "no tagged frame in the output to check")


@test
def bad_config_exit_2(tmp):
    """A bad configuration: exit 2, the message names file, section and key,
    and nothing is written."""
    cfg, out = write_config(tmp, share="120%")
    rc, text, st = run_dp(cfg)
    check(rc == 2, f"exit {rc}, expected 2")
    check("[service web] share" in text and cfg in text, f"message: {text.strip()}")
    check(st is None, "stats written for a refused configuration")
    check(not os.path.exists(os.path.join(out, "blue.pcap")), "a port was opened")


@test
def bad_usage_exit_2(tmp):
    cfg, _ = write_config(tmp)
    rc, text, _ = run_dp(cfg, "--no-such-option")
    check(rc == 2, f"exit {rc}, expected 2")
    check("--no-such-option" in text, f"message: {text.strip()}")
    rc, text, _ = run_dp(cfg, "--exit-when-idle", "soon")
    check(rc == 2 and "exit-when-idle" in text, f"exit {rc}: {text.strip()}")


@test
def missing_pcap_exit_1(tmp):
    """A port whose device cannot be created: exit 1 naming the port."""
    cfg, _ = write_config(tmp, client_rx=os.path.join(tmp, "nope.pcap"))
    rc, text, _ = run_dp(cfg)
    check(rc == 1, f"exit {rc}, expected 1")
    check("client" in text and "net_pcap0" in text, f"message: {text.strip()}")


def null_config(tmp):
    """Client port fed by net_null (an endless source), backends net_null."""
    text = """[dataplane]
eal_args = --no-pci --in-memory -l 0-1 --log-level=*:warning
[port client]
role = client
devargs = net_null0
[port blue]
role = backend
devargs = net_null1,no-rx=1
[port green]
role = backend
devargs = net_null2,no-rx=1
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
"""
    path = os.path.join(tmp, "null.ini")
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def duration_stops(tmp):
    """--duration: an endless source stops on time, flushes, exits 0."""
    cfg = null_config(tmp)
    t0 = time.monotonic()
    _, st = run_ok(cfg, "--duration", "1")
    dt = time.monotonic() - t0
    check(0.9 <= st["elapsed_s"] <= 3.0, f"elapsed_s {st['elapsed_s']}")
    check(dt < 30, f"took {dt:.1f} s")
    check(st["rx_packets"] > 1000, f"rx_packets {st['rx_packets']}")
    check(st["pps"] > 0, "pps 0")


@test
def sigterm_stops(tmp):
    """SIGTERM: clean stop, stats written, exit 0."""
    cfg = null_config(tmp)
    stats = os.path.join(tmp, "stats.json")
    p = subprocess.Popen([os.path.join(BUILD, "dataplane", "sluice-dp"), "-c", cfg,
                          "--stats", stats], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    p.send_signal(signal.SIGTERM)
    try:
        out, _ = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Fail("did not stop within 20 s of SIGTERM")
    check(p.returncode == 0, f"exit {p.returncode}: {out[-1000:]}")
    with open(stats) as f:
        st = json.load(f)
    check(st["rx_packets"] > 0, "nothing received before SIGTERM")


# ---- shadow rules ----

WEB_VIP = {pc.parse_vip("tcp/192.0.2.10/443")}
DNS_VIP = {pc.parse_vip("udp/192.0.2.53/53")}
SHADOW_MAC = bytes.fromhex("020000000d01")


def service_pkts(vips):
    """Client frames of demo.pcap that a shadow rule of those services
    sees: valid, of the service, not ICMP errors; with their flow keys."""
    out = []
    for f in frames(DEMO):
        p = pc.decode(f)
        if p.bad or not p.family or p.icmp_err:
            continue
        k = p.key()
        if pc.in_services(k, vips):
            out.append((f, k))
    return out


def mirror_port(devargs):
    return f"[port mirror]\nrole = shadow\ndevargs = {devargs}\n"


def shadow_section(name, service, sample, filt=None, mac=None):
    s = f"[shadow {name}]\nservice = {service}\nsample = {sample}\nport = mirror\n"
    if filt:
        s += f"filter = {filt}\n"
    if mac:
        s += f"mac = {mac}\n"
    return s


@test
def shadow_copies_all(tmp):
    """Shadow rules at 100 %: every web packet matching 'tcp dst port 443'
    and every dns packet appears on the shadow port (dns with the rule's
    MAC), and also on its group port; nothing else does; the counters
    match the pcaps."""
    extra = (mirror_port(f"net_pcap3,tx_pcap={tmp}/out/mirror.pcap") +
             shadow_section("web443", "web", "100%", "tcp dst port 443") +
             shadow_section("dns-all", "dns", "100%", mac="02:00:00:00:0d:01"))
    cfg, out = write_config(tmp, share="50%", extra=extra)
    text, st = run_ok(cfg)
    check("2 shadow rules, filters ready" in text, f"no filter line: {text[:300]}")
    mirror = frames(os.path.join(out, "mirror.pcap"))
    web = [(f, k) for f, k in service_pkts(WEB_VIP) if pc.tcp_dst_443(f)]
    dns = service_pkts(DNS_VIP)
    check(len(web) > 1000 and len(dns) > 1000, "fixtures without enough traffic")
    want = collections.Counter([f for f, _ in web] + [SHADOW_MAC + f[6:] for f, _ in dns])
    got = collections.Counter(mirror)
    check(got == want, f"shadow port: {sum((got - want).values())} frames too many, "
          f"{sum((want - got).values())} missing (of {len(mirror)})")
    # the originals still reach their group
    groups = collections.Counter()
    for g in ("blue", "green"):
        groups.update(restore_dmac(f) for f in frames(os.path.join(out, f"{g}.pcap")))
    missing = collections.Counter(f for f, _ in web) - groups
    check(not missing, f"{sum(missing.values())} mirrored packets missing on the group ports")
    sh = st["shadows"]
    check(sh["web443"]["packets"] == len(web), f"web443 packets {sh['web443']['packets']} "
          f"!= {len(web)}")
    check(sh["dns-all"]["packets"] == len(dns), f"dns-all packets {sh['dns-all']['packets']} "
          f"!= {len(dns)}")
    for name in sh:
        check(sh[name]["dropped"] == 0 and sh[name]["pending"] == 0,
              f"{name}: dropped {sh[name]['dropped']} pending {sh[name]['pending']}")
        check(sh[name]["port"] == "mirror", f"{name}: port {sh[name]['port']}")
    check(st["ports"]["mirror"]["tx"] == len(mirror), "mirror tx counter")
    # flows: those whose first packet passed the filter (port reuse decides
    # a flow twice, so the counter may exceed distinct keys by that much)
    first = {}
    for f, k in service_pkts(WEB_VIP):
        first.setdefault(k, pc.tcp_dst_443(f))
    nfirst = sum(first.values())
    redecided = st["flow_table"]["redecided"]
    check(nfirst <= sh["web443"]["flows"] <= nfirst + redecided,
          f"web443 flows {sh['web443']['flows']}, expected {nfirst}..{nfirst + redecided}")


@test
def shadow_sampled_flows(tmp):
    """Sample 30 %: a flow is mirrored whole (every matching packet) or not
    at all, and about 30 % of flows are."""
    extra = (mirror_port(f"net_pcap3,tx_pcap={tmp}/out/mirror.pcap") +
             shadow_section("web443", "web", "30%", "tcp dst port 443"))
    cfg, out = write_config(tmp, extra=extra)
    _, st = run_ok(cfg)
    per_flow = collections.defaultdict(collections.Counter)
    for f, k in service_pkts(WEB_VIP):
        if pc.tcp_dst_443(f):
            per_flow[k][f] += 1
    on = collections.defaultdict(collections.Counter)
    for f in frames(os.path.join(out, "mirror.pcap")):
        k = pc.decode(f).key()
        check(k in per_flow and per_flow[k][f] > 0, "a frame no rule selects was mirrored")
        on[k][f] += 1
    partial = [k for k in on if on[k] != per_flow[k]]
    check(not partial, f"{len(partial)} flows mirrored in part, e.g. "
          f"{pc.key_text(partial[0]) if partial else ''}")
    n, m = len(per_flow), len(on)
    sd = (n * 0.3 * 0.7) ** 0.5
    check(abs(m - 0.3 * n) <= 4.5 * sd, f"{m} of {n} flows mirrored, expected "
          f"{0.3 * n:.0f} +- {4.5 * sd:.0f}")
    check(st["shadows"]["web443"]["packets"] == sum(sum(c.values()) for c in on.values()),
          "packets counter differs from the shadow pcap")


def outputs(out):
    return {p: frames(os.path.join(out, f"{p}.pcap")) for p in ("client", "blue", "green")}


@test
def shadow_slow_port(tmp):
    """A shadow port that cannot keep up (net_ring: its 1024-slot ring is
    read back 32 frames a turn while two rules add up to 64 copies): copies
    are dropped and counted, and the client and group ports carry exactly
    what they carry without any shadow rule."""
    runs = {}
    for name, rules in (("plain", ""),
                        ("shadow", shadow_section("web443", "web", "100%", "tcp dst port 443") +
                         shadow_section("web-all", "web", "100%"))):
        d = os.path.join(tmp, name)
        os.makedirs(d)
        cfg, out = write_config(d, share="20%", extra=mirror_port("net_ring0") + rules)
        _, st = run_ok(cfg)
        runs[name] = (outputs(out), st)
    (plain, _), (shadow, st) = runs["plain"], runs["shadow"]
    for p in plain:
        check(plain[p] == shadow[p], f"{p}: {len(shadow[p])} frames with shadow rules, "
              f"{len(plain[p])} without (or other bytes)")
    sh = st["shadows"]
    dropped = sum(r["dropped"] for r in sh.values())
    selected = sum(r["packets"] for r in sh.values())
    m = st["ports"]["mirror"]
    check(dropped > 0, "the shadow port kept up: nothing to check (make it slower)")
    check(selected == m["tx"] + dropped, f"selected {selected} != sent {m['tx']} + dropped "
          f"{dropped}")
    check(m["drops"] == dropped, f"mirror port drops {m['drops']} != rule drops {dropped}")
    # the ring loops back: everything the shadow port received was dropped
    check(m["rx"] == m["tx"] == st["shadow_rx_dropped"],
          f"mirror rx {m['rx']} tx {m['tx']} shadow_rx_dropped {st['shadow_rx_dropped']}")
    for p in ("client", "blue", "green"):
        check(st["ports"][p]["drops"] == 0, f"drops on port {p}")


@test
def shadow_port_input_dropped(tmp):
    """Everything received on a shadow port is dropped and counted, and
    reaches no other port."""
    runs = {}
    for name, dev in (("quiet", f"net_pcap3,tx_pcap={tmp}/q.pcap"),
                      ("talking", f"net_pcap3,rx_pcap={DEMO},tx_pcap={tmp}/t.pcap")):
        d = os.path.join(tmp, name)
        os.makedirs(d)
        cfg, out = write_config(d, extra=mirror_port(dev) +
                                shadow_section("web443", "web", "10%", "tcp dst port 443"))
        _, st = run_ok(cfg)
        runs[name] = (outputs(out), st)
    (quiet, _), (talking, st) = runs["quiet"], runs["talking"]
    n = len(frames(DEMO))
    check(st["shadow_rx_dropped"] == n, f"shadow_rx_dropped {st['shadow_rx_dropped']} != {n}")
    check(st["ports"]["mirror"]["rx"] == n, f"mirror rx {st['ports']['mirror']['rx']} != {n}")
    for p in quiet:
        check(quiet[p] == talking[p], f"{p}: shadow port input changed what it carries")
    check(frames(os.path.join(tmp, "q.pcap")) == frames(os.path.join(tmp, "t.pcap")),
          "shadow port input changed the copies")


@test
def shadow_bad_filter_exit_2(tmp):
    """A filter libpcap cannot compile: exit 2, libpcap's message, the
    rule's section and key; nothing written."""
    extra = (mirror_port(f"net_pcap3,tx_pcap={tmp}/out/mirror.pcap") +
             shadow_section("web443", "web", "10%", "tcp dst port 443 and"))
    cfg, out = write_config(tmp, extra=extra)
    rc, text, st = run_dp(cfg)
    check(rc == 2, f"exit {rc}, expected 2")
    check("[shadow web443] filter: 'tcp dst port 443 and' does not compile: can't parse "
          "filter expression: syntax error" in text, f"message: {text.strip()}")
    check(st is None and not os.path.exists(os.path.join(out, "mirror.pcap")),
          "something was written")


def hugepages_free():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    return 0


def no_hugepages_fallback(tmp):
    """With no free hugepage, sluice-dp says it falls back to --no-huge,
    keeps --in-memory's effect with --no-shconf and its own file prefix,
    forwards, and leaves no runtime directory behind.  Run by tools/test.sh
    after releasing the hugepages."""
    check(hugepages_free() == 0, "this test needs a machine without free hugepages")
    cfg, out = write_config(tmp, blue_rx=None)
    text, st = run_ok(cfg)
    check("no hugepages" in text and "--no-huge" in text, f"no fallback note:\n{text[-800:]}")
    check(st["rx_packets"] == len(frames(DEMO)), "not every packet received")
    left = [d for d in os.listdir("/var/run/dpdk") if d.startswith("sluice-dp-")] \
        if os.path.isdir("/var/run/dpdk") else []
    check(not left, f"runtime directories left behind: {left}")


EXPLICIT.append(no_hugepages_fallback)


def main():
    global BUILD
    a = harness.parse(__doc__, TESTS, EXPLICIT)
    BUILD = a.build
    return harness.run(a.todo, "sluice-it-", a.keep)


if __name__ == "__main__":
    sys.exit(main())
