"""What a webhook step may reach and read: the deployer's rules, checked on templates and calls.

- Destinations: the host of every webhook URL is written out in the template (never a
  variable) and is one of `WEBHOOK_ALLOWED_HOSTS` (`api.example.com`, or `*.example.com` for
  its subdomains). An address in a private, loopback, link-local or otherwise non-public range
  is refused unless its network is in `WEBHOOK_PRIVATE_NETWORKS`.
- Secrets: a header value `env:NAME` may only name a variable `WEBHOOK_SECRET_*`.

`template_problems` reports every break of these rules in a template, naming the step; the
webhook activity applies `host_problem` and `address_problem` again to each rendered call.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from contracts.sequences import SequenceParams

SECRET_PREFIX = "WEBHOOK_SECRET_"
_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class WebhookPolicy:
    """The deployer's webhook rules (from `Settings`): allowed hosts and private networks."""

    allowed_hosts: tuple[str, ...] = ()
    private_networks: tuple[IpNetwork, ...] = field(default=())

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for allowed in self.allowed_hosts:
            if allowed.startswith("*."):
                if host.endswith(allowed[1:]) and host != allowed[2:]:
                    return True
            elif host == allowed:
                return True
        return False


def parse_hosts(text: str) -> tuple[str, ...]:
    """`WEBHOOK_ALLOWED_HOSTS`: host names, `*.domain` or IP addresses, comma-separated."""
    hosts = tuple(part.strip().lower().rstrip(".") for part in text.split(",") if part.strip())
    for host in hosts:
        if not re.match(r"^(\*\.)?[a-z0-9_.:\[\]-]+$", host):
            raise ValueError(host)
    return hosts


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """`WEBHOOK_PRIVATE_NETWORKS`: CIDRs such as `10.20.0.0/16`, comma-separated."""
    return tuple(ipaddress.ip_network(p.strip()) for p in text.split(",") if p.strip())


def secret_problem(value: str) -> str | None:
    """Why a header value may not be sent, or None. Only `env:WEBHOOK_SECRET_*` reads a secret."""
    if value.startswith("env:") and not value[4:].startswith(SECRET_PREFIX):
        return f"{value} is not a webhook secret (only env:{SECRET_PREFIX}* variables)"
    return None


def literal_host(url: str) -> tuple[str | None, str | None]:
    """(host, None) when `url` is http(s) with its host written out; else (None, why not)."""
    found = _AUTHORITY.match(url)
    if found is None or found.group(1).lower() not in ("http", "https"):
        return None, "not an http(s) URL"
    if "{" in found.group(2) or "}" in found.group(2) or "@" in found.group(2):
        return None, "the host must be written out, not a template variable or user info"
    host = urlsplit(url[: found.end()]).hostname
    return (host, None) if host else (None, "no host")


def host_problem(host: str, policy: WebhookPolicy) -> str | None:
    """Why a host may not be called, or None: it must be allowed, and not private by name."""
    if not policy.allows_host(host):
        return f"host {host!r} is not in WEBHOOK_ALLOWED_HOSTS"
    literal = _ip(host)
    if literal is not None:
        return address_problem(literal, policy)
    if host == "localhost" or host.endswith(".localhost"):
        return address_problem(ipaddress.ip_address("127.0.0.1"), policy)
    return None


def address_problem(address: IpAddress, policy: WebhookPolicy) -> str | None:
    """Why an address may not be connected to, or None."""
    if address.is_global and not address.is_multicast:
        return None
    if any(address in network for network in policy.private_networks):
        return None
    return (
        f"{address} is a {_kind(address)} address; "
        "allow its network in WEBHOOK_PRIVATE_NETWORKS to call it"
    )


def template_problems(params: SequenceParams, policy: WebhookPolicy | None) -> list[str]:
    """Every break of the webhook rules in a template, each naming the step and the field.

    Without a policy (where the deployer's settings are not at hand) the rules that need none
    are checked: written-out hosts and secret names.
    """
    problems = []
    for where, url, headers in _calls(params):
        host, why = literal_host(url)
        if why is not None:
            problems.append(f"{where}: url: {why}")
        elif host is not None and policy is not None:
            refused = host_problem(host, policy)
            if refused is not None:
                problems.append(f"{where}: url: {refused}")
        for name, value in headers.items():
            refused = secret_problem(value)
            if refused is not None:
                problems.append(f"{where}: headers.{name}: {refused}")
    return problems


def _calls(params: SequenceParams) -> Iterator[tuple[str, str, dict[str, str]]]:
    for step in params.steps or []:
        if step.type != "webhook":
            continue
        if step.url is not None:
            yield f"step '{step.id}'", step.url, step.headers
        if step.undo is not None:
            yield f"step '{step.id}': undo", step.undo.url, step.undo.headers


def _ip(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _kind(address: IpAddress) -> str:
    for attribute, word in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_private", "private"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
    ):
        if getattr(address, attribute):
            return word
    return "non-public"
