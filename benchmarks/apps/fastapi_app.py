"""FastAPI (ASGI), ``async def`` endpoints; the JSON endpoint returns a dict (FastAPI's default
JSONResponse); the docs routes are off."""

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from apps import MESSAGE, TEXT, route_prefixes

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return PlainTextResponse(TEXT)


@app.get("/json")
async def json():
    return MESSAGE


def _make_route(index):
    async def view(id: int):
        return PlainTextResponse(TEXT)

    view.__name__ = f"route_{index}"
    return view


for _i, _prefix in enumerate(route_prefixes()):
    app.add_api_route(
        f"/{_prefix}/{{id}}", _make_route(_i), methods=["GET"], response_class=PlainTextResponse
    )
