"""Per-request cost of one app called in-process (no server, no sockets): µs per request.

    python benchmarks/inprocess.py qiao_wsgi                 # all endpoints, a table
    python benchmarks/inprocess.py qiao_wsgi --json          # what run.py reads
    python benchmarks/inprocess.py qiao_wsgi --profile /r0999/1 [--sort tottime]

The WSGI caller copies a server-like environ, calls the app, joins and closes the body; the ASGI
caller copies a scope and awaits the app with no-op ``receive``/``send`` on one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from typing import Any

from apps import APPS, ENDPOINTS
from harness import asgi_caller, asgi_lifespan_startup, load_app, wsgi_caller


def _check(endpoint: str, status: Any, body: bytes) -> str | None:
    _, expected, _ = ENDPOINTS[endpoint]
    if str(status).split()[0] != "200":
        return f"status {status}"
    value = json.loads(body) if isinstance(expected, dict) else body.decode()
    if value != expected:
        return f"body {body[:60]!r}"
    return None


def _time_sync(call: Any, min_time: float, repeat: int) -> float:
    number = 1
    while True:  # calibrate: one repeat takes at least min_time
        start = time.perf_counter()
        for _ in range(number):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        number *= 2 if elapsed <= 0 else max(2, min(10, int(min_time / elapsed * 1.2)))
    best = elapsed / number
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, (time.perf_counter() - start) / number)
    return best


async def _time_async(call: Any, min_time: float, repeat: int) -> float:
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            await call()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        number *= 2 if elapsed <= 0 else max(2, min(10, int(min_time / elapsed * 1.2)))
    best = elapsed / number
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(number):
            await call()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def measure(module: str, endpoints: list[str], min_time: float, repeat: int) -> dict[str, Any]:
    """``{endpoint: {"us": µs per request} or {"error": ...}}``, best of ``repeat``."""
    app = load_app(module)
    results: dict[str, Any] = {}
    if APPS[module][1] == "wsgi":
        for name in endpoints:
            call = wsgi_caller(app, ENDPOINTS[name][0])
            error = _check(name, *call())
            results[name] = (
                {"error": error} if error else {"us": _time_sync(call, min_time, repeat) * 1e6}
            )
        return results

    async def run() -> None:
        await asgi_lifespan_startup(app)
        for name in endpoints:
            call = asgi_caller(app, ENDPOINTS[name][0])
            error = _check(name, *(await call()))
            results[name] = (
                {"error": error}
                if error
                else {"us": await _time_async(call, min_time, repeat) * 1e6}
            )

    asyncio.run(run())
    return results


def profile(module: str, path: str, calls: int, sort: str, limit: int) -> None:
    """cProfile ``calls`` requests to ``path`` and print the top functions."""
    app = load_app(module)
    profiler = cProfile.Profile()
    if APPS[module][1] == "wsgi":
        call = wsgi_caller(app, path)
        print("first response:", call())
        profiler.enable()
        for _ in range(calls):
            call()
        profiler.disable()
    else:

        async def run() -> None:
            await asgi_lifespan_startup(app)
            acall = asgi_caller(app, path)
            print("first response:", await acall())
            profiler.enable()
            for _ in range(calls):
                await acall()
            profiler.disable()

        asyncio.run(run())
    stats = pstats.Stats(profiler)
    print(f"{module} {path}: {calls} calls; per-request times = column / {calls}")
    stats.sort_stats(sort).print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("module", choices=sorted(APPS))
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per repeat")
    parser.add_argument("--repeat", type=int, default=5, help="repeats; the best is kept")
    parser.add_argument("--json", action="store_true", help="print JSON (for run.py)")
    parser.add_argument("--profile", metavar="PATH", help="cProfile requests to PATH instead")
    parser.add_argument("--calls", type=int, default=50_000, help="requests to profile")
    parser.add_argument("--sort", default="tottime", help="pstats sort key")
    parser.add_argument("--limit", type=int, default=30, help="rows of the profile to print")
    args = parser.parse_args()
    if args.profile:
        profile(args.module, args.profile, args.calls, args.sort, args.limit)
        return
    endpoints = [e for e in args.endpoints.split(",") if e]
    results = measure(args.module, endpoints, args.min_time, args.repeat)
    if args.json:
        json.dump(results, sys.stdout)
        return
    for name, value in results.items():
        shown = f"{value['us']:8.2f} µs" if "us" in value else value["error"]
        print(f"{args.module:16} {name:12} {shown}")


if __name__ == "__main__":
    main()
