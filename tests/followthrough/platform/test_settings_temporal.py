"""The Temporal connection in `Settings`: `temporal.toml` profiles and TEMPORAL_* variables,
read through `temporalio.envconfig` as Temporal's own CLI reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from followthrough.platform.settings import Settings, SettingsError
from tests.followthrough.platform.tls_proxy import make_certificates

PROFILES = """\
[profile.default]
address = "default.example:7233"

[profile.cloud]
address = "ns.a1b2c.tmprl.cloud:7233"
namespace = "ns.a1b2c"
api_key = "secret-key"

[profile.selfhosted]
address = "temporal.internal:7233"
namespace = "families"
[profile.selfhosted.tls]
client_cert_path = "{cert}"
client_key_path = "{key}"
server_ca_cert_path = "{ca}"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    certs = make_certificates(tmp_path / "certs")
    path = tmp_path / "temporal.toml"
    path.write_text(PROFILES.format(cert=certs.client_cert, key=certs.client_key, ca=certs.ca))
    return path


def test_without_configuration_the_local_server():
    settings = Settings.from_env({})
    assert (settings.temporal_address, settings.namespace) == ("localhost:7233", "default")
    assert settings.temporal_tls is False and settings.temporal_api_key is None


def test_a_profile_from_temporal_toml(config_file: Path):
    env = {"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "cloud"}
    settings = Settings.from_env(env)
    assert settings.temporal_address == "ns.a1b2c.tmprl.cloud:7233"
    assert settings.namespace == "ns.a1b2c"
    # An API key means TLS, as for Temporal Cloud; the key never shows in a log line.
    assert settings.temporal_api_key == "secret-key" and settings.temporal_tls is True
    assert "secret-key" not in repr(settings)
    assert settings.temporal_source == f"profile cloud of {config_file}"
    assert Settings.from_env({"TEMPORAL_CONFIG_FILE": str(config_file)}).temporal_address == (
        "default.example:7233"
    )


def test_a_profile_with_mutual_tls_reads_its_certificates(config_file: Path):
    env = {"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "selfhosted"}
    tls = Settings.from_env(env).temporal_tls
    assert isinstance(tls, TLSConfig)
    certs = config_file.parent / "certs"
    assert tls.client_cert == (certs / "client.pem").read_bytes()
    assert tls.client_private_key == (certs / "client.key").read_bytes()
    assert tls.server_root_ca_cert == (certs / "ca.pem").read_bytes()


def test_variables_override_the_profile(config_file: Path):
    env = {
        "TEMPORAL_CONFIG_FILE": str(config_file),
        "TEMPORAL_PROFILE": "cloud",
        "TEMPORAL_ADDRESS": "other:7233",
        "TEMPORAL_NAMESPACE": "staging",
        "TEMPORAL_GRPC_META_X_TEAM": "families",
    }
    settings = Settings.from_env(env)
    assert (settings.temporal_address, settings.namespace) == ("other:7233", "staging")
    assert settings.temporal_api_key == "secret-key"
    assert dict(settings.temporal_rpc_metadata) == {"x-team": "families"}


def test_the_three_certificate_paths_alone(tmp_path: Path):
    certs = make_certificates(tmp_path)
    env = {
        "TEMPORAL_ADDRESS": "temporal.internal:7233",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(certs.client_cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(certs.client_key),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca),
    }
    tls = Settings.from_env(env).temporal_tls
    assert isinstance(tls, TLSConfig) and tls.client_cert == certs.client_cert.read_bytes()


def test_the_embedded_server_ignores_the_users_profile(config_file: Path):
    """`followthrough dev` connects to the server it started, whatever the user configured."""
    env = {
        "TEMPORAL_CONFIG_FILE": str(config_file),
        "TEMPORAL_PROFILE": "selfhosted",
        "TEMPORAL_ADDRESS": "elsewhere:7233",
        "TEMPORAL_API_KEY": "k",
    }
    settings = Settings.from_env(env, local_temporal="127.0.0.1:7555")
    assert (settings.temporal_address, settings.namespace) == ("127.0.0.1:7555", "default")
    assert settings.temporal_tls is False and settings.temporal_api_key is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TEMPORAL_CONFIG_FILE": "/nowhere/temporal.toml"}, "TEMPORAL_CONFIG_FILE: no such file"),
        (
            {"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nowhere/client.pem"},
            "TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read '/nowhere/client.pem'",
        ),
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/nowhere/ca.pem"},
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read '/nowhere/ca.pem'",
        ),
    ],
)
def test_a_bad_connection_setting_is_one_line(env: dict[str, str], message: str):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_an_unknown_profile_or_a_broken_file_is_one_line(config_file: Path, tmp_path: Path):
    with pytest.raises(SettingsError, match=r"TEMPORAL_CONFIG_FILE .*: Profile 'prod' not found"):
        Settings.from_env({"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "prod"})
    broken = tmp_path / "broken.toml"
    broken.write_text("[profile.default\naddress = ")
    with pytest.raises(SettingsError, match="TOML parse error") as err:
        Settings.from_env({"TEMPORAL_CONFIG_FILE": str(broken)})
    assert "\n" not in str(err.value)


def test_a_key_without_its_certificate(tmp_path: Path):
    certs = make_certificates(tmp_path)
    with pytest.raises(SettingsError, match="must be set together"):
        Settings.from_env({"TEMPORAL_TLS_CLIENT_KEY_PATH": str(certs.client_key)})
