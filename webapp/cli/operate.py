"""Running tourflow: info, serve, worker, demo, bench."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from webapp.app_state import tourflow
from webapp.cli.base import ID, LANGS, cli_language, emit, remember_language
from webapp.cli.bench_http import http_bench_options, run_http_options


@click.command()
@with_appcontext
def info() -> None:
    """Show where tourflow keeps its data."""
    app_state = tourflow()
    click.echo(f"database: {app_state.url}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=ID)
@click.option("--workers", default=2, show_default=True, type=ID)
@click.option("--no-job-worker", "no_job_worker", is_flag=True,
              help="Do not start a job worker beside the server (when `tourflow worker` runs elsewhere).")
@click.option("--lang", type=click.Choice(LANGS), default=cli_language, callback=remember_language,
              show_default="$TOURFLOW_LANG, else en",
              help="Language of the start-up errors: zh (中文) or en.")
def serve(host: str, port: int, workers: int, no_job_worker: bool, lang: str) -> None:
    """Serve the inbox with gunicorn, plus a job worker for timers and retries."""
    from webapp.message_preview import check_at_startup
    from webapp.serve import port_in_use, port_in_use_message, serve_app

    check_at_startup("tourflow serve")

    if port_in_use(host, port):  # else gunicorn retries the bind five times and starts a worker in vain
        click.echo(port_in_use_message(host, port, lang), err=True)
        raise SystemExit(1)
    serve_app(host, port, workers, echo=click.echo, job_worker=not no_job_worker)


@click.command()
@click.option("--poll", "poll_seconds", type=float, default=1.0, show_default=True,
              help="Seconds between two looks at the job table (a job due sooner wakes the worker itself).")
@click.option("--lease", "lease_seconds", type=float, default=None,
              help="Seconds a taken job stays this worker's before others may take it "
                   "[default: TOURFLOW_JOB_LEASE_SECONDS or 60].")
@click.option("--housekeeping", "housekeeping_seconds", type=float, default=30.0, show_default=True,
              help="Seconds between two message housekeeping runs (expiry, buffered deliveries).")
@click.option("--name", default=None, help="This worker's name in job leases [default: worker:HOST:PID].")
@with_appcontext
def worker(poll_seconds: float, lease_seconds: float | None, housekeeping_seconds: float, name: str | None) -> None:
    """Fire timers, retries and timer starts as they fall due, until SIGTERM (any number may run)."""
    import logging

    from engine.run.worker import Worker

    if poll_seconds <= 0 or housekeeping_seconds <= 0 or (lease_seconds is not None and lease_seconds <= 0):
        raise click.BadParameter("--poll, --lease and --housekeeping must be positive")
    from webapp.message_preview import check_at_startup

    check_at_startup("tourflow worker")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per poll otherwise
    runner = Worker(tourflow().runtime, name=name, poll_seconds=poll_seconds, lease_seconds=lease_seconds,
                    housekeeping_seconds=housekeeping_seconds)
    click.echo(f"tourflow worker {runner.name}: polling every {poll_seconds}s; SIGTERM stops it after the current step")
    runner.run_forever()


@click.command("search-backfill")
@with_appcontext
def search_backfill() -> None:
    """Fill the inbox search text of open tasks written before it existed (older databases)."""
    from engine.run.task_search import backfill

    with tourflow().runtime.transaction() as tx:
        filled = backfill(tx.session)
    click.echo(f"{filled} open tasks made searchable")


@click.command()
@with_appcontext
def demo() -> None:
    """Create demo users and data, deploy processes/, start a few instances."""
    from webapp.demo import load_demo

    load_demo(tourflow().runtime, echo=click.echo)


@click.command()
@click.option("--instances", default=200, show_default=True, help="Instances per measurement.")
@click.option("--inbox-tasks", default=100_000, show_default=True,
              help="Open tasks seeded for the inbox latency measurement (0 skips it).")
@click.option("--inbox-database-url", envvar="TOURFLOW_BENCH_DATABASE_URL", default=None,
              help="Run the inbox measurement on this database (e.g. PostgreSQL) instead of a fresh SQLite "
                   "file; its bench rows are removed afterwards [env: TOURFLOW_BENCH_DATABASE_URL].")
@click.option("--timers", default=300, show_default=True,
              help="Timers for the timer accuracy measurement, fired by real worker processes (0 skips it).")
@click.option("--timer-window", default=20.0, show_default=True, help="Seconds the timers' due times spread over.")
@click.option("--timer-workers", default=2, show_default=True, help="Worker processes firing them.")
@click.option("--replay-events", default=1000, show_default=True,
              help="Recorded events to replay for the replay speed measurement (0 skips it).")
@click.option("--loop", "loop_passes", default=1000, show_default=True,
              help="Passes of the long-loop measurement: per-pass cost first vs last 50 (0 skips it).")
@click.option("--codec", "codec_calls", default=1000, show_default=True,
              help="Calls per case of the workflow codec measurement, against SpiffWorkflow's serializer (0 skips it).")
@click.option("--wal-frames", "wal_frame_instances", default=100, show_default=True,
              help="Instances per process of the WAL-frame count: the pages each step writes on SQLite, by table and "
                   "index (0 skips it).")
@click.option("--scale", is_flag=True, help="Also measure the step cost at a small and a large number of stored "
              "instances (1k and 1M on PostgreSQL, 1k and 100k on SQLite).")
@click.option("--scale-sizes", default=None, metavar="SMALL,LARGE", help="Stored instances for --scale.")
@click.option("--scale-steps", default=200, show_default=True, help="Instances run per size for --scale.")
@click.option("--scale-url", default=None, help="Database for --scale (default: TOURFLOW_BENCH_DATABASE_URL, "
              "else a temporary SQLite file); it is filled with seeded instances.")
@click.option("--json", "as_json", is_flag=True)
@http_bench_options
def bench(instances: int, inbox_tasks: int, inbox_database_url: str | None, timers: int, timer_window: float,
          timer_workers: int, replay_events: int, loop_passes: int, codec_calls: int, wal_frame_instances: int,
          scale: bool,
          scale_sizes: str | None, scale_steps: int, scale_url: str | None, as_json: bool, **http_options) -> None:
    """Raw SpiffWorkflow vs tourflow with persistence; inbox latency; timer accuracy; replay speed;
    with --http / --http-memory only the approval shape over a real gunicorn (webapp/bench_http.py)."""
    if run_http_options(http_options, as_json):
        return
    from engine.bench.core import run_bench
    from engine.bench.inbox import run_inbox_bench
    from engine.bench.timers import run_timer_bench

    echo = None if as_json else click.echo
    report = run_bench(instances=instances, echo=echo)
    if inbox_tasks > 0:
        if echo:
            echo("")
        report["inbox"] = run_inbox_bench(tasks=inbox_tasks, echo=echo, database_url=inbox_database_url)
    if timers > 0:
        if echo:
            echo("")
        report["timers"] = run_timer_bench(timers=timers, window=timer_window, workers=timer_workers, echo=echo)
    if replay_events > 0:
        from engine.bench.replay import run_replay_bench

        if echo:
            echo("")
        report["replay"] = run_replay_bench(events=replay_events, echo=echo)
    if loop_passes > 0:
        from engine.bench.loop import run_loop_bench

        if echo:
            echo("")
        report["loop"] = run_loop_bench(passes=loop_passes, echo=echo)
    if codec_calls > 0:
        from engine.bench.codec import run_codec_bench

        if echo:
            echo("")
        report["codec"] = run_codec_bench(calls=codec_calls, echo=echo)
    if wal_frame_instances > 0:
        from engine.bench.wal_frames import run_wal_frames_bench

        if echo:
            echo("")
        report["wal_frames"] = run_wal_frames_bench(instances=wal_frame_instances, echo=echo)
    if scale:
        from engine.bench.scale import run_scale_bench

        if echo:
            echo("")
        sizes = tuple(int(n) for n in scale_sizes.split(",")) if scale_sizes else None
        report["scale"] = run_scale_bench(sizes=sizes, steps=scale_steps, database_url=scale_url, echo=echo)
    if as_json:
        emit(report)
