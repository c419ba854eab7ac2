"""Commands of the app: `flask seed-demo`, `flask worker`."""
import click


def register_cli(app) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create (or complete) the demo workspace and print its login."""
        from app.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

        account, _ = seed_demo()
        click.echo(f"Demo workspace: {account.name}")
        click.echo(f"Demo login:     {DEMO_EMAIL} / {DEMO_PASSWORD}")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
    def worker_command(burst):
        """Run an RQ worker (with RQ's scheduler) for the app's queue. Needs REDIS_URL."""
        from flask import current_app

        from app.core.jobs import run_worker

        if not current_app.config.get("REDIS_URL"):
            raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inside the web process.")
        run_worker(burst=burst)
