"""qiao with ``async def`` views, served over ASGI (sync views would go to a thread pool there)."""

import qiao
from apps import MESSAGE, TEXT, route_prefixes
from qiao import PlainTextResponse

app = qiao.App(__name__, config={"SECRET_KEY": "benchmark-not-a-secret", "DEBUG": False})


@app.get("/plaintext")
async def plaintext(request):
    return PlainTextResponse(TEXT)


@app.get("/json")
async def json(request):
    return MESSAGE


def _make_route(index):
    async def view(request, id):
        return PlainTextResponse(TEXT)

    view.__name__ = f"route_{index}"
    return view


for _i, _prefix in enumerate(route_prefixes()):
    app.add_route(f"/{_prefix}/<int:id>", _make_route(_i), name=_prefix)
