"""The ``maestro`` command. Commands are imported when it runs, not when this
package is imported.

The commands agents call while they work (``hook``, ``report``, ``whoami``) go
straight to ``agent_commands``, without Typer or Rich: they must start fast.
"""

import sys


def main() -> None:
    from maestro.cli.agent_commands import NAMES

    if len(sys.argv) > 1 and sys.argv[1] in NAMES:
        from maestro.cli.agent_commands import main as run_agent_command

        sys.exit(run_agent_command(sys.argv[1:]))
    from maestro.cli.main import main as run

    run()
