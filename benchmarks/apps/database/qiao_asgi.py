"""qiao, ``async def`` views on ``request.adb`` (an AsyncSession), for an ASGI server."""

from apps.database.qiao_site import build

app = build(asynchronous=True)
