"""`lab doctor` as a user runs it (a real subprocess, the real Docker engine): each problem printed with
its fix, non-zero exit."""

from __future__ import annotations

import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.config import LabConfig
from lab.doctor import check_package_index

pytestmark = pytest.mark.integration


def run_doctor(extra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
               *args: str) -> subprocess.CompletedProcess[str]:
    # An empty working directory and state dir: no lab.toml, no remembered settings of the developer's.
    cwd = tmp_path_factory.mktemp("doctor-cwd")
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "RHDEMO_LAB_STATE_DIR": str(cwd / "state"), **extra_env}
    env.pop("RHDEMO_LAB_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "lab", "doctor", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_without_docker_prints_the_fix_and_fails(tmp_path_factory: pytest.TempPathFactory) -> None:
    result = run_doctor({"DOCKER_HOST": "unix:///nonexistent.sock"}, tmp_path_factory)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL docker" in result.stdout
    assert "the Docker engine is not reachable (unix:///nonexistent.sock)" in result.stdout
    assert "fix: DOCKER_HOST=unix:///nonexistent.sock points at no running engine: `unset DOCKER_HOST`" in result.stdout
    assert "not ready:" in result.stdout and "docker" in result.stdout.split("not ready:")[1]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_with_a_port_taken_prints_the_fix_and_fails(taken_port: int,
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    result = run_doctor({"RHDEMO_LAB_APP_HOST_PORT": str(taken_port)}, tmp_path_factory)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL port {taken_port}" in result.stdout
    assert f"127.0.0.1:{taken_port} (app) cannot be bound: Address already in use" in result.stdout
    assert f"fix: find the owner with `ss -ltnp 'sport = :{taken_port}'` and stop it" in result.stdout
    assert "RHDEMO_LAB_APP_HOST_PORT=<port>" in result.stdout
    assert f"port {taken_port}" in result.stdout.split("not ready:")[1]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_free_port_is_reported_free(tmp_path_factory: pytest.TempPathFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    result = run_doctor({"RHDEMO_LAB_ACTUATOR_HOST_PORT": str(free)}, tmp_path_factory)
    assert f"  ok port {free}" in result.stdout and "free (actuator)" in result.stdout


def test_bad_input_is_one_line_and_exit_1(tmp_path_factory: pytest.TempPathFactory) -> None:
    result = run_doctor({"RHDEMO_LAB_APP_HOST_PORT": "eighty"}, tmp_path_factory)
    assert result.returncode == 1
    assert result.stderr.startswith("error: app_host_port must be an integer, got 'eighty'")
    assert "Traceback" not in result.stderr


def test_node_image_absent_and_no_registry_answering_fails_with_the_fix(tmp_path_factory: pytest.TempPathFactory) -> None:
    # An image nobody has, on a registry that cannot answer (the .invalid domain never resolves).
    absent = f"registry.invalid/rhdemo-lab-absent/kind-node:v1.34.4-{uuid.uuid4().hex[:8]}"
    result = run_doctor({}, tmp_path_factory, "--node-image", absent)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL node image       {absent} is not in Docker and cannot be pulled: registry registry.invalid does not answer" \
        in result.stdout
    assert ("fix: build the registry-free node image (`lab build node-image`) and use it: "
            "`lab up --node-image localhost/rhdemo-lab/kind-node:v1.34.4`") in result.stdout
    assert "node image" in result.stdout.split("not ready:")[1]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("content", [None, "not a certificate\n",
                                     "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"])
def test_a_wrong_ca_bundle_fails_with_the_fix(content: str | None, tmp_path_factory: pytest.TempPathFactory) -> None:
    bundle = tmp_path_factory.mktemp("ca") / "proxy-ca.pem"
    if content is not None:
        bundle.write_text(content)
    result = run_doctor({}, tmp_path_factory, "--ca-cert", str(bundle))
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if "CA certificate" in line)
    assert line.startswith("FAIL CA certificate") and str(bundle) in line
    assert "fix: pass a PEM bundle: `--ca-cert /etc/ssl/certs/ca-certificates.crt` (or RHDEMO_LAB_CA_CERT)" in result.stdout
    assert "CA certificate" in result.stdout.split("not ready:")[1]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def inspecting_proxy_like_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server whose certificate no public CA signed (like a TLS-inspecting proxy's): its URL and CA."""
    cert, key = tmp_path / "ca.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    server = http.server.HTTPServer(("localhost", 0), http.server.SimpleHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}/simple/pip/", cert
    finally:
        server.shutdown()
        server.server_close()


def test_a_package_index_behind_an_unknown_ca_needs_that_ca(inspecting_proxy_like_server: tuple[str, Path]) -> None:
    url, ca = inspecting_proxy_like_server
    untrusted = check_package_index(LabConfig(), url=url)
    assert not untrusted.ok
    assert untrusted.detail.startswith("localhost's certificate is signed neither by the public CAs (")
    assert untrusted.fix is not None and untrusted.fix.startswith("pass its CA certificate: `--ca-cert /path/to/proxy-ca.pem`")
    assert check_package_index(LabConfig(ca_cert=ca), url=url).ok


def test_nothing_chosen_and_no_registry_means_the_registry_free_set(tmp_path_factory: pytest.TempPathFactory) -> None:
    """With no image set nor node image chosen, doctor checks what `lab up` will use: on a machine where no
    registry answers (this project's CI), the registry-free set, said in one line; elsewhere kind's default."""
    from lab.images import PullProbe, docker_client

    answers = PullProbe(docker_client(timeout=8)).check("kindest/node:v1.34.0").answered
    cwd = tmp_path_factory.mktemp("doctor-cwd")
    env = {key: value for key, value in os.environ.items() if key not in ("RHDEMO_LAB_IMAGE_SET", "RHDEMO_LAB_NODE_IMAGE", "RHDEMO_LAB_CONFIG")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "RHDEMO_LAB_STATE_DIR": str(cwd / "state")})
    result = subprocess.run([sys.executable, "-m", "lab", "doctor"], capture_output=True, text=True, env=env, cwd=cwd, timeout=180)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if answers:
        assert "no container registry answers" not in output, output
    else:
        assert "note no container registry answers — registry docker.io" in output, output
        assert "`lab up` uses the registry-free set (image set local, node image localhost/rhdemo-lab/kind-node:" in output
        assert "localhost/rhdemo-lab/kind-node:" in next(line for line in output.splitlines() if " node image " in line)
