"""Credentials in an instance URL never reach a report or a saved plan."""

from __future__ import annotations

import json

import pytest

from reconciler.desired import DesiredFleet, DesiredInstance, redact_url
from reconciler.observed import ObservedFleet
from reconciler.plan import plan
from reconciler.report import render_plan_text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@host.example/ollama", "https://host.example/ollama"),
        ("http://tok@127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("https://host.example/a@b", "https://host.example/a@b"),
        ("http://localhost:11434", "http://localhost:11434"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_plans_show_the_url_without_its_password() -> None:
    inst = DesiredInstance(name="a", url="https://user:s3cret@host.example")
    made = plan(DesiredFleet(instances=(inst,)), ObservedFleet())
    assert "s3cret" not in json.dumps(made.to_dict())
    assert "s3cret" not in render_plan_text(made)
    assert "https://host.example" in render_plan_text(made)
