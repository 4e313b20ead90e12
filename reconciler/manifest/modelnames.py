"""Model names as the manifests use them: parsed once per distinct string.

A fleet repeats the same names across instances and ModelSets; parsing each distinct name once
keeps validation of large fleets fast. Names are immutable, so sharing the parsed value is safe.
"""

from __future__ import annotations

from functools import lru_cache

from reconciler.names import InvalidModelName, ModelName, parse


@lru_cache(maxsize=8192)
def parse_model_name(text: str) -> ModelName | str:
    """The parsed name, or the reason (from `reconciler.names`) why it is invalid."""
    try:
        return parse(text)
    except InvalidModelName as exc:
        return exc.reason
