"""``maestro serve``: run the server in the foreground."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import typer

from maestro.config import ConfigError, Settings

DRAIN_SECONDS = 0.5


def draining_server(config: Any) -> Any:
    """A uvicorn server that, on shutdown, stops accepting connections and then
    gives requests already sent on open connections a moment to be read before
    idle connections are closed; plain uvicorn closes those at once, resetting
    requests that were on the wire (the client cannot tell they never ran)."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            await asyncio.sleep(DRAIN_SECONDS)
            await super().shutdown(sockets)

    return DrainingServer(config)


def serve(
    host: str | None = typer.Option(None, help="Bind address (env HOST, default 127.0.0.1)"),
    port: int | None = typer.Option(None, help="HTTP + WebSocket port (env PORT, default 3000)"),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="JSON store root (env DATA_DIR, default ~/.maestro/data)"
    ),
) -> None:
    """Serve the REST API, the WebSocket event stream and the web UI."""
    import uvicorn

    from maestro.server import admin_token, create_app
    from maestro.store import describe_store
    from maestro.store.base import StoreUnavailable
    from maestro.store.datadir_lock import check_data_dir_free

    try:
        settings = Settings.load(host=host, port=port, data_dir=data_dir)
    except ConfigError as error:
        typer.echo(f"maestro serve: {error}", err=True)
        raise typer.Exit(2) from None
    if not settings.database_url:
        try:
            check_data_dir_free(settings.data_dir)
        except StoreUnavailable as error:
            typer.echo(f"maestro serve: {error}", err=True)
            raise typer.Exit(1) from None
    try:
        # Bound beyond loopback with no MAESTRO_TOKEN: the admin token, said at once
        # (a start that fails later has still shown the token it created).
        settings, admin = admin_token.secure(settings)
        if admin is not None:
            typer.echo(admin_token.announcement(settings, admin), err=True)
        app = create_app(settings)
    except ConfigError as error:
        typer.echo(f"maestro serve: {error}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    typer.echo(f"Maestro serving {settings.server_url} from {describe_store(settings)}", err=True)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again
    # for the handler that was in place before it: make that one a no-op, so a
    # requested, completed shutdown exits 0 instead of dying of the signal.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="debug" if settings.debug else "info",
        access_log=False,
        ws_per_message_deflate=False,
        ws_max_size=64 * 1024,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    # uvicorn imports its protocol modules when the config is loaded: done here,
    # so that they are made before the freeze below.
    config.load()
    # Everything made so far (modules, classes, the app) lives as long as the
    # process: moved out of the cycle collector's reach, a full collection walks
    # a few thousand objects instead of ~50,000 (60 ms, seen as the slowest 1% of
    # requests; benchmarks/write_bench.py). Entities are never tracked (gc=False).
    gc.collect()
    gc.freeze()
    draining_server(config).run()
