"""qiao's demo app: both routing styles, a blueprint, templates, a CSRF-protected form with a
session-backed flash message, a database with migrations, users (sign-up, login, logout, a page
only staff can see), uploads, JSON, streaming, files, and the security batteries.

Run it with ``./scripts/demo`` (or ``qiao run --app examples.demo.app:app``), then open
http://127.0.0.1:8000. The same object serves every server:

    gunicorn examples.demo.app:app            # WSGI
    uvicorn examples.demo.app:app             # ASGI
    granian --interface wsgi examples.demo.app:app
    granian --interface asgi examples.demo.app:app
"""

from __future__ import annotations

import collections
import os
import time

import qiao
from qiao import forms
from qiao.auth import Auth, staff_required
from qiao.compression import Compression
from qiao.csrf import CSRF
from qiao.db import Database
from qiao.mail import Mail
from qiao.security import AllowedHosts, SecurityHeaders
from qiao.sessions import Sessions, flash
from qiao.static import Static
from qiao.templating import Templates, render

from . import urls
from .blog import bp as blog

app = qiao.App(__name__)
app.config.from_mapping(
    DEBUG=True,
    SECRET_KEY="demo-only-not-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
    # SQLite next to this file; QIAO_DATABASE_URL=postgresql://user@host/db for PostgreSQL.
    DATABASE_URL="sqlite:///instance/demo.db",
    AUTH_ALLOW_SIGNUP=True,  # /accounts/signup/
)
app.config.from_env()  # QIAO_DEBUG=false QIAO_SECRET_KEY=... override the demo defaults

# The batteries, in the order they wrap each request (see docs/extensions.md).
AllowedHosts(app)  # ALLOWED_HOSTS; with DEBUG on and none listed: localhost only
SecurityHeaders(app)
Compression(app)
Sessions(app)  # signed-cookie sessions; SESSION_STORE="redis://..." to share them
CSRF(app)
Templates(app)
Static(app)
db = Database(app)  # tables come from migrations/: qiao db migrate (./scripts/demo runs it)
Mail(app)  # password-reset e-mails are printed on the console
Auth(app)  # users, /accounts/login/, /accounts/signup/, permissions

app.add_urls(urls.urlpatterns, prefix="/")
app.register_blueprint(blog)


class GuestbookForm(forms.Form):
    name = forms.CharField(max_length=50)
    message = forms.CharField(max_length=500, widget=forms.Textarea())


#: The guestbook lives in memory (newest first): enough for a demo, gone on restart.
ENTRIES: collections.deque[dict[str, str]] = collections.deque(maxlen=50)


@app.after_request
def timing_header(request: qiao.Request, response: qiao.Response) -> qiao.Response:
    started = getattr(request.state, "t0", None)  # None when a battery answered first
    if started is not None:
        response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1e3:.2f}"
    return response


@app.before_request
def start_timer(request: qiao.Request) -> None:
    request.state.t0 = time.perf_counter()


@app.get("/")
def home(request: qiao.Request) -> qiao.Response:
    return render(request, "home.html", message="One app object, every server.")


@app.route("/guestbook", methods=["GET", "POST"])
def guestbook(request: qiao.Request) -> qiao.Response:
    form = GuestbookForm(request.form() if request.method == "POST" else None)
    if form.is_valid():
        ENTRIES.appendleft(form.cleaned_data)
        flash(request, f"Thanks, {form.cleaned_data['name']}!", "success")
        return qiao.redirect(request.url_for("guestbook"), 303)
    status = 422 if form.is_bound else 200
    return render(request, "guestbook.html", status=status, form=form, entries=ENTRIES)


@app.get("/staff")
@staff_required
def staff_only(request: qiao.Request) -> qiao.Response:
    return render(request, "staff.html")


@app.get("/hello/<name>")
async def hello(request: qiao.Request, name: str) -> dict[str, str]:
    return {"hello": name, "url": app.url_for("hello", name=name)}


@app.post("/upload")
def upload(request: qiao.Request) -> dict[str, object]:
    form = request.form()
    file = form.files.get("file")
    return {
        "note": form.get("note", ""),
        "file": None if file is None else {"name": file.filename, "size": file.size},
    }


@app.get("/source", name="source")
def source(request: qiao.Request) -> qiao.FileResponse:
    return qiao.FileResponse(os.path.abspath(__file__), content_type="text/plain; charset=utf-8")


@app.errorhandler(404)
def not_found(request: qiao.Request, exc: qiao.HTTPException) -> qiao.Response:
    if "text/html" in request.headers.get("accept", ""):
        return qiao.HTMLResponse(f"<h1>Not here</h1><p>{exc.detail}</p>", 404)
    return qiao.JSONResponse({"status": 404, "detail": exc.detail}, 404)
