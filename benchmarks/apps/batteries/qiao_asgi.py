"""qiao with the batteries and ``async def`` views, for an ASGI server."""

from apps.batteries.qiao_site import build

app = build(asynchronous=True)
