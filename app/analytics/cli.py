"""`flask analytics ...`: the analytics commands (the group is registered by app/cli.py)."""
import click
from flask.cli import AppGroup

PROGRESS_SECONDS = 5.0
analytics_cli = AppGroup("analytics", help="Funnel analytics: generated traffic, the ingest worker.")


@analytics_cli.command("generate")
@click.option("--funnel", "funnel_ref", required=True, help="The funnel's id or slug.")
@click.option("--events", "event_count", default=10_000, show_default=True, type=click.IntRange(1, 100_000_000),
              help="About how many events to write.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 396),
              help="Spread over the last D days (13 months at most: the raw events' retention).")
@click.option("--seed", default=None, type=int, help="The same seed gives the same traffic.")
def generate_command(funnel_ref, event_count, days, seed):
    """Fill a funnel with realistic traffic (sources, devices, step drop-off, conversions, A/B variants)
    through the ingest, so the rollups are right."""
    import time

    from app.analytics import generator

    funnel = generator.find_funnel(funnel_ref)
    if funnel is None:
        raise click.ClickException(f"No funnel {funnel_ref!r} (give its id or its slug).")
    started = time.monotonic()
    shown = [0.0]

    def progress(done: int, total: int) -> None:  # a line every few seconds, and the last one
        elapsed = time.monotonic() - started
        if elapsed - shown[0] >= PROGRESS_SECONDS or done >= total:
            shown[0] = elapsed
            click.echo(f"  {done:>12,} of {total:,} events  ({done / max(elapsed, 1e-9):,.0f}/s)")

    stats = generator.generate(funnel, event_count, days, seed=seed, progress=progress)
    elapsed = time.monotonic() - started
    click.echo(f"{stats.events:,} events ({stats.visitors:,} visitors, {stats.sessions:,} sessions, "
               f"{stats.conversions:,} conversions) for {funnel.name} over {days} days in {elapsed:,.1f} s "
               f"({stats.events / max(elapsed, 1e-9):,.0f} events/s).")


@analytics_cli.command("ingest")
@click.option("--once", is_flag=True, help="Store what is buffered now, then stop (otherwise: run until stopped).")
def ingest_command(once):
    """The ingest worker: tracked events from the buffer (Redis, or the database inbox while Redis was down)
    into the events table and the rollups. Run one beside `flask worker` in production."""
    from app.analytics import ingest

    if once:
        click.echo(f"{ingest.drain():,} events stored.")
        return
    click.echo("Storing tracked events as they come (Ctrl+C to stop).")
    ingest.run_forever()
