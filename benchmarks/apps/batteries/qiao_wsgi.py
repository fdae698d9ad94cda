"""qiao with the batteries and plain ``def`` views, for a WSGI server."""

from apps.batteries.qiao_site import build

app = build(asynchronous=False)
