"""Scenario operations (`scenarios/_operations`) run against fakes of the small typed pieces of
`lab.scenario.ops.ClusterOps` (helm, workloads, db, app): what they ask each piece, and what they
conclude from its answers. The real pieces are exercised on the cluster (tests/cluster)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from lab.app import HttpAnswer
from lab.helm import HelmRun
from lab.kube import Crash, JobState, PodState
from lab.scenario import ActionResult, DataSnapshot, Evidence, Health
from lab.scenario.fake import FakeContext
from lab.scenario.model import LOG, SQL, Outcome
from lab.scenario.ops import ClusterOps
from lab.timeouts import RESERVE
from scenarios._operations import app, db, helm, schema, wait
from scenarios._operations.checks import VERDICT, evidence_contains, excerpt_shows, holds
from scenarios._operations.values import Password

OK = HelmRun(True, "helm upgrade --install rhdemo-x chart/rhdemo --values /tmp/v.yaml", "Release upgraded\nNOTES:\nhi", 12.0)


@dataclass
class FakeHelm:
    answers: list[HelmRun] = field(default_factory=lambda: [OK])
    calls: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)

    def _answer(self, **call: Any) -> HelmRun:
        self.calls.append(call)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def upgrade(self, values: Mapping[str, Any], *, timeout: float, app_release: str = "1.0", wait: bool = True,
                atomic: bool = False) -> HelmRun:
        return self._answer(op="upgrade", values=values, timeout=timeout, app_release=app_release, wait=wait,
                            atomic=atomic)

    def rollback(self, revision: int | None = None, *, timeout: float) -> HelmRun:
        return self._answer(op="rollback", revision=revision, timeout=timeout)

    def test(self, *, timeout: float, logs: bool = True) -> HelmRun:
        return self._answer(op="test", timeout=timeout, logs=logs)

    def history(self) -> list[dict[str, Any]]:
        return self.revisions

    def uninstall(self, timeout: float) -> None:
        self.calls.append({"op": "uninstall", "timeout": timeout})


def pod(name: str, *, ready: bool = True, restarts: int = 0, uid: str = "", problem: str | None = None) -> PodState:
    return PodState(name, "Running", ready, "1/1" if ready else "0/1", restarts, problem, {}, uid or name)


@dataclass
class FakeWorkloads:
    pod_list: dict[str, list[PodState]] = field(default_factory=dict)
    log_text: dict[str, str] = field(default_factory=dict)          # pod -> current log
    healthy: bool = True
    crash: Crash | None = None
    job_list: list[JobState] = field(default_factory=list)
    applied: list[tuple[str, str, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def pods(self, component: str) -> list[PodState]:
        return list(self.pod_list.get(component, []))

    def pod_names(self, component: str) -> list[str]:
        return [p.name for p in self.pods(component)]

    def pod_logs(self, pod: str, container: str | None = None, *, previous: bool = False, tail: int = 200) -> str:
        return self.log_text.get(pod, "")

    def logs(self, component: str, container: str | None = None, *, tail: int = 200) -> list[Evidence]:
        return [Evidence(LOG, f"pod/{p.name}/{container or component}", self.pod_logs(p.name))
                for p in self.pods(component)]

    def events(self, *, warnings_only: bool = False, limit: int = 15) -> list[Evidence]:
        return [Evidence.event(object="Pod/rhdemo-app-2", reason="BackOff", message="restarting failed container")]

    def jobs(self, prefix: str = "") -> list[JobState]:
        return [job for job in self.job_list if job.name.startswith(prefix)]

    def job_logs(self, job: str, tail: int = 100) -> list[Evidence]:
        return [Evidence(LOG, f"job/{job} pod/{job}-x/migrate", f"log of {job}")]

    def current_pods(self, component: str) -> set[str] | None:
        return {p.name for p in self.pods(component)}

    def find_crash(self, component: str, needle: str | None = None, *, exclude: Collection[str] = (),
                   only: Collection[str] | None = None) -> Crash | None:
        self.calls.append(f"find_crash {component} {needle} only={sorted(only) if only is not None else None}")
        if self.crash is None or (needle is not None and needle not in self.crash.logs):
            return None
        return self.crash

    def wait_healthy(self, component: str, timeout: float, *, fail_on_crash: bool = False) -> tuple[bool, str]:
        self.calls.append(f"wait_healthy {component} {timeout:.0f}")
        return self.healthy, "1/1 ready" if self.healthy else "0/1 ready, 2 restarts — rhdemo-app: CrashLoopBackOff"

    def replica_sets(self, component: str) -> list[str]:
        return ["rhdemo-app-7d9f (revision 1)"]

    def follow_logs(self, selector: Mapping[str, str], container: str) -> AbstractContextManager[dict[str, str]]:
        @contextmanager
        def follow() -> Iterator[dict[str, str]]:
            logs: dict[str, str] = {}
            yield logs
            logs["job-pod"] = "migrated"
        return follow()

    def apply_secret(self, name: str, password: str, key: str = "password") -> str:
        self.applied.append((name, key, password))
        return f"secret/{name} configured"

    def statefulsets(self) -> list[str]:
        return []

    def image_of(self, deployment: str) -> str:
        return "localhost/rhdemo-lab/rhdemo-app:1.0-abc"

    def restart(self, deployment: str, timeout: float) -> None:
        self.calls.append(f"restart {deployment}")

    def readable_texts(self) -> dict[str, str]:
        return {f"log pod/{pod}/app": text for pod, text in self.log_text.items()}

    def wait_pods_ready(self, component: str, timeout: float) -> None:
        self.calls.append(f"wait_pods_ready {component} {timeout:.0f}")

    def delete_jobs(self, timeout: float) -> str:
        return "job.batch \"schema-migration-1\" deleted"


@dataclass
class FakeDatabases:
    answers: dict[str, list[str]] = field(default_factory=dict)  # query -> rows
    logins: dict[str, bool] = field(default_factory=dict)        # password -> logs in
    queries: list[str] = field(default_factory=list)

    def sql(self, database: str, query: str) -> list[str]:
        self.queries.append(query)
        return list(self.answers.get(query, []))

    def can_login(self, database: str, user: str, password: str) -> tuple[bool, str]:
        if self.logins.get(password, False):
            return True, ""
        return False, f'FATAL:  password authentication failed for user "{user}"'


@dataclass
class FakeApp:
    status: int = 201
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def request(self, method: str, path: str, body: Any = None, *, port: int = 8080) -> HttpAnswer:
        self.requests.append((method, path, body))
        return HttpAnswer(self.status, '{"content": []}')


@dataclass
class FakeOps:
    """A `ClusterOps` made of the fakes above (also an engine context: it has a namespace and a mask)."""

    helm: FakeHelm = field(default_factory=FakeHelm)
    workloads: FakeWorkloads = field(default_factory=FakeWorkloads)
    db: FakeDatabases = field(default_factory=FakeDatabases)
    app: FakeApp = field(default_factory=FakeApp)
    scenario_id: str = "x"
    namespace: str = "rhdemo-x"
    release: str = "rhdemo-x"
    step_timeout: float = 300.0
    config: Any = None
    image_set: str = "fake"

    def mask(self, text: str) -> str:
        return text

    # the engine's side of a context, unused by operations
    def prepare(self) -> None: ...

    def teardown(self) -> None: ...

    def data_snapshot(self) -> DataSnapshot | None:
        return None

    def health(self, component: str) -> Health:
        return Health(True, "ready")

    def diagnostics(self) -> Sequence[Evidence]:
        return []


def test_the_fakes_are_cluster_ops() -> None:
    ops: ClusterOps = FakeOps()  # mypy checks the fakes against the protocol; isinstance checks the shape
    assert isinstance(ops, ClusterOps)


def test_an_operation_refuses_a_context_without_cluster_pieces() -> None:
    fake = FakeContext("x", "rhdemo-x", "rhdemo-x")
    with pytest.raises(TypeError, match="cannot run cluster operations"):
        helm.install({})(fake)


def test_install_gives_helm_the_real_password_and_the_step_budget_minus_the_evidence_reserve() -> None:
    ops = FakeOps(step_timeout=300)
    password = Password("A")
    result = helm.install({"postgresql-rhdemo": {"database": {"password": password}}})(ops)
    call = ops.helm.calls[0]
    assert call["values"]["postgresql-rhdemo"]["database"]["password"] == password.value
    assert call["timeout"] == pytest.approx(300 - RESERVE.evidence, abs=1) and call["wait"] is True
    assert result.ok and result.summary == "release deployed in 12s"
    assert result.evidence[0].source == "helm upgrade --install rhdemo-x chart/rhdemo"
    assert result.evidence[0].text == "Release upgraded", "the chart's NOTES are left out"


def test_a_failed_install_carries_helms_error_and_the_failing_hook_jobs_logs() -> None:
    failed = HelmRun(False, "helm upgrade --install", "Error: INSTALLATION FAILED: failed pre-install: job failed", 40.0)
    hook = JobState("schema-migration-1", {"helm.sh/hook": "pre-install"}, 0, 1, 0, "t1")
    regular = JobState("other", {}, 0, 1, 0, "t0")
    ops = FakeOps(helm=FakeHelm([failed]), workloads=FakeWorkloads(job_list=[regular, hook]))
    result = helm.install({}, timeout=75)(ops)
    assert ops.helm.calls[0]["timeout"] == 75
    assert not result.ok and not result.timed_out
    assert result.summary == "helm install failed: Error: INSTALLATION FAILED: failed pre-install: job failed"
    sources = [e.source for e in result.evidence]
    assert "job/schema-migration-1" in sources and "job/schema-migration-1 pod/schema-migration-1-x/migrate" in sources
    assert not any("other" in source for source in sources), "a Job that is not a hook is not blamed"


def test_helms_own_timeout_is_a_timed_out_result() -> None:
    hung = HelmRun(False, "helm upgrade", "Error: context deadline exceeded", 75.0, timed_out=True, returncode=1)
    result = helm.upgrade({})(FakeOps(helm=FakeHelm([hung])))
    assert result.timed_out and result.summary == "helm upgrade still waiting after 75s (helm --timeout)"


def test_rotation_then_upgrade_fails_with_the_crashed_pods_log() -> None:
    crash = Crash("rhdemo-app-2", "rhdemo-app: CrashLoopBackOff",
                  'FATAL: password authentication failed for user "rhdemo"')
    workloads = FakeWorkloads(pod_list={"rhdemo-app": [pod("rhdemo-app-2", ready=False, restarts=2)]},
                              healthy=False, crash=crash)
    ops = FakeOps(workloads=workloads)
    password = Password("B")
    action = helm.rotate_secret_then_upgrade("rhdemo-db-secret", password, {"passwordSync": {"mode": "none"}},
                                             fail_text="password authentication failed")
    result = action(ops)
    assert workloads.applied == [("rhdemo-db-secret", "password", password.value)]
    assert ops.helm.calls[0]["wait"] is False
    assert not result.ok and result.summary == "pod/rhdemo-app-2: rhdemo-app: CrashLoopBackOff"
    assert [e.source for e in result.evidence] == ["kubectl apply", OK.short_command, "pod/rhdemo-app-2/rhdemo-app"]
    assert "find_crash rhdemo-app password authentication failed only=['rhdemo-app-2']" in workloads.calls
    assert password.value not in " ".join(action.replay if isinstance(action.replay, tuple) else ())


def test_upgrade_then_wait_gives_each_component_what_is_left_of_the_step() -> None:
    ops = FakeOps(step_timeout=240)
    result = helm.upgrade_then_wait_for({}, ["postgresql-keycloak"])(ops)
    assert result.ok and result.summary == "postgresql-keycloak: 1/1 ready"
    assert ops.workloads.calls == [f"wait_healthy postgresql-keycloak {240 - RESERVE.poll:.0f}"]


def test_helm_test_phases_reads_each_test_pods_phase() -> None:
    output = ("NAME: rhdemo-x\nTEST SUITE:     rhdemo-test-health\nLast Started:   now\nLast Completed: now\n"
              "Phase:          Succeeded\nTEST SUITE:     rhdemo-test-db\nLast Started:   now\nLast Completed: now\n"
              "Phase:          Failed\n")
    ops = FakeOps(helm=FakeHelm([HelmRun(False, "helm test", output, 9.0, returncode=1)]))
    result = helm.helm_test_phases()(ops)
    assert ops.helm.calls[0]["logs"] is False
    assert ops.helm.calls[0]["timeout"] == pytest.approx(300 - RESERVE.helm_test, abs=1)
    assert result.summary == "helm test exited 1"
    smoke = next(e for e in result.evidence if e.kind == VERDICT)
    assert smoke.fields["ok"] == "false" and smoke.fields["observed"] == "rhdemo-test-health Succeeded, rhdemo-test-db Failed"


def test_check_login_shows_the_servers_reason_and_never_the_password() -> None:
    password = Password("A")
    ops = FakeOps()
    action = db.check_login("rhdemo", "rhdemo", password)
    result = action(ops)
    assert not result.ok and result.summary == "rhdemo cannot log in with <password-A>"
    assert 'password authentication failed for user "rhdemo"' in result.evidence[0].text
    ops.db.logins[password.value] = True
    assert action(ops).ok
    assert password.value not in " ".join(action.commands(ops))


def test_insert_employes_stops_at_the_first_refused_row() -> None:
    ops = FakeOps(app=FakeApp(status=500))
    result = app.insert_employes()(ops)
    assert not result.ok and result.summary == "POST /api/employes answered 500"
    assert len(ops.app.requests) == 1 and ops.app.requests[0][2]["nom"] == "Curie"


def test_wait_for_log_keeps_the_lines_around_the_match() -> None:
    log = "\n".join(f"line {n}" for n in range(20)) + "\nSkipping initialization\n" + "\n".join(f"after {n}" for n in range(10))
    ops = FakeOps(workloads=FakeWorkloads(pod_list={"postgresql-rhdemo": [pod("postgresql-rhdemo-0")]},
                                          log_text={"postgresql-rhdemo-0": log}))
    result = wait.wait_for_log("postgresql-rhdemo", "Skipping initialization", container="postgresql")(ops)
    assert result.ok and result.summary == "pod/postgresql-rhdemo-0/postgresql shows 'Skipping initialization'"
    lines = result.evidence[0].text.splitlines()
    assert lines[0] == "line 16" and lines[4] == "Skipping initialization" and lines[-1] == "after 2"


def test_reset_schema_judges_an_empty_public_schema() -> None:
    ops = FakeOps(db=FakeDatabases({schema.TABLES_SQL: ["schema_migrations"]}))
    result = schema.reset_schema()(ops)
    assert ops.db.queries[0].startswith("DROP TABLE IF EXISTS employes")
    judged = holds("empty schema", "no table left").judge(ops, Outcome(result, 1.0, 60))
    assert judged.checks[-1].ok is False and judged.checks[-1].observed == "schema_migrations"


def test_redeploy_unchanged_compares_pods_replicasets_and_history() -> None:
    history = ["1|1|initial schema|SQL|V1__initial_schema.sql|rhdemo|t"]
    ops = FakeOps(workloads=FakeWorkloads(pod_list={"rhdemo-app": [pod("rhdemo-app-1", uid="u1")]}),
                  db=FakeDatabases({schema.TABLES_SQL: ["employes", "flyway_schema_history"],
                                    schema.HISTORY_PER_VERSION_SQL: ["1|1"], schema.HISTORY_SQL: history}))
    result = schema.redeploy_unchanged({})(ops)
    verdicts = {e.fields["check"]: e.fields["ok"] for e in result.evidence if e.kind == VERDICT}
    # whether the app answered throughout is the engine's probe (Available()), not the operation's
    assert verdicts == {"same pods": "true", "same replicasets": "true", "no new migration": "true"}
    assert "wait_pods_ready rhdemo-app 120" in ops.workloads.calls


def test_upgrade_with_job_keeps_the_followed_job_logs() -> None:
    ops = FakeOps(db=FakeDatabases({"SELECT version FROM schema_migrations": ["V1__initial_schema.sql"]}))
    result = schema.upgrade_with_job({}, selector={"component": "schema-migration"}, container="migrate",
                                     job="schema-migration-", looks=("SELECT version FROM schema_migrations",))(ops)
    assert result.ok
    assert [e.source for e in result.evidence if e.kind == LOG] == ["job schema-migration- pod/job-pod/migrate"]
    assert [e.text for e in result.evidence if e.kind == SQL] == ["SELECT version FROM schema_migrations\nV1__initial_schema.sql"]


def test_the_two_evidence_checks_have_distinct_names_and_meanings() -> None:
    outcome = Outcome(ActionResult.success("", Evidence("output", "GET", "Curie Pasteur"),
                                               Evidence(SQL, "psql", "telephone present")), 1.0, 60)
    ctx = FakeOps()
    assert evidence_contains("Curie", "telephone present").judge(ctx, outcome).checks[-1].ok
    assert not excerpt_shows("Curie", kinds=(SQL,)).judge(ctx, outcome).checks[-1].ok
    assert excerpt_shows("telephone", kinds=(SQL,)).judge(ctx, outcome).checks[-1].observed == "psql: telephone present"


def test_wait_for_login_waits_until_the_rotation_reaches_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    class Rotating(FakeDatabases):
        def can_login(self, database: str, user: str, password: str) -> tuple[bool, str]:
            self.queries.append("login")
            if len(self.queries) >= 3:  # the sidecar applied the Secret on the third look
                self.logins[password] = True
            return super().can_login(database, user, password)

    monkeypatch.setattr(db, "LOGIN_POLL_INTERVAL", 0.0)
    ops = FakeOps(db=Rotating())
    result = db.wait_for_login("rhdemo", "rhdemo", Password("D"))(ops)
    assert result.ok and ops.db.queries == ["login"] * 3
    assert "<password-D>" in result.summary and ops.mask(result.summary) == result.summary


def test_wait_for_login_times_out_with_the_servers_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "LOGIN_POLL_INTERVAL", 0.0)
    ops = FakeOps(step_timeout=RESERVE.poll + 0.05)
    result = db.wait_for_login("rhdemo", "rhdemo", Password("D"))(ops)
    assert result.timed_out and 'password authentication failed for user "rhdemo"' in result.evidence[0].text


def test_terminate_backends_cuts_the_roles_connections_but_not_its_own() -> None:
    ops = FakeOps()
    query = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE usename = 'rhdemo' AND datname = 'rhdemo' AND pid <> pg_backend_pid()")
    ops.db.answers[query] = ["3"]
    result = db.terminate_backends("rhdemo", "rhdemo")(ops)
    assert ops.db.queries == [query] and result.summary == "3 connection(s) of rhdemo terminated"
