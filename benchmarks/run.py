"""Run qiao's benchmark suite and write docs/benchmarks.md (method: shared/BENCHMARKS.md).

    python benchmarks/run.py                      # everything (~35 min), writes docs/benchmarks.md
    python benchmarks/run.py --quick              # smoke test: 1 run of 3 s per cell (~6 min)
    python benchmarks/run.py --only qiao,falcon   # some frameworks (bare always runs)
    python benchmarks/run.py --servers granian-wsgi --duration 5 --runs 5
    python benchmarks/run.py --render benchmarks/results/latest.json   # re-render the report

The first run makes benchmarks/.venv and installs benchmarks/requirements.txt plus qiao itself
(editable, from this checkout) there, then re-runs itself with that venv's Python. Quick or
partial runs write benchmarks/results/benchmarks.md instead of docs/ unless --docs is given.

Three parts, each in fresh processes:
1. HTTP throughput: every app on every server that speaks its interface, one worker, the server
   pinned to one CPU and wrk to the other; ratios against a bare WSGI/ASGI callable.
2. Start-up: import + create an app with 1,000 routes, and its first request; time and RSS.
3. In-process cost per request (no server): µs per call of the app itself.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV = BENCH_DIR / ".venv"
VENV_BIN = VENV / "bin"
VENV_PY = VENV_BIN / "python"
REQUIREMENTS = BENCH_DIR / "requirements.txt"
RESULTS = BENCH_DIR / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
HOST = "127.0.0.1"

# Imported after the path is known; ``apps`` is stdlib-only at the top level.
sys.path.insert(0, str(BENCH_DIR))
from apps import APPS, ENDPOINTS  # noqa: E402

SERVERS: dict[str, dict[str, Any]] = {
    "granian-wsgi": {
        "interface": "wsgi",
        "threads": "1 worker process, 1 runtime thread, {wsgi_threads} blocking (Python) threads",
    },
    "granian-asgi": {
        "interface": "asgi",
        "threads": "1 worker process, 1 runtime thread, 1 blocking thread (the event loop), uvloop",
    },
    "uvicorn": {
        "interface": "asgi",
        "threads": "1 worker process, uvloop event loop + httptools parser; no thread pool is "
        "used (every ASGI view here is async)",
    },
}
VERSIONED = [
    "qiao",
    "Django",
    "Flask",
    "Werkzeug",
    "falcon",
    "starlette",
    "fastapi",
    "pydantic",
    "litestar",
    "blacksheep",
    "granian",
    "uvicorn",
    "uvloop",
    "httptools",
    "msgspec",
    "httpx",
]
STARTUP_MODULES = ["python", "bare_wsgi", "qiao_wsgi", "flask_app", "django_app", "falcon_wsgi"]
#: The sections of docs/benchmarks.md that benchmarks/batteries.py, benchmarks/database.py and
#: benchmarks/server.py write; kept when this runner rewrites the file.
BATTERIES_MARKERS = ("<!-- batteries:start -->", "<!-- batteries:end -->")
DATABASE_MARKERS = ("<!-- database:start -->", "<!-- database:end -->")
SERVER_MARKERS = ("<!-- server:start -->", "<!-- server:end -->")
KEPT_SECTIONS = (BATTERIES_MARKERS, DATABASE_MARKERS, SERVER_MARKERS)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- report helpers the other runners share (batteries.py, database.py) --------------------------
def cell_text(c: dict[str, Any] | None, width: int = 100) -> str:
    """A cell as ``req/s (p99)``, its failure mark, or a dash when it did not run."""
    if c is None or c["status"] == "not run":
        return "–"
    if c["status"] != "ok":
        return mark(c["status"])[:width]
    p99 = f"{c['p99']:.1f} ms" if c["p99"] is not None else "?"
    return f"{c['rps']:,.0f} ({p99})"


def speed_ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    """``a``'s req/s over ``b``'s, or a dash when either cell failed."""
    if not a or not b or a["status"] != "ok" or b["status"] != "ok":
        return "–"
    return f"{a['rps'] / b['rps']:.2f}"


def replace_marked(text: str, section: str, start_mark: str, end_mark: str) -> str:
    """``text`` with the section between the marks replaced (appended when it has none)."""
    block = f"{start_mark}\n{section.rstrip()}\n{end_mark}"
    start, end = text.find(start_mark), text.find(end_mark)
    if start != -1 and end > start:
        return text[:start] + block + text[end + len(end_mark) :]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def run_line(label: str, run: int, runs: int, module: str, result: dict[str, Any]) -> str:
    """The log line for one measured run: req/s, p99, CPU shares, and any errors flagged."""
    flag = ""
    if result.get("error") or result["non_2xx"] or result["socket_errors"]:
        flag = f"  !! {result.get('error') or result}"
    db_cpu = f" pg {result['db_cpu']:.0%}" if "db_cpu" in result else ""
    return (
        f"  {label} run {run + 1}/{runs} {module:22} "
        f"{result['rps'] or 0:9,.0f} req/s  "
        f"p99 {result['latency_ms'].get('99', float('nan')):7.2f} ms  "
        f"cpu server {result['server_cpu']:.0%} wrk {result['wrk_cpu']:.0%}{db_cpu}{flag}"
    )


def record_servers(running: dict[str, Any], cells: dict[str, Any]) -> None:
    """After the runs: each server's memory and whether it survived, into its cell."""
    for module, srv in running.items():
        cells[module]["rss_kib"] = srv.rss_kib()
        cells[module]["alive_at_end"] = srv.alive()


def run_meta(
    script: str, argv: list[str], partial: bool, names: list[str] | None
) -> dict[str, Any]:
    """The head of a result's ``meta``: when, how it was run, where, with which versions."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([f"python benchmarks/{script}", *argv]),
        "partial": partial,
        "machine": machine_info(),
        "versions": versions(names),
        "load_start": loadavg(),
    }


def server_notes(where: str, entry: dict[str, Any]) -> list[str]:
    """Report notes for a server that exited before the end or logged errors."""
    notes = []
    if entry.get("alive_at_end") is False:
        notes.append(f"{where}: the server had exited by the end of the run.")
    tail = entry.get("log_tail", "")
    if "Traceback" in tail or "ERROR" in tail:
        last = tail.strip().splitlines()[-1][:160].replace("|", "/")
        notes.append(f"{where}: the server logged errors (last: `{last}`).")
    return notes


def stop_servers(running: dict[str, Any], cells: dict[str, Any]) -> None:
    """Stop every server; keep the end of its log in its cell."""
    for module, srv in running.items():
        srv.stop()
        if module in cells:
            cells[module]["log_tail"] = srv.log_tail()


# -- the benchmark venv --------------------------------------------------------------------------
def ensure_venv(argv: list[str], install: bool, script: str | None = None) -> None:
    """Create benchmarks/.venv, install the pinned peers and qiao, and re-run ``script``
    (default: this file) inside it."""
    if not VENV_PY.exists():
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    stamp = VENV / ".installed.sha256"
    digest = hashlib.sha256(
        REQUIREMENTS.read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if install and (not stamp.exists() or stamp.read_text() != digest):
        log("installing benchmarks/requirements.txt and qiao (editable) into the venv")
        pip = [str(VENV_PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
        subprocess.run([*pip, "-e", str(ROOT)], check=True)
        stamp.write_text(digest)
    if Path(sys.prefix).resolve() != VENV.resolve():
        target = str(Path(script or __file__).resolve())
        os.execv(str(VENV_PY), [str(VENV_PY), target, *argv])


# -- facts about the machine and the software -----------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": nproc,
        "cpu_model": cpu_model,
        "mem_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
    }


def versions(names: list[str] | None = None) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in VERSIONED if names is None else names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    wrk = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True)
    found["wrk"] = (wrk.stdout + wrk.stderr).split("[")[0].replace("wrk", "").strip()
    found["qiao_git"] = git_describe()
    return found


def git_describe() -> str:
    """The qiao checkout being measured (it is installed editable, so servers load it as is)."""
    git = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return git.stdout.strip() or "unknown"


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wrk_path() -> str:
    found = shutil.which("wrk") or "/usr/bin/wrk"
    if not os.path.exists(found):
        sys.exit("wrk is missing: apt-get install wrk")
    return found


# -- servers --------------------------------------------------------------------------------------
def server_command(server: str, module: str, port: int, args: argparse.Namespace) -> list[str]:
    target = f"apps.{module}:app"
    common = ["--host", HOST, "--port", str(port), "--workers", "1"]
    if server == "granian-wsgi":
        return [
            str(VENV_BIN / "granian"),
            "--interface",
            "wsgi",
            "--http",
            "1",
            *common,
            "--runtime-threads",
            "1",
            "--blocking-threads",
            str(args.wsgi_threads),
            "--no-access-log",
            "--log-level",
            "warning",
            target,
        ]
    if server == "granian-asgi":
        return [
            str(VENV_BIN / "granian"),
            "--interface",
            "asgi",
            "--http",
            "1",
            *common,
            "--runtime-threads",
            "1",
            "--blocking-threads",
            "1",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            target,
        ]
    if server == "uvicorn":
        return [
            str(VENV_BIN / "uvicorn"),
            *common,
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            target,
        ]
    raise ValueError(server)


def free_port(start: int) -> int:
    port = start
    while True:
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                port += 1
                continue
            return port


class Server:
    """One server process (its own session, so it and its workers stop together).

    ``command`` replaces ``server_command(...)`` for servers this file does not know
    (benchmarks/server.py); it is pinned with taskset all the same."""

    def __init__(
        self,
        server: str,
        module: str,
        port: int,
        args: argparse.Namespace,
        command: list[str] | None = None,
    ) -> None:
        self.server, self.module, self.port = server, module, port
        self.command = [
            "taskset",
            "-c",
            args.server_cpu,
            *(command or server_command(server, module, port, args)),
        ]
        logs = RESULTS / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{server}-{module}.log"
        env = {**os.environ, "PYTHONPATH": str(BENCH_DIR), "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONDEVMODE", None)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.command,
                cwd=BENCH_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 60) -> str | None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return f"server exited with {self.proc.returncode}"
            try:
                httpx.get(self.url + "/plaintext", timeout=2)
                return None
            except httpx.TransportError:
                time.sleep(0.2)
        return "server did not answer within 60 s"

    def pids(self) -> list[int]:
        """The server's process tree (granian runs its worker in a child process)."""
        found: list[int] = []
        queue = [self.proc.pid]
        while queue:
            pid = queue.pop()
            if pid in found:
                continue
            found.append(pid)
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    queue += [int(p) for p in f.read().split()]
            except OSError:
                continue
        return found

    def rss_kib(self) -> int:
        """VmRSS of the server's process tree."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                continue
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's process tree, all threads."""
        ticks = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def check_endpoint(base_url: str, endpoint: str) -> str | None:
    """None if the endpoint answers 200 with the right body and content type, else why not."""
    import httpx

    path, expected, content_type = ENDPOINTS[endpoint]
    try:
        response = httpx.get(base_url + path, timeout=10)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if response.status_code != 200:
        return f"status {response.status_code}"
    if not response.headers.get("content-type", "").startswith(content_type):
        return f"content-type {response.headers.get('content-type')!r}"
    try:
        body = response.json() if isinstance(expected, dict) else response.text
    except ValueError:
        body = response.text
    if body != expected:
        return f"body {response.text[:60]!r}"
    return None


# -- wrk ------------------------------------------------------------------------------------------
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(text: str) -> dict[str, Any]:
    result: dict[str, Any] = {"rps": None, "latency_ms": {}, "socket_errors": 0, "non_2xx": 0}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        result["rps"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in", text):
        result["requests"] = int(m.group(1))
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        result["latency_ms"][pct] = float(value) * _UNITS[unit]
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        result["socket_errors"] = sum(int(g) for g in m.groups())
        result["socket_detail"] = m.group(0)
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        result["non_2xx"] = int(m.group(1))
    return result


def wrk_command(url: str, args: argparse.Namespace, duration: float, script: str | None = None):
    command = ["taskset", "-c", args.wrk_cpu, wrk_path(), "-t1", f"-c{args.connections}"]
    command += [f"-d{duration:g}s", "--latency"]
    if script:
        command += ["-s", script]
    return [*command, url]


def run_wrk(url: str, args: argparse.Namespace, duration: float, script: str | None = None):
    command = wrk_command(url, args, duration, script)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired:
        return {"rps": None, "error": "wrk timed out", "latency_ms": {}}
    result = parse_wrk(done.stdout)
    if done.returncode != 0 or result["rps"] is None:
        result["error"] = f"wrk exited {done.returncode}: {done.stderr.strip()[:200]}"
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(srv: Server, endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    """One wrk run, plus the CPU share the server and wrk got during it: a server that got
    less than its whole core was disturbed (or starved by wrk); wrk near 100% was the limit."""
    server_cpu, wrk_cpu = srv.cpu_seconds(), _children_cpu()
    start = time.perf_counter()
    result = run_wrk(srv.url + ENDPOINTS[endpoint][0], args, args.duration)
    wall = max(time.perf_counter() - start, 1e-9)
    result["server_cpu"] = (srv.cpu_seconds() - server_cpu) / args.duration
    result["wrk_cpu"] = (_children_cpu() - wrk_cpu) / wall
    return result


def warmup_script(endpoints: list[str]) -> str:
    """A wrk Lua script that cycles through ``endpoints`` (one warm-up covers them all)."""
    paths = ", ".join(f'"{ENDPOINTS[e][0]}"' for e in endpoints)
    path = RESULTS / "warmup.lua"
    path.write_text(
        f"local paths = {{{paths}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    return str(path)


# -- part 1: HTTP throughput ----------------------------------------------------------------------
def modules_for(server: str, frameworks: set[str] | None) -> list[str]:
    interface = SERVERS[server]["interface"]
    return [
        module
        for module, (framework, iface) in APPS.items()
        if iface == interface and (frameworks is None or framework in frameworks)
    ]


def run_http(
    servers: list[str],
    frameworks: set[str] | None,
    endpoints: list[str],
    args: argparse.Namespace,
    checkouts: dict[str, str],
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for server in servers:
        modules = modules_for(server, frameworks)
        checkouts[server] = git_describe()
        log(f"{server}: starting {', '.join(modules)} (all pinned to CPU {args.server_cpu})")
        block: dict[str, Any] = {}
        results[server] = block
        running: dict[str, Server] = {}
        port = args.port
        try:
            for module in modules:
                port = free_port(port)
                running[module] = Server(server, module, port, args)
                port += 1
            for module, srv in running.items():
                entry = block[module] = {
                    "framework": APPS[module][0],
                    "command": srv.command,
                    "runs": {e: [] for e in endpoints},
                }
                problem = srv.wait_ready()
                entry["check"] = {e: problem or check_endpoint(srv.url, e) for e in endpoints}
                for e, why in entry["check"].items():
                    if why:
                        log(f"  {module} {e}: CHECK FAILED ({why}); the cell will be marked")
            for module, srv in running.items():
                ok = [e for e in endpoints if not block[module]["check"][e]]
                if ok and args.warmup > 0:
                    run_wrk(srv.url + ENDPOINTS[ok[0]][0], args, args.warmup, warmup_script(ok))
            for endpoint in endpoints:
                for run in range(args.runs):
                    for module, srv in running.items():
                        entry = block[module]
                        if entry["check"][endpoint]:
                            continue
                        if not srv.alive():
                            entry["check"][endpoint] = f"server died ({srv.proc.returncode})"
                            continue
                        result = measure(srv, endpoint, args)
                        entry["runs"][endpoint].append(result)
                        label = f"{server} {endpoint:11}"
                        log(run_line(label, run, args.runs, module, result))
            record_servers(running, block)
        finally:
            stop_servers(running, block)
    return results


# -- part 2: start-up -----------------------------------------------------------------------------
def run_startup(args: argparse.Namespace, frameworks: set[str] | None) -> dict[str, Any]:
    modules = [
        m
        for m in STARTUP_MODULES
        if m == "python" or frameworks is None or APPS[m][0] in frameworks
    ]
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modules}
    runs = 1 if args.quick else args.startup_runs
    log(f"start-up: {', '.join(modules)} x {runs} runs, interleaved")
    for _ in range(runs):
        for module in modules:
            start = time.perf_counter()
            done = subprocess.run(
                ["taskset", "-c", args.server_cpu, str(VENV_PY), "startup.py", module],
                cwd=BENCH_DIR,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - start
            try:
                result = json.loads(done.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                result = {"error": done.stderr.strip()[-300:]}
            result["process_wall_s"] = wall
            results[module].append(result)
    return results


# -- part 3: in-process ---------------------------------------------------------------------------
def run_inprocess(
    frameworks: set[str] | None, endpoints: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    min_time, repeat = (0.05, 2) if args.quick else (0.2, 5)
    modules = [m for m, (fw, _) in APPS.items() if frameworks is None or fw in frameworks]
    log(f"in-process: {', '.join(modules)}")
    for module in modules:
        command = ["taskset", "-c", args.server_cpu, str(VENV_PY), "inprocess.py", module]
        command += ["--json", "--endpoints", ",".join(endpoints)]
        command += ["--min-time", str(min_time), "--repeat", str(repeat)]
        done = subprocess.run(command, cwd=BENCH_DIR, capture_output=True, text=True)
        try:
            results[module] = json.loads(done.stdout)
        except ValueError:
            results[module] = {e: {"error": done.stderr.strip()[-300:]} for e in endpoints}
    return results


# -- summarising ----------------------------------------------------------------------------------
def cell(entry: dict[str, Any] | None, endpoint: str) -> dict[str, Any]:
    """Median req/s and p99 of one cell, or why it is not quoted."""
    if entry is None:
        return {"status": "not run"}
    why = entry["check"].get(endpoint)
    if why:
        return {"status": f"check failed: {why}"}
    runs = entry["runs"].get(endpoint) or []
    if not runs:
        return {"status": "not run"}
    bad = [r for r in runs if r.get("error") or r["non_2xx"] or r["socket_errors"]]
    if bad:
        r = bad[0]
        detail = r.get("error") or (
            f"{r['non_2xx']} non-2xx" if r["non_2xx"] else r.get("socket_detail", "socket errors")
        )
        return {"status": f"errors: {detail}"}
    rps = [r["rps"] for r in runs]
    p99 = [r["latency_ms"].get("99") for r in runs if r["latency_ms"].get("99") is not None]
    cpu = [r["server_cpu"] for r in runs if r.get("server_cpu")]
    per_cpu = [r["rps"] / r["server_cpu"] for r in runs if r.get("server_cpu", 0) > 0.05]
    return {
        "status": "ok",
        "rps": statistics.median(rps),
        "p99": statistics.median(p99) if p99 else None,
        "min": min(rps),
        "max": max(rps),
        "n": len(rps),
        "cpu": statistics.median(cpu) if cpu else None,
        "cpu_min": min(cpu) if cpu else None,
        "wrk_cpu": statistics.median(r.get("wrk_cpu", 0) for r in runs),
        "per_cpu": statistics.median(per_cpu) if per_cpu else None,
    }


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Ratios to bare and last/first, per server and framework."""
    summary: dict[str, Any] = {}
    for server, block in results.get("http", {}).items():
        endpoints = results["meta"]["endpoints"]
        bare = next((e for e in block.values() if e["framework"] == "bare"), None)
        rows = {}
        for module, entry in block.items():
            row: dict[str, Any] = {"module": module, "cells": {}, "ratio": {}, "cpu_ratio": {}}
            for endpoint in endpoints:
                mine, base = cell(entry, endpoint), cell(bare, endpoint)
                row["cells"][endpoint] = mine
                if mine["status"] == "ok" and base["status"] == "ok":
                    row["ratio"][endpoint] = mine["rps"] / base["rps"]
                    if mine.get("per_cpu") and base.get("per_cpu"):
                        row["cpu_ratio"][endpoint] = mine["per_cpu"] / base["per_cpu"]
            first, last = row["cells"].get("route-first"), row["cells"].get("route-last")
            if first and last and first["status"] == last["status"] == "ok":
                row["last_first"] = last["rps"] / first["rps"]
            rows[entry["framework"]] = row
        summary[server] = rows
    return summary


# -- the report -----------------------------------------------------------------------------------
def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def mark(status: str) -> str:
    return "✗ " + status.replace("|", "/")


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    summary = summarise(results)
    endpoints = meta["endpoints"]
    cfg = meta["config"]
    out: list[str] = []
    w = out.append
    w("# Benchmarks\n")
    w(
        "Generated by `benchmarks/run.py`; do not edit by hand. Method: "
        "`shared/BENCHMARKS.md` (ratios measured side by side in one run, on one machine "
        "shared with other work, so absolute numbers are noisy and the ratios are what to quote).\n"
    )
    w(f"- Date: {meta['date']} (took {meta.get('elapsed_min', 0):.0f} min)")
    w(
        f"- Command: `{meta['command']}`"
        + ("  **(quick or partial run)**" if meta["partial"] else "")
    )
    m = meta["machine"]
    w(
        f"- Machine: {m['nproc']} CPUs (`nproc`), {m['cpu_model']} (`/proc/cpuinfo`), "
        f"{m['mem_gib']} GiB, Linux {m['kernel']}, {m['python_impl']} {m['python']}"
    )
    w(f"- Load average (1/5/15 min) at start: {meta['load_start']}; at end: {meta['load_end']}")
    v = meta["versions"]
    w(
        "- Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items() if k not in ("qiao_git",))
        + f"; qiao checkout `{v.get('qiao_git')}`"
    )
    w("")

    w("## How it was measured\n")
    w(
        f"- Each server runs one worker; server pinned to CPU {cfg['server_cpu']} "
        f"(`taskset -c {cfg['server_cpu']}`), wrk to CPU {cfg['wrk_cpu']}. All apps of one "
        "server are started at once on their own ports (idle ones sleep), each checked with "
        "httpx (status 200, content type, body) before any load."
    )
    w(
        f"- Warm-up: {cfg['warmup']:g} s of wrk per app cycling through all its endpoints "
        "(a Lua script), then measured cells."
    )
    w(
        f"- Measured: `taskset -c {cfg['wrk_cpu']} wrk -t1 -c{cfg['connections']} "
        f"-d{cfg['duration']:g}s --latency URL`, {cfg['runs']} run(s) per cell; for each "
        "endpoint the apps take turns (A B C … A B C …). Quoted: median req/s and median p99."
    )
    w(
        "- A cell whose check failed, or whose wrk run saw non-2xx responses or socket errors, "
        "is marked ✗ and not quoted."
    )
    w("- Server commands (`APP` = `apps.<module>:app`, run from `benchmarks/`):")
    for server in results.get("http", {}):
        w(f"  - {server} ({SERVERS[server]['threads'].format(**cfg)}):")
        any_entry = next(iter(results["http"][server].values()), None)
        if any_entry:
            command = " ".join(any_entry["command"][3:])
            command = re.sub(r"apps\.\w+:app", "APP", command).replace(str(VENV_BIN) + "/", "")
            command = re.sub(r"--port \d+", "--port PORT", command)
            w(f"    `taskset -c {cfg['server_cpu']} {command}`")
    w(
        "- Apps: `benchmarks/apps/`, one module per framework. The bare apps route with one "
        "dict lookup plus `int()` and encode JSON with the stdlib `json.dumps` per request. "
        "qiao runs plain `def` views under WSGI and `async def` views under ASGI; every ASGI "
        "peer uses `async def` too. Django has a `startproject` settings file's apps and "
        "middleware."
    )
    w("")

    w("## Throughput relative to the bare app (framework req/s ÷ bare req/s, same server)\n")
    w(
        "Higher is better; 1.00 is the bare callable. `last/first` is req/s of `/r0999/1` ÷ "
        "req/s of `/r0000/1` (1.00 = route position does not matter).\n"
    )
    for server, rows in summary.items():
        w(f"### {server}\n")
        w("| framework | " + " | ".join(endpoints) + " | last/first |")
        w("|---" * (len(endpoints) + 2) + "|")
        for framework, row in rows.items():
            cells = []
            for e in endpoints:
                c = row["cells"][e]
                cells.append(
                    fmt_ratio(row["ratio"].get(e)) if c["status"] == "ok" else mark(c["status"])
                )
            name = f"**{framework}**" if framework == "qiao" else framework
            w(f"| {name} | " + " | ".join(cells) + f" | {fmt_ratio(row.get('last_first'))} |")
        w("")

    w("## Throughput per server CPU-second, relative to the bare app\n")
    w(
        "The same runs, with each run's req/s divided by the share of its core the server's "
        "processes actually used during it (user + system time from `/proc/PID/stat` ÷ run "
        "time). This takes out CPU lost to other jobs on the shared machine, and the idle time "
        "of a server waiting on wrk, so it gauges each framework's cost per request; read it "
        "next to the table above, not instead of it.\n"
    )
    for server, rows in summary.items():
        w(f"### {server} (per CPU-second)\n")
        w("| framework | " + " | ".join(endpoints) + " | last/first |")
        w("|---" * (len(endpoints) + 2) + "|")
        for framework, row in rows.items():
            cells = [fmt_ratio(row["cpu_ratio"].get(e)) for e in endpoints]
            first = row["cells"].get("route-first", {}).get("per_cpu")
            last = row["cells"].get("route-last", {}).get("per_cpu")
            lf = fmt_ratio(last / first if first and last else None)
            name = f"**{framework}**" if framework == "qiao" else framework
            w(f"| {name} | " + " | ".join(cells) + f" | {lf} |")
        w("")

    w("## qiao against bare and peers\n")
    w(
        "Rank among the frameworks (bare excluded) by req/s ratio; peers listed are those with "
        "a higher ratio. The last two columns rank by the per-CPU-second ratio instead.\n"
    )
    w(
        "| server | endpoint | qiao ÷ bare | rank | faster peers (÷ bare) | qiao ÷ bare per CPU-s "
        "| faster peers per CPU-s |"
    )
    w("|---|---|---|---|---|---|---|")
    for server, rows in summary.items():
        if "qiao" not in rows:
            continue
        for e in endpoints:
            q = rows["qiao"]["ratio"].get(e)
            if q is None:
                w(f"| {server} | {e} | {mark(rows['qiao']['cells'][e]['status'])} | | | | |")
                continue
            parts = []
            for key in ("ratio", "cpu_ratio"):
                mine = rows["qiao"][key].get(e)
                peers = {
                    f: r[key][e]
                    for f, r in rows.items()
                    if f not in ("bare", "qiao") and e in r[key]
                }
                if mine is None:
                    parts += ["–", "–"]
                    continue
                faster = sorted(((v, f) for f, v in peers.items() if v > mine), reverse=True)
                shown = ", ".join(f"{f} ({v:.2f})" for v, f in faster) or "none"
                if key == "ratio":
                    parts += [f"{mine:.2f}", f"{len(faster) + 1} of {len(peers) + 1}", shown]
                else:
                    parts += [f"{mine:.2f}", shown]
            w(f"| {server} | {e} | " + " | ".join(parts) + " |")
    w("")

    w("## Raw medians: req/s (p99 latency)\n")
    w(
        "Each cell: median req/s (median p99), then ±half the range of its runs as a share of the "
        "median (a noise gauge), then the median CPU share of the server / of wrk during the runs "
        "(a server below ~95% lost CPU to other jobs or waited on wrk; wrk near 100% was itself "
        "the limit). RSS is the server's process tree after the run.\n"
    )
    for server, rows in summary.items():
        w(f"### {server}\n")
        w("| framework | " + " | ".join(endpoints) + " | RSS |")
        w("|---" * (len(endpoints) + 2) + "|")
        for framework, row in rows.items():
            cells = []
            for e in endpoints:
                c = row["cells"][e]
                if c["status"] != "ok":
                    cells.append(mark(c["status"]))
                    continue
                p99 = f"{c['p99']:.2f} ms" if c["p99"] is not None else "?"
                spread = ""
                if c["n"] > 1:
                    spread = f" ±{(c['max'] - c['min']) / c['rps'] * 50:.0f}%"
                cpu = ""
                if c.get("cpu") is not None:
                    cpu = f"; cpu {c['cpu']:.0%}/{c['wrk_cpu']:.0%}"
                cells.append(f"{c['rps']:,.0f} ({p99}){spread}{cpu}")
            rss = results["http"][server][row["module"]].get("rss_kib")
            rss_text = f"{rss / 1024:.0f} MiB" if rss else "?"
            w(f"| {framework} | " + " | ".join(cells) + f" | {rss_text} |")
        w("")

    startup = results.get("startup")
    if startup:
        w("## Start-up: import + create an app with 1,000 routes\n")
        w(
            "One fresh process per measurement (`benchmarks/startup.py MODULE`), pinned to CPU "
            f"{cfg['server_cpu']}, {cfg['startup_runs_done']} run(s) each, interleaved; medians. "
            "*Import + create* is `import apps.MODULE` (framework import, app, 1,000 routes); "
            "*first request* is one in-process WSGI call of `/r0999/1` (where Flask, Django and "
            "qiao compile their routes); *process* is the whole `python startup.py MODULE` "
            "from spawn to exit. RSS is VmRSS after the first request; *over bare* subtracts "
            "the bare WSGI app's process (Python + the harness).\n"
        )
        w("| app | import + create | first request | process | RSS | RSS over bare |")
        w("|---|---|---|---|---|---|")
        med: dict[str, dict[str, float]] = {}
        for module, runs in startup.items():
            good = [r for r in runs if "error" not in r]
            if not good:
                w(f"| {module} | {mark(runs[0].get('error', 'failed')[:80])} | | | | |")
                continue
            med[module] = {
                k: statistics.median(r[k] for r in good if k in r)
                for k in ("import_create_s", "first_request_s", "process_wall_s", "rss_kib")
                if any(k in r for r in good)
            }
        base = med.get("bare_wsgi", {}).get("rss_kib")
        for module, vals in med.items():
            label = "python (no import)" if module == "python" else module
            ic = f"{vals['import_create_s'] * 1000:.0f} ms" if "import_create_s" in vals else "–"
            fr = f"{vals['first_request_s'] * 1000:.1f} ms" if "first_request_s" in vals else "–"
            over = (
                f"{(vals['rss_kib'] - base) / 1024:+.1f} MiB"
                if base and module not in ("python", "bare_wsgi")
                else "–"
            )
            w(
                f"| {label} | {ic} | {fr} | {vals['process_wall_s'] * 1000:.0f} ms | "
                f"{vals['rss_kib'] / 1024:.1f} MiB | {over} |"
            )
        w("")

    inproc = results.get("inprocess")
    if inproc:
        w("## In-process cost per request (no server)\n")
        w(
            "`benchmarks/inprocess.py MODULE`: the app called directly in a loop (WSGI: a fresh "
            "server-like environ per call, body joined and closed; ASGI: a fresh scope, no-op "
            "receive/send, one event loop), best of the repeats, µs per request and × the bare "
            "app's cost (lower is better). No sockets and no server, so this isolates the "
            "framework's own overhead.\n"
        )
        for interface in ("wsgi", "asgi"):
            mods = [m for m in inproc if APPS[m][1] == interface]
            if not mods:
                continue
            bare = inproc.get(f"bare_{interface}", {})
            w(f"### {interface.upper()}\n")
            w("| framework | " + " | ".join(endpoints) + " |")
            w("|---" * (len(endpoints) + 1) + "|")
            for module in mods:
                cells = []
                for e in endpoints:
                    val = inproc[module].get(e, {})
                    if "us" not in val:
                        cells.append(mark(str(val.get("error", "not run"))[:80]))
                        continue
                    base_us = bare.get(e, {}).get("us")
                    times = f" (×{val['us'] / base_us:.1f})" if base_us else ""
                    cells.append(f"{val['us']:.2f} µs{times}")
                name = APPS[module][0]
                name = f"**{name}**" if name == "qiao" else name
                w(f"| {name} | " + " | ".join(cells) + " |")
            w("")

    w("## Notes\n")
    notes = list(meta.get("notes", []))
    checkouts = meta.get("qiao_checkouts", {})
    if len(set(checkouts.values())) > 1:
        parts = ", ".join(f"{part}: `{rev}`" for part, rev in checkouts.items())
        notes.append(
            "**The qiao checkout changed during the run** (commits landed while it ran), so "
            f"parts measured different code: {parts}. Compare qiao across parts with care."
        )
    for server, block in results.get("http", {}).items():
        for module, entry in block.items():
            for e in endpoints:
                c = cell(entry, e)
                if c["status"] not in ("ok", "not run"):
                    notes.append(f"{server} / {module} / {e}: {c['status']}")
            notes += server_notes(f"{server} / {module}", entry)
    notes += [
        "The machine has 2 cores and other engineers' jobs ran on it during the run, so "
        "absolute req/s move between runs; the ratios come from interleaved runs and are the "
        "numbers to compare. Differences under ~5% are within noise.",
        "wrk shares the second core with whatever else runs on the machine, and one wrk "
        "thread may itself be the limit for the fastest (bare) cells, which compresses ratios "
        "towards 1.",
        "The bare apps encode JSON with the stdlib `json`; qiao and Litestar use msgspec, so a "
        "json ratio near or above the plaintext ratio says more about the encoder than routing.",
        "Django and Flask are WSGI-only here; Falcon runs both ways. The 1,000 routes are "
        "dynamic (`/rNNNN/<int:id>`), each with its own handler.",
        "To see where a framework spends a request: "
        "`benchmarks/.venv/bin/python benchmarks/inprocess.py qiao_wsgi --profile /r0999/1` "
        "(cProfile of 50,000 in-process calls; any module of `benchmarks/apps/`).",
    ]
    for note in notes:
        w(f"- {note}")
    w("")
    return "\n".join(out)


def keep_sections(text: str, target: Path) -> str:
    """``text`` followed by the sections other runners own in the file it replaces."""
    try:
        old = target.read_text()
    except OSError:
        return text
    kept = []
    for opening, closing in KEPT_SECTIONS:
        start, end = old.find(opening), old.find(closing)
        if start != -1 and end > start:
            kept.append((start, old[start : end + len(closing)]))
    for _, section in sorted(kept):  # in the order the old file had them
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    return text


# -- main -----------------------------------------------------------------------------------------
def add_run_options(
    parser: argparse.ArgumentParser, *, port: int, warmup: str = "app", wrk: str = "wrk"
) -> None:
    """The options every side-by-side runner takes: run lengths, CPUs, ports, the venv and
    re-rendering (``--docs`` is each runner's own). ``finish_run_options`` fills the defaults."""
    parser.add_argument("--quick", action="store_true", help="1 run of 3 s per cell (smoke test)")
    parser.add_argument("--duration", type=float, help="seconds per measured run (default 8)")
    parser.add_argument("--runs", type=int, help="measured runs per cell (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help=f"warm-up seconds per {warmup}")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument("--server-cpu", default="0", help="taskset CPU list for servers")
    parser.add_argument("--wrk-cpu", default="1", help=f"taskset CPU list for {wrk}")
    parser.add_argument("--port", type=int, default=port, help="first port to try")
    parser.add_argument("--no-install", action="store_true", help="do not touch the venv")
    parser.add_argument("--render", metavar="JSON", help="only re-render a saved result")


def finish_run_options(args: argparse.Namespace) -> argparse.Namespace:
    """``--duration`` and ``--runs`` defaults, shorter with ``--quick``."""
    if args.duration is None:
        args.duration = 3.0 if args.quick else 8.0
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    return args


def write_section(name: str, section: str, docs: bool, start: str, end: str) -> None:
    """Write a runner's report to ``results/NAME.md`` and, with ``docs``, its marked section
    of docs/benchmarks.md."""
    target = RESULTS / f"{name}.md"
    target.write_text(section)
    log(f"report: {target}")
    if docs:
        DOCS.write_text(replace_marked(DOCS.read_text(), section, start, end))
        log(f"replaced the {name} section of {DOCS}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run qiao's benchmarks and write docs/benchmarks.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    add_run_options(parser, port=18100)
    parser.add_argument("--only", help="frameworks, comma-separated (bare always runs)")
    parser.add_argument("--servers", help=f"comma-separated, from: {', '.join(SERVERS)}")
    parser.add_argument("--endpoints", help=f"comma-separated, from: {', '.join(ENDPOINTS)}")
    parser.add_argument(
        "--wsgi-threads", type=int, default=8, help="granian --blocking-threads for WSGI (8)"
    )
    parser.add_argument("--startup-runs", type=int, default=5, help="start-up runs per app")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-inprocess", action="store_true")
    parser.add_argument("--docs", help="where to write the report (default: see above)")
    return finish_run_options(parser.parse_args(argv))


def split(value: str | None, known: list[str], what: str) -> list[str] | None:
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in known]
    if unknown:
        sys.exit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return items


def main() -> None:
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.render:
        results = json.loads(Path(args.render).read_text())
        target = (
            Path(args.docs)
            if args.docs
            else (RESULTS / "benchmarks.md" if results["meta"]["partial"] else DOCS)
        )
        target.write_text(keep_sections(render(results), target))
        log(f"wrote {target}")
        return
    ensure_venv(argv, install=not args.no_install)

    frameworks_list = split(args.only, sorted({f for f, _ in APPS.values()}), "framework")
    frameworks = {*frameworks_list, "bare"} if frameworks_list else None
    servers = split(args.servers, list(SERVERS), "server") or list(SERVERS)
    endpoints = split(args.endpoints, list(ENDPOINTS), "endpoint") or list(ENDPOINTS)
    partial = bool(
        args.quick
        or args.only
        or args.servers
        or args.endpoints
        or args.skip_http
        or args.skip_startup
        or args.skip_inprocess
    )
    RESULTS.mkdir(exist_ok=True)
    wrk_path()
    if not shutil.which("taskset"):
        sys.exit("taskset is missing: apt-get install util-linux")

    started = time.monotonic()
    cells = sum(len(modules_for(s, frameworks)) for s in servers) * len(endpoints)
    estimate = (cells * args.runs * (args.duration + 0.3)) / 60
    if not args.skip_http:
        log(f"HTTP: {cells} cells x {args.runs} run(s) x {args.duration:g} s ≈ {estimate:.0f} min")
    results: dict[str, Any] = {
        "meta": {
            **run_meta("run.py", argv, partial, None),
            "endpoints": endpoints,
            "config": {
                "duration": args.duration,
                "runs": args.runs,
                "warmup": args.warmup,
                "connections": args.connections,
                "wsgi_threads": args.wsgi_threads,
                "server_cpu": args.server_cpu,
                "wrk_cpu": args.wrk_cpu,
                "startup_runs_done": 1 if args.quick else args.startup_runs,
            },
        }
    }
    checkouts: dict[str, str] = {}
    results["meta"]["qiao_checkouts"] = checkouts
    if not args.skip_startup:
        checkouts["start-up"] = git_describe()
        results["startup"] = run_startup(args, frameworks)
    if not args.skip_inprocess:
        checkouts["in-process"] = git_describe()
        results["inprocess"] = run_inprocess(frameworks, endpoints, args)
    if not args.skip_http:
        results["http"] = run_http(servers, frameworks, endpoints, args, checkouts)
    checkouts["end"] = git_describe()
    results["meta"]["load_end"] = loadavg()
    results["meta"]["elapsed_min"] = (time.monotonic() - started) / 60

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = RESULTS / f"{stamp}.json"
    raw.write_text(json.dumps(results, indent=1))
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=1))
    target = Path(args.docs) if args.docs else (RESULTS / "benchmarks.md" if partial else DOCS)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(keep_sections(render(results), target))
    log(f"raw results: {raw}")
    log(f"report: {target} ({results['meta']['elapsed_min']:.1f} min)")


if __name__ == "__main__":
    main()
