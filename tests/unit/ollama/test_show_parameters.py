"""Show's padded parameters text back into values, digest spellings, and the show properties."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.ollama import ShowResponse, normalize_digest, parse_parameters

HEX = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"

# As `ollama show llama3.2 --parameters` prints them (key padded to 30, values in Go syntax).
LLAMA_PARAMETERS = "\n".join(
    [
        'stop                           "<|start_header_id|>"',
        'stop                           "<|end_header_id|>"',
        'stop                           "<|eot_id|>"',
        "num_ctx                        8192",
        "temperature                    0.2",
        "top_p                          0.9",
        "num_predict                    -1",
        "mirostat_eta                   1e-05",
        "num_batch                      1e+06",
        "use_mmap                       false",
        "penalize_newline               true",
    ]
)


def test_parameters_of_a_real_model() -> None:
    assert parse_parameters(LLAMA_PARAMETERS) == {
        "stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "num_ctx": 8192,
        "temperature": 0.2,
        "top_p": 0.9,
        "num_predict": -1,
        "mirostat_eta": 1e-05,
        "num_batch": 1000000,
        "use_mmap": False,
        "penalize_newline": True,
    }


def test_number_types_match_what_a_manifest_would_say() -> None:
    values = parse_parameters(LLAMA_PARAMETERS)
    assert type(values["num_ctx"]) is int
    assert type(values["num_batch"]) is int
    assert type(values["temperature"]) is float


def test_a_single_stop_is_still_a_list() -> None:
    assert parse_parameters('stop                           "###"') == {"stop": ["###"]}


def test_other_repeated_keys_become_lists() -> None:
    text = "seed                           1\nseed                           2"
    assert parse_parameters(text) == {"seed": [1, 2]}


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (r'"line\nbreak"', "line\nbreak"),
        (r'"tab\there \"quoted\" back\\slash"', 'tab\there "quoted" back\\slash'),
        (r'"\u00e9t\u00e9"', "été"),
        (r'"bell\a and \x41"', "bell\a and A"),
        ('"été"', "été"),
        ('""', ""),
        ("<|im_end|>", "<|im_end|>"),  # servers before %#v printed strings bare
        ("12abc", "12abc"),
    ],
)
def test_go_quoted_and_bare_values(raw: str, value: Any) -> None:
    assert parse_parameters(f"stop{' ' * 27}{raw}") == {"stop": [value]}
    assert parse_parameters(f"system_hint{' ' * 20}{raw}") == {"system_hint": value}


def test_blank_and_empty_text() -> None:
    assert parse_parameters("") == {}
    assert parse_parameters("\n   \n") == {}


@pytest.mark.parametrize(
    "spelling", [f"sha256:{HEX}", f"sha256-{HEX}", HEX, HEX.upper(), f"SHA256:{HEX.upper()}"]
)
def test_every_digest_spelling_normalises_to_bare_lowercase_hex(spelling: str) -> None:
    assert normalize_digest(spelling) == HEX


def test_show_properties_read_the_architecture_keys() -> None:
    show = ShowResponse.model_validate(
        {
            "parameters": LLAMA_PARAMETERS,
            "model_info": {
                "general.architecture": "llama",
                "general.parameter_count": 3212749888,
                "llama.context_length": 131072,
                "llama.embedding_length": 3072,
                "qwen2.context_length": 1,
            },
            "details": {"context_length": 4096},
        }
    )
    assert show.architecture == "llama"
    assert show.context_length == 131072
    assert show.embedding_length == 3072
    assert show.parameters["num_ctx"] == 8192
    assert show.parameters_text == LLAMA_PARAMETERS


def test_show_falls_back_to_details_without_model_info() -> None:
    show = ShowResponse.model_validate({"model_info": {}, "details": {"context_length": 4096}})
    assert show.architecture is None
    assert show.context_length == 4096
    assert show.embedding_length is None
