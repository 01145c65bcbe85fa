"""The client every command, the runner and the agents' tools use to talk to a
Maestro server.

- ``http``: the transport (one kept-alive connection, retries, the settings read
  from the environment) and the exception tree: ``ClientError`` ->
  ``ServerUnreachable`` (nothing reached the server) and ``ApiError`` (the server
  said no: status, code, message, details).
- ``api``: ``MaestroClient``, one typed method per operation, answering with the
  domain's Structs.

What a failure means to a shell (an exit code) is the CLI's business
(``cli/errors.py``).
"""

from maestro.client.api import MaestroClient
from maestro.client.http import (
    DEFAULT_SERVER_URL,
    ApiError,
    ClientError,
    ClientSettings,
    HttpClient,
    ServerUnreachable,
    api_path,
    server_url,
)

__all__ = [
    "DEFAULT_SERVER_URL",
    "ApiError",
    "ClientError",
    "ClientSettings",
    "HttpClient",
    "MaestroClient",
    "ServerUnreachable",
    "api_path",
    "server_url",
]
