"""tracker: price and availability tracking for publishers of buying guides."""

from __future__ import annotations

__version__ = "0.1.0"
