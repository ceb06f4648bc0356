"""`flask --app wsgi scheduler run|dispatch`."""

import click
from flask import current_app
from flask.cli import AppGroup

from clinic import clock
from clinic.timeutil import parse_aware

from . import jobs, runner

scheduler_cli = AppGroup("scheduler", help="The dispatcher that sends texts and closes visits.")


@scheduler_cli.command("run")
def run_command():
    """Run the dispatcher until SIGTERM (one on SQLite; one or more on PostgreSQL)."""
    runner.run_blocking(current_app._get_current_object(), on_ready=lambda: click.echo(
        "dispatcher running; SIGTERM stops it after the message in flight"))


@scheduler_cli.command("dispatch")
@click.option("--now", "now_text", help="Run as of this ISO 8601 instant (default: now).")
def dispatch_command(now_text: str | None):
    """Run every periodic job once and print what each did (counts only)."""
    try:
        now = parse_aware(now_text) if now_text else clock.now()
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    results = jobs.run_all_once(current_app._get_current_object(), now)
    click.echo(f"as of {now.isoformat()}")
    for name, result in results.items():
        if isinstance(result, dict):
            detail = ", ".join(f"{k} {v}" for k, v in sorted(result.items())) or "nothing due"
        else:
            detail = str(result)
        click.echo(f"{name}: {detail}")
