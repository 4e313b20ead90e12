"""The sections of the HTML dashboard, rendered on the server: summary, Health, Models.

Each function takes the status document (or a part of it) and returns an HTML fragment. Values
come through html_values.py, so every text is escaped and a missing or mistyped figure shows as a
dash. CSS classes come from fixed tables here, never from the document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from reconciler.report import units
from reconciler.report.html_values import (
    DASH,
    ago,
    esc,
    items,
    mapping,
    milliseconds,
    moment,
    number,
    percent,
    shown,
    stamp,
    strings,
    text,
)
from reconciler.report.sparkline import series_points, sparkline

_TONES = {
    "Healthy": "good", "Synced": "good", "synced": "good", "applied": "good", "done": "good",
    "True": "good", "Degraded": "warn", "OutOfSync": "warn", "drift": "warn", "partial": "warn",
    "locked": "warn", "blocked": "warn", "skipped": "warn", "Disabled": "mute",
    "interrupted": "warn", "cancelled": "warn", "Unknown": "warn", "Unreachable": "bad",
    "Unauthorized": "bad", "TLSError": "bad", "failed": "bad", "refused": "bad",
    "invalid": "bad", "error": "bad",
}  # fmt: skip
_CONDITION_TONES = {
    ("Ready", "True"): "good", ("Ready", "False"): "bad", ("Ready", "Unknown"): "warn",
    ("Reconciling", "True"): "warn", ("Stalled", "True"): "bad", ("Stalled", "Unknown"): "warn",
}  # fmt: skip
_DECLARED = {"present": ("declared", "good"), "absent": ("to delete", "warn")}
HEALTH_HEADERS = (
    "Instance", "State", "Version", "Latency", "Trend", "Uptime", "Chats", "Last check",
    "Last error", "Sync",
)  # fmt: skip
MODEL_HEADERS = (
    "Model", "Size", "Params", "Quant", "Context", "Capabilities", "Loaded until", "Declared",
    "In sync",
)  # fmt: skip


def badge(value: object, tone: str | None = None) -> str:
    """A coloured label; its colour from the fixed table (or `tone`), its text escaped."""
    label = text(value)
    if label is None:
        return DASH
    return f'<span class="badge {tone or _TONES.get(label, "mute")}">{esc(label)}</span>'


def table(headers: Iterable[str], rows: Iterable[str], empty: str) -> str:
    """A scrollable table (wide tables scroll sideways on a phone)."""
    names = list(headers)
    body = "".join(rows) or f'<tr><td class="empty" colspan="{len(names)}">{empty}</td></tr>'
    head = "".join(f'<th scope="col">{h}</th>' for h in names)
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def summary(doc: Mapping[str, Any], now: datetime | None) -> str:
    """The header: fleet, health, drift, mode, conditions, manifests."""
    fleet = mapping(doc.get("fleet"))
    drift = fleet.get("drift")
    chips = [badge(fleet.get("health"))]
    if isinstance(drift, bool):
        chips.append(badge("drift", "warn") if drift else badge("in sync", "good"))
    if text(doc.get("mode")):
        chips.append(f'<span class="chip">mode {esc(doc["mode"])}</span>')
    for cond in items(doc.get("conditions")):
        status = text(cond.get("status")) or "Unknown"
        tone = _CONDITION_TONES.get((text(cond.get("type")) or "", status), "mute")
        title = f"{text(cond.get('reason')) or ''}: {text(cond.get('message')) or ''}"
        chips.append(
            f'<span class="chip {tone}" title="{esc(title)}">{shown(cond.get("type"))} '
            f"{esc(status)}</span>"
        )
    chips.append(_manifests_chip(mapping(doc.get("manifests"))))
    return (
        f'<header id="summary"><h1>orc <span class="fleet">{shown(fleet.get("name"))}</span></h1>'
        f'<p class="chips">{"".join(c for c in chips if c)}</p>'
        f'<p class="meta">status at {stamp(doc.get("generated_at"))}</p>'
        f"{_diagnostics(mapping(doc.get('manifests')))}</header>"
    )


def _manifests_chip(manifests: Mapping[str, Any]) -> str:
    valid = manifests.get("valid")
    if not isinstance(valid, bool):
        return ""
    revision = text(manifests.get("revision"))
    label = "manifests valid" if valid else "manifests invalid"
    rev = f" @ <code>{esc(revision[:12])}</code>" if revision else ""
    return f'<span class="chip {"good" if valid else "bad"}">{label}{rev}</span>'


def _diagnostics(manifests: Mapping[str, Any]) -> str:
    lines = [text(d.get("text")) for d in items(manifests.get("diagnostics"))]
    shown_lines = [f"<li><code>{esc(line)}</code></li>" for line in lines if line][:20]
    return f'<ul class="diagnostics">{"".join(shown_lines)}</ul>' if shown_lines else ""


def health(doc: Mapping[str, Any]) -> str:
    """One row per instance: state, version, latency and its trend, uptime, checks, errors."""
    now = moment(doc.get("generated_at"))
    rows = [_health_row(inst, now) for inst in items(doc.get("instances"))]
    return (
        '<section id="health"><h2>Health</h2>'
        f"{table(HEALTH_HEADERS, rows, 'no instances are declared')}</section>"
    )


def _health_row(inst: Mapping[str, Any], now: datetime | None) -> str:
    name = text(inst.get("name")) or "?"
    state = badge(inst.get("health"))
    if inst.get("enabled") is False:
        state += ' <span class="chip mute">disabled</span>'
    latency = mapping(inst.get("latency"))
    line = sparkline(series_points(latency.get("series")), f"latency of {name}")
    head = (
        f'<th scope="row">{esc(name)}<br><span class="url">{shown(inst.get("url"))}</span>'
        f"{_priority(inst.get('priority'))}</th>"
    )
    cells = [
        state,
        shown(inst.get("version")),
        _latency(inst.get("latency_ms"), latency),
        line or DASH,
        percent(inst.get("uptime")) or DASH,
        _chats(mapping(inst.get("chat"))),
        ago(inst.get("checked_at"), now),
        _last_error(inst, now),
        _sync(inst),
    ]
    return f'<tr id="{esc(f"instance-{name}")}">{head}{cells_of(cells, wide=7)}</tr>'


def cells_of(cells: list[str], *, wide: int) -> str:
    """The cells of a row; the `wide` one (a message) wraps, the others stay on one line."""
    return "".join(
        f'<td class="wide">{c}</td>' if i == wide else f"<td>{c}</td>" for i, c in enumerate(cells)
    )


def _priority(value: object) -> str:
    found = number(value)
    return "" if found is None else f'<br><span class="meta">priority {found:.0f}</span>'


def _latency(now_ms: object, latency: Mapping[str, Any]) -> str:
    current = milliseconds(now_ms) or DASH
    p50, p95 = milliseconds(latency.get("p50Ms")), milliseconds(latency.get("p95Ms"))
    spread = [f"p50 {p50}" if p50 else "", f"p95 {p95}" if p95 else ""]
    extra = " · ".join(s for s in spread if s)
    return current + (f'<br><span class="meta">{extra}</span>' if extra else "")


def _chats(chat: Mapping[str, Any]) -> str:
    requests = number(chat.get("requests"))
    if requests is None:
        return DASH
    parts = [f"{requests:.0f} chats"]
    rate = percent(chat.get("successRate"))
    if rate:
        parts.append(f"{rate} ok")
    ttft = milliseconds(chat.get("meanTtftMs"))
    if ttft:
        parts.append(f"first token {ttft}")
    return "<br>".join(parts)


def _last_error(inst: Mapping[str, Any], now: datetime | None) -> str:
    last = inst.get("lastError")
    if isinstance(last, Mapping):
        what = ": ".join(t for t in (text(last.get("reason")), text(last.get("message"))) if t)
        when = ago(last.get("at"), now)
        return f'{esc(what) or DASH}<br><span class="meta">{when}</span>'
    if inst.get("health") not in ("Healthy", "Disabled") and text(inst.get("message")):
        what = ": ".join(t for t in (text(inst.get("reason")), text(inst.get("message"))) if t)
        return f'{esc(what)}<br><span class="meta">at the last check</span>'
    return DASH


def _sync(inst: Mapping[str, Any]) -> str:
    changes = number(inst.get("changes"))
    counts = mapping(inst.get("models"))
    present, declared = number(counts.get("present")), number(counts.get("declared"))
    have = "?" if present is None else f"{present:.0f}"
    want = DASH if declared is None else f"{declared:.0f}"
    models = f"{have}/{want}"
    extra = f" · {changes:.0f} changes" if changes else ""
    return f'{badge(inst.get("sync"))}<br><span class="meta">models {models}{extra}</span>'


def models(doc: Mapping[str, Any]) -> str:
    """Per instance, its installed models with their details, declared or not, in sync or not."""
    now = moment(doc.get("generated_at"))
    by_instance: dict[str, list[Mapping[str, Any]]] = {}
    for model in items(doc.get("models")):
        by_instance.setdefault(text(model.get("instance")) or "?", []).append(model)
    parts = []
    for inst in items(doc.get("instances")):
        name = text(inst.get("name")) or "?"
        installed = number(mapping(inst.get("models")).get("installed"))
        empty = "inventory unknown" if installed is None else "no models installed"
        rows = [_model_row(m, now) for m in by_instance.get(name, [])]
        parts.append(
            f'<h3 id="{esc(f"models-{name}")}">{esc(name)} {badge(inst.get("sync"))}</h3>'
            + table(MODEL_HEADERS, rows, empty)
        )
    body = "".join(parts) or '<p class="empty">no instances are declared</p>'
    return f'<section id="models"><h2>Models</h2>{body}</section>'


def _model_row(model: Mapping[str, Any], now: datetime | None) -> str:
    size = number(model.get("size"))
    context = number(model.get("context_length"))
    declared, tone = _DECLARED.get(str(model.get("declared")), ("not declared", "mute"))
    sync = {"present": "yes", "absent": "no"}.get(str(model.get("declared")), DASH)
    caps = ", ".join(strings(model.get("capabilities")))
    cells = [
        f'<th scope="row"><code>{shown(model.get("model"))}</code></th>',
        f"<td>{units.size(int(size)) if size else DASH}</td>",
        f"<td>{shown(model.get('parameter_size'))}</td>",
        f"<td>{shown(model.get('quantization'))}</td>",
        f"<td>{f'{context:.0f}' if context else DASH}</td>",
        f"<td>{esc(caps) if caps else DASH}</td>",
        f"<td>{_loaded(model, now)}</td>",
        f"<td>{badge(declared, tone)}</td>",
        f"<td>{badge(sync, 'good' if sync == 'yes' else 'warn') if sync != DASH else DASH}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _loaded(model: Mapping[str, Any], now: datetime | None) -> str:
    if model.get("loaded") is not True:
        return DASH
    until = moment(model.get("loaded_until"))
    if now is None:
        return "yes"
    return esc(units.loaded(True, until, now))
