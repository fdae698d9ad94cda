"""Django with the batteries and ``async def`` views, for an ASGI server (Django runs its
sync-and-async middleware in async mode around them)."""

from apps.batteries.django_site import configure

configure(__name__)

from django.core.asgi import get_asgi_application  # noqa: E402 - after configure()
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_GET, require_http_methods  # noqa: E402

from apps.batteries.django_site import form_view, plain, start  # noqa: E402


async def async_form_view(request):
    return form_view(request)


async def async_start(request):
    return start(request)


async def async_plain(request):
    return plain(request)


urlpatterns = [
    path("form", require_http_methods(["GET", "POST"])(async_form_view)),
    path("start", require_GET(async_start)),
    path("plain", require_GET(async_plain)),
]

app = get_asgi_application()
