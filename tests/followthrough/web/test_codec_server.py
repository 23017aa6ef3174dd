"""The codec server: plaintext only for the token holder, CORS only for the Web UI."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from followthrough.platform.codec import ENCODING, AesGcmCodec, CodecError, parse_keys
from followthrough.platform.settings import Settings
from followthrough.web.codec_server import codec_app_from_settings, create_codec_app

KEYS = f"k1:{base64.b64encode(b'1' * 32).decode()}"
TOKEN = "t0ken-for-the-codec-server"
UI = "http://localhost:8233"


async def test_decodes_and_encodes_for_the_token_holder_only():
    codec = AesGcmCodec(parse_keys(KEYS))
    (sealed,) = await codec.encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b'{"family_id": "F1"}')]
    )
    app = create_codec_app(codec, TOKEN, [UI])
    body = json_format.MessageToJson(Payloads(payloads=[sealed]))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec"
    ) as http:
        assert (await http.post("/decode", content=body)).status_code == 401
        decoded = await http.post("/decode", content=body, headers=bearer)
        assert decoded.status_code == 200
        (first,) = json_format.Parse(decoded.text, Payloads()).payloads
        assert json.loads(first.data)["family_id"] == "F1"
        encoded = await http.post("/encode", content=decoded.text, headers=bearer)
        (again,) = json_format.Parse(encoded.text, Payloads()).payloads
        assert again.metadata["encoding"] == ENCODING
        bad = await http.post("/decode", content=b"{not json", headers=bearer)
        assert bad.status_code == 400


async def test_cors_allows_the_web_ui_alone():
    app = create_codec_app(AesGcmCodec(parse_keys(KEYS)), TOKEN, [UI])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec"
    ) as http:
        preflight = await http.options(
            "/decode",
            headers={
                "Origin": UI,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == UI
        stranger = await http.options(
            "/decode",
            headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in stranger.headers


def test_from_settings_needs_keys_and_a_long_token():
    with pytest.raises(CodecError, match="^PAYLOAD_KEYS must be set for the codec server$"):
        codec_app_from_settings(Settings(codec_server_token=TOKEN))
    with pytest.raises(CodecError, match="^CODEC_SERVER_TOKEN: use at least 16 characters$"):
        codec_app_from_settings(Settings(payload_keys=parse_keys(KEYS), codec_server_token="x"))
    assert (
        codec_app_from_settings(
            Settings(payload_keys=parse_keys(KEYS), codec_server_token=TOKEN)
        ).title
        == "Follow-through codec server"
    )
