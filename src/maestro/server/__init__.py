"""The HTTP + WebSocket server: ``create_app(settings)`` builds it."""

from maestro.server.app import create_app

__all__ = ["create_app"]
