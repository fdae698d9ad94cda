"""BlackSheep (ASGI), ``async def`` handlers."""

from blacksheep import Application, json, text

from apps import MESSAGE, TEXT, route_prefixes

app = Application()


async def plaintext():
    return text(TEXT)


async def json_view():
    return json(MESSAGE)


def _make_route(index):
    async def view(id: int):
        return text(TEXT)

    view.__name__ = f"route_{index}"
    return view


app.router.add_get("/plaintext", plaintext)
app.router.add_get("/json", json_view)
for _i, _prefix in enumerate(route_prefixes()):
    app.router.add_get(f"/{_prefix}/{{int:id}}", _make_route(_i))
