"""The exceptions tracker raises.

Every error tracker raises on purpose derives from ``TrackerError``; lower-level
errors (httpx, SQLAlchemy, OS, TOML) are translated where they cross into
tracker and kept as ``__cause__``::

    TrackerError
    ├── ConfigError     the configuration file is missing or invalid (exit code 2)
    ├── FetchError      a listing page could not be fetched
    │   └── BodyTooLarge    the body (decompressed) passed ``max_body_bytes``
    ├── ExtractError    a page could not be read at all (not: "no price found")
    ├── StoreError      the history database could not be opened, migrated or written
    └── RenderError     a guide, feed or report could not be rendered or written

Messages say what is wrong, where, and what to do about it.
"""

from __future__ import annotations

import re

__all__ = [
    "BodyTooLarge",
    "ConfigError",
    "ExtractError",
    "FetchError",
    "RenderError",
    "StoreError",
    "TrackerError",
    "exception_text",
    "redact",
]


def exception_text(exc: BaseException) -> str:
    """A lower-level exception as a message names it: ``ConnectError: [SSL: ...]``, or
    the bare class name when it carries no text."""
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def redact(url: str) -> str:
    """The URL with any password in it replaced by ``***``: what messages and logs show."""
    return re.sub(r"((?:^|//)[^/@:\s]*:)[^/@\s]*@", r"\1***@", url)


class TrackerError(Exception):
    """Base of every error tracker raises on purpose."""


class ConfigError(TrackerError):
    """The configuration is missing or invalid; the message names the key path."""


class FetchError(TrackerError):
    """A page could not be fetched. ``kind`` is a short machine-readable failure kind."""

    def __init__(self, message: str, *, kind: str = "network") -> None:
        super().__init__(message)
        self.kind = kind


class BodyTooLarge(FetchError):
    """The response body (after decompression) exceeded the configured limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="too_large")


class ExtractError(TrackerError):
    """A page could not be parsed at all."""


class StoreError(TrackerError):
    """The history database could not be opened, migrated, read or written."""


class RenderError(TrackerError):
    """A guide, feed or report could not be rendered or written."""
