#!/usr/bin/env python3
"""Churn and fault tests of sluiced + an attached sluice-dp (no namespaces).

sluice-dp runs attached to an instance (test-e2e-PID) with one worker
(-l 0-1): its client port is net_pcap replaying a 65 536-flow bench capture
forever (infinite_rx=1), blue and green are net_null (no-rx=1), so the worker
is busy all the time.  sluiced publishes the tables.

Tests:
  churn          one client on the control socket sends 10 000 canary changes
                 (0 %, 1 %, 5 %, 50 %, 100 %, sticky and reset); every one must be
                 ok and acknowledged by the worker; sluice-dp then stops with
                 rx_packets == tx_packets and no drop.  Prints the distribution
                 of acks.waited_us (p50, p90, p99, max) and changes per second
                 (figures only: latency never fails the test).
  kill_sluiced   kill -9 sluiced during a rollout: the worker keeps forwarding
                 (the pinned stats map's rx counter rises for 2 s), a restarted
                 sluiced resumes the rollout at the same step and takes the next
                 one at the journaled deadline; changes work again.
  kill_dataplane kill -9 sluice-dp: a restarted one adopts the pinned table (same
                 generation), and a finite capture run after the kill splits the
                 flows exactly as the same run before it (same flows per group).

Prints PASS/FAIL per test and a final "N passed, N failed" line; exit status 0
only if every test passed.

Usage (as root): tests/churn.py [--build DIR] [--changes N] [--keep-logs] [-v] [TEST...]
"""

import argparse
import json
import os
import re
import shutil
import signal
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
import control_e2e as e2e  # noqa: E402  (sluiced/sluicectl/sluice-dp drivers, pinned maps)
from harness import Tally  # noqa: E402

Fail = e2e.Fail
check = e2e.check

FLOWS = 65536
FINITE_FLOWS = 4096
SHARES = ["0%", "1%", "5%", "50%", "100%"]
SHARES_BP = [0, 100, 500, 5000, 10000]
T_REPLY = 15      # one control reply
T_RUN = 60        # one finite capture run
WATCHDOG = 300
VIP = "192.0.2.10"


def log(msg):
    e2e.log(msg)


def conf_text(pcap, blue="net_null1,no-rx=1", green="net_null2,no-rx=1", infinite=True):
    mbufs = FLOWS + 32768
    return lambda ctl: """[dataplane]
eal_args = -l 0-1 --no-pci --in-memory --log-level=*:warning
hash_seed = 0x5eed
flow_capacity = %d
mbufs = %d
mbuf_size = 256

[port client]
role = client
devargs = net_pcap0,rx_pcap=%s%s

[port blue]
role = backend
devargs = %s

[port green]
role = backend
devargs = %s

[group blue]
port = blue
mode = port

[group green]
port = green
mode = port

[service web]
proto = tcp
vip = %s
ports = 443
champion = blue
challenger = green
share = 0%%

""" % (FLOWS + FLOWS // 10 + 1, mbufs, pcap, ",infinite_rx=1" if infinite else "",
       blue, green, VIP) + ctl.control_section()


def percentile(sorted_vals, q):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(-(-q * len(sorted_vals) // 1)) - 1))
    return sorted_vals[k]


def flow_sets(path):
    """{(src ip, src port)} of the IPv4/TCP frames of a pcap file."""
    flows = set()
    with open(path, "rb") as f:
        hdr = f.read(24)
        check(len(hdr) == 24, "%s: no pcap header" % path)
        magic = struct.unpack("<I", hdr[:4])[0]
        check(magic in (0xa1b2c3d4, 0xa1b23c4d), "%s: not a little-endian pcap (magic %#x)"
              % (path, magic))
        while True:
            rec = f.read(16)
            if not rec:
                break
            check(len(rec) == 16, "%s: truncated record header" % path)
            incl = struct.unpack("<IIII", rec)[2]
            frame = f.read(incl)
            check(len(frame) == incl, "%s: truncated frame" % path)
            if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
                continue
            ihl = (frame[14] & 0x0F) * 4
            sport = struct.unpack("!H", frame[14 + ihl:16 + ihl])[0]
            flows.add((socket.inet_ntoa(frame[26:30]), sport))
    return flows


class Churn(Tally):
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.keep = args.keep_logs
        self.changes = args.changes
        self.tmp = tempfile.mkdtemp(prefix="sluice-churn-")
        self.instance = "test-e2e-%d" % os.getpid()
        self.pcap = os.path.join(self.tmp, "bench-%d.pcap" % FLOWS)
        self.ctl = e2e.Control(self.build, self.tmp, conf_text(self.pcap), self.instance)
        self.passed = self.failed = 0
        self.dps = []
        self.cleaned = False

    def gen_pcap(self, flows, path):
        exe = os.path.join(self.build, "tools", "sluice-gen-fixtures")
        check(os.access(exe, os.X_OK), "%s is not built" % exe)
        p = subprocess.run([exe, "--bench", str(flows), path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        check(p.returncode == 0, "sluice-gen-fixtures --bench %d: exit %d: %s"
              % (flows, p.returncode, p.stdout[-500:]))

    def setup(self):
        self.gen_pcap(FLOWS, self.pcap)
        self.ctl.start()

    def dataplane(self, tag):
        dp = e2e.AttachedDP(self.build, self.ctl, tag)
        self.dps.append(dp)
        dp.start()
        return dp

    def cleanup(self):
        if self.cleaned:
            return
        self.cleaned = True
        for dp in self.dps:
            dp.kill()
        self.ctl.stop_checked(self)
        if self.keep:
            print("logs and configurations: %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def rx(self):
        return e2e.pinned_rx(self.instance, 3)[0]  # port 0: the client port

    def ack_gen(self):
        """Worker 0's acknowledged generation: struct sl_dp_info's ack[0]
        (64 bytes of header before the per-worker cache lines)."""
        return e2e.pinned_read(os.path.join(e2e.BPFFS, "sluice", self.instance, "acks"),
                               "=I", 64)[0]

    def settle(self):
        _, s = self.ctl.svc()
        if s["rollout"] and s["rollout"]["state"] in ("running", "paused"):
            self.ctl.run(["rollout", "abort", "web"])

    # -- 1. churn ------------------------------------------------------------

    def test_churn(self):
        ctl = self.ctl
        self.settle()
        dp = self.dataplane("churn")
        gen0 = ctl.status()["gen"]
        rx0 = self.rx()
        waited, bad = [], []
        cur = ctl.svc()[1]["state"]["share_bp"]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(T_REPLY)
        s.connect(ctl.sock)
        f = s.makefile("rwb")
        t0 = time.monotonic()
        try:
            for i in range(self.changes):
                k = i % len(SHARES)
                if SHARES_BP[k] == cur:  # every request must change the split
                    k = (k + 1) % len(SHARES)
                mode = "reset" if (i // len(SHARES)) % 3 == 2 else "sticky"
                req = {"id": i, "cmd": "canary", "service": "web", "share": SHARES[k],
                       "mode": mode}
                f.write(json.dumps(req).encode() + b"\n")
                f.flush()
                line = f.readline()
                check(line.endswith(b"\n"), "change %d: the daemon closed the connection "
                      "(%r)" % (i, line[:200]))
                rep = json.loads(line)
                res = rep.get("result") or {}
                acks = res.get("acks") or {}
                ok = (rep.get("ok") is True and rep.get("id") == i and
                      res.get("changed") is True and res.get("gen") == gen0 + i + 1 and
                      res.get("after", {}).get("share_bp") == SHARES_BP[k] and
                      res.get("after", {}).get("mode") == mode and
                      acks.get("status") == "acked" and acks.get("workers") == 1)
                if not ok:
                    bad.append((i, req, rep))
                    if len(bad) >= 5:
                        break
                    continue
                cur = SHARES_BP[k]
                waited.append(acks["waited_us"])
        except (OSError, ValueError) as e:
            raise Fail("control socket after %d changes: %s: %s"
                       % (len(waited) + len(bad), type(e).__name__, e))
        finally:
            dt = time.monotonic() - t0
            s.close()
        rx1 = self.rx()
        acked = self.ack_gen()
        gen1 = ctl.status()["gen"]
        daemon_lat = ctl.json(["stats"])["ack_latency"]
        dp.stop()
        if bad:
            raise Fail("%d refused or unacknowledged changes, first: request %s, reply %s"
                       % (len(bad), bad[0][1], bad[0][2]))
        check(len(waited) == self.changes, "%d of %d changes acknowledged"
              % (len(waited), self.changes))
        check(gen1 == gen0 + self.changes and acked == gen1,
              "generation %d -> %d after %d changes; the worker's pinned ack is %d"
              % (gen0, gen1, self.changes, acked))
        check(rx1 > rx0, "the worker received nothing during the churn (rx %d -> %d)"
              % (rx0, rx1))
        st = dp.stats
        dp.check_no_drops()
        check(st["rx_packets"] == st["tx_packets"] and st["rx_packets"] > 0,
              "sluice-dp --stats: rx_packets %d, tx_packets %d (each packet must leave on "
              "exactly one backend)" % (st["rx_packets"], st["tx_packets"]))
        grp = st["services"]["web"]["groups"]
        fwd = sum(g["packets"] for g in grp.values())
        check(fwd == st["rx_packets"], "sluice-dp --stats: %d packets to blue and green, %d "
              "received" % (fwd, st["rx_packets"]))
        w = sorted(waited)
        figures = ("acks.waited_us over %d changes: p50 %d us, p90 %d us, p99 %d us, max %d "
                   "us; %.0f changes/s; sluiced stats: p50 %s us, p99 %s us, max %s us "
                   "(last %s)" % (len(w), percentile(w, 0.5), percentile(w, 0.9),
                                  percentile(w, 0.99), w[-1], len(w) / dt,
                                  daemon_lat.get("p50_us"), daemon_lat.get("p99_us"),
                                  daemon_lat.get("max_us"), daemon_lat.get("count")))
        print("  churn: " + figures, flush=True)
        return ("%d changes ok and acknowledged; sluice-dp forwarded %d of %d packets "
                "(%.1f Mpps) with no drop; %s" % (len(w), st["tx_packets"], st["rx_packets"],
                                                  st["pps"] / 1e6, figures))

    # -- 2. kill -9 sluiced during a rollout -----------------------------------

    def test_kill_sluiced(self):
        ctl = self.ctl
        self.settle()
        ctl.ctl(["canary", "web", "0%"])
        dp = self.dataplane("kill-sluiced")
        dwell_s = 6
        ctl.ctl(["rollout", "start", "web", "--steps", "10%,20%,30%", "--dwell",
                 "%ds" % dwell_s], 0,
                r"web: rollout step 1/3 at 10\.00 %% -> green, running, next step in %d s, "
                r"generation \d+" % dwell_s + e2e.ACK)
        time.sleep(0.5)
        st, s = ctl.svc()
        ro, gen = s["rollout"], st["gen"]
        check(ro["state"] == "running" and ro["step"] == 0, "rollout before the kill: %s" % ro)
        deadline_ms = ro["step_started_ms"] + dwell_s * 1000
        ctl.kill9()
        t_kill = time.monotonic()
        time.sleep(0.2)
        rx_a = self.rx()
        time.sleep(2.0)
        rx_b = self.rx()
        check(dp.p.poll() is None, "sluice-dp exited (%s) after sluiced was killed"
              % dp.p.returncode)
        check(rx_b > rx_a, "without sluiced the worker stopped: rx %d at +0.2 s, %d at +2.2 s"
              % (rx_a, rx_b))
        pgen = e2e.pinned_gen(self.instance)
        check(pgen == gen, "pinned generation %d after the kill, %d before" % (pgen, gen))
        rate = (rx_b - rx_a) / 2.0
        check(time.time() * 1000 < deadline_ms - 500, "too slow: the step deadline is near "
              "before sluiced restarts")

        ctl.start()
        t_back = time.monotonic() - t_kill
        st, s = ctl.svc()
        ro2 = s["rollout"]
        check(st["gen"] == gen, "restarted sluiced: generation %d, %d before" % (st["gen"], gen))
        check(st["dataplane"]["attached"] and st["dataplane"]["pid"] == dp.p.pid,
              "restarted sluiced: dataplane %s (sluice-dp pid %d)" % (st["dataplane"], dp.p.pid))
        for k in ("state", "step", "steps", "step_started_ms", "operator_pause"):
            check(ro2.get(k) == ro.get(k), "restarted sluiced: rollout %s %r, %r before"
                  % (k, ro2.get(k), ro.get(k)))
        check(s["state"]["share_bp"] == 1000 and s["state"]["strategy"] == "rollout",
              "restarted sluiced: state %s" % s["state"])
        out, _ = ctl.ctl(["rollout", "status", "web"])
        check(out.startswith("web: rollout: step 1/3 at 10.00 %, running, next step in "),
              "rollout status after the restart: %r" % out)
        # the timer goes on: step 2 at the journaled deadline
        end = time.monotonic() + dwell_s + 5
        while True:
            st, s = ctl.svc()
            if s["rollout"]["step"] >= 1:
                seen_ms = time.time() * 1000
                break
            check(time.monotonic() < end, "no step 2 within %d s of the restart" % (dwell_s + 5))
            time.sleep(0.02)
        check(s["rollout"]["step"] == 1 and st["gen"] == gen + 1 and
              s["state"]["share_bp"] == 2000, "after the deadline: generation %d, rollout %s"
              % (st["gen"], s["rollout"]))
        started = s["rollout"]["step_started_ms"]
        check(abs(started - deadline_ms) <= 250, "step 2 started at %d ms, the journaled "
              "deadline was %d ms (%+d ms)" % (started, deadline_ms, started - deadline_ms))
        check(seen_ms - deadline_ms > -100, "step 2 seen %d ms before its deadline"
              % (deadline_ms - seen_ms))
        entry = ctl.json(["history", "web", "--limit", "1"])["entries"][-1]
        check(entry["cmd"] == "rollout_step" and entry["actor"] == "plan" and
              entry["gen"] == gen + 1, "last history entry %s" % entry)
        ctl.ctl(["rollout", "abort", "web"], 0, r"web: rollout aborted at step 2/3 .*generation "
                r"%d" % (gen + 2) + e2e.ACK)
        dp.stop()
        dp.check_no_drops()
        check(dp.stats["rx_packets"] == dp.stats["tx_packets"], "sluice-dp --stats: rx %d, "
              "tx %d" % (dp.stats["rx_packets"], dp.stats["tx_packets"]))
        return ("without sluiced the worker forwarded %.1f Mpps for 2 s; sluiced back after "
                "%.1f s at generation %d, rollout step 1/3 unchanged; step 2 started at %+d ms "
                "of the journaled deadline (seen %+d ms); abort acknowledged"
                % (rate / 1e6, t_back, gen, started - deadline_ms, seen_ms - deadline_ms))

    # -- 3. kill -9 sluice-dp ---------------------------------------------------

    def finite_run(self, tag, pcap):
        """sluice-dp attached, on a finite capture, blue and green written to
        pcap files; returns (per group flow sets, generation it said it took)."""
        out = {g: os.path.join(self.tmp, "%s-%s.pcap" % (tag, g)) for g in ("blue", "green")}
        conf = os.path.join(self.tmp, "%s.ini" % tag)
        with open(conf, "w") as f:
            f.write(conf_text(pcap, "net_pcap1,tx_pcap=" + out["blue"],
                              "net_pcap2,tx_pcap=" + out["green"], infinite=False)(self.ctl))
        dp = e2e.AttachedDP(self.build, self.ctl, tag, conf=conf,
                            extra=["--exit-when-idle", "1000"])
        self.dps.append(dp)
        dp.logf = open(dp.logpath, "w")
        dp.p = subprocess.Popen(dp.cmd, stdout=dp.logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            rc = dp.p.wait(T_RUN)
        except subprocess.TimeoutExpired:
            dp.kill()
            raise Fail("%s: sluice-dp did not end within %d s: %s" % (tag, T_RUN, dp.logtail()))
        dp.logf.close()
        check(rc == 0, "%s: sluice-dp exited %d: %s" % (tag, rc, dp.logtail()))
        text = dp.logtext()
        m = re.search(r"^sluice-dp: instance \S+: tables of generation (\d+)", text, re.M)
        check(m, "%s: sluice-dp did not say which generation it took: %s" % (tag, text[-500:]))
        with open(dp.stats_path) as f:
            dp.stats = json.load(f)
        dp.check_no_drops()
        sets = {g: flow_sets(p) for g, p in out.items()}
        return sets, int(m.group(1)), dp.stats

    def test_kill_dataplane(self):
        ctl = self.ctl
        self.settle()
        small = os.path.join(self.tmp, "bench-%d.pcap" % FINITE_FLOWS)
        self.gen_pcap(FINITE_FLOWS, small)
        ctl.ctl(["canary", "web", "30%"])
        gen = ctl.status()["gen"]
        before, g_a, st_a = self.finite_run("before", small)
        check(g_a == gen, "finite run before the kill took generation %d, %d in force"
              % (g_a, gen))
        n = len(before["blue"]) + len(before["green"])
        check(not (before["blue"] & before["green"]) and n == FINITE_FLOWS,
              "before the kill: %d blue and %d green flows, %d shared, %d expected in all"
              % (len(before["blue"]), len(before["green"]),
                 len(before["blue"] & before["green"]), FINITE_FLOWS))
        exp, tol = n * 0.3, e2e.ln.tolerance(n, 0.3)
        check(abs(len(before["green"]) - exp) <= tol, "green %d of %d flows at 30 %%, expected "
              "%.0f +- %.0f" % (len(before["green"]), n, exp, tol))

        # the infinite dataplane, killed and restarted
        dp = self.dataplane("to-kill")
        dp.p.kill()
        dp.p.wait(10)
        dp.logf.close()
        st = ctl.status()
        check(not st["dataplane"]["attached"] and st["dataplane"]["pid"] is None,
              "after kill -9 status still shows a dataplane: %s" % st["dataplane"])
        dp2 = self.dataplane("restarted")
        st = ctl.status()
        check(st["gen"] == gen and e2e.pinned_gen(self.instance) == gen,
              "restarted sluice-dp: generation %d (pinned %d), %d before the kill"
              % (st["gen"], e2e.pinned_gen(self.instance), gen))
        check(st["dataplane"]["attached"] and st["dataplane"]["pid"] == dp2.p.pid and
              st["dataplane"]["workers"] == 1, "status after the restart: %s" % st["dataplane"])
        check(re.search(r"^sluice-dp: instance \S+: tables of generation %d " % gen,
                        dp2.logtext(), re.M), "restarted sluice-dp: %s" % dp2.logtail())
        rx0 = self.rx()
        time.sleep(0.5)
        check(self.rx() > rx0, "restarted sluice-dp: rx counter not rising")
        # changes are acknowledged by the new worker
        ctl.ctl(["canary", "web", "35%"], 0, r"web: canary 35\.00 %% -> green, generation %d"
                % (gen + 1) + e2e.ACK)
        ctl.ctl(["canary", "web", "30%"], 0, r"web: canary 30\.00 %% -> green, generation %d"
                % (gen + 2) + e2e.ACK)
        dp2.stop()
        check(dp2.stats["rx_packets"] == dp2.stats["tx_packets"], "restarted sluice-dp: rx "
              "%d, tx %d" % (dp2.stats["rx_packets"], dp2.stats["tx_packets"]))
        after, g_b, _ = self.finite_run("after", small)
        check(g_b == gen + 2, "finite run after took generation %d, %d in force" % (g_b, gen + 2))
        for g in ("blue", "green"):
            check(after[g] == before[g], "%s: %d flows before the kill, %d after, %d differ"
                  % (g, len(before[g]), len(after[g]), len(before[g] ^ after[g])))
        return ("restarted sluice-dp adopted generation %d (worker acks the next changes); "
                "%d flows split alike before and after (blue %d, green %d)"
                % (gen, n, len(after["blue"]), len(after["green"])))

    def main(self, only):
        tests = [("churn", self.test_churn), ("kill_sluiced", self.test_kill_sluiced),
                 ("kill_dataplane", self.test_kill_dataplane)]
        tests = [t for t in tests if not only or t[0] in only]
        try:
            self.setup()
        except Fail as e:
            for name, _ in tests:
                self.report(name, False, "setup: %s" % e)
            return
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                if self.ctl.p.poll() is not None:  # a test that failed with sluiced down
                    self.ctl.start()
                detail = fn()
                self.report(name, True, "%s (%.1f s)" % (detail, time.monotonic() - t0))
            except Fail as e:
                self.report(name, False, "%s (%.1f s)" % (e, time.monotonic() - t0))
            except (KeyError, TypeError, IndexError, ValueError) as e:
                self.report(name, False, "unexpected reply shape: %s: %s\n%s" % (
                    type(e).__name__, e, traceback.format_exc()))
            finally:
                for dp in self.dps:
                    if dp.p and dp.p.poll() is None:
                        try:
                            dp.stop()
                        except Fail as e:
                            print("note: %s" % e)
                self.dps = []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="meson build directory")
    ap.add_argument("--changes", type=int, default=10000, help="changes in the churn test")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep configurations, logs, journal and --stats files")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every step")
    ap.add_argument("tests", nargs="*", help="churn, kill_sluiced, kill_dataplane (default all)")
    args = ap.parse_args()
    e2e.VERBOSE = e2e.ln.VERBOSE = args.verbose
    if os.geteuid() != 0:
        print("churn: must run as root (bpffs, DPDK)")
        print("0 passed, 1 failed")
        return 1
    if args.changes < 1:
        print("churn: --changes must be at least 1")
        return 2
    r = Churn(args)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt("signal %d" % sig)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, on_signal)
    signal.alarm(WATCHDOG)
    t0 = time.monotonic()
    try:
        r.main(args.tests)
    except KeyboardInterrupt as e:
        print("FAIL churn: interrupted (%s; watchdog %d s)" % (e, WATCHDOG))
        r.failed += 1
    except Exception:
        traceback.print_exc()
        print("FAIL churn: unexpected error (above)")
        r.failed += 1
    finally:
        signal.alarm(0)
        r.cleanup()
    print("churn: %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 and r.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
