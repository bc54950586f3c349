"""Times `lab up`: cold (node image present, no cluster), warm no-op, and helm upgrade -> app ready.

Usage (like CI): RHDEMO_LAB_NODE_IMAGE=localhost/rhdemo-lab/kind-node:v1.34.4 RHDEMO_LAB_IMAGE_SET=local \\
    python benchmarks/lab_up_benchmark.py [--cluster rhdemo-lab-bench] [--keep]
Runs on its own cluster and free host ports; deletes it at the end unless --keep. Prints, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from lab.config import load_config
from lab.runner import Runner
from lab.stack import Stack, UpResult


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def helm_to_ready(result: UpResult) -> float:
    return float(result.step("components").figures.get("helm_to_ready_seconds", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default="rhdemo-lab-bench")
    parser.add_argument("--keep", action="store_true", help="keep the cluster afterwards")
    args = parser.parse_args()
    env = {**os.environ, "RHDEMO_LAB_CLUSTER_NAME": args.cluster, "RHDEMO_LAB_APP_HOST_PORT": str(free_port()),
           "RHDEMO_LAB_ACTUATOR_HOST_PORT": str(free_port())}
    config = load_config({}, env=env)
    print(f"cluster {config.cluster_name}, node image {config.node_image or 'kind default'}, "
          f"image set {config.image_set}")

    def fresh_stack(values_files: tuple[Path, ...] = ()) -> Stack:
        cfg = replace(config, values_files=config.values_files + values_files)
        return Stack(cfg, Runner(tool_dirs=cfg.tool_dirs, default_timeout=cfg.timeouts.command))

    fresh_stack().down()
    try:
        started = time.monotonic()
        cold = fresh_stack().up()
        images = cold.step("images").figures
        print(f"lab up cold (node image present):  {time.monotonic() - started:7.1f}s "
              f"(cluster {cold.step('cluster').state.value}, {images['built']} built, {images['loaded']} loaded, "
              f"helm -> ready {helm_to_ready(cold):.1f}s)")

        started = time.monotonic()
        warm = fresh_stack().up()
        print(f"lab up warm no-op:                 {time.monotonic() - started:7.1f}s "
              f"(release {warm.step('release').state.value}, {warm.step('images').figures['loaded']} loaded)")

        # A changed pod template forces an upgrade that rolls the app: helm upgrade -> every component ready.
        with tempfile.TemporaryDirectory() as directory:
            roll = Path(directory) / "roll.yaml"
            roll.write_text(f"rhdemo:\n  extraEnv:\n    - name: BENCHMARK_ROLL\n      value: '{time.time():.0f}'\n")
            upgrade = fresh_stack((roll,)).up()
        print(f"helm upgrade -> app ready:         {helm_to_ready(upgrade):7.1f}s "
              f"(revision {upgrade.revision})")
    finally:
        if not args.keep:
            fresh_stack().down()


if __name__ == "__main__":
    main()
