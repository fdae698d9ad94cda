"""qiao's demo app: both routing styles, a blueprint, forms, uploads, JSON, streaming, files.

Run it with ``./scripts/demo`` (or ``qiao run --app examples.demo.app:app``), then open
http://127.0.0.1:8000. The same object serves every server:

    gunicorn examples.demo.app:app            # WSGI
    uvicorn examples.demo.app:app             # ASGI
    granian --interface wsgi examples.demo.app:app
    granian --interface asgi examples.demo.app:app
"""

from __future__ import annotations

import os
import time

import qiao

from . import urls
from .blog import bp as blog

app = qiao.App(__name__)
app.config.from_mapping(DEBUG=True, SECRET_KEY="demo-only-not-secret")
app.config.from_env()  # QIAO_DEBUG=false QIAO_SECRET_KEY=... override the demo defaults

app.add_urls(urls.urlpatterns, prefix="/")
app.register_blueprint(blog)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>qiao demo</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}}
</style></head><body><h1>qiao 桥</h1><p>{message}</p>
<ul>
<li><a href="/hello/world">/hello/world</a> (decorator route, JSON)</li>
<li><a href="/articles/2024/">/articles/2024/</a> (URLconf route)</li>
<li><a href="/blog/">/blog/</a> (blueprint)</li>
<li><a href="/blog/feed">/blog/feed</a> (streaming)</li>
<li><a href="/source">/source</a> (file with ETag and ranges)</li>
</ul>
<form method="post" action="/upload" enctype="multipart/form-data">
<input name="note" placeholder="a note"> <input type="file" name="file">
<button>Upload</button></form></body></html>"""


@app.after_request
def timing_header(request: qiao.Request, response: qiao.Response) -> qiao.Response:
    response.headers["server-timing"] = (
        f"app;dur={(time.perf_counter() - request.state.t0) * 1e3:.2f}"
    )
    return response


@app.before_request
def start_timer(request: qiao.Request) -> None:
    request.state.t0 = time.perf_counter()


@app.get("/")
def home(request: qiao.Request) -> str:
    return PAGE.format(message="One app object, every server.")


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


@app.get("/source")
def source(request: qiao.Request) -> qiao.FileResponse:
    return qiao.FileResponse(os.path.abspath(__file__), content_type="text/plain; charset=utf-8")


@app.errorhandler(404)
def not_found(request: qiao.Request, exc: qiao.HTTPException) -> qiao.Response:
    if "text/html" in request.headers.get("accept", ""):
        return qiao.HTMLResponse(f"<h1>Not here</h1><p>{exc.detail}</p>", 404)
    return qiao.JSONResponse({"status": 404, "detail": exc.detail}, 404)
