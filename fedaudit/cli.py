"""The root of the `fedaudit` command: gathers each package's command group."""

from __future__ import annotations

import sys

import click

from analyses import AnalysisError
from analyses.cli import analyses as analyses_group
from analyses.task_cli import task as task_group
from certs import CertsError
from certs.cli import certs as certs_group
from node import NodeError
from node.cli import node as node_group

#: Errors a user can fix; each message says what to do next.
USER_ERRORS = (AnalysisError, CertsError, NodeError)


class _Root(click.Group):
    """Turns user-fixable errors into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fedaudit")
def main() -> None:
    """fedaudit: federated analysis for social-security audits.

    Headquarters dispatches signed analyses from a vetted library; every node runs
    them on its own data and returns only what its disclosure policy allows.
    """


main.add_command(certs_group)
main.add_command(node_group)
main.add_command(task_group)
main.add_command(analyses_group)
