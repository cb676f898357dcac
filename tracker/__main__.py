"""``python -m tracker``: the same as the ``tracker`` command."""

from __future__ import annotations

from tracker.cli import entry

entry()
