"""What the commands show people: a progress bar on a terminal, plain log lines
otherwise (timers and cron have no terminal), tables for history.

Scraped text (titles, errors quoting a page) is shown through rich with markup
escaped, so a page cannot style or spoof the terminal output.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tracker.charts import Series, Span, price_chart_text
from tracker.money import format_amount
from tracker.pipeline import RunSummary
from tracker.store import (
    CHANGED,
    HELD,
    NEW,
    UNCHANGED,
    CheckResult,
    HistoryRow,
    ListingRef,
    ObservedState,
)

__all__ = ["RunProgress", "history_table"]

log = logging.getLogger("tracker.run")


class RunProgress:
    """Reports each checked listing: a bar on a terminal, one log line each otherwise."""

    def __init__(self, *, enabled: bool = True, total: int | None = None) -> None:
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self.total = total

    def __enter__(self) -> RunProgress:
        if self.tty:
            self._progress = Progress(
                TextColumn("checking"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=self.total)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def on_start(self, total: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)

    def on_result(self, listing: ListingRef, result: CheckResult, outcome: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
            self._progress.update(self._task, description=escape(listing.retailer))
            if outcome not in (NEW, CHANGED, UNCHANGED, HELD):
                self._progress.console.print(
                    f"[red]failed[/red] {escape(listing.product_id)} @ {escape(listing.retailer)}:"
                    f" {escape(outcome)}: {escape(result.error or '')}"
                )
            return
        if not self.enabled:
            return
        offer = result.offer
        if outcome in (NEW, CHANGED, UNCHANGED, HELD):
            price = (
                f"{format_amount(offer.price, offer.currency)} {offer.currency or ''}".strip()
                if offer and offer.price is not None
                else "-"
            )
            availability = offer.availability.value if offer and offer.availability else "-"
            if result.not_modified:
                price, availability = "(not modified)", ""
            log.info(
                "%s %s @ %s: %s %s",
                outcome,
                listing.product_id,
                listing.retailer,
                price,
                availability,
            )
        else:
            log.warning(
                "failed %s @ %s (%s): %s: %s",
                listing.product_id,
                listing.retailer,
                listing.url,
                outcome,
                result.error or "",
            )

    @staticmethod
    def summary_line(summary: RunSummary) -> str:
        line = (
            f"checked {summary.checked} listings: {summary.changed} changed, {summary.new} new, "
            f"{summary.unchanged} unchanged, {summary.failed} failed"
        )
        if summary.held:
            line += f"; {summary.held} held for review (tracker report)"
        if summary.failures:
            kinds = ", ".join(f"{k}: {n}" for k, n in sorted(summary.failures.items()))
            line += f" ({kinds})"
        return line


def history_table(product_id: str, rows: Sequence[HistoryRow], *, timezone: str) -> None:
    """Print the product's history as a table, times in the configured zone."""
    tz = ZoneInfo(timezone)
    # no terminal (a pipe, a log file): wide enough that no cell wraps
    console = Console(width=None if sys.stdout.isatty() else 200)
    if not rows:
        console.print(f"no history yet for {escape(product_id)}: run `tracker run` first")
        return
    table = Table(title=f"{escape(product_id)} price history ({timezone})")
    for name in ("retailer", "from", "to", "checks", "price", "currency", "availability"):
        table.add_column(name, justify="right" if name in ("checks", "price") else "left")
    fmt = "%Y-%m-%d %H:%M"
    for row in rows:
        table.add_row(
            escape(row.retailer),
            row.first_seen.astimezone(tz).strftime(fmt),
            row.last_seen.astimezone(tz).strftime(fmt),
            str(row.checks),
            format_amount(row.price, row.currency) if row.price is not None else "-",
            row.currency or "-",
            row.availability.value if row.availability else "-",
        )
    console.print(table)


def history_chart(
    states: Mapping[tuple[str, str, str], Sequence[ObservedState]], *, now: datetime
) -> str:
    """The product's history as a text chart (``tracker history --chart``)."""
    series = []
    starts = []
    for (_pid, retailer, _url), rows in states.items():
        shown = [r for r in rows if not r.held]
        if not shown:
            continue
        ends = [r.first_seen for r in shown[1:]] + [now]
        spans = [
            Span(start=r.first_seen, end=end, price=r.price, in_stock=r.purchasable)
            for r, end in zip(shown, ends, strict=True)
        ]
        starts.append(shown[0].first_seen)
        series.append(Series(label=retailer, spans=spans))
    if not series:
        return "no history to chart yet"
    return price_chart_text(series, start=min(starts), end=now)
