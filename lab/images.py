"""Image builds (Docker SDK) with content-derived tags, and image sets -> chart values."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.config import LOCAL_IMAGE_PREFIX, ImageSet, LabConfig
from lab.errors import LabError

APP_REPOSITORY = f"{LOCAL_IMAGE_PREFIX}/rhdemo-app"
LOCAL_PYTHON_BASE = f"{LOCAL_IMAGE_PREFIX}/python:3.13-trixie"
# The registry-free kind node image (.ci/versions.env: KUBERNETES_VERSION) and how to build what has no registry.
REGISTRY_FREE_NODE_IMAGE = f"{LOCAL_IMAGE_PREFIX}/kind-node:v1.34.4"
BUILD_NODE_IMAGE = "lab build node-image"
BUILD_IMAGE_SET = "lab build images"
# The label the lab's node image carries; kind's own images say their version in their tag only.
KUBERNETES_VERSION_LABEL = "rhdemo-lab.kubernetes-version"
# Never part of the build context's identity (caches, VCS, editor droppings).
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".venv", "build", "dist",
                  ".tox", "node_modules"}
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".swp", "~")


@dataclass(frozen=True)
class AppImage:
    release: str
    tag: str  # full reference, e.g. localhost/rhdemo-lab/rhdemo-app:1.0-0123456789ab
    build_args: Mapping[str, str]

    @property
    def short_tag(self) -> str:
        return self.tag.rsplit(":", 1)[1]


def _ignored(relative: Path, dockerignore: list[str]) -> bool:
    if any(part in _IGNORED_PARTS or part.endswith(_IGNORED_SUFFIXES) for part in relative.parts):
        return True
    text = relative.as_posix()
    return any(text == pattern or text.startswith(pattern.rstrip("/") + "/") for pattern in dockerignore)


def _dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    return [line.strip().lstrip("/") for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#") and not line.startswith("!") and "*" not in line]


def context_files(context: Path) -> Iterator[Path]:
    ignore = _dockerignore(context)
    for root, dirs, files in os.walk(context):
        dirs.sort()
        root_path = Path(root)
        for name in sorted(files):
            relative = (root_path / name).relative_to(context)
            if not _ignored(relative, ignore):
                yield relative


def content_hash(context: Path, build_args: Mapping[str, str]) -> str:
    """sha256 over every context file (path, exec bit, bytes) and the sorted build args."""
    digest = hashlib.sha256()
    for relative in context_files(context):
        path = context / relative
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(b"x" if os.access(path, os.X_OK) else b"-")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for key in sorted(build_args):
        digest.update(f"\0arg:{key}={build_args[key]}".encode())
    return digest.hexdigest()


def dockerfile_base_default(context: Path) -> str | None:
    dockerfile = context / "Dockerfile"
    if not dockerfile.is_file():
        return None
    match = re.search(r"^\s*ARG\s+BASE_IMAGE\s*=\s*(\S+)", dockerfile.read_text(), re.MULTILINE)
    return match.group(1).strip("\"'") if match else None


def mirror_reference(reference: str, prefix: str) -> str:
    """`python:3.13-slim` -> `<prefix>/library/python:3.13-slim`; `quay.io/x/y:t` -> `<prefix>/x/y:t`."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return f"{prefix}/{rest}"
    return f"{prefix}/{reference}" if rest else f"{prefix}/library/{reference}"


def app_build_args(config: LabConfig, release: str) -> dict[str, str]:
    args = {"APP_VERSION": release}
    if config.image_set.kind == "local":
        args["BASE_IMAGE"] = LOCAL_PYTHON_BASE
    elif config.image_set.kind == "mirror" and config.image_set.mirror_prefix:
        default = dockerfile_base_default(config.app_stub_path)
        if default:
            args["BASE_IMAGE"] = mirror_reference(default, config.image_set.mirror_prefix)
    if config.ca_cert is not None:
        # A CA certificate is public: passing its PEM as a build arg is fine (and changes the tag, as it should).
        extra = extra_ca_pem(config.ca_cert)
        if extra:
            args["EXTRA_CA_CERT"] = extra
    return args


_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
# A build arg becomes an environment variable of the RUN step: Linux caps one at 128 KiB.
MAX_BUILD_ARG_BYTES = 120_000


def _pem_blocks(text: str) -> list[str]:
    return _PEM_BLOCK.findall(text)


def _pem_key(block: str) -> str:
    return "".join(block.split())


def extra_ca_pem(path: Path) -> str:
    """The certificates of `path` that are not in Mozilla's public set (certifi): a whole system bundle
    (/etc/ssl/certs/ca-certificates.crt) reduces to the locally added CAs, e.g. the TLS-inspecting proxy's."""
    try:
        blocks = _pem_blocks(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise LabError(f"cannot read the CA certificate {path}: {exc.strerror}",
                       "pass a readable PEM file to --ca-cert, e.g. /etc/ssl/certs/ca-certificates.crt") from None
    if not blocks:
        raise LabError(f"{path} contains no PEM certificate", "pass a PEM file (-----BEGIN CERTIFICATE-----)")
    import certifi

    public = {_pem_key(block) for block in _pem_blocks(Path(certifi.where()).read_text(encoding="utf-8"))}
    extra = "\n".join(block for block in blocks if _pem_key(block) not in public)
    if len(extra.encode()) > MAX_BUILD_ARG_BYTES:
        raise LabError(f"{path} adds {len(extra) // 1024} KiB of CA certificates beyond the public set: too big for a build arg",
                       "pass only your proxy's CA certificate to --ca-cert")
    return extra + "\n" if extra else ""


def app_images(config: LabConfig) -> list[AppImage]:
    """The stub image of every release, tagged `<release>-<hash12>` from content + build args."""
    if not (config.app_stub_path / "Dockerfile").is_file():
        raise LabError(f"no Dockerfile in {config.app_stub_path}", "check app_stub_path (lab.toml / RHDEMO_LAB_APP_STUB_PATH)")
    images = []
    for release in config.app_releases:
        args = app_build_args(config, release)
        tag = f"{APP_REPOSITORY}:{release}-{content_hash(config.app_stub_path, args)[:12]}"
        images.append(AppImage(release, tag, args))
    return images


def image_reference(spec: Mapping[str, Any]) -> str | None:
    """Bitnami-style {registry, repository, tag} -> `registry/repository:tag`."""
    repository, tag = spec.get("repository"), spec.get("tag")
    if not repository or not tag:
        return None
    registry = spec.get("registry")
    return f"{registry}/{repository}:{tag}" if registry else f"{repository}:{tag}"


def images_in_values(values: Any) -> list[str]:
    """Every image reference in a values tree (any mapping with repository + tag)."""
    found: list[str] = []
    if isinstance(values, Mapping):
        if isinstance(values.get("repository"), str) and values.get("tag") is not None:
            reference = image_reference({**values, "tag": str(values["tag"])})
            if reference:
                found.append(reference)
        for value in values.values():
            found.extend(images_in_values(value))
    elif isinstance(values, list):
        for item in values:
            found.extend(images_in_values(item))
    return list(dict.fromkeys(found))


def local_image_set_file(config: LabConfig) -> Path:
    return config.chart_path / "values-image-set-local.yaml"


def image_set_values(config: LabConfig) -> tuple[list[Path], dict[str, Any]]:
    """Values files and values the image set adds to the chart."""
    kind = config.image_set.kind
    if kind == "local":
        path = local_image_set_file(config)
        if not path.is_file():
            raise LabError(f"the local image set needs {path}, which does not exist",
                           "use --image-set public, or update the chart")
        return [path], {}
    if kind == "mirror":
        return [], {"global": {"imageRegistry": config.image_set.mirror_prefix}}
    return [], {}


def app_image_values(image: AppImage) -> dict[str, Any]:
    registry, _, repository = image.tag.split(":")[0].partition("/")
    # pullPolicy stays the chart's / image set's (the local set says Never: nothing to pull from).
    return {"rhdemo": {"image": {"registry": registry, "repository": repository, "tag": image.short_tag}}}


def deployed_image_set(user_values: Mapping[str, Any]) -> str:
    """The image set a release was deployed with, read from its user-supplied values (`helm get values`):
    a `global.imageRegistry` is a mirror, a third-party image under the local prefix the local set."""
    registry = (user_values.get("global") or {}).get("imageRegistry")
    if registry:
        return str(ImageSet("mirror", str(registry)))
    # the app image is always the lab's own build, under the local prefix: not a sign of the set
    third_party = {**user_values, "rhdemo": {k: v for k, v in (user_values.get("rhdemo") or {}).items() if k != "image"}}
    if any(ref.startswith(LOCAL_IMAGE_PREFIX + "/") for ref in images_in_values(third_party)):
        return "local"
    return "public"


def deployed_app_image_reference(user_values: Mapping[str, Any]) -> str | None:
    return image_reference((user_values.get("rhdemo") or {}).get("image") or {})


def local_images_required(config: LabConfig) -> list[str]:
    """Images of the local set that must exist in Docker (they cannot be pulled: no registry)."""
    if config.image_set.kind != "local":
        return []
    path = local_image_set_file(config)
    if not path.is_file():
        return []
    return [ref for ref in images_in_values(yaml.safe_load(path.read_text()) or {})
            if ref.startswith(LOCAL_IMAGE_PREFIX + "/")]


def images_in_manifest(manifest: str) -> list[str]:
    """Every container image a rendered manifest runs (containers, initContainers, hooks' Jobs)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key in ("containers", "initContainers"):
                for container in node.get(key) or []:
                    if isinstance(container, Mapping) and isinstance(container.get("image"), str):
                        found.append(container["image"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for document in yaml.safe_load_all(manifest):
        walk(document)
    return list(dict.fromkeys(found))


def registry_host(reference: str) -> str:
    first, _, rest = reference.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def kubernetes_version(text: str) -> tuple[int, int, int] | None:
    """`v1.34.4` (a tag, a label, kind's `/kind/version`) -> (1, 34, 4)."""
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


_KIND_DEFAULT_IMAGE = re.compile(rb"kindest/node:v\d+\.\d+\.\d+(?:@sha256:[0-9a-f]{64})?")


def kind_default_node_image(kind_binary: Path) -> str | None:
    """The node image `kind create cluster` uses without --image. kind prints it nowhere; it is one
    constant in its binary (sigs.k8s.io/kind/pkg/apis/config/defaults.Image)."""
    try:
        found = {match.decode() for match in _KIND_DEFAULT_IMAGE.findall(kind_binary.read_bytes())}
    except OSError:
        return None
    pinned = {image for image in found if "@sha256:" in image}
    candidates = pinned or found
    return candidates.pop() if len(candidates) == 1 else None


PROBE_SECONDS = 8  # how long a registry gets to answer a pull probe
MAX_KUBERNETES_ON_CGROUP_V1 = (1, 34)  # the kubelet of 1.35+ refuses to start on a cgroup v1 host


def registry_free_node_fix() -> str:
    return (f"build the registry-free node image (`{BUILD_NODE_IMAGE}`) and use it: "
            f"`lab up --node-image {REGISTRY_FREE_NODE_IMAGE}`")


def node_image_fix(reference: str) -> str:
    """How to get a node image that is neither in Docker nor pullable."""
    if reference.startswith(LOCAL_IMAGE_PREFIX + "/"):
        return f"build it: `{BUILD_NODE_IMAGE}`"
    return registry_free_node_fix()


def cgroup_refusal(cgroup_version: str, kubernetes: tuple[int, int, int]) -> LabError | None:
    """Kubernetes 1.35+ in the node on a cgroup v1 host: the kubelet will not start (kind's raw error otherwise)."""
    if cgroup_version != "1" or kubernetes[:2] <= MAX_KUBERNETES_ON_CGROUP_V1:
        return None
    return LabError(f"cgroup v1 host, Kubernetes {'.'.join(map(str, kubernetes))} in the node: the kubelet of "
                    "Kubernetes 1.35+ refuses cgroup v1",
                    f"{registry_free_node_fix()} (Kubernetes 1.34), or boot the host on cgroup v2 "
                    "(`systemd.unified_cgroup_hierarchy=1` on the kernel command line)")


@dataclass(frozen=True)
class PullCheck:
    reference: str
    pullable: bool
    reason: str = ""  # why not
    answered: bool = True  # False: the registry did not answer at all (no registry reachable from here)


# The Docker engine's words for "could not reach the registry at all" (vs. "it answered: no such image").
_UNREACHABLE = re.compile(r"dial tcp|no such host|connection refused|i/o timeout|network is unreachable|"
                          r"TLS handshake timeout|Client\.Timeout|context deadline exceeded", re.IGNORECASE)


class PullProbe:
    """Could the Docker engine pull this image? Asked without pulling: the engine fetches the registry's
    manifest (`GET /distribution/<ref>/json`) through its own proxy, mirrors and certificates. Build the
    client with a short timeout: a registry that does not answer in time is not pullable, and the other
    images of a registry that did not answer are not asked again."""

    def __init__(self, docker_client: Any) -> None:
        self.docker = docker_client
        self._silent: dict[str, str] = {}  # registry host -> why it did not answer

    def check(self, reference: str) -> PullCheck:
        import docker.errors
        import requests.exceptions

        host = registry_host(reference)
        if host in self._silent:
            return PullCheck(reference, False, self._silent[host], answered=False)
        try:
            self.docker.api.inspect_distribution(reference)
            return PullCheck(reference, True)
        except docker.errors.APIError as exc:
            text = str(exc.explanation or exc)
            if _UNREACHABLE.search(text):
                self._silent[host] = f"registry {host} does not answer ({_short_text(text)})"
                return PullCheck(reference, False, self._silent[host], answered=False)
            return PullCheck(reference, False, f"registry {host} answered: {_short_text(text)}")
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError):
            self._silent[host] = f"registry {host} did not answer in time"
            return PullCheck(reference, False, self._silent[host], answered=False)


def _short_text(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:160]


class ImageBuilder:
    """Docker SDK access: what exists, build what is missing."""

    def __init__(self, docker_client: Any) -> None:
        self.docker = docker_client

    def image_id(self, reference: str) -> str | None:
        import docker.errors

        try:
            return str(self.docker.images.get(reference).id)
        except docker.errors.ImageNotFound:
            return None

    def labels(self, reference: str) -> dict[str, str]:
        import docker.errors

        try:
            return dict(self.docker.images.get(reference).labels or {})
        except docker.errors.ImageNotFound:
            return {}

    def node_kubernetes_version(self, node_image: str) -> tuple[int, int, int] | None:
        """The lab's node image says it in a label; kind's in its tag (`kindest/node:v1.35.0@sha256:...`)."""
        label = self.labels(node_image).get(KUBERNETES_VERSION_LABEL, "")
        return kubernetes_version(label) or kubernetes_version(node_image.split("@")[0])

    def build(self, image: AppImage, context: Path, timeout: int, log_dir: Path,
              on_line: Callable[[str], None] = lambda line: None) -> str:
        """Build unless the tag exists (the tag is the content: existing = up to date). Returns the image ID.
        The whole build output goes to a file in `log_dir`; a failure names the step, its cause and the file."""
        existing = self.image_id(image.tag)
        if existing:
            return existing
        import docker.errors

        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"build-{image.release}.log"
        step = "the build"
        with log_path.open("w", encoding="utf-8") as log:
            try:
                for chunk in self.docker.api.build(path=str(context), tag=image.tag, buildargs=dict(image.build_args),
                                                   rm=True, forcerm=True, pull=False, decode=True, timeout=timeout,
                                                   labels={"org.rhdemo-lab.release": image.release}):
                    for line in str(chunk.get("stream", "")).splitlines():
                        log.write(line + "\n")
                        if line.startswith("Step "):
                            step = line.split(" : ", 1)[-1][:120]
                        if line.strip():
                            on_line(line)
                    if "error" in chunk:
                        log.write(str(chunk["error"]))
                        raise BuildFailed(image.tag, step, str(chunk["error"]), log_path)
            except docker.errors.APIError as exc:
                log.write(str(exc))
                raise BuildFailed(image.tag, step, str(exc.explanation or exc), log_path) from None
        built = self.image_id(image.tag)
        if not built:
            raise LabError(f"building {image.tag} produced no image", f"full log: {log_path}")
        return built


class BuildFailed(LabError):
    """A build's failing step and its cause in a few lines; the whole output stays in the log file."""

    def __init__(self, tag: str, step: str, cause: str, log_path: Path) -> None:
        lines = [line.strip() for line in cause.strip().splitlines() if line.strip()]
        summary = "\n".join(lines[-3:]) if lines else "no cause given"
        super().__init__(f"building {tag} failed at `{step}`: {summary}", f"full build log: {log_path}")
        self.log_path = log_path


def docker_client(timeout: int = 120) -> Any:
    """The Docker SDK client from the environment (DOCKER_HOST etc.), or a LabError with the fix."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except (docker.errors.DockerException, OSError) as exc:
        raise LabError(f"the Docker engine is not reachable ({os.environ.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'}): "
                       f"{_short(exc)}", docker_fix()) from None


def docker_fix() -> str:
    if os.environ.get("DOCKER_HOST"):
        return (f"DOCKER_HOST={os.environ['DOCKER_HOST']} points at no running engine: "
                "`unset DOCKER_HOST` or start the engine it names")
    return ("start the Docker engine: `sudo systemctl start docker` "
            "(or without systemd: `nohup dockerd > /var/log/dockerd.log 2>&1 &`)")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
