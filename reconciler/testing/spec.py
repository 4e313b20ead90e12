"""What one model *is* on a simulated server: its manifest, layers, metadata and capabilities.

A `ModelSpec` is immutable and content-addressed, as in Ollama: the template, system prompt,
parameters and license are blobs named by the sha256 of their bytes; the weights blob by a seed
derived from the model's name; the manifest digest (what `/api/tags` shows) by the sha256 of the
manifest JSON. Two specs with the same content therefore have the same digest, on every server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

MediaKind = Literal[
    "model", "projector", "template", "system", "params", "license", "messages", "config"
]
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_S": 14, "Q4_K_M": 15, "MXFP4": 38}
TENSOR_TYPES = {"Q4_K_M": "Q4_K", "Q4_K_S": "Q4_K"}


def sha256_hex(data: bytes | str) -> str:
    """Hex sha256 of bytes or of a string's UTF-8 encoding."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@dataclass(frozen=True, slots=True)
class Layer:
    """One blob of a manifest: its media kind, bare hex digest and size in bytes."""

    kind: MediaKind
    digest: str
    size: int

    @property
    def media_type(self) -> str:
        """The manifest's `mediaType` of this layer."""
        if self.kind == "config":
            return CONFIG_MEDIA_TYPE
        return f"application/vnd.ollama.image.{self.kind}"

    @property
    def prefixed(self) -> str:
        """`sha256:<hex>`, the spelling of manifests and pull progress."""
        return f"sha256:{self.digest}"


@dataclass(frozen=True)
class ModelSpec:
    """Content and metadata of one model; a change of any field is a new model version."""

    weights_seed: str
    family: str
    parameter_size: str
    parameter_count: int
    quantization: str
    weights_size: int
    context_length: int
    embedding_length: int
    families: tuple[str, ...] = ()
    embedding: bool = False
    vision: bool = False
    projector_size: int = 0
    template: str = "{{ .Prompt }}"
    system: str = ""
    license: tuple[str, ...] = ()
    parameters: tuple[tuple[str, Any], ...] = ()
    messages: tuple[tuple[str, str], ...] = ()
    parent_model: str = ""
    model_format: str = "gguf"
    tokenizer: str = "gpt2"
    extra_info: tuple[tuple[str, Any], ...] = field(default=())
    weights_digest: str = ""  # a real blob's digest (a pushed GGUF file); else from the seed

    @property
    def parameter_map(self) -> dict[str, Any]:
        """The parameters as a dict (lists for multi-valued keys such as `stop`)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in self.parameters
        }

    @cached_property
    def capabilities(self) -> list[str]:
        """Derived as Ollama derives them, in its order: completion|embedding, tools, insert,
        vision, thinking."""
        if self.embedding:
            return ["embedding"]
        caps = ["completion"]
        if ".Tools" in self.template:
            caps.append("tools")
        if ".Suffix" in self.template:
            caps.append("insert")
        if self.vision or self.projector_size:
            caps.append("vision")
        if ".Think" in self.template:
            caps.append("thinking")
        return caps

    @cached_property
    def layers(self) -> tuple[Layer, ...]:
        """The manifest's layers, in Ollama's order."""
        weights = self.weights_digest or sha256_hex(f"weights:{self.weights_seed}")
        layers = [Layer("model", weights, self.weights_size)]
        if self.projector_size:
            seed = f"projector:{self.weights_seed}"
            layers.append(Layer("projector", sha256_hex(seed), self.projector_size))
        blobs: list[tuple[MediaKind, str]] = [
            ("template", self.template),
            ("system", self.system),
            ("license", "\n".join(self.license)),
        ]
        if self.parameters:
            blobs.append(("params", json.dumps(self.parameter_map, sort_keys=True)))
        if self.messages:
            rows = [{"role": role, "content": content} for role, content in self.messages]
            blobs.append(("messages", json.dumps(rows)))
        for kind, text in blobs:
            if text:
                layers.append(Layer(kind, sha256_hex(text), len(text.encode())))
        return tuple(layers)

    @cached_property
    def config_blob(self) -> Layer:
        """The config blob (model format, family, file type and the layers' diff ids)."""
        config = {
            "model_format": self.model_format,
            "model_family": self.family,
            "model_families": list(self.families or (self.family,)),
            "model_type": self.parameter_size,
            "file_type": self.quantization,
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [lay.prefixed for lay in self.layers]},
        }
        text = json.dumps(config, sort_keys=True)
        return Layer("config", sha256_hex(text), len(text))

    @cached_property
    def digest(self) -> str:
        """Bare hex sha256 of the manifest JSON: the `digest` of `/api/tags` and `/api/ps`."""
        return sha256_hex(json.dumps(self.manifest, separators=(",", ":")))

    @property
    def manifest(self) -> dict[str, Any]:
        """The registry manifest of this model."""
        config = self.config_blob
        return {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": config.prefixed,
                "size": config.size,
            },
            "layers": [
                {"mediaType": lay.media_type, "digest": lay.prefixed, "size": lay.size}
                for lay in self.layers
            ],
        }

    @property
    def blobs(self) -> tuple[Layer, ...]:
        """Every blob a pull downloads: the layers, then the config blob."""
        return (*self.layers, self.config_blob)

    @property
    def size(self) -> int:
        """`size` of `/api/tags`: the layers plus the config blob."""
        return sum(blob.size for blob in self.blobs)

    def model_info(self, basename: str, verbose: bool = False) -> dict[str, Any]:
        """Show's `model_info`: GGUF metadata, arrays longer than 5 emptied unless verbose."""
        arch = self.family
        heads = max(1, self.embedding_length // 128)
        tokens = ["<unk>", "<s>", "</s>", "<0x00>", "<0x01>", "!", '"', "#"]
        info: dict[str, Any] = {
            "general.architecture": arch,
            "general.basename": basename,
            "general.file_type": FILE_TYPES.get(self.quantization, 15),
            "general.parameter_count": self.parameter_count,
            "general.quantization_version": 2,
            f"{arch}.attention.head_count": heads,
            f"{arch}.attention.head_count_kv": max(1, heads // 4),
            f"{arch}.block_count": max(2, min(80, self.parameter_count // 250_000_000)),
            f"{arch}.context_length": self.context_length,
            f"{arch}.embedding_length": self.embedding_length,
            f"{arch}.feed_forward_length": self.embedding_length * 4,
            "tokenizer.ggml.model": self.tokenizer,
            "tokenizer.ggml.tokens": tokens if verbose else [],
            "tokenizer.ggml.token_type": [1] * len(tokens) if verbose else [],
        }
        if self.embedding:
            info[f"{arch}.pooling_type"] = 1
        info.update(dict(self.extra_info))
        return info

    @property
    def projector_info(self) -> dict[str, Any] | None:
        """Show's `projector_info`, only for models with a projector blob."""
        if not self.projector_size:
            return None
        return {
            "general.architecture": "clip",
            "clip.has_vision_encoder": True,
            "clip.vision.embedding_length": 1024,
            "clip.vision.image_size": 336,
            "clip.vision.patch_size": 14,
            "clip.vision.projection_dim": self.embedding_length,
        }

    @property
    def tensors(self) -> list[dict[str, Any]]:
        """A short, representative tensor list (real models have hundreds)."""
        kind = TENSOR_TYPES.get(self.quantization, self.quantization)
        emb = self.embedding_length
        return [
            {"name": "token_embd.weight", "type": kind, "shape": [emb, 32000]},
            {"name": "blk.0.attn_norm.weight", "type": "F32", "shape": [emb]},
            {"name": "blk.0.attn_q.weight", "type": kind, "shape": [emb, emb]},
            {"name": "blk.0.ffn_up.weight", "type": kind, "shape": [emb, emb * 4]},
            {"name": "output_norm.weight", "type": "F32", "shape": [emb]},
        ]


def parameters_tuple(parameters: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Parameters as a sorted, hashable tuple (lists become tuples)."""
    return tuple(
        sorted(
            (key, tuple(value) if isinstance(value, list) else value)
            for key, value in parameters.items()
        )
    )
