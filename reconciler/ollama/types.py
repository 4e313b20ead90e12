"""Typed replies of the Ollama API about what a server has (docs/ollama-api.md, Inventory), as
pydantic models: installed models (tags), one model's details (show), loaded models (ps).

Only the fields the project uses are declared; unknown fields are ignored so newer servers keep
working. Digests come out in one spelling (bare lowercase hex) whatever the server sent, times as
timezone-aware datetimes, and show's padded `parameters` text as a dict. The replies of streams
and generations are in `progress` and `generation`, loaded only by the calls that read them:
a plan reads none (see docs/architecture.md, Performance).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from reconciler.ollama.parameters import parse_parameters

_FOREVER_YEAR = 2200  # keep_alive -1 expires around the year 2318


def normalize_digest(digest: str) -> str:
    """`sha256:<hex>`, `sha256-<hex>` or bare hex → bare lowercase hex."""
    text = digest.strip().lower()
    return text[7:] if text.startswith(("sha256:", "sha256-")) else text


def _digest(value: object) -> object:
    return normalize_digest(value) if isinstance(value, str) else value


def _empty(value: object) -> object:
    return () if value is None else value


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


Digest = Annotated[str, BeforeValidator(_digest)]
Names = Annotated[tuple[str, ...], BeforeValidator(_empty)]
Text = Annotated[str | None, BeforeValidator(_blank_is_none)]
Time = Annotated[datetime | None, AfterValidator(_aware)]


class Reply(BaseModel):
    """The base of every reply model: frozen, unknown fields ignored, built on first use."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class ModelDetails(Reply):
    """`details` of tags, show and ps: family, size class, quantisation (blank → None)."""

    parent_model: Text = None
    format: Text = None
    family: Text = None
    families: Names = ()
    parameter_size: Text = None
    quantization_level: Text = None
    context_length: int | None = None  # in /api/tags since v0.30.0
    embedding_length: int | None = None


class ModelEntry(Reply):
    """One installed model, from `/api/tags`."""

    name: str
    model: str = ""
    modified_at: Time = None
    size: int = 0
    digest: Digest = ""
    # made when a reply lacks it: a default instance would build a validator at import
    details: ModelDetails = Field(default_factory=ModelDetails)
    capabilities: Names = ()
    remote_model: str | None = None
    remote_host: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_from_model(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("name") and data.get("model"):
            return {**data, "name": data["model"]}
        return data

    @property
    def context_length(self) -> int | None:
        """The maximum context length, when the server lists it (v0.30.0 and later)."""
        return self.details.context_length


class ShowResponse(Reply):
    """`/api/show`: details, capabilities, model_info and the Modelfile pieces of one model."""

    license: str = ""
    modelfile: str = ""
    parameters_text: str = ""
    parameters: dict[str, Any] = {}
    template: str = ""
    system: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    model_info: dict[str, Any] = {}
    projector_info: dict[str, Any] = {}
    capabilities: Names = ()
    modified_at: Time = None

    @model_validator(mode="before")
    @classmethod
    def _parse_parameters(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        text = data.get("parameters") or ""
        if not isinstance(text, str):
            return data  # let validation report the wrong type
        fixed = {k: v for k, v in data.items() if v is not None}
        return {**fixed, "parameters_text": text, "parameters": parse_parameters(text)}

    @property
    def architecture(self) -> str | None:
        """`general.architecture` (e.g. `llama`, `qwen2`), the prefix of the other keys."""
        arch = self.model_info.get("general.architecture")
        return arch if isinstance(arch, str) and arch else None

    @property
    def context_length(self) -> int | None:
        """The model's maximum context: `model_info["<arch>.context_length"]`."""
        return self._arch_int("context_length") or self.details.context_length

    @property
    def embedding_length(self) -> int | None:
        """The width of the model's embeddings: `model_info["<arch>.embedding_length"]`."""
        return self._arch_int("embedding_length") or self.details.embedding_length

    def _arch_int(self, key: str) -> int | None:
        value = self.model_info.get(f"{self.architecture}.{key}") if self.architecture else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None


class RunningModel(Reply):
    """One model loaded in memory, from `/api/ps`."""

    name: str
    model: str = ""
    size: int = 0
    size_vram: int = 0
    digest: Digest = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    expires_at: Time = None
    context_length: int | None = None  # the num_ctx it was loaded with, not its maximum

    @property
    def kept_forever(self) -> bool:
        """Whether it was loaded with a negative keep_alive (it expires centuries from now)."""
        return self.expires_at is not None and self.expires_at.year >= _FOREVER_YEAR
