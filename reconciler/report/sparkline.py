"""A latency sparkline as inline SVG: no script, no external resource, readable in dark mode.

Points are placed by their time (a gap in the probes shows as a longer segment) and by their value
from zero to the window's highest, so that a flat line near the bottom means "fast and steady".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reconciler.report import units
from reconciler.report.html_values import esc, moment, number

WIDTH, HEIGHT, PAD = 120.0, 28.0, 2.0
MIN_POINTS = 2


def series_points(raw: object) -> list[tuple[datetime, float]]:
    """`[[iso, ms], ...]` as (time, ms) pairs in time order; malformed entries left out."""
    points = []
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        for entry in raw:
            if isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2:
                when, value = moment(entry[0]), number(entry[1])
                if when is not None and value is not None and value >= 0:
                    points.append((when, value))
    return sorted(points, key=lambda p: p[0])


def sparkline(points: Sequence[tuple[datetime, float]], label: str) -> str | None:
    """The SVG of `points` (None when there are fewer than two), titled `label`."""
    if len(points) < MIN_POINTS:
        return None
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0
    top = max(value for _, value in points) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(when: datetime, value: float) -> tuple[float, float]:
        x = PAD + inner_w * (when - start).total_seconds() / span
        return x, PAD + inner_h * (1 - value / top)

    coords = [xy(when, value) for when, value in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    last_x, last_y = coords[-1]
    title = f"{label}: {len(points)} probes, highest {units.latency(top)}"
    return (
        f'<svg class="spark" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" width="{WIDTH:.0f}" '
        f'height="{HEIGHT:.0f}" role="img" aria-label="{esc(title)}">'
        f"<title>{esc(title)}</title>"
        f'<polyline points="{line}" fill="none" stroke="currentColor" stroke-width="1.5" '
        'stroke-linejoin="round" stroke-linecap="round"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2" fill="currentColor"/></svg>'
    )
