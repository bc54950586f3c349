"""The one error type a user can act on: a message plus the exact fix."""

from __future__ import annotations


class LabError(Exception):
    """An error the CLI renders as one red line plus a hint (never a traceback)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class ConfigError(LabError):
    """Bad input: a flag, an environment variable or a config file entry."""
