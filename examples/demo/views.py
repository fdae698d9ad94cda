"""Views mounted through the Django-style URLconf in ``urls.py``."""

from __future__ import annotations

from typing import ClassVar

import qiao
from qiao.csrf import csrf_exempt
from qiao.views import View

ARTICLES = {
    2024: ["Bridges of Suzhou", "A year of async"],
    2025: ["WSGI, ASGI and the bridge between"],
}


def year_archive(request: qiao.Request, year: int) -> qiao.Response:
    titles = ARTICLES.get(year)
    if titles is None:
        qiao.abort(404, f"No articles in {year}.")
    items = "".join(f"<li>{title}</li>" for title in titles)
    return qiao.HTMLResponse(f"<h1>Articles of {year}</h1><ul>{items}</ul>")


def legacy_archive(request: qiao.Request, year: str) -> qiao.Response:
    return qiao.redirect(request.url_for("year_archive", year=int(year)), 301)


@csrf_exempt  # a JSON API for scripts: no browser form posts here (see docs/csrf.md)
class ItemView(View):
    """A class-based API view: GET reads, PUT replaces, anything else is a 405."""

    items: ClassVar[dict[int, dict[str, object]]] = {1: {"id": 1, "name": "lantern"}}

    def get(self, request: qiao.Request, id: int) -> dict[str, object]:
        item = self.items.get(id)
        if item is None:
            raise qiao.NotFound(f"No item {id}.")
        return item

    def put(self, request: qiao.Request, id: int) -> dict[str, object]:
        data = request.json()
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise qiao.UnprocessableEntity('Send {"name": "..."}.')
        self.items[id] = {"id": id, "name": data["name"]}
        return self.items[id]
