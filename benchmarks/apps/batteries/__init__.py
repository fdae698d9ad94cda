"""The "batteries installed" benchmark apps (``benchmarks/batteries.py``): one small site in
qiao, Django and Flask, each with host checking, security headers, signed-cookie sessions, CSRF
protection, a three-field form and a template. Endpoints:

- ``GET /start``: set ``visits`` in the session (set-up only, never measured);
- ``GET /form``: render the form with a CSRF token, reading ``visits`` from the session;
- ``POST /form``: check the CSRF token, validate the form, answer 303 to ``/form``
  (422 and the form again when it is invalid);
- ``GET /plain``: ``Hello, World!`` as ``text/plain`` through the whole middleware stack.

Every module exposes ``app`` and builds it at import time. This package is stdlib-only.
"""

from pathlib import Path

TEXT = "Hello, World!"
SECRET_KEY = "benchmark-not-a-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
TEMPLATES = Path(__file__).resolve().parent / "templates"

#: What every app sends on every response (qiao's SecurityHeaders defaults over plain HTTP;
#: HSTS only goes out on HTTPS). Flask sets them in an ``after_request`` hook, Django through
#: SecurityMiddleware and XFrameOptionsMiddleware.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: The form's fields, as the POST body sends them (the CSRF field is added per framework).
VALID = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "message": "The Analytical Engine weaves algebraic patterns just as the Jacquard loom "
    "weaves flowers and leaves.",
}

#: module (under ``apps.``) -> (framework, interface, CSRF field name, session cookie name)
APPS: dict[str, tuple[str, str, str, str]] = {
    "batteries.qiao_wsgi": ("qiao", "wsgi", "csrfmiddlewaretoken", "session"),
    "batteries.django_wsgi": ("django", "wsgi", "csrfmiddlewaretoken", "sessionid"),
    "batteries.flask_app": ("flask", "wsgi", "csrf_token", "session"),
    "batteries.qiao_asgi": ("qiao", "asgi", "csrfmiddlewaretoken", "session"),
    "batteries.django_asgi": ("django", "asgi", "csrfmiddlewaretoken", "sessionid"),
}
