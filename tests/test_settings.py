"""Settings read from the environment once, the same way on every side: the
server's ``Settings``, the client's ``ClientSettings``, the shared folders and
switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro.client import ClientError, ClientSettings, MaestroClient
from maestro.config import Settings, is_on, user_skills_dir


def test_the_server_and_the_agents_read_skills_from_the_same_folder(tmp_path: Path) -> None:
    env = {"MAESTRO_HOME": str(tmp_path / "home")}
    assert Settings.load(env=env).skills_dir == tmp_path / "home" / "skills"
    assert user_skills_dir(env) == tmp_path / "home" / "skills"
    env["MAESTRO_SKILLS_DIR"] = str(tmp_path / "mine")
    assert Settings.load(env=env).skills_dir == user_skills_dir(env) == tmp_path / "mine"


@pytest.mark.parametrize(
    ("value", "on"),
    [("", False), ("0", False), ("false", False), ("FALSE", False), ("1", True), ("yes", True)],
)
def test_every_switch_reads_the_same_way(value: str, on: bool) -> None:
    assert is_on({"DEBUG": value}, "DEBUG") is on
    assert Settings.load(env={"DEBUG": value}).debug is on


def test_client_settings_come_from_the_environment() -> None:
    env = {
        "MAESTRO_SERVER_URL": "http://example.test:9/",
        "MAESTRO_TOKEN": "t",
        "MAESTRO_RETRIES": "0",
    }
    assert ClientSettings.from_env(env) == ("http://example.test:9", "t", 0)
    assert ClientSettings.from_env({}) == ("http://localhost:3000", None, 3)


@pytest.mark.parametrize("value", ["three", "-1", "1.5"])
def test_a_bad_retry_count_is_an_error_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ClientError, match="MAESTRO_RETRIES must be a whole number") as raised:
        ClientSettings.from_env({"MAESTRO_RETRIES": value})
    assert raised.value.code == "INVALID_SETTING"
    monkeypatch.setenv("MAESTRO_RETRIES", value)
    with pytest.raises(ClientError, match="MAESTRO_RETRIES"):
        MaestroClient("http://127.0.0.1:9")
