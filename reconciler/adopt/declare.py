"""Declaring what one server has: the models found on it, as the desired vocabulary.

A pulled model is declared by name; a model created on the server (show's
`details.parent_model` names its base, see docs/ollama-api.md, Registry or custom model) with
`from` and whatever it changes of its base; a model loaded with a negative `keep_alive` as
`keepLoaded`. Planned against the same server, the declaration has no changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler import names
from reconciler.desired import DesiredInstance, DesiredModel
from reconciler.ollama import ModelEntry, OllamaClient, RunningModel, ShowResponse
from reconciler.plan.parameters import differing_parameters
from reconciler.probe import ClientFactory, client_config

SHOWS_AT_ONCE = 8
"""Show requests in flight per server: a server with hundreds of models is not flooded."""


@dataclass(frozen=True, slots=True)
class Adopted:
    """One imported server: its connection settings with the models found on it."""

    instance: DesiredInstance
    unparsable: tuple[str, ...] = ()  # names in /api/tags that orc cannot declare

    @property
    def custom_count(self) -> int:
        """How many of its models are built on the server from another one."""
        return sum(m.is_custom for m in self.instance.models)

    @property
    def kept_loaded_count(self) -> int:
        """How many of its models are kept loaded."""
        return sum(m.keep_loaded for m in self.instance.models)


async def adopt(
    connection: DesiredInstance,
    *,
    client_factory: ClientFactory = OllamaClient,
    env: Mapping[str, str] | None = None,
) -> Adopted:
    """Probe one server and declare what is on it; probe failures raise (nothing is guessed).

    `connection` holds the settings to reach it (secrets by reference, resolved from `env`).
    """
    config = client_config(connection, env)
    async with client_factory(config) as client:
        tags, running = await asyncio.gather(client.list_models(), client.running())
        entries = [e for e in tags if names.is_valid(e.name)]
        slots = asyncio.Semaphore(SHOWS_AT_ONCE)

        async def show(entry: ModelEntry) -> ShowResponse:
            async with slots:
                return await client.show(entry.name)

        shows = await asyncio.gather(*(show(e) for e in entries))
    installed = [(names.parse(e.name), s) for e, s in zip(entries, shows, strict=True)]
    models = declared_models(installed, kept_forever(running))
    unparsable = tuple(e.name for e in tags if not names.is_valid(e.name))
    return Adopted(replace(connection, models=models), unparsable)


async def adopt_all(
    connections: Sequence[DesiredInstance],
    *,
    client_factory: ClientFactory = OllamaClient,
    env: Mapping[str, str] | None = None,
) -> list[Adopted]:
    """Probe every server at once; the first failure fails the whole import."""
    return list(
        await asyncio.gather(
            *(adopt(c, client_factory=client_factory, env=env) for c in connections)
        )
    )


def kept_forever(running: Sequence[RunningModel]) -> set[names.ModelName]:
    """The loaded models that were loaded to stay (`keep_alive` negative)."""
    return {names.parse(r.name) for r in running if r.kept_forever and names.is_valid(r.name)}


def declared_models(
    installed: Sequence[tuple[names.ModelName, ShowResponse]], forever: set[names.ModelName]
) -> tuple[DesiredModel, ...]:
    """The declaration of each installed model, sorted by name."""
    shows = dict(installed)
    declared = []
    for name, show in sorted(installed, key=lambda pair: pair[0]):
        base = parent_model(name, show)
        if base is None:
            declared.append(DesiredModel(name=name, keep_loaded=name in forever))
        else:
            declared.append(custom_model(name, base, show, shows.get(base), name in forever))
    return tuple(declared)


def parent_model(name: names.ModelName, show: ShowResponse) -> names.ModelName | None:
    """The model this one was created from, or None for a model pulled from a registry.

    Ollama records the base of `/api/create` (`from`) with the weights, and show reports it as
    `details.parent_model`; a pulled model has none. A parent that is no model name, or the
    model itself, cannot be declared as `from`, so such a model is declared by name.
    """
    parent = show.details.parent_model
    if not parent or not names.is_valid(parent):
        return None
    base = names.parse(parent)
    return None if base == name else base


def custom_model(
    name: names.ModelName,
    base: names.ModelName,
    show: ShowResponse,
    base_show: ShowResponse | None,
    keep_loaded: bool,
) -> DesiredModel:
    """A custom model declaring only what it changes of its base (everything, when the base is
    not on the server to compare with)."""
    return DesiredModel(
        name=name,
        keep_loaded=keep_loaded,
        from_=base,
        system=_changed_text(show.system, base_show.system if base_show else None),
        template=_changed_text(show.template, base_show.template if base_show else None),
        parameters=_changed_parameters(show.parameters, base_show.parameters if base_show else {}),
    )


def _changed_text(text: str, inherited: str | None) -> str | None:
    if not text.strip() or (inherited is not None and text.strip() == inherited.strip()):
        return None
    return text


def _changed_parameters(
    parameters: Mapping[str, Any], inherited: Mapping[str, Any]
) -> dict[str, Any]:
    changed = differing_parameters(parameters, inherited)
    return {key: parameters[key] for key in sorted(changed)}


def shared_models(adopted: Sequence[Adopted]) -> tuple[DesiredModel, ...]:
    """The models every server has with the same settings (what one ModelSet can declare)."""
    if not adopted:
        return ()
    common = {_identity(m): m for m in adopted[0].instance.models}
    for other in adopted[1:]:
        keys = {_identity(m) for m in other.instance.models}
        common = {k: m for k, m in common.items() if k in keys}
    return tuple(common.values())


def without(adopted: Adopted, models: Sequence[DesiredModel]) -> Adopted:
    """The server without these models (a ModelSet declares them instead)."""
    taken = {_identity(m) for m in models}
    kept = tuple(m for m in adopted.instance.models if _identity(m) not in taken)
    return replace(adopted, instance=replace(adopted.instance, models=kept))


def _identity(model: DesiredModel) -> tuple[object, ...]:
    parameters = tuple(sorted((k, repr(v)) for k, v in model.parameters.items()))
    base = model.from_.key if model.from_ is not None else None
    return (model.name.key, model.keep_loaded, base, model.system, model.template, parameters)
