"""Falcon (ASGI): one resource instance per route, ``async def`` responders."""

import falcon
import falcon.asgi

from apps import MESSAGE, TEXT, route_prefixes


class PlainText:
    async def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = TEXT


class JSON:
    async def on_get(self, req, resp):
        resp.media = MESSAGE


class Route:
    async def on_get(self, req, resp, id):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = TEXT


app = falcon.asgi.App()
app.add_route("/plaintext", PlainText())
app.add_route("/json", JSON())
for _prefix in route_prefixes():
    app.add_route(f"/{_prefix}/{{id:int}}", Route())
