"""The webhook rules as pure functions: hosts, wildcards, address ranges, secret names."""

from __future__ import annotations

import ipaddress

import pytest

from contracts.webhook_rules import (
    WebhookPolicy,
    address_problem,
    host_problem,
    literal_host,
    parse_hosts,
    secret_problem,
)

POLICY = WebhookPolicy(allowed_hosts=parse_hosts("itsm.example.com, *.hooks.example.com"))


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("itsm.example.com", True),
        ("ITSM.example.com.", True),
        ("a.hooks.example.com", True),
        ("hooks.example.com", False),
        ("itsm.example.com.evil.net", False),
        ("evilhooks.example.com", False),
    ],
)
def test_allowed_hosts_and_wildcards(host, allowed):
    assert POLICY.allows_host(host) is allowed


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
    ],
)
def test_non_public_addresses_are_refused_unless_their_network_is_allowed(address):
    ip = ipaddress.ip_address(address)
    assert address_problem(ip, WebhookPolicy()) is not None
    everything = WebhookPolicy(
        private_networks=(ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    )
    assert address_problem(ip, everything) is None


def test_public_addresses_pass():
    assert address_problem(ipaddress.ip_address("93.184.216.34"), WebhookPolicy()) is None


def test_localhost_by_name_is_loopback():
    policy = WebhookPolicy(allowed_hosts=("localhost",))
    assert "loopback" in (host_problem("localhost", policy) or "")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://itsm.example.com/t/{{ family_id }}", "itsm.example.com"),
        ("http://[::1]:8080/x", "::1"),
        ("https://{{ host }}/x", None),
        ("https://itsm.example.com{{ path }}", None),
        ("https://user@itsm.example.com/", None),
        ("ftp://itsm.example.com/", None),
    ],
)
def test_the_host_must_be_written_out(url, host):
    assert literal_host(url)[0] == host


def test_only_webhook_secrets_are_readable():
    assert secret_problem("env:WEBHOOK_SECRET_ITSM") is None
    assert secret_problem("Bearer literal") is None
    assert secret_problem("env:DATABASE_URL") is not None
