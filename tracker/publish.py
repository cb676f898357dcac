"""After a run: re-render the guides whose displayed values changed and write the feed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tracker.config import Config
from tracker.feed import write_feed
from tracker.render import RenderResult, render_guides
from tracker.store import Store

__all__ = ["Published", "publish"]


@dataclass(slots=True)
class Published:
    guides: RenderResult = field(default_factory=RenderResult)
    feed: Path | None = None  # set when the feed was written

    def lines(self) -> list[str]:
        out = [f"wrote {path}" for path in self.guides.written]
        if self.feed is not None:
            out.append(f"wrote {self.feed}")
        return out


def publish(config: Config, store: Store, *, now: datetime, changed: bool = True) -> Published:
    """Render what changed; write the feed when the run changed something or a guide moved."""
    result = Published()
    if not config.guides:
        return result
    result.guides = render_guides(config, store, now=now)
    if (changed or result.guides.written or config.feed is None or not config.feed.exists()) and (
        write_feed(config, store, now=now)
    ):
        result.feed = config.feed
    return result
