"""Resolve a SecretRef to its value, at plan time.

Validation never reads secrets: a missing variable or file is an error of the one instance that
needs it, raised here as `SecretError`, which names the variable or file but never the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from reconciler.desired import SecretRef
from reconciler.errors import SecretError


def resolve_secret(ref: SecretRef, env: Mapping[str, str] | None = None) -> str:
    """The secret's value: the variable's content, the file's content (stripped), or the value.

    `env` is the environment to read variables from (default: `os.environ`). Raises
    `SecretError` when the variable is unset or empty, or the file is missing, unreadable or empty.
    """
    if ref.env is not None:
        return _from_env(ref.env, os.environ if env is None else env)
    if ref.file is not None:
        return _from_file(ref)
    if ref.value is not None:
        return ref.value
    raise SecretError("the secret reference is empty", hint="give one of env, file or value")


def _from_env(name: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    if value is None:
        raise SecretError(
            f"environment variable {name} is not set", hint=f"export {name} before running orc"
        )
    if not value:
        raise SecretError(f"environment variable {name} is empty")
    return value


def _from_file(ref: SecretRef) -> str:
    try:
        text = ref.file.read_text(encoding="utf-8") if ref.file is not None else ""
    except FileNotFoundError as exc:
        raise SecretError(f"secret file {ref.file} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SecretError(f"cannot read secret file {ref.file}: {reason}") from exc
    value = text.strip()
    if not value:
        raise SecretError(f"secret file {ref.file} is empty")
    return value
