"""The one fake HTTP provider for tests: a real local server, scripted answers, a request log.

It listens on 127.0.0.1 on a free port, in a thread, so the code under test goes through
httpx, sockets and HTTP parsing exactly as it does against a real provider (email and SMS
APIs, or a webhook's system). It behaves like the real APIs where it matters here:

- a message is accepted once per `Idempotency-Key`: a repeat of a key it already accepted gets
  the first answer back and delivers nothing new (`FakeProvider(honours_keys=False)` stands
  for an API that ignores the header: every accepted request is a new delivery);
- `delay` holds every answer back that long (a slow SMS API), after accepting the message;
- it fails on cue: `script("email", 500, 500)` answers the next two requests to `/email` with
  500s, `queue(Answer(409))` answers the next request to any path; `down("sms", seconds)`
  answers 503 for a while; `hold("email")` accepts the next email and keeps the response back
  until `release()`, so a worker can be killed mid-send;
- `drop("sms")` accepts the next SMS and closes the connection without an answer;
- otherwise it succeeds with `default`, or with a message id in the shape the channel's API
  returns (`{"MessageID": ...}` for email, `{"sid": ...}` for the rest).

Use it as `with FakeProvider().running() as provider:`; `requests` is every request it saw.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from followthrough.platform.settings import Settings

ANY = ""  # a scripted answer for whichever path is asked next


@dataclass
class Answer:
    """One scripted answer: a status, a JSON body (or raw bytes) and headers."""

    status: int
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One request as the provider saw it, and what it answered."""

    at: float  # time.monotonic()
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    channel: str  # the first path segment: "email", "sms", "tickets", ...
    key: str  # its Idempotency-Key header
    recipient: str  # its `To`, when it has one
    status: int
    delivered: bool  # a new message went out with this request

    def json(self) -> Any:
        return json.loads(self.body)


class FakeProvider:
    """The scripted provider; `requests` is its log, `deliveries()` what it really sent."""

    def __init__(
        self, default: Answer | None = None, *, honours_keys: bool = True, delay: float = 0.0
    ) -> None:
        self.default = default
        self.honours_keys = honours_keys
        self.delay = delay
        self.requests: list[Seen] = []
        self.held = threading.Event()
        self._lock = threading.Lock()
        self._script: list[tuple[str, Answer | str]] = []  # (channel or ANY, answer or "hold")
        self._down_until: dict[str, float] = {}
        self._accepted: dict[tuple[str, str], Answer] = {}  # (channel, key) -> first answer
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the serving loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # ------------------------------------------------------------------ test controls

    def script(self, channel: str, *answers: int | Answer) -> None:
        """The next answers on `channel`, in order; after them every request succeeds."""
        with self._lock:
            for answer in answers:
                if not isinstance(answer, Answer):
                    answer = Answer(answer, _error(answer))
                self._script.append((channel, answer))

    def queue(self, *answers: Answer) -> None:
        """The next answers, in order, whatever path is asked."""
        with self._lock:
            self._script.extend((ANY, answer) for answer in answers)

    def down(self, channel: str, seconds: float) -> float:
        """Answer 503 on `channel` for `seconds`; returns when it comes back (monotonic)."""
        until = time.monotonic() + seconds
        with self._lock:
            self._down_until[channel] = until
        return until

    def hold(self, channel: str) -> None:
        """Accept the next message on `channel` but keep the answer back until `release()`."""
        with self._lock:
            self._script.append((channel, "hold"))

    def drop(self, channel: str) -> None:
        """Accept the next message on `channel` and close the connection without answering:
        an answer lost on the way, so the sender cannot tell whether it went out."""
        with self._lock:
            self._script.append((channel, "drop"))

    def release(self) -> None:
        self._release.set()

    def on(self, channel: str) -> list[Seen]:
        return [r for r in self.requests if r.channel == channel]

    def deliveries(self, channel: str | None = None) -> list[str]:
        """Idempotency keys of the messages that really went out (one per new key)."""
        return [r.key for r in self.requests if r.delivered and channel in (None, r.channel)]

    def settings(self, base: Settings) -> Settings:
        """`base` with both channels pointed at this provider."""
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

    def _answer(self, channel: str, key: str) -> tuple[Answer, str, bool]:
        """Decide the answer: (answer, "hold" / "drop" / "", a new message went out)."""
        with self._lock:
            if self.honours_keys and key and (channel, key) in self._accepted:  # a retry
                return self._accepted[(channel, key)], "", False
            if time.monotonic() < self._down_until.get(channel, 0.0):
                return Answer(503, _error(503)), "", False
            step = self._next_step(channel)
            answer = step if isinstance(step, Answer) else self._success(channel)
            if not 200 <= answer.status < 300:
                return answer, "", False
            if key:
                self._accepted[(channel, key)] = answer
            return answer, step if isinstance(step, str) else "", True

    def _next_step(self, channel: str) -> Answer | str | None:
        for index, (wanted, step) in enumerate(self._script):
            if wanted in (ANY, channel):
                del self._script[index]
                return step
        return None

    def _success(self, channel: str) -> Answer:
        if self.default is not None:
            return self.default
        message_id = f"{channel}-{len(self._accepted) + 1}"
        return Answer(200, {"MessageID": message_id} if channel == "email" else {"sid": message_id})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                channel = urlsplit(self.path).path.strip("/").split("/")[0]
                key = self.headers.get("Idempotency-Key", "")
                answer, how, delivered = provider._answer(channel, key)
                provider.requests.append(
                    Seen(
                        at=time.monotonic(),
                        method=self.command,
                        path=self.path,
                        headers=dict(self.headers.items()),
                        body=body,
                        channel=channel,
                        key=key,
                        recipient=_recipient(body),
                        status=answer.status,
                        delivered=delivered,
                    )
                )
                if how == "drop":
                    self.close_connection = True
                    return  # no answer: the connection closes
                if how == "hold":
                    provider.held.set()
                    provider._release.wait(timeout=20)
                elif provider.delay and delivered:
                    time.sleep(provider.delay)
                self._reply(answer)

            def _reply(self, answer: Answer) -> None:
                raw = answer.body
                payload = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller is gone (killed mid-send)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


def _recipient(body: bytes) -> str:
    """`To` from a JSON body (email) or a form body (SMS); empty when there is none."""
    text = body.decode(errors="replace")
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return parse_qs(text).get("To", [""])[0]
    return str(data.get("To", "")) if isinstance(data, dict) else ""


def _error(status: int) -> dict[str, Any]:
    if status == 400:
        return {"ErrorCode": 300, "Message": "Invalid 'To' address: bad recipient"}
    if status == 429:
        return {"Message": "Too many requests"}
    return {"Message": f"server error {status}"}
