"""The receiver checks headers before the body, bounds the body, and never fails with a 500.

The app is driven over raw ASGI so the test sees how much of the body it asked for.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from followthrough.web.receiver import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    create_receiver,
    sign,
)

SECRET = b"receiver-secret-for-tests"


class Exchange:
    """One request over ASGI: the body in chunks, counting the chunks the app read."""

    def __init__(self, headers: dict[str, str], chunks: list[bytes]) -> None:
        self.headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
        self.chunks = list(chunks)
        self.reads = 0
        self.sent: list[dict[str, Any]] = []

    async def run(self, app: Any) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/callbacks",
            "raw_path": b"/callbacks",
            "query_string": b"",
            "root_path": "",
            "headers": self.headers,
            "client": ("127.0.0.1", 5000),
            "server": ("receiver", 80),
        }
        await app(scope, self.receive, self.send)

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")

    @property
    def text(self) -> str:
        return b"".join(
            m.get("body", b"") for m in self.sent if m["type"] == "http.response.body"
        ).decode()


def headers_for(body: bytes, **extra: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(SECRET, timestamp, body),
        "content-type": "application/json",
        **extra,
    }


@pytest.fixture
def app(store) -> Any:
    return create_receiver(None, store, SECRET)


async def test_unsigned_request_is_refused_before_its_body_is_read(app):
    exchange = Exchange({"content-type": "application/json"}, [b"{" * 1000] * 50)
    await exchange.run(app)
    assert exchange.status == 401
    assert exchange.reads == 0  # not one chunk of the body was asked for
    assert "\n" not in exchange.text and "missing signature" in exchange.text


async def test_a_declared_body_over_the_limit_is_refused_unread(app):
    body = b"x" * (MAX_BODY_BYTES + 1)
    exchange = Exchange(headers_for(body, **{"content-length": str(len(body))}), [body])
    await exchange.run(app)
    assert exchange.status == 413
    assert exchange.reads == 0


async def test_an_actual_body_over_the_limit_stops_being_read(app):
    chunk = b"x" * 16_384
    chunks = [chunk] * 100  # 1.6 MB, streamed without a Content-Length
    exchange = Exchange(headers_for(b"".join(chunks)), chunks)
    await exchange.run(app)
    assert exchange.status == 413
    assert exchange.reads <= MAX_BODY_BYTES // len(chunk) + 1


async def test_a_non_ascii_signature_is_a_401_not_a_500(app):
    body = json.dumps({"event": "replied", "message_id": "SM1"}).encode()
    for signature in ("sha256=" + "é" * 64, "sha256=ünïcødé", "é"):
        exchange = Exchange(headers_for(body, **{SIGNATURE_HEADER: signature}), [body])
        await exchange.run(app)
        assert exchange.status == 401, signature
        assert json.loads(exchange.text)["action"] == "bad signature"


async def test_a_signed_body_under_the_limit_is_still_read(app):
    body = json.dumps({"event": "replied", "message_id": "nobody"}).encode()
    exchange = Exchange(headers_for(body), [body[:10], body[10:]])
    await exchange.run(app)
    assert exchange.status == 404  # authentic; it just names no message
