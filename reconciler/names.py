"""The Ollama model-name grammar: parse, validate, normalise, display and compare.

Follows `types/model/name.go` as summarised in docs/ollama-api.md, Model names:
`[scheme://]host/namespace/model:tag`, defaults `registry.ollama.ai`, `library`, `latest`, parts
compared case-insensitively. `llama3`, `llama3:latest` and
`registry.ollama.ai/library/llama3:latest`
are one model. Every comparison of model names in the project goes through `ModelName`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from reconciler.errors import ReconcilerError

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_MAX_HOST = 350
_MAX_PART = 80
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_FIRST = _ALNUM | {"_"}
_LATER = _FIRST | {"-"}
# Characters allowed after the first one, per part ('.' never in the namespace, ':' only in host).
_ALLOWED = {
    "host": _LATER | {".", ":"},
    "namespace": _LATER,
    "model": _LATER | {"."},
    "tag": _LATER | {"."},
}


class InvalidModelName(ReconcilerError):
    """A string is not a valid Ollama model name; `reason` says which rule it breaks.

    Raised by our own check, before any request; a server's refusal of a name is
    `reconciler.ollama.ModelNameRejected`.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"invalid model name {name!r}: {reason}",
            hint="names look like 'llama3.2:3b' or 'namespace/model:tag'",
        )
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ModelName:
    """A parsed, fully qualified model name, with the case the user wrote preserved.

    Equality and hashing ignore case, as the server does (`EqualFold`).
    """

    host: str
    namespace: str
    model: str
    tag: str
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Names are compared and hashed constantly (plans diff every model of every instance).
        object.__setattr__(self, "_key", self.full.lower())

    @property
    def key(self) -> str:
        """The case-folded fully qualified form: the identity used for comparison."""
        return self._key

    @property
    def full(self) -> str:
        """`host/namespace/model:tag`, always complete."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def display(self) -> str:
        """The shortest form, as `/api/tags` and `/api/ps` print it (the tag is always kept)."""
        if self.host.lower() != DEFAULT_HOST:
            return self.full
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    def __str__(self) -> str:
        return self.display

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelName):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __lt__(self, other: ModelName) -> bool:
        return self._key < other._key

    def matches_glob(self, pattern: str) -> bool:
        """Whether a `protect` entry names this model, case-insensitively.

        A plain name is a model name (`llama3` is `llama3:latest`, `library/x` is `x`); a glob
        is matched against every spelling of the name: `llama3*` matches `llama3:latest` and
        `llama3.2:3b`, `myteam/*` a namespace, `registry.ollama.ai/library/*` the library.
        """
        if not any(c in pattern for c in "*?["):
            try:
                return parse(pattern) == self
            except InvalidModelName:
                return False
        pat = pattern.lower()
        return any(fnmatchcase(form, pat) for form in self._spellings())

    def _spellings(self) -> set[str]:
        forms = {self.display.lower(), self.key}
        if self.host.lower() == DEFAULT_HOST:
            forms.add(f"{self.namespace}/{self.model}:{self.tag}".lower())
        forms |= {f.removesuffix(":latest") for f in forms if self.tag.lower() == DEFAULT_TAG}
        return forms


def invalid_reason(name: str) -> str | None:
    """Why `name` is not a valid model name, or None when it is valid."""
    try:
        parse(name)
    except InvalidModelName as exc:
        return exc.reason
    return None


def is_valid(name: str) -> bool:
    """Whether `name` is a valid Ollama model name."""
    return invalid_reason(name) is None


def parse(name: str) -> ModelName:
    """Parse `name`, filling the default host, namespace and tag.

    Raises `InvalidModelName` with the reason when a rule of the grammar is broken.
    """
    if not isinstance(name, str):
        raise InvalidModelName(str(name), "the name is not a string")
    return _parse(name)


@functools.lru_cache(maxsize=16384)
def _parse(name: str) -> ModelName:
    # A fleet repeats the same few dozen names on every instance: parse each once.
    if not name.strip():
        raise InvalidModelName(str(name), "the name is empty")
    rest = name.split("://", 1)[1] if "://" in name else name
    tag = DEFAULT_TAG
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        _check_part(name, "tag", tag)
    segments = rest.split("/")
    if len(segments) > 3:
        raise InvalidModelName(name, "too many '/' (at most host/namespace/model)")
    host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
    if len(segments) == 3:
        host, namespace, model = segments
        _check_part(name, "host", host)
    elif len(segments) == 2:
        namespace, model = segments
    else:
        (model,) = segments
    _check_part(name, "namespace", namespace)
    _check_part(name, "model", model)
    return ModelName(host=host, namespace=namespace, model=model, tag=tag)


def normalize(name: str) -> str:
    """The display form of `name` (`llama3` → `llama3:latest`). Raises on invalid names."""
    return parse(name).display


def same_model(a: str, b: str) -> bool:
    """Whether two names denote the same model on a server (invalid names are never the same)."""
    try:
        return parse(a) == parse(b)
    except InvalidModelName:
        return False


def _check_part(name: str, kind: str, part: str) -> None:
    limit = _MAX_HOST if kind == "host" else _MAX_PART
    if not part:
        raise InvalidModelName(name, f"the {kind} part is empty")
    if len(part) > limit:
        raise InvalidModelName(name, f"the {kind} part is longer than {limit} characters")
    if part[0] not in _FIRST:
        raise InvalidModelName(
            name, f"the {kind} part must start with a letter, digit or '_', not {part[0]!r}"
        )
    bad = sorted({c for c in part[1:] if c not in _ALLOWED[kind]})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise InvalidModelName(name, f"the {kind} part {part!r} contains {shown}")
