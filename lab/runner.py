"""THE one way to run external commands (kind, helm, kubectl, docker CLI).

Every command line is logged with secrets masked and timed; a failure raises
`CommandError` carrying the masked command, the exit code and the stderr tail.
Secrets should not be in argv at all (pass them through files, stdin or env);
the masking is the safety net.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import LabError

MASK = "*****"
# Keys whose values are secrets: `--set a.b.password=x`, `--from-literal=password=x`, `PGPASSWORD=x`.
SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|credential|private[_-]?key|api[_-]?key)$", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """THE rule for "is this key a secret": its last dotted part (index stripped) names one.
    Used for --set pairs, env-style NAME=value arguments, values trees and scenario values."""
    return bool(SECRET_KEY.search(str(key).strip().split(".")[-1].split("[")[0]))


_SET_FLAGS = ("--set", "--set-string", "--set-literal", "--set-json", "--from-literal")
_SECRET_VALUE_FLAGS = ("--password", "--token", "-p")

log = logging.getLogger("lab.runner")


class CommandError(LabError):
    def __init__(self, command: str, returncode: int, stderr_tail: str, hint: str | None = None) -> None:
        detail = f"`{command}` failed (exit {returncode})"
        if stderr_tail.strip():
            detail += f": {stderr_tail.strip()}"
        super().__init__(detail, hint)
        self.command = command
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ToolNotFound(LabError):
    pass


@dataclass(frozen=True)
class CommandResult:
    command: str  # masked
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _mask_assignment(text: str) -> str:
    """`a.b.password=x,y,c=z` -> `a.b.password=*****,c=z`: helm's --set takes comma lists, so a comma
    inside a secret continues the secret until the next `key=`."""
    parts: list[str] = []
    in_secret = False
    for part in text.split(","):
        key, sep, _ = part.partition("=")
        if sep:
            in_secret = is_secret_key(key)
            parts.append(f"{key}={MASK}" if in_secret else part)
        elif not in_secret:
            parts.append(part)
    return ",".join(parts)


_JSON_SECRET_KEY = re.compile(r'"([^"\\]*)"\s*:')


def _mask_json_assignment(text: str) -> str:
    """`--set-json key=<json>`: the whole value masked when the key, or any key inside the JSON, names a secret."""
    key, sep, value = text.partition("=")
    secret = is_secret_key(key) or any(is_secret_key(name) for name in _JSON_SECRET_KEY.findall(value))
    return f"{key}={MASK}" if sep and secret else text


def _mask_flag_value(flag: str, value: str) -> str:
    return _mask_json_assignment(value) if flag == "--set-json" else _mask_assignment(value)


def mask_argv(argv: Sequence[str], secrets: Iterable[str] = ()) -> list[str]:
    masked: list[str] = []
    previous = ""
    for arg in argv:
        out = arg
        if previous in _SET_FLAGS:
            out = _mask_flag_value(previous, arg)
        elif previous in _SECRET_VALUE_FLAGS:
            out = MASK
        else:
            flag, sep, rest = arg.partition("=")
            if sep and flag in _SET_FLAGS:
                out = f"{flag}={_mask_flag_value(flag, rest)}"
            elif sep and flag in _SECRET_VALUE_FLAGS:
                out = f"{flag}={MASK}"
            elif sep and not arg.startswith("-") and is_secret_key(flag):
                out = f"{flag}={MASK}"  # env-style NAME=value
        masked.append(mask_text(out, secrets))
        previous = arg
    return masked


def mask_text(text: str, secrets: Iterable[str]) -> str:
    # tuple() first: a scenario running beside this one may register a secret meanwhile (--jobs)
    for secret in sorted((s for s in tuple(secrets) if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _die_with_parent() -> None:
    """Children get SIGTERM if the lab is killed (even SIGKILL): no orphan helm keeps a release pending."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Runner:
    """Runs commands; holds the secrets to mask and a record of what ran (for summaries and tests)."""

    tool_dirs: Sequence[Path] = ()
    default_timeout: float = 300
    env: Mapping[str, str] | None = None
    secrets: set[str] = field(default_factory=set)
    history: list[CommandResult] = field(default_factory=list)

    def register_secret(self, value: str) -> None:
        if value:
            self.secrets.add(value)

    def which(self, tool: str) -> str | None:
        found = shutil.which(tool, path=os.environ.get("PATH"))
        if found:
            return found
        for directory in self.tool_dirs:
            candidate = Path(directory) / tool
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        return None

    def resolve(self, argv: Sequence[str]) -> list[str]:
        if not argv:
            raise ValueError("empty command")
        tool = argv[0]
        path = tool if "/" in tool else self.which(tool)
        if path is None:
            raise ToolNotFound(f"`{tool}` is not installed (not on PATH nor in {', '.join(map(str, self.tool_dirs))})",
                               install_hint(tool))
        return [path, *argv[1:]]

    def masked(self, argv: Sequence[str]) -> str:
        return shlex.join(mask_argv(argv, self.secrets))

    def _child_env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = dict(os.environ if self.env is None else self.env)
        if extra:
            env.update(extra)
        return env

    def run(self, argv: Sequence[str], *, input: str | None = None, env: Mapping[str, str] | None = None,
            timeout: float | None = None, check: bool = True, cwd: Path | None = None,
            hint: str | None = None) -> CommandResult:
        """Run to completion, capture output. `env`/`input` are the places for secrets."""
        command = self.masked(argv)
        full = self.resolve(argv)
        log.info("$ %s", command)
        started = time.monotonic()
        try:
            completed = subprocess.run(full, input=input, capture_output=True, text=True, cwd=cwd,
                                       env=self._child_env(env), timeout=timeout or self.default_timeout,
                                       preexec_fn=_die_with_parent, check=False, pass_fds=inherited_fds(argv))
        except subprocess.TimeoutExpired as exc:
            seconds = time.monotonic() - started
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise CommandError(command, -1, mask_text(tail(stderr), self.secrets) + f" (timed out after {seconds:.0f}s)",
                               hint) from None
        seconds = time.monotonic() - started
        result = CommandResult(command, completed.returncode, completed.stdout,
                               mask_text(completed.stderr, self.secrets), seconds)
        self.history.append(result)
        log.info("  -> exit %d in %.1fs", completed.returncode, seconds)
        if check and completed.returncode != 0:
            raise CommandError(command, completed.returncode,
                               tail(result.stderr or mask_text(completed.stdout, self.secrets)), hint)
        return result

    def run_logged(self, argv: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None,
                   timeout: float | None = None, on_line: Callable[[str], None] = lambda line: None,
                   hint: str | None = None) -> CommandResult:
        """A long command (a build): its output, stdout and stderr as they interleave, goes to `log_path` as it
        comes and each line to `on_line` (progress), masked. A failure carries the last lines and the log's path."""
        command = self.masked(argv)
        full = self.resolve(argv)
        log.info("$ %s > %s", command, log_path)
        started = time.monotonic()
        last: deque[str] = deque(maxlen=15)
        process = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   text=True, errors="replace", env=self._child_env(env), preexec_fn=_die_with_parent)
        watchdog = threading.Timer(timeout or self.default_timeout, process.kill)
        watchdog.start()
        try:
            with log_path.open("w", encoding="utf-8") as log_file:
                assert process.stdout is not None
                for raw in process.stdout:
                    line = mask_text(raw.rstrip("\n"), self.secrets)
                    log_file.write(line + "\n")
                    log_file.flush()
                    last.append(line)
                    on_line(line)
            returncode = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            timed_out = not watchdog.is_alive() and process.returncode == -signal.SIGKILL
            watchdog.cancel()
        seconds = time.monotonic() - started
        result = CommandResult(command, returncode, "", "\n".join(last), seconds)
        self.history.append(result)
        log.info("  -> exit %d in %.1fs", returncode, seconds)
        if returncode != 0:
            why = f" (timed out after {seconds:.0f}s)" if timed_out else ""
            raise CommandError(command, returncode, tail(result.stderr, 8) + why, hint)
        return result

    def run_interactive(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
        """Inherit the terminal (psql, logs -f); returns the exit code."""
        command = self.masked(argv)
        full = self.resolve(argv)
        log.info("$ %s", command)
        started = time.monotonic()
        process = subprocess.Popen(full, env=self._child_env(env), preexec_fn=_die_with_parent)
        try:
            returncode = process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            process.wait()
            raise
        self.history.append(CommandResult(command, returncode, "", "", time.monotonic() - started))
        return returncode

    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """A long-running background command (port-forward); the caller stops it."""
        log.info("$ %s &", self.masked(argv))
        return subprocess.Popen(self.resolve(argv), env=self._child_env(env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)


def inherited_fds(argv: Sequence[str]) -> tuple[int, ...]:
    """`/dev/fd/N` arguments name in-memory files (values with secrets) the child must inherit to read."""
    return tuple(int(match.group(1)) for arg in argv if (match := _DEV_FD.fullmatch(arg)))


_DEV_FD = re.compile(r"/dev/fd/(\d+)")


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def install_hint(tool: str) -> str:
    hints = {
        "kind": "install kind v0.33.0: `go install sigs.k8s.io/kind@v0.33.0` (then put $(go env GOPATH)/bin on PATH), "
                "or `bash .ci/run` which builds it into /var/cache/rhdemo-lab/bin",
        "helm": "install helm 3 or 4: `bash .ci/lib/install-helm.sh` (into /var/cache/rhdemo-lab/bin) "
                "or https://helm.sh/docs/intro/install/",
        "kubectl": "install kubectl: `apt-get install -y kubectl` (Debian sid) or https://kubernetes.io/docs/tasks/tools/",
        "docker": "install the Docker CLI: `apt-get install -y --no-install-recommends docker.io/trixie`",
    }
    return hints.get(tool, f"install {tool} and put it on PATH")
