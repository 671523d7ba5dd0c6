"""The options of `tourflow bench` for the scenarios over HTTP (webapp/bench_http.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from webapp.cli.base import emit

HTTP_OPTIONS = (
    click.option("--http", "http", is_flag=True,
                 help="Only the approval shape over a real gunicorn with bearer tokens (create, inbox, submit)."),
    click.option("--http-instances", default=500, show_default=True, type=click.IntRange(1),
                 help="Instances of the sequential --http run (and per point of the PostgreSQL worker curve)."),
    click.option("--http-database-url", default=None,
                 help="Database of the --http runs [default: TOURFLOW_BENCH_DATABASE_URL, else a fresh SQLite "
                      "file]; PostgreSQL adds 8 concurrent clients against 1, 2 and 4 workers."),
    click.option("--http-memory", is_flag=True,
                 help="Only the server memory scenario: the worker's RSS after 1k and after --http-requests."),
    click.option("--http-requests", default=100_000, show_default=True, type=click.IntRange(1000),
                 help="Requests of the --http-memory scenario."),
)


def http_bench_options(command: Callable) -> Callable:
    for option in reversed(HTTP_OPTIONS):
        command = option(command)
    return command


def run_http_options(options: dict[str, Any], as_json: bool) -> bool:
    """Run what --http / --http-memory ask for; False when neither was given (the other scenarios run)."""
    if not options["http"] and not options["http_memory"]:
        return False
    echo = None if as_json else click.echo
    report: dict[str, Any] = {}
    if options["http"]:
        from webapp.bench_http import run_http_bench

        report["http"] = run_http_bench(instances=options["http_instances"],
                                        database_url=options["http_database_url"], echo=echo)
    if options["http_memory"]:
        from webapp.bench_http_memory import run_memory_bench

        if echo and options["http"]:
            echo("")
        report["http_memory"] = run_memory_bench(requests=options["http_requests"],
                                                 database_url=options["http_database_url"], echo=echo)
    if as_json:
        emit(report)
    return True
