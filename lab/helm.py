"""helm: THE place a helm command line is assembled: version detection (3 vs 4 flag names),
upgrade --install, history, rollback, test, uninstall, values; `attempt_*` return a `HelmRun`
instead of raising, for failures a scenario expects.

"No change -> no new revision": each revision the lab installs carries a release label
`lab-fingerprint` = hash(chart files + merged user values). `up` compares it with the deployed one.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.errors import LabError
from lab.kube import Kubectl
from lab.runner import MASK, CommandError, Runner, is_secret_key, mask_text
from lab.timeouts import DEFAULTS

FINGERPRINT_LABEL = "lab-fingerprint"
# Revisions helm keeps of a release (--history-max). Each record holds that revision's Secrets and values,
# so this also bounds how many old passwords stay readable; explicit, because helm's default comes
# from $HELM_MAX_HISTORY (unbounded when 0). Rollbacks can go back this far.
RELEASE_HISTORY_MAX = 10
HELM_VERSION_ARGV = ["helm", "version", "--template", "{{.Version}}"]


@dataclass(frozen=True)
class HelmFlags:
    """Flag spellings that differ between helm 3 and 4."""

    major: int
    atomic: str
    wait: tuple[str, ...]

    @classmethod
    def for_major(cls, major: int) -> HelmFlags:
        if major == 3:
            return cls(3, "--atomic", ("--wait",))
        if major == 4:
            # Helm 4 renamed --atomic; --wait takes a strategy (watcher = kstatus, the default).
            return cls(4, "--rollback-on-failure", ("--wait=watcher",))
        raise LabError(f"helm {major}.x is not supported", "install helm 3 or 4: `bash .ci/lib/install-helm.sh`")


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise LabError(f"cannot read the helm version from {text.strip()!r}")
    major, minor, patch = (int(group) for group in match.groups())
    return major, minor, patch


# --- values -------------------------------------------------------------------------------------

def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing for user values: maps merge, everything else replaces; null deletes."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _split_key(key: str) -> list[str]:
    return [part.replace("\0", ".") for part in key.replace("\\.", "\0").split(".")]


def set_pairs_to_values(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """`--set a.b=1` pairs -> a values tree (YAML scalar typing, `\\.` escapes a dot), like helm's --set.
    The lab writes them into a values file so a password given with --set never reaches helm's argv."""
    values: dict[str, Any] = {}
    for key, raw in pairs:
        parts = _split_key(key)
        if any(not part or "[" in part for part in parts):
            raise LabError(f"--set {key}=... : unsupported key", "use dotted map keys (lists: put them in a --values file)")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)):
            value = raw  # helm treats {…}/[…] in --set as strings
        node = values
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise LabError(f"--set {key}: {part} is both a value and a map")
        node[parts[-1]] = value
    return values


def load_values_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"cannot read values file {path}: {exc.strerror}", "check the --values path") from None
    except yaml.YAMLError as exc:
        raise LabError(f"values file {path} is not valid YAML: {yaml_error_text(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LabError(f"values file {path} must contain a YAML map at the top level")
    return data


def yaml_error_text(error: yaml.YAMLError) -> str:
    """PyYAML's problem and where it is (1-based line and column), on one line."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def secret_values(values: Any) -> set[str]:
    """Every value a values tree hands to a Secret or a secret setting: leaves under a secret key
    (`database.password`) and env-style entries naming one (`{name: SPRING_DATASOURCE_PASSWORD, value: …}`).
    What the lab registers with the runner and masks by value wherever it appears."""
    found: set[str] = set()
    if isinstance(values, Mapping):
        if isinstance(values.get("name"), str) and is_secret_key(values["name"]) and values.get("value"):
            found.add(str(values["value"]))
        for key, value in values.items():
            if isinstance(value, (Mapping, list)):
                found |= secret_values(value)
            elif is_secret_key(str(key)) and value not in (None, ""):
                found.add(str(value))
    elif isinstance(values, list):
        for item in values:
            found |= secret_values(item)
    return found


def mask_values(values: Any, secrets: Collection[str] = ()) -> Any:
    """Copy of a values tree for `lab values` and logs: every secret value found in it (and any in
    `secrets`) replaced wherever it appears — under its own key, or inside an init script."""
    known = secret_values(values) | set(secrets)

    def mask(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {key: mask(value) for key, value in node.items()}
        if isinstance(node, list):
            return [mask(item) for item in node]
        if isinstance(node, str):
            return MASK if node in known else mask_text(node, known)
        return MASK if str(node) in known else node

    return mask(values)


def chart_digest(chart: Path) -> str:
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(chart):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            relative = path.relative_to(chart).as_posix()
            if "__pycache__" in relative:
                continue
            digest.update(relative.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def fingerprint(chart_sha: str, user_values: Mapping[str, Any], key: bytes) -> str:
    """The release label that says "nothing changed". Keyed (HMAC): the values include passwords, and
    the label is readable by more people than the Secrets, so an unkeyed digest would let them test guesses."""
    canonical = json.dumps(user_values, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, f"{chart_sha}\0{canonical}".encode(), hashlib.sha256).hexdigest()[:40]


def fingerprint_key(state_dir: Path) -> bytes:
    """This machine's fingerprint key (0600 in the state dir, made once). A new key means one more
    revision on the next `lab up`, nothing worse."""
    path = state_dir / "fingerprint.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        state_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another lab command made it meanwhile
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key)
        return key


# --- releases -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeployedRelease:
    revision: int
    status: str  # deployed | failed | pending-install | pending-upgrade | pending-rollback | superseded ...
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str | None:
        return self.labels.get(FINGERPRINT_LABEL)

    @property
    def pending(self) -> bool:
        return self.status.startswith("pending-")


@dataclass(frozen=True)
class ReleasePlan:
    action: str  # "none" | "install" | "upgrade"
    reason: str
    clear_pending: int | None = None  # revision of a stale pending-* record to drop first


def plan_release(current: DeployedRelease | None, desired_fingerprint: str) -> ReleasePlan:
    """Pure decision: does the release need a new revision?"""
    if current is None:
        return ReleasePlan("install", "no release yet")
    if current.pending:
        # An interrupted helm (the lab was killed): its record blocks every helm operation.
        return ReleasePlan("install" if current.revision == 1 else "upgrade",
                           f"revision {current.revision} left {current.status} by an interrupted run",
                           clear_pending=current.revision)
    if current.status != "deployed":
        return ReleasePlan("upgrade", f"revision {current.revision} is {current.status}")
    if current.fingerprint != desired_fingerprint:
        return ReleasePlan("upgrade", "chart or values changed" if current.fingerprint else
                           "release not installed by the lab (no fingerprint)")
    return ReleasePlan("none", f"revision {current.revision} already has these values and chart")


# Texts helm prints when its --timeout ran out (helm 3 and 4).
HELM_TIMEOUT_TEXTS = ("context deadline exceeded", "timed out waiting for the condition", "timed out waiting")


@dataclass(frozen=True)
class HelmRun:
    """One helm command's result: never raises on helm's own failure (a failure may be the expectation)."""

    ok: bool
    command: str        # masked
    output: str         # stdout + stderr, masked
    seconds: float
    timed_out: bool = False
    returncode: int = 0  # -1: the process outlived its own budget

    @property
    def short_command(self) -> str:
        """The command without its values files (temporary paths), for a report."""
        return self.command.split(" --values")[0][:120]

    @property
    def report_output(self) -> str:
        """helm's own lines: the chart's NOTES are for humans installing by hand."""
        return self.output.split("\nNOTES:")[0].strip() or "(no output)"

    @property
    def error_line(self) -> str:
        """helm's last `Error...` line, or ""."""
        return next((line for line in reversed(self.output.splitlines()) if line.startswith("Error")), "")


class Helm:
    def __init__(self, runner: Runner, context: str, namespace: str) -> None:
        self.runner = runner
        self.context = context
        self.namespace = namespace
        self._flags: HelmFlags | None = None
        self.kubectl = Kubectl(runner, context, namespace)  # helm's storage Secrets

    def _base(self) -> list[str]:
        return ["--kube-context", self.context, "--namespace", self.namespace]

    def version(self) -> tuple[int, int, int]:
        return parse_version(self.runner.run(HELM_VERSION_ARGV, timeout=DEFAULTS.tool_version).stdout)

    @property
    def flags(self) -> HelmFlags:
        if self._flags is None:
            self._flags = HelmFlags.for_major(self.version()[0])
        return self._flags

    def release_records(self, release: str) -> list[DeployedRelease]:
        """Every stored revision (helm's storage Secrets), newest last; labels include the fingerprint."""
        result = self.kubectl.run("get", "secrets", "-l", f"owner=helm,name={release}", "-o",
                                  "jsonpath={range .items[*]}{.metadata.labels}{\"\\n\"}{end}",
                                  timeout=DEFAULTS.query, check=False)
        if result.returncode != 0:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return []
            raise CommandError(result.command, result.returncode, result.stderr)
        records = []
        for line in result.stdout.splitlines():
            if line.strip():
                labels = json.loads(line)
                records.append(DeployedRelease(int(labels.get("version", 0)), labels.get("status", "unknown"), labels))
        return sorted(records, key=lambda r: r.revision)

    def current(self, release: str) -> DeployedRelease | None:
        records = self.release_records(release)
        return records[-1] if records else None

    def drop_pending_record(self, release: str, revision: int) -> None:
        """Forget a stale pending-* revision (the objects stay; the next upgrade adopts them)."""
        self.kubectl.run("delete", "secret", f"sh.helm.release.v1.{release}.v{revision}", "--ignore-not-found",
                         timeout=DEFAULTS.query)

    def ensure_dependencies(self, chart: Path) -> None:
        chart_yaml = chart / "Chart.yaml"
        if not chart_yaml.is_file():
            raise LabError(f"no Helm chart at {chart} (Chart.yaml missing)", "check chart_path (lab.toml / RHDEMO_LAB_CHART_PATH)")
        if not (yaml.safe_load(chart_yaml.read_text()) or {}).get("dependencies"):
            return
        listing = self.runner.run(["helm", "dependency", "list", str(chart)], timeout=DEFAULTS.query).stdout
        if re.search(r"\bmissing\b|\bwrong version\b", listing):
            self.runner.run(["helm", "dependency", "build", str(chart), "--skip-refresh"],
                            timeout=DEFAULTS.dependency_build)

    def _upgrade_argv(self, release: str, chart: Path, values_files: Sequence[Path], *, timeout: float, wait: bool,
                      atomic: bool, labels: Mapping[str, str] | None, extra: Sequence[str],
                      create_namespace: bool) -> list[str]:
        argv = ["helm", "upgrade", "--install", release, str(chart), *self._base(),
                *(["--create-namespace"] if create_namespace else []), "--timeout", f"{int(timeout)}s",
                "--history-max", str(RELEASE_HISTORY_MAX)]
        for path in values_files:
            argv += ["--values", str(path)]
        if wait:
            argv += list(self.flags.wait)
        if atomic:
            argv.append(self.flags.atomic)
        if labels:
            argv += ["--labels", ",".join(f"{k}={v}" for k, v in labels.items())]
        return [*argv, *extra]

    def upgrade_install(self, release: str, chart: Path, values_files: Sequence[Path], *,
                        labels: Mapping[str, str] | None = None, wait: bool = True, atomic: bool = False,
                        timeout: int = 600, extra: Sequence[str] = ()) -> str:
        argv = self._upgrade_argv(release, chart, values_files, timeout=timeout, wait=wait, atomic=atomic,
                                  labels=labels, extra=extra, create_namespace=True)
        return self.runner.run(argv, timeout=timeout + 120).stdout

    def attempt_upgrade(self, release: str, chart: Path, values_files: Sequence[Path], *, timeout: float,
                        wait: bool = True, atomic: bool = False, extra: Sequence[str] = ()) -> HelmRun:
        """`helm upgrade --install` whose failure is a result, not an exception (a scenario may expect it).
        The namespace must exist (scenarios create theirs)."""
        argv = self._upgrade_argv(release, chart, values_files, timeout=timeout, wait=wait, atomic=atomic,
                                  labels=None, extra=extra, create_namespace=False)
        return self._attempt(argv, timeout + DEFAULTS.helm_grace)

    def template(self, release: str, chart: Path, values_files: Sequence[Path]) -> tuple[str, str | None]:
        """(the rendered manifest, None) or ("", what the chart says of these values), without a cluster
        (`helm template`: its schema, its validateValues, its templates). Lets bad input fail before
        anything changes, and tells doctor which images the release will run."""
        argv = ["helm", "template", release, str(chart), "--namespace", self.namespace]
        for path in values_files:
            argv += ["--values", str(path)]
        result = self.runner.run(argv, timeout=DEFAULTS.query, check=False)
        if result.returncode == 0:
            return result.stdout, None
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        first_error = next((i for i, line in enumerate(lines) if line.startswith("Error")), 0)
        return "", "\n".join(lines[first_error:first_error + 12])

    def refusal(self, release: str, chart: Path, values_files: Sequence[Path]) -> str | None:
        """What the chart says of these values (see `template`), or None when it renders."""
        return self.template(release, chart, values_files)[1]

    def history(self, release: str) -> list[dict[str, Any]]:
        result = self.runner.run(["helm", "history", release, *self._base(), "-o", "json"],
                                 timeout=DEFAULTS.query, check=False)
        if result.returncode != 0:
            return []
        return list(json.loads(result.stdout or "[]"))

    def get_values(self, release: str, all_values: bool = True) -> dict[str, Any]:
        argv = ["helm", "get", "values", release, *self._base(), "-o", "json"]
        if all_values:
            argv.append("--all")
        return json.loads(self.runner.run(argv, timeout=DEFAULTS.query).stdout or "{}") or {}

    def get_manifest(self, release: str) -> str:
        return self.runner.run(["helm", "get", "manifest", release, *self._base()], timeout=DEFAULTS.query).stdout

    def _rollback_argv(self, release: str, revision: int | None, wait: bool, timeout: float) -> list[str]:
        argv = ["helm", "rollback", release, *([str(revision)] if revision else []), *self._base(),
                "--timeout", f"{int(timeout)}s", "--history-max", str(RELEASE_HISTORY_MAX)]
        return [*argv, *(self.flags.wait if wait else ())]

    def rollback(self, release: str, revision: int | None = None, wait: bool = True, timeout: int = 600) -> None:
        self.runner.run(self._rollback_argv(release, revision, wait, timeout), timeout=timeout + 120)

    def attempt_rollback(self, release: str, revision: int | None = None, *, timeout: float,
                         wait: bool = True) -> HelmRun:
        return self._attempt(self._rollback_argv(release, revision, wait, timeout), timeout + DEFAULTS.helm_grace)

    def attempt_test(self, release: str, *, timeout: float, logs: bool = True) -> HelmRun:
        """`helm test`; `logs=False` when the test pods delete themselves on success (hook-succeeded):
        `--logs` would then fail on pods already gone."""
        argv = ["helm", "test", release, *self._base(), "--timeout", f"{int(timeout)}s", *(["--logs"] if logs else [])]
        return self._attempt(argv, timeout + DEFAULTS.helm_grace)

    def uninstall(self, release: str, timeout: int = 300) -> None:
        self.runner.run(["helm", "uninstall", release, *self._base(), "--wait", "--timeout", f"{timeout}s",
                         "--ignore-not-found"], timeout=timeout + 60)

    def _attempt(self, argv: list[str], process_timeout: float) -> HelmRun:
        started = time.monotonic()
        try:
            result = self.runner.run(argv, timeout=process_timeout, check=False)
        except CommandError as error:  # the process itself outlived its budget
            return HelmRun(False, error.command, error.stderr_tail, time.monotonic() - started, timed_out=True,
                           returncode=error.returncode)
        output = mask_text((result.stdout + "\n" + result.stderr).strip(), self.runner.secrets)
        timed_out = result.returncode != 0 and any(text in result.stderr for text in HELM_TIMEOUT_TEXTS)
        return HelmRun(result.returncode == 0, result.command, output, result.seconds, timed_out, result.returncode)


@contextmanager
def values_file(values: Mapping[str, Any]) -> Iterator[Path]:
    """How the lab hands values (and any secret) to helm: an anonymous in-memory file read as
    `/dev/fd/N`, which the runner lets the child inherit. Nothing reaches the disk, so a lab killed
    with SIGKILL leaves no password behind."""
    descriptor = os.memfd_create("lab-values", os.MFD_CLOEXEC)
    try:
        os.write(descriptor, yaml.safe_dump(dict(values), sort_keys=True).encode())
        yield Path(f"/dev/fd/{descriptor}")
    finally:
        os.close(descriptor)
