"""The admin token a server generates when it is exposed without ``MAESTRO_TOKEN``.

A server other machines can reach must never run without a token (a spawn runs
code), yet ``docker run -p 3000:3000 -v ~/.maestro/data:/data maestro-server``
sets none. So, as Jupyter does, ``maestro serve`` bound beyond loopback with no
token configured generates one at its first start, keeps it in
``DATA_DIR/admin-token`` (mode 0600) and uses the same one on every later start.
The secret is shown once, by the start that created it: the URL that hands it
to the web UI. A configured ``MAESTRO_TOKEN`` wins, and then this file is
neither written nor read.

A token file that is empty, malformed, unreadable or open to other users stops
the server with a message naming it: regenerating it silently would lock out
every client that has the old one, and using it as it is would weaken the guard.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from maestro.config import ConfigError, Settings

TOKEN_FILE = "admin-token"
MIN_LENGTH = 32  # a generated token is 43 characters (32 random bytes)


class AdminTokenError(ConfigError):
    """The token file cannot be used; the message names it and says what to do."""


@dataclass(frozen=True)
class AdminToken:
    value: str
    path: Path
    created: bool  # by this start: the only one that shows the secret


def secure(settings: Settings) -> tuple[Settings, AdminToken | None]:
    """``settings`` with the token the server must require: the configured one,
    none on a loopback bind, else the admin token (generated at first start)."""
    if settings.token or not settings.exposed:
        return settings, None
    admin = load_or_create(settings.data_dir)
    return replace(settings, token=admin.value), admin


def load_or_create(data_dir: Path) -> AdminToken:
    """The token kept in ``data_dir``, made there if there is none yet."""
    path = data_dir / TOKEN_FILE
    try:
        return AdminToken(read(path), path, created=False)
    except FileNotFoundError:
        pass
    try:
        created = _create(path)
    except OSError as error:
        raise AdminTokenError(
            f"cannot write the admin token file {path}: {error.strerror or error}. The data "
            "directory must be writable by the user the server runs as; or set MAESTRO_TOKEN."
        ) from None
    return AdminToken(read(path), path, created)


def read(path: Path) -> str:
    """The token kept in ``path``; ``FileNotFoundError`` if there is none yet."""
    fix = "delete it to generate a new token (clients then need the new one), or set MAESTRO_TOKEN"
    try:
        info = path.stat()
        text = path.read_text(encoding="ascii") if stat.S_ISREG(info.st_mode) else None
    except FileNotFoundError:
        raise  # not an error: there is none yet (the OSError below is one)
    except UnicodeDecodeError:
        raise AdminTokenError(f"the admin token file {path} is not ASCII text: {fix}") from None
    except PermissionError:
        raise AdminTokenError(
            f"cannot read the admin token file {path}: permission denied. Run the server as "
            "the user that owns it, or set MAESTRO_TOKEN."
        ) from None
    except OSError as error:
        raise AdminTokenError(
            f"cannot read the admin token file {path}: {error.strerror or error}"
        ) from None
    if text is None:
        raise AdminTokenError(f"the admin token file {path} is not a regular file: {fix}")
    if info.st_mode & 0o077:
        raise AdminTokenError(
            f"the admin token file {path} is open to other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}): run chmod 600 {path}, or {fix}"
        )
    token = text.strip()
    if not token:
        raise AdminTokenError(f"the admin token file {path} is empty: {fix}")
    if len(token) < MIN_LENGTH or not all("!" <= c <= "~" for c in token):
        raise AdminTokenError(
            f"the admin token file {path} does not hold a token (one line of at least "
            f"{MIN_LENGTH} visible ASCII characters): {fix}"
        )
    return token


def _create(path: Path) -> bool:
    """Write a new token to ``path`` whole (temp file, then a hard link that fails
    if the file appeared meanwhile); ``False`` if another start made it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{TOKEN_FILE}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(temp)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return True


def open_url(settings: Settings, token: str | None = None) -> str:
    """The URL that opens the web UI with ``token`` (``<that token>`` without one)."""
    shown = quote(token, safe="") if token is not None else "<that token>"
    return f"{settings.server_url}/?token={shown}"


def announcement(settings: Settings, admin: AdminToken) -> str:
    """What ``maestro serve`` prints about the admin token: the secret only when
    this start created it, so that it lands in a log once."""
    if not admin.created:
        return (
            f"Maestro requires the admin token kept in {admin.path} (bound to "
            f"{settings.host}, no MAESTRO_TOKEN set); open {open_url(settings)}"
        )
    return (
        f"Maestro generated an admin token: bound to {settings.host}, it is reachable from "
        f"other machines, and MAESTRO_TOKEN is not set. It is kept in {admin.path} and shown "
        f"only this once. Open the web UI with it:\n    {open_url(settings, admin.value)}\n"
        "The CLI and runners send it as MAESTRO_TOKEN."
    )
