"""The ``maestro`` command. Commands are imported when it runs, not when a
module such as ``maestro.cli.client`` is imported by the agents or the server."""


def main() -> None:
    from maestro.cli.main import main as run

    run()
