"""Payload encryption: an AES-GCM `PayloadCodec` with key ids, and the data converter.

`PAYLOAD_KEYS="k2:<base64>,k1:<base64>"` turns it on: every payload (workflow inputs and
results, activity arguments, signals, queries, updates) is encrypted with the first key and
tagged with its id, so older keys can stay listed for decoding while a new one encrypts —
rotation without re-encrypting history. Temporal's server, its database and the Web UI only
ever see ciphertext; the codec server (`followthrough.web.codec_server`) decrypts for people
holding its token.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class CodecError(ValueError):
    """A bad key setting or an undecryptable payload; the message names the cause."""


def parse_keys(text: str, var: str = "PAYLOAD_KEYS") -> dict[str, bytes]:
    """`id:base64key,...` → {id: key}, in order (the first encrypts). Keys: 16, 24 or 32 bytes."""
    keys: dict[str, bytes] = {}
    for number, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise CodecError(f"{var}: entry {number}: expected id:base64key with a plain id")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as err:
            raise CodecError(f"{var}: key {key_id!r}: not base64") from err
        if len(key) not in (16, 24, 32):
            raise CodecError(f"{var}: key {key_id!r}: must be 16, 24 or 32 bytes, not {len(key)}")
        if key_id in keys:
            raise CodecError(f"{var}: key id {key_id!r} is listed twice")
        keys[key_id] = key
    if not keys:
        raise CodecError(f"{var}: no keys given")
    return keys


class AesGcmCodec(PayloadCodec):
    """Encrypts each payload whole (metadata and data) under the current key."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise CodecError("PAYLOAD_KEYS: no keys given")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current = next(iter(keys))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(12)
        key_id = self.current
        # The key id is authenticated data: a payload cannot be re-labelled to another key.
        sealed = self._keys[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was switched on
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        aead = self._keys.get(key_id)
        if aead is None:
            raise CodecError(f"payload encrypted with unknown key id {key_id!r}")
        try:
            plain = aead.decrypt(payload.data[:12], payload.data[12:], key_id.encode())
        except Exception as err:
            raise CodecError(f"payload under key {key_id!r} failed authentication") from err
        return Payload.FromString(plain)


def codec_from_keys(keys: Mapping[str, bytes]) -> AesGcmCodec | None:
    """The codec for `keys` (the settings' `PAYLOAD_KEYS`), or None when there are none."""
    return AesGcmCodec(keys) if keys else None


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The pydantic converter every client uses, with the codec when there is one.

    With a codec, failures are encoded too: their message and stack trace move into the
    encrypted `encoded_attributes` (the history shows "Encoded failure"), because a failure
    can quote what a provider answered about a family.
    """
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
