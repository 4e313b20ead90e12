"""One error base for the whole project, carrying the exit code the CLI ends with.

Every failure the user can cause or meet is a `ReconcilerError` (or a subclass) with a message
saying what happened, where, and what to do. The CLI's single handler prints `str(error)` on one
line and exits with `error.exit_code`. A run that ends without an error gets its exit code from
`reconciler.reconcile.exit_code`; nothing else decides exit codes (see docs/architecture.md,
Errors and exit codes).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every `orc` command (docs/architecture.md, Errors and exit codes)."""

    OK = 0
    ERROR = 1
    CHANGES = 2
    PARTIAL = 3
    INTERRUPTED = 130


class ReconcilerError(Exception):
    """Base of every error this project raises on purpose.

    `where` names the place (a `file:line:col`, an `instance/model`), `hint` what to do about it.
    """

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class UsageError(ReconcilerError):
    """The command line itself is wrong: a bad flag value, a missing path."""


class ManifestError(ReconcilerError):
    """Manifests could not be loaded or are invalid; details are in the diagnostics."""


class SecretError(ReconcilerError):
    """A SecretRef could not be resolved (missing variable or file). Never carries the value."""


class SecretRefused(SecretError):
    """A secret the runner's rules refuse: a variable not allowed, a file outside the manifests'
    folders or not a small regular file, a value too short. Never carries the value."""


class StateError(ReconcilerError):
    """The local state directory (.orc/) cannot be used."""


class RefusedError(ReconcilerError):
    """The operation was refused on purpose: a guard, a stale plan, a held lock."""


class InterruptedRun(ReconcilerError):
    """The run was interrupted (Ctrl-C, SIGTERM) after stopping in-flight work cleanly."""

    exit_code = ExitCode.INTERRUPTED
