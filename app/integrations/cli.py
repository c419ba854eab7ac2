"""`flask integrations ...` (the group is registered by app/cli.py)."""
import click
from flask.cli import AppGroup

integrations_cli = AppGroup("integrations", help="Integrations: stored secrets.")


@integrations_cli.command("rotate-keys")
def rotate_keys_command():
    """Encrypt every stored credential and secret again with the first key of INTEGRATIONS_KEYS."""
    from app.integrations.secrets import rotate_all

    click.echo(f"Re-encrypted {rotate_all()} stored secrets with the current key.")
