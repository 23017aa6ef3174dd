"""Where a webhook call connects: the rendered URL checked again, every address its host
resolves to checked, and the connection pinned to the address that was checked.

Pinning closes the gap between the check and the connection: a name that resolves to a
public address for the check and to `127.0.0.1` a moment later (DNS rebinding) is still
connected to the public one. The `Host` header and the TLS server name (SNI, and so the
certificate check) stay those of the name in the URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from contracts.webhook_rules import IpAddress, WebhookPolicy, address_problem, host_problem

Resolver = Callable[[str, int], Awaitable[list[IpAddress]]]


class DestinationRefused(Exception):
    """A destination the webhook rules refuse; the message says why, in one line."""


class DestinationUnresolved(Exception):
    """The host name did not resolve (maybe for now): worth a retry."""


@dataclass(frozen=True)
class Pinned:
    """A checked URL with its host replaced by the checked address."""

    url: httpx.URL
    host: str  # the name in the URL, for messages
    host_header: str
    sni_hostname: str | None

    def extensions(self) -> dict[str, str]:
        return {} if self.sni_hostname is None else {"sni_hostname": self.sni_hostname}


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (the system resolver, off the event loop)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise DestinationUnresolved(f"{host} does not resolve ({err.strerror})") from err
    found: list[IpAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def pin(rendered: str, policy: WebhookPolicy, resolver: Resolver = resolve) -> Pinned:
    """The rendered URL, checked again and pinned to a checked address."""
    try:
        url = httpx.URL(rendered)
    except httpx.InvalidURL as err:
        raise DestinationRefused(f"url: not a valid URL ({err})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise DestinationRefused("url: not an http(s) URL with a host")
    host = url.host
    refused = host_problem(host, policy)
    if refused is not None:
        raise DestinationRefused(f"url: {refused}")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolver(host, port)
    if not addresses:
        raise DestinationUnresolved(f"{host} resolves to no address")
    for address in addresses:
        refused = address_problem(address, policy)
        if refused is not None:
            raise DestinationRefused(f"url: {host} resolves to {refused}")
    literal = _is_ip(host)
    return Pinned(
        url=url.copy_with(host=str(addresses[0])),
        host=host,
        host_header=url.netloc.decode("ascii"),
        sni_hostname=url.raw_host.decode("ascii")
        if url.scheme == "https" and not literal
        else None,
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
