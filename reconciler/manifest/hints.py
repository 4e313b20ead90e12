"""Hints for unknown fields: the new name of an old ProviderConfig field, or "did you mean".

Typos and the field names of the older ProviderConfig format are the most common unknown fields;
naming the right field saves a trip to the documentation.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.manifest.diagnostics import FieldPath

_TOKEN_HINT = "a SecretRef such as {env: OLLAMA_TOKEN}"

# ProviderConfig field -> what to write instead.
LEGACY_FIELDS = {
    "instance_name": "the old instance_name is now metadata.name",
    "base_url": "the old base_url is now spec.url",
    "is_enabled": "the old is_enabled is now spec.enabled",
    "verify_ssl": "the old verify_ssl is now spec.tls.verify",
    "auth_token": f"the old auth_token is now spec.auth.bearerToken, {_TOKEN_HINT}",
    "api_key": f"the old api_key is now spec.auth.bearerToken, {_TOKEN_HINT}",
    "custom_endpoints": (
        "the old custom_endpoints are now spec.endpoints, where list_models is listModels"
    ),
    "list_models": "the old list_models endpoint is now listModels",
}


def unknown_field_hint(parent: FieldPath, key: str, allowed: Iterable[str]) -> str:
    """What the user probably meant by the unknown field `key` under `parent` ('' if no idea)."""
    if key in LEGACY_FIELDS:
        return LEGACY_FIELDS[key]
    if parent == ("metadata",) and key == "headers":
        return "the old metadata.headers are now spec.headers"
    suggestion = suggest(key, allowed)
    return f"did you mean {suggestion!r}?" if suggestion else ""


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word`, ignoring case, '_' and '-', or None when none is close."""
    options = list(choices)
    folded = {_fold(option): option for option in options}
    if _fold(word) in folded:
        return folded[_fold(word)]
    import difflib  # here: only a name that is not found needs it

    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    by_fold = difflib.get_close_matches(_fold(word), list(folded), n=1, cutoff=0.7)
    return folded[by_fold[0]] if by_fold else None


def _fold(word: str) -> str:
    return word.lower().replace("_", "").replace("-", "")
