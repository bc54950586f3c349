"""helm on the scenario's release: install / upgrade (optionally following the app's rollout),
helm test, uninstall. A helm failure is a result (`HelmRun`), judged by the step's expectation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lab.helm import HelmRun
from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.model import OUTPUT, STATUS
from lab.scenario.ops import ClusterOps, Operation, operation
from lab.timeouts import RESERVE, Budget
from scenarios._operations.checks import verdict
from scenarios._operations.db import rotate_line
from scenarios._operations.values import Password, helm_line, resolve
from scenarios._operations.wait import APP, follow_app


def helm_timeout(ops: ClusterOps, timeout: float | None) -> float:
    """helm's --timeout: the one given, else the step's budget minus what evidence collection needs."""
    return timeout if timeout is not None else Budget(ops.step_timeout).for_helm()


def helm_evidence(run: HelmRun) -> Evidence:
    return Evidence(OUTPUT, run.short_command, run.report_output)


def helm_result(run: HelmRun, what: str, ok_summary: str) -> ActionResult:
    evidence = helm_evidence(run)
    if run.ok:
        return ActionResult.success(ok_summary, evidence)
    if run.timed_out:
        return ActionResult.timeout(f"{what} still waiting after {run.seconds:.0f}s (helm --timeout)", evidence)
    return ActionResult.failure(f"{what} failed: {run.error_line or 'see output'}", evidence)


def hook_evidence(ops: ClusterOps) -> list[Evidence]:
    """Logs of the hook Jobs that failed or are still running (the ones helm blames)."""
    found: list[Evidence] = []
    for job in ops.workloads.jobs():
        if job.hook is not None and (job.failed or job.active):
            state = "failed" if job.failed else "running"
            found.append(Evidence(STATUS, f"job/{job.name}", f"hook {job.hook}: {state}"))
            found.extend(ops.workloads.job_logs(job.name))
    return found


def failed_with_hooks(ops: ClusterOps, run: HelmRun, what: str) -> ActionResult:
    outcome = helm_result(run, what, "")
    return ActionResult(False, outcome.summary, (*outcome.evidence, *hook_evidence(ops)), outcome.timed_out)


def _install(values: Mapping[str, Any], app_release: str, wait: bool, timeout: float | None) -> Operation:
    def run(ops: ClusterOps) -> ActionResult:
        result = ops.helm.upgrade(resolve(values), app_release=app_release, wait=wait, timeout=helm_timeout(ops, timeout))
        outcome = helm_result(result, "helm install", f"release deployed in {result.seconds:.0f}s")
        if outcome.ok:
            return outcome
        return ActionResult(False, outcome.summary, (*outcome.evidence, *hook_evidence(ops)), outcome.timed_out)

    return run


def _install_line(values: Mapping[str, Any], app_release: str, wait: bool, timeout: float | None) -> str:
    return helm_line(values, wait=wait, timeout=f"{int(timeout)}s" if timeout else None, app_release=app_release)


def install(values: Mapping[str, Any], *, app_release: str = "1.0", name: str | None = None,
            wait: bool = True, timeout: float | None = None) -> Action:
    """helm upgrade --install with these values and --wait: the release is deployed and its workloads
    ready; on failure, the logs of the hook Jobs that failed or still run."""
    return operation(name or "helm upgrade --install", _install(values, app_release, wait, timeout),
                     (_install_line(values, app_release, wait, timeout),))


def upgrade(values: Mapping[str, Any], *, app_release: str = "1.0", name: str | None = None,
            wait: bool = True, timeout: float | None = None, collect: Sequence[str] = ()) -> Action:
    """helm upgrade with these values (--wait); on failure, the logs of the `collect` components and hook Jobs."""

    def run(ops: ClusterOps) -> ActionResult:
        result = ops.helm.upgrade(resolve(values), app_release=app_release, wait=wait, timeout=helm_timeout(ops, timeout))
        outcome = helm_result(result, "helm upgrade", f"upgraded in {result.seconds:.0f}s")
        if outcome.ok:
            return outcome
        extra = [*hook_evidence(ops), *[e for c in collect for e in ops.workloads.logs(c)]]
        return ActionResult(False, outcome.summary, (*outcome.evidence, *extra), outcome.timed_out)

    timeout_text = f"{int(timeout)}s" if timeout else None
    return operation(name or "helm upgrade", run,
                     (helm_line(values, wait=wait, timeout=timeout_text, app_release=app_release),))


def upgrade_then_wait_for_app(values: Mapping[str, Any], *, app_release: str = "1.0",
                              name: str | None = None, fail_text: str | None = None) -> Action:
    """helm upgrade (hooks waited on, no --wait), then follow the app's rollout: ok when rhdemo-app is
    healthy, a failure with the crashed pod's log lines as soon as a new pod crash-loops."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        before = set(ops.workloads.pod_names(APP))
        result = ops.helm.upgrade(resolve(values), app_release=app_release, wait=False, timeout=helm_timeout(ops, None))
        if not result.ok:
            return failed_with_hooks(ops, result, "helm upgrade")
        return follow_app(ops, budget, helm_evidence(result), fail_text, before)

    return operation(name or "helm upgrade, then follow the app's rollout", run, (
        helm_line(values, wait=False, app_release=app_release),
        "kubectl -n {namespace} rollout status deployment/rhdemo-app",
        "kubectl -n {namespace} logs deployment/rhdemo-app --previous",
    ))


def _ref(component: str) -> str:
    return f"statefulset/{component}" if component.startswith("postgresql") else f"deployment/{component}"


def upgrade_then_wait_for(values: Mapping[str, Any], components: Sequence[str], *, app_release: str = "1.0",
                          name: str | None = None) -> Action:
    """helm upgrade (hooks waited on, no --wait), then wait until each named component is healthy
    (e.g. only `postgresql-keycloak`, without waiting minutes for Keycloak itself)."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        result = ops.helm.upgrade(resolve(values), app_release=app_release, wait=False, timeout=helm_timeout(ops, None))
        if not result.ok:
            return failed_with_hooks(ops, result, "helm upgrade")
        details = []
        for component in components:
            ok, detail = ops.workloads.wait_healthy(component, budget.remaining(keep=RESERVE.poll))
            details.append(f"{component}: {detail}")
            if not ok:
                return ActionResult.timeout(f"{component} not ready: {detail}", helm_evidence(result),
                                            *ops.workloads.logs(component))
        return ActionResult.success("; ".join(details), helm_evidence(result))

    return operation(name or "helm upgrade, then wait for " + ", ".join(components), run, (
        helm_line(values, wait=False, app_release=app_release),
        *(f"kubectl -n {{namespace}} rollout status {_ref(c)}" for c in components),
    ))


def rotate_secret_then_upgrade(secret: str, password: Password, values: Mapping[str, Any], *,
                               key: str = "password", app_release: str = "1.0",
                               fail_text: str | None = None) -> Action:
    """Test 3 as the seed writes it: `kubectl apply` the new Secret, `helm upgrade`, then follow the
    app's rollout (ok = healthy; failure = a crash-looping pod with its log, or a failed hook Job)."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        before = set(ops.workloads.pod_names(APP))
        applied = ops.workloads.apply_secret(secret, password.value, key=key)
        note = Evidence(OUTPUT, "kubectl apply", applied.strip())
        result = ops.helm.upgrade(resolve(values), app_release=app_release, wait=False, timeout=helm_timeout(ops, None))
        if not result.ok:
            failed = failed_with_hooks(ops, result, "helm upgrade")
            return ActionResult(False, failed.summary, (note, *failed.evidence), failed.timed_out)
        followed = follow_app(ops, budget, helm_evidence(result), fail_text, before)
        return ActionResult(followed.ok, followed.summary, (note, *followed.evidence), followed.timed_out)

    return operation(f"rotate secret/{secret} to {password.placeholder} with kubectl apply, then helm upgrade", run, (
        rotate_line(secret, password, key),
        helm_line(values, wait=False, app_release=app_release),
        "kubectl -n {namespace} rollout status deployment/rhdemo-app",
    ))


_TEST_PHASE = re.compile(r"TEST SUITE:\s+(\S+)\s+Last Started:.*?\n\s*Last Completed:.*?\n\s*Phase:\s+(\w+)")


def helm_test_phases(*, name: str | None = None) -> Action:
    """`helm test` (Solution 5's smoke tests) judged by each test pod's phase in helm's output.
    Without `--logs`: the chart's test pods are `hook-succeeded`, deleted as soon as they pass, so
    `helm test --logs` fails with "unable to get pod logs ... not found" although every test passed."""

    def run(ops: ClusterOps) -> ActionResult:
        result = ops.helm.test(timeout=Budget(ops.step_timeout).for_helm(keep=RESERVE.helm_test), logs=False)
        output = result.output
        phases = dict(_TEST_PHASE.findall(output))
        passed = result.ok and bool(phases) and all(phase == "Succeeded" for phase in phases.values())
        evidence = (Evidence("output", "helm test", output or "(no output)"),
                    verdict("smoke tests", passed, ", ".join(f"{suite} {phase}" for suite, phase in phases.items())
                            or f"no test suite in helm's output (exit {result.returncode})"))
        if not result.ok:
            return ActionResult.failure(f"helm test exited {result.returncode}", *evidence)
        return ActionResult.success(f"{len(phases)} test pod(s) ran", *evidence)

    return operation(name or "helm test", run, ("helm test {release} -n {namespace}",))


def install_showing_statefulsets(values: Mapping[str, Any], *, timeout: float, name: str, none_text: str) -> Action:
    """helm install, then which StatefulSets exist (a pre-install hook runs before any of them)."""
    install_run = _install(values, "1.0", True, timeout)

    def run(ops: ClusterOps) -> ActionResult:
        result = install_run(ops)
        names = ops.workloads.statefulsets()
        objects = Evidence(STATUS, f"kubectl get statefulsets -n {ops.namespace}",
                           f"{none_text}: the release's objects are created only after the pre-install hooks"
                           if not names else "statefulsets: " + ", ".join(names))
        return ActionResult(result.ok, result.summary, (*result.evidence, objects), result.timed_out)

    return operation(name, run, (_install_line(values, "1.0", True, timeout),
                                 "kubectl -n {namespace} get statefulsets,jobs,pods",
                                 "kubectl -n {namespace} logs job/schema-migration-1 -c wait-for-db"))


def uninstall_stuck_release(timeout: float = 120) -> Action:
    """helm uninstall the failed release and delete the hook Jobs left waiting (hooks are not part
    of the release's manifest: uninstall leaves them)."""

    def run(ops: ClusterOps) -> ActionResult:
        ops.helm.uninstall(timeout)
        deleted = ops.workloads.delete_jobs(60)
        return ActionResult.success("release uninstalled, hook Job deleted",
                                    Evidence(STATUS, "kubectl delete jobs", deleted.strip()))

    return operation("helm uninstall, delete the waiting hook Job", run, (
        "helm uninstall {release} -n {namespace}", "kubectl -n {namespace} delete jobs --all"))

