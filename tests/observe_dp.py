#!/usr/bin/env python3
"""Observing the dataplane: sluice-dp's DPDK telemetry commands, sluicectl
flows / flow, and dpdk-dumpcap on a running sluice-dp.

sluiced (tests/control_e2e.py's Control) and an attached sluice-dp
(AttachedDP) on net_pcap ports fed the bundled fixtures (demo.pcap on the
client port, return.pcap on blue, as tests/integration.py), flow timeouts of
an hour so that the flow tables hold still once the captures are read.

Tests:
  telemetry     Debian's dpdk-telemetry.py against the running sluice-dp:
                /sluice/stats, /services, /flowtable, /generation equal the
                dataplane's own --stats at exit, sluiced's generation, the
                configuration
  flows         sluicectl flows: every listed flow is a flow of the input
                (demo.pcap) of that service, on the group (and member MAC)
                the output pcaps show; --group, --limit, --json; the count
                of active flows equals --stats
  flow_sticky   sluicectl flow on listed flows: the sticky entry's group and
                member, and the decision a new flow would get (which, with
                the same table, must be the one the flow got)
  flow_unseen   sluicectl flow on connections the dataplane has not seen;
                then a second sluice-dp gets exactly those: every packet
                leaves by the group (and member MAC) predicted, and flow now
                shows them sticky there
  bad_input     bad 5-tuples, unknown services and groups, bad limits: the
                field named, exit codes 1 and 2
  dumpcap       dpdk-dumpcap --file-prefix on a sluice-dp with hugepages and
                a shared configuration: the capture (read with tshark) holds
                the frames sluice-dp sent on that port; with --in-memory
                sluice-dp says capture is off

Usage (as root): tests/observe_dp.py [--build DIR] [--keep-logs] [-v] [TEST...]
"""

import argparse
import collections
import glob
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS_DIR)
sys.path.insert(0, TESTS_DIR)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import control_e2e as ce  # noqa: E402  (Control, AttachedDP)
import integration as it  # noqa: E402  (classify, frames)
import live_netns as ln  # noqa: E402
import bench_dumpcap  # noqa: E402  (the capture's configuration)
import pcapcheck as pc  # noqa: E402
from harness import GREEN_MACS  # noqa: E402

Fail = ce.Fail
check = ce.check
FIX = os.path.join(ROOT, "pcap-fixtures")
DEMO = os.path.join(FIX, "demo.pcap")
RETURN = os.path.join(FIX, "return.pcap")
TELEMETRY_PY = "/usr/bin/dpdk-telemetry.py"
WATCHDOG = 600


# flow entries that outlive the test: the tables hold still once the
# captures are read
TIMEOUTS = "".join("%s = 3600s\n" % k for k in (
    "tcp_syn_timeout", "tcp_timeout", "tcp_fin_timeout", "tcp_closed_timeout", "udp_timeout"))


def conf_text(d, client_rx, blue_rx):
    """integration.py's configuration (three services at 50 %, green in mac
    mode), output pcaps in d/out, attached to the Control's instance."""
    def conf(ctl):
        path, _ = it.write_config(d, share="50%", client_rx=client_rx, blue_rx=blue_rx,
                                  dataplane=TIMEOUTS, extra=ctl.control_section())
        with open(path) as f:
            return f.read()
    return conf


def parse_ep(text):
    """'10.0.0.1:80' or '[2001:db8::1]:80' -> (family, 16-byte address, port)."""
    if text.startswith("["):
        host, port = text[1:].split("]:")
        return 6, socket.inet_pton(socket.AF_INET6, host), int(port)
    host, port = text.rsplit(":", 1)
    return 4, socket.inet_pton(socket.AF_INET, host).ljust(16, b"\0"), int(port)


def flow_key(proto, src, dst):
    """pcapcheck's canonical key of a client -> server pair."""
    f, sa, sp = parse_ep(src)
    _, da, dp = parse_ep(dst)
    a, b = (sa, sp), (da, dp)
    lo, hi = (a, b) if a <= b else (b, a)
    return (f, proto, lo[0], lo[1], hi[0], hi[1])


def syn_frame(src4, sport, dst4, dport, proto=6):
    """An Ethernet/IPv4 TCP SYN (or a UDP datagram) from a client."""
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    else:
        payload = b"observe"
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                     socket.inet_aton(src4), socket.inet_aton(dst4))
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
    return bytes.fromhex("020000000002" "020000000001" "0800") + ip + l4


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i, len(fr), len(fr)) + fr)


class Run(ce.Run):
    """control_e2e's runner (sluiced, dataplanes, report lines) without its
    namespaces: these dataplanes read captures."""

    def __init__(self, args):
        super().__init__(args)
        self.prefix = "sluice-obs-%d" % os.getpid()
        d = os.path.join(self.tmp, "first")
        self.out = os.path.join(d, "out")
        self.ctl = ce.Control(self.build, self.tmp, conf_text(d, DEMO, RETURN), self.instance)
        self.dp = None
        self.tel = None      # telemetry replies taken while the first dataplane ran
        self.listing = None  # sluicectl --json flows web --limit 100

    # -- helpers --------------------------------------------------------

    def sluicectl(self, args, rc=None):
        got, out, err = self.ctl.run(args)
        if rc is not None:
            check(got == rc, "'sluicectl %s' exited %d (expected %d): stdout %r stderr %r"
                  % (" ".join(args), got, rc, out.strip()[:600], err.strip()))
        return got, out, err

    def jflows(self, *args):
        _, out, _ = self.sluicectl(["--json", "flows"] + list(args), rc=0)
        return json.loads(out)

    def jflow(self, svc, proto, src, dst, rc=0):
        _, out, _ = self.sluicectl(["--json", "flow", svc, proto, src, dst], rc=rc)
        return json.loads(out)

    def telemetry(self, *cmds, prefix=None):
        """Each command through Debian's dpdk-telemetry.py; the values."""
        p = subprocess.run([sys.executable, TELEMETRY_PY, "-f", prefix or self.prefix],
                           input="\n".join(cmds) + "\n", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        got = {}
        for line in p.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                got.update(json.loads(line))
        for c in cmds:
            name = c.split(",")[0]
            check(isinstance(got.get(name), dict), "dpdk-telemetry.py %s: %r (output %r)"
                  % (c, got.get(name), p.stdout[-800:]))
        return [got[c.split(",")[0]] for c in cmds]

    def wait_input_read(self):
        """Until the client and blue ports received their whole captures."""
        want = {"client": len(it.frames(DEMO)), "blue": len(it.frames(RETURN))}
        end = time.monotonic() + 60
        while time.monotonic() < end:
            st, = self.telemetry("/sluice/stats")
            rx = dict(zip(st["port"], st["port_rx"]))
            if all(rx.get(p) == n for p, n in want.items()):
                return
            time.sleep(0.3)
        raise Fail("sluice-dp did not read its captures within 60 s: rx %s, want %s"
                   % (rx, want))

    def stop_dp(self):
        if self.dp is not None:
            self.dp.stop()

    def new_dp(self, tag, conf=None):
        """A dataplane on the instance, with the telemetry prefix of the run
        (after '--': it replaces eal_args's); the one before is stopped
        first, whatever the test before did (one dataplane per instance)."""
        if self.dp is not None and self.dp.p is not None and self.dp.p.poll() is None:
            self.dp.kill()
        self.dp = ce.AttachedDP(self.build, self.ctl, tag, conf=conf,
                                extra=("--", "--file-prefix=" + self.prefix))
        self.dps.append(self.dp)
        self.dp.start()

    def setup(self):
        self.ctl.start()
        self.new_dp("first")
        self.wait_input_read()

    def after_test(self):
        pass  # a test that needs a new dataplane starts it (new_dp)

    def cleanup(self):
        super().cleanup()
        shutil.rmtree("/var/run/dpdk/" + self.prefix, ignore_errors=True)

    # -- tests ----------------------------------------------------------

    def test_telemetry(self):
        """Replies taken now, checked against --stats once the dataplane
        stops (test_flows stops it: the output pcaps are written then)."""
        st, sv, ft, gen = self.telemetry("/sluice/stats", "/sluice/services",
                                         "/sluice/flowtable", "/sluice/generation")
        one, = self.telemetry("/sluice/stats,dns")
        self.tel = (st, sv, ft, gen)
        status = self.ctl.status()
        check(gen["generation"] == status["gen"] and gen["tables"] == "instance" and
              gen["instance"] == self.instance and gen["workers"] == 1 and
              gen["acks"] == [status["gen"]],
              "/sluice/generation %s, sluiced's generation %s" % (gen, status["gen"]))
        check(sv["service"] == ["web", "web6", "dns"] and sv["proto"] == ["tcp", "tcp", "udp"]
              and sv["vip"] == ["192.0.2.10", "2001:db8::10", "192.0.2.53"] and
              sv["ports"] == ["443", "443", "53"] and sv["share_bp"] == [5000] * 3 and
              sv["champion"] == ["blue"] * 3 and sv["challenger"] == ["green"] * 3 and
              sv["group"] == ["blue", "green"] and sv["group_mode"] == ["port", "mac"] and
              sv["group_members"] == [0, 3] and sv["generation"] == status["gen"],
              "/sluice/services differs from the configuration: %s" % sv)
        check(ft["worker"] == [0] and ft["capacity"] == [65536 + 16384] and ft["no_answer"] == [] and
              ft["generation"] == [status["gen"]],
              "/sluice/flowtable: %s" % ft)
        check(set(one["service"]) == {"dns"} and one["packets"] == [
            p for s, p in zip(st["service"], st["packets"]) if s == "dns"],
            "/sluice/stats,dns: %s" % one)
        err, = self.telemetry("/sluice/stats,nope")
        check(err.get("error") == "unknown service 'nope'", "/sluice/stats,nope: %s" % err)
        return "generation %d, %d flows in the table" % (gen["generation"], ft["count"][0])

    def check_telemetry_against_stats(self):
        """After the stop: the replies equal sluice-dp's --stats (nothing
        arrived after the captures were read, no flow expired)."""
        if not self.tel:
            return
        st, _, ft, _ = self.tel
        ds = self.dp.stats
        for s, g, role, pk, by, fl, ac, rp in zip(st["service"], st["group"], st["role"],
                                                  st["packets"], st["bytes"], st["flows"],
                                                  st["active"], st["return_packets"]):
            want = ds["services"][s]["groups"][g]
            got = {"packets": pk, "bytes": by, "flows": fl, "active": ac,
                   "return_packets": rp}
            for k, v in got.items():
                check(want[k] == v, "/sluice/stats %s/%s %s %d, --stats %d"
                      % (s, g, k, v, want[k]))
        for p, rx, tx, dr in zip(st["port"], st["port_rx"], st["port_tx"], st["port_drops"]):
            want = ds["ports"][p]
            check((want["rx"], want["tx"], want["drops"]) == (rx, tx, dr),
                  "/sluice/stats port %s rx/tx/drops %s, --stats %s" % (p, (rx, tx, dr), want))
        active = sum(g["active"] for s in ds["services"].values() for g in s["groups"].values())
        check(ft["count"] == [active], "/sluice/flowtable count %s, --stats active flows %d"
              % (ft["count"], active))
        check(st["malformed"] == ds["malformed"]["total"],
              "malformed %d, --stats %d" % (st["malformed"], ds["malformed"]["total"]))

    def test_flows(self):
        r = self.jflows("web", "--limit", "100")
        self.listing = r
        check(r["service"] == "web" and r["shown"] == 100 and r["more"] == 1 and
              len(r["src"]) == 100 and r["no_answer"] == [],
              "flows web --limit 100: %s" % {k: r[k] for k in ("shown", "more", "no_answer")})
        g = self.jflows("web", "--group", "green", "--limit", "30")
        check(len(g["src"]) == 30 and set(g["group"]) == {"green"} and
              g["group_filter"] == "green", "flows --group green: groups %s" % set(g["group"]))
        small = self.jflows("web6", "--limit", "7")
        check(len(small["src"]) == 7 and small["shown"] == 7 and small["more"] == 1 and
              all(d == "[2001:db8::10]:443" for d in small["dst"]),
              "flows web6 --limit 7: %s" % small)
        _, out, _ = self.sluicectl(["flows", "web", "--limit", "3"], rc=0)
        lines = out.splitlines()
        check(re.fullmatch(r"web \(tcp\), generation \d+: 3 flows shown of \d+ active",
                           lines[0]) and lines[1].split()[:4] == ["client", "server", "group",
                                                                 "member"] and
              len(lines) == 6 and "more flows than shown" in lines[5],
              "human output of flows: %r" % out)
        blue_only = self.jflows("web", "--group", "blue", "--limit", "100")
        udp = self.jflows("dns", "--limit", "50")
        check(set(udp["state"]) == {"active"}, "dns flows states %s" % set(udp["state"]))

        # the output pcaps exist once the dataplane stopped
        self.stop_dp()
        self.check_telemetry_against_stats()
        ds = self.dp.stats
        for name, rep in (("web", r), ("web", g), ("web", blue_only), ("dns", udp)):
            active = sum(x["active"] for gname, x in ds["services"][name]["groups"].items()
                         if "group_filter" not in rep or gname == rep["group_filter"])
            check(rep["active"] == active, "flows %s: active %d, --stats %d"
                  % (name, rep["active"], active))
        seen = collections.defaultdict(set)   # key -> groups its packets left by
        macs = collections.defaultdict(set)   # key -> green member MACs
        pkts = collections.Counter()          # key -> its packets to the servers
        back = collections.Counter()          # key -> its packets back
        for grp in ("blue", "green", "client"):
            for fr in it.frames(os.path.join(self.out, grp + ".pcap")):
                kind, k = it.classify(fr)
                if kind != "svc" or pc.decode(fr).icmp_err:
                    continue
                if grp == "client":
                    back[k] += 1
                else:
                    pkts[k] += 1
                    seen[k].add(grp)
                    if grp == "green":
                        macs[k].add(fr[:6])
        inp = {it.classify(fr)[1] for fr in it.frames(DEMO)} - {None}
        n = 0
        for rep, proto in ((r, 6), (g, 6), (blue_only, 6), (udp, 17), (small, 6)):
            for i, (s, d) in enumerate(zip(rep["src"], rep["dst"])):
                k = flow_key(proto, s, d)
                check(k in inp, "flows lists %s -> %s, not a flow of demo.pcap" % (s, d))
                check(seen[k] == {rep["group"][i]}, "flows says %s -> %s is on %s, the output "
                      "pcaps show it on %s" % (s, d, rep["group"][i], seen[k] or "none"))
                # every packet of the flow was read before the listing; the
                # capture of the way back is read beside the client's, so
                # some answers come before their flow (untracked)
                check(pkts[k] <= rep["packets"][i] <= pkts[k] + back[k],
                      "flows says %s -> %s had %d packets, the output pcaps hold %d "
                      "to the servers and %d back"
                      % (s, d, rep["packets"][i], pkts[k], back[k]))
                check(0 <= rep["age_s"][i] <= 600, "flows says %s -> %s is %d s old, "
                      "older than the test" % (s, d, rep["age_s"][i]))
                if rep["group"][i] == "green":
                    mac = bytes.fromhex(rep["mac"][i].replace(":", ""))
                    check(macs[k] == {mac} and mac in GREEN_MACS and rep["member"][i] >= 0,
                          "flows says %s -> %s has member %s, green.pcap shows %s"
                          % (s, d, rep["mac"][i], [m.hex() for m in macs[k]]))
                else:
                    check(rep["member"][i] == -1, "port mode flow with member %s"
                          % rep["member"][i])
                n += 1
        check(len(set(zip(r["src"], r["dst"]))) == 100, "flows listed twice")
        return "%d listed flows checked against demo.pcap and the output pcaps" % n

    def test_flow_sticky(self):
        r = self.listing
        check(r is not None, "needs the flows test's listing")
        # a dataplane again, the same tables: the entries come back as the
        # captures are read again, decided the same way
        self.new_dp("second")
        self.wait_input_read()
        gen = self.ctl.status()["gen"]
        for i in range(0, 100, 5):
            s, d = r["src"][i], r["dst"][i]
            f = self.jflow("web", "tcp", s, d)
            check(f["sticky"] == 1 and f["group"] == r["group"][i] and
                  f["mac"] == r["mac"][i] and f["packets"] == r["packets"][i] and
                  f["redecide"] == 0,
                  "flow web tcp %s %s: %s, listed as %s" % (s, d, f, r["group"][i]))
            # same table: the decision of a new flow is the one it got
            check(f["new_group"] == f["group"] and f["new_member"] == f["member"],
                  "flow %s -> %s: sticky on %s/%s but a new flow would go to %s/%s"
                  % (s, d, f["group"], f["member"], f["new_group"], f["new_member"]))
            check((f["u"] < f["share_bp"]) == (f["group"] == "green"),
                  "flow %s: u %d, share %d, group %s" % (s, f["u"], f["share_bp"], f["group"]))
        _, out, _ = self.sluicectl(["flow", "web", "tcp", r["src"][0], r["dst"][0]], rc=0)
        check("sticky entry (worker 0): group %s" % r["group"][0] in out and
              "a new flow now: hash" in out, "human output of flow: %r" % out)
        self.stop_dp()
        return "20 sticky flows agree with the listing and the decision code"

    def test_flow_unseen(self):
        """Predictions on connections no dataplane has seen, then those
        connections through a dataplane."""
        self.new_dp("third")
        conns = [("tcp", "10.250.%d.%d" % (i // 200, i % 200 + 1), 20000 + i, "192.0.2.10", 443)
                 for i in range(60)]
        conns += [("udp", "10.251.0.%d" % (i + 1), 30000 + i, "192.0.2.53", 53)
                  for i in range(20)]
        pred = {}
        for proto, sa, sp, da, dp in conns:
            svc = "web" if proto == "tcp" else "dns"
            f = self.jflow(svc, proto, "%s:%d" % (sa, sp), "%s:%d" % (da, dp))
            check(f["sticky"] == 0, "flow %s %s:%d: sticky before any packet: %s"
                  % (proto, sa, sp, f))
            pred[(sa, sp)] = f
        groups = collections.Counter(f["new_group"] for f in pred.values())
        check(set(groups) == {"blue", "green"}, "predictions all on one group: %s" % groups)
        self.stop_dp()

        d2 = os.path.join(self.tmp, "unseen")
        out2 = os.path.join(d2, "out")
        cap = os.path.join(self.tmp, "unseen.pcap")
        write_pcap(cap, [syn_frame(sa, sp, da, dp, 6 if proto == "tcp" else 17)
                         for proto, sa, sp, da, dp in conns])
        conf2 = os.path.join(self.tmp, "unseen.ini")
        with open(conf2, "w") as f:
            f.write(conf_text(d2, cap, None)(self.ctl))
        self.new_dp("unseen", conf=conf2)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            st, = self.telemetry("/sluice/stats")
            if dict(zip(st["port"], st["port_rx"]))["client"] == len(conns):
                break
            time.sleep(0.2)
        for proto, sa, sp, da, dp in conns[::7]:
            svc = "web" if proto == "tcp" else "dns"
            f = self.jflow(svc, proto, "%s:%d" % (sa, sp), "%s:%d" % (da, dp))
            p = pred[(sa, sp)]
            check(f["sticky"] == 1 and f["group"] == p["new_group"] and
                  f["member"] == p["new_member"], "flow %s:%d after its packet: %s, predicted "
                  "%s/%s" % (sa, sp, f, p["new_group"], p["new_member"]))
        self.stop_dp()
        got = {}
        for grp in ("blue", "green"):
            for fr in it.frames(os.path.join(out2, grp + ".pcap")):
                q = pc.decode(fr)
                got[(socket.inet_ntoa(q.src), q.sport)] = (grp, fr[:6])
        for (sa, sp), p in pred.items():
            check((sa, sp) in got, "%s:%d: no packet left sluice-dp" % (sa, sp))
            grp, mac = got[(sa, sp)]
            check(grp == p["new_group"], "%s:%d: flow predicted %s, the dataplane sent it to %s"
                  % (sa, sp, p["new_group"], grp))
            if grp == "green":
                check(mac.hex() == p["new_mac"].replace(":", ""),
                      "%s:%d: member %s predicted, frame to %s" % (sa, sp, p["new_mac"],
                                                                    mac.hex()))
        return "%d connections: %s, all where flow said" % (len(pred), dict(groups))

    def test_bad_input(self):
        # the dataplane of the last test stopped: a running one for the refusals
        self.new_dp("bad")
        ok_src, ok_dst = "10.0.0.1:1234", "192.0.2.10:443"
        cases = [
            (["flow", "web", "icmp", ok_src, ok_dst], 2, r"bad_tuple: flow: proto 'icmp'"),
            (["flow", "web", "tcp", "10.0.0.300:1", ok_dst], 2, r"bad_tuple: flow: src "),
            (["flow", "web", "tcp", "10.0.0.1", ok_dst], 2, r"src '10.0.0.1': expected"),
            (["flow", "web", "tcp", ok_src, "192.0.2.10:70000"], 2, r"dst .*port '70000'"),
            (["flow", "web", "tcp", ok_src, "[2001:db8::10]:443"], 2, r"dst .*IPv6.*IPv4"),
            (["flow", "web", "tcp", ok_src], 2, r"missing DST:PORT"),
            (["flow", "web", "tcp", ok_src, ok_dst, "extra"], 2, r"unexpected argument"),
            (["flow", "nope", "tcp", ok_src, ok_dst], 1, r"unknown_service: unknown service "
             "'nope'"),
            (["flow", "web6", "tcp", ok_src, ok_dst], 1, r"other_service: .*service web, not "
             "of web6"),
            (["flow", "web", "tcp", ok_src, "192.0.2.99:443"], 1, r"no_service: dst "
             "192.0.2.99:443"),
            (["flows"], 2, r"missing SERVICE"),
            (["flows", "nope"], 1, r"unknown_service: unknown service 'nope'"),
            (["flows", "web", "--group", "red"], 1, r"unknown_group: unknown group 'red'"),
            (["flows", "web", "--limit", "0"], 2, r"--limit: '0'"),
            (["flows", "web", "--limit", "101"], 2, r"--limit: '101'.*1\.\.100"),
            (["flows", "web", "--limit"], 2, r"--limit needs a value"),
            (["flows", "web", "--colour"], 2, r"unknown option '--colour'"),
            (["flows", "web", "--json"], 2, r"'--json' must come before the command"),
            (["flows", "bad name!"], 2, r"SERVICE: 'bad name!' is not a valid"),
            (["flows", "web", "--telemetry", "/nonexistent/sock"], 3,
             r"unreachable: cannot connect .*/nonexistent/sock"),
        ]
        for args, rc, err in cases:
            _, out, e = self.sluicectl(args, rc=rc)
            check(re.search(err, e), "'sluicectl %s': stderr %r does not match %r"
                  % (" ".join(args), e, err))
            check(out == "", "'sluicectl %s' printed %r" % (" ".join(args), out))
        # the telemetry command's own refusals
        e1, e2 = self.telemetry("/sluice/flows,web,0", "/sluice/flow,tcp,1.2.3.4:5")
        check("limit '0'" in e1.get("error", "") and "usage" in e2.get("error", ""),
              "telemetry refusals: %s %s" % (e1, e2))
        self.stop_dp()
        # no dataplane attached: said, exit 3
        _, _, e = self.sluicectl(["flows", "web"], rc=3)
        check("no_dataplane" in e, "flows without a dataplane: %r" % e)
        return "%d refusals" % (len(cases) + 3)

    def test_dumpcap(self):
        text = self.dps[0].logtext()
        check("packet capture (dpdk-dumpcap) off: EAL runs with --in-memory" in text,
              "sluice-dp with --in-memory does not say capture is off: %s" % text[-600:])
        subprocess.run([os.path.join(ROOT, "tools", "hugepages.sh"), "512"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open("/proc/meminfo") as f:
            free = int(re.search(r"HugePages_Free:\s+(\d+)", f.read()).group(1))
        if free < 300:
            return "skipped: %d free hugepages after tools/hugepages.sh 512 (need 300)" % free
        for exe in ("dpdk-dumpcap", "tshark"):
            check(shutil.which(exe), "%s is not installed (tools/install-deps.sh)" % exe)
        d = os.path.join(self.tmp, "dumpcap")
        os.makedirs(d)
        prefix = "sluice-dump-%d" % os.getpid()
        conf = os.path.join(d, "dp.ini")
        # a base address free in both processes (above ASan's shadow): dumpcap maps
        # sluice-dp's memory where sluice-dp has it
        eal = ("--no-pci -l 0-1 -m 512 --file-prefix=%s --base-virtaddr=0x600000000000 "
               "--log-level=*:warning" % prefix)
        with open(conf, "w") as f:
            f.write(bench_dumpcap.dp_conf(eal, DEMO, 65536, 65536))
        log = open(os.path.join(d, "dp.log"), "w")
        dp = subprocess.Popen([os.path.join(self.build, "dataplane", "sluice-dp"), "-c", conf,
                               "--instance", "", "--duration", "60"], stdout=log,
                              stderr=subprocess.STDOUT, preexec_fn=ln.pdeathsig)
        try:
            end = time.monotonic() + 30
            while time.monotonic() < end:
                with open(os.path.join(d, "dp.log")) as f:
                    text = f.read()
                check(dp.poll() is None, "sluice-dp exited %s: %s" % (dp.returncode, text))
                if "forwarding" in text:
                    break
                time.sleep(0.1)
            check("packet capture ready: dpdk-dumpcap --file-prefix=%s" % prefix in text,
                  "sluice-dp with hugepages does not offer capture: %s" % text)
            cap = os.path.join(d, "out.pcapng")
            p = subprocess.run(["dpdk-dumpcap", "--file-prefix=" + prefix, "-i", "net_null1",
                                "-w", cap, "-c", "500", "-q"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=60)
            check(p.returncode == 0 and os.path.exists(cap),
                  "dpdk-dumpcap exited %d: %s" % (p.returncode, p.stdout[-800:]))
        finally:
            ln.stop_proc(dp, ce.signal.SIGTERM, 15)
            log.close()
            # EAL leaves a shared configuration's runtime directory behind
            shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
            # and its hugepage files (a shared configuration's, for
            # dpdk-dumpcap): left, they hold the pages from the next runs
            for hp in glob.glob("/dev/hugepages/%smap_*" % prefix):
                os.unlink(hp)
        # first occurrences (an ICMP error quotes a second IP header);
        # no reassembly: a fragment is looked at as the frame it is
        t = subprocess.run(["tshark", "-r", cap, "-o", "ip.defragment:FALSE", "-T", "fields",
                            "-E", "separator=/t", "-E", "occurrence=f",
                            "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst",
                            "-e", "tcp.dstport", "-e", "ip.proto", "-e", "ip.frag_offset",
                            "-e", "ip.flags.mf"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        check(t.returncode == 0, "tshark -r: %s" % t.stderr[-500:])
        rows = [r.split("\t") for r in t.stdout.splitlines()]
        check(len(rows) >= 500, "%d packets in the capture, asked for 500" % len(rows))
        # every captured frame is one sluice-dp sends to blue: web's flows
        # (share 0 %: all of them) and traffic of no service, flooded
        blue = collections.Counter()
        for fr in it.frames(DEMO):
            p = pc.decode(fr)
            if p.bad or p.family != 4 or p.proto != 6 or p.icmp_err:
                continue
            blue[(socket.inet_ntoa(p.src), str(p.sport), socket.inet_ntoa(p.dst),
                  str(p.dport))] += 1
        web = 0
        for r in rows:
            if r[4] != "6" or r[5] not in ("", "0") or r[6] in ("1", "True") or not r[1]:
                continue  # not TCP over IPv4 (IPv6, UDP, ARP, fragments): not checked
            t4 = tuple(r[:4])
            check(t4 in blue, "captured %s, not a TCP flow of demo.pcap" % (t4,))
            web += t4[2] == "192.0.2.10" and t4[3] == "443"
        check(web > 0, "no packet of service web in the capture")
        return "%d packets captured on net_null1 (%d of web's flows), all from demo.pcap" % (
            len(rows), web)

    def tests(self):
        return [("telemetry", self.test_telemetry), ("flows", self.test_flows),
                ("flow_sticky", self.test_flow_sticky), ("flow_unseen", self.test_flow_unseen),
                ("bad_input", self.test_bad_input), ("dumpcap", self.test_dumpcap)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("tests", nargs="*", help="telemetry, flows, flow_sticky, flow_unseen, "
                    "bad_input, dumpcap (default all; flow_sticky needs flows)")
    args = ap.parse_args()
    ce.VERBOSE = ln.VERBOSE = args.verbose
    it.BUILD = os.path.abspath(args.build)
    names = [n for n, _ in Run.tests(Run.__new__(Run))]
    unknown = [t for t in args.tests if t not in names]
    if unknown:
        ap.error("no test named " + ", ".join(unknown))
    if os.geteuid() != 0:
        print("observe_dp: must run as root (bpffs, the dataplane's telemetry socket)")
        print("0 passed, 1 failed")
        return 1
    r = Run(args)
    ce.signal.signal(ce.signal.SIGALRM, lambda *_: (_ for _ in ()).throw(
        KeyboardInterrupt("watchdog")))
    ce.signal.alarm(WATCHDOG)
    t0 = time.monotonic()
    try:
        r.main(args.tests)
    except KeyboardInterrupt as e:
        print("FAIL observe_dp: interrupted (%s; watchdog %d s)" % (e, WATCHDOG))
        r.failed += 1
    except Exception:
        traceback.print_exc()
        print("FAIL observe_dp: unexpected error (above)")
        r.failed += 1
    finally:
        ce.signal.alarm(0)
        r.cleanup()
    print("observe_dp: %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 and r.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
