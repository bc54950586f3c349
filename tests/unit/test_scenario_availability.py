"""Availability in every step: the figures (lab.availability), the engine probing the steps that touch
the release or the database, `Available()` / `Outage()`, the reports and console, and the live probe
(`lab.app.AvailabilityProbe`) doing real HTTP to a local server behind a fake port-forward."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from lab.app import AvailabilityProbe
from lab.availability import API_PATH, DB_HEALTH_PATH, OK, Sample, longest_gap, p95, summarise
from lab.errors import LabError
from lab.kube import Kubectl
from lab.runner import Runner
from lab.scenario import (
    Action, ActionResult, AllOf, Available, Engine, Fails, Outage, RunResult, Scenario, Step, Succeeds, Verdict,
)
from lab.scenario.console import ConsoleObserver
from lab.scenario.fake import FakeContext, FakeContextFactory
from lab.scenario.model import ERROR, LOG, Evidence
from lab.scenario.report import REPORT_SCHEMA, to_dict, to_junit, to_markdown

AUTH_FAILED = 'password authentication failed for user "rhdemo"'


# ---- the figures ---------------------------------------------------------------------------------

def test_figures_count_failures_by_kind_and_the_longest_gap_per_path() -> None:
    samples = [Sample(API_PATH, t / 5, 0.010, OK) for t in range(10)]                   # 0.0 .. 1.8 s
    samples += [Sample(API_PATH, 2.0 + t / 5, 2.0, "timeout") for t in range(5)]        # 2.0 .. 2.8 s
    samples += [Sample(API_PATH, 3.0, 0.5, "HTTP 500"), Sample(API_PATH, 3.2, 0.02, OK)]
    samples += [Sample(DB_HEALTH_PATH, t / 5, 0.005, OK) for t in range(20)]            # all along
    figures = summarise(samples, 4.0)
    assert (figures.requests, figures.failed, figures.succeeded) == (37, 6, 31)
    assert figures.failures == {"HTTP 500": 1, "timeout": 5}
    api, db = figures.paths
    assert api.path == API_PATH and api.failed == 6 and api.first_failure_s == 2.0 and api.last_failure_s == 3.0
    assert api.longest_gap_s == pytest.approx(1.4)   # last success at 1.8 s, next at 3.2 s
    assert db.failed == 0 and db.longest_gap_s == pytest.approx(0.2)
    assert figures.longest_gap_s == api.longest_gap_s  # the worst path's
    assert figures.path("/api/employes") is api        # found without its query string


def test_gap_and_p95_edge_cases() -> None:
    assert longest_gap([], 3.0) == 3.0                  # nothing succeeded: the whole window
    assert longest_gap([1.0], 3.0) == 2.0               # to the window's end
    assert p95([]) is None
    assert p95([0.001 * n for n in range(1, 101)]) == 95.0  # nearest rank, in ms
    figures = summarise([Sample(API_PATH, 0.1, 2.0, "refused")], 1.0)
    assert figures.p95_ms is None and figures.longest_gap_s == 1.0


# ---- the engine probes the steps that touch the release or the database --------------------------

def act(name: str, body: Any = None) -> Action:
    def run(ctx: FakeContext) -> ActionResult:  # type: ignore[override]
        return (body(ctx) if body else None) or ActionResult.success(f"{name} done")
    return Action(name, run)  # type: ignore[arg-type]


def cut_connections(ctx: FakeContext) -> ActionResult:
    """The fake app fails while the action runs, and logs why."""
    ctx.app_failures += ["timeout"] * 4 + ["HTTP 500"]
    return ActionResult.success("backends terminated", Evidence(LOG, "pod/rhdemo-app-1/rhdemo-app", f"FATAL: {AUTH_FAILED}"))


def scenario(*steps: Step) -> Scenario:
    return Scenario("availability", "Availability", "probe the steps", ["Test 2"], list(steps))


def run_steps(*steps: Step, **context: Any) -> RunResult:
    return Engine(FakeContextFactory(**context)).run([scenario(*steps)])


def test_steps_touching_the_release_or_the_database_are_probed_read_only_ones_are_not() -> None:
    run = run_steps(Step("upgrade", "w", act("upgrade"), Succeeds()),
                    Step("look", "w", act("look"), Succeeds(), touches_data=False),
                    Step("look while probing", "w", act("look"), Succeeds(), touches_data=False, probe=True),
                    Step("no probe", "w", act("write"), Succeeds(), probe=False))
    records = run.scenarios[0].records[1:5]
    assert [r.availability is not None for r in records] == [True, False, True, False]
    figures = records[0].availability
    assert figures is not None and figures.failed == 0 and figures.requests == 20 and figures.rate == 5.0


def test_available_passes_with_zero_failed_requests_and_deviates_otherwise() -> None:
    run = run_steps(Step("redeploy", "w", act("redeploy"), Available()),
                    Step("redeploy, but the app fails", "w", act("cut", cut_connections), Available()))
    good, bad = run.scenarios[0].records[1:3]
    assert good.verdict is Verdict.PASSED
    assert good.checks[0].observed.startswith("20 requests in 2.0s, 0 failed")
    assert bad.verdict is Verdict.DEVIATION
    failed = bad.failed_checks[0]
    assert failed.what == "availability" and failed.expected == "no failed request"
    assert "5 failed (HTTP 500 ×1, timeout ×4)" in failed.observed


def test_an_expected_outage_is_a_reproduced_failure_and_no_outage_a_deviation() -> None:
    expect = AllOf(Fails(log=AUTH_FAILED, action_fails=False), Outage())
    run = run_steps(Step("reconnect", "w", act("cut", cut_connections), expect),
                    Step("reconnect, but nothing fails", "w", act("nothing"), Outage()))
    outage, none = run.scenarios[0].records[1:3]
    assert outage.verdict is Verdict.REPRODUCED
    assert any(c.what == "outage" and c.ok and "failures from 1.0s" in c.observed for c in outage.checks)
    assert none.verdict is Verdict.DEVIATION and none.failed_checks[0].observed.startswith("20 requests")


def test_a_step_without_figures_cannot_pass_an_availability_expectation() -> None:
    run = run_steps(Step("read-only", "w", act("look"), Available(), touches_data=False),
                    Step("probe broken", "w", act("upgrade"), Available()), probe_error="port-forward failed")
    unprobed, broken = run.scenarios[0].records[1:3]
    assert unprobed.verdict is Verdict.DEVIATION and "not probed" in unprobed.failed_checks[0].observed
    # the probe that could not start is evidence; the action still ran
    assert broken.verdict is Verdict.DEVIATION and broken.summary == "upgrade done"
    assert any(e.kind == ERROR and "port-forward failed" in e.text for e in broken.evidence)


def test_the_probe_runs_around_the_action_only() -> None:
    factory = FakeContextFactory()

    def look(ctx: FakeContext) -> None:
        ctx.calls.append("action")

    Engine(factory).run([scenario(Step("upgrade", "w", act("upgrade", look), Succeeds()))])
    calls = factory.made["availability"].calls
    assert calls[calls.index("probe start"):calls.index("probe stop") + 1] == ["probe start", "action", "probe stop"]
    assert calls.index("data_snapshot") < calls.index("probe start")


# ---- reports and console ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def outage_run() -> RunResult:
    return run_steps(Step("redeploy", "w", act("redeploy"), Available()),
                     Step("reconnect", "w", act("cut", cut_connections), Outage()),
                     Step("look", "w", act("look"), Succeeds(), touches_data=False))


def test_json_report_carries_the_figures_and_matches_its_schema(outage_run: RunResult) -> None:
    data = json.loads(json.dumps(to_dict(outage_run)))
    jsonschema.validate(data, REPORT_SCHEMA)
    steps = data["scenarios"][0]["steps"]
    assert steps[1]["availability"]["failed"] == 0 and steps[3]["availability"] is None
    reconnect = steps[2]["availability"]
    assert reconnect["failures"] == {"HTTP 500": 1, "timeout": 4} and reconnect["rate_per_path"] == 5.0
    assert [p["path"] for p in reconnect["paths"]] == [API_PATH, DB_HEALTH_PATH]
    reconnect["failed"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, REPORT_SCHEMA)


def test_junit_properties_carry_the_figures(outage_run: RunResult) -> None:
    root = to_junit(outage_run).getroot()
    cases = root.findall(".//testcase")
    properties = {p.get("name"): p.get("value") for p in cases[2].iter("property")}
    assert properties["availability.failed"] == "5" and properties["availability.requests"] == "25"
    assert properties["availability.failures"] == "HTTP 500=1, timeout=4"
    assert properties["availability.path.1"].startswith(f"GET {API_PATH}: 15 requests, 5 failed")
    assert not any(name.startswith("availability") for name in (p.get("name") for p in cases[3].iter("property")))
    ET.tostring(root)  # serialisable


def test_markdown_and_console_show_the_figures(outage_run: RunResult) -> None:
    markdown = to_markdown(outage_run)
    assert "| availability |" in markdown and "| 25 req · 5 failed · gap" in markdown
    assert "Availability: 25 requests in 2.0s (5/s per path), 5 failed (HTTP 500 ×1, timeout ×4)" in markdown
    out = io.StringIO()
    observer = ConsoleObserver(Console(file=out, width=200, color_system=None), interactive=False)
    for record in outage_run.scenarios[0].records:
        observer.step_finished(record)
    text = out.getvalue()
    assert "availability: 20 requests in 2.0s (5/s per path), 0 failed" in text
    assert f"GET {API_PATH}: 15 requests, 5 failed (HTTP 500 ×1, timeout ×4), failing from 1.0s" in text


# ---- the live probe: real HTTP, a fake port-forward ---------------------------------------------

class App(BaseHTTPRequestHandler):
    """The API answers 200; /actuator/health/db as `mode` says."""

    mode = "up"

    def do_GET(self) -> None:  # http.server's name
        if self.path.startswith("/actuator") and App.mode == "down":
            self._answer(503)
        elif self.path.startswith("/actuator") and App.mode == "hang":
            time.sleep(1.0)
            self._answer(200)
        elif self.path.startswith("/api") and App.mode == "close":
            self.close_connection = True
            self.connection.close()
        else:
            self._answer(200)

    def _answer(self, status: int) -> None:
        body = b'{"status":"UP"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Proxy:
    """What `Kubectl.service_proxy` yields, straight to the test's server (the service-proxy prefix is the
    API server's business)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.alive = True

    def url(self, service: str, port: int, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class FakeKubectl:
    """`service_proxy` to a live local server, or no API server at all."""

    def __init__(self, port: int | None) -> None:
        self.port = port
        self.opened = 0

    @contextmanager
    def service_proxy(self, timeout: float = 30) -> Iterator[Proxy]:
        self.opened += 1
        if self.port is None:
            raise LabError("kubectl proxy failed: error: couldn't get current server API group list")
        yield Proxy(self.port)


@pytest.fixture()
def app_server() -> Iterator[int]:
    App.mode = "up"
    server = ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def probe(kubectl: FakeKubectl) -> AvailabilityProbe:
    return AvailabilityProbe(kubectl, "service/rhdemo-app", rate=10, request_timeout=0.5)  # type: ignore[arg-type]


def test_the_probe_requests_both_paths_steadily_through_one_proxy(app_server: int) -> None:
    kubectl = FakeKubectl(app_server)
    with probe(kubectl) as running:
        time.sleep(1.0)
    figures = running.figures()
    assert kubectl.opened == 1
    assert figures.failed == 0 and figures.reconnects == 0
    for part in figures.paths:
        assert 6 <= part.requests <= 14, part  # 10 a second each (a loaded machine may lag a little)
        assert part.longest_gap_s < 0.5 and part.p95_ms is not None


def test_the_probe_sees_http_errors_timeouts_and_closed_connections(app_server: int) -> None:
    with probe(FakeKubectl(app_server)) as running:
        time.sleep(0.5)
        App.mode = "down"
        time.sleep(0.5)
        App.mode = "hang"
        time.sleep(0.8)
        App.mode = "close"
        time.sleep(0.5)
        App.mode = "up"
        time.sleep(0.3)
    figures = running.figures()
    api, db = figures.paths
    assert db.failures.get("HTTP 503", 0) >= 2 and db.failures.get("timeout", 0) >= 2
    assert api.failures.get("closed", 0) >= 2
    assert db.longest_gap_s >= 1.0 and db.first_failure_s is not None and 0.3 <= db.first_failure_s <= 1.0


def test_no_proxy_counts_every_request_as_unreachable() -> None:
    kubectl = FakeKubectl(None)
    started = time.monotonic()
    with probe(kubectl) as running:
        time.sleep(0.5)
    assert time.monotonic() - started < 5   # the window opens once the first attempt has failed
    figures = running.figures()
    assert figures.requests >= 4 and figures.failures == {"unreachable": figures.requests}
    assert figures.longest_gap_s == figures.window_s


def test_a_lost_proxy_is_started_again_and_counted(app_server: int) -> None:
    class Dying(FakeKubectl):
        @contextmanager
        def service_proxy(self, timeout: float = 30) -> Iterator[Proxy]:
            with super().service_proxy(timeout) as proxy:
                if self.opened == 1:
                    threading.Timer(0.3, lambda: setattr(proxy, "alive", False)).start()
                yield proxy

    kubectl = Dying(app_server)
    with probe(kubectl) as running:
        time.sleep(2.0)
    figures = running.figures()
    assert figures.reconnects == 1 and kubectl.opened == 2
    assert figures.failures.get("unreachable", 0) >= 2  # while the new proxy was being started


def test_one_kubectl_port_forwards_several_ports_and_its_output_is_drained(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """kubectl writes a line per connection (and an error line per failed one): unread, a full pipe
    would block it, and with it every forwarded request. A fake kubectl writes far more than a pipe
    holds, then leaves a mark: it gets there only if its output is read."""
    mark = tmp_path / "wrote-everything"
    script = tmp_path / "kubectl"
    script.write_text("#!/bin/sh\n"
                      f'echo "$@" > {tmp_path}/argv\n'
                      'echo "Forwarding from 127.0.0.1:1 -> 8080"\necho "Forwarding from 127.0.0.1:2 -> 9000"\n'
                      "i=0; while [ $i -lt 3000 ]; do echo 'Handling connection for 8080 ..........................'; "
                      "echo 'E1202 an error occurred forwarding 8080 -> 8080: connection refused' >&2; i=$((i+1)); done\n"
                      f"touch {mark}\nexec sleep 30\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    kubectl = Kubectl(Runner(), "kind-x", "rhdemo-x")
    with kubectl.port_forwards("service/rhdemo-app", (8080, 9000), pod_running_timeout=5) as forward:
        deadline = time.monotonic() + 10
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.exists(), "kubectl blocked on a full pipe"
        assert forward.alive and set(forward.ports) == {8080, 9000}
        assert "connection refused" in forward.errors[-1]
    argv = (tmp_path / "argv").read_text().split()
    assert argv[argv.index("port-forward") + 1] == "service/rhdemo-app"
    assert [a.split(":")[1] for a in argv if a.count(":") == 1 and a.split(":")[0].isdigit()] == ["8080", "9000"]
    assert "--pod-running-timeout=5s" in argv


def _parts(expectation: object) -> list[object]:
    return list(getattr(expectation, "parts", (expectation,)))


def test_the_scenarios_judge_availability_where_the_seed_speaks_of_it() -> None:
    from scenarios import redeploy_idempotent, rotate_password

    redeploy = redeploy_idempotent.SCENARIO.steps[2]
    assert redeploy.probed and any(isinstance(p, Available) for p in _parts(redeploy.expect))
    steps = {step.title: step for step in rotate_password.SCENARIO.steps}
    alone = next(s for t, s in steps.items() if "kubectl apply alone" in t)
    reconnect = next(s for t, s in steps.items() if "next reconnect" in t)
    assert alone.probed and any(isinstance(p, Available) for p in _parts(alone.expect))
    assert reconnect.probed and any(isinstance(p, Outage) for p in _parts(reconnect.expect))
    assert any(isinstance(p, Fails) and p.log == AUTH_FAILED for p in _parts(reconnect.expect))


FAKE_KUBECTL = '''#!{python}
"""kubectl proxy, faked at the process boundary: serves --port, relays every
/api/v1/namespaces/<ns>/services/<name>:<port>/proxy<path> to the test's server, says so like kubectl,
and exits once {kill} appears."""
import os, re, sys, threading, time, urllib.request, urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
args = sys.argv[1:]
with open("{calls}", "a") as calls:
    calls.write(" ".join(args) + "\\n")
port = int(next(a for a in args if a.startswith("--port=")).split("=")[1])
class Relay(BaseHTTPRequestHandler):
    def do_GET(self):
        match = re.fullmatch(r"/api/v1/namespaces/[^/]+/services/[^/:]+:[0-9]+/proxy(/.*)", self.path)
        if not match:
            self.send_error(404)
            return
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{backend}{{match[1]}}", timeout=5) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except OSError:
            self.connection.close()
            return
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", port), Relay)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"Starting to serve on 127.0.0.1:{{port}}", flush=True)
while not os.path.exists("{kill}"):
    time.sleep(0.05)
os.remove("{kill}")
sys.exit(1)
'''


def _probe_through_fake_kubectl(app_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AvailabilityProbe:
    """A probe whose kubectl is FAKE_KUBECTL: touching tmp_path/"kill" ends it; each invocation is a line
    of tmp_path/"calls"."""
    script = tmp_path / "kubectl"
    script.write_text(FAKE_KUBECTL.format(python=sys.executable, kill=tmp_path / "kill",
                                          calls=tmp_path / "calls", backend=app_server))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    return AvailabilityProbe(Kubectl(Runner(), "kind-x", "rhdemo-x"), "service/rhdemo-app", rate=10, request_timeout=0.5)


def test_the_probe_through_a_kubectl_proxy_process_that_exits(app_server: int, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe and `Kubectl.service_proxy` together, kubectl faked at the process boundary: requests go
    to the Service's proxy path of the right namespace, service and port; when kubectl exits the probe
    counts `unreachable` requests, starts a new one, and the app answers again."""
    kill, calls = tmp_path / "kill", tmp_path / "calls"
    probe = _probe_through_fake_kubectl(app_server, tmp_path, monkeypatch)
    with probe:
        time.sleep(0.6)
        kill.touch()
        time.sleep(4.0)  # a new kubectl (python here) may take a couple of seconds to serve on a loaded machine
    figures = probe.figures()
    invocations = calls.read_text().splitlines()
    assert len(invocations) == 2 and all(line.startswith("--context kind-x proxy --port=") for line in invocations)
    assert figures.reconnects == 1
    assert set(figures.failures) <= {"unreachable", "closed", "refused"} and figures.failed >= 2
    for part in figures.paths:
        assert part.requests - part.failed >= 10  # answered before the exit and through the new proxy
        assert 0.5 <= (part.first_failure_s or 0) <= 1.0
        assert (part.last_failure_s or 0) < figures.window_s - 0.5  # answered again at the end
