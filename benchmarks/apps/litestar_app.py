"""Litestar (ASGI), ``async def`` handlers; OpenAPI off."""

from litestar import Litestar, MediaType, get

from apps import MESSAGE, TEXT, route_prefixes


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return TEXT


@get("/json")
async def json() -> dict[str, str]:
    return MESSAGE


def _make_route(index, prefix):
    async def view(id: int) -> str:
        return TEXT

    view.__name__ = f"route_{index}"
    return get(f"/{prefix}/{{id:int}}", media_type=MediaType.TEXT, name=prefix)(view)


app = Litestar(
    route_handlers=[plaintext, json]
    + [_make_route(i, prefix) for i, prefix in enumerate(route_prefixes())],
    openapi_config=None,
)
