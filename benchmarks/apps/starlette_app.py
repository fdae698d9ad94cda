"""Starlette (ASGI), ``async def`` endpoints."""

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from apps import MESSAGE, TEXT, route_prefixes


async def plaintext(request):
    return PlainTextResponse(TEXT)


async def json(request):
    return JSONResponse(MESSAGE)


def _make_route(index):
    async def view(request):
        return PlainTextResponse(TEXT)

    view.__name__ = f"route_{index}"
    return view


app = Starlette(
    routes=[Route("/plaintext", plaintext), Route("/json", json)]
    + [
        Route(f"/{prefix}/{{id:int}}", _make_route(i), name=prefix)
        for i, prefix in enumerate(route_prefixes())
    ]
)
