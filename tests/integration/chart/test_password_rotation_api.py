"""The Kubernetes-API side of passwordSync.mode=alternating (chart/rhdemo/files/password-rotation.py):
the real script, run as its container runs it, against a fake API server over HTTPS (a CA and a
server certificate made by openssl, a service account token file). The fake answers what the script
asks (the Deployment, its pods by label selector, a merge patch) and records every request."""

from __future__ import annotations

import ast
import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.chart.chartlib import CHART, wait_for
from tests.integration.chart.fakeapi import send_json

pytestmark = pytest.mark.integration

SCRIPT = CHART / "files" / "password-rotation.py"
# RHDEMO_TEST_PYTHON: another interpreter to run the script with (the app image's python3 may be older
# than the test host's; the script supports >= 3.9).
PYTHON = shlex.split(os.environ.get("RHDEMO_TEST_PYTHON", "")) or [sys.executable]
NAMESPACE = "rhdemo-stagingkub"
DEPLOYMENT = "rhdemo-app"
ANNOTATION = "rhdemo.io/db-login"
DEFAULT_LOGIN = "rhdemo"
APP_LABELS = {"app.kubernetes.io/name": "rhdemo-app", "app.kubernetes.io/instance": "rhdemo"}
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
INTERVAL = "0.2"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str
    content_type: str
    body: Any


def deployment(login: str | None = None) -> dict[str, Any]:
    annotations = {ANNOTATION: login} if login else {}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE},
            "spec": {"replicas": 2, "selector": {"matchLabels": dict(APP_LABELS)},
                     "template": {"metadata": {"labels": dict(APP_LABELS),
                                               "annotations": {"checksum/config": "abc", **annotations}},
                                  "spec": {"containers": [{"name": "app", "image": "rhdemo:1"}]}}}}


def pod(name: str, login: str | None, phase: str = "Running", terminating: bool = False,
        labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE,
                                "labels": dict(APP_LABELS if labels is None else labels),
                                "annotations": {ANNOTATION: login} if login else {}}
    if terminating:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "status": {"phase": phase}}


def merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch, as the API server applies application/merge-patch+json."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value
    return target


@dataclass
class FakeKube:
    """Holds the Deployment (None: 404) and pods; `fail_status` answers every request with that status."""

    deployment: dict[str, Any] | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)
    fail_status: int = 0
    hang: threading.Event | None = None  # set: requests wait for it to be cleared
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def answer(self, request: Request) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.fail_status:
                return self.fail_status, {"kind": "Status", "code": self.fail_status, "message": "boom"}
            deployment_path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}"
            if request.path == deployment_path and self.deployment is not None:
                if request.method == "GET":
                    return 200, json.loads(json.dumps(self.deployment))
                if request.method == "PATCH" and request.content_type == "application/merge-patch+json":
                    return 200, merge(self.deployment, request.body)
            if request.path == f"/api/v1/namespaces/{NAMESPACE}/pods" and request.method == "GET":
                wanted = dict(term.split("=", 1) for term in request.query["labelSelector"][0].split(","))
                items = [p for p in self.pods if wanted.items() <= p["metadata"]["labels"].items()]
                return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
            return 404, {"kind": "Status", "code": 404, "reason": "NotFound", "message": f"{request.path} not found"}

    def seen(self, predicate: Callable[[Request], bool]) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if predicate(r)]

    def deployment_reads(self) -> int:
        return len(self.seen(lambda r: r.method == "GET" and "/deployments/" in r.path))

    def patches(self) -> list[Request]:
        return self.seen(lambda r: r.method == "PATCH")


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path


# A CA as RFC 5280 wants it (what kubeadm, hence kind, makes), or one of the older kind some
# distributions made (basicConstraints not critical, no keyUsage: microk8s before its fix), which
# Python >= 3.13's default strict verification refuses.
_CA_EXTENSIONS = {
    "rfc5280": "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
    "legacy": "basicConstraints=CA:TRUE\nsubjectKeyIdentifier=hash\n",
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Tls:
    """A CA and a server certificate for 127.0.0.1 signed by it, like a cluster's API server
    (`request.param`: the kind of CA, rfc5280 unless a test asks for another)."""
    kind = getattr(request, "param", "rfc5280")
    directory = tmp_path_factory.mktemp(f"tls-{kind}")
    ca, ca_key, ca_config = directory / "ca.crt", directory / "ca.key", directory / "ca.cnf"
    cert, key, csr = directory / "server.crt", directory / "server.key", directory / "server.csr"
    ext = directory / "server.ext"
    ca_config.write_text("[req]\ndistinguished_name=dn\nx509_extensions=ca\nprompt=no\n[dn]\n"
                         f"CN=fake-kubernetes-ca\n[ca]\n{_CA_EXTENSIONS[kind]}")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
                   "authorityKeyIdentifier=keyid\n")
    for command in (
        ["req", "-x509", "-config", str(ca_config), "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-keyout", str(ca_key), "-out", str(ca)],
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=kube-apiserver", "-keyout", str(key), "-out", str(csr)],
        ["x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2",
         "-extfile", str(ext), "-out", str(cert)],
    ):
        subprocess.run(["openssl", *command], check=True, capture_output=True)
    return Tls(ca=ca, cert=cert, key=key)


@pytest.fixture
def kube(tls: Tls) -> Iterator[tuple[FakeKube, int]]:
    """The fake API server, serving HTTPS on 127.0.0.1; yields it and its port."""
    fake = FakeKube()

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Request(method=self.command, path=parsed.path, query=urllib.parse.parse_qs(parsed.query),
                              authorization=self.headers.get("Authorization", ""),
                              content_type=self.headers.get("Content-Type", ""),
                              body=json.loads(raw) if raw else None)
            fake.record(request)
            if fake.hang is not None:
                fake.hang.wait(10)
            send_json(self, *fake.answer(request))

        do_GET = do_PATCH = handle_one

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client gone mid-answer (the signal tests stop the script in a request)

    server = Server(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert, tls.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield fake, server.server_address[1]
    if fake.hang is not None:
        fake.hang.set()
    server.shutdown()
    server.server_close()


@dataclass
class Rotation:
    process: subprocess.Popen[bytes]
    output_path: Path
    rotation_dir: Path
    token_path: Path

    @property
    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8")

    def lines(self, text: str) -> list[str]:
        return [line for line in self.output.splitlines() if text in line]

    def logins(self) -> dict[str, str] | None:
        path = self.rotation_dir / "logins"
        if not path.exists():
            return None
        return dict(line.split("=", 1) for line in path.read_text().splitlines())


@pytest.fixture
def start_rotation(tmp_path: Path, tls: Tls, kube: tuple[FakeKube, int]) -> Iterator[Callable[..., Rotation]]:
    started: list[Rotation] = []

    def start(interval: str = INTERVAL, ready: str | None = None, unset: tuple[str, ...] = (),
              **env: str) -> Rotation:
        account = tmp_path / "serviceaccount"
        account.mkdir(exist_ok=True)
        (account / "ca.crt").write_bytes(tls.ca.read_bytes())
        token_path = account / "token"
        if not token_path.exists():
            token_path.write_text("token-one\n")
        rotation_dir = tmp_path / "rotation"
        rotation_dir.mkdir(exist_ok=True)
        if ready is not None:
            (rotation_dir / "ready").write_text(ready)
        output_path = tmp_path / f"output-{len(started)}.log"
        full_env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8",
                    "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(kube[1]),
                    "SERVICEACCOUNT_DIR": str(account), "TARGET_DEPLOYMENT": DEPLOYMENT,
                    "POD_NAMESPACE": NAMESPACE, "ROTATION_DIR": str(rotation_dir), "DEFAULT_LOGIN": DEFAULT_LOGIN,
                    "CHECK_INTERVAL_SECONDS": interval, **env}
        for name in unset:
            del full_env[name]
        with output_path.open("wb") as output:
            process = subprocess.Popen([*PYTHON, str(SCRIPT)], env=full_env, stdout=output,
                                       stderr=subprocess.STDOUT)
        rotation = Rotation(process=process, output_path=output_path, rotation_dir=rotation_dir,
                            token_path=token_path)
        started.append(rotation)
        return rotation

    yield start
    for rotation in started:
        if rotation.process.poll() is None:
            rotation.process.kill()
        rotation.process.wait()


def _wait_reads(fake: FakeKube, count: int) -> None:
    """Waits until the script has read the Deployment `count` more times (loops done)."""
    target = fake.deployment_reads() + count
    assert wait_for(lambda: fake.deployment_reads() >= target, 10), f"fewer than {count} more loops"


def test_logins_active_from_annotation_and_in_use_of_live_and_terminating_pods(
        kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation]) -> None:
    fake, _ = kube
    fake.deployment = deployment("rhdemo_b")
    fake.pods = [
        pod("new-1", "rhdemo_b"),
        pod("old-1", "rhdemo_a", terminating=True),       # may still hold connections
        pod("unannotated", None),                         # the default login
        pod("starting", "rhdemo_b", phase="Pending"),
        pod("done", "rhdemo_done", phase="Succeeded"),
        pod("crashed", "rhdemo_failed", phase="Failed"),
        pod("other-app", "rhdemo_other", labels={"app.kubernetes.io/name": "keycloak"}),
    ]
    before = int(time.time())
    rotation = start_rotation()
    assert wait_for(lambda: rotation.logins() is not None, 10), rotation.output
    logins = rotation.logins()
    assert logins is not None
    assert (logins["active"], logins["in_use"]) == ("rhdemo_b", "rhdemo rhdemo_a rhdemo_b")
    assert before <= int(logins["at"]) <= time.time()
    assert (rotation.rotation_dir / "logins").read_text() == (
        f"active=rhdemo_b\nin_use=rhdemo rhdemo_a rhdemo_b\nat={logins['at']}\n")
    # The database side runs as another user.
    assert (rotation.rotation_dir / "logins").stat().st_mode & 0o777 == 0o644
    pod_lists = fake.seen(lambda r: r.path.endswith("/pods"))
    assert pod_lists[0].query["labelSelector"] == ["app.kubernetes.io/instance=rhdemo,app.kubernetes.io/name=rhdemo-app"]
    # `at` is refreshed on every loop; the state is logged once, no temp file is left behind.
    first_at = logins["at"]
    assert wait_for(lambda: (rotation.logins() or {}).get("at") != first_at, 5)
    assert sorted(p.name for p in rotation.rotation_dir.iterdir()) == ["logins"]
    assert len(rotation.lines("rôle actif rhdemo_b ; rôles des pods : rhdemo rhdemo_a rhdemo_b")) == 1, rotation.output
    assert fake.patches() == []


@pytest.mark.parametrize("tls", ["legacy"], indirect=True)
def test_cluster_ca_without_strict_rfc5280_extensions_is_trusted(
        kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation]) -> None:
    """Python >= 3.13 (the app image's) refuses such a CA by default; it is the cluster's own trust
    anchor, so the script accepts it (chain and host name still verified). Meaningful when the
    script runs with python >= 3.13 (RHDEMO_TEST_PYTHON)."""
    fake, _ = kube
    fake.deployment = deployment("rhdemo_a")
    rotation = start_rotation()
    assert wait_for(lambda: rotation.logins() is not None, 10), rotation.output


def test_default_login_and_no_pods(kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation]) -> None:
    fake, _ = kube
    fake.deployment = deployment(None)
    rotation = start_rotation()
    assert wait_for(lambda: rotation.logins() is not None, 10), rotation.output
    assert (rotation.rotation_dir / "logins").read_text().splitlines()[:2] == ["active=rhdemo", "in_use="]
    assert rotation.lines("rôle actif rhdemo ; rôles des pods : (aucun pod)")


def test_ready_with_another_login_patches_only_the_annotation_once(
        kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation]) -> None:
    fake, _ = kube
    fake.deployment = deployment("rhdemo_a")
    fake.pods = [pod("app-1", "rhdemo_a"), pod("app-2", "rhdemo_a")]
    rotation = start_rotation(ready=f"login=rhdemo_b\ndigest={DIGEST}\n")
    assert wait_for(lambda: len(fake.patches()) >= 1, 10), rotation.output
    _wait_reads(fake, 3)
    patches = fake.patches()
    assert len(patches) == 1, patches
    patch = patches[0]
    assert patch.body == {"spec": {"template": {"metadata": {"annotations": {ANNOTATION: "rhdemo_b"}}}}}
    assert patch.content_type == "application/merge-patch+json"
    assert patch.query == {"fieldManager": ["rhdemo-password-rotation"]}
    assert patch.path == f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}"
    assert patch.authorization == "Bearer token-one"
    assert fake.deployment is not None
    assert fake.deployment["spec"]["template"]["metadata"]["annotations"] == {
        "checksum/config": "abc", ANNOTATION: "rhdemo_b"}
    assert rotation.lines(f"🔁 deployment/{DEPLOYMENT} : bascule sur le rôle rhdemo_b (déploiement progressif)")
    assert len(rotation.lines("🔁 ")) == 1, rotation.output
    logins = rotation.logins()
    assert logins is not None
    assert (logins["active"], logins["in_use"]) == ("rhdemo_b", "rhdemo_a")


def test_logins_rewritten_with_the_new_active_at_once(
        kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation]) -> None:
    """The next loop is 30 s away: the new active login comes from the patch's own loop."""
    fake, _ = kube
    fake.deployment = deployment("rhdemo_a")
    fake.pods = [pod("app-1", "rhdemo_a")]
    rotation = start_rotation(interval="30", ready=f"login=rhdemo_b\ndigest={DIGEST}\n")
    assert wait_for(lambda: (rotation.logins() or {}).get("active") == "rhdemo_b", 10), rotation.output
    assert fake.deployment_reads() == 1
    assert len(fake.patches()) == 1


@pytest.mark.parametrize("ready", [
    f"login=rhdemo_a\ndigest={DIGEST}\n",      # the login already active
    "login=rhdemo_b\n",                         # incomplete: no digest
    f"login=rhdemo b\ndigest={DIGEST}\n",       # not a login the logins file can carry
    "login=rhdemo_b\ndigest=not-hex\n",
], ids=["same-login", "no-digest", "space-in-login", "bad-digest"])
def test_no_patch_without_a_usable_other_login(
        kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation], ready: str) -> None:
    fake, _ = kube
    fake.deployment = deployment("rhdemo_a")
    rotation = start_rotation(ready=ready)
    _wait_reads(fake, 4)
    assert fake.patches() == []
    assert (rotation.logins() or {}).get("active") == "rhdemo_a"
    # An unusable file is said once, not on every loop.
    assert len(rotation.lines("ignoré")) == (0 if ready.startswith("login=rhdemo_a") else 1), rotation.output


def test_missing_deployment_leaves_no_file_then_recovers(
        kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation]) -> None:
    fake, _ = kube
    rotation = start_rotation()
    _wait_reads(fake, 4)
    assert rotation.logins() is None
    assert len(rotation.lines("introuvable")) == 1, rotation.output
    assert rotation.lines(f"deployment/{DEPLOYMENT} introuvable dans le namespace {NAMESPACE}")
    fake.deployment = deployment("rhdemo_a")
    assert wait_for(lambda: rotation.logins() is not None, 10), rotation.output
    assert rotation.lines(f"✅ deployment/{DEPLOYMENT} lu à nouveau")
    assert len(rotation.lines("introuvable")) == 1


def test_api_failure_leaves_the_old_file(kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation],
                                         tmp_path: Path) -> None:
    fake, _ = kube
    fake.deployment = deployment("rhdemo_a")
    fake.fail_status = 500
    old = "active=rhdemo_b\nin_use=rhdemo_b\nat=1000\n"
    (tmp_path / "rotation").mkdir()
    (tmp_path / "rotation" / "logins").write_text(old)
    rotation = start_rotation()
    _wait_reads(fake, 4)
    assert (rotation.rotation_dir / "logins").read_text() == old
    assert len(rotation.lines("lecture de")) == 1, rotation.output
    assert rotation.lines("HTTP 500 : boom")


def test_token_re_read_on_every_request_and_never_printed(
        kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation]) -> None:
    fake, _ = kube
    fake.deployment = deployment("rhdemo_a")
    rotation = start_rotation()
    assert wait_for(lambda: bool(fake.seen(lambda r: r.authorization == "Bearer token-one")), 10), rotation.output
    # The kubelet swaps a projected token's file for a new one.
    new_token = rotation.token_path.with_name("token.new")
    new_token.write_text("token-two\n")
    new_token.replace(rotation.token_path)
    assert wait_for(lambda: bool(fake.seen(lambda r: r.authorization == "Bearer token-two")), 10), rotation.output
    switched = next(i for i, r in enumerate(fake.seen(lambda r: True)) if r.authorization == "Bearer token-two")
    _wait_reads(fake, 2)
    assert {r.authorization for r in fake.seen(lambda r: True)[switched:]} == {"Bearer token-two"}
    assert "token-" not in rotation.output and "Bearer" not in rotation.output


@pytest.mark.parametrize("when", ["sleeping", "in-request"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_exits_0_promptly(kube: tuple[FakeKube, int], start_rotation: Callable[..., Rotation],
                                 signum: signal.Signals, when: str) -> None:
    fake, _ = kube
    fake.deployment = deployment("rhdemo_a")
    if when == "in-request":  # the API server does not answer (10 s)
        fake.hang = threading.Event()
    rotation = start_rotation(interval="30")
    if when == "sleeping":
        assert wait_for(lambda: rotation.logins() is not None, 10), rotation.output
    else:
        assert wait_for(lambda: fake.deployment_reads() >= 1, 10)
    sent = time.monotonic()
    rotation.process.send_signal(signum)
    assert rotation.process.wait(timeout=5) == 0, rotation.output
    assert time.monotonic() - sent < 1.5
    assert "Traceback" not in rotation.output


@pytest.mark.parametrize("missing", ["TARGET_DEPLOYMENT", "POD_NAMESPACE", "ROTATION_DIR", "DEFAULT_LOGIN"])
def test_missing_setting_exits_2_with_one_line(start_rotation: Callable[..., Rotation], missing: str) -> None:
    rotation = start_rotation(unset=(missing,))
    assert rotation.process.wait(timeout=10) == 2
    output = rotation.output
    assert output.count("\n") == 1 and missing in output and output.startswith("[password-rotation] ❌"), output
    assert "Traceback" not in output


def test_invalid_interval_exits_2(start_rotation: Callable[..., Rotation]) -> None:
    rotation = start_rotation(interval="soon")
    assert rotation.process.wait(timeout=10) == 2
    assert "CHECK_INTERVAL_SECONDS" in rotation.output and "Traceback" not in rotation.output


def test_script_is_python_3_9_and_survives_kubernetes_command_expansion() -> None:
    """The app image guarantees only a python3 (>= 3.9): the grammar is checked here, whatever the
    test host's python (the library calls are 3.9's: RHDEMO_TEST_PYTHON runs the suite with one).
    Kubernetes would rewrite `$(VAR)` and `$$` if the script is given in a container's command."""
    source = SCRIPT.read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 9))
    assert "$(" not in source and "$$" not in source
