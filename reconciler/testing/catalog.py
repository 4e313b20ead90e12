"""The simulated registry: realistic library models a simulated server can pull.

`CATALOG` maps display names (`llama3.2:3b`) to `ModelSpec`s. Sizes, families, parameter
sizes, quantisations, context lengths and capabilities follow the real ollama.com library; tags
that the registry aliases (`llama3.2:latest` = `llama3.2:3b`) share one spec, hence one digest.
Each `SimServer` pulls from its own `Registry` (a copy of the catalog) that tests can change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconciler import names
from reconciler.testing import templates as tpl
from reconciler.testing.spec import ModelSpec, parameters_tuple, sha256_hex

LLAMA3_STOP = ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
CHATML_STOP = ["<|im_start|>", "<|im_end|>"]
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
R1_STOP = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"]

# Per-family content: template, license, default parameters and special traits.
_PROFILES: dict[str, dict[str, Any]] = {
    "llama3": {"template": tpl.LLAMA3_TOOLS, "license": tpl.LLAMA_LICENSE, "stop": LLAMA3_STOP},
    "qwen": {"template": tpl.CHATML_TOOLS, "system": QWEN_SYSTEM},
    "coder": {"template": tpl.QWEN_CODER, "system": QWEN_SYSTEM},
    "coder-small": {"template": tpl.QWEN_CODER},
    "codellama": {
        "template": tpl.CODELLAMA,
        "license": tpl.LLAMA_LICENSE,
        "params": {"rope_frequency_base": 1000000, "stop": ["[INST]", "[/INST]", "<<SYS>>"]},
    },
    "mistral": {"template": tpl.MISTRAL_TOOLS, "stop": ["[INST]", "[/INST]"]},
    "gemma2": {
        "template": tpl.GEMMA,
        "license": tpl.GEMMA_LICENSE,
        "stop": ["<start_of_turn>", "<end_of_turn>"],
    },
    "gemma3": {
        "template": tpl.GEMMA,
        "license": tpl.GEMMA_LICENSE,
        "vision": True,
        "params": {"stop": ["<end_of_turn>"], "temperature": 1, "top_k": 64, "top_p": 0.95},
    },
    "llava": {
        "template": tpl.VICUNA_VISION,
        "families": ("llama", "clip"),
        "projector_size": 624434344,
        "stop": ["[INST]", "[/INST]"],
    },
    "qwenvl": {"template": tpl.CHATML_TOOLS, "vision": True},
    "r1": {"template": tpl.DEEPSEEK_R1, "license": tpl.MIT_LICENSE, "stop": R1_STOP},
    "qwen3": {
        "template": tpl.QWEN3_THINKING,
        "params": {
            "repeat_penalty": 1,
            "stop": CHATML_STOP,
            "temperature": 0.6,
            "top_k": 20,
            "top_p": 0.95,
        },
    },
    "gptoss": {"template": tpl.HARMONY, "params": {"temperature": 1}},
    "phi3": {
        "template": tpl.PHI3,
        "license": tpl.MIT_LICENSE,
        "stop": ["<|end|>", "<|user|>", "<|assistant|>"],
    },
    "zephyr": {"template": tpl.ZEPHYR, "stop": ["<|system|>", "<|user|>", "<|assistant|>", "</s>"]},
    "chatml": {"template": tpl.CHATML_TOOLS, "stop": CHATML_STOP},
    "embed": {"template": tpl.EMBEDDING, "embedding": True, "tokenizer": "bert"},
}

# names (first is canonical) | family | parameter size | quantization | weights bytes |
# context length | embedding length | profile | num_ctx default (embedding models)
_TABLE = """
llama3.2:3b llama3.2:latest|llama|3.2B|Q4_K_M|2019377376|131072|3072|llama3
llama3.2:1b|llama|1.2B|Q8_0|1321082688|131072|2048|llama3
llama3.1:8b llama3.1:latest|llama|8.0B|Q4_K_M|4920738944|131072|4096|llama3
qwen2.5:7b qwen2.5:latest|qwen2|7.6B|Q4_K_M|4683073184|32768|3584|qwen
qwen2.5-coder:7b qwen2.5-coder:latest|qwen2|7.6B|Q4_K_M|4683073248|32768|3584|coder
qwen2.5-coder:1.5b|qwen2|1.5B|Q4_K_M|986048576|32768|1536|coder-small
codellama:7b codellama:latest|llama|7B|Q4_0|3825807040|16384|4096|codellama
mistral:7b mistral:latest|llama|7.2B|Q4_0|4113289152|32768|4096|mistral
gemma2:2b|gemma2|2.6B|Q4_0|1629509152|8192|2304|gemma2
gemma3:4b gemma3:latest|gemma3|4.3B|Q4_K_M|3338792448|131072|2560|gemma3
llava:7b llava:latest|llama|7B|Q4_0|4108916384|32768|4096|llava
qwen2.5vl:7b qwen2.5vl:latest|qwen25vl|8.3B|Q4_K_M|5969240256|128000|3584|qwenvl
deepseek-r1:7b deepseek-r1:latest|qwen2|7.6B|Q4_K_M|4683073280|131072|3584|r1
qwen3:8b qwen3:latest|qwen3|8.2B|Q4_K_M|5225376544|40960|4096|qwen3
gpt-oss:20b gpt-oss:latest|gptoss|20.9B|MXFP4|13780162560|131072|2880|gptoss
phi3:mini phi3:latest phi3:3.8b|phi3|3.8B|Q4_0|2176177120|131072|3072|phi3
tinyllama:latest tinyllama:1.1b|llama|1B|Q4_0|637699456|2048|2048|zephyr
smollm2:135m|llama|134.52M|F16|270898368|8192|576|chatml
nomic-embed-text:latest nomic-embed-text:v1.5|nomic-bert|137M|F16|274290656|2048|768|embed|8192
mxbai-embed-large:latest mxbai-embed-large:335m|bert|334M|F16|669603712|512|1024|embed|512
all-minilm:latest all-minilm:22m|bert|23M|F16|45949216|512|384|embed
"""
_SCALE = {"M": 10**6, "B": 10**9}


def parameter_count(size: str, seed: str) -> int:
    """A plausible exact parameter count for a size such as `3.2B`, stable per model."""
    approx = int(float(size[:-1]) * _SCALE[size[-1]])
    return approx + int(sha256_hex(seed)[:6], 16) % max(1, approx // 100)


def _row(line: str) -> tuple[list[str], ModelSpec]:
    cells = line.split("|")
    aliases, family, size, quant = cells[0].split(), cells[1], cells[2], cells[3]
    profile = dict(_PROFILES[cells[7]])
    params = dict(profile.pop("params", {}))
    if "stop" in profile:
        params["stop"] = profile.pop("stop")
    if len(cells) > 8:
        params["num_ctx"] = int(cells[8])
    profile["license"] = (profile.get("license", tpl.APACHE_LICENSE),)
    spec = ModelSpec(
        weights_seed=aliases[0],
        family=family,
        parameter_size=size,
        parameter_count=parameter_count(size, aliases[0]),
        quantization=quant,
        weights_size=int(cells[4]),
        context_length=int(cells[5]),
        embedding_length=int(cells[6]),
        parameters=parameters_tuple(params),
        **profile,
    )
    return aliases, spec


def _build() -> dict[str, ModelSpec]:
    catalog: dict[str, ModelSpec] = {}
    for line in _TABLE.strip().splitlines():
        aliases, spec = _row(line)
        for alias in aliases:
            catalog[alias] = spec
    return catalog


CATALOG: Mapping[str, ModelSpec] = _build()
"""Every model the default registry offers, by display name."""


class Registry:
    """The models one simulated server can pull; a mutable copy of `CATALOG`.

    Names are compared as Ollama compares them (`llama3.2` finds `llama3.2:latest`).
    """

    def __init__(self, models: Mapping[str, ModelSpec] = CATALOG) -> None:
        self._models: dict[names.ModelName, tuple[str, ModelSpec]] = {}
        for name, spec in models.items():
            self.add(name, spec)

    def add(self, name: str, spec: ModelSpec) -> None:
        """Publish `spec` under `name` (replacing what was there: a new version upstream)."""
        parsed = names.parse(name)
        self._models[parsed] = (parsed.display, spec)

    def remove(self, name: str) -> None:
        """Withdraw a model: pulling it then fails as for an unknown model."""
        self._models.pop(names.parse(name), None)

    def bump(self, name: str) -> ModelSpec:
        """Publish a new version of `name` (new weights, new digest) and return it."""
        current = self.get(name)
        if current is None:
            raise KeyError(f"{name} is not in the registry")
        newer = replace(current, weights_seed=current.weights_seed + "+1")
        self.add(name, newer)
        return newer

    def move_tag(self, name: str) -> str:
        """Publish a newer build under `name` (the tag moves upstream); its new bare digest."""
        return self.bump(name).digest

    def get(self, name: str | names.ModelName) -> ModelSpec | None:
        """The spec published under `name`, or None (invalid names are never found)."""
        try:
            parsed = name if isinstance(name, names.ModelName) else names.parse(name)
        except names.InvalidModelName:
            return None
        entry = self._models.get(parsed)
        return entry[1] if entry else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str | names.ModelName) and self.get(name) is not None

    def names(self) -> list[str]:
        """Display names of every published model, sorted."""
        return sorted(display for display, _ in self._models.values())
