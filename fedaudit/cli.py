"""The root of the `fedaudit` command: gathers each package's command group."""

from __future__ import annotations

import json
import logging
import sys

import click

from analyses import AnalysisError
from analyses.cli import analyses as analyses_group
from analyses.synth.cli import synth as synth_group
from analyses.task_cli import task as task_group
from certs import CertsError
from certs.cli import certs as certs_group
from coordinator import CoordinatorError
from coordinator.cli import coordinator as coordinator_group
from coordinator.findings_cli import findings_command
from coordinator.people_cli import nodes_command, results, submit_command, watch_command
from coordinator.report_cli import report_command
from coordinator.sharing_cli import SHARING_COMMANDS, access_log
from fedaudit.demo import demo
from node import NodeError
from node.cli import node as node_group

#: Errors a user can fix; each message says what to do next.
USER_ERRORS = (AnalysisError, CertsError, CoordinatorError, NodeError)


class _Root(click.Group):
    """Turns user-fixable errors into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message and any extras."""

    _SKIP = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "msg": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in self._SKIP})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(level: int = logging.INFO) -> None:
    """Long-running commands log JSON lines to stderr under the `fedaudit` logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger("fedaudit")
    root.handlers[:] = [handler]
    root.setLevel(level)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fedaudit")
def main() -> None:
    """fedaudit: federated analysis for social-security audits.

    Headquarters dispatches signed analyses from a vetted library; every node runs
    them on its own data and returns only what its disclosure policy allows.
    """
    setup_logging()


main.add_command(certs_group)
main.add_command(node_group)
main.add_command(task_group)
main.add_command(analyses_group)
main.add_command(synth_group)
main.add_command(demo)
main.add_command(coordinator_group)
main.add_command(results)
results.add_command(findings_command)
results.add_command(report_command)
main.add_command(nodes_command)
task_group.add_command(submit_command)
task_group.add_command(watch_command)
for command in SHARING_COMMANDS:
    results.add_command(command)
coordinator_group.add_command(access_log)
