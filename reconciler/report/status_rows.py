"""The cells of the status tables as plain strings, shared by the terminal and Markdown forms.

The figures table (uptime, latency p50/p95, last error, chats per instance) is shown only when
the status carries figures from the history, below the instances table, so a status built
without a state directory looks as it always did and the instances table keeps its width; a
figure the history has nothing for shows as `—`.
"""

from __future__ import annotations

from datetime import timedelta

from reconciler.observed import Health, Sync
from reconciler.report import units
from reconciler.report.status import InstanceStatus, ModelStatus, Status

INSTANCE_HEADERS = (
    "Name", "URL", "Enabled", "Prio", "Health", "Version", "Latency", "Models", "Sync",
    "Checked",
)  # fmt: skip
HEALTH_COLUMN, SYNC_COLUMN = 4, 8
FIGURE_HEADERS = ("Name", "Uptime", "p50/p95", "Last error", "Chat")
NONE = "—"  # a figure the history has nothing for
MODEL_HEADERS = (
    "Instance", "Model", "Size", "Params", "Quant", "Context", "Capabilities", "Loaded",
    "Declared", "Digest",
)  # fmt: skip


def figures_title(status: Status) -> str:
    """`History of the last 24h (probes and chats):`."""
    seconds = int(status.window or 0)
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        window = f"{seconds // 86400}d"
    elif seconds % 3600 == 0 and seconds:
        window = f"{seconds // 3600}h"
    else:
        window = units.duration(timedelta(seconds=seconds))
    return f"History of the last {window} (probes and chats):"


def figure_cells(inst: InstanceStatus, status: Status) -> list[str]:
    """Name, uptime `99.5%`, latency `12/30 ms`, last error `Timeout 3h ago`, chat
    `92% of 12, 340 ms` (answered of attempted, mean time to first token)."""
    fig = inst.figures
    if fig is None:
        return [inst.name] + [NONE] * (len(FIGURE_HEADERS) - 1)
    uptime = NONE if fig.uptime is None else units.percent(fig.uptime)
    latency = NONE
    if fig.p50_ms is not None and fig.p95_ms is not None:
        latency = f"{fig.p50_ms:.0f}/{fig.p95_ms:.0f} ms"
    error = NONE
    if fig.last_error is not None:
        error = f"{fig.last_error.reason} {units.age(fig.last_error.at, status.generated_at)}"
    chat = NONE
    if fig.chat is not None:
        rate = NONE if fig.chat.success_rate is None else units.percent(fig.chat.success_rate)
        chat = f"{rate} of {fig.chat.requests}"
        if fig.chat.mean_ttft_ms is not None:
            chat += f", {fig.chat.mean_ttft_ms:.0f} ms"
    return [inst.name, uptime, latency, error, chat]


def instance_cells(inst: InstanceStatus, status: Status) -> list[str]:
    """One instances-table row; Models is `present/declared` (`?` when unknown)."""
    present = "?" if inst.models_present is None else str(inst.models_present)
    return [
        inst.name,
        inst.url,
        "yes" if inst.enabled else "no",
        str(inst.priority),
        str(inst.health),
        inst.version or "-",
        units.latency(inst.latency_ms),
        f"{present}/{inst.models_declared}",
        f"{inst.sync} ({inst.changes})" if inst.changes else str(inst.sync),
        units.age(inst.checked_at, status.generated_at),
    ]


def model_cells(model: ModelStatus, status: Status) -> list[str]:
    """One models-table row; Declared is `yes`, `absent` (to be removed) or `no`."""
    return [
        model.instance,
        model.model.display,
        units.size(model.size),
        model.parameter_size or "-",
        model.quantization or "-",
        str(model.context_length) if model.context_length else "-",
        ", ".join(model.capabilities) or "-",
        units.loaded(model.loaded, model.loaded_until, status.generated_at),
        {"present": "yes", "absent": "absent"}.get(model.declared or "", "no"),
        model.digest,
    ]


def problems(status: Status) -> list[InstanceStatus]:
    """Enabled instances that are not healthy and say why."""
    return [
        i for i in status.instances if i.enabled and i.health is not Health.HEALTHY and i.message
    ]


def verdict(status: Status) -> str:
    """One line: the fleet's health and drift."""
    enabled = [i for i in status.instances if i.enabled]
    drifting = sum(1 for i in enabled if i.sync is not Sync.SYNCED)
    drift = (
        f"{drifting} of {len(enabled)} enabled instances not in sync."
        if drifting
        else "Every enabled instance is in sync."
    )
    return f"Fleet health: {status.health}. {drift}"
