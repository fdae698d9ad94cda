"""Django with the batteries and plain ``def`` views, for a WSGI server."""

from apps.batteries.django_site import configure

configure(__name__)

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after configure()
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_GET, require_http_methods  # noqa: E402

from apps.batteries.django_site import form_view, plain, start  # noqa: E402

urlpatterns = [
    path("form", require_http_methods(["GET", "POST"])(form_view)),
    path("start", require_GET(start)),
    path("plain", require_GET(plain)),
]

app = get_wsgi_application()
