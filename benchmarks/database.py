"""TechEmpower's database tests: qiao against Django's ORM and FastAPI + SQLAlchemy (method:
shared/BENCHMARKS.md).

    python benchmarks/database.py                  # 3 runs of 8 s per cell (~20 min)
    python benchmarks/database.py --quick          # smoke test: 1 run of 3 s per cell (~5 min)
    python benchmarks/database.py --docs           # also replace the section in docs/benchmarks.md
    python benchmarks/database.py --databases postgres --tests db,fortunes --runs 5
    python benchmarks/database.py --render benchmarks/results/database-latest.json [--docs]

Tests (``benchmarks/apps/database/``): ``/db`` (one random World row of 10,000, as JSON),
``/queries?queries=20`` (20 separate single-row queries, a JSON list) and ``/fortunes`` (every
Fortune row plus one added at request time, sorted by message, in an HTML template with
escaping). Apps: qiao with ``def`` views on ``request.db`` (granian WSGI) and with ``async def``
views on ``request.adb`` (granian ASGI); Django's ORM with ``def`` views (granian WSGI);
FastAPI + SQLAlchemy 2 with ``async def`` endpoints on an ``AsyncSession`` and with ``def``
endpoints on a ``Session`` (both granian ASGI).

Databases: SQLite (a file, ``benchmarks/results/database.sqlite3``) and PostgreSQL
(``QIAO_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``), where the
runner drops and recreates the tables ``bench_world`` and ``bench_fortune`` (nothing else is
touched) and fills them: 10,000 World rows with seeded random numbers, TechEmpower's twelve
fortunes. Every endpoint's answers are checked against that data before any load; a failing
cell is marked, not quoted. Uses benchmarks/.venv and the server and wrk helpers of
benchmarks/run.py.

Also, when qiao.auth is there: password hashing, ms per hash and per check, qiao against
Django's hashers in one process (``benchmarks/hashing.py``, pinned to the server CPU).

Writes benchmarks/results/database.md (and the raw database-*.json); with --docs, also the
section between ``<!-- database:start -->`` and ``<!-- database:end -->`` in
docs/benchmarks.md (added at the end when the markers are missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import run as runner  # the shared helpers: venv, servers, wrk (puts benchmarks/ on sys.path)
from apps.database import ADDITIONAL_FORTUNE, APPS, FORTUNES, MAX_QUERIES, WORLD_ROWS

RESULTS = runner.RESULTS
DOCS = runner.DOCS
MARK_START, MARK_END = runner.DATABASE_MARKERS
SQLITE_FILE = RESULTS / "database.sqlite3"
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
DATABASES = ["sqlite", "postgres"]
DATABASE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
#: interface -> server (run.py's names and commands)
SERVER_OF = {"wsgi": "granian-wsgi", "asgi": "granian-asgi"}
QUERIES = 20
#: test -> path
TESTS: dict[str, str] = {
    "db": "/db",
    "queries": f"/queries?queries={QUERIES}",
    "fortunes": "/fortunes",
}
TEST_LABELS = {"db": "single query", "queries": f"{QUERIES} queries", "fortunes": "fortunes"}
#: app module -> its label in the report
LABELS = {
    "qiao_wsgi": "qiao, sync (`request.db`), WSGI",
    "qiao_asgi": "qiao, async (`request.adb`), ASGI",
    "django_wsgi": "Django, sync, WSGI",
    "fastapi_sync": "FastAPI, sync `def`, ASGI",
    "fastapi_async": "FastAPI, async, ASGI",
}
#: each qiao app against its peers: (qiao, Django, FastAPI in the same style)
PAIRS = [
    ("qiao_wsgi", "django_wsgi", "fastapi_sync"),
    ("qiao_asgi", "django_wsgi", "fastapi_async"),
]
VERSIONED = [
    "qiao",
    "Django",
    "fastapi",
    "starlette",
    "pydantic",
    "anyio",
    "SQLAlchemy",
    "greenlet",
    "aiosqlite",
    "psycopg",
    "psycopg-binary",
    "Jinja2",
    "MarkupSafe",
    "msgspec",
    "granian",
    "uvloop",
    "httpx",
]
SEED = 20_240_601


def log(message: str) -> None:
    runner.log(message)


def fmt_cell(c: dict[str, Any] | None) -> str:
    return runner.cell_text(c, 100)


ratio = runner.speed_ratio


# -- the data -------------------------------------------------------------------------------------
def world_numbers() -> dict[int, int]:
    """id -> randomNumber, the same every run (seeded)."""
    rng = random.Random(SEED)
    return {i: rng.randint(1, WORLD_ROWS) for i in range(1, WORLD_ROWS + 1)}


def postgres_url() -> str:
    return os.environ.get("QIAO_BENCH_POSTGRES_URL", POSTGRES_DEFAULT)


def shown_url(url: str) -> str:
    """``url`` without its password; the SQLite file relative to the checkout."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        try:
            return "sqlite:///" + str(path.relative_to(runner.ROOT))
        except ValueError:
            return url
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def fill(database: str, numbers: dict[int, int]) -> tuple[str, str]:
    """Drop, create and fill the two tables; return (the database's URL, its server version)."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, text

    if database == "sqlite":
        RESULTS.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(SQLITE_FILE) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{SQLITE_FILE}"
        engine = create_engine(url)
    else:
        url = postgres_url()
        engine = create_engine(url.replace("postgresql:", "postgresql+psycopg:", 1))
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
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(world), [{"id": i, "randomnumber": n} for i, n in numbers.items()])
            conn.execute(insert(fortune), [{"id": i, "message": m} for i, m in FORTUNES])
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if database == "postgres":
                conn.execute(text("VACUUM ANALYZE bench_world, bench_fortune"))
                version = conn.execute(text("SHOW server_version")).scalar()
            else:
                conn.execute(text("ANALYZE"))
                version = sqlite3.sqlite_version
    finally:
        engine.dispose()
    return url, f"{DATABASE_NAMES[database]} {version}"


# -- checks before the load -----------------------------------------------------------------------
def _world_problem(value: Any, numbers: dict[int, int]) -> str | None:
    if not isinstance(value, dict) or set(value) != {"id", "randomNumber"}:
        return f"not a World object: {json.dumps(value)[:60]}"
    wid, number = value["id"], value["randomNumber"]
    if type(wid) is not int or type(number) is not int:
        return f"id and randomNumber must be integers: {json.dumps(value)[:60]}"
    if numbers.get(wid) != number:
        return f"World {wid} has randomNumber {numbers.get(wid)}, the app said {number}"
    return None


def _get_json(base_url: str, path: str) -> tuple[Any, str | None, int]:
    import httpx

    response = httpx.get(base_url + path, timeout=30)
    if response.status_code != 200:
        return None, f"{path}: status {response.status_code}", len(response.content)
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return None, f"{path}: content-type {content_type!r}", len(response.content)
    try:
        return response.json(), None, len(response.content)
    except ValueError:
        return None, f"{path}: not JSON: {response.text[:60]!r}", len(response.content)


def check_db(base_url: str, numbers: dict[int, int], seen: dict[str, str]) -> str | None:
    ids = []
    for _ in range(5):
        value, why, size = _get_json(base_url, TESTS["db"])
        if why or (why := _world_problem(value, numbers)):
            return why
        ids.append(value["id"])
    seen["db"] = f"200, {size} B"
    if len(set(ids)) == 1:
        return f"five requests all answered World {ids[0]}: not random"
    return None


def check_queries(base_url: str, numbers: dict[int, int], seen: dict[str, str]) -> str | None:
    value, why, size = _get_json(base_url, TESTS["queries"])
    if why:
        return why
    if not isinstance(value, list) or len(value) != QUERIES:
        return f"expected a list of {QUERIES}, got {json.dumps(value)[:60]}"
    for item in value:
        if why := _world_problem(item, numbers):
            return why
    if len({item["id"] for item in value}) != QUERIES:
        return "repeated ids: fewer than 20 queries were needed"
    seen["queries"] = f"200, {size} B"
    for raw, want in [("", 1), ("0", 1), ("foo", 1), (str(MAX_QUERIES + 1), MAX_QUERIES)]:
        path = f"/queries?queries={raw}" if raw else "/queries"
        value, why, _ = _get_json(base_url, path)
        if why:
            return why
        if not isinstance(value, list) or len(value) != want:
            got = len(value) if isinstance(value, list) else json.dumps(value)[:40]
            return f"{path}: expected {want} rows, got {got}"
    seen["queries bounds"] = f"{MAX_QUERIES + 1}→{MAX_QUERIES}, 0/foo/none→1"
    return None


FORTUNE_ROW = re.compile(r"<tr><td>(-?\d+)</td><td>(.*?)</td></tr>", re.S)


def expected_fortunes() -> list[tuple[int, str]]:
    return sorted([*FORTUNES, (0, ADDITIONAL_FORTUNE)], key=lambda f: f[1])


def check_fortunes(base_url: str, seen: dict[str, str]) -> str | None:
    import httpx

    response = httpx.get(base_url + TESTS["fortunes"], timeout=30)
    if response.status_code != 200:
        return f"status {response.status_code}"
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/html") or "utf-8" not in content_type.lower():
        return f"content-type {content_type!r}"
    try:
        page = response.content.decode("utf-8")
    except UnicodeDecodeError:
        return "the page is not UTF-8"
    if "<script>" in page:
        return "a <script> tag went out unescaped"
    if "&lt;script&gt;" not in page:
        return "the <script> fortune is missing or escaped oddly"
    rows = [(int(i), html.unescape(m)) for i, m in FORTUNE_ROW.findall(page)]
    want = expected_fortunes()
    if rows != want:
        if len(rows) != len(want):
            return f"{len(rows)} rows, not {len(want)}"
        first = next(i for i, (a, b) in enumerate(zip(rows, want, strict=True)) if a != b)
        return f"row {first + 1} is {rows[first]!r}, not {want[first]!r} (sorted by message)"
    if not page.lstrip().lower().startswith("<!doctype html>"):
        return "not the fortunes template"
    seen["fortunes"] = f"200, {len(response.content)} B"
    return None


def check_app(base_url: str, numbers: dict[int, int]) -> tuple[dict[str, str | None], dict]:
    """Per test None (fine) or why it must not be measured; and what the checks saw."""
    seen: dict[str, str] = {}
    problems: dict[str, str | None] = {}
    for test in TESTS:
        try:
            if test == "db":
                problems[test] = check_db(base_url, numbers, seen)
            elif test == "queries":
                problems[test] = check_queries(base_url, numbers, seen)
            else:
                problems[test] = check_fortunes(base_url, seen)
        except Exception as exc:  # a check that crashed: mark the cell, keep the run going
            problems[test] = f"{type(exc).__name__}: {exc}"[:160]
    return problems, seen


# -- load -----------------------------------------------------------------------------------------
def postgres_cpu_seconds() -> float:
    """User + system CPU time of every PostgreSQL process on the machine (the server is shared:
    other work's queries count too, so read it as a rough gauge)."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm, _, rest = stat.partition(" (")[2].rpartition(") ")
        if comm == "postgres":
            fields = rest.split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def write_warmup(name: str) -> str:
    """A wrk script cycling through the three tests."""
    paths = ", ".join(f'"{p}"' for p in TESTS.values())
    path = RESULTS / "lua" / f"{name}-warmup.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"local paths = {{{paths}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    return str(path)


def measure(srv: runner.Server, url: str, database: str, args: argparse.Namespace):
    """One wrk run, with the CPU share the server, wrk (and PostgreSQL) got during it."""
    server_cpu, wrk_cpu = srv.cpu_seconds(), runner._children_cpu()
    db_cpu = postgres_cpu_seconds() if database == "postgres" else None
    start = time.perf_counter()
    result = runner.run_wrk(url, args, args.duration)
    wall = max(time.perf_counter() - start, 1e-9)
    result["server_cpu"] = (srv.cpu_seconds() - server_cpu) / args.duration
    result["wrk_cpu"] = (runner._children_cpu() - wrk_cpu) / wall
    if db_cpu is not None:
        result["db_cpu"] = (postgres_cpu_seconds() - db_cpu) / wall
    return result


def run_database(
    database: str, modules: list[str], tests: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    numbers = world_numbers()
    block: dict[str, Any] = {"apps": {}}
    try:
        url, version = fill(database, numbers)
    except Exception as exc:
        why = f"could not set up {DATABASE_NAMES[database]}: {type(exc).__name__}: {exc}"
        why = why.splitlines()[0][:200]
        log(f"{database}: {why}; its cells will be marked")
        block["error"] = why
        return block
    block.update(url=shown_url(url), version=version)
    log(f"{database}: {version}, tables filled ({WORLD_ROWS:,} worlds, {len(FORTUNES)} fortunes)")
    os.environ.update(
        QIAO_BENCH_DB=database,
        QIAO_BENCH_DB_URL=url,
        QIAO_BENCH_POOL_SIZE=str(args.pool_size),
        QIAO_BENCH_THREADS=str(args.wsgi_threads),
    )
    running: dict[str, runner.Server] = {}
    port = args.port
    log(f"{database}: starting {', '.join(modules)} (all pinned to CPU {args.server_cpu})")
    try:
        for module in modules:
            port = runner.free_port(port)
            server = SERVER_OF[APPS[module][1]]
            running[module] = runner.Server(server, f"database.{module}", port, args)
            port += 1
        for module, srv in running.items():
            framework, interface, style = APPS[module]
            entry = block["apps"][module] = {
                "framework": framework,
                "interface": interface,
                "style": style,
                "server": srv.server,
                "command": srv.command,
                "runs": {t: [] for t in tests},
            }
            problem = srv.wait_ready()
            if problem:
                entry["check"], entry["seen"] = dict.fromkeys(tests, problem), {}
            else:
                checks, entry["seen"] = check_app(srv.url, numbers)
                entry["check"] = {t: checks[t] for t in tests}
            for test, why in entry["check"].items():
                if why:
                    log(f"  {module} {test}: CHECK FAILED ({why}); the cell will be marked")
        for module, srv in running.items():
            if args.warmup > 0 and any(not why for why in block["apps"][module]["check"].values()):
                name = f"{database}-{module}"
                runner.run_wrk(srv.url + "/db", args, args.warmup, write_warmup(name))
        for test in tests:
            for run in range(args.runs):
                for module, srv in running.items():
                    entry = block["apps"][module]
                    if entry["check"][test]:
                        continue
                    if not srv.alive():
                        entry["check"][test] = f"server died ({srv.proc.returncode})"
                        continue
                    result = measure(srv, srv.url + TESTS[test], database, args)
                    entry["runs"][test].append(result)
                    label = f"{database:8} {test:8}"
                    log(runner.run_line(label, run, args.runs, module, result))
        runner.record_servers(running, block["apps"])
    finally:
        runner.stop_servers(running, block["apps"])
    return block


def run_hashing(args: argparse.Namespace) -> dict[str, Any]:
    """``benchmarks/hashing.py`` in a fresh process pinned to the server CPU."""
    repeat = 1 if args.quick else 5
    log(f"password hashing: qiao.auth against Django, best of {repeat}")
    command = ["taskset", "-c", args.server_cpu, str(runner.VENV_PY), "hashing.py", "--json"]
    done = subprocess.run(
        [*command, "--repeat", str(repeat)],
        cwd=runner.BENCH_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        result = {"skipped": f"hashing.py failed: {done.stderr.strip()[-300:]}"}
    if "skipped" in result:
        log(f"  {result['skipped']}")
    return result


# -- the report -----------------------------------------------------------------------------------
def cell(entry: dict[str, Any] | None, test: str) -> dict[str, Any]:
    """run.cell, plus the median PostgreSQL CPU share."""
    if entry is None or test not in entry.get("runs", {}):
        return {"status": "not run"}
    c = runner.cell(entry, test)
    db = [r["db_cpu"] for r in entry["runs"][test] if "db_cpu" in r]
    if c["status"] == "ok" and db:
        c["db_cpu"] = sorted(db)[len(db) // 2]
    return c


def checked(entry: dict[str, Any], key: str, test: str) -> str:
    """What the check of ``key`` saw, or why ``test`` failed its checks."""
    why = entry.get("check", {}).get(test)
    return runner.mark(why)[:80] if why else entry.get("seen", {}).get(key, "–")


HASH_ROWS = {
    "default": "default (`make_password`)",
    "argon2id": "argon2id",
    "pbkdf2_sha256": "PBKDF2-SHA256",
    "scrypt": "scrypt",
}


def render_hashing(hashing: dict[str, Any], cfg: dict[str, Any], w: Any) -> None:
    w(
        "`benchmarks/hashing.py`: qiao.auth's hashers and Django's (its 5.2 defaults) in one "
        f"process pinned to CPU {cfg['server_cpu']}, best of {hashing['repeat']}, ms per call "
        "(lower is cheaper for the server, and for an attacker too: these costs are the "
        "point of the hashers). Each framework runs its own default parameters, shown as "
        "they appear in the hash; the time ratio is qiao ÷ Django, so below 1.00 qiao spends "
        "less time per hash. Every hash was checked to verify, and a wrong password not to.\n"
    )
    w(
        "| algorithm | qiao parameters | qiao hash | qiao check | Django parameters | "
        "Django hash | Django check | hash time qiao ÷ Django |"
    )
    w("|---|---|---|---|---|---|---|---|")
    for row, cells in hashing["rows"].items():
        parts = []
        for framework in ("qiao", "django"):
            c = cells.get(framework, {})
            if "error" in c:
                parts += [runner.mark(c["error"])[:80], "", ""]
            elif not c.get("verifies", False):
                parts += [f"{c['parameters']} ✗ did not verify", "", ""]
            else:
                parts += [c["parameters"], f"{c['hash_ms']:.1f} ms", f"{c['verify_ms']:.1f} ms"]
        q, d = cells.get("qiao", {}), cells.get("django", {})
        both = all(x.get("verifies") for x in (q, d))
        times = f"{q['hash_ms'] / d['hash_ms']:.2f}" if both else "–"
        w(f"| {HASH_ROWS.get(row, row)} | " + " | ".join(parts) + f" | {times} |")
    w("")


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    cfg = meta["config"]
    tests = meta["tests"]
    out: list[str] = []
    w = out.append
    w("## Database\n")
    w(
        "Generated by `benchmarks/database.py`; do not edit by hand. TechEmpower's database "
        "tests (single query, 20 queries, fortunes) in qiao, Django and FastAPI, on the same "
        "tables and queries, side by side on one server (method: `shared/BENCHMARKS.md`).\n"
    )
    w(f"- Date: {meta['date']} (took {meta.get('elapsed_min', 0):.0f} min)")
    quick = "  **(quick or partial run: not for quoting)**" if meta["partial"] else ""
    w(f"- Command: `{meta['command']}`{quick}")
    m = meta["machine"]
    w(
        f"- Machine: {m['nproc']} CPUs (`nproc`), {m['cpu_model']} (`/proc/cpuinfo`), "
        f"{m['mem_gib']} GiB, Linux {m['kernel']}, {m['python_impl']} {m['python']}"
    )
    w(f"- Load average (1/5/15 min) at start: {meta['load_start']}; at end: {meta['load_end']}")
    dbs = [
        f"{block['version']} (`{block['url']}`)"
        for block in results["databases"].values()
        if "version" in block
    ]
    if dbs:
        w(f"- Databases: {'; '.join(dbs)}")
    v = meta["versions"]
    w(
        "- Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items() if k != "qiao_git")
        + f"; qiao checkout `{v.get('qiao_git')}`"
    )
    w("")

    w("### Requests per second\n")
    w(
        f"Median req/s of {cfg['runs']} run(s) of {cfg['duration']:g} s (median p99 latency in "
        "brackets). Ratios are qiao req/s ÷ the peer's: above 1.00, qiao is faster. Each qiao "
        "app is set against Django (sync only: its ORM is synchronous) and against FastAPI "
        "written the same way (sync `def` endpoints on a `Session`, or async ones on an "
        "`AsyncSession`).\n"
    )
    w("| database | test | qiao | qiao req/s | Django | FastAPI | qiao ÷ Django | qiao ÷ FastAPI |")
    w("|---|---|---|---|---|---|---|---|")
    for database, block in results["databases"].items():
        name = DATABASE_NAMES[database]
        if "error" in block:
            w(f"| {name} | all | {runner.mark(block['error'])} | | | | | |")
            continue
        apps = block["apps"]
        for test in tests:
            for qiao, django, fastapi in PAIRS:
                if qiao not in apps:
                    continue
                q, d, f = (cell(apps.get(a), test) for a in (qiao, django, fastapi))
                style = "sync, WSGI" if APPS[qiao][2] == "sync" else "async, ASGI"
                peer = "sync `def`" if APPS[fastapi][2] == "sync" else "async"
                w(
                    f"| {name} | {TEST_LABELS[test]} | {style} | {fmt_cell(q)} | "
                    f"{fmt_cell(d)} | {fmt_cell(f)} ({peer}) | {ratio(q, d)} | {ratio(q, f)} |"
                )
    w("")

    w("### Raw cells\n")
    w(
        "Median req/s (median p99), ±half the range of the runs as a share of the median, and "
        "the median CPU share of the server / of wrk / of all PostgreSQL processes (the "
        "database server is not pinned, and a share above 100% spans both cores). RSS: the "
        "server's process tree after its runs.\n"
    )
    w("| database | app | " + " | ".join(TEST_LABELS[t] for t in tests) + " | RSS |")
    w("|---" * (len(tests) + 3) + "|")
    for database, block in results["databases"].items():
        for module, entry in block.get("apps", {}).items():
            cells = []
            for test in tests:
                c = cell(entry, test)
                text = fmt_cell(c)
                if c["status"] == "ok":
                    if c["n"] > 1:
                        text += f" ±{(c['max'] - c['min']) / c['rps'] * 50:.0f}%"
                    if c.get("cpu") is not None:
                        text += f"; cpu {c['cpu']:.0%}/{c['wrk_cpu']:.0%}"
                        if c.get("db_cpu") is not None:
                            text += f"/{c['db_cpu']:.0%}"
                cells.append(text)
            rss = entry.get("rss_kib")
            rss_text = f"{rss / 1024:.0f} MiB" if rss else "?"
            w(
                f"| {DATABASE_NAMES[database]} | {LABELS[module]} | "
                + " | ".join(cells)
                + f" | {rss_text} |"
            )
    w("")

    w("### Checks before the load\n")
    w(
        "Every app was asked, before any load: `/db` five times (each answer an object with "
        "exactly `id` and `randomNumber`, integers, matching the row; not all the same row); "
        f"`/queries?queries={QUERIES}` ({QUERIES} distinct rows, each matching), and the "
        f"bounds (`queries=0`, `foo` or none give 1 row, `{MAX_QUERIES + 1}` gives "
        f"{MAX_QUERIES}); `/fortunes` (`text/html` in UTF-8, the "
        f"{len(FORTUNES) + 1} rows with the one added at request time, sorted by message, the "
        "`<script>` fortune escaped, the unicode one intact). A failed check marks the cell ✗ "
        "instead of quoting it.\n"
    )
    w("| database | app | /db | /queries | bounds | /fortunes |")
    w("|---|---|---|---|---|---|")
    for database, block in results["databases"].items():
        for module, entry in block.get("apps", {}).items():
            columns = [("db", "db"), ("queries", "queries"), ("queries bounds", "queries")]
            columns.append(("fortunes", "fortunes"))
            shown = [checked(entry, key, test) for key, test in columns]
            w(f"| {DATABASE_NAMES[database]} | {LABELS[module]} | " + " | ".join(shown) + " |")
    w("")

    w("### How it was measured\n")
    pool = cfg["pool_size"]
    threads = cfg["wsgi_threads"]
    w(
        "- Data: `bench_world` (10,000 rows: `id`, `randomnumber`, seeded random numbers "
        "1..10,000) and `bench_fortune` (TechEmpower's 12 fortunes), dropped, created and "
        "filled by the runner before each database's block, then `ANALYZE`d. Every app maps "
        "the same two tables with its own ORM and runs the same queries: a primary-key get "
        "per World (`session.get(World, id)` in SQLAlchemy, `World.objects.get(id=...)` in "
        "Django), all Fortunes as ORM objects plus a new unsaved one, sorted in Python by "
        f"message. `/queries` draws its {QUERIES} ids with `random.sample` (distinct ids, so "
        "SQLAlchemy's identity map never answers a repeat without a query). The fortunes "
        "template is one file, `benchmarks/apps/database/templates/fortunes.html`, rendered by "
        "Jinja2 (qiao's `Templates`, FastAPI's `Jinja2Templates`) and by Django's engine, "
        "autoescaping on in all three."
    )
    w(
        "- **qiao** (`qiao_site.py`): `Database(app, url=..., pool_size="
        f"{pool}, max_overflow=0, pool_pre_ping=False)` and `Templates(app)`; `def` views on "
        "`request.db` (a `Session`) or `async def` views on `request.adb` (an `AsyncSession`), "
        "committed by the battery when the view returns; dicts and lists returned (msgspec "
        "JSON). **Django** (`django_wsgi.py`): the ORM with unmanaged models, no middleware, "
        "`CONN_MAX_AGE = None` (a persistent connection per server thread), autocommit (its "
        "default), `JsonResponse`, `render()` with a Django template. **FastAPI** "
        "(`fastapi_site.py`): SQLAlchemy 2 with a session per request from a `Depends` "
        "generator (closed, so rolled back, at the end), dicts returned (`jsonable_encoder` + "
        "stdlib JSON), `Jinja2Templates`; the sync app's `def` endpoints and dependency run in "
        f"AnyIO's thread pool, capped at {threads} tokens."
    )
    w(
        f"- Pools: {pool} connections per app on PostgreSQL (SQLAlchemy `pool_size={pool}, "
        f"max_overflow=0`; Django: one connection per server thread, {threads} threads), "
        "psycopg 3 everywhere (async psycopg for the async apps). On SQLite, qiao's battery "
        "passes no pool settings (it applies `DATABASE_POOL_*` to other databases only), so "
        "qiao and FastAPI both keep SQLAlchemy's default `QueuePool` (5 + 10 overflow: at most "
        f"{threads} connections in use under {threads} sync threads; aiosqlite runs one thread "
        "per connection); Django has one `sqlite3` connection per server thread. No app pings "
        "its connections before use."
    )
    w(
        "- Transactions per request (each framework's default): qiao opens one and commits it "
        "after the view (on PostgreSQL: `BEGIN`, the queries, `COMMIT`); FastAPI's session "
        "opens one and rolls it back on close (`BEGIN`, the queries, `ROLLBACK`); Django runs "
        "each query in autocommit (no `BEGIN`/`COMMIT` round trips). On SQLite the stdlib "
        "driver opens no transaction for a `SELECT`."
    )
    w(
        f"- Servers: one worker each, pinned to CPU {cfg['server_cpu']}; wrk pinned to CPU "
        f"{cfg['wrk_cpu']}; PostgreSQL is not pinned (it is the machine's shared server, so "
        "it competes with wrk and the app for both cores, as a local database would). All "
        "apps of one database run at once on their own ports (idle ones sleep). Commands "
        "(`APP` = `apps.database.<module>:app`, run from `benchmarks/`):"
    )
    shown_servers: set[str] = set()
    for block in results["databases"].values():
        for entry in block.get("apps", {}).values():
            server = entry["server"]
            if server in shown_servers:
                continue
            shown_servers.add(server)
            command = " ".join(entry["command"][3:])
            command = re.sub(r"apps\.[\w.]+:app", "APP", command)
            command = command.replace(str(runner.VENV_BIN) + "/", "")
            command = re.sub(r"--port \d+", "--port PORT", command)
            threads_text = runner.SERVERS[server]["threads"].format(**cfg)
            w(f"  - {server} ({threads_text}): `taskset -c {cfg['server_cpu']} {command}`")
    w(
        f"- Warm-up: {cfg['warmup']:g} s of wrk per app cycling through the three tests. "
        f"Measured: `taskset -c {cfg['wrk_cpu']} wrk -t1 -c{cfg['connections']} "
        f"-d{cfg['duration']:g}s --latency URL`; the apps of one database take turns per run "
        "(A B C D E A B C D E …)."
    )
    w("")

    hashing = results.get("hashing")
    if hashing:
        w("### Password hashing\n")
        if "skipped" in hashing:
            w(f"Not measured: {hashing['skipped']}.\n")
        else:
            render_hashing(hashing, cfg, w)

    w("### Notes\n")
    notes = []
    for database, block in results["databases"].items():
        if "error" in block:
            notes.append(f"{DATABASE_NAMES[database]}: {block['error']}")
        for module, entry in block.get("apps", {}).items():
            where = f"{DATABASE_NAMES[database]} / {module}"
            for test in entry["runs"]:
                c = cell(entry, test)
                if c["status"] not in ("ok", "not run"):
                    notes.append(f"{where} / {test}: {c['status']}")
            notes += runner.server_notes(where, entry)
    notes += [
        "The machine has 2 cores shared with other work, and PostgreSQL shares them with the "
        "app and wrk: absolute req/s move between runs; the ratios, from interleaved runs, "
        "are the numbers to compare. Differences under ~5% are noise.",
        "Everything here is I/O with the database on the same machine, so the async apps wait "
        "on the event loop while the sync ones block a thread; with 64 connections and "
        f"{pool} database connections, requests queue for the pool in every app.",
        "On SQLite the async apps go through aiosqlite, which runs each connection in a "
        "thread of its own: every query is handed to that thread and its answer handed back "
        "to the event loop. On PostgreSQL, psycopg's async connection talks to the socket "
        "from the event loop itself; SQLAlchemy's async ORM still runs each ORM call in a "
        "greenlet.",
        "TechEmpower's own implementations trim the frameworks (ujson/orjson, raw rows); "
        "these apps are written the way each framework's docs show, so JSON encoding and "
        "response building are part of what is measured (qiao: msgspec; Django: `json`; "
        "FastAPI: `jsonable_encoder` + `json`).",
    ]
    for note in notes:
        w(f"- {note}")
    w("")
    return "\n".join(out)


def write_report(results: dict[str, Any], docs: bool) -> None:
    runner.write_section("database", render(results), docs, MARK_START, MARK_END)


# -- main -----------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="TechEmpower's database tests: qiao against Django and FastAPI.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    runner.add_run_options(parser, port=18500)
    parser.add_argument("--databases", help=f"comma-separated, from: {', '.join(DATABASES)}")
    parser.add_argument("--tests", help=f"comma-separated, from: {', '.join(TESTS)}")
    parser.add_argument("--apps", help=f"comma-separated, from: {', '.join(APPS)}")
    parser.add_argument(
        "--wsgi-threads",
        type=int,
        default=8,
        help="granian --blocking-threads for WSGI, and FastAPI's sync thread pool (8)",
    )
    parser.add_argument(
        "--pool-size", type=int, default=8, help="database connections per app (default 8)"
    )
    parser.add_argument(
        "--skip-hashing", action="store_true", help="do not measure password hashing"
    )
    parser.add_argument(
        "--docs", action="store_true", help="also write the section into docs/benchmarks.md"
    )
    return runner.finish_run_options(parser.parse_args(argv))


def main() -> None:
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.render:
        write_report(json.loads(Path(args.render).read_text()), args.docs)
        return
    runner.ensure_venv(argv, install=not args.no_install, script=__file__)
    databases = runner.split(args.databases, DATABASES, "database") or DATABASES
    tests = runner.split(args.tests, list(TESTS), "test") or list(TESTS)
    modules = runner.split(args.apps, list(APPS), "app") or list(APPS)
    runner.wrk_path()
    RESULTS.mkdir(exist_ok=True)
    cells = len(databases) * len(tests) * len(modules)
    log(
        f"{cells} cells x {args.runs} run(s) x {args.duration:g} s "
        f"≈ {cells * args.runs * (args.duration + 0.3) / 60:.0f} min plus set-up"
    )
    started = time.monotonic()
    partial = bool(
        args.quick
        or args.databases
        or args.tests
        or args.apps
        or args.runs < 3
        or args.duration < 8
    )
    results: dict[str, Any] = {
        "meta": {
            **runner.run_meta("database.py", argv, partial, VERSIONED),
            "tests": tests,
            "config": {
                "duration": args.duration,
                "runs": args.runs,
                "warmup": args.warmup,
                "connections": args.connections,
                "wsgi_threads": args.wsgi_threads,
                "pool_size": args.pool_size,
                "server_cpu": args.server_cpu,
                "wrk_cpu": args.wrk_cpu,
            },
        },
        "databases": {},
    }
    for database in databases:
        results["databases"][database] = run_database(database, modules, tests, args)
    if not args.skip_hashing:
        results["hashing"] = run_hashing(args)
    results["meta"]["load_end"] = runner.loadavg()
    results["meta"]["qiao_git_end"] = runner.git_describe()
    results["meta"]["elapsed_min"] = (time.monotonic() - started) / 60
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = RESULTS / f"database-{stamp}.json"
    raw.write_text(json.dumps(results, indent=1))
    (RESULTS / "database-latest.json").write_text(json.dumps(results, indent=1))
    log(f"raw results: {raw}")
    write_report(results, args.docs)


if __name__ == "__main__":
    main()
