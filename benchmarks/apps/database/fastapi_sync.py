"""FastAPI, plain ``def`` endpoints on a sync ``Session`` (run in AnyIO's thread pool), for an
ASGI server."""

from apps.database.fastapi_site import build_sync

app = build_sync()
