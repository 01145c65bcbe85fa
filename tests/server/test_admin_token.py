"""The admin token (``maestro.server.admin_token``) and the guards around an
exposed server, in process. The servers themselves: ``tests/deploy``."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import cast

import pytest

from maestro.config import ConfigError, Settings
from maestro.server import admin_token
from maestro.server.admin_token import AdminToken, AdminTokenError
from maestro.server.security import BrowserGuard, TokenGuard
from maestro.service.tokens import TokenBook
from maestro.store.base import Store


async def nothing(*_: object) -> None:
    return None


def exposed(data_dir: Path, **fields: object) -> Settings:
    return Settings(host="0.0.0.0", data_dir=data_dir, **fields)  # type: ignore[arg-type]


# -- which token a server requires ------------------------------------------------------


def test_an_exposed_server_without_a_token_gets_a_generated_one(tmp_path: Path) -> None:
    settings, admin = admin_token.secure(exposed(tmp_path / "data"))
    assert admin is not None and admin.created
    assert settings.token == admin.value == (tmp_path / "data" / "admin-token").read_text().strip()
    assert len(admin.value) >= admin_token.MIN_LENGTH


def test_the_generated_token_is_kept_and_reused(tmp_path: Path) -> None:
    first = admin_token.load_or_create(tmp_path)
    again = admin_token.load_or_create(tmp_path)
    assert (again.value, again.created) == (first.value, False)


def test_the_token_file_is_written_readable_by_its_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even with a permissive umask
    try:
        admin = admin_token.load_or_create(tmp_path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(admin.path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["admin-token"], "no temp file left"


def test_a_configured_token_wins_and_no_file_is_written(tmp_path: Path) -> None:
    settings, admin = admin_token.secure(exposed(tmp_path / "data", token="configured"))
    assert (settings.token, admin) == ("configured", None)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_a_loopback_bind_needs_no_token(tmp_path: Path, host: str) -> None:
    settings = Settings(host=host, data_dir=tmp_path / "data")
    assert admin_token.secure(settings) == (settings, None)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "maestro.example"])
def test_every_bind_beyond_loopback_is_exposed(host: str) -> None:
    assert Settings(host=host).exposed


def test_settings_for_an_exposed_host_load_without_a_token() -> None:
    """``maestro data`` reads the same settings as the server (in the Docker image,
    ``HOST=0.0.0.0``); only ``maestro serve`` needs the token, and finds one."""
    assert Settings.load({"HOST": "0.0.0.0"}).token is None


def test_another_start_that_made_the_file_first_wins(tmp_path: Path) -> None:
    path = tmp_path / "admin-token"
    path.write_text("t" * 43 + "\n")
    path.chmod(0o600)
    assert admin_token._create(path) is False
    assert admin_token.read(path) == "t" * 43


# -- a token file that cannot be used ----------------------------------------------------


def test_an_empty_token_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "admin-token"
    path.touch(mode=0o600)
    with pytest.raises(AdminTokenError, match="is empty") as raised:
        admin_token.load_or_create(tmp_path)
    assert str(path) in str(raised.value)
    assert path.read_text() == "", "not regenerated"


def test_a_token_file_open_to_others_is_refused_saying_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "admin-token"
    path.write_text("t" * 43)
    path.chmod(0o640)
    with pytest.raises(AdminTokenError, match=r"mode 0640\): run chmod 600 "):
        admin_token.load_or_create(tmp_path)


@pytest.mark.parametrize("text", ["short", "t" * 20 + " " + "t" * 20, "t" * 40 + "\x7f"])
def test_a_token_file_without_a_token_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "admin-token"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(AdminTokenError, match="does not hold a token"):
        admin_token.load_or_create(tmp_path)


def test_a_folder_in_the_token_files_place_is_refused(tmp_path: Path) -> None:
    (tmp_path / "admin-token").mkdir(mode=0o700)
    with pytest.raises(AdminTokenError, match="is not a regular file"):
        admin_token.load_or_create(tmp_path)


def test_a_data_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(AdminTokenError, match=r"admin-token: Not a directory$"):
        admin_token.load_or_create(tmp_path / "a-file")


def test_a_data_dir_the_server_cannot_write_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a container whose volume belongs to another user (root would write it)."""

    def refused(*_: object, **__: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(AdminTokenError, match=r"cannot write the admin token file .*: Permission"):
        admin_token.load_or_create(tmp_path)


def test_an_unreadable_token_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "admin-token"
    path.write_text("t" * 43)
    path.chmod(0o600)

    def refused(*_: object, **__: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", refused)
    with pytest.raises(AdminTokenError, match=r"permission denied\. Run the server as the user"):
        admin_token.load_or_create(tmp_path)


def test_token_file_errors_are_configuration_errors() -> None:
    assert issubclass(AdminTokenError, ConfigError)  # `maestro serve` reports them in one line


# -- what is printed ---------------------------------------------------------------------


def test_the_start_that_creates_the_token_prints_the_url_carrying_it(tmp_path: Path) -> None:
    admin = AdminToken("tok/en+1", tmp_path / "admin-token", created=True)
    text = admin_token.announcement(exposed(tmp_path, port=3000), admin)
    assert "http://127.0.0.1:3000/?token=tok%2Fen%2B1" in text
    assert "only this once" in text


def test_later_starts_print_where_the_token_is_but_not_the_token(tmp_path: Path) -> None:
    admin = AdminToken("the-secret-token", tmp_path / "admin-token", created=False)
    text = admin_token.announcement(exposed(tmp_path), admin)
    assert "the-secret-token" not in text
    assert str(tmp_path / "admin-token") in text
    assert "/?token=<that token>" in text


def test_the_url_uses_the_public_url_when_one_is_set(tmp_path: Path) -> None:
    settings = exposed(tmp_path, public_url="https://maestro.example/")
    assert admin_token.open_url(settings, "t") == "https://maestro.example/?token=t"


# -- the guards of an exposed server -----------------------------------------------------


def test_an_exposed_app_without_a_token_is_refused_when_built() -> None:
    with pytest.raises(ConfigError, match=r"refusing to serve on 0\.0\.0\.0 without a token"):
        # Refused before any token is looked up: the book's store is never read.
        TokenGuard(nothing, Settings(host="0.0.0.0"), TokenBook(cast(Store, None), None))


@pytest.mark.parametrize("host", ["10.200.0.2:3000", "192.168.1.5", "[fd00::5]:3000"])
def test_an_exposed_server_answers_to_ip_addresses(host: str) -> None:
    guard = BrowserGuard(nothing, Settings(host="0.0.0.0", token="t"))
    assert guard.host_allowed(host)


@pytest.mark.parametrize("host", ["evil.example", "10.200.0.2.evil.example", "0.0.0.0:3000"])
def test_an_exposed_server_still_refuses_names_it_was_not_given(host: str) -> None:
    """A DNS-rebinding page reaches the server under a name, never an address."""
    guard = BrowserGuard(nothing, Settings(host="0.0.0.0", token="t"))
    assert not guard.host_allowed(host)


def test_a_loopback_server_answers_to_loopback_names_only() -> None:
    guard = BrowserGuard(nothing, Settings())
    assert guard.host_allowed("127.0.0.1:3000")
    assert not guard.host_allowed("192.168.1.5:3000")
