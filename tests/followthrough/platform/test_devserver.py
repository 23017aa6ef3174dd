"""`followthrough.platform.devserver`: the embedded server's command line and its port checks."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from followthrough.platform.devserver import (
    SEARCH_ATTRIBUTES,
    DevServer,
    find_binary,
    free_port,
    port_in_use,
)


def test_the_command_persists_to_sqlite_and_registers_the_search_attributes(tmp_path: Path):
    command = DevServer(tmp_path / "t.db", port=7999, ui_port=None).command()
    assert command[0] == find_binary("temporal")
    assert command[command.index("--db-filename") + 1] == str(tmp_path / "t.db")
    assert "--headless" in command and "--ui-port" not in command
    for name, kind in SEARCH_ATTRIBUTES.items():
        assert f"{name}={kind}" in command
    with_ui = DevServer(tmp_path / "t.db", port=7999, ui_port=8999).command()
    assert with_ui[with_ui.index("--ui-port") + 1] == "8999"


async def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use(port)
        with pytest.raises(RuntimeError, match=f"port {port} is in use"):
            await DevServer(tmp_path / "t.db", port=port, ui_port=None).start()


def test_a_missing_binary_says_how_to_get_it():
    with pytest.raises(FileNotFoundError, match="install the project"):
        find_binary("no-such-binary-anywhere")
