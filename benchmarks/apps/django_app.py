"""Django (WSGI) with the settings of a fresh ``django-admin startproject``: the same
INSTALLED_APPS and the default MIDDLEWARE stack; DEBUG off. The database is never touched."""

import django
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path

from apps import MESSAGE, TEXT, route_prefixes

settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmark-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [],
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ],
            },
        },
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    LANGUAGE_CODE="en-us",
    TIME_ZONE="UTC",
    USE_I18N=True,
    USE_TZ=True,
    STATIC_URL="static/",
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)


def plaintext(request):
    return HttpResponse(TEXT, content_type="text/plain")


def json(request):
    return JsonResponse(MESSAGE)


def _make_route(index):
    def view(request, id):
        return HttpResponse(TEXT, content_type="text/plain")

    view.__name__ = f"route_{index}"
    return view


urlpatterns = [path("plaintext", plaintext), path("json", json)] + [
    path(f"{prefix}/<int:id>", _make_route(i), name=prefix)
    for i, prefix in enumerate(route_prefixes())
]

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after settings.configure()

app = get_wsgi_application()
