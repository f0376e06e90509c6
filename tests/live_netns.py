#!/usr/bin/env python3
"""Live tests: sluice-dp between real TCP and UDP clients and servers.

Three network namespaces (client, blue, green) are joined to sluice-dp by veth
pairs whose host ends are its net_af_packet ports; sluice-dp and those host
ends run in a fourth namespace (see Topology for why).  Blue and green both own
10.99.0.100 with the same MAC: two environments behind one address that only
sluice-dp connects.  Each runs a TCP server on :8080 that answers with its name
and echoes the request body, a TCP echo server on :7 and a UDP server on :5353.
sluice-dp runs once per share (0 %, 100 %, 50 %) with a configuration derived
from conf/netns.ini.  Prints PASS/FAIL per test and a final
"N passed, N failed" line; exit status 0 only if every test passed.

Usage (as root): tests/live_netns.py [--build DIR] [--keep-logs] [-v] [--only TEST]
"""

import argparse
import atexit
import configparser
import json
import math
import os
import queue
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from harness import Fail, Tally, check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SELF = os.path.abspath(__file__)
BASE_CONF = os.path.join(ROOT, "conf", "netns.ini")

VIP = "10.99.0.100"
CLIENT_IP = "10.99.0.1"
CLIENT_MAC = "02:51:00:00:00:01"
BACKEND_MAC = "02:51:00:00:00:64"  # shared by blue and green
WEB_PORT, ECHO_PORT, UDP_PORT = 8080, 7, 5353
SERVICES = {"web": ("tcp", WEB_PORT), "echo": ("tcp", ECHO_PORT),
            "query": ("udp", UDP_PORT)}
GROUPS = ("blue", "green")
SIGMAS = 4.5
WEB_BODY = 3000  # bytes each way per web connection: three segments

# Per-step time limits (seconds): a hung step fails its test, never the run.
T_CMD = 10
T_START = 30
T_STOP = 15
CONNECT_TIMEOUT = 3.0
IO_TIMEOUT = 3.0
ECHO_HOLD = 3.0
GIVE_UP = 5  # consecutive failures after which a client stops trying
TAP_FLOWS = 64  # two_workers: all on one of two workers by chance: 2^-63

VERBOSE = False


# ---------------------------------------------------------------------------
# Helpers run inside a namespace: `ip netns exec NS python3 live_netns.py _ROLE`
# ---------------------------------------------------------------------------

def pdeathsig():
    """Children die with the test (PR_SET_PDEATHSIG survives `ip netns exec`'s
    exec), so even a SIGKILLed test leaves no server behind."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def role_server(name):
    import socketserver

    tag = name.encode()

    class Web(socketserver.StreamRequestHandler):
        timeout = 10

        def handle(self):
            line = self.rfile.readline(64).split()
            if len(line) != 2 or line[0] != b"REQ" or not line[1].isdigit():
                return
            n = int(line[1])
            body = self.rfile.read(n)
            if n > 1 << 20 or len(body) != n:
                return
            self.wfile.write(tag + b"\n" + body)
            # The client closes first: it, not the server, keeps TIME_WAIT, so
            # the client never reuses a source port during a run.
            while self.request.recv(4096):
                pass

    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(30)
            while True:
                data = self.request.recv(65536)
                if not data:
                    return
                self.request.sendall(data)

    class Query(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            sock.sendto(tag + b" " + data, self.client_address)

    class TCP(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    servers = [TCP((VIP, WEB_PORT), Web), TCP((VIP, ECHO_PORT), Echo),
               socketserver.UDPServer((VIP, UDP_PORT), Query)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()  # until SIGTERM


def gave_up(out, end):
    """Why the next attempt is skipped (a broken path must fail fast, not
    time out once per connection), or None."""
    if time.monotonic() > end:
        return "not tried: deadline reached"
    last = out[-GIVE_UP:]
    if len(last) == GIVE_UP and all(r["err"] for r in last):
        return "not tried: %d failures in a row" % GIVE_UP
    return None


def role_web(count, deadline):
    """count sequential connections to VIP:8080, one JSON result line."""
    end = time.monotonic() + deadline
    out = []
    for _ in range(count):
        why = gave_up(out, end)
        if why:
            out.append({"sport": 0, "name": None, "err": why})
            continue
        payload = os.urandom(WEB_BODY)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(CONNECT_TIMEOUT)
        r = {"sport": 0, "name": None, "err": None}
        try:
            s.connect((VIP, WEB_PORT))
            r["sport"] = s.getsockname()[1]
            s.settimeout(IO_TIMEOUT)
            s.sendall(b"REQ %d\n" % len(payload) + payload)
            f = s.makefile("rb")
            r["name"] = f.readline(16).strip().decode(errors="replace")
            body = f.read(len(payload))
            if body != payload:
                r["err"] = "echoed body differs (%d of %d bytes back)" % (
                    len(body), len(payload))
        except OSError as e:
            r["err"] = "%s: %s" % (type(e).__name__, e)
        finally:
            s.close()
        out.append(r)
    print(json.dumps(out), flush=True)


def role_echo():
    """One connection to VIP:7; every 100 ms send 1..3000 bytes and read them
    back, until a line (or EOF) on stdin; then close cleanly."""
    r = {"sport": 0, "exchanges": 0, "bytes": 0, "err": None}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(CONNECT_TIMEOUT)
    try:
        s.connect((VIP, ECHO_PORT))
        r["sport"] = s.getsockname()[1]
        s.settimeout(IO_TIMEOUT)
        print(json.dumps({"connected": r["sport"]}), flush=True)
        while not select.select([sys.stdin], [], [], 0.1)[0]:
            data = os.urandom(1 + int.from_bytes(os.urandom(2), "big") % 3000)
            s.sendall(data)
            back = b""
            while len(back) < len(data):
                chunk = s.recv(len(data) - len(back))
                if not chunk:
                    raise ConnectionError("server closed the connection")
                back += chunk
            if back != data:
                raise ValueError("echo differs after %d exchanges" % r["exchanges"])
            r["exchanges"] += 1
            r["bytes"] += len(data)
        s.shutdown(socket.SHUT_WR)
        if s.recv(1) != b"":
            raise ValueError("data after our FIN")
    except (OSError, ValueError) as e:
        r["err"] = "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()
    print(json.dumps(r), flush=True)


def role_udp(count, deadline):
    """count request/response datagrams to VIP:5353, each from its own socket
    (all kept open, so the source ports are distinct)."""
    end = time.monotonic() + deadline
    socks, out = [], []
    for i in range(count):
        r = {"sport": 0, "names": [], "retries": 0, "err": None}
        why = gave_up(out, end)
        out.append(r)
        if why:
            r["err"] = why
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks.append((s, r))
        s.bind((CLIENT_IP, 0))
        r["sport"] = s.getsockname()[1]
        s.settimeout(1.0)
        req = b"q%d-%s" % (i, os.urandom(8).hex().encode())
        for attempt in range(3):  # UDP may lose a datagram; a retry is the same flow
            s.sendto(req, (VIP, UDP_PORT))
            try:
                data = s.recv(2048)
            except socket.timeout:
                r["retries"] += 1
                continue
            name, _, echoed = data.partition(b" ")
            r["names"].append(name.decode(errors="replace"))
            if echoed != req:
                r["err"] = "answer does not echo the request"
            break
        else:
            r["err"] = "no answer after 3 tries"
    time.sleep(0.3)  # late duplicates: a second backend answering
    for s, r in socks:
        s.setblocking(False)
        while True:
            try:
                data = s.recv(2048)
            except BlockingIOError:
                break
            r["names"].append(data.partition(b" ")[0].decode(errors="replace"))
        s.close()
    print(json.dumps(out), flush=True)


def icmp_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def role_ping(count):
    """ICMP echo over a raw socket (iputils ping is not a dependency):
    replies per sequence number, duplicates included."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    replies = {}

    def collect(until):
        while True:
            left = until - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                return
            pkt, addr = s.recvfrom(2048)
            ihl = (pkt[0] & 0x0F) * 4
            if addr[0] != VIP or len(pkt) < ihl + 8:
                continue
            typ, _, _, rid, seq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
            if typ == 0 and rid == ident:
                replies[seq] = replies.get(seq, 0) + 1

    for seq in range(count):
        body = b"sluice-live-%04d" % seq
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        cs = icmp_checksum(hdr + body)
        s.sendto(struct.pack("!BBHHH", 8, 0, cs, ident, seq) + body, (VIP, 0))
        collect(time.monotonic() + 0.2)
    collect(time.monotonic() + 1.0)
    print(json.dumps({"sent": count, "replies": {str(k): v for k, v in replies.items()}}),
          flush=True)


def ip_csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b + b"\0" * (len(b) & 1)))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def tcp_frame(smac, dmac, src, dst, sport, dport, flags):
    """An Ethernet/IPv4/TCP segment (no payload), checksums right."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 1 if flags & 0x10 else 0, 5 << 4,
                      flags, 65535, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", ip_csum(s + d + struct.pack("!BBH", 0, 6, 20) + tcp)) \
        + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", ip_csum(ip)) + ip[12:]
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
    return mac(dmac) + mac(smac) + b"\x08\x00" + ip + tcp


def role_taps(client_if, backend_if, count):
    """Two_workers: a SYN of count flows into the client tap, then each
    flow's SYN-ACK into the backend tap (the kernel's transmit on a tap is
    sluice-dp's receive, on the queue the tun driver picks)."""
    def sock(ifname):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((ifname, 0))
        return s
    c, b = sock(client_if), sock(backend_if)
    flows = [("10.99.%d.%d" % (1 + i // 250, 1 + i % 250), 20000 + i) for i in range(count)]
    for ip, port in flows:
        c.send(tcp_frame(CLIENT_MAC, BACKEND_MAC, ip, VIP, port, WEB_PORT, 0x02))
    time.sleep(0.5)  # the SYNs decided before their answers come
    for ip, port in flows:
        b.send(tcp_frame(BACKEND_MAC, CLIENT_MAC, VIP, ip, WEB_PORT, port, 0x12))
    time.sleep(0.5)
    print(json.dumps({"sent": 2 * count}), flush=True)


def helper_main(argv):
    role = argv[0]
    if role == "_server":
        role_server(argv[1])
    elif role == "_web":
        role_web(int(argv[1]), float(argv[2]))
    elif role == "_echo":
        role_echo()
    elif role == "_udp":
        role_udp(int(argv[1]), float(argv[2]))
    elif role == "_ping":
        role_ping(int(argv[1]))
    elif role == "_taps":
        role_taps(argv[1], argv[2], int(argv[3]))
    else:
        sys.exit("live_netns: unknown helper role %r" % role)


# ---------------------------------------------------------------------------
# The test driver (root namespace)
# ---------------------------------------------------------------------------

def log(msg):
    if VERBOSE:
        print("  .. " + msg, flush=True)


def run(cmd, timeout=T_CMD):
    """Run a command; a non-zero status raises Fail naming the command."""
    log(" ".join(cmd))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, text=True, preexec_fn=pdeathsig)
    except subprocess.TimeoutExpired:
        raise Fail("'%s' did not finish within %ss" % (" ".join(cmd), timeout))
    if p.returncode != 0:
        raise Fail("'%s' exited with %d: %s" % (" ".join(cmd), p.returncode,
                                                 (p.stderr or p.stdout).strip()))
    return p


def base_conf():
    c = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    c.optionxform = str
    if not c.read(BASE_CONF):
        raise Fail("%s: cannot read" % BASE_CONF)
    return c


class Topology:
    """Namespaces, veth pairs and servers of one run; cleanup() undoes exactly
    what was created, whatever happened before.

    sluice-dp and the host ends of the veths live in a fourth namespace
    ("dp"), not in the root one: the af_packet PMD joins each socket to the
    PACKET_FANOUT group (pid ^ ifindex) & 0xffff, and fanout groups are per
    network namespace, so two concurrent runs in one namespace can pick the
    same group for different interfaces and the second fails with EINVAL.
    It also leaves the root namespace untouched and lets the interface names
    be those of conf/netns.ini."""

    def __init__(self):
        pid = os.getpid()
        self.ns = {r: "sl-live-%d-%s" % (pid, r) for r in ("client",) + GROUPS + ("dp",)}
        c = base_conf()
        self.host = {}
        for role in ("client",) + GROUPS:
            sec = "port " + role
            m = re.search(r"iface=([^,]+)", c.get(sec, "devargs", fallback=""))
            if not m:
                raise Fail("%s: [%s] devargs has no iface=" % (BASE_CONF, sec))
            self.host[role] = m.group(1)
        self.peer = "veth0"
        self.made_ns = []
        self.procs = []
        self.done = False

    def ns_cmd(self, role, *cmd):
        return ["ip", "netns", "exec", self.ns[role]] + list(cmd)

    def spawn(self, role, cmd, stdin=None, stderr=subprocess.PIPE):
        cmd = self.ns_cmd(role, *cmd)
        log(" ".join(cmd))
        p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr,
                             text=True, preexec_fn=pdeathsig)
        self.procs.append(p)
        return p

    def helper(self, role, *args, stdin=None):
        return self.spawn(role, [sys.executable, SELF] + list(args), stdin=stdin)

    def offloads_off(self, role, ifname):
        # af_packet hands sluice-dp the frames exactly as the kernel built
        # them: with tx checksum offload their checksums are only partial (the
        # receiver drops them), with TSO/GSO/GRO they are super-frames larger
        # than the MTU and than the PMD's frame slots.
        prefix = self.ns_cmd(role)
        feats = run(prefix + ["ethtool", "-k", ifname]).stdout
        args = ["tx", "off", "tso", "off", "gso", "off", "gro", "off"]
        if re.search(r"^rx-gro-hw: \w+$", feats, re.M):  # present and not [fixed]
            args += ["rx-gro-hw", "off"]
        run(prefix + ["ethtool", "-K", ifname] + args)
        feats = run(prefix + ["ethtool", "-k", ifname]).stdout
        for f in ("tx-checksumming", "tcp-segmentation-offload",
                  "generic-segmentation-offload", "generic-receive-offload"):
            check(re.search(r"^%s: off" % f, feats, re.M),
                  "%s: %s still on after ethtool -K" % (ifname, f))

    def setup(self):
        for role, ns in self.ns.items():
            run(["ip", "netns", "add", ns])
            self.made_ns.append(ns)
            # IPv6 off before any interface exists: no RS/DAD/MLD noise, no
            # duplicate link-local addresses (blue and green share a MAC), and
            # nothing sent on the host ends that sluice-dp's sockets would see.
            run(self.ns_cmd(role, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                            "net.ipv6.conf.default.disable_ipv6=1"))
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        dp = self.ns["dp"]
        for role in ("client",) + GROUPS:
            ns, h = self.ns[role], self.host[role]
            run(["ip", "-n", dp, "link", "add", h, "type", "veth", "peer", "name", self.peer,
                 "netns", ns])
            mac = CLIENT_MAC if role == "client" else BACKEND_MAC
            ip = CLIENT_IP if role == "client" else VIP
            run(["ip", "-n", ns, "link", "set", self.peer, "address", mac])
            run(["ip", "-n", ns, "addr", "add", ip + "/24", "dev", self.peer])
            self.offloads_off("dp", h)
            self.offloads_off(role, self.peer)
            run(["ip", "-n", dp, "link", "set", h, "up"])
            run(["ip", "-n", ns, "link", "set", self.peer, "up"])
        for g in GROUPS:
            p = self.helper(g, "_server", g)
            line = read_line(p, T_CMD)
            check(line == "ready", "%s server did not start: %s" % (g, line or p_err(p)))

    def cleanup(self):
        """Processes first (a namespace with a process in it outlives its
        name), then the namespaces, which take their veths with them."""
        if self.done:
            return
        self.done = True
        for p in self.procs:
            stop_proc(p, signal.SIGTERM, T_STOP)
        for ns in self.made_ns:
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=T_CMD)


def stop_proc(p, sig, wait):
    """Signal p and wait; SIGKILL if it does not go.  Returns its status."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    return p.returncode


def read_line(p, timeout):
    """One stdout line of p within timeout, or None."""
    r, _, _ = select.select([p.stdout], [], [], timeout)
    if not r:
        return None
    return p.stdout.readline().strip() or None


def p_err(p):
    if p.poll() is None:
        return "no answer"
    return "exited %d: %s" % (p.returncode, p.stderr.read().strip()[-500:])


def helper_result(p, timeout, what):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise Fail("%s: no result within %ss" % (what, timeout))
    lines = out.strip().splitlines()
    check(p.returncode == 0 and lines, "%s: exited %d: %s" % (what, p.returncode,
                                                             err.strip()[-500:]))
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise Fail("%s: not a JSON result: %r" % (what, lines[-1][:200]))


class Dataplane:
    """One sluice-dp run with every service at one share."""

    def __init__(self, binary, topo, tmp, share):
        self.share = share
        self.dir = os.path.join(tmp, "share%d" % share)
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "netns.ini")
        self.stats_path = os.path.join(self.dir, "stats.json")
        self.topo = topo
        self.write_conf(topo)
        self.cmd = [binary, "-c", self.conf, "--stats", self.stats_path]
        self.lines = queue.Queue()
        self.out = []
        self.proc = None
        self.stats = None
        self.status = None

    def write_conf(self, topo):
        """conf/netns.ini with every service at this run's share."""
        c = base_conf()
        for sec in c.sections():
            if sec.startswith("service "):
                c[sec]["share"] = "%d%%" % self.share
        for sec, (proto, port) in SERVICES.items():
            if "service " + sec not in c:
                raise Fail("%s: no [service %s]" % (BASE_CONF, sec))
            s = c["service " + sec]
            if (s.get("proto"), s.get("vip"), s.get("ports")) != (proto, VIP, str(port)):
                raise Fail("%s: [service %s] is not %s %s:%d" % (BASE_CONF, sec, proto,
                                                                   VIP, port))
        with open(self.conf, "w") as f:
            c.write(f)

    def start(self):
        self.t0 = time.monotonic()
        self.proc = self.topo.spawn("dp", self.cmd, stderr=subprocess.STDOUT)

        def reader():
            for line in self.proc.stdout:
                self.out.append(line.rstrip("\n"))
                self.lines.put(line)
            self.lines.put(None)

        threading.Thread(target=reader, daemon=True).start()
        end = time.monotonic() + T_START
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise Fail("sluice-dp did not print its 'forwarding' line within %ss:\n%s"
                           % (T_START, self.output()))
            if line is None:
                self.proc.wait(5)
                raise Fail("sluice-dp exited %s before forwarding:\n%s"
                           % (self.proc.returncode, self.output()))
            if re.match(r"sluice-dp: \d+ ports?, \d+ workers?, forwarding$", line.strip()):
                self.start_s = time.monotonic() - self.t0
                return

    def stop(self):
        """SIGTERM; the run must end with status 0 and write --stats."""
        if self.proc is None or self.status is not None:
            return
        self.status = stop_proc(self.proc, signal.SIGTERM, T_STOP)
        check(self.status == 0, "sluice-dp exited %s after SIGTERM (0 expected):\n%s"
              % (self.status, self.output()))
        try:
            with open(self.stats_path) as f:
                self.stats = json.load(f)
        except (OSError, ValueError) as e:
            raise Fail("--stats %s: %s" % (self.stats_path, e))

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_proc(self.proc, signal.SIGTERM, T_STOP)

    def output(self):
        return "\n".join("    " + line for line in self.out[-20:])

    def group(self, svc, g):
        return self.stats["services"][svc]["groups"][g]


class TapDataplane(Dataplane):
    """sluice-dp with two worker lcores on net_tap ports in the dp
    namespace: the virtual device here that has several queues and a
    dispatch by flow (af_packet and net_pcap have no RSS, and sluice-dp
    refuses several workers without it).  The tun driver picks a tap
    queue by the kernel's symmetric flow hash, or the queue sluice-dp last
    sent the flow on."""

    def __init__(self, binary, topo, tmp, share=0):
        tag = "%d" % (os.getpid() % 100000)
        self.taps = {r: "slt%s%s" % (tag, r[0]) for r in ("client",) + GROUPS}
        Dataplane.__init__(self, binary, topo, os.path.join(tmp, "two_workers"), share)

    def output_all(self, timeout=5.0):
        """Every line it printed (the reader thread may still be at the
        summary when the process has gone)."""
        end = time.monotonic() + timeout
        while True:
            try:
                if self.lines.get(timeout=max(0.0, end - time.monotonic())) is None:
                    break
            except queue.Empty:
                break
        return "\n".join(self.out)

    def write_conf(self, topo):
        c = base_conf()
        cpus = sorted(os.sched_getaffinity(0))
        # three lcores (main + two workers) on what there is: on two CPUs
        # one worker shares the main lcore's
        lc = ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(3))
        c["dataplane"]["eal_args"] = re.sub(r"-l \S+", "--lcores=" + lc,
                                            c["dataplane"]["eal_args"])
        check("--lcores=" in c["dataplane"]["eal_args"],
              "%s: eal_args has no -l to replace" % BASE_CONF)
        for i, r in enumerate(("client",) + GROUPS):
            c["port " + r]["devargs"] = "net_tap%d,iface=%s" % (i, self.taps[r])
        for sec in c.sections():
            if sec.startswith("service "):
                c[sec]["share"] = "0%"
        with open(self.conf, "w") as f:
            c.write(f)


def tolerance(n, p):
    return SIGMAS * math.sqrt(n * p * (1 - p))


def tally(results):
    """Per group counts of the answers; the failures listed."""
    by = {g: 0 for g in GROUPS}
    bad = []
    for r in results:
        if r.get("err"):
            bad.append(r)
        elif r["name"] in by:
            by[r["name"]] += 1
        else:
            bad.append(dict(r, err="answer from unknown backend %r" % r["name"]))
    return by, bad


def first_errors(bad, n=3):
    return "; ".join("sport %s: %s" % (r["sport"], r["err"]) for r in bad[:n])


def check_web(dp, results, count, share):
    by, bad = tally(results)
    check(len(results) == count, "%d results for %d connections" % (len(results), count))
    check(not bad, "%d of %d connections failed: %s" % (len(bad), count, first_errors(bad)))
    sports = [r["sport"] for r in results]
    check(len(set(sports)) == count, "only %d distinct source ports in %d connections"
          % (len(set(sports)), count))
    if share == 0:
        check(by["green"] == 0, "%d connections answered by green at share 0%%" % by["green"])
    elif share == 100:
        check(by["blue"] == 0, "%d connections answered by blue at share 100%%" % by["blue"])
    else:
        tol = tolerance(count, share / 100)
        exp = count * share / 100
        check(abs(by["green"] - exp) <= tol, "green answered %d of %d, expected %.0f +- %.1f"
              % (by["green"], count, exp, tol))
    for g in GROUPS:
        st = dp.group("web", g)
        check(st["flows"] == by[g], "--stats: web/%s flows %d, answers %d"
              % (g, st["flows"], by[g]))
        check(st["return_synack"] == by[g], "--stats: web/%s return_synack %d, connections %d"
              % (g, st["return_synack"], by[g]))
        check(st["return_rst"] == 0, "--stats: web/%s return_rst %d" % (g, st["return_rst"]))
    # evidence: every connection an exposure of its group's role, its
    # handshake answered in time and its request answered, none reset
    ev = dp.stats["services"]["web"]["evidence"]
    for role, g in (("champion", "blue"), ("challenger", "green")):
        e = ev[role]
        check(e["flows"] == e["hs_ok"] == e["ttfb_flows"] == by[g],
              "--stats: web evidence %s (%s) %s, connections %d" % (role, g, e, by[g]))
        check(e["hs_fail"] == e["rst"] == e["icmp"] == 0,
              "--stats: web evidence %s (%s) %s" % (role, g, e))
    for name, port in dp.stats["ports"].items():
        for k in ("drops", "rx_missed", "tx_errors"):
            check(port[k] == 0, "--stats: port %s %s %d" % (name, k, port[k]))
    return by


class Runner(Tally):
    def __init__(self, args):
        self.binary = os.path.join(args.build, "dataplane", "sluice-dp")
        self.passed = 0
        self.failed = 0
        self.topo = Topology()
        self.tmp = tempfile.mkdtemp(prefix="sluice-live-")
        self.keep = args.keep_logs
        self.only = args.only

    def dataplane_run(self, share, body, names, make=None):
        """Start sluice-dp at share, run body(dp, results), stop sluice-dp,
        then judge: body stores per test a verdict function (run once the
        --stats file exists) or the Fail that stopped it.  A failed start or
        an unclean stop fails every test of the run."""
        dp = None
        results = {}
        try:
            dp = (make or Dataplane)(self.binary, self.topo, self.tmp, share)
            dp.start()
            log("sluice-dp forwarding after %.2fs" % dp.start_s)
            try:
                body(dp, results)
            except Fail as e:
                for name in names:
                    results.setdefault(name, e)
            dp.stop()
        except Fail as e:
            results = {name: e for name in names}
        finally:
            if dp:
                dp.kill()
        for name in names:
            r = results.get(name, Fail("not run"))
            if callable(r):
                try:
                    r = r()
                except Fail as e:
                    r = e
                except (KeyError, TypeError, IndexError) as e:
                    r = Fail("--stats: %s missing or malformed (%s)" % (e, type(e).__name__))
            if isinstance(r, Exception):
                self.report(name, False, str(r))
            else:
                self.report(name, True, r)

    # -- runs -------------------------------------------------------------

    @staticmethod
    def attempt(res, name, fn, *args):
        try:
            res[name] = fn(*args)
        except Fail as e:
            res[name] = e

    def run_share0(self, dp, res):
        self.attempt(res, "arp_icmp", self.arp_icmp, dp)
        self.attempt(res, "share_0", self.web_run, dp, 100, 0)

    def run_share100(self, dp, res):
        self.attempt(res, "share_100", self.web_run, dp, 100, 100)

    def run_share50(self, dp, res):
        echo = self.topo.helper("client", "_echo", stdin=subprocess.PIPE)
        line = read_line(echo, CONNECT_TIMEOUT + 2)
        if not (line and "connected" in line):
            res["long_connection"] = Fail("echo client did not connect: %s"
                                          % (line or p_err(echo)))
            stop_proc(echo, signal.SIGTERM, 3)
        t0 = time.monotonic()
        self.attempt(res, "share_50", self.web_run, dp, 400, 50)
        self.attempt(res, "udp_50", self.udp_run, dp, 200, 50)
        if "long_connection" in res:
            return
        # A few seconds at least, so the connection sees dozens of exchanges
        time.sleep(max(0.0, ECHO_HOLD - (time.monotonic() - t0)))
        held = time.monotonic() - t0
        try:
            echo.stdin.write("stop\n")
            echo.stdin.flush()
        except OSError:
            pass  # it ended already: helper_result says why
        self.attempt(res, "long_connection", helper_result, echo, IO_TIMEOUT + 5,
                     "echo client")
        if not isinstance(res["long_connection"], Fail):
            er = res["long_connection"]
            res["long_connection"] = lambda: self.check_echo(dp, er, held)

    def run_two_workers(self, dp, res):
        self.attempt(res, "two_workers", self.two_workers, dp, TAP_FLOWS)

    def two_workers(self, dp, count):
        """Both directions of every flow on one worker: each SYN-ACK finds
        its flow in the table of the worker that received it (a return
        packet on the other worker counts as return_untracked), and both
        workers had flows.  Scaling is not measured: two workers on two
        CPUs shared with the main lcore."""
        t = self.topo
        for tap in dp.taps.values():
            run(t.ns_cmd("dp", "ip", "link", "set", tap, "up"))
        helper_result(t.helper("dp", "_taps", dp.taps["client"], dp.taps["blue"],
                               str(count)), 20, "tap injector")

        def verdict():
            st = dp.stats
            rx = st.get("worker_rx", [])
            check(st["workers"] == 2 and len(rx) == 2, "--stats: workers %s, worker_rx %s"
                  % (st["workers"], rx))
            check(min(rx) > 0, "--stats: worker_rx %s: one worker had every flow (the "
                  "test proves nothing then)" % rx)
            un = st["flow_table"]["return_untracked"]
            check(un == 0, "--stats: %d of %d SYN-ACKs reached a worker without their flow "
                  "(worker_rx %s): a flow's directions split across workers" % (un, count, rx))
            g = dp.group("web", "blue")
            check(g["flows"] == count and g["return_synack"] == count,
                  "--stats: web/blue flows %d, return_synack %d (%d sent)"
                  % (g["flows"], g["return_synack"], count))
            check("received per worker:" in dp.output_all(),
                  "sluice-dp printed no per-worker figures:\n%s" % dp.output())
            return "%d flows, both directions on one worker; received per worker %s" % (
                count, rx)
        return verdict

    # -- tests ------------------------------------------------------------

    def arp_icmp(self, dp):
        """The client resolves and pings the VIP through the flood path."""
        t = self.topo
        for role in t.ns:
            run(["ip", "-n", t.ns[role], "neigh", "flush", "all"])
        pr = helper_result(t.helper("client", "_ping", "5"), 15, "ping")
        neigh = json.loads(run(["ip", "-n", t.ns["client"], "-j", "neigh", "show",
                                VIP]).stdout or "[]")
        learnt = {}
        for g in GROUPS:
            learnt[g] = json.loads(run(["ip", "-n", t.ns[g], "-j", "neigh", "show",
                                        CLIENT_IP]).stdout or "[]")

        def verdict():
            missing = [s for s in range(pr["sent"]) if str(s) not in pr["replies"]]
            check(not missing, "no echo reply for sequence %s" % missing)
            check(neigh and neigh[0].get("lladdr") == BACKEND_MAC,
                  "client's neighbour entry for %s is %s, not %s" % (VIP, neigh, BACKEND_MAC))
            for g in GROUPS:
                check(learnt[g] and learnt[g][0].get("lladdr") == CLIENT_MAC,
                      "%s never saw the client's ARP request (neighbour %s)" % (g, learnt[g]))
            check(dp.stats["other_forwarded"] > 0, "--stats: other_forwarded is 0")
            total = sum(pr["replies"].values())
            return "%d echoes, %d replies (%d duplicates: both backends answer)" % (
                pr["sent"], total, total - pr["sent"])
        return verdict

    def web_run(self, dp, count, share):
        t0 = time.monotonic()
        results = helper_result(self.topo.helper("client", "_web", str(count), "60"), 75,
                                "web client")
        dt = time.monotonic() - t0

        def verdict():
            by = check_web(dp, results, count, share)
            return "%d connections in %.1fs, blue %d, green %d; --stats agree" % (
                count, dt, by["blue"], by["green"])
        return verdict

    def udp_run(self, dp, count, share):
        t0 = time.monotonic()
        results = helper_result(self.topo.helper("client", "_udp", str(count), "40"), 60,
                                "udp client")
        dt = time.monotonic() - t0

        def verdict():
            by = {g: 0 for g in GROUPS}
            bad = []
            for r in results:
                names = set(r["names"])
                if r["err"]:
                    bad.append(r)
                elif len(names) != 1 or not names <= set(GROUPS):
                    bad.append(dict(r, err="answered by %s" % r["names"]))
                else:
                    by[names.pop()] += 1
            check(not bad, "%d of %d requests: %s" % (len(bad), count, first_errors(bad)))
            check(len({r["sport"] for r in results}) == count, "source ports not distinct")
            tol, exp = tolerance(count, share / 100), count * share / 100
            check(abs(by["green"] - exp) <= tol, "green answered %d of %d, expected %.0f +- "
                  "%.1f" % (by["green"], count, exp, tol))
            for g in GROUPS:
                st = dp.group("query", g)
                check(st["flows"] == by[g], "--stats: query/%s flows %d, answers %d"
                      % (g, st["flows"], by[g]))
            # UDP evidence: each request timed to its first answer
            ev = dp.stats["services"]["query"]["evidence"]
            for role, g in (("champion", "blue"), ("challenger", "green")):
                e = ev[role]
                check(e["flows"] == e["ttfb_flows"] == by[g] and e["hs_ok"] == e["hs_fail"] == 0,
                      "--stats: query evidence %s (%s) %s, answers %d" % (role, g, e, by[g]))
            retries = sum(r["retries"] for r in results)
            return "%d datagrams in %.1fs, blue %d, green %d, %d retries; --stats agree" % (
                count, dt, by["blue"], by["green"], retries)
        return verdict

    def check_echo(self, dp, er, held):
        check(not er["err"], "after %d exchanges: %s" % (er["exchanges"], er["err"]))
        want = int(held / 0.1 * 0.5)  # at least half the 100 ms ticks
        check(er["exchanges"] >= max(want, 5), "only %d exchanges in %.1fs"
              % (er["exchanges"], held))
        flows = {g: dp.group("echo", g)["flows"] for g in GROUPS}
        check(sum(flows.values()) == 1, "--stats: echo flows %s, 1 expected" % flows)
        for g in GROUPS:
            check(dp.group("echo", g)["return_rst"] == 0, "--stats: echo/%s return_rst" % g)
        return "%d exchanges, %d bytes echoed over %.1fs on %s" % (
            er["exchanges"], er["bytes"], held, [g for g in GROUPS if flows[g]][0])

    def main(self):
        order = [(0, self.run_share0, ["arp_icmp", "share_0"]),
                 (100, self.run_share100, ["share_100"]),
                 (50, self.run_share50, ["share_50", "long_connection", "udp_50"]),
                 (0, self.run_two_workers, ["two_workers"], TapDataplane)]
        if self.only:
            order = [o for o in order if set(o[2]) & set(self.only)]
        try:
            try:
                check(os.path.isfile(self.binary) and os.access(self.binary, os.X_OK),
                      "%s not found: build first (meson setup build && ninja -C build)"
                      % self.binary)
                t0 = time.monotonic()
                self.topo.setup()
                log("topology up in %.1fs" % (time.monotonic() - t0))
            except Fail as e:
                for _, _, names, *_ in order:
                    for n in names:
                        self.report(n, False, "setup: %s" % e)
                return
            for share, body, names, *make in order:
                self.dataplane_run(share, body, names, *make)
        finally:
            self.topo.cleanup()
            if not self.keep:
                subprocess.run(["rm", "-rf", self.tmp])
            else:
                print("logs and configurations: %s" % self.tmp)


def remove_stale():
    """Namespaces left by a run that was SIGKILLed (its pid is gone)."""
    p = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True,
                       timeout=T_CMD)
    for line in p.stdout.splitlines():
        m = re.match(r"(sl-live-(\d+)-(client|blue|green|dp))\b", line)
        if m and not os.path.exists("/proc/%s" % m.group(2)):
            print("removing stale namespace %s (its test run is gone)" % m.group(1))
            subprocess.run(["ip", "netns", "del", m.group(1)], timeout=T_CMD)


def main():
    global VERBOSE
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        helper_main(sys.argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="meson build directory holding dataplane/sluice-dp")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep the generated configurations and --stats files")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every command")
    ap.add_argument("--only", metavar="TEST", action="append",
                    help="run only the sluice-dp runs holding TEST (repeatable)")
    args = ap.parse_args()
    VERBOSE = args.verbose
    if os.geteuid() != 0:
        print("live_netns: must run as root (namespaces, veths, raw sockets)")
        print("0 passed, 1 failed")
        return 1

    try:
        r = Runner(args)
    except Fail as e:
        print("FAIL setup: %s" % e)
        print("0 passed, 1 failed")
        return 1
    atexit.register(r.topo.cleanup)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt("signal %d" % sig)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    t0 = time.monotonic()
    try:
        remove_stale()
        r.main()
    except KeyboardInterrupt:
        r.topo.cleanup()
        print("live_netns: interrupted, cleaned up")
        r.failed += 1
    except Exception:  # a bug here must still clean up and count
        traceback.print_exc()
        r.topo.cleanup()
        print("FAIL live_netns: unexpected error (above)")
        r.failed += 1
    print("live_netns: %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 and r.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
