"""Actions and checks of the schema scenarios (missing-table, redeploy-idempotent, add-migration,
rollback, flyway-baseline, concurrent-migrations), on top of `scenarios/_actions.py`.

The pattern: an action does the work AND compares what it saw (pods before/after, history rows,
per-replica log lines); each comparison becomes a `verdict` evidence item (fields `check`, `ok`,
`observed`), which `holds(check, description)` turns into one line of the step's checks. So the
report shows every compared field, and the action stays the only place that talks to the cluster.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from lab.kube import port_forward
from lab.scenario import Action, ActionResult, Evidence, Satisfies
from lab.scenario.model import LOG, NOTE, SQL, STATUS, Outcome

from scenarios._actions import helm_line, resolve

# The app's model releases (app-stub): 1.0 bundles V1, 1.1 adds V2 (telephone).
MISSING_TABLE = "Schema-validation: missing table [employes]"
NON_EMPTY_SCHEMA = ('Found non-empty schema(s) "public" but no schema history table. Use baseline() or set '
                    "baselineOnMigrate to true to initialize the schema history table.")
UP_TO_DATE = 'Schema "public" is up to date. No migration necessary.'
MIGRATING = 'Migrating schema "public" to version'

HISTORY_SQL = ("SELECT installed_rank, version, description, type, script, installed_by, success "
               "FROM flyway_schema_history ORDER BY installed_rank")
HISTORY_PER_VERSION_SQL = ("SELECT version, count(*) FROM flyway_schema_history "
                           "WHERE version IS NOT NULL GROUP BY version ORDER BY version")
COLUMNS_SQL = ("SELECT column_name, data_type FROM information_schema.columns "
               "WHERE table_schema = 'public' AND table_name = 'employes' ORDER BY ordinal_position")
INDEXES_SQL = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'employes' ORDER BY indexname"
TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
HISTORY_TABLES = ("flyway_schema_history", "schema_migrations")
# The indexes V1 creates besides the primary key (the seed's V1__initial_schema.sql).
V1_INDEXES = ("idx_employes_adresse", "idx_employes_mail", "idx_employes_nom", "idx_employes_nom_prenom",
              "idx_employes_prenom")

VERDICT = "verdict"  # evidence kind carrying one comparison made by an action


# ---- comparisons made by actions, judged by `holds` ----------------------------------------------

def verdict(check: str, ok: bool, observed: str) -> Evidence:
    return Evidence(VERDICT, check, f"{'✔' if ok else '✘'} {check}: {observed}",
                    {"check": check, "ok": "true" if ok else "false", "observed": observed})


def holds(check: str, description: str, *, reproduces_failure: bool = False,
          action_must_succeed: bool = True) -> Satisfies:
    """The action's comparison named `check` came out true (its observed value is shown either way)."""

    def predicate(ctx: Any, outcome: Outcome) -> tuple[bool, str]:
        for item in outcome.result.evidence:
            if item.kind == VERDICT and item.fields.get("check") == check:
                return item.fields.get("ok") == "true", item.fields.get("observed", "")
        return False, f"the action made no {check!r} comparison ({outcome.result.summary or 'no summary'})"

    return Satisfies(description, predicate, reproduces_failure=reproduces_failure,
                     action_must_succeed=action_must_succeed)


def shows(text: str, *, kinds: Iterable[str] = (LOG, SQL, "output"), reproduces_failure: bool = False,
          action_must_succeed: bool = True) -> Satisfies:
    """`text` is in the evidence the action collected (a log line, an SQL result) — for a fix that
    works, where `Fails(...)` would call it a reproduced failure."""
    wanted = set(kinds)

    def predicate(ctx: Any, outcome: Outcome) -> tuple[bool, str]:
        candidates = [e for e in outcome.result.evidence if e.kind in wanted]
        for item in candidates:
            if text in item.text:
                line = next((ln.strip() for ln in item.text.splitlines() if text in ln), text)
                return True, f"{item.source}: {line[:200]}"
        return False, f"not in {len(candidates)} excerpt(s)"

    return Satisfies(f"shows {text!r}", predicate, reproduces_failure=reproduces_failure,
                     action_must_succeed=action_must_succeed)


def observe(name: str, look: Callable[[Any], Sequence[Evidence]], replay: Sequence[str]) -> Action:
    """An action that only looks (SQL, logs) and returns what it saw plus its verdicts."""

    def run(ctx: Any) -> ActionResult:
        found = list(look(ctx))
        summary = "; ".join(e.fields["observed"] for e in found if e.kind == VERDICT)[:300]
        # Looking always completes; whether what it saw is right is for `holds(...)` to judge.
        return ActionResult.success(summary or f"{len(found)} item(s) observed", *found)

    return Action(name, run, tuple(replay))


# ---- database ------------------------------------------------------------------------------------

def rows(ctx: Any, query: str) -> list[str]:
    return list(ctx.sql("rhdemo", query))


def sql_evidence(ctx: Any, query: str) -> Evidence:
    return ctx.sql_evidence("rhdemo", query)


def psql_line(query: str) -> str:
    return f'kubectl -n {{namespace}} exec -i postgresql-rhdemo-0 -c postgresql -- psql -U rhdemo -d rhdemo -c "{query}"'


def history_versions(ctx: Any) -> list[str]:
    """`version|count` lines of flyway_schema_history ([] when there is no history table)."""
    if not any(line.strip() == "flyway_schema_history" for line in rows(ctx, TABLES_SQL)):
        return []
    return rows(ctx, HISTORY_PER_VERSION_SQL)


def reset_schema() -> Action:
    """Back to an empty database between two fixes: drop what the previous fix created (its table and
    its migration history), so the next fix starts exactly where Problem 3 starts."""
    drop = "DROP TABLE IF EXISTS employes, flyway_schema_history, schema_migrations CASCADE"

    def run(ctx: Any) -> ActionResult:
        rows(ctx, drop)
        left = rows(ctx, TABLES_SQL)
        return ActionResult.success("public schema empty again" if not left else f"tables left: {', '.join(left)}",
                                    Evidence(SQL, "psql rhdemo", f"{drop};\n{TABLES_SQL}\n" + ("\n".join(left) or "(0 rows)")),
                                    verdict("empty schema", not left, ", ".join(left) or "no table in public"))

    return Action("drop employes and the migration history tables", run, (psql_line(drop),))


# ---- the app's pods, logs, ReplicaSets ------------------------------------------------------------

def app_pods(ctx: Any) -> list[dict[str, Any]]:
    """The app's pods: name, uid, ReplicaSet (owner), ready, restarts."""
    items = ctx.kube.core.list_namespaced_pod(ctx.namespace, label_selector="app=rhdemo-app").items
    found = []
    for pod in items:
        statuses = pod.status.container_statuses or []
        owner = next((ref.name for ref in pod.metadata.owner_references or []), "")
        found.append({"name": pod.metadata.name, "uid": pod.metadata.uid, "owner": owner,
                      "ready": bool(statuses) and all(s.ready for s in statuses) and not pod.metadata.deletion_timestamp,
                      "restarts": sum(s.restart_count for s in statuses)})
    return sorted(found, key=lambda p: p["name"])


def replica_sets(ctx: Any) -> list[str]:
    items = ctx.kube.apps.list_namespaced_replica_set(ctx.namespace, label_selector="app=rhdemo-app").items
    return sorted(f"{rs.metadata.name} (revision {(rs.metadata.annotations or {}).get('deployment.kubernetes.io/revision', '?')})"
                  for rs in items)


def pods_text(pods: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(f"{p['name']} ready={p['ready']} restarts={p['restarts']}" for p in pods) or "(no pods)"


def settle(ctx: Any, seconds: float = 90) -> None:
    """Wait until the app's rollout is over (the old pods gone, not only the new one ready): `rollout
    status` and helm's --wait return while a replaced pod is still terminating."""
    ctx.wait_healthy("rhdemo-app", seconds)


def settled() -> Action:
    """The app's rollout is over (see `settle`); always completes, the step's expectation judges health."""

    def run(ctx: Any) -> ActionResult:
        ok, detail = ctx.wait_healthy("rhdemo-app", 90)
        return ActionResult.success(f"deployment/rhdemo-app {detail}" + ("" if ok else " (not settled after 90s)"))

    return Action("wait for the rollout to settle", run, ("kubectl -n {namespace} rollout status deployment/rhdemo-app",))


def app_logs_per_pod(ctx: Any) -> dict[str, str]:
    """The current log of each app pod's main container (from its start: the Flyway lines are first)."""
    return {p["name"]: ctx.pod_logs(p["name"], "rhdemo-app", tail=400) for p in app_pods(ctx)}


def migration_lines(log: str) -> list[str]:
    keep = (MIGRATING, UP_TO_DATE, "Successfully applied", "Successfully baselined", "Current version of schema")
    found = []
    for line in log.splitlines():
        if any(k in line for k in keep):
            stamp = line.split(" ", 1)[0] if line[:4].isdigit() else ""  # Spring's ISO timestamp
            found.append(f"{stamp} {line.split(' : ', 1)[-1].strip()}".strip())
    return found


# ---- helm while watching --------------------------------------------------------------------------

class Poller:
    """Requests the API and the actuator in a loop through port-forwards, counting answers: the
    seed's "the app answers throughout" made measurable."""

    def __init__(self, ctx: Any, interval: float = 0.25) -> None:
        self.ctx = ctx
        self.interval = interval
        self.requests = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ports: dict[int, int] = {}
        self._ready = threading.Event()
        self._error: str | None = None

    def __enter__(self) -> Poller:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error:
            raise RuntimeError(self._error)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        ctx = self.ctx
        try:
            with port_forward(ctx.runner, ctx.config.context, ctx.namespace, "service/rhdemo-app", 8080) as api, \
                    port_forward(ctx.runner, ctx.config.context, ctx.namespace, "service/rhdemo-app", 9000) as actuator:
                self._ready.set()
                urls = (f"http://127.0.0.1:{api}/api/employes?size=5", f"http://127.0.0.1:{actuator}/actuator/health")
                while not self._stop.is_set():
                    for url in urls:
                        self.requests += 1
                        try:
                            with urllib.request.urlopen(url, timeout=5) as response:
                                if response.status != 200:
                                    self.failures.append(f"{url.split('/', 3)[-1]}: HTTP {response.status}")
                        except (urllib.error.URLError, OSError) as error:
                            self.failures.append(f"{url.split('/', 3)[-1]}: {error}")
                    self._stop.wait(self.interval)
        except Exception as error:  # port-forward could not start
            self._error = f"cannot poll the app: {error}"
            self._ready.set()


def upgrade_while_polling(values: Mapping[str, Any], *, app_release: str = "1.0", name: str | None = None) -> Action:
    """Test 2: `helm upgrade` with the same values while the API and actuator are requested in a loop;
    compares the app's pods, ReplicaSets and migration history before and after."""

    def run(ctx: Any) -> ActionResult:
        pods_before, sets_before, history_before = app_pods(ctx), replica_sets(ctx), history_versions(ctx)
        history_rows_before = rows(ctx, HISTORY_SQL) if history_before else []
        with Poller(ctx) as poller:
            time.sleep(1.0)  # some answers before helm starts
            result = ctx.upgrade(resolve(values), app_release=app_release, wait=True)
            ctx.kubectl("wait", "--for=condition=ready", "pod", "-l", "app=rhdemo-app", "--timeout=120s", timeout=150)
            time.sleep(1.0)
        pods_after, sets_after = app_pods(ctx), replica_sets(ctx)
        history_rows_after = rows(ctx, HISTORY_SQL) if history_before else []
        same_pods = ([(p["uid"], p["restarts"]) for p in pods_before] == [(p["uid"], p["restarts"]) for p in pods_after])
        evidence = [
            result.evidence(),
            Evidence(STATUS, "app pods before / after", f"before:\n{pods_text(pods_before)}\nafter:\n{pods_text(pods_after)}"),
            Evidence(STATUS, "replicasets of rhdemo-app", "before: " + ", ".join(sets_before) + "\nafter:  " + ", ".join(sets_after)),
            Evidence(SQL, "psql rhdemo", f"{HISTORY_SQL}\nbefore:\n" + "\n".join(history_rows_before)
                     + "\nafter:\n" + "\n".join(history_rows_after)),
            Evidence(NOTE, "poller", f"{poller.requests} requests (GET /api/employes, GET /actuator/health) during the "
                     f"upgrade, {len(poller.failures)} failed" + ("".join(f"\n  {f}" for f in poller.failures[:10]))),
            verdict("same pods", same_pods and all(p["ready"] for p in pods_after),
                    f"{len(pods_after)} pod(s): {', '.join(p['name'] for p in pods_after)}, "
                    f"restarts {sum(p['restarts'] for p in pods_before)} -> {sum(p['restarts'] for p in pods_after)}"
                    + ("" if same_pods else f" (before: {', '.join(p['name'] for p in pods_before)})")),
            verdict("same replicasets", sets_before == sets_after, ", ".join(sets_after)),
            verdict("no new migration", history_rows_before == history_rows_after and bool(history_rows_after),
                    f"{len(history_rows_after)} history row(s), unchanged" if history_rows_before == history_rows_after
                    else f"{len(history_rows_before)} -> {len(history_rows_after)} history rows"),
            verdict("answers throughout", poller.requests > 0 and not poller.failures,
                    f"{poller.requests} requests, {len(poller.failures)} failures"),
        ]
        if not result.ok:
            return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s", *evidence)
        return ActionResult.success(f"upgraded in {result.seconds:.0f}s; {poller.requests} requests, "
                                    f"{len(poller.failures)} failed", *evidence)

    return Action(name or "helm upgrade with nothing changed, requesting the app all along", run, (
        "while true; do curl -fsS localhost:8080/api/employes >/dev/null || echo FAIL; curl -fsS localhost:9000/actuator/health >/dev/null || echo FAIL; done &",
        helm_line(values, app_release=app_release),
        "kubectl -n {namespace} wait --for=condition=ready pod -l app=rhdemo-app --timeout=300s",
        "kubectl -n {namespace} get pods,replicasets -l app=rhdemo-app",
    ))


class JobLogFollower:
    """Streams the logs of hook Job pods (label selector) while helm runs: a pre-upgrade hook with
    `hook-succeeded` is deleted as soon as it succeeds, so its logs must be read while it runs."""

    def __init__(self, ctx: Any, selector: str, container: str) -> None:
        self.ctx = ctx
        self.selector = selector
        self.container = container
        self.logs: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> JobLogFollower:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def _run(self) -> None:
        ctx = self.ctx
        followers: dict[str, Any] = {}  # pod name -> `kubectl logs -f` process
        while not self._stop.is_set():
            try:
                pods = ctx.kube.core.list_namespaced_pod(ctx.namespace, label_selector=self.selector).items
            except Exception:  # the API is busy: try again at the next poll
                pods = []
            for pod in pods:
                name = pod.metadata.name
                if name in followers:
                    continue
                status = next((s for s in pod.status.container_statuses or [] if s.name == self.container), None)
                if status is None or not (status.state.running or status.state.terminated):
                    continue  # still in its initContainers: `logs -f` would refuse
                followers[name] = ctx.runner.start(["kubectl", "--context", ctx.config.context, "-n", ctx.namespace,
                                                    "logs", "-f", name, "-c", self.container])
            self._stop.wait(0.5)
        for name, process in followers.items():
            try:
                out, _ = process.communicate(timeout=10)  # a finished container ends its `logs -f`
            except Exception:
                process.kill()
                out, _ = process.communicate()
            self.logs[name] = out or ""

    def evidence(self, job: str) -> list[Evidence]:
        return [Evidence(LOG, f"job {job} pod/{pod}/{self.container}", text) for pod, text in self.logs.items() if text.strip()]


def upgrade_with_job(values: Mapping[str, Any], *, selector: str, container: str, job: str,
                     looks: Sequence[str] = (), app_release: str = "1.0", name: str | None = None) -> Action:
    """helm upgrade --wait while following the logs of the migration hook Job, then SQL `looks`."""

    def run(ctx: Any) -> ActionResult:
        with JobLogFollower(ctx, selector, container) as follower:
            result = ctx.upgrade(resolve(values), app_release=app_release, wait=True)
        job_events = [e for e in ctx.events(limit=40) if e.source.startswith(f"Job/{job}")]
        evidence = [result.evidence(), *follower.evidence(job), *job_events]
        if not result.ok:
            return ActionResult(False, f"helm upgrade failed after {result.seconds:.0f}s", tuple(evidence), result.timed_out)
        settle(ctx)
        evidence += [sql_evidence(ctx, query) for query in looks]
        return ActionResult.success(f"upgraded in {result.seconds:.0f}s", *evidence)

    return Action(name or "helm upgrade (the migration Job runs as a pre-upgrade hook)", run, (
        helm_line(values, app_release=app_release),
        f"kubectl -n {{namespace}} logs -f job/{job}<revision>",
        *[psql_line(query) for query in looks],
    ))


def with_sql(action: Action, *queries: str, name: str | None = None) -> Action:
    """`action`, then (if it completed) these queries as SQL evidence."""

    def run(ctx: Any) -> ActionResult:
        result = action(ctx)
        if not result.ok:
            return result
        settle(ctx)
        return ActionResult(True, result.summary, (*result.evidence, *[sql_evidence(ctx, q) for q in queries]))

    def replay(ctx: Any) -> list[str]:
        return [*action.commands(ctx), *[psql_line(q).replace("{namespace}", ctx.namespace) for q in queries]]

    return Action(name or action.name, run, replay)


def helm_test_phases(*, name: str | None = None) -> Action:
    """`helm test` (Solution 5's smoke tests) judged by each test pod's phase in helm's output.
    Without `--logs`: the chart's test pods are `hook-succeeded`, deleted as soon as they pass, so
    `helm test --logs` fails with "unable to get pod logs ... not found" although every test passed."""

    def run(ctx: Any) -> ActionResult:
        budget = int(max(30, ctx.step_timeout - 30))
        result = ctx.runner.run(["helm", "test", ctx.release, "--kube-context", ctx.config.context,
                                 "--namespace", ctx.namespace, "--timeout", f"{budget}s"],
                                timeout=budget + 60, check=False)
        output = ctx.mask((result.stdout + "\n" + result.stderr).strip())
        phases = dict(re.findall(r"TEST SUITE:\s+(\S+)\s+Last Started:.*?\n\s*Last Completed:.*?\n\s*Phase:\s+(\w+)", output))
        passed = result.returncode == 0 and bool(phases) and all(phase == "Succeeded" for phase in phases.values())
        evidence = (Evidence("output", "helm test", output or "(no output)"),
                    verdict("smoke tests", passed, ", ".join(f"{suite} {phase}" for suite, phase in phases.items())
                            or f"no test suite in helm's output (exit {result.returncode})"))
        if result.returncode != 0:
            return ActionResult.failure(f"helm test exited {result.returncode}", *evidence)
        return ActionResult.success(f"{len(phases)} test pod(s) ran", *evidence)

    return Action(name or "helm test", run, ("helm test {release} -n {namespace}",))
