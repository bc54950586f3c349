"""Preflight checks, each with its exact fix. Exit 0 only when `lab up` can succeed."""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import images as images_mod
from lab.cluster import ClusterProvider, cluster_for
from lab.config import LabConfig
from lab.errors import LabError
from lab.helm import HELM_VERSION_ARGV
from lab.kube import KUBECTL_CLIENT_VERSION_ARGV
from lab.runner import Runner, install_hint

MIN_DOCKER = (23, 0)  # older engines grant CAP_SYS_RESOURCE to --privileged and kind nodes fail here
MIN_KIND = (0, 20, 0)
MIN_KUBECTL = (1, 28, 0)
MIN_MEMORY_GIB = 4.0
MIN_DISK_GIB = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    blocking: bool = True  # a failed non-blocking check is a warning

    @property
    def status(self) -> str:
        return "ok" if self.ok else ("FAIL" if self.blocking else "warn")


def _version(text: str) -> tuple[int, ...]:
    match = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g or 0) for g in match.groups()) if match else ()


def _fmt(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def check_docker(config: LabConfig) -> tuple[Check, Any]:
    try:
        client = images_mod.docker_client(timeout=10)
    except LabError as exc:
        return Check("docker", False, exc.message, exc.hint), None
    version = client.version()
    server = _version(version.get("Version", ""))
    if server and server[:2] < MIN_DOCKER:
        return Check("docker", False, f"engine {version.get('Version')} (API {version.get('ApiVersion')})",
                     f"upgrade the Docker engine to >= {_fmt(MIN_DOCKER)}: kind's --privileged node fails on older "
                     "engines without CAP_SYS_RESOURCE (`apt-get install -y --no-install-recommends docker.io/trixie`)"), client
    return Check("docker", True, f"engine {version.get('Version')} (API {version.get('ApiVersion')}) reachable"), client


def check_tool(runner: Runner, tool: str, argv: list[str], minimum: tuple[int, ...] | None,
               accept: Callable[[tuple[int, ...]], str | None] = lambda v: None, blocking: bool = True) -> Check:
    path = runner.which(tool)
    if path is None:
        return Check(tool, False, "not found on PATH nor in " + ", ".join(map(str, runner.tool_dirs)),
                     install_hint(tool), blocking)
    try:
        result = runner.run([path, *argv[1:]], timeout=30, check=False)
    except LabError as exc:
        return Check(tool, False, f"{path}: {exc.message}", install_hint(tool), blocking)
    version = _version(result.stdout + result.stderr)
    if not version:
        return Check(tool, False, f"{path}: cannot read its version", install_hint(tool), blocking)
    problem = accept(version)
    if problem is None and minimum and version < minimum:
        problem = f"version {_fmt(version)} is older than the supported {_fmt(minimum)}"
    if problem:
        return Check(tool, False, f"{path}: {problem}", install_hint(tool), blocking)
    return Check(tool, True, f"{_fmt(version)} ({path})")


def helm_supported(version: tuple[int, ...]) -> str | None:
    if version[0] == 3 and version < (3, 13, 0):
        return f"helm {_fmt(version)} is too old (the lab needs 3.13+ for release labels)"
    if version[0] not in (3, 4):
        return f"helm {_fmt(version)} is not supported (3.13+ or 4.x)"
    return None


def check_memory() -> Check:
    try:
        meminfo = Path("/proc/meminfo").read_text()
        available_kib = int(re.search(r"MemAvailable:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return Check("memory", True, "cannot read /proc/meminfo (not Linux?)", blocking=False)
    gib = available_kib / 1024 / 1024
    if gib < MIN_MEMORY_GIB:
        return Check("memory", False, f"{gib:.1f} GiB available, the stack needs about {MIN_MEMORY_GIB:.0f} GiB",
                     "close other programs or stop other clusters (`kind get clusters`, `kind delete cluster --name ...`)")
    return Check("memory", True, f"{gib:.1f} GiB available")


def check_disk(docker_client: Any) -> Check:
    root = "/var/lib/docker"
    if docker_client is not None:
        try:
            root = docker_client.info().get("DockerRootDir") or root
        except Exception:  # noqa: BLE001 — only a better guess of where Docker's data lives; the default is fine
            pass
    target = Path(root)
    while not target.exists() and target != target.parent:
        target = target.parent
    usage = shutil.disk_usage(target)
    gib = usage.free / 1024 ** 3
    if gib < MIN_DISK_GIB:
        return Check("disk", False, f"{gib:.1f} GiB free under {root}, need {MIN_DISK_GIB:.0f} GiB",
                     "free space: `docker system prune` (unused images/containers), or move Docker's data-root")
    return Check("disk", True, f"{gib:.1f} GiB free under {root}")


def port_in_use(port: int, address: str = "127.0.0.1") -> str | None:
    """None if the port can be bound, else the OS reason."""
    for host in (address, "0.0.0.0"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # REUSEADDR: a port in TIME_WAIT is free for kind; a listening socket still blocks the bind.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                return os.strerror(exc.errno or errno.EADDRINUSE)
    return None


def check_ports(cluster: ClusterProvider) -> list[Check]:
    checks = []
    for host_port in cluster.host_ports():
        port, name = host_port.port, host_port.name
        if host_port.held_by_lab:
            checks.append(Check(f"port {port}", True, f"held by this lab's cluster ({cluster.description})"))
            continue
        reason = port_in_use(port)
        if reason is None:
            checks.append(Check(f"port {port}", True, f"free ({name})"))
        else:
            env = f"RHDEMO_LAB_{host_port.setting.upper()}"
            checks.append(Check(f"port {port}", False, f"127.0.0.1:{port} ({name}) cannot be bound: {reason}",
                                f"find the owner with `ss -ltnp 'sport = :{port}'` and stop it, or choose another "
                                f"port: `{host_port.setting} = <port>` in lab.toml or `{env}=<port>`"))
    return checks


def check_context(cluster: ClusterProvider) -> Check:
    found = cluster.check_context()
    return Check("kube context", found.ok, found.detail, found.fix)


def check_images(config: LabConfig, docker_client: Any) -> list[Check]:
    """No registry here: images the lab cannot pull must already be in Docker."""
    if docker_client is None:
        return []
    builder = images_mod.ImageBuilder(docker_client)
    checks = [Check("image set", True, f"{config.image_set}" + {
        "public": " (the chart's public images: the cluster must be able to pull them)",
        "local": " (built here by .ci/lib/build-images.sh; the Debian-based PostgreSQL 17 stands in for postgres:16-alpine)",
        "mirror": " (pulled through the mirror)"}[config.image_set.kind])]
    if config.node_image:
        if builder.image_id(config.node_image):
            checks.append(Check("node image", True, config.node_image))
        else:
            checks.append(Check("node image", False, f"{config.node_image} is not in Docker",
                                "build it: `bash .ci/lib/build-node-image.sh`, or drop --node-image/RHDEMO_LAB_NODE_IMAGE"))
    if config.image_set.kind == "local":
        missing = [ref for ref in images_mod.local_images_required(config) if not builder.image_id(ref)]
        if images_mod.LOCAL_PYTHON_BASE not in missing and not builder.image_id(images_mod.LOCAL_PYTHON_BASE):
            missing.append(images_mod.LOCAL_PYTHON_BASE)
        if missing:
            checks.append(Check("local image set", False, f"missing: {', '.join(missing)}",
                                "build them: `bash .ci/lib/build-images.sh`, or use --image-set public"))
        else:
            checks.append(Check("local image set", True, "every local image is in Docker"))
    if not (config.app_stub_path / "Dockerfile").is_file():
        checks.append(Check("app stub", False, f"no Dockerfile in {config.app_stub_path}",
                            "set app_stub_path in lab.toml (or RHDEMO_LAB_APP_STUB_PATH) to the stub's directory"))
    if not (config.chart_path / "Chart.yaml").is_file():
        checks.append(Check("chart", False, f"no chart at {config.chart_path}", "set chart_path in lab.toml"))
    if config.ca_cert is not None and not config.ca_cert.is_file():
        checks.append(Check("CA certificate", False, f"{config.ca_cert} does not exist",
                            "pass a PEM bundle, e.g. --ca-cert /etc/ssl/certs/ca-certificates.crt"))
    return checks


TOOL_CHECKS: dict[str, tuple[list[str], tuple[int, ...] | None]] = {
    "kind": (["kind", "version"], MIN_KIND),
}


def run_checks(config: LabConfig, runner: Runner) -> list[Check]:
    docker_check, client = check_docker(config)
    cluster = cluster_for(config, runner, client)
    checks = [docker_check]
    for tool in cluster.tools:
        argv, minimum = TOOL_CHECKS[tool]
        checks.append(check_tool(runner, tool, argv, minimum))
    checks.append(check_tool(runner, "helm", HELM_VERSION_ARGV, None, helm_supported))
    checks.append(check_tool(runner, "kubectl", KUBECTL_CLIENT_VERSION_ARGV, MIN_KUBECTL))
    checks.append(check_memory())
    checks.append(check_disk(client))
    checks.extend(check_ports(cluster))
    checks.append(check_context(cluster))
    checks.extend(check_images(config, client))
    return checks


def can_go_up(checks: list[Check]) -> bool:
    return all(check.ok or not check.blocking for check in checks)
