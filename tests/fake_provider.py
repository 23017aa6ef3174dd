"""A real local HTTP email + SMS API for fault tests: scripted answers, a request log.

It listens on 127.0.0.1 on a free port, in a thread, and behaves like the real APIs where it
matters here: it accepts a message once per `Idempotency-Key` (a repeat of a key it already
accepted gets the first answer back and delivers nothing new), and it can fail on cue:
`script("email", 500, 500)` answers the next two email requests with 500s;
`down("sms", seconds)` answers 503 for a while; `hold("email")` accepts the next email and
keeps the response back until `release()`, so a worker can be killed mid-send.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from followthrough.platform.settings import Settings


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One request as the provider saw it."""

    at: float  # time.monotonic()
    channel: str
    key: str
    recipient: str
    status: int
    delivered: bool  # a new message went out with this request


class FakeProvider:
    """The scripted provider; `requests` is its log, `deliveries` what it really sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: dict[str, list[Answer | str]] = {"email": [], "sms": []}
        self._down_until: dict[str, float] = {}
        self._accepted: dict[str, str] = {}  # idempotency key -> message id
        self.requests: list[Seen] = []
        self.held = threading.Event()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ test controls

    def script(self, channel: str, *answers: int | Answer) -> None:
        """The next answers on `channel`, in order; after them every request succeeds."""
        with self._lock:
            for answer in answers:
                self._script[channel].append(
                    answer if isinstance(answer, Answer) else Answer(answer, _error(answer))
                )

    def down(self, channel: str, seconds: float) -> float:
        """Answer 503 on `channel` for `seconds`; returns when it comes back (monotonic)."""
        until = time.monotonic() + seconds
        with self._lock:
            self._down_until[channel] = until
        return until

    def hold(self, channel: str) -> None:
        """Accept the next message on `channel` but keep the answer back until `release()`."""
        with self._lock:
            self._script[channel].append("hold")

    def release(self) -> None:
        self._release.set()

    def on(self, channel: str) -> list[Seen]:
        return [r for r in self.requests if r.channel == channel]

    def deliveries(self, channel: str | None = None) -> list[str]:
        """Idempotency keys of the messages that really went out (one per new key)."""
        return [r.key for r in self.requests if r.delivered and channel in (None, r.channel)]

    def settings(self, base: Settings) -> Settings:
        """`base` with both channels pointed at this provider."""
        from dataclasses import replace

        fields: dict[str, Any] = self.env_fields()
        return replace(base, **fields)

    def env_fields(self) -> dict[str, str]:
        return {
            "email_provider": "http",
            "email_api_url": f"{self.url}/email",
            "email_api_token": "test-token",
            "sms_provider": "http",
            "sms_api_url": f"{self.url}/sms",
            "sms_account_sid": "AC-test",
            "sms_auth_token": "test-token",
        }

    def env(self) -> dict[str, str]:
        """The same, as the environment variables a worker process reads."""
        return {k.upper(): v for k, v in self.env_fields().items()}

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @contextmanager
    def running(self) -> Iterator[FakeProvider]:
        self._thread.start()
        try:
            yield self
        finally:
            self._release.set()
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------ the server

    def _answer(self, channel: str, key: str) -> tuple[Answer, bool, bool]:
        """Decide the answer: (answer, hold it back, a new message went out)."""
        with self._lock:
            if key in self._accepted:  # a retry of a message already sent: same answer
                return _ok(channel, self._accepted[key]), False, False
            if time.monotonic() < self._down_until.get(channel, 0.0):
                return Answer(503, _error(503)), False, False
            step = self._script[channel].pop(0) if self._script[channel] else None
            if isinstance(step, Answer):
                return step, False, False
            message_id = f"{channel}-{len(self._accepted) + 1}"
            self._accepted[key] = message_id
            return _ok(channel, message_id), step == "hold", True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                channel = self.path.strip("/")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if channel == "email":
                    recipient = json.loads(raw or "{}").get("To", "")
                else:
                    recipient = parse_qs(raw).get("To", [""])[0]
                key = self.headers.get("Idempotency-Key", "")
                answer, hold, delivered = provider._answer(channel, key)
                provider.requests.append(
                    Seen(time.monotonic(), channel, key, recipient, answer.status, delivered)
                )
                if hold:
                    provider.held.set()
                    provider._release.wait(timeout=20)
                body = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the caller is gone (killed mid-send)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _ok(channel: str, message_id: str) -> Answer:
    return Answer(200, {"MessageID": message_id} if channel == "email" else {"sid": message_id})


def _error(status: int) -> dict[str, Any]:
    if status == 400:
        return {"ErrorCode": 300, "Message": "Invalid 'To' address: bad recipient"}
    if status == 429:
        return {"Message": "Too many requests"}
    return {"Message": f"server error {status}"}
