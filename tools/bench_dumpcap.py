#!/usr/bin/env python3
"""What a dpdk-dumpcap attached to sluice-dp costs the forwarding rate.

One sluice-dp (one worker, hugepages, shared configuration) forwards
`sluice-gen-fixtures --bench FLOWS` 64-byte packets (net_pcap infinite_rx)
to net_null ports, every flow to blue.  Its rate is read from its own
counters through its telemetry socket (/sluice/stats, port_rx) over windows
of SECONDS, alternating, ROUNDS times:
  none      nothing attached
  all       dpdk-dumpcap on blue capturing every packet (snaplen 64, to
            /dev/null): every packet is copied to dumpcap's ring
  filtered  dpdk-dumpcap on blue with a filter no packet passes ("udp port
            9"): the filter runs in sluice-dp for every packet, no copy
Prints the medians (Mpps) and the ratios to "none".

Usage (root, after a build): tools/bench_dumpcap.py [--build DIR] [--flows N]
                             [--seconds S] [--rounds R]
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dp_conf(eal, pcap, flows, mbufs, mbuf_size=None):
    """sluice-dp's configuration for a capture: PCAP looped on the client
    port (net_pcap infinite_rx: every frame of the file stays in the pool),
    two net_null backends, service web's flows all on blue (share 0 %)."""
    size = "mbuf_size = %d\n" % mbuf_size if mbuf_size else ""
    return f"""[dataplane]
eal_args = {eal}
flow_capacity = {flows + flows // 10 + 1}
mbufs = {mbufs}
{size}
[port client]
role = client
devargs = net_pcap0,rx_pcap={pcap},infinite_rx=1,tx_pcap=/dev/null

[port blue]
role = backend
devargs = net_null1,no-rx=1

[port green]
role = backend
devargs = net_null2,no-rx=1

[group blue]
port = blue
mode = port

[group green]
port = green
mode = port

[service web]
proto = tcp
vip = 192.0.2.10
ports = 443
champion = blue
challenger = green
share = 0%
"""


def tel(path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    s.recv(16384)
    s.send(cmd.encode())
    r = json.loads(s.recv(65536).decode())
    s.close()
    return r[cmd.split(",")[0]]


def rx(path):
    st = tel(path, "/sluice/stats")
    return dict(zip(st["port"], st["port_rx"]))["client"]


def window(path, secs):
    a, t0 = rx(path), time.monotonic()
    time.sleep(secs)
    b, t1 = rx(path), time.monotonic()
    return (b - a) / (t1 - t0) / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--flows", type=int, default=65536)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    subprocess.run([os.path.join(ROOT, "tools", "hugepages.sh"), "1024"], check=False)
    tmp = tempfile.mkdtemp(prefix="sluice-bench-dumpcap-")
    pcap = os.path.join(tmp, "bench.pcap")
    subprocess.run([os.path.join(a.build, "tools", "sluice-gen-fixtures"), "--bench",
                    str(a.flows), pcap], check=True, stdout=subprocess.DEVNULL)
    prefix = "sluice-bench-dumpcap-%d" % os.getpid()
    conf = os.path.join(tmp, "dp.ini")
    with open(conf, "w") as f:
        f.write(dp_conf("-l 0-1 --no-pci -m 1024 --file-prefix=%s --log-level=*:warning"
                        % prefix, pcap, a.flows, a.flows + 32768, 256))
    log = open(os.path.join(tmp, "dp.log"), "w")
    dp = subprocess.Popen([os.path.join(a.build, "dataplane", "sluice-dp"), "-c", conf],
                          stdout=log, stderr=subprocess.STDOUT)
    sock = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
    try:
        end = time.monotonic() + 60
        while not os.path.exists(sock) or "forwarding" not in open(log.name).read():
            if dp.poll() is not None or time.monotonic() > end:
                sys.exit("bench-dumpcap: sluice-dp did not start: " + open(log.name).read())
            time.sleep(0.2)
        if "packet capture ready" not in open(log.name).read():
            sys.exit("bench-dumpcap: sluice-dp has no packet capture (hugepages?): " +
                     open(log.name).read())
        time.sleep(1)
        res = {"none": [], "all": [], "filtered": []}
        for _ in range(a.rounds):
            for mode in res:
                cap = None
                if mode != "none":
                    args = ["dpdk-dumpcap", "--file-prefix=" + prefix, "-i", "net_null1",
                            "-s", "64", "-w", "/dev/null", "-q"]
                    if mode == "filtered":
                        args += ["-f", "udp port 9"]
                    cap = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
                    time.sleep(1.5)  # dumpcap attached (EAL secondary start)
                    if cap.poll() is not None:
                        sys.exit("bench-dumpcap: dpdk-dumpcap exited %d" % cap.returncode)
                res[mode].append(window(sock, a.seconds))
                if cap:
                    cap.terminate()
                    cap.wait(15)
                    time.sleep(0.5)
    finally:
        dp.terminate()
        dp.wait(30)
        log.close()
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(res["none"])
    print("flows %d, %d rounds of %.0f s, Mpps (medians; all rounds):" % (a.flows, a.rounds,
                                                                          a.seconds))
    for mode, v in res.items():
        m = statistics.median(v)
        print("  %-9s %6.2f  ratio %.3f  (%s)" % (mode, m, m / base,
                                                   ", ".join("%.2f" % x for x in v)))


if __name__ == "__main__":
    main()
