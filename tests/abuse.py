#!/usr/bin/env python3
"""The control socket and the daemon under abuse (issue "Hardening").

Each test starts the real build/control/sluiced (net_null ports, its own
instance "test-abuse-PID", socket, journal, --bpffs /sys/fs/bpf, unpinned at
the end; [control] idle_timeout 2s) and attacks it while a well-behaved
client is timed:

  idle_connections   10 000 idle connections held (the file-descriptor limits
                     raised); sluicectl status answers within 100 ms, abort
                     gets through; past max_connections the longest idle
                     connections are closed to make room (a line says why)
  fd_limit           sluiced allowed 256 descriptors: holds what it can, says so,
                     a new client still gets in
  storm              50 000 status requests pipelined on 8 connections; the
                     p50/p99 latency of a well-behaved client (a new connection
                     per request, like sluicectl) is measured, p99 < 100 ms
  slow_client        1 byte/s: closed after idle_timeout with an idle_timeout
                     line; others are served meanwhile
  long_line          a 10 MB line: bad_request, closed, the daemon's memory
                     does not grow by it
  never_reads        a client pipelining requests that never reads a reply:
                     the daemon stops reading it, its memory stays bounded,
                     others are served, it is closed after idle_timeout
  hostile_json       invalid UTF-8, \\u0000, raw NUL, deep nesting, 1e400,
                     duplicate keys, ...: one error line each, and the journal
                     and the pinned maps (tables, groups, control) stay
                     byte-identical
  second_user        a real second user (created with useradd if absent, the
                     client run as it with runuser/setpriv): refused by the
                     socket's mode and by sluiced's own check without the
                     operator group ([control] group), accepted once a member;
                     its connections are limited per uid
  stalled_dataplane  sluice-dp stopped (SIGSTOP): the change that waits for its
                     acknowledgement does not hold other clients (status
                     answers within 100 ms meanwhile), the next change is
                     refused at once (busy), SIGCONT: it acknowledges

Prints PASS/FAIL per test, the measured figures, and a final
"N passed, N failed" line (exit 1 if any failed).  Needs root.

Usage: tests/abuse.py [--build DIR] [--keep] [TEST...]
"""

import ctypes
import json
import mmap
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from harness import Fail, check
import harness
import cli as climod

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
BPFFS = "/sys/fs/bpf"
STATUS = b'{"cmd":"status"}\n'
OP_USER = "sluice-abuse-op"     # the second user (created if absent)
OP_GROUP = "sluice-abuse-ops"   # the operator group of second_user

FIGURES = []  # printed at the end
# an interpreter the second user may run (sys.executable may live under /root)
SYS_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def figure(text):
    FIGURES.append(text)
    print("     " + text, flush=True)


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(n, hard) if hard != resource.RLIM_INFINITY else n
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


# ------------------------------------------------------------ the daemon

class Daemon(climod.Daemon):
    """tests/cli.py's sluiced (its own instance, socket and journal), with
    [control] keys added, an idle timeout and perhaps a descriptor limit;
    its whole log, sluicectl run as another user, and what /proc says of it."""

    def __init__(self, d, control="", idle="2s", nofile=None):
        pre = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))) \
            if nofile else None
        super().__init__(d, extra=f"idle_timeout = {idle}\n{control}", name="abuse",
                         preexec=pre)

    def logtext(self, path=None):
        with open(path or self.log) as f:
            return f.read()

    def cli(self, args, rc=0, user=None, timeout=30):
        got, out, err = cli(["--socket", self.sock] + args, user=user, timeout=timeout)
        check(rc is None or got == rc, f"sluicectl {' '.join(args)}: exit {got}, expected "
              f"{rc}\nstdout: {out!r}\nstderr: {err!r}")
        return got, out, err

    def rss_kb(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def sanitized(self):
        with open(f"/proc/{self.p.pid}/maps") as f:
            return "libasan" in f.read()

    def nfds(self):
        return len(os.listdir(f"/proc/{self.p.pid}/fd"))


def daemon_test(control="", idle="2s", nofile=None):
    def wrap(fn):
        def wrapper(d):
            dm = Daemon(d, control, idle=idle, nofile=nofile)
            why = []
            try:
                fn(dm)
            except Fail as e:
                why.append(str(e))
            finally:
                why += dm.stop()
            check(not why, "\n".join(why))
        wrapper.__name__ = fn.__name__
        return wrapper
    return wrap


def cli(args, user=None, timeout=30):
    cmd = [os.path.join(BUILD, "control", "sluicectl")] + args
    if user:
        cmd = ["runuser", "-u", user, "--"] + cmd
    e = dict(os.environ)
    e.pop("SLUICE_INSTANCE", None)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_line(s, limit=1 << 24):
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def request(path, line=STATUS, timeout=10):
    """One request on a new connection; (reply object, seconds)."""
    t0 = time.monotonic()
    s = connect(path, timeout)
    try:
        s.sendall(line)
        buf = read_line(s)
    finally:
        s.close()
    dt = time.monotonic() - t0
    check(buf.endswith(b"\n"), f"no reply line to {line[:80]!r}: {buf[:200]!r}")
    return json.loads(buf), dt


def timed_status(dm, n=20):
    """n sluicectl status runs: their times (s), each checked to succeed."""
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        dm.cli(["status"], 0)
        times.append(time.monotonic() - t0)
    return times


# --------------------------------------------------- pinned maps, raw bytes

NR_BPF = 321 if os.uname().machine == "x86_64" else 280
BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD = 7, 15


def pinned_bytes(path):
    """The whole value area of the pinned mmapable array map at path."""
    libc = ctypes.CDLL(None, use_errno=True)
    name = ctypes.create_string_buffer(path.encode())
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("=QII", attr, 0, ctypes.addressof(name), 0, 0)
    fd = libc.syscall(NR_BPF, BPF_OBJ_GET, attr, 128)
    if fd < 0:
        raise Fail(f"{path}: BPF_OBJ_GET: {os.strerror(ctypes.get_errno())}")
    try:
        info = ctypes.create_string_buffer(256)
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("=IIQ", attr, 0, fd, 256, ctypes.addressof(info))
        if libc.syscall(NR_BPF, BPF_OBJ_GET_INFO_BY_FD, attr, 128) != 0:
            raise Fail(f"{path}: BPF_OBJ_GET_INFO_BY_FD: {os.strerror(ctypes.get_errno())}")
        _, _, _, vsize, nent = struct.unpack_from("=IIIII", info, 0)
        size = ((vsize + 7) // 8 * 8) * nent
        size = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
        m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        try:
            return bytes(m[:size])
        finally:
            m.close()
    finally:
        os.close(fd)


def snapshot(dm):
    """The journal and the table maps, byte for byte."""
    pin = os.path.join(BPFFS, "sluice", dm.instance)
    snap = {"journal": open(dm.journal, "rb").read()}
    for m in ("tables", "groups", "control"):
        snap[m] = pinned_bytes(os.path.join(pin, m))
    return snap


# ------------------------------------------------------------------ tests

@daemon_test("max_connections = 12000", idle="60s")
def test_idle_connections(dm):
    n = 10000
    lim = raise_nofile(n + 200)
    check(lim >= n + 100, f"RLIMIT_NOFILE {lim}: cannot open {n} connections")
    dm.cli(["rollout", "start", "web", "--steps", "1%,100%", "--dwell", "1h"], 0)
    conns = []
    # the descriptors at rest, the least of a second's samples: sluicectl's
    # connection may still be open a moment after its reply, and sluiced
    # opens files for a moment (the group database, the journal's history)
    base = dm.nfds()
    for _ in range(10):
        time.sleep(0.1)
        base = min(base, dm.nfds())
    t0 = time.monotonic()
    try:
        for _ in range(n):
            conns.append(connect(dm.sock))
        # every one accepted (held by the daemon), none answered or closed
        deadline = time.monotonic() + 20
        while dm.nfds() < base + n and time.monotonic() < deadline:
            time.sleep(0.05)
        held = dm.nfds() - base
        check(held >= n, f"sluiced holds {held} connections, expected {n}")
        opened = time.monotonic() - t0
        times = timed_status(dm, 10)
        raw = [request(dm.sock)[1] for _ in range(50)]
        figure(f"idle: {n} idle connections held (opened in {opened:.1f} s); status on a "
               f"new connection p50 {pct(raw, 50) * 1000:.1f} ms, max "
               f"{max(raw) * 1000:.1f} ms; sluicectl status (its process start included) "
               f"p50 {pct(times, 50) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
        check(pct(raw, 98) < 0.1, f"status took {[round(t * 1000) for t in raw]} ms "
              f"with {n} idle connections (expected < 100 ms)")
        t = time.monotonic()
        _, out, _ = dm.cli(["abort", "web"], 0)
        figure(f"idle: abort with {n} idle connections: {(time.monotonic() - t) * 1000:.1f} "
               f"ms: {out.strip()[:80]}")
        # past max_connections (12000): the longest idle are closed to make room
        extra = []
        for _ in range(2500):
            extra.append(connect(dm.sock))
        rep, dt = request(dm.sock)
        check(rep["ok"], f"status past max_connections: {rep}")
        dm.cli(["status"], 0)
        first = conns[0]
        first.settimeout(5)
        line = read_line(first)
        check(b'"too_many_connections"' in line and b"idle the longest" in line,
              f"the oldest idle connection got {line!r}, expected too_many_connections")
        conns += extra
    finally:
        for c in conns:
            c.close()
    time.sleep(0.3)
    check(dm.nfds() < 200, f"sluiced still holds {dm.nfds()} descriptors after the close")


@daemon_test(idle="60s", nofile=256)
def test_fd_limit(dm):
    """sluiced may open only 256 descriptors: it holds what it can (and
    says so), and a new client still gets in."""
    check("only 256 descriptors allowed (RLIMIT_NOFILE), holding at most 128 connections"
          in dm.logtext(), f"no warning about the descriptor limit: {dm.logtext()[-1500:]}")
    conns = [connect(dm.sock) for _ in range(400)]
    try:
        time.sleep(0.3)
        rep, dt = request(dm.sock)
        check(rep["ok"] and dt < 0.1, f"status with 400 connections and 256 descriptors: "
              f"{rep} in {dt:.3f} s")
        dm.cli(["status"], 0)
        held = dm.nfds()
        check(held <= 256, f"sluiced holds {held} descriptors")
        figure(f"fd limit: 256 descriptors, 400 connections: sluiced holds {held} "
               f"descriptors, status answered in {dt * 1000:.1f} ms")
    finally:
        for c in conns:
            c.close()


STORM = """
import socket, sys, threading
path, per, nconn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = b'{"cmd":"status"}\\n'
replies = [0] * nconn

def storm(i):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(path)
    threading.Thread(target=lambda: s.sendall(line * per), daemon=True).start()
    n = 0
    while n < per:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        n += chunk.count(b"\\n")
    replies[i] = n
    s.close()

ts = [threading.Thread(target=storm, args=(i,)) for i in range(nconn)]
for t in ts:
    t.start()
print("started", flush=True)
for t in ts:
    t.join()
print(sum(replies), flush=True)
"""


@daemon_test()
def test_storm(dm):
    total, nconn = 50000, 8
    # the storm in a process of its own: the timed client shares no
    # interpreter lock with it
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-c", STORM, dm.sock, str(total // nconn),
                          str(nconn)], stdout=subprocess.PIPE, text=True)
    try:
        check(p.stdout.readline().strip() == "started", "the storm did not start")
        lat = []
        time.sleep(0.1)
        while p.poll() is None and len(lat) < 400:
            rep, dt = request(dm.sock)
            check(rep["ok"], f"status during the storm: {rep}")
            lat.append(dt)
            time.sleep(0.005)
        during = len(lat)
        out, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    took = time.monotonic() - t0
    got = int(out.strip() or 0)
    check(got == total, f"storm: {got} replies of {total}")
    check(during >= 20, f"only {during} samples during the storm ({took:.1f} s)")
    figure(f"storm: {total} status requests on {nconn} connections in {took:.1f} s "
           f"({total / took:.0f}/s); well-behaved client ({during} requests, a new connection "
           f"each): p50 {pct(lat, 50) * 1000:.1f} ms, p99 {pct(lat, 99) * 1000:.1f} ms, "
           f"max {max(lat) * 1000:.1f} ms")
    check(pct(lat, 99) < 0.1, f"p99 {pct(lat, 99) * 1000:.1f} ms under the storm "
          "(expected < 100 ms)")


@daemon_test()
def test_slow_client(dm):
    s = connect(dm.sock)
    req = STATUS
    t0 = time.monotonic()
    got = b""
    s.settimeout(0.05)
    lat = []
    i = 0
    # one byte a second; the line would take 17 s: it is cut at idle_timeout (2 s)
    while time.monotonic() - t0 < 6:
        if i < len(req) and time.monotonic() - t0 >= i:
            try:
                s.send(req[i:i + 1])
            except OSError:
                break
            i += 1
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        except socket.timeout:
            pass
        rep, dt = request(dm.sock)
        check(rep["ok"], f"status beside the slow client: {rep}")
        lat.append(dt)
    closed_after = time.monotonic() - t0
    s.close()
    check(b'"idle_timeout"' in got, f"the slow client got {got!r}, expected idle_timeout")
    check(closed_after < 4, f"the slow client was closed after {closed_after:.1f} s "
          "(idle_timeout 2 s)")
    check(max(lat) < 0.1, f"status beside the slow client: max {max(lat) * 1000:.1f} ms")
    figure(f"slow client: {i} bytes sent at 1 byte/s, closed after {closed_after:.1f} s "
           f"(idle_timeout 2 s); status meanwhile max {max(lat) * 1000:.1f} ms")
    check("closed: idle for" in dm.logtext() and "with a part of a request" in dm.logtext(),
          "no log line for the slow client")


@daemon_test()
def test_long_line(dm):
    rss0 = dm.rss_kb()
    s = connect(dm.sock, 10)
    err = []
    big = b"{" + b'"x":' * (10 * 1024 * 1024 // 4) + b"\n"

    def writer():
        try:
            s.sendall(big)
        except OSError as e:
            err.append(e.errno)
    w = threading.Thread(target=writer, daemon=True)
    w.start()
    reply = b""
    try:
        reply = read_line(s)
    except OSError as e:
        err.append(e.errno)
    w.join(10)
    s.close()
    check(b'"bad_request"' in reply and b"is too long (expected at most 65536)" in reply,
          f"10 MB line: reply {reply[:300]!r}")
    rep, dt = request(dm.sock)
    check(rep["ok"] and dt < 0.1, f"status after the long line: {rep} in {dt:.3f} s")
    grown = dm.rss_kb() - rss0
    figure(f"long line: 10 MB line refused (bad_request, closed), sluiced RSS grew by "
           f"{grown} kB")
    check(grown < 4096, f"sluiced grew by {grown} kB for a 10 MB line")


@daemon_test()
def test_never_reads(dm):
    rss0 = dm.rss_kb()
    s = connect(dm.sock, 10)
    s.setblocking(False)
    sent = 0
    blob = STATUS * 1000
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.5:
        try:
            sent += s.send(blob)
        except BlockingIOError:
            time.sleep(0.01)
    lat = []
    for _ in range(20):
        rep, dt = request(dm.sock)
        check(rep["ok"], f"status beside the client that never reads: {rep}")
        lat.append(dt)
    grown = dm.rss_kb() - rss0
    figure(f"never reads: {sent // len(STATUS)} requests sent, none read; sluiced RSS grew "
           f"by {grown} kB; status meanwhile max {max(lat) * 1000:.1f} ms")
    # 1 MiB of unread replies at most; AddressSanitizer's quarantine keeps
    # every freed reply for a while
    bound = 65536 if dm.sanitized() else 8192
    check(grown < bound, f"sluiced grew by {grown} kB for a client that never reads")
    check(max(lat) < 0.1, f"status beside it: max {max(lat) * 1000:.1f} ms")
    # closed after idle_timeout (no complete request served since its replies piled up)
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and "not reading its replies" not in dm.logtext():
        time.sleep(0.1)
    check("not reading its replies" in dm.logtext(), "the client that never reads was "
          "not closed after idle_timeout")
    s.close()


HOSTILE = [
    (b'{"cmd":"canary","service":"\xff\xfeweb","share":"5%"}', "invalid UTF-8"),
    (b'{"cmd":"canary","service":"web\\u0000x","share":"50%"}', "\\u0000 in a name"),
    (b'{"cmd":"canary","service":"web","share":"5\\u0000%"}', "\\u0000 in a share"),
    (b'{"cmd":"canary","service":"web","share":"5%"\x00}', "a raw NUL byte"),
    (b"[" * 30000 + b"]" * 30000, "30 000 levels of nesting"),
    (b'{"cmd":"canary","service":"web","share":' + b"[" * 30000 + b"]" * 30000 + b"}",
     "nesting inside a request"),
    (b'{"cmd":"history","limit":1e400}', "1e400"),
    (b'{"cmd":"canary","service":"web","share":1e400}', "1e400 as a share"),
    (b'{"cmd":"canary","service":"web","share":"5%","share":"50%"}', "a duplicate key"),
    (b'{"cmd":"canary","cmd":"switch","service":"web","share":"5%"}', "a duplicate cmd"),
    (b'{"cmd":"canary","service":"web","share":"1e400%"}', "1e400%"),
    (b'{"cmd":"canary","service":"web","share":"-0%","extra":1}', "an unknown field"),
    (b'{"cmd":"weights","service":"web","weights":{"green":"20%","green":"90%"}}',
     "a duplicate group"),
    (b'"status"', "a string"),
    (b"{}", "an empty object"),
    (b"", "an empty line"),
    (b"   \t ", "blanks"),
    (b'{"cmd":"canary","service":"web","share":"5%"', "cut JSON"),
    (b'{"cmd":"canary","service":"web","share":"5%"} {"cmd":"switch"}', "two objects"),
    (b'{"cmd":"canary","service":"web","share":"\xed\xa0\x80"}', "a UTF-16 surrogate"),
    (b'{"cmd":"canary","service":"web","share":"\\ud800"}', "a lone surrogate escape"),
    (b'{"cmd":"rollout_start","service":"web","steps":[' +
     b",".join([b'{"share":"1%","dwell":"1s"}'] * 2000) + b"]}", "2000 steps"),
]


@daemon_test()
def test_hostile_json(dm):
    dm.cli(["canary", "web", "5%"], 0)
    before = snapshot(dm)
    s = connect(dm.sock)
    for line, what in HOSTILE:
        s.sendall(line + b"\n")
        buf = read_line(s)
        check(buf.endswith(b"\n") and buf.count(b"\n") == 1, f"{what}: reply {buf[:200]!r}")
        rep = json.loads(buf)
        check(rep.get("ok") is False and rep["error"]["code"] and rep["error"]["message"],
              f"{what}: reply {rep}")
        print(f"     {what}: {rep['error']['code']}: {rep['error']['message'][:100]}")
    # the same connection still answers
    s.sendall(STATUS)
    check(json.loads(read_line(s))["ok"], "status after the hostile lines")
    s.close()
    after = snapshot(dm)
    for k in before:
        check(before[k] == after[k], f"{k} changed by rejected input "
              f"({len(before[k])} -> {len(after[k])} bytes)")
    figure(f"hostile JSON: {len(HOSTILE)} lines refused, each with one error line; journal "
           f"({len(before['journal'])} bytes) and pinned tables, groups and control "
           "byte-identical")


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def test_second_user(d):
    created_user = created_group = False
    if sh("getent", "group", OP_GROUP).returncode != 0:
        r = sh("groupadd", OP_GROUP)
        check(r.returncode == 0, f"groupadd {OP_GROUP}: {r.stderr}")
        created_group = True
    if sh("id", "-u", OP_USER).returncode != 0:
        r = sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", OP_USER)
        check(r.returncode == 0, f"useradd {OP_USER}: {r.stderr}")
        created_user = True
    sh("gpasswd", "-d", OP_USER, OP_GROUP)  # not a member to begin with
    gid = int(sh("getent", "group", OP_GROUP).stdout.split(":")[2])
    uid = int(sh("id", "-u", OP_USER).stdout)
    ugid = int(sh("id", "-g", OP_USER).stdout)
    # the client binary must be reachable by the user: a copy outside /root
    os.chmod(d, 0o755)
    ctl = os.path.join(d, "sluicectl")
    shutil.copy(os.path.join(BUILD, "control", "sluicectl"), ctl)
    os.chmod(ctl, 0o755)
    dm = Daemon(d, f"group = {OP_GROUP}\nmax_connections_per_uid = 8")
    why = []
    try:
        def as_user(args, groups=None):
            cmd = [ctl, "--socket", dm.sock] + args
            if groups is None:
                cmd = ["runuser", "-u", OP_USER, "--"] + cmd
            else:
                cmd = ["setpriv", f"--reuid={uid}", f"--regid={ugid}",
                       f"--groups={groups}"] + cmd
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return p.returncode, p.stdout, p.stderr

        st = os.stat(dm.sock)
        check(st.st_gid == gid and st.st_mode & 0o777 == 0o660,
              f"socket {oct(st.st_mode)} gid {st.st_gid}, expected 0660 gid {gid}")
        before = snapshot(dm)
        # 1. not a member: the socket's mode refuses it
        rc, out, err = as_user(["status"])
        check(rc == 3 and "Permission denied" in err, f"non-member: exit {rc}: {err!r}")
        # 2. the group in its process but not in the group database: sluiced refuses
        rc, out, err = as_user(["status"], groups=str(gid))
        check(rc == 1 and "forbidden" in err and f"uid {uid} ({OP_USER}) is neither root "
              f"nor a member of the operator group {OP_GROUP}" in err,
              f"group in the process only: exit {rc}: {err!r}")
        # 3. a loosened socket mode changes nothing: sluiced checks every peer
        os.chmod(dm.sock, 0o666)
        rc, out, err = as_user(["canary", "web", "5%"])
        os.chmod(dm.sock, 0o660)
        check(rc == 1 and "forbidden" in err, f"socket 0666, non-member: exit {rc}: {err!r}")
        check(f"client uid {uid} pid" in dm.logtext() and "refused: uid" in dm.logtext(),
              "the refused connections are not logged")
        after = snapshot(dm)
        for k in before:
            check(before[k] == after[k], f"{k} changed by the refused connections")
        # 4. a member (by the group database; runuser takes its groups from it)
        r = sh("usermod", "-aG", OP_GROUP, OP_USER)
        check(r.returncode == 0, f"usermod: {r.stderr}")
        rc, out, err = as_user(["status"])
        check(rc == 0 and "web" in out, f"member: status exit {rc}: {err!r}")
        rc, out, err = as_user(["canary", "web", "5%"])
        check(rc == 0, f"member: canary exit {rc}: {err!r}")
        rc, out, _ = cli(["--socket", dm.sock, "history", "--limit", "1"])
        check(f"uid {uid} pid" in out, f"the member's change is not journaled as uid {uid}: "
              f"{out!r}")
        # 5. its connections are limited (8 per uid); root still gets in
        helper = os.path.join(d, "hold.py")
        with open(helper, "w") as f:
            f.write("""import socket, sys, time
cs, lines = [], []
for _ in range(12):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    cs.append(s)
time.sleep(0.5)
for s in cs:
    s.setblocking(False)
    try:
        lines.append(s.recv(4096).decode())
    except BlockingIOError:
        lines.append("")
print(repr(lines), file=sys.stderr)
print(sum('"too_many_connections"' in x for x in lines), sum(x == "" for x in lines))
sys.stdout.flush()
""")
        p = subprocess.run(["runuser", "-u", OP_USER, "--", SYS_PYTHON, helper, dm.sock],
                           capture_output=True, text=True, timeout=30)
        check(p.returncode == 0, f"helper: {p.stderr}")
        refused, held = map(int, p.stdout.split())
        check(refused == 4 and held == 8, f"12 connections of uid {uid}: {refused} refused, "
              f"{held} held (expected 4 and 8): {p.stderr}")
        figure(f"second user: uid {uid} refused by the socket mode (exit 3) and by sluiced "
               f"(forbidden) without the group, served with it; 8 of 12 connections held "
               f"(max_connections_per_uid 8)")
        # 6. removed from the group: refused again (the group database is asked)
        sh("gpasswd", "-d", OP_USER, OP_GROUP)
        time.sleep(5.2)  # membership looked up again after 5 s
        rc, out, err = as_user(["status"], groups=str(gid))
        check(rc == 1 and "forbidden" in err, f"removed member: exit {rc}: {err!r}")
    except Fail as e:
        why.append(str(e))
    finally:
        why += dm.stop()
        if created_user:
            sh("userdel", OP_USER)
        if created_group:
            sh("groupdel", OP_GROUP)
    check(not why, "\n".join(why))


@daemon_test()
def test_stalled_dataplane(dm):
    dm.attach()
    dm.cli(["canary", "web", "1%"], 0)
    os.kill(dm.dp.pid, signal.SIGSTOP)
    try:
        res = {}

        def change():
            t = time.monotonic()
            res["rep"], _ = request(dm.sock, b'{"cmd":"canary","service":"web",'
                                    b'"share":"2%"}\n')
            res["t"] = time.monotonic() - t
        th = threading.Thread(target=change)
        th.start()
        time.sleep(0.1)
        lat = []
        # another change meanwhile: refused at once, not queued behind the wait
        t = time.monotonic()
        rep, _ = request(dm.sock, b'{"cmd":"canary","service":"web","share":"4%"}\n')
        busy_dt = time.monotonic() - t
        check(not rep["ok"] and rep["error"]["code"] == "busy" and
              "waits for the dataplane's acknowledgement" in rep["error"]["message"] and
              busy_dt < 0.1, f"a change while another waits: {rep} in {busy_dt:.2f} s")
        while th.is_alive():
            rep, dt = request(dm.sock)
            check(rep["ok"], f"status while a change waits: {rep}")
            lat.append(dt)
            time.sleep(0.01)
        th.join()
        acks = res["rep"].get("result", {}).get("acks", {})
        check(res["rep"]["ok"] and acks.get("status") == "timeout" and acks["missing"] == [0],
              f"the change to a stopped dataplane: {res}")
        check(lat and max(lat) < 0.1, f"status while the change waited {res['t']:.2f} s: "
              f"max {max(lat or [0]) * 1000:.1f} ms")
        t = time.monotonic()
        rep, _ = request(dm.sock, b'{"cmd":"canary","service":"web","share":"3%"}\n')
        dt = time.monotonic() - t
        check(not rep["ok"] and rep["error"]["code"] == "busy" and dt < 0.1,
              f"the next change: {rep} in {dt:.2f} s")
        dm.cli(["canary", "web", "3%"], 1)
        figure(f"stalled dataplane: the change waited {res['t']:.2f} s (ack_timeout 1 s) "
               f"while {len(lat)} status requests were answered (max "
               f"{max(lat) * 1000:.1f} ms); the next change refused (busy) in "
               f"{dt * 1000:.0f} ms")
    finally:
        os.kill(dm.dp.pid, signal.SIGCONT)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rc, out, err = dm.cli(["canary", "web", "3%"], None)
        if rc == 0:
            break
        time.sleep(0.1)
    check(rc == 0 and "acknowledged by 1 worker" in out,
          f"after SIGCONT: exit {rc}: {out!r} {err!r}")


TESTS = [test_idle_connections, test_fd_limit, test_storm, test_slow_client, test_long_line,
         test_never_reads, test_hostile_json, test_second_user, test_stalled_dataplane]


def main():
    global BUILD
    a = harness.parse(__doc__, TESTS)
    BUILD = climod.BUILD = a.build
    if os.geteuid() != 0:
        print("FAIL setup: tests/abuse.py needs root (bpffs, a second user)")
        print(f"\n0 passed, {len(a.todo)} failed")
        return 1
    raise_nofile(20000)
    rc = harness.run(a.todo, "sluice-abuse-", a.keep)
    return rc


if __name__ == "__main__":
    sys.exit(main())
