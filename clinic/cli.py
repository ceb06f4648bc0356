"""Command line: seed-demo, staff accounts and tokens, links, demo (db upgrade: Flask-Migrate)."""

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from . import clock
from .auth import StaffError, create_staff, issue_token, revoke_tokens
from .enums import StaffRole
from .extensions import db
from .links import manage_url
from .seed import seed_demo


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_staff_command)
    app.cli.add_command(providers_command)
    app.cli.add_command(issue_token_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(revoke_tokens_command)
    app.cli.add_command(replace_link_command)
    from scheduler.cli import scheduler_cli

    app.cli.add_command(scheduler_cli)


@click.command("seed-demo")
@with_appcontext
@click.option("--history", is_flag=True,
              help="Also write a past year of visits, texts and replies, and two weeks ahead.")
def seed_demo_command(history: bool):
    """Add the demo services and providers (safe to run again)."""
    added = seed_demo(db.session)
    click.echo(f"seeded: {added['services']} services, {added['providers']} providers added")
    if history:
        fill_demo_history()


def fill_demo_history() -> None:
    """The demo's past (clinic/history.py), with a progress bar; nothing when it is there."""
    from .history import fill_history, has_history

    now, clinic = clock.now(), clock.clinic()
    if has_history(db.session, now=now, clinic=clinic):
        click.echo("history: already there (visits more than 30 days old); nothing added")
        return
    with click.progressbar(length=1, label="Writing history", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        counts = fill_history(db.session, now=now, clinic=clinic, progress=progress,
                              base_url=current_app.config["PUBLIC_BASE_URL"])
    click.echo("history: " + ", ".join(f"{n} {name}" for name, n in counts.items()))


@click.command("create-staff")
@with_appcontext
@click.argument("email")
@click.option("--name", required=True, help="Name shown to colleagues.")
@click.option("--role", type=click.Choice([r.value for r in StaffRole]),
              default=StaffRole.STAFF.value,
              show_default=True)
@click.option("--provider", "provider_id", type=int, default=None,
              help="The id of the provider this account works as (`providers` lists them).")
def create_staff_command(email: str, name: str, role: str, provider_id: int | None):
    """Create a staff account; the password is read from standard input."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = create_staff(db.session, email, name, role, password, now=clock.now(),
                            provider_id=provider_id)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from None
    works_as = f", working as {user.provider.name}" if user.provider else ""
    click.echo(f"created {user.role} {user.email}{works_as}")


@click.command("providers")
@with_appcontext
def providers_command():
    """List providers: id, role, name."""
    from sqlalchemy import select

    from .models import Provider

    for provider in db.session.scalars(select(Provider).order_by(Provider.id)):
        state = "" if provider.active else " (retired)"
        click.echo(f"{provider.id}\t{provider.role}\t{provider.name}{state}")


@click.command("issue-token")
@with_appcontext
@click.argument("email")
def issue_token_command(email: str):
    """Print a new API token for a staff account (shown once; only its hash is kept)."""
    try:
        click.echo(issue_token(db.session, email, now=clock.now()))
    except StaffError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("revoke-tokens")
@with_appcontext
@click.argument("email")
def revoke_tokens_command(email: str):
    """Revoke every API token of a staff account."""
    try:
        count = revoke_tokens(db.session, email, now=clock.now())
    except StaffError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {count} token(s)")


@click.command("replace-link")
@with_appcontext
@click.argument("visit_id", type=click.IntRange(1, 2**31 - 1))
def replace_link_command(visit_id: int):
    """Give a visit a new manage link; the old one stops working."""
    from .booking import replace_link
    from .models import Appointment

    appt = db.session.get(Appointment, visit_id)
    if appt is None:
        raise click.ClickException(f"No visit {visit_id}.")
    token = replace_link(db.session, appt, now=clock.now(), actor="staff:cli")
    click.echo(manage_url(token))


def demo_admin(session, *, now) -> tuple[str, str]:
    """The demo's admin account, with a new random password each time the demo starts."""
    import secrets

    from sqlalchemy import select

    from .auth import create_staff, hash_password
    from .models import StaffUser
    from .tx import transaction

    email, password = "admin@demo.clinic", secrets.token_urlsafe(12)
    user = session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None:
        create_staff(session, email, "Demo Admin", "admin", password, now=now)
    else:
        password_hash = hash_password(password)
        with transaction(session):
            user.password_hash = password_hash
    return email, password


@click.command("demo")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--history", is_flag=True,
              help="Also write a past year of visits, texts and replies (once).")
def demo_command(host: str, port: int, history: bool):
    """Migrate, seed and serve the app with SMS printed to the console."""
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()
    app.config["SMS_BACKEND"] = "console"
    if not os.environ.get("PUBLIC_BASE_URL"):
        app.config["PUBLIC_BASE_URL"] = f"http://{host}:{port}"  # links in texts work locally
    upgrade()
    seed_demo(db.session)
    if history:
        fill_demo_history()  # before the dispatcher starts: the history takes its ids
    email, password = demo_admin(db.session, now=clock.now())
    from scheduler.runner import start_embedded

    start_embedded(app)  # the one process that embeds the dispatcher
    click.echo(f"Booking pages: http://{host}:{port}/   API: http://{host}:{port}/api/v1/openapi.json")
    click.echo(f"Staff workspace: http://{host}:{port}/staff/   sign in as {email} "
               f"with the password {password} (new at every start of the demo)")
    run_simple(host, port, app, threaded=True, use_reloader=False)
