"""Posting a health report to the gateway, and reading its reply (stdlib HTTP, no session).

    reply = post_health(health_url("ws://gw:8000/ws/audio"), report, ClientOptions(token=...))

A refusal raises `HealthRefused` with the gateway's code, message and `Retry-After`; a
gateway that cannot be reached raises OSError. Each post is bounded by `timeout_s`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from ingress_common.client import ClientOptions
from ingress_common.health import HEALTH_PATH, HealthReply, HealthReport

POST_TIMEOUT_S = 5.0


class HealthRefused(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after_s: float | None) -> None:
        self.status, self.code, self.retry_after_s = status, code, retry_after_s
        super().__init__(f"{status} {code}: {message}")


def health_url(gateway_url: str) -> str:
    """The health endpoint of the gateway whose audio URL is `gateway_url` (ws:// or wss://)."""
    parts = urlsplit(gateway_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, HEALTH_PATH, "", ""))


def post_health(url: str, report: HealthReport, options: ClientOptions,
                timeout_s: float = POST_TIMEOUT_S) -> HealthReply:
    headers = {"Content-Type": "application/json"}
    token = options.bearer()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=report.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s,  # noqa: S310 - http(s) only
                                    context=options.ssl_context) as response:
            return HealthReply.decode(response.read(64 * 1024))
    except urllib.error.HTTPError as exc:
        body = exc.read(64 * 1024)
        try:
            message = json.loads(body)
            code, text = str(message["code"]), str(message["message"])
        except (ValueError, KeyError, TypeError):
            code, text = "http_error", body[:200].decode(errors="replace")
        retry_after = exc.headers.get("Retry-After")
        raise HealthRefused(exc.code, code, text,
                            float(retry_after) if retry_after else None) from None
