"""Server-rendered SVG charts: the geometry is computed here, the templates only draw the shapes.

Colours come from CSS classes (the stylesheet), never inline styles, so the Content-Security-Policy holds; every
chart has a title and a description and sits next to a table with the same numbers.
"""

from __future__ import annotations

from typing import Any, Sequence

from registry.web import fmt_money, fmt_number, pick

WIDTH = 640
LABEL_WIDTH = 170
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 8
VALUE_WIDTH = 150


def requirement_bars(markets: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per market, one 100-unit-wide stacked bar: recognized, conditional, still owed."""
    out = {}
    for m in markets:
        total = m["total"] or 1
        x = 0.0
        segments = []
        for key in ("recognized", "conditional", "owed"):
            width = 100.0 * m[key] / total
            if width:
                segments.append({"cls": key, "x": round(x, 2), "width": round(width, 2), "value": m[key]})
            x += width
        out[m["market"]["code"]] = segments
    return out


def _frame(rows: int) -> dict[str, Any]:
    return {"width": WIDTH, "height": TOP * 2 + rows * ROW_HEIGHT + 24, "plot_x": LABEL_WIDTH,
            "plot_width": WIDTH - LABEL_WIDTH - VALUE_WIDTH, "legend_y": TOP + rows * ROW_HEIGHT + 16}


def stacked_bars(rows: Sequence[tuple[str, Sequence[tuple[str, float, str]]]], legend: Sequence[tuple[str, str]],
                 value_text: Sequence[str]) -> dict[str, Any]:
    """Horizontal stacked bars on a common scale: rows of (label, [(css class, value, tooltip)])."""
    chart = _frame(len(rows))
    scale = max((sum(v for _c, v, _t in parts) for _l, parts in rows), default=0) or 1
    chart["rows"] = []
    for i, ((label, parts), text) in enumerate(zip(rows, value_text)):
        y = TOP + i * ROW_HEIGHT
        x = float(chart["plot_x"])
        bars = []
        for cls, value, tip in parts:
            width = chart["plot_width"] * value / scale
            if width > 0:
                bars.append({"cls": cls, "x": round(x, 1), "width": round(max(width, 1.5), 1), "title": tip})
            x += width
        chart["rows"].append({"label": label, "y": y, "text_y": y + BAR_HEIGHT - 3, "bar_y": y, "bars": bars,
                              "value": text, "value_x": round(x + 6, 1)})
    chart["bar_height"] = BAR_HEIGHT
    chart["legend"] = legend_items(legend)
    return chart


def text_width(text: str, size: int = 12) -> float:
    """A rough width of a label in pixels (CJK characters are about twice as wide as Latin ones)."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in str(text))


def legend_items(legend: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    items, x = [], float(LABEL_WIDTH)
    for cls, label in legend:
        items.append({"cls": cls, "label": label, "x": round(x, 1)})
        x += 16 + text_width(label) + 24
    return items


def verdict_chart(per_market: Sequence[dict[str, Any]], labels: dict[str, Any]) -> dict[str, Any]:
    """Dashboard: how many of the maker's products each market accepts, accepts on conditions, or blocks."""
    rows = []
    texts = []
    for m in per_market:
        v = m["verdicts"]
        name = f"{m['market']['code']} · {pick(m['market']['name'])}"
        rows.append((name, [("accessible", v.get("accessible", 0), f"{labels['accessible']}: {v.get('accessible', 0)}"),
                            ("accessible_with_conditions", v.get("accessible_with_conditions", 0),
                             f"{labels['accessible_with_conditions']}: {v.get('accessible_with_conditions', 0)}"),
                            ("blocked", v.get("blocked", 0), f"{labels['blocked']}: {v.get('blocked', 0)}")]))
        texts.append(" / ".join(fmt_number(v.get(k, 0)) for k in ("accessible", "accessible_with_conditions", "blocked")))
    return stacked_bars(rows, [("accessible", labels["accessible"]),
                               ("accessible_with_conditions", labels["accessible_with_conditions"]),
                               ("blocked", labels["blocked"])], texts)


def cost_chart(per_market: Sequence[dict[str, Any]], currency: str, labels: dict[str, Any]) -> dict[str, Any]:
    """Dashboard: the cost of the tests still owed per market, as a low estimate plus the range to the high one."""
    rows, texts = [], []
    for m in per_market:
        name = f"{m['market']['code']} · {pick(m['market']['name'])}"
        rows.append((name, [("cost-min", m["cost_min"], f"{labels['low']}: {fmt_money(m['cost_min'], currency)}"),
                            ("cost-range", m["cost_max"] - m["cost_min"],
                             f"{labels['high']}: {fmt_money(m['cost_max'], currency)}")]))
        texts.append(f"{fmt_money(m['cost_min'], currency)} – {fmt_money(m['cost_max'], currency)}")
    return stacked_bars(rows, [("cost-min", labels["low"]), ("cost-range", labels["range"])], texts)


def impact_chart(markets: Sequence[dict[str, Any]], labels: dict[str, Any]) -> dict[str, Any]:
    """What-if: per market, products gaining access to the right of the axis, losing it to the left."""
    chart = _frame(len(markets))
    half = chart["plot_width"] / 2
    axis = chart["plot_x"] + half
    scale = max((max(m["gaining"], m["losing"]) for m in markets), default=0) or 1
    chart["axis_x"] = round(axis, 1)
    chart["rows"] = []
    for i, m in enumerate(markets):
        y = TOP + i * ROW_HEIGHT
        gain = half * m["gaining"] / scale
        loss = half * m["losing"] / scale
        bars = []
        if loss:
            bars.append({"cls": "losing", "x": round(axis - loss, 1), "width": round(max(loss, 1.5), 1),
                         "title": f"{labels['losing']}: {m['losing']}"})
        if gain:
            bars.append({"cls": "gaining", "x": round(axis, 1), "width": round(max(gain, 1.5), 1),
                         "title": f"{labels['gaining']}: {m['gaining']}"})
        chart["rows"].append({"label": f"{m['market']['code']} · {pick(m['market']['name'])}", "y": y,
                              "text_y": y + BAR_HEIGHT - 3, "bar_y": y, "bars": bars,
                              "value": f"+{m['gaining']} / −{m['losing']}",
                              "value_x": round(chart["plot_x"] + chart["plot_width"] + 6, 1)})
    chart["bar_height"] = BAR_HEIGHT
    chart["legend"] = legend_items([("losing", labels["losing"]), ("gaining", labels["gaining"])])
    return chart


HEAT_CELL = 58
HEAT_LABEL = 64


def heat_map(markets: Sequence[str], shares: dict[str, dict[str, dict[str, float]]], key: str) -> dict[str, Any]:
    """Source regime (rows) x target market (columns): share of the target's requirements, in six shades."""
    cells = []
    for i, source in enumerate(markets):
        for j, target in enumerate(markets):
            entry = shares.get(source, {}).get(target)
            value = entry.get(key) if entry else None
            shade = "none" if value is None else str(min(5, int(value * 5 + 1e-9)))
            cells.append({"source": source, "target": target, "x": HEAT_LABEL + j * HEAT_CELL,
                          "y": 28 + i * HEAT_CELL, "size": HEAT_CELL - 2, "shade": shade,
                          "text": "—" if value is None else f"{round(value * 100)}%",
                          "text_x": HEAT_LABEL + j * HEAT_CELL + (HEAT_CELL - 2) / 2,
                          "text_y": 28 + i * HEAT_CELL + HEAT_CELL / 2 + 4})
    return {"width": HEAT_LABEL + len(markets) * HEAT_CELL + 4, "height": 28 + len(markets) * HEAT_CELL + 4,
            "cells": cells,
            "columns": [{"code": m, "x": HEAT_LABEL + j * HEAT_CELL + (HEAT_CELL - 2) / 2} for j, m in enumerate(markets)],
            "rows": [{"code": m, "y": 28 + i * HEAT_CELL + HEAT_CELL / 2 + 4} for i, m in enumerate(markets)]}
