"""Where secrets may come from: the rules of whoever runs `orc`, never of the manifests.

Anyone who can edit a manifest can point an instance at their own host; without these rules
`orc plan` on their pull request would send it any variable or file the runner can read. So
secret files (and the TLS client certificate and key) must be regular files inside the
manifests' folders or a `--secrets-dir`, read without blocking and with a size cap, and
`ORC_SECRET_ENV` may limit the variables a manifest can name (see docs/security.md, Secret
files). Every check runs before a file is opened or a variable is read, so a refused reference
does not even tell whether the file or variable exists.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import SecretError, SecretRefused

SECRET_ENV_VAR = "ORC_SECRET_ENV"
"""The runner's allow-list of variable names: comma-separated fnmatch patterns."""

SECRETS_DIR_VAR = "ORC_SECRETS_DIR"
"""More folders secret files may come from, separated by `os.pathsep`."""

MAX_SECRET_BYTES = 64 * 1024
MAX_TLS_FILE_BYTES = 1024 * 1024  # a CA bundle may hold a few hundred certificates
MIN_SECRET_LENGTH = 8

_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the check must not block
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


@dataclass(frozen=True, slots=True)
class SecretPolicy:
    """The runner's rules for secrets: the folders files may be in, the variables allowed.

    `roots` None: files anywhere (a fleet built in code, with no manifests to be inside);
    `env_patterns` None: every variable (`ORC_SECRET_ENV` unset), empty: none. Files must be
    regular and small whatever the roots. Build it from the command line with `for_manifests`.
    """

    roots: tuple[Path, ...] | None = None
    env_patterns: tuple[str, ...] | None = None

    @classmethod
    def for_manifests(
        cls,
        paths: Iterable[Path],
        secrets_dirs: Iterable[Path] = (),
        env_patterns: Sequence[str] | None = None,
    ) -> SecretPolicy:
        """Files confined to the manifest paths (a file's own folder) and `secrets_dirs`."""
        folders = [p if p.is_dir() else p.parent for p in paths]
        roots = tuple(dict.fromkeys(_real(p) for p in (*folders, *secrets_dirs)))
        return cls(roots, None if env_patterns is None else tuple(env_patterns))

    def allows_env(self, name: str) -> bool:
        """Whether a manifest may name this variable."""
        patterns = self.env_patterns
        return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)

    def check_env(self, name: str, field: str) -> None:
        """Refuse a variable the allow-list does not name (SecretRefused, never its value)."""
        if self.allows_env(name):
            return
        allowed = ",".join(self.env_patterns or ()) or "nothing"
        raise SecretRefused(
            f"{_about(field)}environment variable {name} is not allowed by {SECRET_ENV_VAR}",
            hint=f"this runner allows {allowed}; only whoever runs orc can allow more",
        )

    def confine(self, path: Path, field: str, what: str) -> Path:
        """The real path of a file, refused (SecretRefused) when it is outside every root."""
        real = _real(path)
        if self.roots is None or any(real.is_relative_to(root) for root in self.roots):
            return real
        shown = f"{path} (resolves to {real})" if real != path else path
        raise SecretRefused(
            f"{_about(field)}{what} {shown} is outside the manifests' folders",
            hint="keep it next to the manifests, or allow its folder with --secrets-dir",
        )


def read_secret_file(path: Path, policy: SecretPolicy, field: str) -> str:
    """The stripped text of a secret file, once the policy allows it and it is safe to read."""
    real = policy.confine(path, field, "secret file")
    data = _read_regular(real, path, field)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SecretError(f"cannot read secret file {path}: {type(exc).__name__}") from exc
    value = text.strip()
    if not value:
        raise SecretError(f"secret file {path} is empty")
    return value


def check_tls_file(path: Path, policy: SecretPolicy, field: str, *, confined: bool) -> None:
    """Refuse a TLS file that is outside the roots (`confined`), not regular, or too large.

    A file that does not exist is left to the client, which names it when it loads it.
    """
    real = policy.confine(path, field, "file") if confined else _real(path)
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SecretError(f"{_about(field)}cannot read {path}: {exc.strerror or exc}") from exc
    _check_regular(info, f"{_about(field)}cannot use {path}", MAX_TLS_FILE_BYTES)


def check_length(value: str, source: str, field: str) -> None:
    """Refuse a secret shorter than MIN_SECRET_LENGTH characters (naming it, never showing it)."""
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretRefused(
            f"{_about(field)}the secret from {source} is shorter than {MIN_SECRET_LENGTH}"
            " characters",
            hint="use a longer one: a short secret is easily guessed",
        )


def _read_regular(real: Path, shown: Path, field: str) -> bytes:
    where, cap = f"cannot read secret file {shown}", MAX_SECRET_BYTES
    refused = f"{_about(field)}{where}"
    try:
        _check_regular(os.stat(real), refused, cap)  # before opening: a device is never opened
        fd = os.open(real, _READ_FLAGS)
    except FileNotFoundError as exc:
        raise SecretError(f"secret file {shown} does not exist") from exc
    except OSError as exc:
        raise SecretError(f"{where}: {exc.strerror or type(exc).__name__}") from exc
    try:
        _check_regular(os.fstat(fd), refused, cap)  # what was opened, if it changed meanwhile
        data = _read_at_most(fd, cap + 1)
    except OSError as exc:
        raise SecretError(f"{where}: {exc.strerror or type(exc).__name__}") from exc
    finally:
        os.close(fd)
    if len(data) > cap:  # it grew after the check
        raise SecretRefused(f"{refused}: it is larger than {cap // 1024} KiB")
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _check_regular(info: os.stat_result, where: str, cap: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise SecretRefused(f"{where}: it is {_kind(info.st_mode)}, not a regular file")
    if info.st_size > cap:
        raise SecretRefused(f"{where}: it is larger than {cap // 1024} KiB")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "an unusual file"


def _about(field: str) -> str:
    """`spec.auth.bearerToken: ` before a message, or nothing when the field is not known."""
    return f"{field}: " if field else ""


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))
