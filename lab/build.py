"""The registry-free builders: the kind node image and the chart's image set, made from package
registries only (the Go module proxy, Debian's archive, Maven Central) and cached in the machine cache
($RHDEMO_LAB_CACHE, Docker's image store). `lab build` and `.ci/run` both call `build`.

The recipes are the shell builders in `.ci/lib/` (each one skips what its cache already holds); this
module orders them, runs them through the runner, keeps each one's whole output in a log file and
reports a state per part — the same `StepStatus` data `lab up` reports."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import images as images_mod
from lab.config import DEFAULT, LOCAL_IMAGE_PREFIX, REPO_ROOT, ImageSet, LabConfig
from lab.errors import ConfigError
from lab.images import extra_ca_pem
from lab.remembered import ResolvedSettings
from lab.runner import Runner
from lab.stack.status import State, StepStatus

NO_REGISTRY = "no registry answers"  # where the registry-free defaults came from (shown, and remembered)

BUILDERS_DIR = REPO_ROOT / ".ci" / "lib"


@dataclass(frozen=True)
class Part:
    name: str
    script: str
    needs: tuple[str, ...]
    what: str


PARTS = (
    Part("kubernetes", "build-kubernetes.sh", (), "the Kubernetes binaries, from the Go module proxy"),
    Part("go-tools", "build-go-tools.sh", (), "kind, crictl, etcd, CoreDNS and local-path-provisioner, from the Go module proxy"),
    Part("node-image", "build-node-image.sh", ("kubernetes", "go-tools"), "the kind node image, from Debian's archive and the parts above"),
    Part("images", "build-images.sh", (), "the chart's local image set (PostgreSQL, Flyway, Keycloak, the stub's base)"),
)
_BY_NAME = {part.name: part for part in PARTS}


def plan(names: Iterable[str]) -> list[Part]:
    """The parts to build for `names` (all when empty), with what they need, in build order."""
    wanted = list(names) or [part.name for part in PARTS]
    unknown = [name for name in wanted if name not in _BY_NAME]
    if unknown:
        raise ConfigError(f"unknown build part {', '.join(map(repr, unknown))}",
                          f"known parts: {', '.join(part.name for part in PARTS)}")
    closure: set[str] = set()

    def add(name: str) -> None:
        if name not in closure:
            closure.add(name)
            for need in _BY_NAME[name].needs:
                add(need)

    for name in wanted:
        add(name)
    return [part for part in PARTS if part.name in closure]


def build(config: LabConfig, runner: Runner, parts: Iterable[Part], *,
          on_line: Callable[[str], None] = lambda line: None, builders_dir: Path = BUILDERS_DIR) -> Iterator[StepStatus]:
    """Run each part's builder; yields RUNNING then its final state (UNCHANGED when its cache held it).
    A failure raises the runner's CommandError: the part, the last lines of its output, its log file."""
    log_dir = config.state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rhdemo-lab-build-") as scratch:
        env = _builder_env(config, Path(scratch))
        for part in parts:
            yield StepStatus(part.name, State.RUNNING, part.what)
            log_path = log_dir / f"build-{part.name}.log"
            built_file = Path(scratch) / f"{part.name}.built"
            started = time.monotonic()
            runner.run_logged(["bash", str(builders_dir / part.script)], log_path=log_path,
                              env={**env, "RHDEMO_LAB_BUILT_FILE": str(built_file)}, timeout=config.timeouts.build,
                              on_line=on_line, hint=f"the whole output of this build: {log_path}")
            seconds = time.monotonic() - started
            # what the builder made (each one records it with `built`); nothing when its cache held everything
            made = built_file.read_text(encoding="utf-8").split("\n")[:-1] if built_file.exists() else []
            yield StepStatus(part.name, State.CHANGED if made else State.UNCHANGED,
                             f"built {', '.join(made)}" if made else "cached",
                             {"seconds": round(seconds, 1), "built": len(made)})


def _builder_env(config: LabConfig, scratch: Path) -> dict[str, str]:
    env = {}
    if config.node_image and config.node_image.startswith(LOCAL_IMAGE_PREFIX + "/"):
        env["NODE_IMAGE"] = config.node_image
    if config.ca_cert is not None:
        # The same CAs the stub's image build gets: those beyond the public set (a proxy's).
        extra = extra_ca_pem(config.ca_cert)
        if extra:
            ca_file = scratch / "extra-ca.pem"
            ca_file.write_text(extra, encoding="utf-8")
            env["RHDEMO_LAB_EXTRA_CA_FILE"] = str(ca_file)
    return env


@dataclass(frozen=True)
class RegistryFree:
    """The settings `lab up` uses when no container registry answers and none was chosen."""

    settings: ResolvedSettings   # image set local, the local node image
    reason: str                  # the registry that did not answer, and how
    to_build: tuple[Part, ...]   # what is not in Docker yet, with what it needs (built before `up`)


def registry_free_defaults(settings: ResolvedSettings, runner: Runner, docker_client: Callable[[], Any],
                           probe: images_mod.PullProbe | None = None) -> RegistryFree | None:
    """Defaults that work wherever they can: when neither the image set nor the node image was chosen
    (flag, environment, config file, remembered) and kind's default node image is neither in Docker nor
    pullable because its registry does not answer, the registry-free set instead. None otherwise."""
    config, origins = settings.config, settings.resolved.origins
    if not config.uses_kind or origins["image_set"] != DEFAULT or origins["node_image"] != DEFAULT:
        return None
    kind = runner.which("kind")
    default_node = images_mod.kind_default_node_image(Path(kind)) if kind else None
    if default_node is None:
        return None
    builder = images_mod.ImageBuilder(docker_client())
    if builder.image_id(default_node):
        return None
    probe = probe or images_mod.PullProbe(images_mod.docker_client(timeout=images_mod.PROBE_SECONDS))
    pull = probe.check(default_node)
    if pull.pullable or pull.answered:
        return None  # a registry answers: its own errors are the user's to see
    local = dataclasses.replace(config, image_set=ImageSet("local"), node_image=images_mod.REGISTRY_FREE_NODE_IMAGE)
    chosen = {**origins, "image_set": NO_REGISTRY, "node_image": NO_REGISTRY}
    resolved = dataclasses.replace(settings.resolved, config=local, origins=chosen)
    missing = []
    if builder.image_id(images_mod.REGISTRY_FREE_NODE_IMAGE) is None:
        missing.append("node-image")
    if any(builder.image_id(reference) is None for reference in images_mod.local_images_required(local)):
        missing.append("images")
    return RegistryFree(dataclasses.replace(settings, resolved=resolved), pull.reason,
                        tuple(plan(missing)) if missing else ())
