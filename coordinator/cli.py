"""`fedaudit coordinator …`: set up and run the coordinator."""

from __future__ import annotations

import click

from coordinator.home import CoordinatorHome, init_home

HOME_OPTION = click.option("--home", required=True, type=click.Path(file_okay=False),
                           help="The coordinator's home directory.")


@click.group()
def coordinator() -> None:
    """Run the coordinator: HQ's relay for tasks and store for results."""


@coordinator.command("init")
@click.option("--kit", "kit", required=True, type=click.Path(exists=True, file_okay=False),
              help="The coordinator's kit from `fedaudit certs provision`.")
@HOME_OPTION
@click.option("--listen", default=None,
              help="host:port to listen on (default: the coordinator address in the roster).")
@click.option("--force", is_flag=True, help="Rewrite kit and settings of an existing home.")
def init_command(kit, home, listen, force) -> None:
    """Create a coordinator home from the coordinator's kit."""
    created = init_home(kit, home, listen=listen, force=force)
    click.echo(f"coordinator home ready: {created.path} (listens on {created.listen})")
    click.echo(f"start it with: fedaudit coordinator start --home {created.path}")


@coordinator.command("start")
@HOME_OPTION
@click.option("--listen", default=None, help="Override the listen address (e.g. 127.0.0.1:0).")
def start_command(home, listen) -> None:
    """Run the coordinator until interrupted (Ctrl-C or SIGTERM).

    Prints one JSON line with the address it listens on; logs go to stderr as JSON.
    """
    from coordinator.server import serve

    serve(CoordinatorHome.open(home), listen)
