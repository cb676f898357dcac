"""Deliver reports: by email over SMTP (STARTTLS) and by webhook (JSON POST).

The SMTP password comes from the environment variable named in the
configuration (``[report.email] password_env``), never from the file, and is
never logged.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import httpx

from tracker.config import EmailSettings
from tracker.errors import TrackerError, redact

__all__ = ["DeliveryError", "post_webhook", "redact", "send_email"]


class DeliveryError(TrackerError):
    """A report could not be delivered."""


def send_email(
    settings: EmailSettings,
    *,
    subject: str,
    html: str,
    text: str,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Send the report as a multipart (text and HTML) message."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    password = None
    if settings.password_env:
        password = environ.get(settings.password_env)
        if password is None:
            raise DeliveryError(
                f"set the environment variable {settings.password_env} to the SMTP password "
                "([report.email] password_env)"
            )
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # the message never includes the password
        raise DeliveryError(
            f"cannot send the report by email via {settings.host}:{settings.port}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def post_webhook(url: str, payload: Any, *, timeout: float = 30.0) -> int:
    """POST the JSON report; returns the HTTP status."""
    try:
        response = httpx.post(
            url,
            content=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(
            f"cannot POST the report to {redact(url)}: {type(exc).__name__}"
        ) from None
    if response.status_code >= 400:
        raise DeliveryError(f"the webhook {redact(url)} answered HTTP {response.status_code}")
    return response.status_code
