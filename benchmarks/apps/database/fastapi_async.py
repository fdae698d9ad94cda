"""FastAPI, ``async def`` endpoints on an ``AsyncSession`` (aiosqlite / psycopg 3), for an
ASGI server."""

from apps.database.fastapi_site import build_async

app = build_async()
