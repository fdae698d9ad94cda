"""The Django site: the same request path as qiao's batteries.

Middleware: SecurityMiddleware (nosniff, Referrer-Policy, Cross-Origin-Opener-Policy; no HSTS
over HTTP), SessionMiddleware with the ``signed_cookies`` backend, CommonMiddleware,
CsrfViewMiddleware, and XFrameOptionsMiddleware (qiao's SecurityHeaders sends X-Frame-Options
too, so Django must do that work as well). ``ALLOWED_HOSTS`` is checked on every request (by
CommonMiddleware's ``request.get_host()``). No database, no auth, no messages; ``USE_I18N`` is
off, since qiao translates nothing (this spares Django some work).
"""

import django
from django import forms
from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from apps.batteries import ALLOWED_HOSTS, SECRET_KEY, SECURITY_HEADERS, TEMPLATES, TEXT


def configure(urlconf: str) -> None:
    """``settings.configure`` and ``django.setup()``, with ``urlconf`` as ROOT_URLCONF."""
    settings.configure(
        DEBUG=False,
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS=ALLOWED_HOSTS,
        ROOT_URLCONF=urlconf,
        INSTALLED_APPS=["django.contrib.sessions"],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        SECURE_CONTENT_TYPE_NOSNIFF=True,
        SECURE_REFERRER_POLICY=SECURITY_HEADERS["Referrer-Policy"],
        SECURE_CROSS_ORIGIN_OPENER_POLICY=SECURITY_HEADERS["Cross-Origin-Opener-Policy"],
        X_FRAME_OPTIONS=SECURITY_HEADERS["X-Frame-Options"],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(TEMPLATES / "django")],
                "APP_DIRS": False,
                "OPTIONS": {"context_processors": []},  # {% csrf_token %} needs none
            }
        ],
        DATABASES={},
        USE_I18N=False,
        USE_TZ=True,
        TIME_ZONE="UTC",
    )
    django.setup()


class ContactForm(forms.Form):
    name = forms.CharField(max_length=50)
    email = forms.EmailField()
    message = forms.CharField(max_length=500, widget=forms.Textarea)


def see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def page(request, form, status=200):
    visits = request.session.get("visits", 0)
    return render(request, "form.html", {"form": form, "visits": visits}, status=status)


def form_view(request):
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            return see_other("/form")
        return page(request, form, 422)
    return page(request, ContactForm())


def start(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    return HttpResponse(TEXT, content_type="text/plain")


def plain(request):
    return HttpResponse(TEXT, content_type="text/plain")
