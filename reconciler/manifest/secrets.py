"""Resolve a SecretRef to its value, at plan time, under the runner's `SecretPolicy`.

Validation never reads secrets: a missing variable or file is an error of the one instance that
needs it, raised here as `SecretError`, which names the variable or file but never the value.
What the policy refuses (a variable not allowed, a file outside the manifests' folders, a secret
shorter than 8 characters) is a `SecretRefused`, naming the field as well.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from reconciler.desired import SecretRef
from reconciler.errors import SecretError
from reconciler.manifest.secretpolicy import SecretPolicy, check_length, read_secret_file

_ANY = SecretPolicy()


def resolve_secret(
    ref: SecretRef,
    env: Mapping[str, str] | None = None,
    policy: SecretPolicy = _ANY,
    field: str = "",
) -> str:
    """The secret's value: the variable's content, the file's content (stripped), or the value.

    `env` is the environment to read variables from (default: `os.environ`); `policy` the
    runner's rules (default: any variable, files anywhere); `field` names the reference in
    errors (`spec.auth.bearerToken`). Raises `SecretError` when the variable is unset or empty,
    or the file is missing, unreadable or empty; `SecretRefused` when the policy refuses it or
    the value is shorter than 8 characters.
    """
    if ref.env is not None:
        policy.check_env(ref.env, field)
        value = _from_env(ref.env, os.environ if env is None else env)
    elif ref.file is not None:
        value = read_secret_file(ref.file, policy, field)
    elif ref.value is not None:
        value = ref.value
    else:
        raise SecretError("the secret reference is empty", hint="give one of env, file or value")
    check_length(value, ref.describe(), field)
    return value


def _from_env(name: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    if value is None:
        raise SecretError(
            f"environment variable {name} is not set", hint=f"export {name} before running orc"
        )
    if not value:
        raise SecretError(f"environment variable {name} is empty")
    return value
