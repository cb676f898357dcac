"""Price-history charts: inline SVG for the HTML report, text for the terminal.

A chart draws one step line per listing (a price holds until the next state),
shades the periods a listing was out of stock, and draws the guides' band
thresholds as dashed lines. Labels are escaped; the SVG has no script and
loads nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

__all__ = ["Series", "Span", "price_chart_svg", "price_chart_text"]

COLORS = ("#1f6feb", "#d1242f", "#1a7f37", "#8250df", "#bc4c00", "#0a7d91", "#6e7781")


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime
    price: Decimal | None
    in_stock: bool


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    spans: Sequence[Span]


def _y_range(
    series: Sequence[Series], thresholds: Sequence[tuple[Decimal, str]]
) -> tuple[Decimal, Decimal]:
    prices = [s.price for x in series for s in x.spans if s.price is not None]
    if not prices:
        return Decimal(0), Decimal(1)
    low, high = min(prices), max(prices)
    for limit, _ in thresholds:  # show thresholds near the prices
        if low * Decimal("0.6") <= limit <= high * Decimal("1.6"):
            low, high = min(low, limit), max(high, limit)
    pad = (high - low) * Decimal("0.1") or high * Decimal("0.05") or Decimal(1)
    return max(Decimal(0), low - pad), high + pad


def price_chart_svg(
    series: Sequence[Series],
    *,
    start: datetime,
    end: datetime,
    thresholds: Sequence[tuple[Decimal, str]] = (),
    title: str = "",
    width: int = 640,
    height: int = 260,
) -> str:
    """A self-contained SVG step chart."""
    left, right, top = 56, 12, 24
    plot_w, plot_h = width - left - right, height - top - 40
    total = height + 16 * ((len(series) + 2) // 3)
    low, high = _y_range(series, thresholds)
    span_s = max((end - start).total_seconds(), 1.0)

    def x(t: datetime) -> float:
        return left + plot_w * min(max((t - start).total_seconds() / span_s, 0.0), 1.0)

    def y(p: Decimal) -> float:
        return top + plot_h * (1 - float((p - low) / (high - low)))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#d0d7de"/>',
    ]
    for i, s in enumerate(series):  # out-of-stock periods
        color = COLORS[i % len(COLORS)]
        for span in s.spans:
            if not span.in_stock and span.end > span.start:
                out.append(
                    f'<rect x="{x(span.start):.1f}" y="{top}" '
                    f'width="{max(x(span.end) - x(span.start), 1):.1f}" height="{plot_h}" '
                    f'fill="{color}" fill-opacity="0.10"><title>{escape(s.label)}: out of stock'
                    "</title></rect>"
                )
    for limit, label in thresholds:
        if low <= limit <= high:
            yy = y(limit)
            out.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" '
                'stroke="#6e7781" stroke-dasharray="4 3"/>'
                f'<text x="{left + plot_w - 4}" y="{yy - 4:.1f}" text-anchor="end" '
                f'font-size="11" fill="#57606a">{escape(label)}</text>'
            )
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        path: list[str] = []
        previous_y: float | None = None
        for span in s.spans:
            if span.price is None:
                previous_y = None
                continue
            yy = y(span.price)
            x1, x2 = x(span.start), x(span.end)
            if previous_y is None:
                path.append(f"M{x1:.1f},{yy:.1f}")
            else:
                path.append(f"V{yy:.1f}")
            path.append(f"H{max(x2, x1 + 1):.1f}")
            previous_y = yy
        if path:
            out.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="2">'
                f"<title>{escape(s.label)}</title></path>"
            )
    for p in (low, high):
        out.append(
            f'<text x="{left - 6}" y="{y(p) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#57606a">{p.quantize(Decimal(1))}</text>'
        )
    base = top + plot_h + 16
    out.append(
        f'<text x="{left}" y="{base}" font-size="11" fill="#57606a">'
        f"{start:%Y-%m-%d}</text>"
        f'<text x="{left + plot_w}" y="{base}" text-anchor="end" font-size="11" '
        f'fill="#57606a">{end:%Y-%m-%d}</text>'
    )
    for i, s in enumerate(series):  # legend, three per row
        lx = left + (i % 3) * (plot_w // 3)
        ly = base + 20 + 16 * (i // 3)
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{lx + 14}" y="{ly}" font-size="12" fill="#24292f">'
            f"{escape(s.label[:40])}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def price_chart_text(
    series: Sequence[Series], *, start: datetime, end: datetime, width: int = 60, height: int = 10
) -> str:
    """A text chart for terminals: one letter per listing, ``·`` where it was out of stock."""
    low, high = _y_range(series, ())
    grid = [[" "] * width for _ in range(height)]
    for i, s in enumerate(series):
        mark = chr(ord("A") + i % 26)
        for col in range(width):
            t = start + (end - start) * (col / max(width - 1, 1))
            current = next((sp for sp in s.spans if sp.start <= t <= sp.end), None)
            if current is None:
                continue
            if not current.in_stock and grid[height - 1][col] == " ":
                grid[height - 1][col] = "·"
            if current.price is None:
                continue
            row = height - 1 - round(float((current.price - low) / (high - low)) * (height - 1))
            grid[row][col] = mark
    lines = []
    for r, cells in enumerate(grid):
        value = high - (high - low) * Decimal(r) / Decimal(max(height - 1, 1))
        lines.append(f"{value:>10.2f} │{''.join(cells)}")
    lines.append(" " * 11 + "└" + "─" * width)
    lines.append(" " * 12 + f"{start:%Y-%m-%d}".ljust(width - 10) + f"{end:%Y-%m-%d}")
    for i, s in enumerate(series):
        lines.append(f"  {chr(ord('A') + i % 26)}  {s.label}")
    return "\n".join(lines)
