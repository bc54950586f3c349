"""The typed cluster layer's pure parts: the one secret-key rule, budgets, the one conversion of
events and pods, and the kubectl command lines (recorded at the process boundary)."""

from __future__ import annotations

import time

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest

from lab.database import DatabasePod
from lab.helm import secret_values
from lab.kube import Kubectl, to_event, to_pod_state
from lab.runner import CommandResult, Runner, is_secret_key
from lab.timeouts import Budget


@pytest.mark.parametrize("key, secret", [
    ("password", True), ("postgresql-rhdemo.database.password", True), ("PGPASSWORD", True), ("apiToken", True),
    ("keycloak.admin.password[0]", True), ("passwordSync", False), ("user", False), ("V2__add.sql", False),
])
def test_one_rule_says_which_keys_are_secrets(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_scenario_values_register_every_secret_leaf_by_the_same_rule() -> None:
    values = {"postgresql-rhdemo": {"database": {"password": "A1", "user": "rhdemo"}},
              "passwordSync": {"mode": "robust"}, "keycloak": {"admin": {"apiToken": "T2"}}, "list": [{"secret": "S3"}]}
    assert secret_values(values) == {"A1", "T2", "S3"}


def test_a_budget_keeps_its_reserve_and_never_goes_below_its_floor() -> None:
    # started long ago on the monotonic clock (which starts near 0 at boot: a fresh machine's CI is young)
    started = time.monotonic() - 1000
    budget = Budget(300, started=started)
    assert Budget(300).remaining(keep=20) == pytest.approx(280, abs=1)
    assert Budget(300).for_helm() == pytest.approx(280, abs=1)
    assert Budget(40).for_helm() == 30, "helm never gets less than its floor"
    assert budget.expired() and budget.remaining(keep=10) == 0.0 and budget.deadline(keep=10) == started + 290


def test_events_and_pods_are_converted_once() -> None:
    event = NS(type="Warning", reason="BackOff", message=" restarting failed container \n", count=None,
               involved_object=NS(kind="Pod", name="rhdemo-app-1"), last_timestamp=None, event_time="2026-12-02T07:00:00Z")
    converted = to_event(event)
    assert (converted.object, converted.message, converted.count, converted.last_seen) == (
        "Pod/rhdemo-app-1", "restarting failed container", 1, "2026-12-02T07:00:00Z")
    running = NS(running=NS(), terminated=None, waiting=None)
    status = NS(name="rhdemo-app", ready=False, restart_count=3, state=running,
                last_state=NS(terminated=NS(exit_code=1, reason="Error")))
    pod = NS(metadata=NS(name="rhdemo-app-1", uid="u1", labels={"app": "rhdemo-app"}, deletion_timestamp=None,
                         owner_references=[NS(name="rhdemo-app-7d9f")], creation_timestamp="2026-12-02 07:00:00"),
             spec=NS(containers=[NS(name="rhdemo-app")]),
             status=NS(phase="Running", container_statuses=[status], init_container_statuses=None, conditions=None))
    state = to_pod_state(pod)
    assert (state.ready, state.containers_ready, state.restarts, state.owner, state.uid) == (
        False, "0/1", 3, "rhdemo-app-7d9f", "u1")
    assert state.problem == "rhdemo-app: last exit 1 (Error)" and state.started == frozenset({"rhdemo-app"})


class RecordingRunner(Runner):
    def __init__(self, answer: CommandResult) -> None:
        super().__init__()
        self.answer = answer
        self.calls: list[tuple[list[str], str | None]] = []

    def run(self, argv: Sequence[str], *, input: str | None = None, env: Mapping[str, str] | None = None,
            timeout: float | None = None, check: bool = True, cwd: Path | None = None,
            hint: str | None = None) -> CommandResult:
        self.calls.append((list(argv), input))
        return self.answer


def test_kubectl_assembles_every_line_for_its_context_and_namespace() -> None:
    runner = RecordingRunner(CommandResult("kubectl", 0, "{}", "", 0.1))
    kubectl = Kubectl(runner, "kind-x", "ns")
    assert kubectl.exec_argv("pod-0", ["psql"], container="postgresql") == [
        "kubectl", "--context", "kind-x", "-n", "ns", "exec", "-i", "pod-0", "-c", "postgresql", "--", "psql"]
    secret: dict[str, Any] = {"kind": "Secret", "stringData": {"password": "s3cr3t"}}
    kubectl.apply(secret)
    argv, stdin = runner.calls[-1]
    assert argv == ["kubectl", "--context", "kind-x", "-n", "ns", "apply", "-f", "-"]
    assert stdin is not None and "s3cr3t" in stdin and "s3cr3t" not in " ".join(argv)
    kubectl.create_namespace()
    assert runner.calls[-1][0] == ["kubectl", "--context", "kind-x", "create", "namespace", "ns"]


def test_a_login_check_sends_the_password_on_stdin_and_masks_it_in_the_reason() -> None:
    reason = 'psql: error: FATAL:  password authentication failed for user "rhdemo" (pw Zz9-secret)'
    runner = RecordingRunner(CommandResult("kubectl exec", 2, "", reason, 0.1))
    ok, said = DatabasePod(runner, "kind-x", "ns", "postgresql-rhdemo-0").can_login(
        "postgresql-rhdemo", "rhdemo", "rhdemo", "Zz9-secret")
    argv, stdin = runner.calls[-1]
    assert not ok and said == 'psql: error: FATAL:  password authentication failed for user "rhdemo" (pw *****)'
    assert stdin == "Zz9-secret\n" and "Zz9-secret" not in " ".join(argv)
    assert argv[:10] == ["kubectl", "--context", "kind-x", "-n", "ns", "exec", "-i", "postgresql-rhdemo-0", "-c",
                         "postgresql"]
    assert argv[-3:] == ["sh", "rhdemo", "rhdemo"]


def test_a_pod_shutting_down_is_no_crash() -> None:
    """Spring Boot (and now the stub) exits 143 on the SIGTERM of a rollout: a pod being deleted that
    ends that way is going away as asked, not failing. The same exit in a pod nobody deletes is a problem."""
    terminated = NS(running=None, waiting=None, terminated=NS(exit_code=143, reason="Error"))
    status = NS(name="rhdemo-app", ready=False, restart_count=0, state=terminated, last_state=None)

    def pod(deleted: str | None) -> NS:
        return NS(metadata=NS(name="rhdemo-app-old", uid="u2", labels={"app": "rhdemo-app"}, deletion_timestamp=deleted,
                              owner_references=[NS(name="rhdemo-app-7d9f")], creation_timestamp="2026-12-02 07:00:00"),
                  spec=NS(containers=[NS(name="rhdemo-app")]),
                  status=NS(phase="Running", container_statuses=[status], init_container_statuses=None, conditions=None))

    assert to_pod_state(pod("2026-12-02T07:05:00Z")).problem is None
    assert to_pod_state(pod(None)).problem == "rhdemo-app: exited 143 (Error)"
