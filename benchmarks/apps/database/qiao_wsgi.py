"""qiao, plain ``def`` views on ``request.db`` (a sync Session), for a WSGI server."""

from apps.database.qiao_site import build

app = build(asynchronous=False)
