"""What of the runner's environment reaches an agent's terminal.

A terminal gets the session's ``MAESTRO_*`` variables (from the spawn) on top of
the runner's own variables that an agent or ``maestro`` needs: the basics of a
shell (``PATH``, ``HOME``, locale), the agent CLIs' credentials and settings
(by prefix: ``ANTHROPIC_*``, ``CLAUDE_*``, ``OPENAI_*``, ``CODEX_*``, cloud
providers' ``AWS_*``, ``GOOGLE_*``, ``AZURE_*``...), proxies and CA bundles,
and Maestro's client settings. Everything else stays out: a terminal is not a
copy of whatever shell the runner happened to start in.

Two rules keep Maestro's own secrets where they belong:

- The server-only settings (``MAESTRO_DATABASE_URL`` and the like) never pass.
- The runner's own ``MAESTRO_TOKEN`` (the admin's, or a runner token) never
  reaches a terminal: the agent gets the token its session's claim minted,
  scoped to that session (``service.tokens``), or none when the server requires
  none.
- That token belongs to the server the runner talks to, so the terminal's
  ``MAESTRO_SERVER_URL`` is that server's URL, whatever the spawn said: the
  token is never sent to another host.
"""

from __future__ import annotations

from collections.abc import Mapping

from maestro.config import SERVER_ENVIRONMENT

SHELL_BASICS = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
    }
)

NETWORK = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NODE_EXTRA_CA_CERTS",
        "REQUESTS_CA_BUNDLE",
    }
)

AGENT_SETTINGS = frozenset(
    {
        # Claude Code's documented switches that do not carry its prefix.
        "IS_SANDBOX",
        "DISABLE_TELEMETRY",
        "DISABLE_AUTOUPDATER",
        "DISABLE_ERROR_REPORTING",
        "DISABLE_BUG_COMMAND",
        "DISABLE_COST_WARNINGS",
        "DISABLE_NON_ESSENTIAL_MODEL_CALLS",
        "API_TIMEOUT_MS",
        "BASH_DEFAULT_TIMEOUT_MS",
        "BASH_MAX_TIMEOUT_MS",
        "MAX_THINKING_TOKENS",
        "MCP_TIMEOUT",
        "MCP_TOOL_TIMEOUT",
    }
)

PASS_THROUGH_PREFIXES = (
    "LC_",
    "XDG_",
    "MAESTRO_",
    "ANTHROPIC_",
    "CLAUDE_",
    "OPENAI_",
    "CODEX_",
    "AWS_",
    "GOOGLE_",
    "GCLOUD_",
    "CLOUDSDK_",
    "VERTEX_",
    "AZURE_",
)
"""Variables with these prefixes pass (``MAESTRO_`` minus the server-only ones)."""

SERVER_ONLY = SERVER_ENVIRONMENT - {"MAESTRO_TOKEN", "MAESTRO_SKILLS_DIR", "DEBUG"}
"""The server's settings: a terminal never needs them (the database URL holds a
password)."""


def passes_through(name: str) -> bool:
    """Whether the runner's variable ``name`` reaches a session's terminal."""
    if name in SERVER_ONLY:
        return False
    return (
        name in SHELL_BASICS
        or name in NETWORK
        or name in AGENT_SETTINGS
        or name.startswith(PASS_THROUGH_PREFIXES)
    )


def terminal_env(
    runner_env: Mapping[str, str],
    session_env: Mapping[str, str],
    server_url: str,
    token: str | None = None,
) -> dict[str, str]:
    """The environment of a session's terminal: the runner's variables that pass,
    then the session's (they win), then the runner's server URL and the session's
    token (see above)."""
    env = {k: v for k, v in runner_env.items() if v and passes_through(k)}
    env.update(session_env)
    env.pop("MAESTRO_TOKEN", None)
    if token is not None:
        env["MAESTRO_TOKEN"] = token
    env["MAESTRO_SERVER_URL"] = server_url
    return env
