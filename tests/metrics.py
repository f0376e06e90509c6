#!/usr/bin/env python3
"""sluiced's Prometheus metrics ([control] metrics) and the Grafana dashboard,
against a real Prometheus server.

  python3 tests/metrics.py [--build DIR] [--keep] [TEST...]

Each test runs its own sluiced through cli.daemon_test (the configuration of
tests/cli.py, [control] metrics on a free loopback port) and, where it says
so, a real Prometheus (Debian's `prometheus`: temporary configuration and
TSDB, scrape_interval 1s, its own free port), stopped at the end:

  test_live       sluice-dp attached, its client port net_pcap replaying
                  pcap-fixtures/demo.pcap: over and over for a measured share
                  (as status measures it, near the 20 % canary), then once for
                  counters that stay put; a shadow rule, a change the worker
                  acknowledges; Prometheus's answers equal sluicectl's
                  (generation, configured share in basis points, packets,
                  bytes and flows per group, ports, malformed, shadow, ack
                  count and p99); `promtool check metrics` finds nothing
  test_guards     a rollout with guards and pushed evidence (no dataplane):
                  rollout step and state, each guard's verdict, flows,
                  statistic and threshold as status shows them, the pushes,
                  slices' series; then a failed guard and the abort
  test_endpoint   404 elsewhere than /metrics, 405 for POST, the content type,
                  HELP and TYPE for every sample, naming conventions; a bad
                  [control] metrics is exit 2 naming file, section and key; a
                  port in use is exit 1 naming the address and changes
                  nothing; a reload that changes metrics says it takes effect
                  at restart, a bad one is refused
  test_dashboard  conf/grafana/sluice.json: Grafana's import fields, every
                  metric its queries name is in the live exposition, and every
                  query runs on Prometheus without an error

Prints PASS/FAIL per test and a final "N passed, N failed" line.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli  # noqa: E402
import guards  # noqa: E402
import harness  # noqa: E402
from harness import Fail, check  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "pcap-fixtures", "demo.pcap")
DASHBOARD = os.path.join(ROOT, "conf", "grafana", "sluice.json")
DEMO_PACKETS = 31660  # pcap-fixtures/manifest.json: demo.pcap

TESTS, test = harness.registry()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(url, method="GET", timeout=10):
    """(status, content type, body text) of one request."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def metrics_test(extra="", **kw):
    """A test fn(dm, url) on its own sluiced with metrics on a free port."""
    def deco(fn):
        def wrapper(d):
            port = free_port()  # when the test runs, not when it is defined

            def run(dm):
                fn(dm, f"http://127.0.0.1:{port}/metrics")
            run.__name__ = fn.__name__
            cli.daemon_test(run, extra=f"metrics = 127.0.0.1:{port}\n" + extra,
                            name="metrics", **kw)(d)
        wrapper.__name__ = fn.__name__
        TESTS.append(wrapper)
        return wrapper
    return deco


# ------------------------------------------------------------ the exposition

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """({family: type}, [(name, {labels}, value)]) of an exposition."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            check(m, f"not a sample line: {line!r}")
            labels = dict(LABEL.findall(m.group(3) or ""))
            samples.append((m.group(1), labels, float(m.group(4))))
    return types, samples


def scrape(url):
    status, ctype, body = http(url)
    check(status == 200, f"GET {url}: {status} {body[:200]!r}")
    check(ctype == "text/plain; version=0.0.4; charset=utf-8", f"content type {ctype!r}")
    return body


def promtool_check(text):
    """promtool check metrics: exit 0 and not one complaint."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
          f"promtool check metrics: exit {p.returncode}: {p.stdout}{p.stderr}")


# ---------------------------------------------------------------- Prometheus

class Prometheus:
    """A real Prometheus scraping url every second, temporary everything."""

    def __init__(self, d, url):
        exe = shutil.which("prometheus")
        check(exe, "prometheus is not installed (tools/install-deps.sh installs it)")
        self.dir = os.path.join(d, "prometheus")
        os.makedirs(self.dir)
        u = urllib.parse.urlparse(url)
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sluice
    metrics_path: {u.path}
    static_configs:
      - targets: ['{u.netloc}']
""")
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.logf = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.p = subprocess.Popen(
            [exe, f"--config.file={conf}", f"--storage.tsdb.path={self.dir}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise Fail(f"prometheus exited {self.p.returncode}: {self.logtext()}")
            try:
                if http(self.api + "/-/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise Fail("prometheus not ready within 60 s")

    def logtext(self):
        with open(self.logf.name) as f:
            return f.read()[-2000:]

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p = None
        self.logf.close()

    def get(self, path, **params):
        status, _, body = http(self.api + path + "?" + urllib.parse.urlencode(params))
        reply = json.loads(body)
        check(status == 200 and reply.get("status") == "success",
              f"prometheus {path} {params}: {status} {body[:500]}")
        return reply["data"]

    def scraped_after(self, t, timeout=30):
        """Waits until the samples of a scrape that started after wall time t
        can be queried (a sample's timestamp is its scrape's start; a
        target's lastScrape may show before the samples are committed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.get("/api/v1/query", query="timestamp(sluice_generation)")["result"]
            if r and float(r[0]["value"][1]) > t:
                return
            time.sleep(0.2)
        targets = self.get("/api/v1/targets")["activeTargets"]
        raise Fail(f"no scrape after {t} within {timeout} s: targets {targets}")

    def query(self, expr):
        """{frozenset(labels without __name__): value} of an instant query."""
        data = self.get("/api/v1/query", query=expr)
        check(data["resultType"] == "vector", f"{expr}: {data}")
        out = {}
        for r in data["result"]:
            labels = {k: v for k, v in r["metric"].items()
                      if k not in ("__name__", "job", "instance")}
            out[frozenset(labels.items())] = float(r["value"][1])
        return out

    def one(self, expr):
        r = self.query(expr)
        check(len(r) == 1, f"{expr}: expected one series, got {r}")
        return next(iter(r.values()))


def with_prometheus(d, url, fn):
    prom = Prometheus(d, url)
    try:
        fn(prom)
    finally:
        prom.stop()


def ctl_json(dm, *args):
    out, _ = dm.cli(["--json"] + list(args), 0)
    return json.loads(out)["result"]


# ----------------------------------------------------------------- the tests

INFINITE = f"net_pcap0,rx_pcap={DEMO},tx_pcap=/dev/null,infinite_rx=1"


def detach(dm):
    """Stops dm's sluice-dp (cli.Daemon.stop stops it with sluiced)."""
    bad = cli.terminate(dm.dp, "sluice-dp", 15, lambda: dm.logtext(dm.dplog.name))
    dm.dp = None
    dm.dplog.close()
    check(bad is None, bad)


@metrics_test(mirror=True, ports={"client": INFINITE})
def test_live(dm, url):
    """Prometheus's figures are sluicectl's, with a dataplane forwarding."""
    def body(prom):
        dm.cli(["canary", "web", "20%"], 0)
        dm.cli(cli.RULE, 0)
        # 1. demo.pcap over and over: new flows every second (closed flows
        # decided again), a measured share in status and in Prometheus;
        # net_pcap holds the whole capture in mbufs (sluice-dp alone reads
        # this, sluiced keeps the configuration it started with)
        with open(dm.conf) as f:
            conf = f.read()
        with open(dm.conf, "w") as f:
            f.write(conf.replace("flow_capacity = 4096\n",
                                 f"flow_capacity = 4096\nmbufs = {DEMO_PACKETS + 8192}\n"))
        dm.attach()
        deadline = time.monotonic() + 30
        while True:
            s = ctl_json(dm, "status", "web")["services"][0]
            if s["measured_share_bp"] is not None:
                break
            check(time.monotonic() < deadline, f"nothing measured in 30 s: {s}")
            time.sleep(0.5)
        prom.scraped_after(time.time())
        prom.scraped_after(time.time())
        ch = prom.one('sluice_share_measured_ratio{service="web",role="challenger"}')
        cp = prom.one('sluice_share_measured_ratio{service="web",role="champion"}')
        later = ctl_json(dm, "status", "web")["services"][0]["measured_share_bp"]
        check(abs(ch + cp - 1) < 1e-9 and 1500 <= round(ch * 10000) <= 2500 and
              abs(round(ch * 10000) - later) <= 300,
              f"measured share: prometheus {ch}/{cp}, status {s['measured_share_bp']} then "
              f"{later} bp at a 20 % canary")
        check(prom.one('sluice_share_measured_window_seconds{service="web"}') >= 1,
              "measured window")
        detach(dm)
        # 2. demo.pcap once: counters that stay put, compared exactly
        with open(dm.conf, "w") as f:
            f.write(conf.replace(",infinite_rx=1", ""))
        dm.attach()
        deadline = time.monotonic() + 30
        while True:
            st = ctl_json(dm, "stats")
            rx = {p["port"]: p["rx"] for p in st["ports"]}
            if rx["client"] == DEMO_PACKETS:
                break
            check(time.monotonic() < deadline, f"sluice-dp read {rx} of demo.pcap in 30 s")
            time.sleep(0.2)
        # a change the worker acknowledges: one ack latency
        out, _ = dm.cli(["canary", "dns", "10%"], 0)
        check("acknowledged by 1 worker" in out, f"canary dns: {out!r}")
        st = ctl_json(dm, "stats")
        status = ctl_json(dm, "status")
        prom.scraped_after(time.time())

        check(prom.one("sluice_generation") == status["gen"] == st["gen"],
              f"generation: prometheus {prom.one('sluice_generation')}, sluicectl "
              f"{status['gen']}")
        check(prom.one("sluice_dataplane_workers") == 1, "workers")
        for s in status["services"]:
            name, bp = s["state"]["name"], s["configured_share_bp"]
            ch = prom.one(f'sluice_share_configured_ratio{{service="{name}",role="challenger"}}')
            cp = prom.one(f'sluice_share_configured_ratio{{service="{name}",role="champion"}}')
            check(round(ch * 10000) == bp and round(cp * 10000) == 10000 - bp,
                  f"{name}: configured {ch}/{cp}, status {bp} bp")
            check(prom.one(f'sluice_service_generation{{service="{name}"}}') == s["gen"],
                  f"{name}: service generation")
        check(prom.one('sluice_service_strategy{service="web",strategy="canary"}') == 1,
              "web is a canary")
        # the dataplane's counters, as sluicectl stats reads them
        n = 0
        for g in st["groups"]:
            for metric, key in (("sluice_packets_total", "pkts"),
                                ("sluice_bytes_total", "bytes"),
                                ("sluice_flows_total", "flows"),
                                ("sluice_flows_active", "active"),
                                ("sluice_return_packets_total", "ret_pkts")):
                v = prom.one(f'{metric}{{service="{g["service"]}",group="{g["group"]}"}}')
                check(v == g[key], f"{metric} {g['service']}/{g['group']}: prometheus {v}, "
                      f"sluicectl stats {g[key]}")
            n += g["pkts"]
        check(n > 20000, f"only {n} packets reached a group")
        for p in st["ports"]:
            for metric, key in (("sluice_port_rx_packets_total", "rx"),
                                ("sluice_port_tx_packets_total", "tx"),
                                ("sluice_port_tx_dropped_packets_total", "drop"),
                                ("sluice_port_rx_missed_packets_total", "rx_missed"),
                                ("sluice_port_rx_errors_total", "rx_errors"),
                                ("sluice_port_rx_nombuf_total", "rx_nombuf"),
                                ("sluice_port_tx_errors_total", "tx_errors")):
                check(p[key] is not None, f"stats: port {p['port']} has no {key}: {p}")
                v = prom.one(f'{metric}{{port="{p["port"]}"}}')
                check(v == p[key], f"{metric} {p['port']}: prometheus {v}, stats {p[key]}")
        bad = prom.query("sluice_malformed_packets_total")
        check({dict(k)["reason"]: v for k, v in bad.items()} ==
              {k: float(v) for k, v in st["malformed"].items()},
              f"malformed: prometheus {bad}, stats {st['malformed']}")
        check(sum(st["malformed"].values()) > 0, "demo.pcap has malformed packets")
        for metric, key in (("sluice_flowtable_full_total", "ft_full"),
                            ("sluice_unmatched_forwarded_packets_total", "other_fwd"),
                            ("sluice_malformed_dropped_packets_total", "malformed_drop")):
            check(prom.one(metric) == st["counters"][key], f"{metric}")
        check(prom.one("sluice_flowtable_capacity_flows") == 4096 + 1024,
              "flow table capacity (flow_capacity 4096, IPv6's a quarter, at least 1024)")
        # shadow rule web-443
        sh = st["shadows"][0]
        check(prom.one('sluice_shadow_sample_ratio{rule="web-443"}') == 0.1, "shadow sample")
        v = prom.one('sluice_shadow_packets_total{rule="web-443",service="web",port="mirror"}')
        check(v == sh["packets"] > 0, f"shadow packets: {v}, stats {sh}")
        v = prom.one('sluice_shadow_flows_total{rule="web-443"}')
        check(v == sh["flows"] > 0, f"shadow flows: {v}, stats {sh}")
        # evidence: every new flow of web is an exposure of its role
        ev = sum(prom.query('sluice_evidence_flows_total{service="web"}').values())
        fl = sum(prom.query('sluice_flows_total{service="web"}').values())
        check(ev == fl > 0, f"evidence flows {ev}, flows {fl}")
        # ack latencies: the count sluicectl reports, a p99 Prometheus computes
        acks = st["ack_latency"]["count"]
        check(acks >= 1 and prom.one("sluice_ack_latency_seconds_count") == acks,
              f"ack count: prometheus {prom.one('sluice_ack_latency_seconds_count')}, "
              f"stats {acks}")
        p99 = prom.one("histogram_quantile(0.99, sluice_ack_latency_seconds_bucket)")
        check(0 < p99 <= 8.388608, f"ack p99 {p99}")
        promtool_check(scrape(url))

    with_prometheus(dm.d, url, body)


# DESIGN's seed case: a billing slice, a guard on it and one on the service
GUARDS = guards.SEED_GUARDS


@metrics_test(extra=GUARDS)
def test_guards(dm, url):
    """Rollout and guard figures as status shows them."""
    def body(prom):
        dm.cli(["rollout", "start", "web", "--steps", "5%,20%,100%", "--dwell", "1h"], 0)
        dm.cli(["evidence", "push", "web", "--group", "blue", "--signal", "http-errors",
                "--slice", "billing", "--total", "95000", "--bad", "1710"], 0)
        dm.cli(["evidence", "push", "web", "--group", "green", "--signal", "http-errors",
                "--slice", "billing", "--total", "1000", "--bad", "20"], 0)
        s = ctl_json(dm, "status", "web")["services"][0]
        prom.scraped_after(time.time())
        check(prom.one('sluice_rollout_step{service="web"}') == s["rollout"]["step"] + 1 == 1,
              f"rollout step: {s['rollout']}")
        check(prom.one('sluice_rollout_steps{service="web"}') == 3, "rollout steps")
        check(prom.one('sluice_rollout_state{service="web",state="running"}') == 1, "running")
        check(prom.one('sluice_rollout_state{service="web",state="none"}') == 0, "not none")
        check(prom.one('sluice_share_configured_ratio{service="web",role="challenger"}') ==
              0.05, "step share")
        figs = {g["name"]: g for g in s["guards"]}
        check(set(figs) == {"billing-errors", "web-errors"}, f"guards {figs}")
        for name, g in figs.items():
            sel = f'service="web",guard="{name}"'
            verdict = prom.query(f'sluice_guard_verdict{{{sel}}} == 1')
            check([dict(k)["verdict"] for k in verdict] == [g["verdict"]],
                  f"{name}: verdict {verdict}, status {g['verdict']}")
            for role in ("champion", "challenger"):
                for metric, key in (("sluice_guard_flows", "flows"),
                                    ("sluice_guard_bad_flows", "bad")):
                    grp = "blue" if role == "champion" else "green"
                    v = prom.one(f'{metric}{{{sel},role="{role}",group="{grp}"}}')
                    check(v == g[role][key], f"{name} {metric} {role}: {v}, status "
                          f"{g[role][key]}")
            for metric, key in (("sluice_guard_statistic", "statistic"),
                                ("sluice_guard_threshold", "threshold")):
                v = prom.one(f"{metric}{{{sel}}}")
                check(abs(v - g[key]) <= 1e-9 * max(1, abs(g[key])),
                      f"{name} {metric}: {v}, status {g[key]}")
        check(figs["billing-errors"]["champion"]["flows"] == 95000, "pushed counts")
        v = figs["billing-errors"]["verdict"]
        check(prom.one(f'sluice_guard_verdict{{guard="billing-errors",slice="billing",'
                       f'verdict="{v}"}}') == 1, f"slice label, verdict {v}")
        check(prom.one('sluice_evidence_pushed_total{service="web",slice="billing",'
                       'signal="http-errors",role="champion"}') == 95000, "pushed total")
        check(prom.one('sluice_evidence_pushed_bad_total{service="web",slice="billing",'
                       'signal="http-errors",role="challenger"}') == 20, "pushed bad")
        check(len(prom.query('sluice_slice_evidence_flows_total{slice="billing"}')) == 2,
              "slice evidence series per role")
        # the challenger fails the billing guard: aborted, verdict failed
        dm.cli(["evidence", "push", "web", "--group", "green", "--signal", "http-errors",
                "--slice", "billing", "--total", "4000", "--bad", "210"], 0)
        s = ctl_json(dm, "status", "web")["services"][0]
        check(s["rollout"]["state"] == "aborted", f"rollout {s['rollout']}")
        prom.scraped_after(time.time())
        check(prom.one('sluice_rollout_state{service="web",state="aborted"}') == 1, "aborted")
        check(prom.one('sluice_guard_verdict{guard="billing-errors",verdict="failed"}') == 1,
              "failed verdict")
        check(prom.one('sluice_share_configured_ratio{service="web",role="challenger"}') == 0,
              "aborted: share 0")
        promtool_check(scrape(url))

    with_prometheus(dm.d, url, body)


@metrics_test()
def test_endpoint(dm, url):
    """HTTP answers, bad values, a port in use, a reload."""
    status, ctype, body = http(url.replace("/metrics", "/"))
    check(status == 404 and "/metrics" in body, f"GET /: {status} {body!r}")
    status, _, body = http(url + "x")
    check(status == 404, f"GET /metricsx: {status}")
    status, _, body = http(url, method="POST")
    check(status == 405 and "GET /metrics" in body, f"POST: {status} {body!r}")
    status, _, _ = http(url, method="HEAD")
    check(status == 200, f"HEAD: {status}")
    text = scrape(url)
    types, samples = parse(text)
    check(types.get("sluice_generation") == "gauge" and
          types.get("sluice_ack_latency_seconds") == "histogram", f"types {types}")
    names = {n for n, _, _ in samples}
    check("sluice_ack_latency_seconds_bucket" in names and
          "sluice_ack_latency_seconds_sum" in names, "histogram samples")
    # every sample belongs to a family that has HELP and TYPE
    helps = set(re.findall(r"^# HELP (\S+) ", text, re.M))
    for n in names:
        fam = re.sub(r"_(bucket|sum|count)$", "", n) if n not in types else n
        check(fam in types and fam in helps, f"{n}: no TYPE or HELP")
    check(all(n.startswith("sluice_") for n in names), "sluice_ prefix")
    check(all(n.endswith("_total") for n, t in types.items() if t == "counter"),
          "counters end in _total")
    promtool_check(text)

    exe = os.path.join(cli.BUILD, "control", "sluiced")
    with open(dm.conf) as f:
        conf = f.read()
    port = urllib.parse.urlparse(url).port
    for value, why in (("localhost:9469", "'localhost' is not a numeric IPv4 address"),
                       ("127.0.0.1:99999", "port 1..65535"),
                       ("127.0.0.1", "is not an address and port")):
        bad = os.path.join(dm.d, "bad.ini")
        with open(bad, "w") as f:
            f.write(conf.replace(f"metrics = 127.0.0.1:{port}", f"metrics = {value}"))
        p = subprocess.run([exe, "-c", bad], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and f"{bad}: [control] metrics: " in p.stderr and
              why in p.stderr, f"metrics = {value}: exit {p.returncode}: {p.stderr!r}")
    # the port is ours already: a second daemon (another instance) cannot listen
    other = os.path.join(dm.d, "other.ini")
    with open(other, "w") as f:
        f.write(conf.replace(dm.instance, dm.instance + "-b")
                .replace(dm.sock, dm.sock + "-b").replace(dm.journal, dm.journal + "-b"))
    pin_b = os.path.join(cli.BPFFS, "sluice", dm.instance + "-b")
    try:
        p = subprocess.run([exe, "-c", other], capture_output=True, text=True, timeout=30)
        pinned = os.path.exists(pin_b)
    finally:
        shutil.rmtree(pin_b, ignore_errors=True)
    check(p.returncode == 1 and f"metrics 127.0.0.1:{port} ([control] metrics): cannot "
          "listen" in p.stderr, f"port in use: exit {p.returncode}: {p.stderr[-600:]!r}")
    check(not os.path.exists(dm.journal + "-b") and not pinned,
          "a daemon that cannot listen wrote its journal or pinned maps")
    # a reload that changes it: at restart, and the endpoint stays where it was
    with open(dm.conf, "w") as f:
        f.write(conf.replace(f"metrics = 127.0.0.1:{port}", "metrics = 127.0.0.1:1"))
    out, _ = dm.cli(["reload"], 0)
    check("[control] metrics: take effect when sluiced restarts" in out, f"reload: {out!r}")
    scrape(url)
    with open(dm.conf, "w") as f:
        f.write(conf.replace(f"metrics = 127.0.0.1:{port}", "metrics = nope"))
    _, err = dm.cli(["reload"], 1, err_has=("reload_invalid", "[control] metrics: 'nope'"))
    scrape(url)


def promql_names(expr):
    """The sluice metric names a PromQL expression uses."""
    return set(re.findall(r"\bsluice_[a-zA-Z0-9_]*", expr))


@metrics_test(extra=GUARDS, mirror=True)
def test_dashboard(dm, url):
    """conf/grafana/sluice.json imports and cannot drift from the code."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    for k in ("title", "uid", "schemaVersion", "panels", "__inputs", "templating"):
        check(k in dash, f"dashboard: no {k}")
    check(dash["schemaVersion"] >= 36, f"schemaVersion {dash['schemaVersion']}")
    check(isinstance(dash["title"], str) and dash["title"] and
          re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dash["uid"]), "title and uid")
    inputs = {i["name"]: i for i in dash["__inputs"]}
    check(inputs.get("DS_PROMETHEUS", {}).get("type") == "datasource" and
          inputs["DS_PROMETHEUS"].get("pluginId") == "prometheus", f"__inputs {inputs}")
    var = {v["name"]: v for v in dash["templating"]["list"]}
    check("service" in var and "sluice_" in json.dumps(var["service"]["query"]),
          f"templating {var}")
    ids = [p.get("id") for p in dash["panels"]]
    check(len(set(ids)) == len(ids) and all(isinstance(i, int) for i in ids), f"ids {ids}")
    exprs = []
    for p in dash["panels"]:
        for k in ("id", "type", "title", "targets", "gridPos"):
            check(k in p, f"panel {p.get('title')}: no {k}")
        check(set(p["gridPos"]) >= {"h", "w", "x", "y"}, f"{p['title']}: gridPos")
        check(p["datasource"]["uid"] == "${DS_PROMETHEUS}", f"{p['title']}: datasource")
        check(p["targets"], f"{p['title']}: no targets")
        for t in p["targets"]:
            check(t["datasource"]["uid"] == "${DS_PROMETHEUS}" and t.get("expr") and
                  t.get("refId"), f"{p['title']}: target {t}")
            exprs.append((p["title"], t["expr"]))
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for want in ("share", "rollout step", "guards", "drops", "ack latency p99"):
        check(want in titles, f"no panel on {want}: {titles}")
    check(any("histogram_quantile(0.99" in e and "sluice_ack_latency_seconds_bucket" in e
              for _, e in exprs), "ack latency p99 by histogram_quantile")

    # the names exist in the live exposition (a family, or a histogram's series)
    types, samples = parse(scrape(url))
    known = set(types) | {n for n, _, _ in samples}
    for h in (n for n, t in types.items() if t == "histogram"):
        known |= {h + "_bucket", h + "_sum", h + "_count"}
    used = set()
    for title, e in exprs:
        for n in promql_names(e):
            check(n in known, f"panel {title}: {n} is not in sluiced's exposition")
            used.add(n)
    used |= promql_names(json.dumps(var["service"]))
    check(used <= known, f"unknown {used - known}")

    # every query runs on a real Prometheus (Grafana's variables given values)
    def body(prom):
        prom.scraped_after(time.time())
        for title, e in exprs:
            q = e.replace("$service", "web").replace("$__rate_interval", "1m")
            prom.get("/api/v1/query", query=q)
        check(prom.query('sluice_service_generation') != {}, "service variable's metric")

    with_prometheus(dm.d, url, body)


def main():
    a = harness.parse(__doc__, TESTS)
    cli.BUILD = a.build
    if not shutil.which("promtool") or not shutil.which("prometheus"):
        print("FAIL setup: prometheus and promtool are not installed "
              "(tools/install-deps.sh installs them)")
        print(f"\n0 passed, {len(a.todo)} failed")
        return 1
    return harness.run(a.todo, "sluice-metrics-", a.keep)


if __name__ == "__main__":
    sys.exit(main())
