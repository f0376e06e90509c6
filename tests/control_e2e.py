#!/usr/bin/env python3
"""End-to-end tests of the control plane: sluiced + sluice-dp + sluicectl, real TCP.

The topology of tests/live_netns.py (client, blue and green namespaces, blue
and green owning 10.99.0.100 with one MAC, sluice-dp in a namespace of its
own on net_af_packet ports), but sluice-dp runs attached to an instance
(--instance test-e2e-PID) whose tables sluiced publishes, and every change is
made by the real sluicectl (exit status and output checked).  Blue and green
each run a "named echo" server on :9090: it greets a connection with its name
and answers every line with "NAME LINE", so every exchange says which group
served it.

Tests:
  runbook         canary, switch and back, rollout with pause/resume/promote to
                  completion, undo, a second rollout aborted; after each step the
                  split of new connections, status (state and the three
                  sentences), long connections alive on their group; history;
                  sluice-dp --stats (no drop, SYN-ACKs per group).
  sticky_reset    abort --reset breaks exactly the connections on green (RST
                  from blue), abort (sticky) breaks none.
  bad_input       refused requests (sluicectl and raw socket lines) change
                  neither the journal nor the pinned generation.

Prints PASS/FAIL per test and a final "N passed, N failed" line; exit status 0
only if every test passed.

Usage (as root): tests/control_e2e.py [--build DIR] [--keep-logs] [-v] [TEST...]
"""

import argparse
import ctypes
import hashlib
import json
import mmap
import os
import platform
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SELF = os.path.abspath(__file__)
TESTS_DIR = os.path.dirname(SELF)
ROOT = os.path.dirname(TESTS_DIR)
sys.path.insert(0, TESTS_DIR)
import live_netns as ln  # noqa: E402  (namespaces, servers, process helpers)
from harness import Tally  # noqa: E402

Fail = ln.Fail
check = ln.check

VIP = ln.VIP
PORT = 9090            # the named echo servers (live_netns's own servers use 8080, 7, 5353)
GROUPS = ("blue", "green")
BPFFS = "/sys/fs/bpf"
BATCH = 100            # new connections per checked step
TICK = 0.1             # a long connection exchanges a line every 100 ms
T_CMD = 15             # any sluicectl call
T_START = 30           # a process becoming ready
T_STOP = 15
T_HELPER = 60          # a batch of short connections
WATCHDOG = 300         # the whole run, whatever hangs

VERBOSE = False


def log(msg):
    if VERBOSE:
        print("  .. " + msg, flush=True)


# ---------------------------------------------------------------------------
# Helpers run inside a namespace: `ip netns exec NS python3 control_e2e.py _ROLE`
# ---------------------------------------------------------------------------

def role_server(name, port):
    import socketserver

    tag = name.encode()

    class Named(socketserver.StreamRequestHandler):
        def handle(self):
            self.request.settimeout(120)
            self.wfile.write(tag + b"\n")
            while True:
                line = self.rfile.readline(1 << 16)
                if not line:
                    return
                self.wfile.write(tag + b" " + line)

    class TCP(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    srv = TCP((VIP, port), Named)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


def named_connect(port):
    """A connection to VIP:port; returns (socket, reader, sport, name)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(ln.CONNECT_TIMEOUT)
    try:
        s.connect((VIP, port))
        sport = s.getsockname()[1]
        s.settimeout(ln.IO_TIMEOUT)
        f = s.makefile("rb")
        greet = f.readline(64)
        if not greet.endswith(b"\n"):
            raise ValueError("no greeting from the server (got %r)" % greet)
        return s, f, sport, greet.strip()
    except BaseException:
        s.close()
        raise


def exchange(s, f, name, seq, size):
    """One line out, its named echo back; returns the bytes sent."""
    line = b"%d %s\n" % (seq, os.urandom(size).hex().encode())
    s.sendall(line)
    back = f.readline(len(line) + 64)
    if not back:
        raise ValueError("server closed the connection")
    if back != name + b" " + line:
        raise ValueError("reply %r... is not '%s' + the line" % (back[:24], name.decode()))
    return len(line)


def clean_close(s, f):
    """Our FIN first, then the server's: nothing may come after it."""
    s.shutdown(socket.SHUT_WR)
    rest = f.read()
    if rest:
        raise ValueError("%d bytes after our FIN" % len(rest))


def role_short(count, deadline):
    """count sequential connections: greeting, one exchange, clean close."""
    end = time.monotonic() + deadline
    out = []
    for i in range(count):
        why = ln.gave_up(out, end)
        if why:
            out.append({"sport": 0, "name": None, "err": why})
            continue
        r = {"sport": 0, "name": None, "err": None}
        s = None
        try:
            s, f, r["sport"], name = named_connect(PORT)
            r["name"] = name.decode(errors="replace")
            exchange(s, f, name, i, 32)
            clean_close(s, f)
        except (OSError, ValueError) as e:
            r["err"] = "%s: %s" % (type(e).__name__, e)
        finally:
            if s:
                s.close()
        out.append(r)
    print(json.dumps(out), flush=True)


def role_long():
    """Long-lived connections driven by commands on stdin, one JSON line
    answered per command:
      open N        open N connections; each then exchanges a line every 100 ms
      report        every connection's state
      close all|ID...  stop exchanging, close cleanly, report those
    EOF on stdin closes every connection and exits."""
    conns = []
    out_lock = threading.Lock()

    class Conn:
        def __init__(self, i):
            self.id = i
            self.sport = 0
            self.name = None
            self.exchanges = 0
            self.bytes = 0
            self.err = None
            self.rst = False
            self.closed = False
            self.stop = threading.Event()
            self.thread = None
            self.s = self.f = None

        def fail(self, e):
            self.err = "%s: %s" % (type(e).__name__, e)
            self.rst = isinstance(e, ConnectionResetError)

        def loop(self):
            while not self.stop.wait(TICK):
                size = 1 + int.from_bytes(os.urandom(2), "big") % 1500
                try:
                    self.bytes += exchange(self.s, self.f, self.name, self.exchanges, size)
                    self.exchanges += 1
                except (OSError, ValueError) as e:
                    self.fail(e)
                    return

        def close(self):
            self.stop.set()
            if self.thread:
                self.thread.join(ln.IO_TIMEOUT + 2)
            if self.s is None:
                return
            try:
                if self.err is None:
                    clean_close(self.s, self.f)
                    self.closed = True
            except (OSError, ValueError) as e:
                self.fail(e)
            finally:
                self.s.close()

        def state(self):
            return {"id": self.id, "sport": self.sport,
                    "name": self.name.decode(errors="replace") if self.name else None,
                    "exchanges": self.exchanges, "bytes": self.bytes, "err": self.err,
                    "rst": self.rst, "closed": self.closed}

    def emit(obj):
        with out_lock:
            print(json.dumps(obj), flush=True)

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "open":
            new = []
            for _ in range(int(words[1])):
                c = Conn(len(conns))
                conns.append(c)
                new.append(c)
                try:
                    c.s, c.f, c.sport, c.name = named_connect(PORT)
                except (OSError, ValueError) as e:
                    c.fail(e)
                    continue
                c.thread = threading.Thread(target=c.loop, daemon=True)
                c.thread.start()
            emit([c.state() for c in new])
        elif words[0] == "report":
            emit([c.state() for c in conns])
        elif words[0] == "close":
            which = conns if words[1:] == ["all"] else [conns[int(w)] for w in words[1:]]
            for c in which:
                c.close()
            emit([c.state() for c in which])
        else:
            emit({"error": "unknown command %r" % words[0]})
    for c in conns:
        c.close()


def helper_main(argv):
    role = argv[0]
    if role == "_server":
        role_server(argv[1], int(argv[2]))
    elif role == "_short":
        role_short(int(argv[1]), float(argv[2]))
    elif role == "_long":
        role_long()
    else:
        sys.exit("control_e2e: unknown helper role %r" % role)


# ---------------------------------------------------------------------------
# Pinned maps, read directly (bpf(BPF_OBJ_GET) + mmap): what the dataplane sees
# ---------------------------------------------------------------------------

BPF_OBJ_GET = 7
NR_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())


def pinned_read(path, fmt, offset=0):
    """Unpack fmt at offset of element 0 of the pinned mmapable array map."""
    if NR_BPF is None:
        raise Fail("bpf syscall number unknown on %s" % platform.machine())
    libc = ctypes.CDLL(None, use_errno=True)
    name = ctypes.create_string_buffer(path.encode())
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("=QII", attr, 0, ctypes.addressof(name), 0, 0)
    fd = libc.syscall(NR_BPF, BPF_OBJ_GET, attr, 128)
    if fd < 0:
        e = ctypes.get_errno()
        raise Fail("%s: BPF_OBJ_GET: %s" % (path, os.strerror(e)))
    try:
        m = mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED, mmap.PROT_READ)
        try:
            return struct.unpack_from(fmt, m, offset)
        finally:
            m.close()
    finally:
        os.close(fd)


def pinned_gen(instance):
    """struct sl_control: layout_version, active_slot, gen."""
    return pinned_read(os.path.join(BPFFS, "sluice", instance, "control"), "=III")[2]


def pinned_rx(instance, nports):
    """Worker 0's port_rx[] (struct sl_counters starts with it)."""
    return pinned_read(os.path.join(BPFFS, "sluice", instance, "stats"), "=%dQ" % nports)


# ---------------------------------------------------------------------------
# sluiced, sluicectl, an attached sluice-dp
# ---------------------------------------------------------------------------

def stop_proc(p, sig=signal.SIGTERM, wait=T_STOP):
    return ln.stop_proc(p, sig, wait)


class Control:
    """One sluiced (instance, socket, journal of its own) and sluicectl."""

    def __init__(self, build, tmp, conf_text_fn, instance):
        self.build = build
        self.tmp = tmp
        self.instance = instance
        self.sock = os.path.join(tmp, "sluiced.sock")
        self.journal = os.path.join(tmp, "journal")
        self.conf = os.path.join(tmp, "sluice.ini")
        self.logpath = os.path.join(tmp, "sluiced.log")
        self.exe = os.path.join(build, "control", "sluiced")
        self.ctl_exe = os.path.join(build, "control", "sluicectl")
        self.p = None
        self.killed = False  # by kill9(): its exit status says nothing
        self.logf = None
        with open(self.conf, "w") as f:
            f.write(conf_text_fn(self))

    def control_section(self):
        return ("[control]\ninstance = %s\nbpffs = %s\nsocket = %s\njournal = %s\n"
                "bpf_object = %s\nack_timeout = 1s\n"
                % (self.instance, BPFFS, self.sock, self.journal,
                   os.path.join(self.build, "ebpf", "sluice_maps.bpf.o")))

    def start(self):
        for exe in (self.exe, self.ctl_exe):
            check(os.access(exe, os.X_OK), "%s is not built (meson setup && ninja first)" % exe)
        self.logf = open(self.logpath, "a")
        self.killed = False
        log("sluiced -c %s" % self.conf)
        self.p = subprocess.Popen([self.exe, "-c", self.conf], stdout=self.logf,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  preexec_fn=ln.pdeathsig)
        end = time.monotonic() + T_START
        while time.monotonic() < end:
            if self.p.poll() is not None:
                raise Fail("sluiced exited %s at start: %s" % (self.p.returncode,
                                                               self.logtail()))
            if os.path.exists(self.sock) and self.run(["version"])[0] == 0:
                return
            time.sleep(0.05)
        raise Fail("sluiced did not answer within %ss: %s" % (T_START, self.logtail()))

    def stop(self):
        """SIGTERM: exit 0 expected.  Returns the exit status (None: never
        started, or killed by kill9)."""
        if self.p is None or self.killed:
            return None
        if self.p.poll() is not None:
            return self.p.returncode
        rc = stop_proc(self.p)
        self.logf.close()
        return rc

    def stop_checked(self, tally):
        """The end of a run: stop() and unpin(); a non-zero exit (a sanitizer
        report comes at exit) or a pin left behind is a failure of tally."""
        rc = self.stop()
        if rc not in (None, 0):
            print("FAIL cleanup: sluiced exited %s: %s" % (rc, self.logtail()))
            tally.failed += 1
        if not self.unpin():
            print("FAIL cleanup: %s/sluice/%s still pinned" % (BPFFS, self.instance))
            tally.failed += 1

    def kill9(self):
        self.p.kill()
        self.p.wait(5)
        self.killed = True
        self.logf.close()

    def logtail(self, n=1500):
        try:
            with open(self.logpath) as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"

    def run(self, args, timeout=T_CMD):
        cmd = [self.ctl_exe, "--socket", self.sock] + args
        log(" ".join(cmd[3:]))
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Fail("'sluicectl %s' did not finish within %ss" % (" ".join(args), timeout))
        return p.returncode, p.stdout, p.stderr

    def ctl(self, args, rc=0, out_re=None, err_re=None):
        """sluicectl ARGS: exit status rc, stdout/stderr matching (re.fullmatch, DOTALL)."""
        got, out, err = self.run(args)
        what = "'sluicectl %s'" % " ".join(args)
        check(got == rc, "%s exited %d (expected %d): stdout %r stderr %r"
              % (what, got, rc, out.strip(), err.strip()))
        if out_re is not None:
            check(re.fullmatch(out_re, out, re.S), "%s: stdout %r does not match %r"
                  % (what, out, out_re))
        if err_re is not None:
            check(re.fullmatch(err_re, err, re.S), "%s: stderr %r does not match %r"
                  % (what, err, err_re))
        return out, err

    def json(self, args, rc=0):
        out, _ = self.ctl(["--json"] + args, rc)
        try:
            rep = json.loads(out)
        except ValueError:
            raise Fail("'sluicectl --json %s': not JSON: %r" % (" ".join(args), out[:300]))
        if rc == 0:
            check(rep.get("ok") is True, "'sluicectl --json %s': %s" % (" ".join(args), rep))
            return rep["result"]
        return rep

    def status(self):
        return self.json(["status"])

    def svc(self, name="web"):
        st = self.status()
        for s in st["services"]:
            if s["state"]["name"] == name:
                return st, s
        raise Fail("status has no service %s: %s" % (name, st))

    def journal_sig(self):
        with open(self.journal, "rb") as f:
            data = f.read()
        return len(data), hashlib.sha256(data).hexdigest()

    def unpin(self):
        d = os.path.join(BPFFS, "sluice", self.instance)
        if os.path.isdir(d):
            shutil.rmtree(d, ignore_errors=True)
        return not os.path.exists(d)


class AttachedDP:
    """sluice-dp --instance in the topology's dp namespace.  nsenter --net,
    not `ip netns exec`: the latter remounts /sys, which hides the bpffs
    holding the instance's pinned maps."""

    def __init__(self, build, ctl, tag, netns=None, conf=None, extra=()):
        self.exe = os.path.join(build, "dataplane", "sluice-dp")
        self.ctl = ctl
        self.stats_path = os.path.join(ctl.tmp, "dp-%s.stats.json" % tag)
        self.logpath = os.path.join(ctl.tmp, "dp-%s.log" % tag)
        self.cmd = ["nsenter", "--net=/run/netns/" + netns] if netns else []
        self.cmd += [self.exe, "-c", conf or ctl.conf, "--instance", ctl.instance, "--stats",
                     self.stats_path] + list(extra)
        self.p = None
        self.stats = None

    def start(self):
        check(os.access(self.exe, os.X_OK), "%s is not built" % self.exe)
        self.logf = open(self.logpath, "w")
        log(" ".join(self.cmd))
        self.p = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, preexec_fn=ln.pdeathsig)
        end = time.monotonic() + T_START
        while time.monotonic() < end:
            if self.p.poll() is not None:
                raise Fail("sluice-dp exited %s before forwarding: %s"
                           % (self.p.returncode, self.logtail()))
            if re.search(r"^sluice-dp: \d+ ports?, \d+ workers?, forwarding$", self.logtext(),
                         re.M):
                break
            time.sleep(0.05)
        else:
            raise Fail("sluice-dp did not forward within %ss: %s" % (T_START, self.logtail()))
        # attached in status, and sampled (the sentences come from the
        # once-a-second sample of the stats map, not from the live worker count)
        while time.monotonic() < end:
            st = self.ctl.status()
            dp = st["dataplane"]
            if dp["attached"] and dp["pid"] == self.p.pid and all(
                    "no dataplane attached" not in s["sentences"]["live_share"]
                    for s in st["services"]):
                return
            time.sleep(0.05)
        raise Fail("sluiced does not see sluice-dp (pid %d) attached within %ss: %s"
                   % (self.p.pid, T_START, st))

    def logtext(self):
        with open(self.logpath) as f:
            return f.read()

    def logtail(self, n=1500):
        return self.logtext()[-n:]

    def stop(self):
        """SIGTERM: exit 0 and the --stats file expected."""
        if self.p is None or self.p.poll() is not None:
            return
        rc = stop_proc(self.p)
        self.logf.close()
        check(rc == 0, "sluice-dp exited %s after SIGTERM: %s" % (rc, self.logtail()))
        try:
            with open(self.stats_path) as f:
                self.stats = json.load(f)
        except (OSError, ValueError) as e:
            raise Fail("--stats %s: %s" % (self.stats_path, e))

    def kill(self):
        if self.p is not None and self.p.poll() is None:
            stop_proc(self.p)

    def group(self, g, svc="web"):
        return self.stats["services"][svc]["groups"].get(g, {})

    def check_no_drops(self):
        for name, port in self.stats["ports"].items():
            for k in ("drops", "rx_missed", "tx_errors"):
                check(port[k] == 0, "sluice-dp --stats: port %s %s %d" % (name, k, port[k]))


class Long:
    """The _long helper in the client namespace: long-lived connections."""

    def __init__(self, topo):
        self.p = topo.spawn("client", [sys.executable, SELF, "_long"], stdin=subprocess.PIPE)
        self.known = {}

    def cmd(self, line, timeout):
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
        except OSError as e:
            raise Fail("long-connection helper: %s (%s)" % (e, ln.p_err(self.p)))
        got = ln.read_line(self.p, timeout)
        if got is None:
            raise Fail("long-connection helper: no answer to %r within %ss (%s)"
                       % (line, timeout, ln.p_err(self.p)))
        try:
            return json.loads(got)
        except ValueError:
            raise Fail("long-connection helper: %r" % got[:200])

    def open(self, n):
        conns = self.cmd("open %d" % n, n * (ln.CONNECT_TIMEOUT + ln.IO_TIMEOUT) + 5)
        bad = [c for c in conns if c["err"] or c["name"] not in GROUPS]
        check(not bad, "%d of %d long connections did not open: %s" % (
            len(bad), n, "; ".join("sport %s: %s" % (c["sport"], c["err"] or c["name"])
                                   for c in bad[:3])))
        for c in conns:
            self.known[c["id"]] = c
        return conns

    def report(self):
        return self.cmd("report", 10)

    def close(self, ids):
        words = "all" if ids == "all" else " ".join(str(i) for i in ids)
        n = len(self.known) if ids == "all" else len(ids)
        return self.cmd("close " + words, n * (ln.IO_TIMEOUT + 3) + 5)

    def check_alive(self, what, ids=None):
        """Every (listed) connection still works: no error, exchanges going on
        since the last check, and still answered by the group it started on
        (each reply names its server)."""
        now = {c["id"]: c for c in self.report()}
        ids = list(self.known) if ids is None else ids
        for i in ids:
            c, before = now[i], self.known[i]
            check(not c["err"], "%s: long connection %d (sport %d, on %s) broke after %d "
                  "exchanges: %s" % (what, i, c["sport"], before["name"], c["exchanges"],
                                     c["err"]))
            check(c["name"] == before["name"], "%s: long connection %d moved from %s to %s"
                  % (what, i, before["name"], c["name"]))
            check(c["exchanges"] > before["exchanges"], "%s: long connection %d made no "
                  "exchange since the last check (%d)" % (what, i, c["exchanges"]))
        for i in ids:
            self.known[i] = now[i]
        return now

    def quit(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            stop_proc(self.p, signal.SIGTERM, 10)


def batch(topo, n, green_bp, what):
    """n new connections; each answered, by the groups green_bp says
    (0 and 10000 exact, else binomial within 4.5 sigma).  Returns
    (per group counts, results)."""
    t0 = time.monotonic()
    res = ln.helper_result(topo.spawn("client", [sys.executable, SELF, "_short", str(n),
                                                 str(T_HELPER - 10)]),
                           T_HELPER, "short connections")
    dt = time.monotonic() - t0
    check(len(res) == n, "%s: %d results for %d connections" % (what, len(res), n))
    bad = [r for r in res if r["err"] or r["name"] not in GROUPS]
    check(not bad, "%s: %d of %d connections failed: %s" % (
        what, len(bad), n, "; ".join("sport %s: %s" % (r["sport"], r["err"] or r["name"])
                                     for r in bad[:3])))
    check(len({r["sport"] for r in res}) == n, "%s: source ports not distinct" % what)
    by = {g: sum(1 for r in res if r["name"] == g) for g in GROUPS}
    p = green_bp / 10000
    if green_bp == 0:
        check(by["green"] == 0, "%s: %d of %d new connections on green, 0 expected"
              % (what, by["green"], n))
    elif green_bp == 10000:
        check(by["blue"] == 0, "%s: %d of %d new connections on blue, 0 expected"
              % (what, by["blue"], n))
    else:
        exp, tol = n * p, ln.tolerance(n, p)
        check(abs(by["green"] - exp) <= tol, "%s: green answered %d of %d new connections, "
              "expected %.0f +- %.1f" % (what, by["green"], n, exp, tol))
    log("%s: %d connections in %.1fs: blue %d, green %d" % (what, n, dt, by["blue"],
                                                             by["green"]))
    return by


# ---------------------------------------------------------------------------
# Expected status
# ---------------------------------------------------------------------------

def expect_status(ctl, what, champ, chall, share_bp, strategy, gen=None, rollout=None,
                  undo=None, long_on=None):
    """status --json of web: state, configured share, rollout, and the three
    sentences.  undo: None (nothing to undo) or (generation, share_bp) the
    steady rollback sentence must name.  long_on: group -> live long
    connections the established-flow count must cover."""
    # active flows come from sluiced's once-a-second sample of the stats map:
    # wait up to 2.5 s for a sample that has seen the long connections
    end = time.monotonic() + 2.5
    while True:
        st, s = ctl.svc()
        chall_now = s["state"]["challenger"]
        need = (long_on or {}).get(chall_now, 0)
        if s["active_flows"].get(chall_now, 0) >= need or time.monotonic() > end:
            break
        time.sleep(0.1)
    state = s["state"]
    want = {"name": "web", "champion": champ, "challenger": chall, "share_bp": share_bp,
            "strategy": strategy}
    got = {k: state.get(k) for k in want}
    check(got == want, "%s: status state %s, expected %s" % (what, got, want))
    check(s["configured_share_bp"] == share_bp, "%s: configured_share_bp %s, expected %d"
          % (what, s["configured_share_bp"], share_bp))
    if gen is not None:
        check(st["gen"] == gen and s["gen"] == gen, "%s: status generation %s (service %s), "
              "expected %d" % (what, st["gen"], s["gen"], gen))
    check(st["dataplane"]["attached"], "%s: status says no dataplane attached" % what)
    ro = s["rollout"]
    if rollout is not None:
        check(ro is not None, "%s: no rollout in status" % what)
        for k, v in rollout.items():
            check(ro.get(k) == v, "%s: rollout %s is %r, expected %r (%s)"
                  % (what, k, ro.get(k), v, ro))
    sent = s["sentences"]
    share = "%.2f" % (share_bp / 100)
    act = s["active_flows"].get(chall)
    if share_bp == 0:
        m = re.fullmatch(r"Challenger output reaches users: no, %s receives no new flows "
                         r"\((\d+) established %s flows? remains?\)\." % (chall, chall),
                         sent["challenger_output"])
    else:
        m = re.fullmatch(r"Challenger output reaches users: yes, %s serves %s %% of new "
                         r"flows\.()" % (chall, re.escape(share)), sent["challenger_output"])
    check(m, "%s: challenger_output sentence %r" % (what, sent["challenger_output"]))
    if share_bp == 0:
        n = int(m.group(1))
        check(n == act, "%s: sentence says %d established %s flows, active_flows says %s"
              % (what, n, chall, act))
        check(("flow remains" in sent["challenger_output"]) == (n == 1),
              "%s: singular/plural: %r" % (what, sent["challenger_output"]))
    check(re.fullmatch(r"Live on the challenger: %s %% of new flows \((measured [0-9.]+ %% "
                       r"over the last \d+ s|no new flows in the last \d+ s|nothing measured "
                       r"yet: the dataplane attached less than 2 s ago)\)\." % re.escape(share),
                       sent["live_share"]),
          "%s: live_share sentence %r" % (what, sent["live_share"]))
    rb = sent["rollback"]
    if strategy in ("canary", "rollout"):
        m = re.fullmatch(r"Rollback: abort sends 100 %% of new flows to %s at once; (\d+) "
                         r"established %s flows? keeps? (its|their) backend until (it|they) "
                         r"ends? \(sticky; with --reset they are re-decided at once\)\."
                         % (champ, chall), rb)
        check(m and int(m.group(1)) == act, "%s: rollback sentence %r (active %s flows: %s)"
              % (what, rb, chall, act))
    elif strategy == "blue-green":
        check(rb == "Rollback: `switch web %s` moves 100 %% of new flows back to %s at once; "
              "%s is still configured." % (chall, chall, chall),
              "%s: rollback sentence %r" % (what, rb))
    elif undo is None:
        check(rb == "Rollback: nothing to roll back; nothing to undo.",
              "%s: rollback sentence %r" % (what, rb))
    else:
        exp = ("Rollback: nothing to roll back; undo restores generation %d (share %.2f %%)."
               % (undo[0], undo[1] / 100))
        check(rb == exp, "%s: rollback sentence %r, expected %r" % (what, rb, exp))
    for g, n in (long_on or {}).items():
        if g == chall:
            check(act is not None and act >= n, "%s: %s active flows %s, but %d long "
                  "connections are open on it (status: %s)" % (what, g, act, n, s))
    return st, s


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def conf_text(ctl):
    """conf/netns.ini's dataplane, ports and groups; one service web on :9090."""
    c = ln.base_conf()
    out = []
    for sec in c.sections():
        if sec.startswith("service ") or sec == "control":
            continue
        out.append("[%s]" % sec)
        out += ["%s = %s" % kv for kv in c[sec].items()]
        out.append("")
    out += ["[service web]", "proto = tcp", "vip = %s" % VIP, "ports = %d" % PORT,
            "champion = blue", "challenger = green", "share = 0%", ""]
    return "\n".join(out) + ctl.control_section()


ACK = r", acknowledged by 1 worker in \d+ us\n"


class Run(Tally):
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.keep = args.keep_logs
        self.tmp = tempfile.mkdtemp(prefix="sluice-e2e-")
        self.instance = "test-e2e-%d" % os.getpid()
        self.topo = ln.Topology()
        self.ctl = Control(self.build, self.tmp, conf_text, self.instance)
        self.passed = self.failed = 0
        self.dps = []
        self.longs = []
        self.cleaned = False

    def dataplane(self, tag):
        dp = AttachedDP(self.build, self.ctl, tag, netns=self.topo.ns["dp"])
        self.dps.append(dp)
        dp.start()
        return dp

    def long(self):
        lg = Long(self.topo)
        self.longs.append(lg)
        return lg

    def setup(self):
        t0 = time.monotonic()
        self.topo.setup()
        for g in GROUPS:
            p = self.topo.spawn(g, [sys.executable, SELF, "_server", g, str(PORT)])
            line = ln.read_line(p, T_START)
            check(line == "ready", "%s named echo server did not start: %s"
                  % (g, line or ln.p_err(p)))
        self.ctl.start()
        log("topology and sluiced up in %.1fs" % (time.monotonic() - t0))

    def cleanup(self):
        if self.cleaned:
            return
        self.cleaned = True
        for lg in self.longs:
            lg.quit()
        for dp in self.dps:
            dp.kill()
        self.ctl.stop_checked(self)
        self.topo.cleanup()
        if self.keep:
            print("logs and configurations: %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- 1. the runbook ----------------------------------------------------

    def test_runbook(self):
        ctl, topo = self.ctl, self.topo
        t_start = time.monotonic()
        hist = [(1, "init", "daemon")]
        answered = {g: 0 for g in GROUPS}

        def tally(by):
            for g in GROUPS:
                answered[g] += by[g]

        def step(what, green_bp, **status):
            expect_status(ctl, what, **status)
            tally(batch(topo, BATCH, green_bp, what))
            lg.check_alive(what)

        def wait_rollout(pred, what, timeout=10):
            end = time.monotonic() + timeout
            while True:
                st, s = ctl.svc()
                if s["rollout"] and pred(s["rollout"]):
                    return st, s
                check(time.monotonic() < end, "%s: not reached within %ss (rollout %s)"
                      % (what, timeout, s["rollout"]))
                time.sleep(0.05)

        dp = self.dataplane("runbook")
        expect_status(ctl, "start", "blue", "green", 0, "steady", gen=1)
        lg = self.long()
        conns = lg.open(10)
        check(all(c["name"] == "blue" for c in conns), "long connections at 0 %%: %s"
              % [c["name"] for c in conns])
        tally({"blue": 10, "green": 0})
        step("0 %", 0, champ="blue", chall="green", share_bp=0, strategy="steady", gen=1,
             long_on={"blue": 10})

        ctl.ctl(["canary", "web", "20%"], 0, r"web: canary 20\.00 % -> green, generation 2" + ACK)
        hist.append((2, "canary", "uid"))
        step("canary 20 %", 2000, champ="blue", chall="green", share_bp=2000,
             strategy="canary", gen=2)

        ctl.ctl(["switch", "web", "green"], 0, r"web: blue-green, all new flows -> green, blue "
                r"kept for a switch back, generation 3" + ACK)
        hist.append((3, "switch", "uid"))
        step("switch green", 10000, champ="green", chall="blue", share_bp=0,
             strategy="blue-green", gen=3, long_on={"blue": 10})
        conns = lg.open(5)
        check(all(c["name"] == "green" for c in conns), "long connections after switch green: "
              "%s" % [c["name"] for c in conns])
        tally({"blue": 0, "green": 5})

        ctl.ctl(["switch", "web", "blue"], 0, r"web: blue-green, all new flows -> blue, green "
                r"kept for a switch back, generation 4" + ACK)
        hist.append((4, "switch", "uid"))
        step("switch blue", 0, champ="blue", chall="green", share_bp=0, strategy="blue-green",
             gen=4, long_on={"green": 5})

        # rollout: start, pause at once (dwell 2 s), the share stays while paused
        ctl.ctl(["rollout", "start", "web", "--steps", "10%,50%,100%", "--dwell", "2s"], 0,
                r"web: rollout step 1/3 at 10\.00 % -> green, running, next step in 2 s, "
                r"generation 5" + ACK)
        hist.append((5, "rollout_start", "uid"))
        ctl.ctl(["rollout", "pause"], 0, r"web: rollout step 1/3 at 10\.00 % -> green, paused "
                r"by the operator with [12] s of dwell left \(resume to go on\), generation 5\n")
        t_pause = time.monotonic()
        hist.append((5, "rollout_pause", "uid"))
        ro = {"state": "paused", "step": 0, "step_share_bp": 1000, "operator_pause": True}
        step("rollout step 1 paused", 1000, champ="blue", chall="green", share_bp=1000,
             strategy="rollout", gen=5, rollout=ro, long_on={"green": 5})
        _, s = ctl.svc()
        left = s["rollout"]["dwell_left_ms"]
        time.sleep(max(0.0, 2.5 - (time.monotonic() - t_pause)))
        _, s = expect_status(ctl, "paused past the dwell", "blue", "green", 1000, "rollout",
                             gen=5, rollout=ro)
        check(s["rollout"]["dwell_left_ms"] == left and s["rollout"]["next_step_in_ms"] is None,
              "paused rollout: dwell left %s then %s, next step in %s" % (
                  left, s["rollout"]["dwell_left_ms"], s["rollout"]["next_step_in_ms"]))

        ctl.ctl(["rollout", "resume"], 0, r"web: rollout step 1/3 at 10\.00 % -> green, "
                r"running, next step in [12] s, generation 5\n")
        hist.append((5, "rollout_resume", "uid"))
        ctl.ctl(["rollout", "promote"], 0, r"web: rollout step 2/3 at 50\.00 % -> green, "
                r"running, next step in 2 s, generation 6" + ACK)
        hist.append((6, "rollout_promote", "uid"))
        # paused again to measure 50 % without the 2 s timer moving it
        ctl.ctl(["rollout", "pause", "web"], 0, r"web: rollout step 2/3 at 50\.00 % -> green, "
                r"paused by the operator with [12] s of dwell left \(resume to go on\), "
                r"generation 6\n")
        hist.append((6, "rollout_pause", "uid"))
        step("rollout step 2 paused", 5000, champ="blue", chall="green", share_bp=5000,
             strategy="rollout", gen=6, rollout={"state": "paused", "step": 1},
             long_on={"green": 5})
        ctl.ctl(["rollout", "resume", "web"], 0, r"web: rollout step 2/3 at 50\.00 % -> green, "
                r"running, next step in [12] s, generation 6\n")
        hist.append((6, "rollout_resume", "uid"))

        # the timer takes step 3 (100 %), then completes: green is champion
        st, _ = wait_rollout(lambda r: r["step"] == 2, "rollout step 3 by the timer")
        check(st["gen"] == 7, "step 3 published as generation %d, expected 7" % st["gen"])
        hist.append((7, "rollout_step", "plan"))
        expect_status(ctl, "rollout step 3", "blue", "green", 10000, "rollout", gen=7,
                      rollout={"step": 2, "step_share_bp": 10000}, long_on={"green": 5})
        tally(batch(topo, BATCH, 10000, "rollout step 3 (100 %)"))
        wait_rollout(lambda r: r["state"] == "completed", "rollout completion")
        hist.append((8, "rollout_step", "plan"))
        step("rollout completed", 10000, champ="green", chall="blue", share_bp=0,
             strategy="steady", gen=8, rollout={"state": "completed"}, undo=(7, 10000),
             long_on={"blue": 10})
        out, _ = ctl.ctl(["status", "web"])
        check("  rollout: completed after step 3/3 (green became champion)" in
              out.splitlines(), "status after completion: %r" % out)
        check(re.search(r"^  green +champion +100\.00 %", out, re.M),
              "status: green not champion at 100 %%: %r" % out)

        ctl.ctl(["undo", "web"], 0, r"web: canary 100\.00 % -> green, generation 9" + ACK)
        hist.append((9, "undo", "uid"))
        step("undo", 10000, champ="blue", chall="green", share_bp=10000, strategy="canary",
             gen=9, long_on={"green": 5})

        ctl.ctl(["rollout", "start", "web", "--steps", "30%,100%", "--dwell", "1h"], 0,
                r"web: rollout step 1/2 at 30\.00 % -> green, running, next step in 3600 s, "
                r"generation 10" + ACK)
        hist.append((10, "rollout_start", "uid"))
        step("second rollout 30 %", 3000, champ="blue", chall="green", share_bp=3000,
             strategy="rollout", gen=10, rollout={"state": "running", "step": 0},
             long_on={"green": 5})
        ctl.ctl(["rollout", "abort"], 0, r"web: rollout aborted at step 1/2 \(green at 0 %\); "
                r"now steady, all new flows -> blue, generation 11" + ACK)
        hist.append((11, "rollout_abort", "uid"))
        step("abort", 0, champ="blue", chall="green", share_bp=0, strategy="steady", gen=11,
             rollout={"state": "aborted"}, undo=(10, 3000), long_on={"green": 5})

        # history: every change, its generation and its actor, in order
        entries = ctl.json(["history", "--limit", "100"])["entries"]
        got = []
        for e in entries:
            a = e.get("actor")
            kind = a if isinstance(a, str) else ("uid" if isinstance(a, dict) and
                                                 a.get("uid") == 0 and a.get("pid") else a)
            got.append((e.get("gen"), e.get("cmd"), kind))
        check(got == hist, "history --json: %s, expected %s" % (got, hist))
        out, _ = ctl.ctl(["history", "web", "--limit", "100"])
        rows = [x.split() for x in out.splitlines()[1:]]  # under the header line
        check(len(rows) == len(hist), "history: %d lines for %d changes: %r"
              % (len(rows), len(hist), out))
        for (gen, cmd, actor), r in zip(hist, rows):
            check(r[1] == str(gen) and cmd in r and (actor != "plan" or "plan" in r),
                  "history line %r: expected generation %d, %s by %s"
                  % (" ".join(r), gen, cmd, actor))

        # the long connections: alive to the end, then closed cleanly
        time.sleep(0.5)
        lg.check_alive("before closing")
        held = time.monotonic() - t_start
        closed = lg.close("all")
        bad = [c for c in closed if c["err"] or not c["closed"]]
        check(not bad, "long connections at close: %s" % "; ".join(
            "%d (%s): %s" % (c["id"], c["name"], c["err"] or "not closed") for c in bad[:3]))
        least = min(c["exchanges"] for c in closed)
        dp.stop()
        dp.check_no_drops()
        for g in GROUPS:
            st = dp.group(g)
            check(st.get("return_synack") == answered[g], "sluice-dp --stats: web/%s "
                  "return_synack %s, %d connections answered by %s"
                  % (g, st.get("return_synack"), answered[g], g))
            check(st.get("flows") == answered[g], "sluice-dp --stats: web/%s flows %s, %d "
                  "connections" % (g, st.get("flows"), answered[g]))
            check(st.get("return_rst", 0) == 0, "sluice-dp --stats: web/%s return_rst %s"
                  % (g, st.get("return_rst")))
        return ("%d changes, new connections blue %d / green %d as the shares said; 15 long "
                "connections (10 blue, 5 green) alive for %.0f s (>= %d exchanges each), "
                "closed cleanly; history and --stats agree"
                % (len(hist) - 1, answered["blue"], answered["green"], held, least))

    # -- 2. sticky vs reset --------------------------------------------------

    def settle(self):
        """Leave the service steady at 0 % whatever a failed test left."""
        _, s = self.ctl.svc()
        if s["rollout"] and s["rollout"]["state"] in ("running", "paused"):
            self.ctl.run(["rollout", "abort", "web"])
        _, s = self.ctl.svc()
        if s["state"]["share_bp"] != 0 or s["state"]["champion"] != "blue":
            self.ctl.run(["switch", "web", "blue"])

    def open_both(self, lg, n):
        """n long connections at the current share, more (up to 3n) until
        both groups hold at least two."""
        conns = lg.open(n)
        while (min(sum(1 for c in conns if c["name"] == g) for g in GROUPS) < 2 and
               len(conns) < 3 * n):
            conns += lg.open(5)
        per = {g: [c["id"] for c in conns if c["name"] == g] for g in GROUPS}
        check(all(len(per[g]) >= 2 for g in GROUPS), "%d long connections at 50 %%: %s"
              % (len(conns), {g: len(v) for g, v in per.items()}))
        return per

    def test_sticky_reset(self):
        ctl = self.ctl
        self.settle()
        dp = self.dataplane("sticky-reset")
        lg = self.long()

        # --reset: the connections on green are re-decided onto blue, which
        # has no such connection and answers RST
        ctl.ctl(["rollout", "start", "web", "--steps", "50%,100%", "--dwell", "1h"], 0,
                r"web: rollout step 1/2 at 50\.00 % -> green, running, .*" + ACK)
        per = self.open_both(lg, 20)
        time.sleep(1.0)
        lg.check_alive("at 50 %")
        before = ctl.json(["stats"])
        ctl.ctl(["rollout", "abort", "web", "--reset"], 0, r"web: rollout aborted at step 1/2 "
                r"\(green at 0 %\); now steady, all new flows -> blue, established flows "
                r"decided again \(--reset\), generation \d+" + ACK)
        time.sleep(1.5)
        now = {c["id"]: c for c in lg.report()}
        broke = sorted(i for i, c in now.items() if c["err"])
        check(broke == sorted(per["green"]), "after abort --reset: broken %s, the green ones "
              "were %s (errors: %s)" % (broke, sorted(per["green"]),
                                        [now[i]["err"] for i in broke[:3]]))
        norst = [i for i in broke if not now[i]["rst"]]
        check(not norst, "connections %s broke, but not by a reset: %s"
              % (norst, [now[i]["err"] for i in norst[:3]]))
        lg.check_alive("blue connections after abort --reset", per["blue"])
        after = ctl.json(["stats"])
        red = after["counters"]["redecided"] - before["counters"]["redecided"]
        check(red >= len(broke), "stats: redecided went up by %d, %d connections re-decided "
              "onto blue" % (red, len(broke)))

        def rst(stats):
            return {g["group"]: g["ret_rst"] for g in stats["groups"] if g["service"] == "web"}
        rst_b, rst_a = rst(before), rst(after)
        check(rst_a.get("blue", 0) - rst_b.get("blue", 0) >= len(broke) and
              rst_a.get("green", 0) == rst_b.get("green", 0),
              "stats: RSTs from blue %s -> %s, from green %s -> %s (%d broken)" % (
                  rst_b.get("blue"), rst_a.get("blue"), rst_b.get("green"),
                  rst_a.get("green"), len(broke)))
        closed = lg.close(per["blue"])
        check(all(c["closed"] for c in closed), "blue connections at close: %s"
              % [c["err"] for c in closed if not c["closed"]])
        reset_detail = "--reset: the %d green connections broke (RST), the %d blue ones did " \
            "not; redecided +%d" % (len(broke), len(per["blue"]), red)

        # --sticky (the default): nobody breaks
        ctl.ctl(["rollout", "start", "web", "--steps", "50%,100%", "--dwell", "1h"], 0,
                r"web: rollout step 1/2 at 50\.00 % -> green, running, .*" + ACK)
        per2 = self.open_both(lg, 20)
        time.sleep(1.0)
        ids = per2["blue"] + per2["green"]
        lg.check_alive("at 50 % (sticky run)", ids)
        ctl.ctl(["rollout", "abort", "web"], 0, r"web: rollout aborted at step 1/2 \(green at "
                r"0 %\); now steady, all new flows -> blue, generation \d+" + ACK)
        by = batch(self.topo, 50, 0, "new connections after abort")
        time.sleep(max(0.0, 1.5))
        lg.check_alive("after abort (sticky)", ids)
        closed = lg.close(ids)
        bad = [c for c in closed if not c["closed"]]
        check(not bad, "after a sticky abort, connections broke: %s" % [
            (c["id"], c["name"], c["err"]) for c in bad[:3]])
        dp.stop()
        dp.check_no_drops()
        check(dp.group("green").get("return_rst", 0) == 0, "sluice-dp --stats: green sent "
              "%s RSTs" % dp.group("green").get("return_rst"))
        check(dp.group("blue").get("return_rst", 0) >= len(broke), "sluice-dp --stats: blue "
              "RSTs %s, %d connections reset" % (dp.group("blue").get("return_rst"),
                                                  len(broke)))
        check(dp.stats["flow_table"]["redecided"] >= len(broke),
              "sluice-dp --stats: redecided %s" % dp.stats["flow_table"]["redecided"])
        return "%s; sticky: %d blue and %d green connections all intact, new ones on blue " \
            "(%d)" % (reset_detail, len(per2["blue"]), len(per2["green"]), by["blue"])

    # -- 3. bad input changes nothing ----------------------------------------

    def raw(self, payload, timeout=5, more=None):
        """Bytes on the control socket; the reply lines (and whether the
        daemon closed the connection after them)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.ctl.sock)
            s.sendall(payload)
            if more is not None:
                s.sendall(more)
            buf = b""
            want = 1 + (more is not None)
            end = time.monotonic() + timeout
            closed = False
            while buf.count(b"\n") < want and time.monotonic() < end:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                buf += chunk
            if not closed:
                s.settimeout(0.5)
                try:
                    closed = s.recv(1) == b""
                except (socket.timeout, ConnectionResetError):
                    closed = False
            return [json.loads(x) for x in buf.splitlines() if x.strip()], closed
        except (OSError, ValueError) as e:
            raise Fail("control socket: %s: %s" % (type(e).__name__, e))
        finally:
            s.close()

    def test_bad_input(self):
        ctl = self.ctl
        self.settle()

        def snapshot():
            st = ctl.status()
            return {"gen": st["gen"], "pinned": pinned_gen(self.instance),
                    "journal": ctl.journal_sig(), "state": st["services"][0]["state"]}
        s0 = snapshot()
        check(s0["gen"] == s0["pinned"], "status gen %d, pinned control gen %d"
              % (s0["gen"], s0["pinned"]))
        cases = []

        def unchanged(what):
            s1 = snapshot()
            check(s1 == s0, "%s changed something: %s -> %s" % (what, s0, s1))
            cases.append(what)

        def cli(what, args, rc, err_re):
            out, _ = ctl.ctl(args, rc, err_re=err_re)
            check(out == "" or args[0] == "--json", "%s: stdout %r" % (what, out))
            unchanged(what)

        def sock(what, req, code, field=None, msg_re=None):
            reps, _ = self.raw(json.dumps(req).encode() + b"\n")
            check(len(reps) == 1, "%s: %d replies" % (what, len(reps)))
            r = reps[0]
            err = r.get("error") or {}
            check(r.get("ok") is False and err.get("code") == code,
                  "%s: reply %s, expected error %s" % (what, r, code))
            if field is not None:
                check(err.get("field") == field, "%s: error field %r, expected %r"
                      % (what, err.get("field"), field))
            if msg_re is not None:
                check(re.search(msg_re, err.get("message", "")), "%s: message %r"
                      % (what, err.get("message")))
            check(r.get("id") == req.get("id"), "%s: id %r echoed as %r"
                  % (what, req.get("id"), r.get("id")))
            unchanged(what)

        E = "sluicectl: %s: .+\n"
        cli("unknown service", ["canary", "nosuch", "5%"], 1, E % "unknown_service")
        sock("unknown service (socket)", {"id": 1, "cmd": "canary", "service": "nosuch",
                                          "share": "5%"}, "unknown_service", msg_re="web")
        cli("unknown group", ["switch", "web", "purple"], 1, E % "unknown_group")
        sock("unknown group (socket)", {"id": 2, "cmd": "switch", "service": "web",
                                        "group": "purple"}, "unknown_group", msg_re="purple")
        cli("share 120%", ["canary", "web", "120%"], 2, r"sluicectl: bad_share: .*120%.*\n")
        sock("share 120% (socket)", {"id": 3, "cmd": "canary", "service": "web",
                                     "share": "120%"}, "bad_share", "share",
             r"^share: '120%' is above 100% \(expected 0%\.\.100%, e\.g\. 5%, 0\.5%, 50bp\)$")
        cli("malformed share", ["canary", "web", "5x%"], 2, r"sluicectl: bad_share: .*5x%.*\n")
        sock("malformed share (socket)", {"id": 4, "cmd": "canary", "service": "web",
                                          "share": "5x%"}, "bad_share", "share", "5x%")
        cli("weights not adding up", ["weights", "web", "blue=50%", "green=20%"], 2,
            r"sluicectl: (bad_share|usage): .+\n")
        cli("empty plan", ["rollout", "start", "web", "--steps", "", "--dwell", "1s"], 2,
            r"sluicectl: (bad_plan|usage): .+\n")
        sock("empty plan (socket)", {"id": 5, "cmd": "rollout_start", "service": "web",
                                     "steps": []}, "bad_plan")
        sock("decreasing plan (socket)", {"id": 6, "cmd": "rollout_start", "service": "web",
                                          "steps": [{"share": "50%", "dwell": "1s"},
                                                    {"share": "5%", "dwell": "1s"}]},
             "bad_plan")
        cli("unknown command", ["frobnicate", "web"], 2, r"sluicectl: usage: .*frobnicate.*")
        sock("unknown command (socket)", {"id": 7, "cmd": "frobnicate"}, "unknown_command",
             msg_re="frobnicate")
        cli("resume when not paused", ["rollout", "resume", "web"], 1, E % "bad_state")
        sock("resume when not paused (socket)", {"id": 8, "cmd": "rollout_resume",
                                                 "service": "web"}, "bad_state")
        sock("unknown field (socket)", {"id": 9, "cmd": "canary", "service": "web",
                                        "share": "5%", "sahre": "6%"}, "bad_request", "sahre")
        sock("bad mode (socket)", {"id": 10, "cmd": "canary", "service": "web",
                                   "share": "5%", "mode": "sometimes"}, "bad_mode", "mode")

        # a line over 65536 bytes: bad_request, then the daemon hangs up
        big = json.dumps({"id": 11, "cmd": "canary", "service": "web", "share": "5%",
                          "pad": "x" * 70000}).encode() + b"\n"
        reps, closed = self.raw(big, timeout=10)
        check(len(reps) == 1 and reps[0].get("ok") is False and
              reps[0].get("error", {}).get("code") == "bad_request",
              "oversized line: replies %s" % [str(r)[:200] for r in reps])
        check(closed, "oversized line: the daemon kept the connection open")
        unchanged("oversized line (socket)")
        # not JSON: bad_request, no id; the connection goes on serving
        reps, _ = self.raw(b"canary web 5%\n", more=b'{"id": 12, "cmd": "version"}\n')
        check(len(reps) == 2 and reps[0].get("ok") is False and "id" not in reps[0] and
              reps[0].get("error", {}).get("code") == "bad_request",
              "non-JSON line: replies %s" % reps)
        check(reps[1].get("ok") is True and reps[1].get("id") == 12 and
              reps[1]["result"].get("instance") == self.instance,
              "request after a non-JSON line: %s" % reps[1:])
        unchanged("non-JSON line (socket)")
        reps, _ = self.raw(b'["canary", "web"]\n')
        check(len(reps) == 1 and reps[0].get("error", {}).get("code") == "bad_request",
              "JSON array: replies %s" % reps)
        unchanged("JSON array (socket)")
        # a well-formed change afterwards still works: the refusals left no debris
        ctl.ctl(["canary", "web", "1%"], 0, r"web: canary 1\.00 % -> green, generation " +
                str(s0["gen"] + 1) + r", published, no dataplane attached\n")
        check(pinned_gen(self.instance) == s0["gen"] + 1, "pinned generation after a valid "
              "change: %d" % pinned_gen(self.instance))
        ctl.ctl(["undo", "web"], 0)
        return "%d refused inputs, each with its error; journal (%d bytes) and generation %d " \
            "unchanged (status and pinned control)" % (len(cases), s0["journal"][0], s0["gen"])

    def tests(self):
        return [("runbook", self.test_runbook), ("sticky_reset", self.test_sticky_reset),
                ("bad_input", self.test_bad_input)]

    def after_test(self):
        """Each test starts without long connections or a dataplane."""
        for lg in self.longs:
            lg.quit()
        self.longs = []
        for dp in self.dps:
            if dp.p and dp.p.poll() is None:
                try:
                    dp.stop()
                except Fail as e:
                    print("note: %s" % e)
        self.dps = []

    def main(self, only):
        tests = [t for t in self.tests() if not only or t[0] in only]
        try:
            self.setup()
        except Fail as e:
            for name, _ in tests:
                self.report(name, False, "setup: %s" % e)
            return
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                detail = fn()
                self.report(name, True, "%s (%.1f s)" % (detail, time.monotonic() - t0))
            except Fail as e:
                self.report(name, False, "%s (%.1f s)" % (e, time.monotonic() - t0))
            except (KeyError, TypeError, IndexError, ValueError) as e:
                self.report(name, False, "unexpected reply shape: %s: %s\n%s" % (
                    type(e).__name__, e, traceback.format_exc()))
            finally:
                self.after_test()


def main():
    global VERBOSE
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        helper_main(sys.argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="meson build directory (dataplane/sluice-dp, control/sluiced, "
                    "control/sluicectl)")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep configurations, logs, journal and --stats files")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every step")
    ap.add_argument("tests", nargs="*", help="runbook, sticky_reset, bad_input (default all)")
    args = ap.parse_args()
    VERBOSE = ln.VERBOSE = args.verbose
    if os.geteuid() != 0:
        print("control_e2e: must run as root (namespaces, veths, bpffs)")
        print("0 passed, 1 failed")
        return 1
    try:
        r = Run(args)
    except Fail as e:
        print("FAIL setup: %s" % e)
        print("0 passed, 1 failed")
        return 1

    def on_signal(sig, _frame):
        raise KeyboardInterrupt("signal %d" % sig)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, on_signal)
    signal.alarm(WATCHDOG)
    t0 = time.monotonic()
    try:
        ln.remove_stale()
        r.main(args.tests)
    except KeyboardInterrupt as e:
        print("FAIL control_e2e: interrupted (%s; watchdog %d s)" % (e, WATCHDOG))
        r.failed += 1
    except Exception:
        traceback.print_exc()
        print("FAIL control_e2e: unexpected error (above)")
        r.failed += 1
    finally:
        signal.alarm(0)
        r.cleanup()
    print("control_e2e: %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 and r.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
