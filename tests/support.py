"""Helpers shared by the test suite and the benchmarks (plain functions, no fixtures)."""
import socket

import psycopg
from sqlalchemy.engine import make_url


def recreate_database(url: str) -> None:
    """Drop and create the database of `url`, so migrations run from an empty one."""
    parsed = make_url(url)
    admin = parsed.set(database="postgres", drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
