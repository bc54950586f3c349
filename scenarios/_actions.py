"""Shared actions of the scenarios: each returns an `Action` (what to do + the commands a human
would type to replay it) and runs against `lab.scenario.live.LiveContext`.

Values are plain dicts in the chart's terms; a password in them is a `Password` (a random value made
once per run, shown as `<password-A>` in replay commands and masked everywhere else). Every helm call
gives its complete values, like a plain `helm upgrade` without --reuse-values.

Stable API (other scenario modules build on it): keep signatures backwards compatible.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lab.scenario import Action, ActionResult, Evidence, Satisfies
from lab.scenario.model import LOG, NOTE, OUTPUT, STATUS

CHART = "chart/rhdemo"
LOCAL_SET = "chart/rhdemo/values-image-set-local.yaml"


# ---- passwords and values ------------------------------------------------------------------------

class Password:
    """A password made once per run (letters and digits, 24 characters); `str()` is its placeholder."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._value: str | None = None

    @property
    def value(self) -> str:
        if self._value is None:
            alphabet = string.ascii_letters + string.digits
            self._value = "".join(secrets.choice(alphabet) for _ in range(24))
        return self._value

    @property
    def placeholder(self) -> str:
        return f"<password-{self.label}>"

    def __str__(self) -> str:
        return self.placeholder

    def __repr__(self) -> str:
        return f"Password({self.label!r})"


def resolve(values: Any) -> Any:
    """The values with each `Password` replaced by its real value (only ever written to a file)."""
    if isinstance(values, Mapping):
        return {key: resolve(value) for key, value in values.items()}
    if isinstance(values, list):
        return [resolve(item) for item in values]
    return values.value if isinstance(values, Password) else values


def set_flags(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """`--set a.b=c` pairs for replay lines (passwords as placeholders; dots in keys escaped)."""
    flags: list[str] = []
    for key, value in values.items():
        name = f"{prefix}{str(key).replace('.', chr(92) + '.')}"
        if isinstance(value, Mapping):
            flags.extend(set_flags(value, name + "."))
        elif isinstance(value, str) and "\n" in value:
            flags.append(f"--set-file {name}=<file>")
        else:
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--set {name}={shown}")
    return flags


def helm_line(values: Mapping[str, Any], *, wait: bool = True, timeout: str | None = None,
              app_release: str = "1.0") -> str:
    keycloak = [] if "enabled" in (values.get("keycloak") or {}) else ["--set keycloak.enabled=false"]
    parts = ["helm upgrade --install {release}", CHART, "-n {namespace}", f"-f {LOCAL_SET}",
             f"--set rhdemo.image.tag=<app {app_release} tag>", *keycloak, *set_flags(values)]
    if wait:
        parts.append("--wait")
    if timeout:
        parts.append(f"--timeout {timeout}")
    return " ".join(parts)


def _helm_result(run: Any, what: str, ok_summary: str) -> ActionResult:
    evidence = run.evidence()
    if run.ok:
        return ActionResult.success(ok_summary, evidence)
    if run.timed_out:
        return ActionResult.timeout(f"{what} still waiting after {run.seconds:.0f}s (helm --timeout)", evidence)
    last = next((line for line in reversed(run.output.splitlines()) if line.startswith("Error")), "")
    return ActionResult.failure(f"{what} failed: {last or 'see output'}", evidence)


# ---- helm ------------------------------------------------------------------------------------------

def install(values: Mapping[str, Any], *, app_release: str = "1.0", name: str | None = None,
            wait: bool = True, timeout: float | None = None) -> Action:
    """helm upgrade --install with these values and --wait: the release is deployed and its workloads
    ready; on failure, the logs of the hook Jobs that failed or still run."""

    def run(ctx: Any) -> ActionResult:
        result = ctx.install(resolve(values), app_release=app_release, wait=wait, timeout=timeout)
        outcome = _helm_result(result, "helm install", f"release deployed in {result.seconds:.0f}s")
        if outcome.ok:
            return outcome
        return ActionResult(False, outcome.summary, (*outcome.evidence, *_hook_evidence(ctx)), outcome.timed_out)

    timeout_text = f"{int(timeout)}s" if timeout else None
    return Action(name or "helm upgrade --install", run,
                  (helm_line(values, wait=wait, timeout=timeout_text, app_release=app_release),))


def upgrade(values: Mapping[str, Any], *, app_release: str = "1.0", name: str | None = None,
            wait: bool = True, timeout: float | None = None, collect: Sequence[str] = ()) -> Action:
    """helm upgrade with these values (--wait); on failure, the logs of the `collect` components and hook Jobs."""

    def run(ctx: Any) -> ActionResult:
        result = ctx.upgrade(resolve(values), app_release=app_release, wait=wait, timeout=timeout)
        outcome = _helm_result(result, "helm upgrade", f"upgraded in {result.seconds:.0f}s")
        if outcome.ok:
            return outcome
        extra = [*_hook_evidence(ctx), *[e for c in collect for e in ctx.logs(c)]]
        return ActionResult(False, outcome.summary, (*outcome.evidence, *extra), outcome.timed_out)

    timeout_text = f"{int(timeout)}s" if timeout else None
    return Action(name or "helm upgrade", run,
                  (helm_line(values, wait=wait, timeout=timeout_text, app_release=app_release),))


def upgrade_then_wait_for_app(values: Mapping[str, Any], *, app_release: str = "1.0",
                              name: str | None = None, fail_text: str | None = None) -> Action:
    """helm upgrade (hooks waited on, no --wait), then follow the app's rollout: ok when rhdemo-app is
    healthy, a failure with the crashed pod's log lines as soon as a new pod crash-loops."""

    def run(ctx: Any) -> ActionResult:
        started = time.monotonic()
        before = set(ctx.pods_of("rhdemo-app"))
        result = ctx.upgrade(resolve(values), app_release=app_release, wait=False)
        if not result.ok:
            return _failed_helm_with_hooks(ctx, result, "helm upgrade")
        return _follow_app(ctx, started, result.evidence(), fail_text, before)

    return Action(name or "helm upgrade, then follow the app's rollout", run, (
        helm_line(values, wait=False, app_release=app_release),
        "kubectl -n {namespace} rollout status deployment/rhdemo-app",
        "kubectl -n {namespace} logs deployment/rhdemo-app --previous",
    ))


def upgrade_then_wait_for(values: Mapping[str, Any], components: Sequence[str], *, app_release: str = "1.0",
                          name: str | None = None) -> Action:
    """helm upgrade (hooks waited on, no --wait), then wait until each named component is healthy
    (e.g. only `postgresql-keycloak`, without waiting minutes for Keycloak itself)."""

    def run(ctx: Any) -> ActionResult:
        started = time.monotonic()
        result = ctx.upgrade(resolve(values), app_release=app_release, wait=False)
        if not result.ok:
            return _failed_helm_with_hooks(ctx, result, "helm upgrade")
        details = []
        for component in components:
            ok, detail = ctx.wait_healthy(component, ctx.remaining(started) - 10)
            details.append(f"{component}: {detail}")
            if not ok:
                return ActionResult.timeout(f"{component} not ready: {detail}", result.evidence(), *ctx.logs(component))
        return ActionResult.success("; ".join(details), result.evidence())

    return Action(name or "helm upgrade, then wait for " + ", ".join(components), run, (
        helm_line(values, wait=False, app_release=app_release),
        *(f"kubectl -n {{namespace}} rollout status {_ref(c)}" for c in components),
    ))


def _ref(component: str) -> str:
    return f"statefulset/{component}" if component.startswith("postgresql") else f"deployment/{component}"


def rotate_secret(secret: str, password: Password, *, key: str = "password") -> Action:
    """The seed's Test 3: replace the Secret's password with `kubectl apply`, outside Helm."""

    def run(ctx: Any) -> ActionResult:
        result = ctx.apply_secret(secret, password.value, key=key)
        return ActionResult.success(f"secret/{secret} now holds {password.placeholder}",
                                    Evidence(OUTPUT, "kubectl apply", result.stdout.strip()))

    return Action(f"kubectl apply secret/{secret} with {password.placeholder}", run, (_rotate_line(secret, password, key),))


def rotate_secret_then_upgrade(secret: str, password: Password, values: Mapping[str, Any], *,
                               key: str = "password", app_release: str = "1.0",
                               fail_text: str | None = None) -> Action:
    """Test 3 as the seed writes it: `kubectl apply` the new Secret, `helm upgrade`, then follow the
    app's rollout (ok = healthy; failure = a crash-looping pod with its log, or a failed hook Job)."""

    def run(ctx: Any) -> ActionResult:
        started = time.monotonic()
        before = set(ctx.pods_of("rhdemo-app"))
        applied = ctx.apply_secret(secret, password.value, key=key)
        note = Evidence(OUTPUT, "kubectl apply", applied.stdout.strip())
        result = ctx.upgrade(resolve(values), app_release=app_release, wait=False)
        if not result.ok:
            failed = _failed_helm_with_hooks(ctx, result, "helm upgrade")
            return ActionResult(False, failed.summary, (note, *failed.evidence), failed.timed_out)
        followed = _follow_app(ctx, started, result.evidence(), fail_text, before)
        return ActionResult(followed.ok, followed.summary, (note, *followed.evidence), followed.timed_out)

    return Action(f"rotate secret/{secret} to {password.placeholder} with kubectl apply, then helm upgrade", run, (
        _rotate_line(secret, password, key),
        helm_line(values, wait=False, app_release=app_release),
        "kubectl -n {namespace} rollout status deployment/rhdemo-app",
    ))


def rollback(revision: int | None = None, *, name: str | None = None) -> Action:
    """helm rollback (to the previous revision, or `revision`) with --wait."""

    def run(ctx: Any) -> ActionResult:
        result = ctx.rollback(revision)
        return _helm_result(result, "helm rollback", f"rolled back in {result.seconds:.0f}s")

    target = f" {revision}" if revision else ""
    return Action(name or f"helm rollback{target}", run, (f"helm rollback {{release}}{target} -n {{namespace}} --wait",))


def helm_test(*, name: str | None = None) -> Action:
    """helm test --logs: the chart's Solution 5 test pods."""

    def run(ctx: Any) -> ActionResult:
        result = ctx.helm_test()
        return _helm_result(result, "helm test", "helm test passed")

    return Action(name or "helm test", run, ("helm test {release} -n {namespace} --logs",))


# ---- waiting and observing -----------------------------------------------------------------------

def wait_app_healthy(*, name: str | None = None) -> Action:
    """Wait (step timeout) until rhdemo-app is ready and its actuator answers UP."""

    def run(ctx: Any) -> ActionResult:
        ok, detail = ctx.wait_healthy("rhdemo-app", ctx.step_timeout - 10)
        if ok:
            return ActionResult.success(f"deployment/rhdemo-app {detail}")
        return ActionResult.timeout(f"deployment/rhdemo-app not healthy: {detail}", *ctx.logs("rhdemo-app"))

    return Action(name or "wait for the app", run, ("kubectl -n {namespace} rollout status deployment/rhdemo-app",))


def wait_for_crash(component: str, text: str, *, name: str | None = None) -> Action:
    """Wait until a pod of `component` crashes with `text` in its log (a failure carrying that log)."""

    def run(ctx: Any) -> ActionResult:
        deadline = time.monotonic() + ctx.step_timeout - 10
        while time.monotonic() < deadline:
            crash = ctx.find_crash(component, text)
            if crash is not None:
                return ActionResult.failure(f"pod/{crash.pod}: {crash.problem}",
                                            Evidence(LOG, f"pod/{crash.pod}", crash.logs))
            time.sleep(3)
        return ActionResult.success(f"no pod of {component} crashed with {text!r}", *ctx.logs(component))

    return Action(name or f"wait for {component} to crash", run,
                  (f"kubectl -n {{namespace}} logs -l app={component} --previous",))


def wait_for_log(component: str, text: str, *, container: str | None = None, name: str | None = None) -> Action:
    """Wait until `text` appears in the current log of a pod of `component` (success with that log)."""

    def run(ctx: Any) -> ActionResult:
        deadline = time.monotonic() + ctx.step_timeout - 10
        seen: list[Evidence] = []
        while time.monotonic() < deadline:
            seen = ctx.logs(component, container)
            hit = next((e for e in seen if text in e.text), None)
            if hit is not None:
                return ActionResult.success(f"{hit.source} shows {text!r}", _around(hit, text))
            time.sleep(3)
        return ActionResult.timeout(f"{text!r} not in the logs of {component}", *seen)

    return Action(name or f"read the logs of {component}", run,
                  (f"kubectl -n {{namespace}} logs -l app={component}" + (f" -c {container}" if container else ""),))


def component_logs(component: str, *, container: str | None = None, name: str | None = None) -> Action:
    """Collect the logs of a component's pods (current and previous containers) as evidence."""

    def run(ctx: Any) -> ActionResult:
        found = ctx.logs(component, container)
        return ActionResult.success(f"{len(found)} log excerpt(s) of {component}", *found)

    return Action(name or f"logs of {component}", run,
                  (f"kubectl -n {{namespace}} logs -l app={component}" + (f" -c {container}" if container else ""),))


def hook_job_logs(prefix: str, *, name: str | None = None) -> Action:
    """Collect the logs of the Jobs whose name starts with `prefix` (every container, initContainers first)."""

    def run(ctx: Any) -> ActionResult:
        jobs = ctx.jobs(prefix)
        found = [e for job in jobs for e in ctx.job_logs(job["name"])]
        return ActionResult.success(f"{len(jobs)} job(s) {prefix}*", *found)

    return Action(name or f"logs of the {prefix}* Jobs", run, (f"kubectl -n {{namespace}} logs job/{prefix}<revision> --all-containers",))


def events(*, warnings_only: bool = True, name: str | None = None) -> Action:
    """Collect the namespace's (warning) events as evidence."""

    def run(ctx: Any) -> ActionResult:
        found = ctx.events(warnings_only=warnings_only)
        return ActionResult.success(f"{len(found)} event(s)", *found)

    return Action(name or "events", run, ("kubectl -n {namespace} get events --sort-by=.lastTimestamp",))


# ---- database --------------------------------------------------------------------------------------

def sql(database: str, query: str, *, name: str | None = None) -> Action:
    """Run a query as the superuser through the database pod's socket; the result is SQL evidence."""

    def run(ctx: Any) -> ActionResult:
        evidence = ctx.sql_evidence(database, query)
        return ActionResult.success(evidence.text.splitlines()[-1][:120], evidence)

    pod = {"rhdemo": "postgresql-rhdemo-0", "keycloak": "postgresql-keycloak-0"}[database]
    return Action(name or f"psql {database}", run,
                  (f"kubectl -n {{namespace}} exec -i {pod} -c postgresql -- psql -U {database} -d {database} -tAc \"{query}\"",))


def check_login(database: str, user: str, password: Password, *, name: str | None = None) -> Action:
    """Does `password` log in as `user` over TCP, as the app does? ok = yes; failure = the server's reason."""

    def run(ctx: Any) -> ActionResult:
        ok, reason = ctx.can_login(database, user, password.value)
        source = f"psql -h postgresql-{database} -U {user} (TCP through the Service, scram-sha-256)"
        if ok:
            return ActionResult.success(f"{user} logs in with {password.placeholder}",
                                        Evidence(OUTPUT, source, "SELECT 1 -> 1"))
        return ActionResult.failure(f"{user} cannot log in with {password.placeholder}", Evidence(OUTPUT, source, reason))

    return Action(name or f"log in as {user} with {password.placeholder}", run, (
        f"kubectl -n {{namespace}} exec -it postgresql-{database}-0 -c postgresql -- "
        f"psql -h postgresql-{database} -U {user} -d {database} -c 'SELECT 1'   # password: {password.placeholder}",
    ))


# ---- the app's API ---------------------------------------------------------------------------------

SAMPLE_EMPLOYES = (
    ("Marie", "Curie", "marie.curie@rhdemo.example", "Paris"),
    ("Louis", "Pasteur", "louis.pasteur@rhdemo.example", "Dole"),
    ("Ada", "Lovelace", "ada.lovelace@rhdemo.example", None),
)


def insert_employes(rows: Iterable[tuple[str, str, str, str | None]] = SAMPLE_EMPLOYES, *,
                    tag: str = "", name: str | None = None) -> Action:
    """POST rows to /api/employes through the app (the data the later steps must never lose).
    `tag` makes the mails unique when a scenario inserts twice."""
    rows = tuple(rows)

    def run(ctx: Any) -> ActionResult:
        answers = []
        for prenom, nom, mail, adresse in rows:
            if tag:
                local, _, domain = mail.partition("@")
                mail = f"{local}.{tag}@{domain}"
            code, body = ctx.http("POST", "/api/employes", {"prenom": prenom, "nom": nom, "mail": mail, "adresse": adresse})
            answers.append(f"POST /api/employes {mail} -> HTTP {code}")
            if code != 201:
                return ActionResult.failure(f"POST /api/employes answered {code}", Evidence(OUTPUT, "app API", "\n".join(answers) + "\n" + body[:500]))
        return ActionResult.success(f"{len(rows)} rows inserted through the API", Evidence(OUTPUT, "app API", "\n".join(answers)))

    return Action(name or f"insert {len(rows)} employés through the API", run, (
        "kubectl -n {namespace} port-forward service/rhdemo-app 8080 &",
        "curl -s -X POST localhost:8080/api/employes -H 'Content-Type: application/json' "
        "-d '{\"prenom\":\"Marie\",\"nom\":\"Curie\",\"mail\":\"marie.curie@rhdemo.example\",\"adresse\":\"Paris\"}'",
    ))


def http_get(path: str, *, port: int = 8080, expect_status: int = 200, name: str | None = None) -> Action:
    """GET a path of the app (8080 API, 9000 actuator); ok when the status is `expect_status`."""

    def run(ctx: Any) -> ActionResult:
        code, body = ctx.http("GET", path, port=port)
        evidence = Evidence(OUTPUT, f"GET :{port}{path}", f"HTTP {code}\n{body[:2000]}")
        if code == expect_status:
            return ActionResult.success(f"HTTP {code}", evidence)
        return ActionResult.failure(f"HTTP {code}, expected {expect_status}", evidence)

    return Action(name or f"GET {path}", run, (f"kubectl -n {{namespace}} port-forward service/rhdemo-app {port} &",
                                                f"curl -s localhost:{port}{path}"))


# ---- expectations ----------------------------------------------------------------------------------

def shows(*texts: str) -> Satisfies:
    """Expectation: the action completes and its evidence contains each text (a pass, not a failure)."""

    def predicate(ctx: Any, outcome: Any) -> tuple[bool, str]:
        blob = "\n".join(e.text for e in outcome.result.evidence)
        missing = [t for t in texts if t not in blob]
        return (not missing, "all present" if not missing else f"missing: {', '.join(map(repr, missing))}")

    return Satisfies("evidence shows " + ", ".join(map(repr, texts)), predicate)


# ---- composition -----------------------------------------------------------------------------------

def sequence(name: str, *actions: Action) -> Action:
    """Run actions in order, stopping at the first that does not complete; evidence of all of them."""

    def run(ctx: Any) -> ActionResult:
        evidence: list[Evidence] = []
        summaries: list[str] = []
        for item in actions:
            result = item(ctx)
            evidence.extend(result.evidence)
            summaries.append(result.summary)
            if not result.ok:
                return ActionResult(False, f"{item.name}: {result.summary}", tuple(evidence), result.timed_out)
        return ActionResult.success("; ".join(s for s in summaries if s), *evidence)

    def replay(ctx: Any) -> list[str]:
        return [line for item in actions for line in item.commands(ctx)]

    return Action(name, run, replay)


def note(text: str) -> Evidence:
    return Evidence(NOTE, "lab", text)


# ---- internals -------------------------------------------------------------------------------------

def _around(evidence: Evidence, text: str, before: int = 4, after: int = 3) -> Evidence:
    """The log lines around the first line containing `text` (reports show the end of an excerpt)."""
    lines = evidence.text.splitlines()
    index = next(i for i, line in enumerate(lines) if text in line)
    return Evidence(evidence.kind, evidence.source, "\n".join(lines[max(0, index - before):index + after + 1]),
                    evidence.fields)


def _rotate_line(secret: str, password: Password, key: str) -> str:
    return (f"kubectl create secret generic {secret} --from-literal={key}={password.placeholder} "
            "-n {namespace} --dry-run=client -o yaml | kubectl apply -f -")


def _hook_evidence(ctx: Any) -> list[Evidence]:
    """Logs of the hook Jobs that failed or are still running (the ones helm blames)."""
    found: list[Evidence] = []
    for job in ctx.jobs():
        if "helm.sh/hook" in job["annotations"] and (job["failed"] or job["active"]):
            state = "failed" if job["failed"] else "running"
            found.append(Evidence(STATUS, f"job/{job['name']}", f"hook {job['annotations']['helm.sh/hook']}: {state}"))
            found.extend(ctx.job_logs(job["name"]))
    return found


def _failed_helm_with_hooks(ctx: Any, result: Any, what: str) -> ActionResult:
    outcome = _helm_result(result, what, "")
    return ActionResult(False, outcome.summary, (*outcome.evidence, *_hook_evidence(ctx)), outcome.timed_out)


def _follow_app(ctx: Any, started: float, helm_evidence: Evidence, fail_text: str | None,
                before: Iterable[str] = ()) -> ActionResult:
    """After a helm upgrade without --wait: healthy -> ok; a crashed pod of the Deployment's current
    revision (possibly one that already crashed before, when the upgrade did not change the pod
    template) -> failure with its log."""
    before = set(before)
    deadline = started + ctx.step_timeout - 10
    detail = ""
    while time.monotonic() < deadline:
        ok, detail = ctx.wait_healthy("rhdemo-app", 0, fail_on_crash=False)
        if ok:
            return ActionResult.success(f"deployment/rhdemo-app rolled out: {detail}", helm_evidence)
        current = ctx.current_pods("rhdemo-app")
        # The current revision's pods; until the controller has caught up, anything new since the upgrade.
        crash = (ctx.find_crash("rhdemo-app", fail_text, only=current) if current is not None
                 else ctx.find_crash("rhdemo-app", fail_text, exclude=before))
        if crash is not None:
            return ActionResult.failure(f"pod/{crash.pod}: {crash.problem}", helm_evidence,
                                        Evidence(LOG, f"pod/{crash.pod}/rhdemo-app", crash.logs))
        time.sleep(3)
    return ActionResult.timeout(f"deployment/rhdemo-app not rolled out: {detail}", helm_evidence,
                                *ctx.logs("rhdemo-app"), *ctx.events(warnings_only=True))


__all__ = [
    "CHART", "Password", "SAMPLE_EMPLOYES", "check_login", "component_logs", "events", "helm_line", "helm_test",
    "hook_job_logs", "http_get", "insert_employes", "install", "note", "resolve", "rollback", "rotate_secret",
    "rotate_secret_then_upgrade", "sequence", "shows", "set_flags", "sql", "upgrade", "upgrade_then_wait_for", "upgrade_then_wait_for_app",
    "wait_app_healthy", "wait_for_crash", "wait_for_log",
]
