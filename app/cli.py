"""Commands of the app: `flask seed-demo`, `flask worker`, `flask orders-abandon`..."""
import click


def register_cli(app) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create (or complete) the demo workspace and print its login."""
        from app.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

        account, _ = seed_demo()
        click.echo(f"Demo workspace: {account.name}")
        click.echo(f"Demo login:     {DEMO_EMAIL} / {DEMO_PASSWORD}")

    @app.cli.command("crm-generate")
    @click.option("--email", default="demo@example.com", help="Owner of the workspace to fill.")
    @click.option("--contacts", "contact_count", default=0, help="How many contacts to add.")
    @click.option("--deals", "deal_count", default=0, help="How many open deals to add.")
    def crm_generate_command(email, contact_count, deal_count):
        """Fill the user's first workspace with many contacts and deals (for benchmarks)."""
        from app.auth.services import memberships_of, user_by_email
        from app.crm.demo import generate

        user = user_by_email(email)
        if user is None or not memberships_of(user):
            raise click.ClickException(f"No user {email} with a workspace.")
        account = memberships_of(user)[0].account
        generate(account, user, contact_count, deal_count)
        click.echo(f"Added {contact_count:,} contacts and {deal_count:,} deals to {account.name}.")

    @app.cli.command("purge-deleted")
    def purge_deleted_command():
        """Remove contacts deleted more than 30 days ago (run daily, e.g. from cron)."""
        from app.crm.services.contacts import purge_deleted

        click.echo(f"Removed {purge_deleted():,} contacts deleted more than 30 days ago.")

    @app.cli.command("orders-abandon")
    def orders_abandon_command():
        """Mark checkouts unpaid for CHECKOUT_ABANDON_MINUTES as abandoned (order.abandoned); run it from cron."""
        from app.orders.services.orders import abandon_stale

        click.echo(f"{abandon_stale():,} checkouts marked abandoned.")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
    def worker_command(burst):
        """Run an RQ worker (with RQ's scheduler) for the app's queue. Needs REDIS_URL."""
        from flask import current_app

        from app.core.jobs import run_worker

        if not current_app.config.get("REDIS_URL"):
            raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inside the web process.")
        run_worker(burst=burst)
