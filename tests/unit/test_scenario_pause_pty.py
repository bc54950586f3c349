"""`--pause` driven through a real pseudo-terminal: the run waits at each step until Enter is pressed;
`q` + Enter stops it (cleanup still runs)."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

PROMPT = "Press Enter to run this step"
_ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Z0-9]|[=>])")

SCENARIO_MODULE = '''
from pathlib import Path
from lab.scenario import Action, ActionResult, Scenario, Step, Succeeds

def mark(name):
    def run(ctx):
        with open(ctx.state_file, "a") as marks:
            marks.write(name + "\\n")
        return ActionResult.success(name + " done")
    return Action(name, run, ["kubectl -n {namespace} get pods"])

SCENARIO = Scenario("two-steps", "Two steps", "a two-step demo", ["Test 1"], [
    Step("first step", "why the first", mark("one"), Succeeds(), touches_data=False),
    Step("second step", "why the second", mark("two"), Succeeds(), touches_data=False),
])
'''

DRIVER = '''
import sys
from pathlib import Path
from lab.scenario.command import run_scenarios
from lab.scenario.engine import RunOptions
from lab.scenario.fake import FakeContext

package, marks = sys.argv[1], sys.argv[2]

def make_context(scenario):
    ctx = FakeContext.for_scenario(scenario)
    ctx.state_file = marks
    return ctx

sys.exit(run_scenarios(["two-steps"], make_context, RunOptions(pause=True), package=package))
'''


class Terminal:
    """A child process on a pseudo-terminal, read with a deadline."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.output = ""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: its stdin/stdout/stderr are the pty
            import fcntl, struct, termios  # noqa: E401
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            os.chdir(cwd)
            os.execve(argv[0], argv, env)

    def read_until(self, text: str, count: int = 1, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while self.plain().count(text) < count:
            if not self._read(deadline - time.monotonic()):
                raise AssertionError(f"never saw {text!r} x{count}; output so far:\n{self.plain()}")
        return self.plain()

    def read_to_end(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while self._read(deadline - time.monotonic()):
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def _read(self, timeout: float) -> bool:
        if timeout <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)

    def quiet_for(self, seconds: float) -> bool:
        """Nothing printed for this long and the child still alive: it is waiting."""
        before = self.output
        self._read(seconds)
        return self.output == before and os.waitpid(self.pid, os.WNOHANG) == (0, 0)

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def plain(self) -> str:
        return _ANSI.sub("", self.output).replace("\r", "")

    def kill(self) -> None:
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@pytest.fixture
def terminal(tmp_path: Path):  # type: ignore[no-untyped-def]
    package = f"pty_scenarios_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "two_steps.py").write_text(textwrap.dedent(SCENARIO_MODULE))
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER))
    marks = tmp_path / "marks.txt"
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", PYTHONPATH=os.pathsep.join([str(tmp_path), str(repo)]))
    term = Terminal([sys.executable, str(tmp_path / "driver.py"), package, str(marks)], tmp_path, env)
    yield term, marks
    term.kill()


def _marks(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.mark.timeout(60)
def test_pause_waits_for_enter_before_each_step(terminal) -> None:  # type: ignore[no-untyped-def]
    term, marks = terminal
    term.read_until(PROMPT)
    assert "1. first step" in term.plain() and "why the first" in term.plain()
    assert term.quiet_for(1.0), "the run went on without Enter"
    assert _marks(marks) == []

    term.type("\r")
    term.read_until(PROMPT, count=2)
    assert _marks(marks) == ["one"]
    assert term.quiet_for(0.5)
    assert _marks(marks) == ["one"]

    term.type("\r")
    exit_code = term.read_to_end()
    assert exit_code == 0, term.plain()
    assert _marks(marks) == ["one", "two"]
    out = term.plain()
    assert "✓ 1. first step" in out and "✓ 2. second step" in out
    assert "every step as expected" in out


@pytest.mark.timeout(60)
def test_q_at_a_pause_stops_the_run_and_still_cleans_up(terminal) -> None:  # type: ignore[no-untyped-def]
    term, marks = terminal
    term.read_until(PROMPT)
    term.type("q\r")
    exit_code = term.read_to_end()
    assert exit_code == 130, term.plain()
    assert _marks(marks) == []
    out = term.plain()
    assert "stopped: by the user at a pause" in out
    assert "✓ C1. tear down the release and namespace" in out
