"""Commands of the app: `flask seed-demo`, `flask worker`, `flask orders-abandon`..."""
import click


def register_cli(app) -> None:
    from app.analytics.cli import analytics_cli

    app.cli.add_command(analytics_cli)  # flask analytics generate / ingest ... (app/analytics/cli.py)
    from app.integrations.cli import integrations_cli

    app.cli.add_command(integrations_cli)  # flask integrations rotate-keys (app/integrations/cli.py)

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
        """Remove contacts deleted more than 30 days ago now (the worker also does it daily: crm-purge-deleted)."""
        from app.crm.services.contacts import purge_deleted

        click.echo(f"Removed {purge_deleted():,} contacts deleted more than 30 days ago.")

    @app.cli.command("orders-abandon")
    def orders_abandon_command():
        """Mark checkouts unpaid for CHECKOUT_ABANDON_MINUTES as abandoned now (the worker does it every 10 minutes)."""
        from app.orders.services.orders import abandon_stale

        click.echo(f"{abandon_stale():,} checkouts marked abandoned.")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
    def worker_command(burst):
        """Run an RQ worker for the app's queue, and the scheduled work (not with --burst). Needs REDIS_URL."""
        from flask import current_app

        from app.core.jobs import run_worker

        if not current_app.config.get("REDIS_URL"):
            raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inside the web process.")
        if not burst:
            from app.core import schedule

            schedule.start_ticker(current_app._get_current_object())  # scheduled work (app/core/schedule.py)
        run_worker(burst=burst)

    @app.cli.group("schedule")
    def schedule_group():
        """Scheduled work (app/core/schedule.py): `flask worker` starts what is due every 30 seconds."""

    @schedule_group.command("list")
    def schedule_list_command():
        """Each schedule with its cron expression, last run and next run (UTC)."""
        from app.core import schedule

        def moment(value):
            return f"{value:%Y-%m-%d %H:%M:%S}" if value else "never"

        for row in schedule.status():
            upcoming = "due now" if row["due"] else moment(row["next_run_at"])
            click.echo(f"{row['name']:<24} {row['cron']:<16} last {moment(row['last_run_at']):<19}  "
                       f"next {upcoming:<19}  {row['last_status']}")
            click.echo(f"{'':<24} {row['summary']}")

    @schedule_group.command("run")
    @click.argument("name")
    def schedule_run_command(name):
        """Enqueue a schedule's task now, due or not (it counts as its last run)."""
        from app.core import schedule

        if name not in schedule.REGISTRY:
            raise click.ClickException(f"No schedule {name!r}: see `flask schedule list`.")
        if not schedule.start(schedule.REGISTRY[name], force=True):
            raise click.ClickException("Not enqueued: see the log.")
        click.echo(f"{name} enqueued.")

    @schedule_group.command("tick")
    def schedule_tick_command():
        """Enqueue what is due now, once (what the worker does every 30 seconds)."""
        from app.core import schedule

        started = schedule.tick()
        click.echo(f"Enqueued: {', '.join(started)}." if started else "Nothing due.")
