"""qiao with its batteries installed against Django and Flask doing the same work (method:
shared/BENCHMARKS.md).

    python benchmarks/batteries.py                  # 3 runs of 8 s per cell (~9 min)
    python benchmarks/batteries.py --quick          # smoke test: 1 run of 3 s per cell (~2 min)
    python benchmarks/batteries.py --docs           # also replace the section in docs/benchmarks.md
    python benchmarks/batteries.py --duration 5 --runs 5 --servers granian-wsgi
    python benchmarks/batteries.py --render benchmarks/results/batteries-latest.json [--docs]

The same small site in each framework (``benchmarks/apps/batteries/``): host checking, security
headers, signed-cookie sessions, CSRF, a three-field form and a template. Measured: ``GET /form``
(render the form and a CSRF token, read the session), ``POST /form`` (check the token, validate,
303), ``GET /plain`` (a text through the whole middleware stack), plus bare qiao's
``/plaintext`` (``benchmarks/apps/qiao_*.py``) on the same server as the no-batteries reference.

Before any load, every app is driven through the site with httpx, as a browser would: a session
is started, the form page fetched and its token taken, the form posted (twice, with the same
token), posted without the token and with a bad e-mail address, and a foreign Host sent. The
cookies and token found there go into one wrk Lua script per cell, which sends the same request
every time. Uses benchmarks/.venv and the server and wrk helpers of benchmarks/run.py.

Writes benchmarks/results/batteries.md (and the raw batteries-*.json); with --docs, also the
section between ``<!-- batteries:start -->`` and ``<!-- batteries:end -->`` in
docs/benchmarks.md (added at the end when the markers are missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import run as runner  # the shared helpers: venv, servers, wrk (puts benchmarks/ on sys.path)
from apps.batteries import APPS, SECURITY_HEADERS, TEXT, VALID

RESULTS = runner.RESULTS
DOCS = runner.DOCS
MARK_START, MARK_END = runner.BATTERIES_MARKERS

#: server -> interface; each runs its interface's battery apps plus bare qiao.
SERVERS = {"granian-wsgi": "wsgi", "granian-asgi": "asgi"}
#: bare qiao (no batteries) from benchmarks/apps/, measured on /plaintext as the reference.
REFERENCE = {"wsgi": "qiao_wsgi", "asgi": "qiao_asgi"}
REFERENCE_ENDPOINT = "GET /plaintext (no batteries)"
#: endpoint -> (method, path)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "GET /form": ("GET", "/form"),
    "POST /form": ("POST", "/form"),
    "GET /plain": ("GET", "/plain"),
    REFERENCE_ENDPOINT: ("GET", "/plaintext"),
}
BATTERY_ENDPOINTS = ["GET /form", "POST /form", "GET /plain"]
FRAMEWORKS = ["qiao", "django", "flask"]
NAMES = {"qiao": "qiao", "django": "Django", "flask": "Flask"}
VERSIONED = [
    "qiao",
    "Django",
    "Flask",
    "Werkzeug",
    "Flask-WTF",
    "WTForms",
    "email-validator",
    "Jinja2",
    "MarkupSafe",
    "msgspec",
    "granian",
    "uvloop",
    "httpx",
]
FORM_TYPE = "application/x-www-form-urlencoded"


def log(message: str) -> None:
    runner.log(message)


def fmt_cell(c: dict[str, Any] | None) -> str:
    return runner.cell_text(c, 90)


ratio = runner.speed_ratio


# -- driving the site before the load -------------------------------------------------------------
class Browser:
    """A cookie jar and one-shot httpx requests (no redirects followed, no hidden jar)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        headers = dict(kwargs.pop("headers", {}))
        if self.cookies and "Cookie" not in headers:
            headers["Cookie"] = self.cookie_header
        response = httpx.request(
            method, self.base_url + path, headers=headers, timeout=10, **kwargs
        )
        for set_cookie in response.headers.get_list("set-cookie"):
            name, _, rest = set_cookie.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in set_cookie.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return response


def _token(html: str, field: str) -> str | None:
    for tag in re.findall(r"<input\b[^>]*>", html):
        if f'name="{field}"' in tag and (m := re.search(r'value="([^"]+)"', tag)):
            return m.group(1)
    return None


def _security_problem(response: Any) -> str | None:
    wrong = [
        f"{name}: {response.headers.get(name)!r}"
        for name, value in SECURITY_HEADERS.items()
        if response.headers.get(name) != value
    ]
    return "security headers " + ", ".join(wrong) if wrong else None


def prepare(base_url: str, module: str) -> dict[str, Any]:
    """Drive one battery app through the site; return the cookies, the POST body, what each
    check saw, and per endpoint None (fine) or why it must not be measured."""
    _, _, field, session_cookie = APPS[module]
    browser = Browser(base_url)
    seen: dict[str, str] = {}
    problems: dict[str, str | None] = dict.fromkeys(BATTERY_ENDPOINTS)
    prep: dict[str, Any] = {"seen": seen, "problems": problems}

    def fail(endpoint: str, why: str) -> None:
        problems[endpoint] = problems[endpoint] or why

    def expect(name: str, response: Any, status: int, endpoints: list[str]) -> bool:
        cookies = sorted({c.split("=", 1)[0] for c in response.headers.get_list("set-cookie")})
        seen[name] = str(response.status_code) + (
            f" (sets {', '.join(cookies)})" if cookies else ""
        )
        if response.status_code != status:
            for e in endpoints:
                fail(e, f"{name}: status {response.status_code}, not {status}")
            return False
        return True

    try:
        r = browser.request("GET", "/start")
        if expect("GET /start", r, 200, BATTERY_ENDPOINTS) and session_cookie not in (
            browser.cookies
        ):
            fail("GET /form", f"GET /start set no {session_cookie!r} cookie")
        browser.request("GET", "/form")  # the first page: Flask-WTF puts its secret in the session
        r = browser.request("GET", "/form")
        if expect("GET /form", r, 200, ["GET /form", "POST /form"]):
            html = r.text
            prep["page_bytes"] = len(r.content)
            token = _token(html, field)
            missing = [
                f'name="{n}"' for n in ("name", "email", "message") if f'name="{n}"' not in html
            ]
            if not r.headers.get("content-type", "").startswith("text/html"):
                fail("GET /form", f"content-type {r.headers.get('content-type')!r}")
            if missing or "Visits: 1" not in html:
                fail("GET /form", f"page lacks {missing or 'the visit count'}")
            if token is None:
                fail("GET /form", f"no {field!r} token in the page")
                fail("POST /form", f"no {field!r} token in the page")
            if why := _security_problem(r):
                fail("GET /form", why)
            prep["token"] = token
        if prep.get("token"):
            body = urlencode({field: prep["token"], **VALID})
            posted = {"headers": {"Content-Type": FORM_TYPE}, "content": body}
            for attempt in ("POST /form", "POST /form again"):
                r = browser.request("POST", "/form", **posted)
                if expect(attempt, r, 303, ["POST /form"]) and (
                    not r.headers.get("location", "").endswith("/form")
                ):
                    fail("POST /form", f"redirects to {r.headers.get('location')!r}")
            prep["body"] = body
            r = browser.request(
                "POST", "/form", headers={"Content-Type": FORM_TYPE}, content=urlencode(VALID)
            )
            seen["POST /form without token"] = str(r.status_code)
            if r.status_code not in (400, 403):
                fail("POST /form", f"accepted a POST without token ({r.status_code})")
            bad = urlencode({field: prep["token"], **VALID, "email": "not-an-address"})
            r = browser.request("POST", "/form", headers={"Content-Type": FORM_TYPE}, content=bad)
            expect("POST /form bad e-mail", r, 422, ["POST /form"])
        r = browser.request("GET", "/plain")
        if expect("GET /plain", r, 200, ["GET /plain"]):
            if r.text != TEXT or not r.headers.get("content-type", "").startswith("text/plain"):
                fail("GET /plain", f"body {r.text[:40]!r} ({r.headers.get('content-type')})")
            if why := _security_problem(r):
                fail("GET /plain", why)
        r = browser.request("GET", "/plain", headers={"Host": "evil.example"})
        seen["foreign Host"] = str(r.status_code)
        if r.status_code != 400:
            for e in BATTERY_ENDPOINTS:
                fail(e, f"served a foreign Host ({r.status_code})")
    except Exception as exc:  # a check that crashed: mark every cell, keep the run going
        for e in BATTERY_ENDPOINTS:
            fail(e, f"{type(exc).__name__}: {exc}"[:160])
    prep["cookie"] = browser.cookie_header
    prep["cookie_names"] = sorted(browser.cookies)
    return prep


def check_reference(base_url: str) -> str | None:
    import httpx

    try:
        r = httpx.get(base_url + "/plaintext", timeout=10)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if r.status_code != 200 or r.text != TEXT:
        return f"status {r.status_code}, body {r.text[:40]!r}"
    return None


# -- wrk scripts ----------------------------------------------------------------------------------
def lua_string(value: str) -> str:
    for level in range(8):
        close = "]" + "=" * level + "]"
        if close not in value:
            return "[" + "=" * level + "[" + value + close
    raise ValueError("no Lua long bracket fits")


def write_script(name: str, method: str, cookie: str | None, body: str | None) -> str:
    """A wrk script that sends the same request every time (wrk builds it once)."""
    lines = [f'wrk.method = "{method}"']
    if cookie:
        lines.append(f'wrk.headers["Cookie"] = {lua_string(cookie)}')
    if body is not None:
        lines.append(f'wrk.headers["Content-Type"] = "{FORM_TYPE}"')
        lines.append(f"wrk.body = {lua_string(body)}")
    path = RESULTS / "lua" / f"{name}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def write_warmup(name: str, cookie: str, body: str | None) -> str:
    """A wrk script cycling through the three endpoints."""
    headers = f"{{Cookie = {lua_string(cookie)}}}"
    post_headers = f'{{Cookie = {lua_string(cookie)}, ["Content-Type"] = "{FORM_TYPE}"}}'
    requests = [f'wrk.format("GET", "/form", {headers})', f'wrk.format("GET", "/plain", {headers})']
    if body is not None:
        requests.append(f'wrk.format("POST", "/form", {post_headers}, {lua_string(body)})')
    path = RESULTS / "lua" / f"{name}-warmup.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "local requests = {}\ninit = function()\n"
        + "".join(f"  requests[{i + 1}] = {r}\n" for i, r in enumerate(requests))
        + "end\nlocal i = 0\nrequest = function()\n  i = i + 1\n"
        "  return requests[(i % #requests) + 1]\nend\n"
    )
    return str(path)


def measure(srv: runner.Server, url: str, script: str | None, args: argparse.Namespace):
    """One wrk run, with the CPU share the server and wrk got during it (see run.measure)."""
    server_cpu, wrk_cpu = srv.cpu_seconds(), runner._children_cpu()
    start = time.perf_counter()
    result = runner.run_wrk(url, args, args.duration, script)
    wall = max(time.perf_counter() - start, 1e-9)
    result["server_cpu"] = (srv.cpu_seconds() - server_cpu) / args.duration
    result["wrk_cpu"] = (runner._children_cpu() - wrk_cpu) / wall
    return result


# -- the run --------------------------------------------------------------------------------------
def modules_for(interface: str) -> list[str]:
    return [m for m, (_, iface, _, _) in APPS.items() if iface == interface]


def run_server(server: str, args: argparse.Namespace) -> dict[str, Any]:
    interface = SERVERS[server]
    modules = [*modules_for(interface), REFERENCE[interface]]
    log(f"{server}: starting {', '.join(modules)} (all pinned to CPU {args.server_cpu})")
    block: dict[str, Any] = {}
    running: dict[str, runner.Server] = {}
    port = args.port
    try:
        for module in modules:
            port = runner.free_port(port)
            running[module] = runner.Server(server, module, port, args)
            port += 1
        scripts: dict[tuple[str, str], str | None] = {}
        for module, srv in running.items():
            reference = module == REFERENCE[interface]
            entry = block[module] = {
                "framework": "qiao" if reference else APPS[module][0],
                "reference": reference,
                "command": srv.command,
                "runs": {},
            }
            problem = srv.wait_ready()
            name = f"{server}-{module.replace('.', '-')}"
            if reference:
                why = problem or check_reference(srv.url)
                entry["check"] = {REFERENCE_ENDPOINT: why}
                entry["runs"][REFERENCE_ENDPOINT] = []
                scripts[module, REFERENCE_ENDPOINT] = None
                entry["warmup"] = None
            else:
                prep = {"problems": dict.fromkeys(BATTERY_ENDPOINTS, problem)}
                if problem is None:
                    prep = prepare(srv.url, module)
                entry["prepare"] = {k: v for k, v in prep.items() if k != "problems"}
                entry["check"] = prep["problems"]
                for endpoint in BATTERY_ENDPOINTS:
                    entry["runs"][endpoint] = []
                    method = ENDPOINTS[endpoint][0]
                    body = prep.get("body") if method == "POST" else None
                    slug = endpoint.replace(" /", "-").lower()
                    scripts[module, endpoint] = write_script(
                        f"{name}-{slug}", method, prep.get("cookie"), body
                    )
                entry["warmup"] = (
                    write_warmup(name, prep["cookie"], prep.get("body"))
                    if prep.get("cookie")
                    else None
                )
            for endpoint, why in entry["check"].items():
                if why:
                    log(f"  {module} {endpoint}: CHECK FAILED ({why}); the cell will be marked")
            if not reference:
                seen = "; ".join(f"{k} {v}" for k, v in entry["prepare"]["seen"].items())
                log(f"  {module}: {seen}")
        for module, srv in running.items():
            entry = block[module]
            ok = [e for e, why in entry["check"].items() if not why]
            if ok and args.warmup > 0:
                path = ENDPOINTS[ok[0]][1]
                runner.run_wrk(srv.url + path, args, args.warmup, entry["warmup"])
        for endpoint in ENDPOINTS:
            for run in range(args.runs):
                for module, srv in running.items():
                    entry = block[module]
                    if endpoint not in entry["check"] or entry["check"][endpoint]:
                        continue
                    if not srv.alive():
                        entry["check"][endpoint] = f"server died ({srv.proc.returncode})"
                        continue
                    url = srv.url + ENDPOINTS[endpoint][1]
                    result = measure(srv, url, scripts[module, endpoint], args)
                    entry["runs"][endpoint].append(result)
                    label = f"{server} {endpoint:10}"
                    log(runner.run_line(label, run, args.runs, module, result))
        runner.record_servers(running, block)
    finally:
        runner.stop_servers(running, block)
    return block


# -- the report -----------------------------------------------------------------------------------
def summarise(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """server -> framework (or "reference") -> endpoint -> cell (see run.cell)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for server, block in results["http"].items():
        rows: dict[str, dict[str, Any]] = {}
        for entry in block.values():
            key = "reference" if entry["reference"] else entry["framework"]
            rows[key] = {e: runner.cell(entry, e) for e in entry["runs"]}
        out[server] = rows
    return out


def cpu_ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    """Like ``ratio``, on req/s per second of server CPU (takes out CPU lost to other jobs)."""
    if not a or not b or a["status"] != "ok" or b["status"] != "ok":
        return "–"
    if not a.get("per_cpu") or not b.get("per_cpu"):
        return "–"
    return f"{a['per_cpu'] / b['per_cpu']:.2f}"


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    cfg = meta["config"]
    summary = summarise(results)
    out: list[str] = []
    w = out.append
    w("## Batteries installed\n")
    w(
        "Generated by `benchmarks/batteries.py`; do not edit by hand. The same small site in "
        "qiao, Django and Flask, each with host checking, security headers, signed-cookie "
        "sessions, CSRF protection, a three-field form (name: text, at most 50; email; "
        "message: text, at most 500) and a template, side by side on one server "
        "(method: `shared/BENCHMARKS.md`).\n"
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
        "brackets). Ratios are qiao req/s ÷ the peer's: above 1.00, qiao is faster. "
        "Flask is WSGI-only.\n"
    )
    w("| server | endpoint | qiao | Django | Flask | qiao ÷ Django | qiao ÷ Flask |")
    w("|---|---|---|---|---|---|---|")
    for server, rows in summary.items():
        for endpoint in BATTERY_ENDPOINTS:
            cells = {f: rows.get(f, {}).get(endpoint) for f in FRAMEWORKS}
            q = cells["qiao"]
            w(
                f"| {server} | {endpoint} | "
                + " | ".join(fmt_cell(cells[f]) for f in FRAMEWORKS)
                + f" | {ratio(q, cells['django'])} | {ratio(q, cells['flask'])} |"
            )
        ref = rows.get("reference", {}).get(REFERENCE_ENDPOINT)
        w(f"| {server} | GET /plaintext, qiao without batteries | {fmt_cell(ref)} | | | | |")
    w("")

    w("### What the batteries cost qiao\n")
    w(
        "Each battery endpoint's req/s ÷ bare qiao's `/plaintext` req/s on the same server "
        "(`benchmarks/apps/qiao_wsgi.py` / `qiao_asgi.py`: no batteries, a sync or async view "
        "returning the same text). `GET /plain` is the batteries' own cost on a trivial view; "
        "the form endpoints add a template, a form and the CSRF token. In brackets: the same "
        "ratio per second of server CPU (each run's req/s ÷ the share of its core the server "
        "used), which takes out CPU lost to other jobs and idle time waiting on wrk.\n"
    )
    w(
        "| server | bare qiao, /plaintext | "
        + " | ".join(f"{e} ÷ bare" for e in BATTERY_ENDPOINTS)
        + " |"
    )
    w("|---|---|---|---|---|")
    for server, rows in summary.items():
        ref = rows.get("reference", {}).get(REFERENCE_ENDPOINT)
        q = rows.get("qiao", {})
        w(
            f"| {server} | {fmt_cell(ref)} | "
            + " | ".join(
                f"{ratio(q.get(e), ref)} ({cpu_ratio(q.get(e), ref)})" for e in BATTERY_ENDPOINTS
            )
            + " |"
        )
    w("")

    w("### Checks before the load\n")
    w(
        "What each app answered when driven through the site with httpx before any load "
        "(status, and the cookies it set). A failed check marks the cell ✗ instead of quoting "
        "it.\n"
    )
    checks: list[str] = []
    for block in results["http"].values():
        for entry in block.values():
            for name in entry.get("prepare", {}).get("seen", {}):
                if name not in checks:
                    checks.append(name)
    w("| server | app | " + " | ".join(checks) + " | form page | cookies sent by wrk |")
    w("|---" * (len(checks) + 4) + "|")
    for server, block in results["http"].items():
        for module, entry in block.items():
            prep = entry.get("prepare")
            if prep is None:
                continue
            seen = prep.get("seen", {})
            size = f"{prep['page_bytes']:,} B" if prep.get("page_bytes") else "–"
            w(
                f"| {server} | {module} | "
                + " | ".join(seen.get(c, "–") for c in checks)
                + f" | {size} | {', '.join(prep.get('cookie_names', [])) or '–'} |"
            )
    w("")

    w("### Raw cells\n")
    w(
        "Median req/s (median p99), ±half the range of the runs as a share of the median, and "
        "the median CPU share of the server / of wrk (a server well below 100% lost its core "
        "to other jobs or waited on wrk). RSS: the server's process tree after its runs.\n"
    )
    all_endpoints = [*BATTERY_ENDPOINTS, REFERENCE_ENDPOINT]
    w("| server | app | " + " | ".join(all_endpoints) + " | RSS |")
    w("|---" * (len(all_endpoints) + 3) + "|")
    for server, block in results["http"].items():
        for module, entry in block.items():
            cells = []
            for e in all_endpoints:
                if e not in entry["runs"]:
                    cells.append("")
                    continue
                c = runner.cell(entry, e)
                text = fmt_cell(c)
                if c["status"] == "ok":
                    if c["n"] > 1:
                        text += f" ±{(c['max'] - c['min']) / c['rps'] * 50:.0f}%"
                    if c.get("cpu") is not None:
                        text += f"; cpu {c['cpu']:.0%}/{c['wrk_cpu']:.0%}"
                cells.append(text)
            rss = entry.get("rss_kib")
            rss_text = f"{rss / 1024:.0f} MiB" if rss else "?"
            w(f"| {server} | {module} | " + " | ".join(cells) + f" | {rss_text} |")
    w("")

    w("### How it was measured\n")
    w(
        "- Apps: `benchmarks/apps/batteries/`. **qiao**: `AllowedHosts`, `SecurityHeaders`, "
        "`Sessions` (signed-cookie store), `CSRF`, `Templates`, installed as "
        "`examples/demo/app.py` does (its `Compression` and `Static` are left out: neither "
        "peer has them here, and wrk sends no `Accept-Encoding`); a `qiao.forms.Form`; "
        "`{% csrf_token %}` and `{{ form.as_div() }}` in a Jinja2 template. **Django**: "
        "`SecurityMiddleware`, `SessionMiddleware` (`signed_cookies` backend), "
        "`CommonMiddleware`, `CsrfViewMiddleware`, `XFrameOptionsMiddleware` (qiao sends "
        "`X-Frame-Options` too), `ALLOWED_HOSTS`, `USE_I18N = False`; a `forms.Form`; "
        "`{% csrf_token %}` and `{{ form.as_div }}` in a Django template. **Flask**: "
        "Flask-WTF's `CSRFProtect` (its secret in Flask's signed-cookie session), a "
        "`FlaskForm` (WTForms' `Email()` validator uses email-validator), `TRUSTED_HOSTS`, an "
        "`after_request` hook setting the four headers; the fields rendered in a loop in a "
        "Jinja2 template."
    )
    w(
        "- Endpoints: `GET /form` renders the form with a fresh masked (qiao, Django) or "
        "signed (Flask-WTF) CSRF token and reads a visit counter from the session; "
        "`POST /form` sends the token and valid data, is CSRF-checked and validated, and "
        "answers 303 to `/form` (not followed); `GET /plain` answers `Hello, World!` through "
        "the whole stack. No request writes the session. Every request carries the cookies a "
        "browser would have after `GET /start` (sets the visit counter) and two `GET /form`."
    )
    w(
        "- Same four response headers from every app (checked): "
        + ", ".join(f"`{k}: {val}`" for k, val in SECURITY_HEADERS.items())
        + "."
    )
    w(
        f"- Servers: one worker each, pinned to CPU {cfg['server_cpu']}; wrk pinned to CPU "
        f"{cfg['wrk_cpu']}. All apps of one server run at once on their own ports (idle ones "
        "sleep). Commands (`APP` = `apps.<module>:app`, run from `benchmarks/`):"
    )
    for server, block in results["http"].items():
        entry = next(iter(block.values()), None)
        if entry:
            command = " ".join(entry["command"][3:])
            command = re.sub(r"apps\.[\w.]+:app", "APP", command)
            command = command.replace(str(runner.VENV_BIN) + "/", "")
            command = re.sub(r"--port \d+", "--port PORT", command)
            threads = runner.SERVERS[server]["threads"].format(**cfg)
            w(f"  - {server} ({threads}): `taskset -c {cfg['server_cpu']} {command}`")
    w(
        f"- Warm-up: {cfg['warmup']:g} s of wrk per app cycling through its endpoints. "
        f"Measured: `taskset -c {cfg['wrk_cpu']} wrk -t1 -c{cfg['connections']} "
        f"-d{cfg['duration']:g}s --latency -s SCRIPT URL`, where SCRIPT (written to "
        "`benchmarks/results/lua/`) sets the method, the `Cookie` header and, for the POST, "
        "the body; the apps of one server take turns per run (A B C … A B C …)."
    )
    w("")

    w("### Notes\n")
    notes = []
    for server, block in results["http"].items():
        for module, entry in block.items():
            for e in entry["runs"]:
                c = runner.cell(entry, e)
                if c["status"] not in ("ok", "not run"):
                    notes.append(f"{server} / {module} / {e}: {c['status']}")
            notes += runner.server_notes(f"{server} / {module}", entry)
    notes += [
        "The machine has 2 cores shared with other work: absolute req/s move between runs; "
        "the ratios, from interleaved runs, are the numbers to compare. Differences under ~5% "
        "are noise.",
        "The POST carries no `Origin` header, so every framework takes its token path (qiao "
        "and Django unmask and compare the token with the cookie's secret; Flask-WTF checks "
        "the token's signature and age and compares it with the session's secret). Flask-WTF "
        "tokens expire after `WTF_CSRF_TIME_LIMIT` (an hour), so one token serves a whole run.",
        "qiao and Django send their CSRF cookie again on each `GET /form` (renewing its "
        "expiry); qiao also on each checked POST. Flask opens its session on every request; "
        "qiao and Django only when a view reads it.",
        "Django under ASGI runs its middleware in async mode around `async def` views, and "
        "`MiddlewareMixin` calls each sync `process_request`/`process_response` through "
        "asgiref's `sync_to_async`: a hop to a worker thread and back per hook. Its ASGI "
        "cells measure that adapter more than its batteries (it is slow even at one "
        "connection); compare Django under WSGI. qiao's ASGI app has `async def` views too "
        "and reads the POST with `await request.aform()`.",
        "The bare-qiao reference is the fastest cell, so wrk (one thread, on the other core) "
        "is most likely to limit it; its per-CPU ratio is the steadier one.",
    ]
    for note in notes:
        w(f"- {note}")
    w("")
    return "\n".join(out)


def write_report(results: dict[str, Any], docs: bool) -> None:
    runner.write_section("batteries", render(results), docs, MARK_START, MARK_END)


# -- main -----------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="qiao with its batteries against Django and Flask.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    runner.add_run_options(parser, port=18300)
    parser.add_argument("--servers", help=f"comma-separated, from: {', '.join(SERVERS)}")
    parser.add_argument(
        "--wsgi-threads", type=int, default=8, help="granian --blocking-threads for WSGI (8)"
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
    servers = runner.split(args.servers, list(SERVERS), "server") or list(SERVERS)
    runner.wrk_path()
    RESULTS.mkdir(exist_ok=True)
    cells = sum(len(modules_for(SERVERS[s])) * len(BATTERY_ENDPOINTS) + 1 for s in servers)
    log(
        f"{cells} cells x {args.runs} run(s) x {args.duration:g} s "
        f"≈ {cells * args.runs * (args.duration + 0.3) / 60:.0f} min plus set-up"
    )
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            **runner.run_meta(
                "batteries.py",
                argv,
                bool(args.quick or args.servers or args.runs < 3 or args.duration < 8),
                VERSIONED,
            ),
            "config": {
                "duration": args.duration,
                "runs": args.runs,
                "warmup": args.warmup,
                "connections": args.connections,
                "wsgi_threads": args.wsgi_threads,
                "server_cpu": args.server_cpu,
                "wrk_cpu": args.wrk_cpu,
            },
        },
        "http": {},
    }
    for server in servers:
        results["http"][server] = run_server(server, args)
    results["meta"]["load_end"] = runner.loadavg()
    results["meta"]["qiao_git_end"] = runner.git_describe()
    results["meta"]["elapsed_min"] = (time.monotonic() - started) / 60
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = RESULTS / f"batteries-{stamp}.json"
    raw.write_text(json.dumps(results, indent=1))
    (RESULTS / "batteries-latest.json").write_text(json.dumps(results, indent=1))
    log(f"raw results: {raw}")
    write_report(results, args.docs)


if __name__ == "__main__":
    main()
