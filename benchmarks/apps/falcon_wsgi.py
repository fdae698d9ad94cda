"""Falcon (WSGI): one resource instance per route."""

import falcon

from apps import MESSAGE, TEXT, route_prefixes


class PlainText:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = TEXT


class JSON:
    def on_get(self, req, resp):
        resp.media = MESSAGE


class Route:
    def on_get(self, req, resp, id):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = TEXT


app = falcon.App()
app.add_route("/plaintext", PlainText())
app.add_route("/json", JSON())
for _prefix in route_prefixes():
    app.add_route(f"/{_prefix}/{{id:int}}", Route())
