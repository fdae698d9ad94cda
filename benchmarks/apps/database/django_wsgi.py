"""Django's ORM with plain ``def`` views, for a WSGI server.

No middleware (none of these views needs one), views limited to GET as qiao's and FastAPI's
are, ``ALLOWED_HOSTS`` checked, DEBUG off, ``USE_I18N`` off (qiao and FastAPI translate
nothing). Each server thread keeps its own database connection for the life of the process
(``CONN_MAX_AGE = None``), so the server's thread count is Django's pool size; no health checks
(``CONN_HEALTH_CHECKS`` off, as the SQLAlchemy apps run without pre-ping). Queries run in
autocommit mode, Django's default (no ``ATOMIC_REQUESTS``). JSON through ``JsonResponse`` (the
stdlib encoder), fortunes through a Django template (autoescaping on).
"""

import django
from django.conf import settings

from apps.database import TEMPLATES, django_database

settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmark-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["apps.database.django_world"],
    MIDDLEWARE=[],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(TEMPLATES)],
            "APP_DIRS": False,
            "OPTIONS": {"context_processors": []},
        }
    ],
    DATABASES={"default": django_database()},
    USE_I18N=False,
    USE_TZ=True,
    TIME_ZONE="UTC",
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from operator import attrgetter  # noqa: E402 - after settings.configure()
from random import randint, sample  # noqa: E402

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_GET  # noqa: E402

from apps.database import ADDITIONAL_FORTUNE, WORLD_ROWS, queries_param  # noqa: E402
from apps.database.django_world.models import Fortune, World  # noqa: E402

by_message = attrgetter("message")
IDS = range(1, WORLD_ROWS + 1)


def db(request):
    world = World.objects.get(id=randint(1, WORLD_ROWS))
    return JsonResponse({"id": world.id, "randomNumber": world.randomnumber})


def queries(request):
    get = World.objects.get
    worlds = []
    for id in sample(IDS, queries_param(request.GET.get("queries"))):
        world = get(id=id)
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    return JsonResponse(worlds, safe=False)


def fortunes(request):
    rows = list(Fortune.objects.all())
    rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
    rows.sort(key=by_message)
    return render(request, "fortunes.html", {"fortunes": rows})


urlpatterns = [
    path("db", require_GET(db)),
    path("queries", require_GET(queries)),
    path("fortunes", require_GET(fortunes)),
]

app = get_wsgi_application()
