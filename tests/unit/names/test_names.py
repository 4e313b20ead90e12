"""The Ollama model-name grammar, by example and by property."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import names
from reconciler.names import InvalidModelName, ModelName


@pytest.mark.parametrize(
    ("raw", "display", "full"),
    [
        ("llama3", "llama3:latest", "registry.ollama.ai/library/llama3:latest"),
        ("llama3:latest", "llama3:latest", "registry.ollama.ai/library/llama3:latest"),
        ("llama3.2:3b", "llama3.2:3b", "registry.ollama.ai/library/llama3.2:3b"),
        ("library/llama3", "llama3:latest", "registry.ollama.ai/library/llama3:latest"),
        (
            "registry.ollama.ai/library/llama3:8b",
            "llama3:8b",
            "registry.ollama.ai/library/llama3:8b",
        ),
        ("user/m", "user/m:latest", "registry.ollama.ai/user/m:latest"),
        (
            "myreg:5000/library/m:latest",
            "myreg:5000/library/m:latest",
            "myreg:5000/library/m:latest",
        ),
        ("https://myreg.io/team/coder:v1", "myreg.io/team/coder:v1", "myreg.io/team/coder:v1"),
        ("qwen2.5-coder:7b-instruct-q4_K_M", "qwen2.5-coder:7b-instruct-q4_K_M", None),
        ("_private:1", "_private:1", None),
    ],
)
def test_parse_fills_defaults_and_displays_shortest(
    raw: str, display: str, full: str | None
) -> None:
    parsed = names.parse(raw)
    assert parsed.display == display
    assert str(parsed) == display
    if full is not None:
        assert parsed.full == full


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("llama3", "llama3:latest"),
        ("llama3", "registry.ollama.ai/library/llama3:latest"),
        ("LLaMA3:Latest", "llama3:latest"),
        ("Library/Mistral", "mistral"),
        ("REGISTRY.OLLAMA.AI/user/M:TAG", "user/m:tag"),
    ],
)
def test_equal_spellings_are_the_same_model(a: str, b: str) -> None:
    assert names.same_model(a, b)
    assert names.parse(a) == names.parse(b)
    assert hash(names.parse(a)) == hash(names.parse(b))
    assert len({names.parse(a), names.parse(b)}) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("llama3", "llama3:8b"),
        ("llama3", "user/llama3"),
        ("llama3", "other.host/library/llama3"),
        ("bad!", "bad!"),
    ],
)
def test_different_models_differ(a: str, b: str) -> None:
    assert not names.same_model(a, b)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("llama3:", "tag part is empty"),
        (":latest", "model part is empty"),
        ("a/b/c/d", "too many '/'"),
        ("bad!name", "contains '!'"),
        ("-leading", "must start with"),
        ("ns.dot/model", "namespace part 'ns.dot' contains '.'"),
        ("model:ta/g", "contains"),
        ("m" * 81, "longer than 80"),
        ("model:" + "t" * 81, "tag part is longer than 80"),
        ("host:5000/m", "namespace part 'host:5000' contains ':'"),
        ("my model", "contains ' '"),
    ],
)
def test_invalid_names_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidModelName) as info:
        names.parse(raw)
    assert reason in info.value.reason
    assert names.invalid_reason(raw) == info.value.reason
    assert not names.is_valid(raw)
    assert "invalid model name" in str(info.value)


def test_matches_glob_on_display_and_full_forms() -> None:
    name = names.parse("llama3.2:3b")
    assert name.matches_glob("llama3*")
    assert name.matches_glob("LLAMA3*")
    assert name.matches_glob("registry.ollama.ai/library/*")
    assert not name.matches_glob("qwen*")
    assert names.parse("team/coder:v1").matches_glob("team/*")


def test_sorting_is_case_insensitive() -> None:
    parsed = sorted([names.parse("b"), names.parse("A"), names.parse("c")])
    assert [p.model for p in parsed] == ["A", "b", "c"]


_FIRST = string.ascii_letters + string.digits + "_"
_LATER = _FIRST + "-"
part = st.builds(lambda a, b: a + b, st.sampled_from(_FIRST), st.text(_LATER + ".", max_size=20))
namespace = st.builds(lambda a, b: a + b, st.sampled_from(_FIRST), st.text(_LATER, max_size=20))


@given(model=part, tag=part, ns=namespace)
def test_valid_names_round_trip_through_display(model: str, tag: str, ns: str) -> None:
    raw = f"{ns}/{model}:{tag}"
    parsed = names.parse(raw)
    assert names.parse(parsed.display) == parsed
    assert names.parse(parsed.full) == parsed
    assert names.parse(raw.upper()) == parsed
    assert names.normalize(parsed.display) == parsed.display


@given(st.text(max_size=120))
def test_parse_never_raises_anything_but_invalid_model_name(raw: str) -> None:
    reason = names.invalid_reason(raw)
    if reason is None:
        parsed = names.parse(raw)
        assert isinstance(parsed, ModelName)
        assert names.parse(parsed.full) == parsed
    else:
        assert reason


@given(model=part)
def test_a_bare_model_defaults_to_latest_in_the_library(model: str) -> None:
    parsed = names.parse(model)
    assert (parsed.host, parsed.namespace, parsed.tag) == (
        "registry.ollama.ai",
        "library",
        "latest",
    )
    assert parsed.display == f"{model}:latest"


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("nomic-embed-text", "nomic-embed-text:latest", True),
        ("library/qwen2.5-coder:1.5b", "qwen2.5-coder:1.5b", True),
        ("NOMIC-EMBED-TEXT:LATEST", "nomic-embed-text", True),
        ("llama3", "llama3:8b", False),
        ("llama3*", "llama3:latest", True),
        ("library/llama3*", "llama3.2:3b", True),
        ("*embed*", "nomic-embed-text:latest", True),
        ("qwen*", "llama3:latest", False),
        ("bad!", "llama3", False),
    ],
)
def test_protect_entries_match_every_spelling(pattern: str, name: str, matches: bool) -> None:
    assert names.parse(name).matches_glob(pattern) is matches
