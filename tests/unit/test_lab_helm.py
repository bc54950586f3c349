"""helm: 3 vs 4 flag mapping (a fake helm executable at the process boundary), values, release plan."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.helm import (RELEASE_HISTORY_MAX, DeployedRelease, Helm, HelmFlags, HelmRun, chart_digest, deep_merge, fingerprint,
                      fingerprint_key, mask_values, parse_version, plan_release, set_pairs_to_values, values_file)
from lab.runner import Runner


def fake_helm(directory: Path, version: str) -> Path:
    """A `helm` that prints `version` for `helm version` and records every other argv as JSON lines."""
    log = directory / "argv.jsonl"
    script = directory / "helm"
    script.write_text(f"""#!/usr/bin/env python3
import json, sys
if sys.argv[1:2] == ["version"]:
    print("{version}", end="")
else:
    with open({str(log)!r}, "a") as handle:
        handle.write(json.dumps(sys.argv[1:]) + "\\n")
""")
    script.chmod(0o755)
    return log


def helm_with(tmp_path: Path, version: str) -> tuple[Helm, Path]:
    log = fake_helm(tmp_path, version)
    runner = Runner()
    return Helm(runner, "kind-test", "ns"), log


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    return tmp_path


@pytest.mark.parametrize("version, atomic, wait", [
    ("v3.22.0", "--atomic", ["--wait"]),
    ("v4.3.1+g1234abc", "--rollback-on-failure", ["--wait=watcher"]),
])
def test_upgrade_flags_follow_the_helm_major(on_path: Path, version: str, atomic: str, wait: list[str]) -> None:
    helm, log = helm_with(on_path, version)
    helm.upgrade_install("rhdemo", Path("/chart"), [Path("/a.yaml"), Path("/b.yaml")], labels={"lab-fingerprint": "abc"},
                         atomic=True, timeout=123)
    argv = json.loads(log.read_text().splitlines()[-1])
    assert argv[:4] == ["upgrade", "--install", "rhdemo", "/chart"]
    assert atomic in argv and all(flag in argv for flag in wait)
    assert ({"--atomic", "--rollback-on-failure"} - {atomic}).isdisjoint(argv)
    assert argv[argv.index("--kube-context") + 1] == "kind-test" and argv[argv.index("--namespace") + 1] == "ns"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--values"] == ["/a.yaml", "/b.yaml"]
    assert argv[argv.index("--labels") + 1] == "lab-fingerprint=abc"
    assert argv[argv.index("--timeout") + 1] == "123s"
    # Old passwords live in the release records: the lab bounds them whatever $HELM_MAX_HISTORY says.
    assert argv[argv.index("--history-max") + 1] == str(RELEASE_HISTORY_MAX) == "10"


def test_rollback_uses_the_major_specific_wait(on_path: Path) -> None:
    helm, log = helm_with(on_path, "v4.0.0")
    helm.rollback("rhdemo", 2)
    argv = json.loads(log.read_text().splitlines()[-1])
    assert argv[:3] == ["rollback", "rhdemo", "2"] and "--wait=watcher" in argv
    assert argv[argv.index("--history-max") + 1] == str(RELEASE_HISTORY_MAX)


def test_unsupported_major() -> None:
    with pytest.raises(LabError, match="not supported"):
        HelmFlags.for_major(2)


@pytest.mark.parametrize("text, expected", [("v3.22.0", (3, 22, 0)), ("v4.3.1+gabcdef", (4, 3, 1)),
                                            ("version.BuildInfo{Version:\"v3.13.3\"}", (3, 13, 3))])
def test_parse_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(text) == expected


def test_set_pairs_become_typed_values() -> None:
    values = set_pairs_to_values([("rhdemo.replicaCount", "2"), ("tests.enabled", "false"),
                                  ("a\\.b.c", "x"), ("rhdemo.image.tag", "1.0-abc"), ("s", "")])
    assert values == {"rhdemo": {"replicaCount": 2, "image": {"tag": "1.0-abc"}}, "tests": {"enabled": False},
                      "a.b": {"c": "x"}, "s": ""}
    with pytest.raises(LabError):
        set_pairs_to_values([("list[0]", "x")])


def test_deep_merge_like_helm() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 1}
    assert deep_merge(base, {"a": {"b": 9}, "d": [3], "e": None}) == {"a": {"b": 9, "c": 2}, "d": [3]}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 1}


def test_mask_values_hides_secret_leaves_only() -> None:
    masked = mask_values({"db": {"password": "x", "passwordSecret": {"name": "s", "key": "password"}, "user": "u"},
                          "empty": {"password": ""}})
    assert masked == {"db": {"password": "*****", "passwordSecret": {"name": "s", "key": "password"}, "user": "u"},
                      "empty": {"password": ""}}


def test_values_file_lives_in_memory_only() -> None:
    """Nothing on disk for a SIGKILLed lab to leave behind: an anonymous memory file, read by path."""
    with values_file({"a": {"password": "x"}}) as path:
        assert str(path).startswith("/dev/fd/")
        assert "password: x" in path.read_text()
        assert os.readlink(path).startswith("/memfd:lab-values")
    assert not path.exists()


def test_fingerprint_follows_chart_content_and_values(tmp_path: Path) -> None:
    (tmp_path / "Chart.yaml").write_text("name: c\n")
    key = b"k" * 32
    first = fingerprint(chart_digest(tmp_path), {"a": 1}, key)
    assert first == fingerprint(chart_digest(tmp_path), {"a": 1}, key)
    assert first != fingerprint(chart_digest(tmp_path), {"a": 2}, key)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "x.yaml").write_text("kind: ConfigMap\n")
    assert first != fingerprint(chart_digest(tmp_path), {"a": 1}, key)


def test_fingerprint_is_keyed_so_a_label_reveals_no_password(tmp_path: Path) -> None:
    """Whoever reads the label (or helm's argv) cannot test password guesses without the key."""
    (tmp_path / "Chart.yaml").write_text("name: c\n")
    chart = chart_digest(tmp_path)
    values = {"db": {"password": "Summer2024!"}}
    unkeyed = hashlib.sha256(f"{chart}\0{json.dumps(values, sort_keys=True, separators=(',', ':'))}".encode())
    keyed = fingerprint(chart, values, b"k" * 32)
    assert keyed != unkeyed.hexdigest()[:40]
    assert keyed != fingerprint(chart, values, b"j" * 32)


def test_the_fingerprint_key_is_private_and_kept(tmp_path: Path) -> None:
    key = fingerprint_key(tmp_path / "state")
    assert len(key) == 32
    assert (tmp_path / "state" / "fingerprint.key").stat().st_mode & 0o077 == 0
    assert fingerprint_key(tmp_path / "state") == key


@pytest.mark.parametrize("current, action, clears", [
    (None, "install", None),
    (DeployedRelease(3, "deployed", {"lab-fingerprint": "F"}), "none", None),
    (DeployedRelease(3, "deployed", {"lab-fingerprint": "OLD"}), "upgrade", None),
    (DeployedRelease(3, "deployed", {}), "upgrade", None),
    (DeployedRelease(3, "failed", {"lab-fingerprint": "F"}), "upgrade", None),
    (DeployedRelease(1, "pending-install", {"lab-fingerprint": "F"}), "install", 1),
    (DeployedRelease(4, "pending-upgrade", {"lab-fingerprint": "F"}), "upgrade", 4),
])
def test_release_plan(current: DeployedRelease | None, action: str, clears: int | None) -> None:
    plan = plan_release(current, "F")
    assert (plan.action, plan.clear_pending) == (action, clears)


def failing_helm(directory: Path, version: str, stderr: str, code: int) -> Path:
    """A `helm` that records argv like `fake_helm`, then fails with `stderr` (a password in it, too)."""
    log = fake_helm(directory, version)
    script = directory / "helm"
    script.write_text(script.read_text() + f"    sys.stderr.write({stderr!r})\n    sys.exit({code})\n")
    return log


def test_attempt_upgrade_returns_helms_failure_masked_instead_of_raising(on_path: Path) -> None:
    log = failing_helm(on_path, "v3.22.0", "Error: UPGRADE FAILED: context deadline exceeded (pw s3cr3t-Val)\n", 1)
    runner = Runner()
    runner.register_secret("s3cr3t-Val")
    run = Helm(runner, "kind-test", "ns").attempt_upgrade("rhdemo-x", Path("/chart"), [Path("/a.yaml")],
                                                          timeout=75.9, wait=False)
    argv = json.loads(log.read_text().splitlines()[-1])
    assert argv[argv.index("--timeout") + 1] == "75s" and "--create-namespace" not in argv and "--wait" not in argv
    assert not run.ok and run.timed_out and run.returncode == 1
    assert "s3cr3t-Val" not in run.output and run.error_line.startswith("Error: UPGRADE FAILED")
    assert run.short_command.endswith("upgrade --install rhdemo-x /chart --kube-context kind-test --namespace ns "
                                      "--timeout 75s --history-max 10")


def test_attempt_test_without_logs_and_rollback_to_the_previous_revision(on_path: Path) -> None:
    helm, log = helm_with(on_path, "v4.1.0")
    assert helm.attempt_test("rhdemo-x", timeout=270, logs=False).ok
    assert json.loads(log.read_text().splitlines()[-1]) == ["test", "rhdemo-x", "--kube-context", "kind-test",
                                                            "--namespace", "ns", "--timeout", "270s"]
    assert helm.attempt_rollback("rhdemo-x", timeout=280).ok
    assert json.loads(log.read_text().splitlines()[-1])[:2] == ["rollback", "rhdemo-x"]


def test_helm_run_shows_helms_lines_without_notes_or_values_files() -> None:
    run = HelmRun(True, "helm upgrade --install r c --timeout 9s --values /tmp/lab-values-x.yaml", "done\nNOTES:\nhi", 1)
    assert run.short_command == "helm upgrade --install r c --timeout 9s" and run.report_output == "done"
    assert HelmRun(False, "helm", "", 1).report_output == "(no output)"
