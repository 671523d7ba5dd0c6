"""Server-side chart geometry for the reports page: stacked bars and lines as plain numbers that
templates/reports/_charts.html draws as inline SVG (no script, no CDN). Series colours are CSS
classes `s0`..`s5` (webapp/static/reports.css)."""

from __future__ import annotations

import math
from typing import Any

WIDTH, HEIGHT = 1240, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
MAX_X_LABELS = 20


def nice_max(value: float, ticks: int = 4) -> tuple[float, float]:
    """A round axis maximum >= value and its whole-number tick step (1, 2 or 5 times a power of ten)."""
    if value <= ticks:
        return float(ticks), 1.0
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = max(1.0, next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw and (m * power) % 1 == 0))
    return step * math.ceil(value / step - 1e-9), step


def _frame(labels: list[str], top_value: float, fmt: str,
           axis: tuple[float, float] | None = None) -> dict[str, Any]:
    axis_max, step = axis or nice_max(top_value)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    ticks = []
    value = 0.0
    while value <= axis_max + 1e-9:
        ticks.append({"y": round(TOP + plot_h - value / axis_max * plot_h, 1), "text": fmt.format(value)})
        value += step
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "plot_w": plot_w, "plot_h": plot_h,
        "bottom": TOP + plot_h, "slot": slot, "axis_max": axis_max, "ticks": ticks,
        "xlabels": [{"x": round(LEFT + slot * (i + 0.5), 1), "y": HEIGHT - 8, "text": text}
                    for i, text in enumerate(labels) if i % every == 0 or i == len(labels) - 1],
    }


def _y(frame: dict[str, Any], value: float) -> float:
    return frame["bottom"] - value / frame["axis_max"] * frame["plot_h"]


def stacked_bars(labels: list[str], series: list[tuple[str, list[float]]], fmt: str = "{:.0f}") -> dict[str, Any]:
    """One bar per label, its series stacked bottom-up in the given order."""
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    frame = _frame(labels, max(totals, default=0), fmt)
    width = min(frame["slot"] * 0.62, 56)
    bars = []
    for i, label in enumerate(labels):
        x = LEFT + frame["slot"] * (i + 0.5) - width / 2
        base = 0.0
        for n, (name, values) in enumerate(series):
            value = values[i]
            if value:
                top, bottom = _y(frame, base + value), _y(frame, base)
                bars.append({"x": round(x, 1), "y": round(top, 1), "w": round(width, 1),
                             "h": round(bottom - top, 1), "cls": f"s{n % 6}",
                             "title": f"{label} · {name}: {fmt.format(value)}"})
            base += value
    return {**frame, "kind": "bars", "bars": bars,
            "legend": [{"name": name, "cls": f"s{n % 6}"} for n, (name, _) in enumerate(series)],
            "totals": [{"x": round(LEFT + frame["slot"] * (i + 0.5), 1), "y": round(_y(frame, t) - 4, 1),
                        "text": fmt.format(t)} for i, t in enumerate(totals) if t]}


def lines(labels: list[str], series: list[tuple[str, list[float | None]]], fmt: str = "{:.0f}",
          axis: tuple[float, float] | None = None) -> dict[str, Any]:
    """One line per series; a None value breaks the line (no data in that period). `axis` fixes the
    axis maximum and tick step (e.g. (1.0, 0.25) for a rate, (5, 1) for a 1-5 score)."""
    values = [v for _, vals in series for v in vals if v is not None]
    frame = _frame(labels, max(values, default=0), fmt, axis)
    drawn = []
    for n, (name, vals) in enumerate(series):
        segments: list[list[str]] = [[]]
        dots = []
        for i, value in enumerate(vals):
            if value is None:
                segments.append([])
                continue
            x, y = round(LEFT + frame["slot"] * (i + 0.5), 1), round(_y(frame, value), 1)
            segments[-1].append(f"{x},{y}")
            dots.append({"x": x, "y": y, "title": f"{labels[i]} · {name}: {fmt.format(value)}",
                         "text": fmt.format(value)})
        drawn.append({"name": name, "cls": f"s{n % 6}", "segments": [" ".join(s) for s in segments if len(s) > 1],
                      "dots": dots})
    return {**frame, "kind": "lines", "lines": drawn,
            "legend": [{"name": name, "cls": f"s{n % 6}"} for n, (name, _) in enumerate(series)]}
