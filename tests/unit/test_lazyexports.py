"""A package's lazy names: imported on first use, kept afterwards, listed by dir(); an unknown
name is the usual AttributeError."""

from __future__ import annotations

import importlib
import sys

import pytest

from reconciler.lazyexports import lazy_exports


def test_a_lazy_name_is_imported_on_first_use_and_kept() -> None:
    namespace: dict[str, object] = {"__all__": ["dedent"]}
    getattr_, dir_ = lazy_exports("pkg", {"dedent": "textwrap"}, namespace)
    assert "dedent" not in namespace
    assert getattr_("dedent") is importlib.import_module("textwrap").dedent
    assert namespace["dedent"] is sys.modules["textwrap"].dedent
    assert "dedent" in dir_()


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    getattr_, _ = lazy_exports("pkg", {}, {})
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'missing'"):
        getattr_("missing")


def test_the_packages_still_say_what_they_lack() -> None:
    import reconciler.state

    with pytest.raises(AttributeError, match=r"module 'reconciler\.state' has no attribute"):
        reconciler.state.nothing_here  # noqa: B018
