"""``tracker report``: choose the window, build the report, write and deliver it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracker.config import Config
from tracker.deliver import post_webhook, redact, send_email
from tracker.errors import ConfigError, TrackerError
from tracker.pipeline import Clock, utc_now
from tracker.render import atomic_write
from tracker.report import build_report, render_report, report_json, write_failing_pages
from tracker.store import open_store

__all__ = ["ReportResult", "make_report", "parse_since"]

DEFAULT_WINDOW = timedelta(hours=24)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(slots=True)
class ReportResult:
    text: str
    since: datetime
    until: datetime
    lines: list[str] = field(default_factory=list)


def parse_since(text: str, *, now: datetime) -> datetime:
    """A date/time (ISO 8601, UTC when no offset is given) or a duration back from now."""
    match = _DURATION.match(text)
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise TrackerError(
            f"--since {text!r}: use a date/time such as 2026-11-01T08:00Z or a duration "
            'such as "24h" or "7d"'
        ) from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def make_report(
    config: Config,
    *,
    since: str | None = None,
    since_last: bool = False,
    fmt: str = "md",
    output: Path | None = None,
    email: bool = False,
    webhook: str | None = None,
    now: Clock = utc_now,
) -> ReportResult:
    """Build the report for the chosen window, write it, deliver it, remember it."""
    until = now()
    if email and config.report.email is None:
        raise ConfigError("--email needs a [report.email] table (host, sender, recipients)")
    with open_store(config.tracker.database) as store:
        if since is not None:
            start = parse_since(since, now=until)
        elif since_last:
            start = store.last_report_until() or until - DEFAULT_WINDOW
        else:
            start = until - DEFAULT_WINDOW
        report = build_report(config, store, since=start, until=until, charts=fmt == "html")
        if output is not None and fmt in ("html", "md"):
            write_failing_pages(report, store, output.parent)
        text = render_report(report, config, fmt=fmt)
        result = ReportResult(text=text, since=start, until=until)
        if output is not None:
            atomic_write(output, text.encode("utf-8"))
            result.lines.append(f"wrote {output}")
        if email:
            settings = config.report.email
            assert settings is not None
            html = (
                text
                if fmt == "html"
                else render_report(
                    build_report(config, store, since=start, until=until), config, fmt="html"
                )
            )
            plain = text if fmt == "md" else render_report(report, config, fmt="md")
            counts = report.counts()
            subject = (
                f"Price report: {counts['price_changes']} price changes, "
                f"{counts['quarantined']} held for review, {counts['failing']} failing"
            )
            send_email(settings, subject=subject, html=html, text=plain)
            result.lines.append(f"sent to {', '.join(settings.recipients)}")
        target = webhook or config.report.webhook
        if target:
            status = post_webhook(target, report_json(report))
            result.lines.append(f"posted to {redact(target)} (HTTP {status})")
        store.record_report(since=start, until=until, now=until)
    return result
