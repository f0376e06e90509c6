#!/usr/bin/env python3
"""Guards on the dataplane's own evidence, live: real TCP in namespaces.

The topology of tests/control_e2e.py (client, blue and green namespaces,
sluice-dp attached to sluiced's instance on net_af_packet ports).  Blue runs
the named echo server; green runs it in one of three modes:

  resets   the guard `resets` (signal rst) must abort a 1 % -> 5 % -> 20 %
           rollout: green resets 30 % of its connections (SO_LINGER 0 close
           after the first line: a RST from the server side);
  healthy  the same rollout completes with no guard failing;
  slow     green answers the first line 300 ms late: the guard `slow`
           (signal ttfb, threshold 200 ms, on_fail = pause) pauses it.

A client keeps opening short connections (greeting, one line, close) during
each rollout.  Every step holds (on_inconclusive = hold) until the guards
have their flows, so the rollout's pace follows the traffic, whatever the
machine's speed.

Prints PASS/FAIL per test and a final "N passed, N failed" line.
Usage (as root): tests/guards_live.py [--build DIR] [--keep-logs] [-v] [TEST...]
"""

import argparse
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

SELF = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(SELF))
import control_e2e as e2e  # noqa: E402
import live_netns as ln  # noqa: E402

Fail, check = ln.Fail, ln.check
PORT = e2e.PORT
ABORT_BOUND_S = 60  # the bound stated for the reset test: abort within a minute

GUARDS = """
[guard resets]
service = web
signal = rst
min_flows = 15
alpha = 1%
on_fail = abort
on_inconclusive = hold
rollouts = named

[guard slow]
service = web
signal = ttfb
threshold = 200ms
min_flows = 15
alpha = 1%
on_fail = pause
on_inconclusive = hold
rollouts = named
"""

PLAN = """[step 1]
share = 1%
dwell = 2s

[step 2]
share = 5%
dwell = 2s

[step 3]
share = 20%
dwell = 2s
"""


def role_server(name, port, mode):
    """The named echo server; mode resets / slow / healthy (see above)."""
    import socketserver

    tag = name.encode()
    rnd = random.Random(7)
    lock = threading.Lock()

    class Named(socketserver.StreamRequestHandler):
        def handle(self):
            self.request.settimeout(30)
            self.wfile.write(tag + b"\n")
            first = True
            while True:
                line = self.rfile.readline(1 << 16)
                if not line:
                    return
                if first and mode == "resets":
                    with lock:
                        bad = rnd.random() < 0.3
                    if bad:
                        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                struct.pack("ii", 1, 0))
                        self.request.close()
                        return
                if first and mode == "slow":
                    time.sleep(0.3)
                first = False
                self.wfile.write(tag + b" " + line)

    class TCP(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    srv = TCP((ln.VIP, port), Named)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


def role_load(seconds):
    """Short connections one after another for `seconds` (or until stdin
    closes): per group, answered and reset counts."""
    end = time.monotonic() + float(seconds)
    out = {"blue": 0, "green": 0, "reset": 0, "error": 0, "last_error": ""}
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    i = 0
    while time.monotonic() < end and not stop.is_set():
        s = None
        try:
            s, f, _, name = e2e.named_connect(PORT)
            e2e.exchange(s, f, name, i, 16)
            e2e.clean_close(s, f)
            out[name.decode()] = out.get(name.decode(), 0) + 1
        except ConnectionResetError:
            out["reset"] += 1
        except (OSError, ValueError) as e:
            if "closed the connection" in str(e):
                out["reset"] += 1
            else:
                out["error"] += 1
                out["last_error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            if s:
                s.close()
        i += 1
    print(json.dumps(out), flush=True)


def conf_text(ctl):
    return e2e.conf_text(ctl) + GUARDS


class Run(e2e.Run):
    def __init__(self, args):
        super().__init__(args)
        self.ctl = e2e.Control(self.build, self.tmp, conf_text, self.instance)
        self.green = None
        self.plan = os.path.join(self.tmp, "plan.ini")
        with open(self.plan, "w") as f:
            f.write(PLAN)

    def server(self, g, mode):
        p = self.topo.spawn(g, [sys.executable, SELF, "_gserver", g, str(PORT), mode])
        line = ln.read_line(p, e2e.T_START)
        check(line == "ready", "%s server (%s) did not start: %s" % (g, mode,
                                                                     line or ln.p_err(p)))
        return p

    def setup(self):
        self.topo.setup()
        self.server("blue", "healthy")
        self.ctl.start()
        self.dp = self.dataplane("guards")

    def green_mode(self, mode):
        if self.green:
            ln.stop_proc(self.green, signal.SIGTERM, 5)
        self.green = self.server("green", mode)

    def load(self, seconds):
        return self.topo.spawn("client", [sys.executable, SELF, "_load", str(seconds)],
                               stdin=subprocess.PIPE)

    def finish_load(self, p):
        try:
            out, err = p.communicate(input="", timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Fail("client load: no result within 30 s")
        lines = out.strip().splitlines()
        check(p.returncode == 0 and lines, "client load: exited %d: %s" % (
            p.returncode, err.strip()[-500:]))
        return json.loads(lines[-1])

    def rollout(self, guard, until, limit):
        """Starts the plan with the guard, keeps the client going until
        until(service status) or limit seconds; returns (status, seconds,
        load counts)."""
        self.ctl.ctl(["rollout", "start", "web", "--plan", self.plan, "--guard", guard])
        t0 = time.monotonic()
        p = self.load(limit + 30)
        s = None
        try:
            while time.monotonic() - t0 < limit:
                _, s = self.ctl.svc()
                if until(s):
                    break
                time.sleep(0.25)
        finally:
            counts = self.finish_load(p)
        return s, time.monotonic() - t0, counts

    def journal(self):
        with open(self.ctl.journal) as f:
            return [json.loads(x) for x in f if x.strip()]

    def guard_entry(self, guard):
        """The entries of guard since the last rollout start."""
        lines = self.journal()
        start = max(i for i, e in enumerate(lines) if e["cmd"] == "rollout_start")
        return [e for e in lines[start:] if e.get("actor") == "guard " + guard]

    def end_rollout(self):
        _, s = self.ctl.svc()
        if s["rollout"] and s["rollout"]["state"] in ("running", "paused"):
            self.ctl.ctl(["abort", "web"])
        # back to blue only, whatever the rollout ended with
        _, s = self.ctl.svc()
        if s["state"]["champion"] != "blue":
            self.ctl.ctl(["switch", "web", "blue"])

    def test_resets(self):
        self.green_mode("resets")
        s, took, counts = self.rollout(
            "resets", lambda s: s["rollout"]["state"] != "running", ABORT_BOUND_S)
        try:
            check(s["rollout"]["state"] == "aborted", "rollout not aborted within %d s: %s; "
                  "guards %s; client %s" % (ABORT_BOUND_S, s["rollout"]["state"],
                                            s["guards"], counts))
            e = self.guard_entry("resets")
            check(len(e) == 1 and e[0]["cmd"] == "rollout_abort", "journal: %s" % e)
            g = e[0]["guard"]
            check(g["challenger"]["bad"] > 0 and g["champion"]["bad"] == 0 and
                  g["statistic"] >= g["threshold"], "figures %s" % g)
            check(counts["reset"] > 0 and counts["error"] == 0,
                  "client: %s" % counts)
            return ("aborted %.1f s after the start at step %d (%s), challenger %d/%d reset, "
                    "champion %d/%d; client saw %d resets" % (
                        took, s["rollout"]["step"] + 1, g["sentence"].split(": failed")[0],
                        g["challenger"]["bad"], g["challenger"]["flows"],
                        g["champion"]["bad"], g["champion"]["flows"], counts["reset"]))
        finally:
            self.end_rollout()

    def test_healthy(self):
        self.green_mode("healthy")
        s, took, counts = self.rollout(
            "resets,slow", lambda s: s["rollout"]["state"] != "running", 120)
        try:
            check(s["rollout"]["state"] == "completed", "rollout %s after %.0f s: guards %s; "
                  "held %s; client %s" % (s["rollout"]["state"], took, s["guards"],
                                          s.get("held"), counts))
            check(not self.guard_entry("resets") and not self.guard_entry("slow"),
                  "a guard acted on a healthy green")
            check(counts["reset"] == 0 and counts["error"] == 0, "client: %s" % counts)
            check(s["state"]["champion"] == "green", "champion %s" % s["state"])
            return "completed in %.1f s; client: blue %d, green %d connections" % (
                took, counts["blue"], counts["green"])
        finally:
            self.end_rollout()

    def test_slow(self):
        self.green_mode("slow")
        s, took, counts = self.rollout(
            "slow", lambda s: s["rollout"]["state"] != "running", ABORT_BOUND_S)
        try:
            check(s["rollout"]["state"] == "paused", "rollout %s after %.0f s: guards %s" % (
                s["rollout"]["state"], took, s["guards"]))
            e = self.guard_entry("slow")
            check(len(e) == 1 and e[0]["cmd"] == "rollout_pause", "journal: %s" % e)
            g = e[0]["guard"]
            check(g["challenger"]["bad"] > 0 and g["champion"]["bad"] == 0, "figures %s" % g)
            return "paused %.1f s after the start: %s" % (took,
                                                         g["sentence"].split(": failed")[0])
        finally:
            self.end_rollout()

    def test_dataplane_alive(self):
        check(self.dp.p.poll() is None, "sluice-dp exited %s" % self.dp.p.returncode)
        return "sluice-dp forwarded every test"

    def tests(self):
        return [("resets", self.test_resets), ("healthy", self.test_healthy),
                ("slow", self.test_slow), ("dataplane_alive", self.test_dataplane_alive)]

    def after_test(self):
        pass  # one dataplane for every test

def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_gserver":
        role_server(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "_load":
        role_load(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(e2e.ROOT, "build"))
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("tests", nargs="*", help="resets, healthy, slow (default all)")
    args = ap.parse_args()
    e2e.VERBOSE = ln.VERBOSE = args.verbose
    if os.geteuid() != 0:
        print("guards_live: must run as root (namespaces, veths, bpffs)")
        print("0 passed, 1 failed")
        return 1
    r = Run(args)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt("signal %d" % sig)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, on_signal)
    signal.alarm(600)
    t0 = time.monotonic()
    try:
        ln.remove_stale()
        r.main(args.tests)
    except KeyboardInterrupt as e:
        print("FAIL guards_live: interrupted (%s)" % e)
        r.failed += 1
    except Exception:
        traceback.print_exc()
        print("FAIL guards_live: unexpected error (above)")
        r.failed += 1
    finally:
        signal.alarm(0)
        if r.green:
            ln.stop_proc(r.green, signal.SIGTERM, 5)
        r.cleanup()
    print("guards_live: %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 and r.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
