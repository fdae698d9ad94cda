"""CPU per request of the database benchmark apps called in-process: qiao against Django.

    benchmarks/.venv/bin/python benchmarks/db_inprocess.py                  # both databases
    benchmarks/.venv/bin/python benchmarks/db_inprocess.py --databases postgres --rounds 9
    benchmarks/.venv/bin/python benchmarks/db_inprocess.py --profile qiao_asgi:/db \\
        --databases sqlite [--sort tottime] [--calls 5000]

No server, no HTTP, no wrk: the apps of ``benchmarks/apps/database/`` (qiao with ``def`` views on
``request.db`` through its WSGI adapter, qiao with ``async def`` views on ``request.adb`` through
its ASGI adapter on one event loop, Django's ORM through its WSGI handler) are called in a loop
with a prepared environ or scope, the body joined and closed. For each endpoint the apps take
turns (A B C A B C ...) for ``--rounds`` rounds of ``--calls`` requests, and the table gives the
median µs per request of CPU time (``time.process_time``: every thread of this process,
aiosqlite's included, but not the PostgreSQL server's) and of wall time (which adds the
round trips to PostgreSQL), with qiao ÷ Django ratios (below 1.00, qiao is cheaper).

Use it for the cost of the request path on a shared machine, where wrk runs are noisy; quote
``benchmarks/database.py`` for throughput. Each database runs in a child process of its own
(Django is configured once per process). Data: SQLite in
``benchmarks/results/db_inprocess.sqlite3``, PostgreSQL (``QIAO_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``)
in a schema of its own, ``qiao_db_inprocess`` (through ``PGOPTIONS``), so it never touches the
tables ``benchmarks/database.py`` or the tests use. Both are filled once, as the runner fills
them, and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from apps.database import FORTUNES, WORLD_ROWS  # noqa: E402
from harness import asgi_lifespan_startup, asgi_scope, wsgi_environ  # noqa: E402

SQLITE_FILE = BENCH_DIR / "results" / "db_inprocess.sqlite3"
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "qiao_db_inprocess"
DATABASES = ["sqlite", "postgres"]
PATHS = {"db": "/db", "queries": "/queries?queries=20", "fortunes": "/fortunes"}
APPS = ["qiao_wsgi", "django_wsgi", "qiao_asgi"]
#: (qiao app, what it is): each set against Django
QIAO_APPS = {"qiao_wsgi": "sync, WSGI", "qiao_asgi": "async, ASGI"}
SEED = 20_240_601


def postgres_url() -> str:
    return os.environ.get("QIAO_BENCH_POSTGRES_URL", POSTGRES_DEFAULT)


# -- the data -------------------------------------------------------------------------------------
def fill(database: str) -> str:
    """Make and fill the two tables unless they are there already; returns the URL to use."""
    import random

    from sqlalchemy import (
        Column,
        Integer,
        MetaData,
        String,
        Table,
        create_engine,
        func,
        insert,
        inspect,
        select,
        text,
    )

    if database == "sqlite":
        SQLITE_FILE.parent.mkdir(exist_ok=True)
        url = f"sqlite:///{SQLITE_FILE}"
        engine = create_engine(url)
    else:
        url = postgres_url()
        engine = create_engine(
            url.replace("postgresql:", "postgresql+psycopg:", 1),
            connect_args={"options": f"-c search_path={SCHEMA}"},
        )
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    metadata = MetaData()
    world = Table(
        "bench_world",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("randomnumber", Integer, nullable=False),
    )
    fortune = Table(
        "bench_fortune",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("message", String(2048), nullable=False),
    )
    try:
        names = set(inspect(engine).get_table_names())
        if {"bench_world", "bench_fortune"} <= names:
            with engine.connect() as conn:
                counts = (
                    conn.scalar(select(func.count()).select_from(world)),
                    conn.scalar(select(func.count()).select_from(fortune)),
                )
            if counts == (WORLD_ROWS, len(FORTUNES)):
                return url
        metadata.drop_all(engine)
        metadata.create_all(engine)
        rng = random.Random(SEED)
        rows = [{"id": i, "randomnumber": rng.randint(1, WORLD_ROWS)} for i in range(1, 10_001)]
        with engine.begin() as conn:
            conn.execute(insert(world), rows)
            conn.execute(insert(fortune), [{"id": i, "message": m} for i, m in FORTUNES])
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return url


# -- calling the apps -----------------------------------------------------------------------------
def wsgi_call(app: Any, target: str) -> Callable[[], tuple[str, bytes]]:
    """One request to ``target`` (path and query) through the WSGI callable ``app``."""
    path, _, query = target.partition("?")
    base = wsgi_environ(path)
    base["QUERY_STRING"] = query
    status: list[str] = []

    def start_response(line: str, headers: list[Any], exc_info: Any = None) -> None:
        status.append(line)

    def call() -> tuple[str, bytes]:
        status.clear()
        iterable = app(dict(base), start_response)
        try:
            body = b"".join(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        return status[0], body

    return call


def asgi_call(app: Any, target: str) -> Callable[[], Any]:
    """One request to ``target`` through the ASGI callable ``app`` (a coroutine function)."""
    path, _, query = target.partition("?")
    base = asgi_scope(path)
    base["query_string"] = query.encode()
    message = {"type": "http.request", "body": b"", "more_body": False}
    seen: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return message

    async def send(event: dict[str, Any]) -> None:
        if event["type"] == "http.response.start":
            seen["status"], seen["body"] = event["status"], b""
        elif event["type"] == "http.response.body":
            seen["body"] += event.get("body", b"")

    async def call() -> tuple[int, bytes]:
        await app(dict(base), receive, send)
        return seen["status"], seen["body"]

    return call


def check(endpoint: str, status: Any, body: bytes) -> None:
    """Stop unless the answer is a 200 with the shape the endpoint promises."""
    if str(status).split()[0] != "200":
        raise SystemExit(f"{endpoint}: status {status}: {body[:200]!r}")
    if endpoint == "db":
        assert set(json.loads(body)) == {"id", "randomNumber"}, body
    elif endpoint == "queries":
        assert len(json.loads(body)) == 20, body
    else:
        assert body.count(b"<tr><td>") == len(FORTUNES) + 1, body


def load(module: str) -> Any:
    import importlib

    return importlib.import_module(f"apps.database.{module}").app


class Runner:
    """The three apps of one database, on one event loop for the ASGI one."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.apps = {module: load(module) for module in APPS}
        self.lifespan = self.loop.run_until_complete(asgi_lifespan_startup(self.apps["qiao_asgi"]))

    def close(self) -> None:
        """Stop the ASGI app's lifespan task and close the loop."""
        self.lifespan.cancel()
        with contextlib.suppress(BaseException):
            self.loop.run_until_complete(self.lifespan)
        self.loop.close()

    def caller(self, module: str, endpoint: str) -> Callable[[], Any]:
        """A function answering one request (the ASGI one drives the loop)."""
        app = self.apps[module]
        if module == "qiao_asgi":
            acall = asgi_call(app, PATHS[endpoint])
            run = self.loop.run_until_complete
            return lambda: run(acall())
        return wsgi_call(app, PATHS[endpoint])

    def batch(self, module: str, endpoint: str, calls: int) -> tuple[float, float]:
        """(CPU µs, wall µs) per request over ``calls`` requests."""
        app = self.apps[module]
        if module == "qiao_asgi":
            acall = asgi_call(app, PATHS[endpoint])

            async def many() -> None:
                for _ in range(calls):
                    await acall()

            cpu, wall = time.process_time(), time.perf_counter()
            self.loop.run_until_complete(many())
        else:
            call = wsgi_call(app, PATHS[endpoint])
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(calls):
                call()
        return (
            (time.process_time() - cpu) / calls * 1e6,
            (time.perf_counter() - wall) / calls * 1e6,
        )


def measure(endpoints: list[str], rounds: int, calls: dict[str, int]) -> dict[str, Any]:
    """``{endpoint: {app: {"cpu": median µs, "wall": median µs}}}``, apps alternating."""
    runner = Runner()
    results: dict[str, Any] = {}
    for endpoint in endpoints:
        for module in APPS:
            check(endpoint, *runner.caller(module, endpoint)())
            runner.batch(module, endpoint, max(1, calls[endpoint] // 5))  # warm-up
        samples: dict[str, list[tuple[float, float]]] = {module: [] for module in APPS}
        for _ in range(rounds):
            for module in APPS:
                samples[module].append(runner.batch(module, endpoint, calls[endpoint]))
        results[endpoint] = {
            module: {
                "cpu": statistics.median(s[0] for s in runs),
                "wall": statistics.median(s[1] for s in runs),
            }
            for module, runs in samples.items()
        }
    runner.close()
    return results


def profile(target: str, calls: int, sort: str, limit: int) -> None:
    """cProfile ``calls`` requests of ``app:endpoint`` (e.g. ``qiao_asgi:db``)."""
    module, _, endpoint = target.partition(":")
    endpoint = endpoint.lstrip("/")
    runner = Runner()
    call = runner.caller(module, endpoint)
    check(endpoint, *call())
    for _ in range(max(1, calls // 5)):
        call()
    profiler = cProfile.Profile()
    if module == "qiao_asgi":
        acall = asgi_call(runner.apps[module], PATHS[endpoint])

        async def many() -> None:
            for _ in range(calls):
                await acall()

        profiler.enable()
        runner.loop.run_until_complete(many())
        profiler.disable()
    else:
        profiler.enable()
        for _ in range(calls):
            call()
        profiler.disable()
    runner.close()
    print(f"{target}: {calls} calls; per-request time = column / {calls}")
    pstats.Stats(profiler).sort_stats(sort).print_stats(limit)


# -- the parent: one child per database, then the table ------------------------------------------
def child_env(database: str, url: str) -> dict[str, str]:
    env = dict(os.environ, QIAO_BENCH_DB=database, QIAO_BENCH_DB_URL=url, QIAO_BENCH_POOL_SIZE="8")
    if database == "postgres":
        env["PGOPTIONS"] = f"-c search_path={SCHEMA}"
    return env


def render(database: str, results: dict[str, Any]) -> list[str]:
    lines = []
    for endpoint, apps in results.items():
        django = apps["django_wsgi"]
        for module, label in QIAO_APPS.items():
            qiao = apps[module]
            lines.append(
                f"| {database} | {endpoint} | {label} | {qiao['cpu']:.0f} | {django['cpu']:.0f} "
                f"| {qiao['cpu'] / django['cpu']:.2f} | {qiao['wall']:.0f} | {django['wall']:.0f} "
                f"| {qiao['wall'] / django['wall']:.2f} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument("--endpoints", default=",".join(PATHS))
    parser.add_argument("--rounds", type=int, default=5, help="turns per app and endpoint")
    parser.add_argument("--calls", type=int, default=2000, help="requests per turn (/db)")
    parser.add_argument("--profile", metavar="APP:ENDPOINT", help="cProfile instead")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--limit", type=int, default=35)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    endpoints = [e for e in args.endpoints.split(",") if e]
    # 20 queries cost ~10x a single one: fewer calls keep each turn about as long
    calls = {"db": args.calls, "queries": max(1, args.calls // 10), "fortunes": args.calls}
    if args.child:
        if args.profile:
            profile(args.profile, args.calls, args.sort, args.limit)
        else:
            json.dump(measure(endpoints, args.rounds, calls), sys.stdout)
        return
    lines = [
        "| database | test | qiao | qiao CPU µs | Django CPU µs | CPU ratio "
        "| qiao wall µs | Django wall µs | wall ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for database in [d for d in args.databases.split(",") if d]:
        url = fill(database)
        command = [sys.executable, __file__, "--child", database, *sys.argv[1:]]
        env = child_env(database, url)
        if args.profile:
            subprocess.run(command, env=env, check=True)
            continue
        out = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
        lines += render(database, json.loads(out.stdout))
    if not args.profile:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
