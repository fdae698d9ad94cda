"""qiao's own HTTP server against uvicorn, granian and gunicorn serving the same apps (method:
shared/BENCHMARKS.md).

    python benchmarks/server.py                    # 3 runs of 8 s per cell (~12 min)
    python benchmarks/server.py --quick            # smoke test: 1 run of 3 s per cell (~3 min)
    python benchmarks/server.py --docs             # also replace the section in docs/benchmarks.md
    python benchmarks/server.py --duration 5 --runs 3 --parts asgi,websocket
    python benchmarks/server.py --render benchmarks/results/server-latest.json [--docs]

Parts (``--parts``, default all), each in fresh server processes:

- ``asgi``: the bare ASGI callable (``benchmarks/apps/bare_asgi.py``) on qiao's server
  (``--interface asgi``), uvicorn (uvloop + httptools) and granian (ASGI): ``/plaintext``,
  ``/json``. Target: qiao ÷ uvicorn ≥ 1.00.
- ``wsgi``: the bare WSGI callable (``bare_wsgi.py``) on qiao's server (``--interface wsgi
  --threads 8``), gunicorn (``-k gthread --threads 8 -w 1``) and granian (WSGI, 8 blocking
  threads). Target: qiao ÷ gunicorn ≥ 3.00.
- ``app``: the qiao app of ``qiao_asgi.py`` (``/plaintext``, ``/json``, ``/r0999/1``, the last
  of 1,000 routes) served natively by qiao (``--interface native``), and as an ASGI app by
  uvicorn and granian. Targets: native ÷ uvicorn ≥ 1.25, native ÷ granian ≥ 0.90.
  In all three: p99 latency under 64 connections (wrk ``--latency``) next to req/s; target:
  qiao's p99 ≤ uvicorn's.
- ``memory``: the qiao app on qiao native, uvicorn and granian, one fresh server at a time:
  RSS of its process tree, then 1,000 keep-alive connections that each made one request and
  stay open idle, RSS again; (after - before) ÷ 1,000 in KiB per connection.
- ``websocket``: an ASGI echo app (``apps/ws_echo.py``) on qiao's server and uvicorn
  (``--ws websockets``, and ``--ws websockets-sansio`` when that uvicorn has it): 16
  connections, each sending a 32-byte text message and awaiting its echo in a loop
  (``benchmarks/ws_client.py``, its own process pinned to the wrk CPU); round trips per second.

Every endpoint is checked (status 200, content type, body; a websocket echo of a text and a
binary message) before any load; a cell that fails its check, or whose load saw errors, is
marked and not quoted. Uses benchmarks/.venv and the server and wrk helpers of benchmarks/run.py.

Writes benchmarks/results/server.md (and the raw server-*.json), prints the tables; with --docs,
also the section between ``<!-- server:start -->`` and ``<!-- server:end -->`` in
docs/benchmarks.md (added at the end when the markers are missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import run as runner  # the shared helpers: venv, servers, wrk (puts benchmarks/ on sys.path)
from apps import ENDPOINTS, TEXT

RESULTS = runner.RESULTS
DOCS = runner.DOCS
HOST = runner.HOST
MARK_START, MARK_END = runner.SERVER_MARKERS
PARTS = ["asgi", "wsgi", "app", "memory", "websocket"]
HTTP_PARTS = ["asgi", "wsgi", "app"]

#: part -> the app, qiao's interface for it, the servers side by side (qiao first), the
#: endpoints, the req/s targets (qiao ÷ peer ≥ value) and the peer whose p99 qiao should match.
GROUPS: dict[str, dict[str, Any]] = {
    "asgi": {
        "title": "Bare ASGI app",
        "module": "bare_asgi",
        "interface": "asgi",
        "servers": ["qiao", "uvicorn", "granian-asgi"],
        "endpoints": ["plaintext", "json"],
        "targets": {"uvicorn": 1.0},
        "p99_peer": "uvicorn",
    },
    "wsgi": {
        "title": "Bare WSGI app",
        "module": "bare_wsgi",
        "interface": "wsgi",
        "servers": ["qiao", "gunicorn", "granian-wsgi"],
        "endpoints": ["plaintext", "json"],
        "targets": {"gunicorn": 3.0},
        "p99_peer": None,
    },
    "app": {
        "title": "The qiao app",
        "module": "qiao_asgi",
        "interface": "native",
        "servers": ["qiao", "uvicorn", "granian-asgi"],
        "endpoints": ["plaintext", "json", "route-last"],
        "targets": {"uvicorn": 1.25, "granian-asgi": 0.9},
        "p99_peer": "uvicorn",
    },
}
LABELS = {
    "qiao": "qiao",
    "uvicorn": "uvicorn",
    "granian-asgi": "granian ASGI",
    "granian-wsgi": "granian WSGI",
    "gunicorn": "gunicorn gthread",
    "uvicorn-websockets": "uvicorn `--ws websockets`",
    "uvicorn-websockets-sansio": "uvicorn `--ws websockets-sansio`",
}
QIAO_LABELS = {"asgi": "qiao (ASGI)", "wsgi": "qiao (WSGI)", "native": "qiao native"}
MEMORY_SERVERS = ["qiao", "uvicorn", "granian-asgi"]
MEMORY_MODULE = "qiao_asgi"
#: idle seconds qiao and uvicorn keep a connection open in the memory part (both default to 5)
MEMORY_KEEP_ALIVE = 60
WS_MODULE = "ws_echo"
WS_PATH = "/ws"
VERSIONED = [
    "qiao",
    "uvicorn",
    "granian",
    "gunicorn",
    "httptools",
    "uvloop",
    "websockets",
    "msgspec",
    "httpx",
]


def log(message: str) -> None:
    runner.log(message)


def fmt_cell(c: dict[str, Any] | None) -> str:
    return runner.cell_text(c, 90)


ratio = runner.speed_ratio


# -- servers --------------------------------------------------------------------------------------
def server_command(
    server: str,
    module: str,
    port: int,
    args: argparse.Namespace,
    interface: str = "asgi",
    keep_alive: int | None = None,
) -> list[str]:
    """The command line of one server (unpinned); run.py's for uvicorn and granian."""
    target = f"apps.{module}:app"
    if server == "qiao":
        command = [str(runner.VENV_BIN / "qiao"), "serve", target, "--host", HOST]
        command += ["--port", str(port), "--workers", "1", "--no-access-log"]
        command += ["--log-level", "warning", "--interface", interface, "--loop", "uvloop"]
        if interface == "wsgi":
            command += ["--threads", str(args.wsgi_threads)]
        if keep_alive is not None:
            command += ["--timeout-keep-alive", str(keep_alive)]
        return command
    if server == "gunicorn":  # no access log unless --access-logfile is given
        return [
            str(runner.VENV_BIN / "gunicorn"),
            "-k",
            "gthread",
            "--threads",
            str(args.wsgi_threads),
            "-w",
            "1",
            "--bind",
            f"{HOST}:{port}",
            "--log-level",
            "warning",
            target,
        ]
    if server.startswith("uvicorn"):
        command = runner.server_command("uvicorn", module, port, args)
        extra = []
        if server.startswith("uvicorn-"):
            extra += ["--ws", server.removeprefix("uvicorn-")]
        if keep_alive is not None:
            extra += ["--timeout-keep-alive", str(keep_alive)]
        return command[:-1] + extra + command[-1:]
    return runner.server_command(server, module, port, args)


def threads_text(server: str, interface: str, cfg: dict[str, Any]) -> str:
    """What processes and threads a server ran with (BENCHMARKS.md: write them down)."""
    if server == "qiao":
        if interface == "wsgi":
            return (
                "1 process, uvloop event loop + httptools parser, "
                f"{cfg['wsgi_threads']} threads running the WSGI app"
            )
        return "1 process, uvloop event loop + httptools parser, no thread pool used"
    if server == "gunicorn":
        return f"1 worker process (+ its master), {cfg['wsgi_threads']} threads"
    if server.startswith("uvicorn-"):
        return "1 process, uvloop event loop + httptools parser"
    return runner.SERVERS[server]["threads"].format(**cfg)


def start(
    label: str, server: str, module: str, args: argparse.Namespace, port: int, **kw: Any
) -> runner.Server:
    command = server_command(server, module, port, args, **kw)
    return runner.Server(label, module, port, args, command)


def shown_command(command: list[str], cfg: dict[str, Any]) -> str:
    text = " ".join(command[3:])
    text = re.sub(r"apps\.\w+:app", "APP", text).replace(str(runner.VENV_BIN) + "/", "")
    text = re.sub(r"--port \d+", "--port PORT", text)
    text = re.sub(r"--bind [\d.]+:\d+", f"--bind {HOST}:PORT", text)
    return f"taskset -c {cfg['server_cpu']} {text}"


# -- parts 1-3: HTTP throughput and p99 -----------------------------------------------------------
def run_group(part: str, args: argparse.Namespace) -> dict[str, Any]:
    group = GROUPS[part]
    module, endpoints = group["module"], group["endpoints"]
    log(f"{part}: {module} on {', '.join(group['servers'])} (all pinned to CPU {args.server_cpu})")
    block: dict[str, Any] = {}
    running: dict[str, runner.Server] = {}
    port = args.port
    try:
        for server in group["servers"]:
            port = runner.free_port(port)
            running[server] = start(
                f"{part}-{server}", server, module, args, port, interface=group["interface"]
            )
            port += 1
        for server, srv in running.items():
            entry = block[server] = {
                "server": server,
                "command": srv.command,
                "runs": {e: [] for e in endpoints},
            }
            problem = srv.wait_ready()
            entry["check"] = {e: problem or runner.check_endpoint(srv.url, e) for e in endpoints}
            bad = {e: why for e, why in entry["check"].items() if why}
            for e, why in bad.items():
                log(f"  {server} {e}: CHECK FAILED ({why}); the cell will be marked")
            if not bad:
                log(f"  {server}: {', '.join(endpoints)} answered 200 with the right body")
        for server, srv in running.items():
            ok = [e for e in endpoints if not block[server]["check"][e]]
            if ok and args.warmup > 0:
                path = ENDPOINTS[ok[0]][0]
                runner.run_wrk(srv.url + path, args, args.warmup, runner.warmup_script(ok))
        for endpoint in endpoints:
            for run in range(args.runs):
                for server, srv in running.items():
                    entry = block[server]
                    if entry["check"][endpoint]:
                        continue
                    if not srv.alive():
                        entry["check"][endpoint] = f"server died ({srv.proc.returncode})"
                        continue
                    result = runner.measure(srv, endpoint, args)
                    entry["runs"][endpoint].append(result)
                    label = f"{part:4} {endpoint:10}"
                    log(runner.run_line(label, run, args.runs, server, result))
        runner.record_servers(running, block)
    finally:
        runner.stop_servers(running, block)
    return block


# -- part 4: memory per idle keep-alive connection ------------------------------------------------
REQUEST = f"GET /plaintext HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


def read_response(sock: socket.socket) -> str | None:
    """Read one HTTP response to ``REQUEST``; None if it is a 200 with the right body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return f"closed after {len(data)} bytes"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        return "no Content-Length"
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return "closed in the body"
        body += chunk
    if not lines[0].startswith("HTTP/1.1 200"):
        return lines[0]
    if body != TEXT.encode():
        return f"body {body[:40]!r}"
    return None


def open_idle(port: int, count: int) -> tuple[list[socket.socket], int, str | None]:
    """``count`` connections, each after one request answered; (sockets, failures, first why)."""
    sockets: list[socket.socket] = []
    failures, first = 0, None
    for begin in range(0, count, 100):
        batch = []
        for _ in range(min(100, count - begin)):
            try:
                sock = socket.create_connection((HOST, port), timeout=10)
                sock.sendall(REQUEST)
            except OSError as exc:
                failures, first = failures + 1, first or f"connect: {exc}"
                continue
            batch.append(sock)
        for sock in batch:
            try:
                why = read_response(sock)
            except OSError as exc:
                why = f"{type(exc).__name__}: {exc}"
            if why:
                failures, first = failures + 1, first or why
            sockets.append(sock)
    return sockets, failures, first


def still_open(sockets: list[socket.socket]) -> int:
    """How many of ``sockets`` the server has not closed (a recv would block)."""
    count = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            if sock.recv(1):
                count += 1  # unexpected data, but the connection is open
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def warm(port: int) -> None:
    """A few connections and requests first, so one-time costs fall before the baseline."""
    for _ in range(8):
        with socket.create_connection((HOST, port), timeout=10) as sock:
            for _ in range(25):
                sock.sendall(REQUEST)
                read_response(sock)


def measure_memory(server: str, args: argparse.Namespace, entry: dict[str, Any]) -> dict:
    port = runner.free_port(args.port)
    keep_alive = MEMORY_KEEP_ALIVE if server in ("qiao", "uvicorn") else None
    srv = start(
        f"memory-{server}",
        server,
        MEMORY_MODULE,
        args,
        port,
        interface="native",
        keep_alive=keep_alive,
    )
    entry["command"] = srv.command
    sockets: list[socket.socket] = []
    try:
        problem = srv.wait_ready() or runner.check_endpoint(srv.url, "plaintext")
        if problem:
            return {"error": f"check failed: {problem}"}
        warm(port)
        time.sleep(0.5)
        before = srv.rss_kib()
        started = time.monotonic()
        sockets, failures, first = open_idle(port, args.idle_connections)
        opened_s = time.monotonic() - started
        time.sleep(1.0)
        after = srv.rss_kib()
        open_now = still_open(sockets)
        result = {
            "before_kib": before,
            "after_kib": after,
            "connections": len(sockets),
            "open_at_measure": open_now,
            "failures": failures,
            "open_seconds": opened_s,
            "per_connection_kib": (after - before) / args.idle_connections,
        }
        if first:
            result["first_failure"] = first
        if not srv.alive():
            result["error"] = f"server died ({srv.proc.returncode})"
        return result
    finally:
        for sock in sockets:
            sock.close()
        srv.stop()
        entry["log_tail"] = srv.log_tail()


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    n = args.idle_connections
    log(f"memory: {MEMORY_MODULE} on {', '.join(MEMORY_SERVERS)}, {n:,} idle connections")
    block: dict[str, Any] = {s: {"server": s, "runs": []} for s in MEMORY_SERVERS}
    for run in range(args.runs):
        for server in MEMORY_SERVERS:
            result = measure_memory(server, args, block[server])
            block[server]["runs"].append(result)
            if "per_connection_kib" in result:
                text = (
                    f"RSS {result['before_kib'] / 1024:6.1f} → {result['after_kib'] / 1024:6.1f} "
                    f"MiB  {result['per_connection_kib']:5.1f} KiB/connection  "
                    f"open {result['open_at_measure']:,}/{n:,}"
                )
            else:
                text = ""
            flag = ""
            if result.get("error") or result.get("failures"):
                flag = f"  !! {result.get('error') or result.get('first_failure')}"
            log(f"  memory run {run + 1}/{args.runs} {server:14} {text}{flag}")
    return block


# -- part 5: websocket echo -----------------------------------------------------------------------
def ws_servers() -> list[str]:
    from uvicorn.config import WS_PROTOCOLS

    servers = ["qiao", "uvicorn-websockets"]
    if "websockets-sansio" in WS_PROTOCOLS:
        servers.append("uvicorn-websockets-sansio")
    return servers


def check_ws(url: str, size: int) -> str | None:
    """None if a text and a binary message come back unchanged."""
    from websockets.sync.client import connect

    text = (TEXT * (size // len(TEXT) + 1))[:size]
    try:
        with connect(url, compression=None, open_timeout=10, close_timeout=5) as ws:
            for message in (text, text.encode()):
                ws.send(message)
                reply = ws.recv(timeout=10)
                if reply != message:
                    return f"sent {message!r}, got {reply!r}"[:120]
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:160]
    return None


def ws_client(url: str, duration: float, args: argparse.Namespace) -> dict[str, Any]:
    command = ["taskset", "-c", args.wrk_cpu, str(runner.VENV_PY), "ws_client.py", url]
    command += ["--connections", str(args.ws_connections), "--duration", f"{duration:g}"]
    command += ["--size", str(args.ws_size), "--client", args.ws_client]
    try:
        done = subprocess.run(
            command, cwd=runner.BENCH_DIR, capture_output=True, text=True, timeout=duration + 60
        )
    except subprocess.TimeoutExpired:
        return {"error": "the client timed out"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": f"the client failed: {done.stderr.strip()[-300:]}"}


def ws_url(srv: runner.Server) -> str:
    return f"ws://{HOST}:{srv.port}{WS_PATH}"


def run_websocket(args: argparse.Namespace) -> dict[str, Any]:
    servers = ws_servers()
    log(f"websocket: {WS_MODULE} on {', '.join(servers)} (all pinned to CPU {args.server_cpu})")
    block: dict[str, Any] = {}
    running: dict[str, runner.Server] = {}
    port = args.port
    try:
        for server in servers:
            port = runner.free_port(port)
            running[server] = start(f"websocket-{server}", server, WS_MODULE, args, port)
            port += 1
        for server, srv in running.items():
            entry = block[server] = {"server": server, "command": srv.command, "runs": []}
            entry["check"] = srv.wait_ready() or check_ws(ws_url(srv), args.ws_size)
            if entry["check"]:
                log(f"  {server}: CHECK FAILED ({entry['check']}); the cell will be marked")
            else:
                log(f"  {server}: a text and a binary message came back unchanged")
        for server, srv in running.items():
            if not block[server]["check"] and args.warmup > 0:
                ws_client(ws_url(srv), args.warmup, args)
        for run in range(args.runs):
            for server, srv in running.items():
                entry = block[server]
                if entry["check"]:
                    continue
                if not srv.alive():
                    entry["check"] = f"server died ({srv.proc.returncode})"
                    continue
                server_cpu = srv.cpu_seconds()
                result = ws_client(ws_url(srv), args.duration, args)
                result["server_cpu"] = (srv.cpu_seconds() - server_cpu) / args.duration
                entry["runs"].append(result)
                flag = ""
                if result.get("error") or result.get("errors"):
                    flag = f"  !! {result.get('error') or result.get('first_error')}"
                log(
                    f"  websocket run {run + 1}/{args.runs} {server:26} "
                    f"{result.get('rps') or 0:9,.0f} round trips/s  cpu server "
                    f"{result['server_cpu']:.0%} client {result.get('cpu') or 0:.0%}{flag}"
                )
        runner.record_servers(running, block)
    finally:
        runner.stop_servers(running, block)
    return block


# -- summarising ----------------------------------------------------------------------------------
def ws_cell(entry: dict[str, Any] | None) -> dict[str, Any]:
    """Median round trips/s of a websocket cell, or why it is not quoted."""
    if entry is None:
        return {"status": "not run"}
    if entry.get("check"):
        return {"status": f"check failed: {entry['check']}"}
    runs = entry["runs"]
    if not runs:
        return {"status": "not run"}
    bad = [r for r in runs if r.get("error") or r.get("errors")]
    if bad:
        r = bad[0]
        return {"status": f"errors: {r.get('error') or r.get('first_error')}"}
    rps = [r["rps"] for r in runs]
    return {
        "status": "ok",
        "rps": statistics.median(rps),
        "p99": None,
        "min": min(rps),
        "max": max(rps),
        "n": len(rps),
        "cpu": statistics.median(r["server_cpu"] for r in runs),
        "client_cpu": statistics.median(r.get("cpu") or 0 for r in runs),
    }


def memory_cell(entry: dict[str, Any] | None, connections: int) -> dict[str, Any]:
    """Median KiB per idle connection, or why it is not quoted."""
    if entry is None or not entry.get("runs"):
        return {"status": "not run"}
    runs = entry["runs"]
    for r in runs:
        if r.get("error"):
            return {"status": r["error"]}
        if r.get("failures"):
            return {"status": f"{r['failures']} requests failed: {r.get('first_failure')}"}
        if r["open_at_measure"] < connections:
            return {
                "status": f"only {r['open_at_measure']:,} of {connections:,} connections "
                "were still open when measured"
            }
    per = [r["per_connection_kib"] for r in runs]
    return {
        "status": "ok",
        "kib": statistics.median(per),
        "min": min(per),
        "max": max(per),
        "n": len(per),
        "before": statistics.median(r["before_kib"] for r in runs),
        "after": statistics.median(r["after_kib"] for r in runs),
        "open_seconds": statistics.median(r["open_seconds"] for r in runs),
    }


def target_text(value: float | None, target: float, at_least: bool = True) -> str:
    if value is None:
        return "–"
    met = value >= target if at_least else value <= target
    return f"{value:.2f} {'✓' if met else '✗'}"


def rps_ratio(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    if a["status"] != "ok" or b["status"] != "ok":
        return None
    return a["rps"] / b["rps"]


def p99_ratio(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    if a["status"] != "ok" or b["status"] != "ok" or not a.get("p99") or not b.get("p99"):
        return None
    return a["p99"] / b["p99"]


# -- the report -----------------------------------------------------------------------------------
def render_tables(results: dict[str, Any]) -> list[str]:
    """The result tables (printed at the end of a run, and the core of the docs section)."""
    meta = results["meta"]
    cfg = meta["config"]
    out: list[str] = []
    w = out.append
    http = results.get("http", {})
    if http:
        w("### Requests per second and p99 latency\n")
        w(
            f"Median req/s of {cfg['runs']} run(s) of {cfg['duration']:g} s with "
            f"{cfg['connections']} connections (median p99 latency in brackets). Ratios are "
            "qiao's req/s ÷ the peer's (above 1.00, qiao is faster); ✓ or ✗ against the "
            "target in the column's heading. The p99 column is qiao's p99 ÷ uvicorn's (below "
            "1.00, qiao's slowest requests are faster).\n"
        )
    for part, block in http.items():
        group = GROUPS[part]
        qiao_label = QIAO_LABELS[group["interface"]]
        peers = group["servers"][1:]
        w(f"#### {group['title']} (`benchmarks/apps/{group['module']}.py`)\n")
        heads = ["endpoint", qiao_label, *(LABELS[p] for p in peers)]
        for peer in peers:
            target = group["targets"].get(peer)
            suffix = f" (target ≥ {target:.2f})" if target else ""
            heads.append(f"qiao ÷ {LABELS[peer]}{suffix}")
        p99_peer = group["p99_peer"]
        if p99_peer:
            heads.append(f"p99 qiao ÷ {LABELS[p99_peer]} (target ≤ 1.00)")
        w("| " + " | ".join(heads) + " |")
        w("|---" * len(heads) + "|")
        for endpoint in group["endpoints"]:
            cells = {s: runner.cell(block.get(s), endpoint) for s in group["servers"]}
            q = cells["qiao"]
            row = [f"`{ENDPOINTS[endpoint][0]}`", *(fmt_cell(cells[s]) for s in group["servers"])]
            for peer in peers:
                target = group["targets"].get(peer)
                value = rps_ratio(q, cells[peer])
                row.append(target_text(value, target) if target else ratio(q, cells[peer]))
            if p99_peer:
                row.append(target_text(p99_ratio(q, cells[p99_peer]), 1.0, at_least=False))
            w("| " + " | ".join(row) + " |")
        w("")

    memory = results.get("memory")
    if memory:
        n = cfg["idle_connections"]
        w(f"### Memory per idle keep-alive connection ({n:,} connections)\n")
        w(
            f"The qiao app (`qiao_asgi.py`) on each server, started fresh; RSS of the server's "
            f"process tree (VmRSS) before and with {n:,} idle keep-alive connections open "
            f"(each after one `GET /plaintext`), median of {cfg['runs']} start(s). Lower is "
            "better; the last column is the peer's KiB ÷ qiao's (above 1.00, qiao uses "
            "less).\n"
        )
        w("| server | RSS before | RSS with the connections | KiB per connection | ÷ qiao |")
        w("|---|---|---|---|---|")
        cells = {s: memory_cell(memory.get(s), n) for s in MEMORY_SERVERS}
        q = cells["qiao"]
        for server, c in cells.items():
            label = "qiao native" if server == "qiao" else LABELS[server]
            if c["status"] != "ok":
                w(f"| {label} | {runner.mark(c['status'])[:120]} | | | |")
                continue
            spread = f" (±{(c['max'] - c['min']) / 2:.1f})" if c["n"] > 1 else ""
            vs = "–"
            if server != "qiao" and q["status"] == "ok" and q["kib"] > 0:
                vs = f"{c['kib'] / q['kib']:.2f}"
            w(
                f"| {label} | {c['before'] / 1024:.1f} MiB | {c['after'] / 1024:.1f} MiB | "
                f"{c['kib']:.1f}{spread} | {vs} |"
            )
        w("")

    ws = results.get("websocket")
    if ws:
        w("### Websocket echo round trips per second\n")
        w(
            f"`apps/ws_echo.py` (a bare ASGI echo app); {cfg['ws_connections']} connections "
            f"from `benchmarks/ws_client.py` ({cfg['ws_client']} client), each sending a "
            f"{cfg['ws_size']}-byte text message and awaiting its echo in a loop; median of "
            f"{cfg['runs']} run(s) of {cfg['duration']:g} s, and the median CPU share of the "
            "server / of the client during the runs.\n"
        )
        w("| server | round trips/s | qiao ÷ this | cpu server / client |")
        w("|---|---|---|---|")
        cells = {s: ws_cell(e) for s, e in ws.items()}
        q = cells.get("qiao", {"status": "not run"})
        for server, c in cells.items():
            label = "qiao (ASGI)" if server == "qiao" else LABELS.get(server, server)
            if c["status"] != "ok":
                w(f"| {label} | {runner.mark(c['status'])[:120]} | | |")
                continue
            spread = f" ±{(c['max'] - c['min']) / c['rps'] * 50:.0f}%" if c["n"] > 1 else ""
            vs = "–" if server == "qiao" else ratio(q, c)
            w(
                f"| {label} | {c['rps']:,.0f}{spread} | {vs} | "
                f"{c['cpu']:.0%} / {c['client_cpu']:.0%} |"
            )
        w("")
    return out


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    cfg = meta["config"]
    out: list[str] = []
    w = out.append
    w("## qiao's server against uvicorn, granian and gunicorn\n")
    w(
        "Generated by `benchmarks/server.py`; do not edit by hand. The same apps on qiao's own "
        "server (`qiao serve`) and on its peers, side by side in one run (method: "
        "`shared/BENCHMARKS.md`). *Bare ASGI* and *bare WSGI* cells measure the servers "
        "alone: the app is a callable with no framework, so the req/s are what each server "
        "can carry (targets: qiao ÷ uvicorn ≥ 1.00 under ASGI, qiao ÷ gunicorn gthread ≥ 3.00 "
        "under WSGI). *The qiao app* cells serve one qiao app three ways: natively (`qiao "
        "serve`, no ASGI in between) and as an ASGI app on uvicorn and granian (targets: "
        "native ÷ uvicorn ≥ 1.25, native ÷ granian ≥ 0.90). Each cell is median req/s with "
        f"its median p99 latency under {cfg['connections']} connections (target: qiao's p99 "
        "≤ uvicorn's). "
        "*Memory* is the RSS one idle keep-alive connection costs each server, and "
        "*websocket* the echo round trips per second of a bare ASGI websocket app.\n"
    )
    w(f"- Date: {meta['date']} (took {meta.get('elapsed_min', 0):.0f} min)")
    quick = "  **(quick or partial run: not for quoting)**" if meta["partial"] else ""
    w(f"- Command: `{meta['command']}`{quick}")
    m = meta["machine"]
    w(
        f"- Machine: {m['nproc']} CPUs (`nproc`), {m['cpu_model']} (`/proc/cpuinfo`), "
        f"{m['mem_gib']} GiB, Linux {m['kernel']}, {m['python_impl']} {m['python']}"
    )
    w(
        f"- Load average (1/5/15 min, `os.getloadavg()`) at start: {meta['load_start']}; "
        f"at end: {meta['load_end']}"
    )
    v = meta["versions"]
    w(
        "- Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items() if k != "qiao_git")
        + f"; qiao checkout `{v.get('qiao_git')}`"
    )
    w("")
    out += render_tables(results)

    http = results.get("http", {})
    if http:
        w("### Raw cells\n")
        w(
            "Median req/s (median p99), ±half the range of the runs as a share of the median, "
            "and the median CPU share of the server / of wrk (a server well below 100% lost "
            "its core to other jobs or waited on wrk; wrk near 100% was itself the limit). "
            "RSS: the server's process tree after its runs.\n"
        )
        w("| app | server | endpoint | req/s (p99) | RSS |")
        w("|---|---|---|---|---|")
        for part, block in http.items():
            group = GROUPS[part]
            for server, entry in block.items():
                for endpoint in group["endpoints"]:
                    c = runner.cell(entry, endpoint)
                    text = fmt_cell(c)
                    if c["status"] == "ok":
                        if c["n"] > 1:
                            text += f" ±{(c['max'] - c['min']) / c['rps'] * 50:.0f}%"
                        if c.get("cpu") is not None:
                            text += f"; cpu {c['cpu']:.0%}/{c['wrk_cpu']:.0%}"
                    rss = entry.get("rss_kib")
                    rss_text = f"{rss / 1024:.0f} MiB" if rss else "?"
                    label = QIAO_LABELS[group["interface"]] if server == "qiao" else LABELS[server]
                    w(
                        f"| {group['module']} | {label} | `{ENDPOINTS[endpoint][0]}` | {text} "
                        f"| {rss_text} |"
                    )
        w("")

    w("### How it was measured\n")
    w(
        f"- Servers: one worker process each, pinned to CPU {cfg['server_cpu']} (`taskset`); "
        f"wrk and the websocket client pinned to CPU {cfg['wrk_cpu']}. The servers of one "
        "part run at once on their own ports (idle ones sleep) and take turns per run "
        "(A B C A B C …). Access logs off everywhere, log level warning. Commands (`APP` = "
        "`apps.<module>:app`, run from `benchmarks/`):"
    )
    shown: set[tuple[str, str]] = set()
    blocks = [(GROUPS[part]["interface"], b) for part, b in http.items()]
    if results.get("websocket"):
        blocks.append(("asgi", results["websocket"]))
    for interface, block in blocks:
        for server, entry in block.items():
            key = (server, interface if server == "qiao" else "")
            if key in shown or "command" not in entry:
                continue
            shown.add(key)
            label = QIAO_LABELS[interface] if server == "qiao" else LABELS.get(server, server)
            w(
                f"  - {label} ({threads_text(server, interface, cfg)}): "
                f"`{shown_command(entry['command'], cfg)}`"
            )
    if http:
        w(
            "- Before any load, every endpoint on every server was asked once with httpx "
            "(status 200, content type, body). Warm-up: "
            f"{cfg['warmup']:g} s of wrk per server cycling through its endpoints. Measured: "
            f"`taskset -c {cfg['wrk_cpu']} wrk -t1 -c{cfg['connections']} "
            f"-d{cfg['duration']:g}s --latency URL`, {cfg['runs']} run(s) per cell; quoted: "
            "median req/s and median p99. A cell with non-2xx responses or socket errors is "
            "marked ✗, not quoted."
        )
    if results.get("memory"):
        n = cfg["idle_connections"]
        w(
            f"- Memory: each server started alone, checked, warmed (8 connections × 25 "
            "requests, closed), then its process tree's VmRSS summed from `/proc/PID/status` "
            f"(before); {n:,} connections opened in batches of 100, each sending one "
            "`GET /plaintext` and reading its answer (checked), left open and idle; after "
            "1 s, VmRSS again (after); then every connection checked to be still open (a "
            "measurement with any closed is marked). qiao and uvicorn ran with "
            f"`--timeout-keep-alive {MEMORY_KEEP_ALIVE}` here (both default to 5 s) so no "
            "connection timed out while they were opened; granian has no idle timeout for "
            "HTTP/1. Per connection: (after - before) ÷ "
            f"{n:,}. RSS is the processes' own memory: the kernel's socket buffers are not "
            "in it."
        )
    if results.get("websocket"):
        w(
            "- Websocket: every server first echoed a text and a binary message (the "
            "`websockets` sync client). Warm-up: the load client for "
            f"{cfg['warmup']:g} s per server. The load client (`benchmarks/ws_client.py`, "
            f"`--client {cfg['ws_client']}`, on uvloop) opens {cfg['ws_connections']} "
            "connections, then each sends a text message, awaits its echo, compares it, and "
            "sends again, for the run's duration; round trips that completed in that window "
            "are counted. No permessage-deflate is offered, so frames go uncompressed both "
            "ways. The `raw` client sends pre-built masked frames from asyncio protocols and "
            "uses a fraction of the CPU the servers do, so the server is the limit; the "
            "`websockets` client (`--ws-client websockets`) costs about as much as a server "
            "per round trip."
        )
    w("")

    w("### Notes\n")
    notes = []
    for part, block in http.items():
        for server, entry in block.items():
            for endpoint in entry["runs"]:
                c = runner.cell(entry, endpoint)
                if c["status"] not in ("ok", "not run"):
                    notes.append(f"{part} / {server} / {endpoint}: {c['status']}")
            notes += runner.server_notes(f"{part} / {server}", entry)
    for server, entry in (results.get("memory") or {}).items():
        c = memory_cell(entry, cfg["idle_connections"])
        if c["status"] not in ("ok", "not run"):
            notes.append(f"memory / {server}: {c['status']}")
        notes += runner.server_notes(f"memory / {server}", entry)
    for server, entry in (results.get("websocket") or {}).items():
        c = ws_cell(entry)
        if c["status"] not in ("ok", "not run"):
            notes.append(f"websocket / {server}: {c['status']}")
        notes += runner.server_notes(f"websocket / {server}", entry)
    notes += [
        "The machine has 2 cores shared with other work: absolute numbers move between runs; "
        "the ratios, from interleaved runs, are the numbers to compare. Differences under "
        "~5% are noise.",
        "The bare cells are the fastest, so wrk (one thread, on the other core) is most "
        "likely to be the limit there, which pulls ratios towards 1.00; its CPU share is in "
        "the raw cells.",
        "The bare apps encode JSON with the stdlib `json`; the qiao app uses msgspec, on every "
        "server alike.",
    ]
    for note in notes:
        w(f"- {note}")
    w("")
    return "\n".join(out)


def write_report(results: dict[str, Any], docs: bool) -> None:
    print("\n" + "\n".join(render_tables(results)), flush=True)
    runner.write_section("server", render(results), docs, MARK_START, MARK_END)


# -- main -----------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="qiao's own server against uvicorn, granian and gunicorn.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    runner.add_run_options(parser, port=18700, warmup="server", wrk="wrk and clients")
    parser.add_argument("--parts", help=f"comma-separated, from: {', '.join(PARTS)}")
    parser.add_argument(
        "--wsgi-threads",
        type=int,
        default=8,
        help="threads for the WSGI app: qiao --threads, gunicorn --threads, granian "
        "--blocking-threads (8)",
    )
    parser.add_argument(
        "--idle-connections", type=int, default=1000, help="memory part: connections (1000)"
    )
    parser.add_argument("--ws-connections", type=int, default=16, help="websocket connections (16)")
    parser.add_argument("--ws-size", type=int, default=32, help="websocket message bytes (32)")
    parser.add_argument(
        "--ws-client", choices=["raw", "websockets"], default="raw", help="load client (raw)"
    )
    parser.add_argument(
        "--docs", action="store_true", help="also write the section into docs/benchmarks.md"
    )
    return runner.finish_run_options(parser.parse_args(argv))


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.render:
        write_report(json.loads(Path(args.render).read_text()), args.docs)
        return
    runner.ensure_venv(argv, install=not args.no_install, script=__file__)
    parts = runner.split(args.parts, PARTS, "part") or PARTS
    runner.wrk_path()
    RESULTS.mkdir(exist_ok=True)
    http_cells = sum(
        len(GROUPS[p]["servers"]) * len(GROUPS[p]["endpoints"]) for p in parts if p in GROUPS
    )
    ws_cells = len(ws_servers()) if "websocket" in parts else 0
    minutes = (http_cells + ws_cells) * args.runs * (args.duration + 0.3) / 60
    log(
        f"{http_cells} HTTP + {ws_cells} websocket cells x {args.runs} run(s) x "
        f"{args.duration:g} s ≈ {minutes:.0f} min plus set-up"
    )
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            **runner.run_meta(
                "server.py",
                argv,
                bool(args.quick or args.parts or args.runs < 3 or args.duration < 8),
                VERSIONED,
            ),
            "parts": parts,
            "config": {
                "duration": args.duration,
                "runs": args.runs,
                "warmup": args.warmup,
                "connections": args.connections,
                "wsgi_threads": args.wsgi_threads,
                "idle_connections": args.idle_connections,
                "ws_connections": args.ws_connections,
                "ws_size": args.ws_size,
                "ws_client": args.ws_client,
                "server_cpu": args.server_cpu,
                "wrk_cpu": args.wrk_cpu,
            },
        },
        "http": {},
    }
    for part in parts:
        if part in GROUPS:
            results["http"][part] = run_group(part, args)
    if "memory" in parts:
        results["memory"] = run_memory(args)
    if "websocket" in parts:
        results["websocket"] = run_websocket(args)
    results["meta"]["load_end"] = loadavg()
    results["meta"]["qiao_git_end"] = runner.git_describe()
    results["meta"]["elapsed_min"] = (time.monotonic() - started) / 60
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = RESULTS / f"server-{stamp}.json"
    raw.write_text(json.dumps(results, indent=1))
    (RESULTS / "server-latest.json").write_text(json.dumps(results, indent=1))
    log(f"raw results: {raw}")
    write_report(results, args.docs)


if __name__ == "__main__":
    main()
