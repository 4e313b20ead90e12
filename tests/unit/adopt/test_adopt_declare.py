"""What a model found on a server is declared as: registry name, custom model, keepLoaded."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler import names
from reconciler.adopt.declare import declared_models, kept_forever, parent_model
from reconciler.ollama import RunningModel, ShowResponse


def _show(parent: str = "", **fields: object) -> ShowResponse:
    return ShowResponse.model_validate({"details": {"parent_model": parent}, **fields})


def test_a_model_without_a_parent_is_declared_by_name() -> None:
    name = names.parse("llama3.2:3b")
    [model] = declared_models([(name, _show(system="Helpful.", parameters='stop "x"'))], set())
    assert (model.name, model.from_, model.system, dict(model.parameters)) == (name, None, None, {})


def test_a_parent_that_is_no_model_name_or_the_model_itself_is_not_a_base() -> None:
    name = names.parse("mine:latest")
    assert parent_model(name, _show("/root/.ollama/blobs/sha256-abc")) is None
    assert parent_model(name, _show("mine")) is None
    assert parent_model(name, _show("llama3.2:3b")) == names.parse("llama3.2:3b")


def test_a_custom_model_declares_only_what_differs_from_its_base() -> None:
    base = _show(template="{{ .Prompt }}", system="Base.", parameters='num_ctx 4096\nstop "<eot>"')
    custom = _show(
        "base:1b",
        template="{{ .Prompt }}\n",
        system="Be terse.",
        parameters='num_ctx 8192\nstop "<eot>"\ntemperature 0.2',
    )
    installed = [(names.parse("base:1b"), base), (names.parse("terse"), custom)]
    [_, model] = declared_models(installed, set())
    assert model.from_ == names.parse("base:1b")
    assert model.system == "Be terse."
    assert model.template is None  # the same but for surrounding whitespace
    assert dict(model.parameters) == {"num_ctx": 8192, "temperature": 0.2}


def test_a_custom_model_whose_base_is_gone_declares_everything() -> None:
    custom = _show("base:1b", template="T", system="S", parameters="num_ctx 8192")
    [model] = declared_models([(names.parse("terse"), custom)], set())
    assert (model.template, model.system, dict(model.parameters)) == ("T", "S", {"num_ctx": 8192})


def test_only_models_loaded_forever_are_kept_loaded() -> None:
    forever = datetime(2318, 1, 1, tzinfo=UTC)
    soon = datetime(2025, 1, 1, 12, 5, tzinfo=UTC)
    running = [
        RunningModel(name="llama3.2:3b", expires_at=forever),
        RunningModel(name="phi3:mini", expires_at=soon),
        RunningModel(name="bad name!", expires_at=forever),
    ]
    assert kept_forever(running) == {names.parse("llama3.2:3b")}
