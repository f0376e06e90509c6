#!/usr/bin/env python3
"""Guards end to end: the real sluiced (no dataplane: the evidence is pushed
by `sluicectl evidence push`, as an application monitor would), its journal
and sluicectl's output.

  python3 tests/guards.py [--build DIR] [--keep] [TEST...]

Each test runs its own sluiced (instance "test-guards-PID", temporary socket
and journal) with the configuration of tests/cli.py plus slices and guards.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli  # noqa: E402
import harness  # noqa: E402
from harness import Fail, check  # noqa: E402

TESTS, test = harness.registry()

SLICES = """
[slice billing]
service = web
src = 10.20.0.0/16

[slice enterprise]
service = web
src = 10.30.0.0/16
"""

SEED_GUARDS = SLICES + """
[guard billing-errors]
service = web
slice = billing
signal = pushed:http-errors
min_flows = 1000
alpha = 1%

[guard web-errors]
service = web
signal = pushed:http-errors
min_flows = 1000
alpha = 1%
"""


def with_daemon(extra):
    def deco(fn):
        w = cli.daemon_test(fn, extra=extra, name="guards")
        TESTS.append(w)
        return w
    return deco


def status(dm, svc="web"):
    out, _ = dm.cli(["--json", "status", svc], 0)
    return json.loads(out)["result"]["services"][0]


def journal(dm):
    with open(dm.journal) as f:
        return [json.loads(line) for line in f if line.strip()]


def push(dm, group, total, bad, slice_=None, signal="http-errors", rc=0, **kw):
    args = ["evidence", "push", "web", "--group", group, "--signal", signal,
            "--total", str(total), "--bad", str(bad)]
    if slice_:
        args += ["--slice", slice_]
    return dm.cli(args, rc, **kw)


@with_daemon(SEED_GUARDS)
def test_seed_case(dm):
    """DESIGN's seed: the billing slice's errors stop the rollout although the
    service's averages look fine."""
    dm.cli(["rollout", "start", "web", "--steps", "5%,20%,100%", "--dwell", "1h"], 0,
           out_has=("web: rollout step 1/3 at 5.00 % -> green",))
    s = status(dm)
    names = [g["name"] for g in s["guards"]]
    check(names == ["billing-errors", "web-errors"], f"guards in force {names}")
    # the whole service: 2.0 % vs 2.1 %, within what chance gives
    push(dm, "blue", 200000, 4000)
    out, _ = push(dm, "green", 10000, 210)
    check("web-errors: challenger 2.10 % vs champion 2.00 % on 10000 / 200000 flows: passing"
          in out, f"stdout {out!r}")
    check(status(dm)["rollout"]["state"] == "running", "rollout stopped on acceptable averages")
    # the billing slice: 1.8 % vs 4.6 % on 95 000 / 5 000 requests
    push(dm, "blue", 95000, 1710, slice_="billing")
    check(status(dm)["rollout"]["state"] == "running", "stopped before the challenger's counts")
    out, _ = push(dm, "green", 5000, 230, slice_="billing")
    check("billing-errors: challenger 4.60 % vs champion 1.80 % on 5000 / 95000 flows: failed"
          in out and "rollout aborted at " in out, f"stdout {out!r}")
    s = status(dm)
    check(s["rollout"]["state"] == "aborted", f"rollout {s['rollout']}")
    check(s["state"]["share_bp"] == 0 and s["state"]["champion"] == "blue", f"status {s}")
    g = {x["name"]: x for x in s["guards"]}["billing-errors"]
    check(g["verdict"] == "failed" and g["challenger"]["flows"] == 5000 and
          g["champion"]["bad"] == 1710 and g["statistic"] >= g["threshold"],
          f"figures {g}")
    # the journal names the guard, its counts, statistic and threshold
    e = [x for x in journal(dm) if x["cmd"] == "rollout_abort"]
    check(len(e) == 1, f"abort entries {e}")
    e = e[0]
    check(e["actor"] == "guard billing-errors", f"actor {e['actor']}")
    gj = e["guard"]
    check(gj["champion"] == {"flows": 95000, "bad": 1710, "rate": 0.018} and
          gj["challenger"]["flows"] == 5000 and gj["challenger"]["bad"] == 230 and
          gj["statistic"] >= gj["threshold"] > 4.6 and gj["alpha"] == 0.01,
          f"journal figures {gj}")
    check("guard billing-errors: challenger 4.60 % vs champion 1.80 %" in e["reason"],
          f"reason {e['reason']}")
    pushes = [x for x in journal(dm) if x["cmd"] == "evidence_push"]
    check(len(pushes) == 4 and isinstance(pushes[0]["actor"], dict) and
          pushes[3]["evidence"]["slice"] == "billing", f"pushes {pushes}")
    out, _ = dm.cli(["history", "web"], 0)
    check("guard billing-errors" in out and "rollout_abort" in out and
          "green http-errors/billing: 230 bad of 5000" in out, f"history {out!r}")
    out, _ = dm.cli(["status", "web"], 0)
    check("billing-errors: challenger 4.60 % vs champion 1.80 % on 5000 / 95000 flows: "
          "failed" in out, f"status {out!r}")


@with_daemon(SEED_GUARDS)
def test_window_restarts_at_each_step(dm):
    """Evidence before a step does not count in it."""
    dm.cli(["rollout", "start", "web", "--steps", "5%,20%,100%", "--dwell", "1h"], 0)
    push(dm, "blue", 95000, 1710, slice_="billing")
    dm.cli(["promote", "web"], 0, out_has=("step 2/3 at 20.00 %",))
    out, _ = push(dm, "green", 5000, 230, slice_="billing")
    # the champion's 95 000 were counted at step 1: none in this window
    check("on 5000 / 0 flows: collecting" in out, f"stdout {out!r}")
    check(status(dm)["rollout"]["state"] == "running", "aborted on evidence of another step")


@with_daemon(SEED_GUARDS)
def test_bad_evidence(dm):
    """Refused pushes name what is wrong and change nothing."""
    dm.cli(["rollout", "start", "web", "--steps", "5%,100%", "--dwell", "1h"], 0)
    with open(dm.journal, "rb") as f:
        before = f.read()
    push(dm, "red", 10, 1, rc=1, err_has=(
        "sluicectl: bad_evidence: group: red is neither web's champion (blue) nor its "
        "challenger (green)",))
    push(dm, "green", 10, 1, slice_="gold", rc=1, err_has=(
        "sluicectl: unknown_slice: slice: web has no slice named 'gold' (slices of web: "
        "billing, enterprise)",))
    push(dm, "green", 10, 11, rc=2, err_has=("--bad 11 is more than --total 10",))
    push(dm, "green", "ten", 1, rc=2, err_has=("--total: 'ten' is not a number of flows",))
    push(dm, "green", 10, 1, signal="bad name!", rc=2, err_has=("--signal 'bad name!'",))
    dm.cli(["evidence", "push", "web", "--group", "green", "--total", "1", "--bad", "0"], 2,
           err_has=("evidence push needs --signal NAME",))
    r = dm.request({"cmd": "evidence_push", "service": "web", "group": "green",
                    "signal": "http-errors", "total": 10, "bad": 11})
    check(r["error"]["code"] == "bad_evidence" and r["error"]["field"] == "bad" and
          "bad: 11 bad of 10 (expected bad <= total)" in r["error"]["message"], f"reply {r}")
    r = dm.request({"cmd": "evidence_push", "service": "web", "group": "green",
                    "signal": "http-errors", "total": -1, "bad": 0})
    check(r["error"]["code"] == "bad_evidence" and r["error"]["field"] == "total", f"{r}")
    r = dm.request({"cmd": "evidence_push", "service": "web", "group": "green",
                    "signal": "http-errors", "total": "10", "bad": 0})
    check(r["error"]["code"] == "bad_request" and "expected a whole number" in
          r["error"]["message"], f"{r}")
    dm.cli(["rollout", "abort", "web"], 0)
    dm.cli(["rollout", "start", "web", "--steps", "5%", "--dwell", "1h", "--guard",
            "nosuch"], 1, err_has=("sluicectl: bad_guard: guards: no guard named 'nosuch'",
                                   "(guards of web: billing-errors, web-errors)"))
    r = dm.request({"cmd": "rollout_start", "service": "web", "steps": [
        {"share": "5%", "dwell": "1h"}], "guard_defs": [
        {"name": "g", "service": "web", "signal": "rst", "alpha": "0.7"}]})
    check(r["error"]["code"] == "bad_guard" and r["error"]["message"].startswith(
        "guard_defs[0] (guard g) alpha: '0.7' is outside"), f"reply {r}")
    r = dm.request({"cmd": "rollout_start", "service": "web", "steps": [
        {"share": "5%", "dwell": "1h"}], "guard_defs": [
        {"name": "g", "service": "web", "signal": "rst", "colour": "red"}]})
    check(r["error"]["code"] == "bad_guard" and "unknown key 'colour'" in
          r["error"]["message"], f"reply {r}")
    r = dm.request({"cmd": "rollout_start", "service": "web", "steps": [
        {"share": "5%", "dwell": "1h"}], "guard_defs": [
        {"name": "g", "service": "web", "slice": "gold", "signal": "rst"}]})
    check(r["error"]["code"] == "bad_guard" and "slice" in r["error"]["message"] and
          "gold" in r["error"]["message"], f"reply {r}")
    with open(dm.journal, "rb") as f:
        after = f.read()
    # only the abort was journaled among all of that
    extra = after[len(before):].decode().splitlines()
    check(after.startswith(before) and len(extra) == 1 and
          json.loads(extra[0])["cmd"] == "rollout_abort", f"journal grew by {extra}")


@with_daemon(SEED_GUARDS)
def test_slice_list(dm):
    out, _ = dm.cli(["slice", "list"], 0)
    for x in ("billing", "enterprise", "10.20.0.0/16", "10.30.0.0/16"):
        check(x in out, f"slice list lacks {x!r}: {out!r}")
    out, _ = dm.cli(["--json", "slice", "list", "web"], 0)
    lst = json.loads(out)["result"]["slices"]
    check([(x["name"], x["service"], x["src"], x["evidence"]["challenger"]["flows"])
           for x in lst] == [("billing", "web", ["10.20.0.0/16"], 0),
                             ("enterprise", "web", ["10.30.0.0/16"], 0)], f"slices {lst}")
    out, _ = dm.cli(["slice", "list", "dns"], 0)
    check(out.strip() == "no slices", f"dns slices {out!r}")
    dm.cli(["slice", "list", "nosuch"], 1, err_has=("sluicectl: unknown_service",))


@with_daemon(SEED_GUARDS)
def test_slice_add_remove(dm):
    """Slices at run time: added and removed (journaled, a new generation),
    refused with the field at fault and nothing changed, usable by a guard,
    kept over a restart and over a reboot (new maps)."""
    out, _ = dm.cli(["slice", "add", "gold", "--service", "web", "--src",
                     "10.40.0.0/16, 10.41.0.0/16"], 0)
    check(out.startswith("slice gold added to web (slot 2), generation ") and
          "published, no dataplane attached" in out, f"stdout {out!r}")
    dm.cli(["slice", "add", "gold", "--service", "web", "--src", "10.40.0.0/16, 10.41.0.0/16"],
           0, out_has=("slice gold of web: unchanged",))
    with open(dm.journal, "rb") as f:
        before = f.read()
    dm.cli(["slice", "add", "gold", "--service", "web", "--src", "10.42.0.0/16"], 1,
           err_has=("sluicectl: bad_state: slice gold exists with another definition",))
    dm.cli(["slice", "add", "bad", "--service", "web", "--src", "10.40.0.1/16"], 1,
           err_has=("src: '10.40.0.1/16' has host bits set (expected 10.40.0.0/16)",))
    dm.cli(["slice", "add", "bad", "--service", "web", "--src", "2001:db8::/32"], 1,
           err_has=("is IPv6 but [service web] has an IPv4 vip",))
    dm.cli(["slice", "add", "bad", "--service", "nosuch", "--src", "10.0.0.0/8"], 1,
           err_has=("sluicectl: unknown_service",))
    dm.cli(["slice", "add", "bad", "--service", "web"], 2,
           err_has=("slice add needs --src PREFIX[,PREFIX...] or --filter EXPR",))
    dm.cli(["slice", "add", "bad", "--service", "web", "--filter", "tcp port"], 2,
           err_has=("sluicectl: bad_filter: --filter: ",))
    dm.cli(["slice", "remove", "nosuch"], 1, err_has=(
        "sluicectl: unknown_slice: no slice 'nosuch' (slices: billing, enterprise, gold)",))
    for i in range(5):
        dm.cli(["slice", "add", f"s{i}", "--service", "web", "--filter", f"tcp port {1000 + i}"],
               0)
    dm.cli(["slice", "add", "s9", "--service", "web", "--filter", "tcp port 9"], 1,
           err_has=("service web has 8 slices already (at most 8 per service)",))
    with open(dm.journal, "rb") as f:
        after = f.read()
    added = [json.loads(x) for x in after[len(before):].decode().splitlines()]
    check(after.startswith(before) and [e["cmd"] for e in added] == ["slice_add"] * 5,
          f"journal grew by {[e['cmd'] for e in added]}")
    check(added[0]["slice"]["name"] == "s0" and len(added[-1]["slices"]) == 8,
          f"entry {added[0]}")
    for i in range(5):
        dm.cli(["slice", "remove", f"s{i}"], 0, out_has=(f"slice s{i} removed from web",))
    # a guard on the added slice
    push(dm, "blue", 10, 0, slice_="gold")
    dm.cli(["rollout", "start", "web", "--steps", "5%", "--dwell", "1h"], 0)
    dm.cli(["abort", "web"], 0)
    plan = os.path.join(dm.d, "plan.ini")
    with open(plan, "w") as f:
        f.write("[step 1]\nshare = 5%\ndwell = 1h\n\n[guard gold-errors]\nservice = web\n"
                "slice = gold\nsignal = pushed:http-errors\n")
    dm.cli(["rollout", "start", "web", "--plan", plan], 0)
    check("gold-errors" in [g["name"] for g in status(dm)["guards"]], "guard on gold")
    push(dm, "blue", 95000, 1710, slice_="gold")
    push(dm, "green", 5000, 230, slice_="gold", out_has=("rollout aborted",))
    # kept by a restart (the pinned table) and by a reboot (the journal)
    for unpin in (False, True):
        dm.restart(unpin=unpin)
        out, _ = dm.cli(["--json", "slice", "list", "web"], 0)
        names = [x["name"] for x in json.loads(out)["result"]["slices"]]
        check(names == ["billing", "enterprise", "gold"], f"after restart (unpin {unpin}): "
              f"{names}")
    dm.cli(["slice", "remove", "gold"], 0)
    dm.cli(["reload"], 0)
    out, _ = dm.cli(["--json", "slice", "list"], 0)
    check([x["name"] for x in json.loads(out)["result"]["slices"]] == ["billing", "enterprise"],
          f"after reload {out}")


NAMED = SLICES + """
[guard latency]
service = web
signal = ttfb
threshold = 200ms
rollouts = named

[guard resets]
service = web
signal = rst
"""


@with_daemon(NAMED)
def test_named_and_plan_guards(dm):
    """rollouts = named only with --guard; a plan's guards always; guard list."""
    dm.cli(["rollout", "start", "web", "--steps", "5%", "--dwell", "1h"], 0)
    check([g["name"] for g in status(dm)["guards"]] == ["resets"], "named guard in force")
    dm.cli(["abort", "web"], 0)
    plan = os.path.join(dm.d, "plan.ini")
    with open(plan, "w") as f:
        f.write("""[step 1]
share = 1%
dwell = 1h

[step 2]
share = 10%
dwell = 1h

[guard billing-5xx]
service = web
slice = billing
signal = pushed:http-5xx
margin = 0.5pp
on_fail = pause
""")
    out, _ = dm.cli(["rollout", "start", "web", "--plan", plan, "--guard", "latency"], 0)
    names = [g["name"] for g in status(dm)["guards"]]
    check(names == ["billing-5xx", "latency", "resets"], f"guards {names}")
    out, _ = dm.cli(["guard", "list", "web"], 0)
    for s in ("latency", "config (named)", "resets", "config (all)", "billing-5xx",
              "rollout (running)", "0.5pp"):
        check(s in out, f"guard list lacks {s!r}: {out!r}")
    out, _ = dm.cli(["--json", "guard", "list"], 0)
    lst = json.loads(out)["result"]["guards"]
    p = [g for g in lst if g["name"] == "billing-5xx"][0]
    check(p["source"] == "rollout" and p["slice"] == "billing" and
          p["signal"] == "pushed:http-5xx" and p["on_fail"] == "pause" and
          p["figures"]["verdict"] == "collecting", f"plan guard {p}")
    t = [g for g in lst if g["name"] == "latency" and g["source"] == "rollout"][0]
    check(t["threshold"] == "200000us", f"latency guard {t}")
    # the plan's guard pauses (on_fail = pause) instead of aborting
    push(dm, "blue", 50000, 250, slice_="billing", signal="http-5xx")
    out, _ = push(dm, "green", 2000, 120, slice_="billing", signal="http-5xx")
    check("rollout paused at " in out, f"stdout {out!r}")
    s = status(dm)
    check(s["rollout"]["state"] == "paused", f"rollout {s['rollout']}")
    e = journal(dm)[-1]
    check(e["cmd"] == "rollout_pause" and e["actor"] == "guard billing-5xx", f"entry {e}")
    # resumed by the operator: the guard's window starts again
    dm.cli(["resume", "web"], 0)
    time.sleep(1.5)
    g = {x["name"]: x for x in status(dm)["guards"]}["billing-5xx"]
    check(g["verdict"] == "collecting" and g["challenger"]["flows"] == 0, f"after resume {g}")


INCONCLUSIVE = """
[guard resets]
service = web
signal = pushed:resets
min_flows = 500
on_inconclusive = {mode}
"""


@with_daemon(INCONCLUSIVE.format(mode="pause"))
def test_inconclusive_pauses(dm):
    dm.cli(["rollout", "start", "web", "--steps", "1%,5%", "--dwell", "1s"], 0)
    push(dm, "blue", 10000, 10, signal="resets")
    push(dm, "green", 100, 0, signal="resets")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and status(dm)["rollout"]["state"] == "running":
        time.sleep(0.2)
    s = status(dm)
    check(s["rollout"]["state"] == "paused" and s["rollout"]["step"] == 0,
          f"rollout {s['rollout']}")
    e = journal(dm)[-1]
    check(e["cmd"] == "rollout_pause" and e["actor"] == "guards" and
          "guard resets inconclusive: challenger 100 and champion 10000 flows, 500 needed in "
          "each" in e["reason"], f"entry {e}")


@with_daemon(INCONCLUSIVE.format(mode="hold"))
def test_inconclusive_holds(dm):
    dm.cli(["rollout", "start", "web", "--steps", "1%,5%", "--dwell", "1s"], 0)
    time.sleep(2.5)
    s = status(dm)
    check(s["rollout"]["state"] == "running" and s["rollout"]["step"] == 0 and
          "guard resets inconclusive" in s.get("held", ""), f"status {s}")
    out, _ = dm.cli(["status", "web"], 0)
    check("held at the end of the step: guard resets inconclusive" in out, f"{out!r}")
    # enough healthy evidence: the step is promoted at the next look
    push(dm, "blue", 10000, 10, signal="resets")
    push(dm, "green", 600, 1, signal="resets")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and status(dm)["rollout"]["step"] == 0:
        time.sleep(0.2)
    s = status(dm)
    check(s["rollout"]["step"] == 1 and "held" not in s, f"status {s}")


@with_daemon(SEED_GUARDS)
def test_restart_keeps_guards(dm):
    """The guards are journaled with the rollout: a restarted sluiced has them,
    with their windows started again."""
    dm.cli(["rollout", "start", "web", "--steps", "5%,100%", "--dwell", "1h"], 0)
    dm.restart()
    s = status(dm)
    check([g["name"] for g in s["guards"]] == ["billing-errors", "web-errors"], f"{s}")
    push(dm, "blue", 95000, 1710, slice_="billing")
    out, _ = push(dm, "green", 5000, 230, slice_="billing")
    check("rollout aborted" in out, f"stdout {out!r}")


def main():
    a = harness.parse(__doc__, TESTS)
    cli.BUILD = a.build
    return harness.run(a.todo, "sluice-guards-", a.keep)


if __name__ == "__main__":
    sys.exit(main())
