"""The codec server: Temporal's Web UI asks it to decrypt payloads for the person viewing.

A listener of its own (`followthrough codec-server`), apart from the provider-callback
receiver: it holds the payload keys, so it answers only callers presenting its token.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from followthrough.platform.codec import CodecError, codec_from_keys
from followthrough.platform.settings import Settings


def create_codec_app(codec: PayloadCodec, token: str, origins: Iterable[str]) -> FastAPI:
    """Temporal's codec server protocol: POST /encode and /decode with `{"payloads": [...]}`.

    Only callers presenting `Authorization: Bearer <token>` get plaintext; the Web UI's origin
    is allowed by CORS (the UI calls from the browser of the person looking at a history).
    """
    if len(token) < 16:
        raise CodecError("CODEC_SERVER_TOKEN: use at least 16 characters")
    app = FastAPI(title="Follow-through codec server", docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[o.rstrip("/") for o in origins],
        allow_methods=["POST"],
        allow_headers=["authorization", "content-type", "x-namespace"],
        allow_credentials=True,
    )
    expected = f"Bearer {token}".encode()

    async def convert(request: Request, encode: bool) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(status_code=401, detail="authorization: missing or wrong token")
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as err:
            raise HTTPException(status_code=400, detail=f"payloads: {err}") from err
        try:
            done = await (codec.encode if encode else codec.decode)(payloads.payloads)
        except CodecError as err:
            raise HTTPException(status_code=400, detail=str(err)) from err
        body = json_format.MessageToJson(Payloads(payloads=done))
        return Response(body, media_type="application/json")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await convert(request, True)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await convert(request, False)

    return app


def codec_app_from_settings(settings: Settings) -> FastAPI:
    """The codec server `PAYLOAD_KEYS`, `CODEC_SERVER_TOKEN` and the Web UI's URL describe."""
    codec = codec_from_keys(settings.payload_keys)
    if codec is None:
        raise CodecError("PAYLOAD_KEYS must be set for the codec server")
    return create_codec_app(codec, settings.codec_server_token, [settings.ui_url])
