"""`lab build`: the parts and what they need, in order; each builder's state from what it recorded as
built; its whole output in a log file; a failure with its last lines and that file."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.build import PARTS, build, plan
from lab.config import LabConfig
from lab.errors import ConfigError
from lab.runner import CommandError, Runner
from lab.stack.status import State


def test_a_part_brings_what_it_needs_in_build_order() -> None:
    assert [p.name for p in plan(["node-image"])] == ["kubernetes", "go-tools", "node-image"]
    assert [p.name for p in plan(["images", "kubernetes"])] == ["kubernetes", "images"]
    assert [p.name for p in plan([])] == [p.name for p in PARTS]
    with pytest.raises(ConfigError, match="unknown build part 'node'"):
        plan(["node"])


def _builders(directory: Path, **scripts: str) -> Path:
    """Stand-in builders (the real ones run in CI's build phases, through `lab build`)."""
    directory.mkdir()
    for part in PARTS:
        (directory / part.script).write_text(scripts.get(part.name.replace("-", "_"), "true\n"))
    return directory


def test_states_come_from_what_each_builder_recorded(tmp_path: Path) -> None:
    builders = _builders(tmp_path / "b", images='echo "building postgres"\necho localhost/x/postgres:17 >> "$RHDEMO_LAB_BUILT_FILE"\n')
    config = LabConfig(state_dir=tmp_path / "state")
    lines: list[str] = []
    statuses = list(build(config, Runner(), plan(["kubernetes", "images"]), on_line=lines.append, builders_dir=builders))
    assert [(s.step, s.state) for s in statuses] == [("kubernetes", State.RUNNING), ("kubernetes", State.UNCHANGED),
                                                     ("images", State.RUNNING), ("images", State.CHANGED)]
    assert statuses[-1].figures["built"] == 1 and statuses[-1].detail == "built localhost/x/postgres:17"
    assert lines == ["building postgres"]
    assert (tmp_path / "state" / "logs" / "build-images.log").read_text() == "building postgres\n"


def test_a_failing_builder_names_its_last_lines_and_its_log(tmp_path: Path) -> None:
    noise = "".join(f"echo step {n}\n" for n in range(30))
    builders = _builders(tmp_path / "b", go_tools=noise + "echo 'go: module lookup disabled' >&2\nexit 7\n")
    config = LabConfig(state_dir=tmp_path / "state")
    with pytest.raises(CommandError) as failure:
        list(build(config, Runner(), plan(["go-tools"]), builders_dir=builders))
    log_path = tmp_path / "state" / "logs" / "build-go-tools.log"
    assert failure.value.returncode == 7 and "go: module lookup disabled" in failure.value.message
    assert "step 0\n" not in failure.value.message, "a few lines, not the whole output"
    assert str(log_path) in (failure.value.hint or "")
    assert log_path.read_text().startswith("step 0\nstep 1\n"), "the whole output, stdout and stderr, is in the log"
