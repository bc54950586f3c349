"""Preflight checks, each with its exact fix. Exit 0 only when `lab up` can succeed."""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import images as images_mod
from lab.cluster import ClusterProvider, ClusterState, KindCluster, cluster_for, containerd_name
from lab.config import LabConfig
from lab.errors import LabError
from lab.helm import HELM_VERSION_ARGV
from lab.kube import KUBECTL_CLIENT_VERSION_ARGV
from lab.remembered import ResolvedSettings
from lab.runner import Runner, install_hint
from lab.stack import Stack

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


def _registry_free_set_fix() -> str:
    return (f"no registry answers here: use the registry-free image set, `lab up --image-set local` "
            f"(build it first: `{images_mod.BUILD_IMAGE_SET}`)")


def check_node_image(config: LabConfig, runner: Runner, state: ClusterState | None, builder: images_mod.ImageBuilder,
                     probe: images_mod.PullProbe | None) -> tuple[Check, str | None]:
    """The node image `kind create cluster` will boot: in Docker, or pullable, or already running the
    cluster. Returns the check and the image reference (None when unknown)."""
    reference = config.node_image
    if reference is None:
        kind = runner.which("kind")
        reference = images_mod.kind_default_node_image(Path(kind)) if kind else None
        if reference is None:
            return Check("node image", False, "kind's default (cannot tell which: kind missing or unreadable)",
                         "install kind (see its check) or pass --node-image", blocking=False), None
    shown = reference.split("@")[0]
    if state is not None and state.running and state.node_image == reference:
        return Check("node image", True, f"{shown} (the cluster runs it)"), reference
    if builder.image_id(reference):
        return Check("node image", True, f"{shown} (in Docker)"), reference
    pull = probe.check(reference) if probe else images_mod.PullCheck(reference, False, "no Docker engine")
    if pull.pullable:
        return Check("node image", True, f"{shown} (not in Docker; pullable)"), reference
    return (Check("node image", False, f"{shown} is not in Docker and cannot be pulled: {pull.reason}",
                  images_mod.node_image_fix(reference)), reference)


def check_cgroup(docker_client: Any, builder: images_mod.ImageBuilder, node_image: str) -> Check:
    """The host's cgroup version against the node's Kubernetes version (1.35+ refuses cgroup v1)."""
    cgroup = str(docker_client.info().get("CgroupVersion") or "")
    version = builder.node_kubernetes_version(node_image)
    if version is None:
        return Check("cgroup", True, f"cgroup v{cgroup or '?'}; node image's Kubernetes version unknown", blocking=False)
    refusal = images_mod.cgroup_refusal(cgroup, version)
    if refusal is not None:
        return Check("cgroup", False, refusal.message, refusal.hint)
    return Check("cgroup", True, f"cgroup v{cgroup}, Kubernetes {_fmt(version)} in the node")


def check_ca_cert(config: LabConfig, origin: str = "flag") -> Check:
    """The CA bundle the image builds will use (--ca-cert, else the one the host names): it exists and
    holds PEM certificates OpenSSL can read."""
    path = config.ca_cert
    fix = "pass a PEM bundle: `--ca-cert /etc/ssl/certs/ca-certificates.crt` (or RHDEMO_LAB_CA_CERT)"
    if path is None:
        return Check("CA certificate", True, "none (no --ca-cert, and the host names none in PIP_CERT, pip's cert, "
                                             "REQUESTS_CA_BUNDLE, SSL_CERT_FILE): the builds trust their base image's CAs")
    if not path.is_file():
        return Check("CA certificate", False, f"{path} (from {origin}) does not exist", fix)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
        extra = images_mod.extra_ca_pem(path)
    except ssl.SSLError as exc:
        return Check("CA certificate", False, f"{path} (from {origin}) is not a PEM certificate bundle "
                                              f"({exc.reason or exc})", fix)
    except LabError as exc:
        return Check("CA certificate", False, exc.message, exc.hint or fix)
    added = extra.count("BEGIN CERTIFICATE")
    return Check("CA certificate", True, f"{path} (from {origin}): {added} certificate(s) beyond the public set "
                                         "go into the builds")


# What the stub's build reaches: its Dockerfile runs pip against PyPI, trusting the base image's CAs
# (about the public set) plus the --ca-cert bundle.
PACKAGE_INDEX = "https://pypi.org/simple/pip/"
def check_package_index(config: LabConfig, url: str = PACKAGE_INDEX) -> Check:
    """The package index the build's pip uses answers, with a certificate the build will trust: behind a
    TLS-inspecting proxy it will not without the proxy's CA (--ca-cert)."""
    import certifi

    host = urllib.parse.urlsplit(url).hostname
    context = ssl.create_default_context(cafile=certifi.where())
    if config.ca_cert is not None:
        context.load_verify_locations(cafile=str(config.ca_cert))
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=images_mod.PROBE_SECONDS, context=context):
            pass
    except urllib.error.HTTPError:
        pass  # it answered over TLS we trust: the status does not matter here
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLCertVerificationError):
            trusted = "the public CAs" + (f" nor by {config.ca_cert}" if config.ca_cert else "")
            return Check("package index", False, f"{host}'s certificate is signed neither by {trusted} "
                                                 f"({exc.reason.verify_message}): a TLS-inspecting proxy?",
                         "pass its CA certificate: `--ca-cert /path/to/proxy-ca.pem` (or name it in PIP_CERT, "
                         "pip's `cert` setting, REQUESTS_CA_BUNDLE or SSL_CERT_FILE)")
        return Check("package index", False, f"{host} does not answer ({exc.reason})",
                     f"the stub's build installs its dependencies from {host}: give this machine and its Docker "
                     "engine access to it (HTTPS_PROXY for both, behind a proxy)")
    except (TimeoutError, OSError) as exc:
        return Check("package index", False, f"{host} does not answer ({exc})",
                     f"the stub's build installs its dependencies from {host}: give this machine and its Docker "
                     "engine access to it (HTTPS_PROXY for both, behind a proxy)")
    return Check("package index", True, f"{host} answers with a certificate the build trusts")


def builds_due(config: LabConfig, builder: images_mod.ImageBuilder) -> list[images_mod.AppImage]:
    """The stub images `up` will build (their content tag is not in Docker)."""
    try:
        return [image for image in images_mod.app_images(config) if not builder.image_id(image.tag)]
    except LabError:
        return []  # no Dockerfile: the "app images" check says so


def check_app_images(config: LabConfig, builder: images_mod.ImageBuilder, probe: images_mod.PullProbe | None) -> Check:
    """The stub's images: built already (their tag is their content), or their base image is at hand."""
    try:
        images = images_mod.app_images(config)
    except LabError as exc:
        return Check("app images", False, exc.message, exc.hint)
    missing = [image for image in images if not builder.image_id(image.tag)]
    if not missing:
        return Check("app images", True, f"built: {', '.join(image.short_tag for image in images)}")
    base = missing[0].build_args.get("BASE_IMAGE") or images_mod.dockerfile_base_default(config.app_stub_path)
    if base is None or builder.image_id(base):
        return Check("app images", True, f"{len(missing)} to build (base image {base or 'of the Dockerfile'} in Docker)")
    pull = probe.check(base) if probe else images_mod.PullCheck(base, False, "no Docker engine")
    if pull.pullable:
        return Check("app images", True, f"{len(missing)} to build (base image {base} pullable)")
    fix = (f"build the local image set: `{images_mod.BUILD_IMAGE_SET}`" if config.image_set.kind == "local"
           else _registry_free_set_fix())
    return Check("app images", False, f"{len(missing)} to build, but their base image {base} is not in Docker and "
                                      f"cannot be pulled: {pull.reason}", fix)


def check_chart_images(config: LabConfig, manifest: str, cluster: ClusterProvider, state: ClusterState | None,
                       builder: images_mod.ImageBuilder, probe: images_mod.PullProbe | None) -> Check:
    """Every image the release will run (the rendered chart, for this image set and these values):
    the lab loads the local set's from Docker; the others the node must have or pull."""
    loaded_by_lab = set(images_mod.local_images_required(config)) if cluster.tools else set()
    in_node: dict[str, str] = {}
    if isinstance(cluster, KindCluster) and state is not None and state.running:
        try:
            in_node = cluster.node_images()
        except LabError:  # an old node without crictl: its images count as absent
            in_node = {}
    problems: list[str] = []
    counted = 0
    # `up` wants every image of the local set in Docker, rendered or not (a Flyway job may come later)
    for reference in dict.fromkeys([*images_mod.images_in_manifest(manifest), *sorted(loaded_by_lab)]):
        if cluster.tools and reference.startswith(images_mod.APP_REPOSITORY + ":"):
            continue  # the lab builds it (see "app images") and loads it into its node
        counted += 1
        if reference in loaded_by_lab:
            if not builder.image_id(reference):
                problems.append(f"{reference} not in Docker (the lab loads it into the node from there)")
        elif containerd_name(reference) not in in_node:
            pull = probe.check(reference) if probe else images_mod.PullCheck(reference, False, "no Docker engine")
            if not pull.pullable:
                problems.append(f"{reference} cannot be pulled: {pull.reason}")
    if not problems:
        return Check("chart images", True, f"{counted} images for image set {config.image_set}: present or pullable")
    if config.image_set.kind == "local":
        fix = f"build the local image set: `{images_mod.BUILD_IMAGE_SET}`"
    elif config.image_set.kind == "mirror":
        fix = f"check the mirror prefix {config.image_set.mirror_prefix} and that it holds these images, or " + \
              _registry_free_set_fix()
    else:
        fix = _registry_free_set_fix()
    # On a --context cluster its nodes pull, not this machine's engine: a warning, not a verdict.
    return Check("chart images", False, "; ".join(problems), fix, blocking=bool(cluster.tools))


def check_release(config: LabConfig, runner: Runner, cluster: ClusterProvider, settings: ResolvedSettings
                  ) -> tuple[list[Check], str | None]:
    """The values `lab up` would deploy: the chart renders them (the rendered manifest is returned)."""
    checks = []
    missing = settings.missing_secrets()
    if missing:
        checks.append(Check("remembered", False, f"the last `lab up` was given a secret with --set ({', '.join(missing)}), "
                                                 "which the lab does not remember",
                            "give it again: " + " ".join(f"--set {key}=..." for key in missing)))
    if not (config.chart_path / "Chart.yaml").is_file():
        checks.append(Check("chart", False, f"no chart at {config.chart_path}", "set chart_path in lab.toml"))
        return checks, None
    if runner.which("helm") is None:
        return checks, None  # its own check says so
    try:
        manifest = Stack(config, runner, cluster=cluster).desired_manifest()
    except LabError as exc:
        checks.append(Check("chart values", False, exc.message, exc.hint))
        return checks, None
    checks.append(Check("chart values", True, "the chart renders the values `lab up` would deploy"))
    return checks, manifest


def check_images(settings: ResolvedSettings, runner: Runner, cluster: ClusterProvider, docker_client: Any) -> list[Check]:
    """What breaks on a machine without a registry: images that are neither here nor pullable."""
    config = settings.config
    ca_check = check_ca_cert(config, settings.resolved.origins["ca_cert"])
    checks = [ca_check]
    manifest = None
    if ca_check.ok:  # the app image's tag, hence the values, include the CA: a bad one is said once, here
        release_checks, manifest = check_release(config, runner, cluster, settings)
        checks.extend(release_checks)
    if docker_client is None:
        return checks
    builder = images_mod.ImageBuilder(docker_client)
    try:
        probe: images_mod.PullProbe | None = images_mod.PullProbe(images_mod.docker_client(timeout=images_mod.PROBE_SECONDS))
    except LabError:
        probe = None
    try:
        state = cluster.describe()
    except LabError:  # no kind: its own check says so
        state = None
    if cluster.tools:  # the lab's kind cluster: its node image, and the host's cgroups for it
        node_check, node_image = check_node_image(config, runner, state, builder, probe)
        checks.append(node_check)
        if node_image is not None:
            checks.append(check_cgroup(docker_client, builder, node_image))
    if ca_check.ok:
        checks.append(check_app_images(config, builder, probe))
        if builds_due(config, builder):
            checks.append(check_package_index(config))
    if manifest is not None:
        checks.append(check_chart_images(config, manifest, cluster, state, builder, probe))
    return checks


TOOL_CHECKS: dict[str, tuple[list[str], tuple[int, ...] | None]] = {
    "kind": (["kind", "version"], MIN_KIND),
}


def run_checks(settings: ResolvedSettings, runner: Runner) -> list[Check]:
    """Everything `lab up` with these settings needs, in the order it needs it."""
    config = settings.config
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
    checks.extend(check_images(settings, runner, cluster, client))
    if not (config.app_stub_path / "Dockerfile").is_file():
        checks.append(Check("app stub", False, f"no Dockerfile in {config.app_stub_path}",
                            "set app_stub_path in lab.toml (or RHDEMO_LAB_APP_STUB_PATH) to the stub's directory"))
    return checks


def can_go_up(checks: list[Check]) -> bool:
    return all(check.ok or not check.blocking for check in checks)
