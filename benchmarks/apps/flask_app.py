"""Flask (WSGI)."""

from flask import Flask, Response

from apps import MESSAGE, TEXT, route_prefixes

app = Flask(__name__)
app.config["SECRET_KEY"] = "benchmark-not-a-secret"


@app.get("/plaintext")
def plaintext():
    return Response(TEXT, mimetype="text/plain")


@app.get("/json")
def json():
    return MESSAGE


def _make_route(index):
    def view(id):
        return Response(TEXT, mimetype="text/plain")

    view.__name__ = f"route_{index}"
    return view


for _i, _prefix in enumerate(route_prefixes()):
    app.add_url_rule(f"/{_prefix}/<int:id>", _prefix, _make_route(_i), methods=["GET"])
