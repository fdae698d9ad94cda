"""The battery under real servers: gunicorn (WSGI, threads) and uvicorn (ASGI).

Many concurrent requests write rows; some fail on purpose after writing. Counting the rows
afterwards, exactly, shows that none is lost and none of a failed request remains. A client that
goes away in the middle of a streamed response must not strand its connection.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from tests._servers import free_port, running_server, server_env, venv_bin, wait_for
from tests.db._support import DbNote, PostgresSchema, create_tables, sqlalchemy_url

pytestmark = pytest.mark.filterwarnings("error")

SERVED_APP = """
import os
import time

from sqlalchemy import func, select

import qiao
from qiao.db import Database
from tests.db._support import Boom, DbNote

app = qiao.App(__name__, config={"SECRET_KEY": "x", "DATABASE_URL": os.environ["DB_TEST_URL"]})
db = Database(app)
closed = []


@app.get("/pools")
def pools(request):
    return {
        "sync": db.engine.pool.checkedout(),
        "async": sum(engine.pool.checkedout() for engine in db.async_engines),
        "async_engines": len(db.async_engines),
        "closed": len(closed),
    }


def _titles(request):
    run, n = request.query["run"], int(request.query["n"])
    return [DbNote(title=f"{run}:{n}:{part}", kind="server") for part in range(3)]


@app.post("/write")
def write(request):
    request.db.add_all(_titles(request))
    request.db.flush()
    time.sleep(0.002)  # hold the transaction open a little: requests overlap
    if request.query.get("fail"):
        raise Boom("on purpose")
    return "ok"


@app.post("/awrite")
async def awrite(request):
    request.adb.add_all(_titles(request))
    await request.adb.flush()
    if request.query.get("fail"):
        raise Boom("on purpose")
    return "ok"


def _count(session):
    return session.scalar(select(func.count()).select_from(DbNote))


@app.get("/stream")
def stream(request):
    request.db.get(DbNote, 1)

    def lines():
        try:
            for n in range(2000):
                yield f"{n}:{_count(request.db)}:" + "x" * 4000 + "\\n"
                time.sleep(0.005)
        finally:
            closed.append("sync")

    return qiao.StreamingResponse(lines(), content_type="text/plain")


@app.get("/astream")
async def astream(request):
    await request.adb.get(DbNote, 1)

    async def lines():
        import asyncio

        try:
            for n in range(2000):
                count = await request.adb.scalar(select(func.count()).select_from(DbNote))
                yield f"{n}:{count}:" + "x" * 4000 + "\\n"
                await asyncio.sleep(0.005)
        finally:
            closed.append("async")

    return qiao.StreamingResponse(lines(), content_type="text/plain")
"""

SERVERS = {
    "gunicorn": lambda port: [
        venv_bin("gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "8",
        "--worker-class",
        "gthread",
        "served_db_app:app",
    ],
    "uvicorn": lambda port: [
        venv_bin("uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "served_db_app:app",
    ],
}


@dataclass
class Served:
    kind: str
    backend: str
    url: str
    database_url: str
    output: object  # the server's output, read at the end
    client: httpx.Client

    def rows(self, prefix: str) -> list[str]:
        engine = create_engine(sqlalchemy_url(self.database_url))
        try:
            with engine.connect() as conn:
                titles = conn.scalars(select(DbNote.title).where(DbNote.title.startswith(prefix)))
                return sorted(titles)
        finally:
            engine.dispose()


@pytest.fixture(
    scope="module",
    params=[(k, b) for k in sorted(SERVERS) for b in ("sqlite", "postgresql")],
    ids=lambda p: "-".join(p),
)
def served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Served]:
    kind, backend = request.param
    folder = tmp_path_factory.mktemp("served")
    if backend == "sqlite":
        path = folder / "served.db"
        shutil.copyfile(sqlite_template, path)
        database_url = f"sqlite:///{path}"
    else:
        schema: PostgresSchema = request.getfixturevalue("postgres_schema")
        database_url = schema.fresh()
        create_tables(database_url)
    (folder / "served_db_app.py").write_text(SERVED_APP)
    env = server_env(DB_TEST_URL=database_url)
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env["PYTHONPATH"]])
    port = free_port()
    with (
        running_server(
            kind, SERVERS[kind](port), port, cwd=folder, env=env, ready_path="/pools"
        ) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield Served(kind, backend, server.url, database_url, server, client)


def _pools(served: Served) -> dict[str, int]:
    return served.client.get("/pools").json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/write", "/awrite"])
def test_concurrent_writes_lose_nothing_and_failed_requests_leave_nothing(
    served: Served, path: str
) -> None:
    run = f"{path.strip('/')}-{secrets.token_hex(4)}"
    total = 60
    failing = {n for n in range(total) if n % 3 == 1}

    def send(n: int) -> tuple[int, int]:
        params = {"run": run, "n": str(n)}
        if n in failing:
            params["fail"] = "1"
        return n, client.post(f"{served.url}{path}", params=params).status_code

    limits = httpx.Limits(max_connections=12, max_keepalive_connections=12)
    with httpx.Client(timeout=30, limits=limits) as client, ThreadPoolExecutor(12) as pool:
        statuses = dict(pool.map(send, range(total)))
    assert {n for n, status in statuses.items() if status == 500} == failing
    assert {n for n, status in statuses.items() if status == 200} == set(range(total)) - failing
    expected = sorted(
        f"{run}:{n}:{part}" for n in range(total) if n not in failing for part in range(3)
    )
    assert served.rows(run + ":") == expected
    wait_for(lambda: _pools(served)["sync"] == _pools(served)["async"] == 0, 5, "the pools")
    output = served.output.output()  # type: ignore[attr-defined]
    assert "database is locked" not in output
    assert output.count("Boom: on purpose") >= len(failing)
    if path == "/awrite":  # one async engine per event loop: uvicorn's one, gunicorn's threads'
        engines = _pools(served)["async_engines"]
        assert engines == 1 if served.kind == "uvicorn" else 1 <= engines <= 8


@pytest.mark.parametrize("path", ["/stream", "/astream"])
def test_a_client_that_leaves_mid_stream_does_not_strand_the_connection(
    served: Served, path: str
) -> None:
    before = _pools(served)["closed"]
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{served.url}{path}") as r:
        assert r.status_code == 200
        first = next(r.iter_lines())
        assert first.startswith("0:")
    # The server notices the closed socket on a later send, closes the body, then the session.
    wait_for(lambda: _pools(served)["closed"] == before + 1, 10, "the stream to be closed")
    wait_for(lambda: _pools(served)["sync"] == _pools(served)["async"] == 0, 5, "the pools")


THREADED_ASYNC = """
import os, sys, threading, time

from sqlalchemy import event, text

import qiao
from qiao.db import Database

app = qiao.App(__name__, config={"SECRET_KEY": "x", "DATABASE_URL": sys.argv[1]})
db = Database(app)


@app.get("/")
async def index(request):
    return str(await request.adb.scalar(text("select 1")))


@db.on_engine
def slow_first_connect(engine):
    if not engine.dialect.is_async:
        return
    first = []

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection, record):
        if not first:  # hold SQLAlchemy's first-connect lock while the other thread arrives
            first.append(True)
            time.sleep(0.3)


statuses = {}


def worker(name, delay):
    time.sleep(delay)
    client = app.test_client()  # requests on this thread's own event loop
    statuses[name] = [client.get("/").status_code for _ in range(3)]


threads = [threading.Thread(target=worker, args=a, daemon=True) for a in (("a", 0), ("b", 0.1))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(5)
print(sorted(statuses.items()), len(db.async_engines), flush=True)
os._exit(0)
"""


def test_async_views_under_a_threaded_wsgi_server_do_not_hang(tmp_path: Path) -> None:
    """Two WSGI threads, each with its event loop, use ``request.adb`` at once: each loop gets
    an async engine of its own (one shared engine hung the second thread)."""
    script = tmp_path / "threaded_async.py"
    script.write_text(THREADED_ASYNC)
    result = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{tmp_path / 'threads.db'}"],
        capture_output=True,
        text=True,
        timeout=30,
        env=server_env(),
        check=False,
    )
    assert result.stdout.strip() == "[('a', [200, 200, 200]), ('b', [200, 200, 200])] 2", (
        result.stderr
    )
