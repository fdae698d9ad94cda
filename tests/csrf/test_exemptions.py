"""Which requests are checked: methods, ``@csrf_exempt`` / ``@csrf_protect``, blueprints,
``CSRF_PROTECT_ALL`` and stateless API clients.

Mirrors Django's ``test_put_and_delete_rejected``/``_allowed`` and
``test_process_request_csrf_cookie_no_token_exempt_view``.
"""

from __future__ import annotations

import pytest

import qiao
from qiao.csrf import (
    CSRF,
    REASON_BAD_ORIGIN,
    REASON_CROSS_SITE,
    REASON_CSRF_TOKEN_INCORRECT,
    REASON_NO_CSRF_COOKIE,
    csrf_exempt,
    csrf_protect,
)
from tests.csrf._support import (
    MASKED_TEST_SECRET2,
    SAFE_METHODS,
    UNSAFE_METHODS,
    NewApp,
    accepted,
    csrf_app,
    refused,
    send,
    vary,
)
from tests.http._support import Serve


# -- methods --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", SAFE_METHODS)
def test_safe_methods_never_need_a_token(new_app: NewApp, serve: Serve, method: str) -> None:
    client = serve(csrf_app(new_app))
    response = send(
        client,
        method,
        cookie=None,
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert response.status_code == 200
    assert "cookie" not in vary(response)


@pytest.mark.parametrize("method", UNSAFE_METHODS)
def test_unsafe_methods_need_the_cookie_and_the_token(
    new_app: NewApp, serve: Serve, method: str
) -> None:
    client = serve(csrf_app(new_app))
    refused(send(client, method, cookie=None), REASON_NO_CSRF_COOKIE)
    refused(send(client, method, token=64 * "a"), REASON_CSRF_TOKEN_INCORRECT)
    accepted(send(client, method, token=MASKED_TEST_SECRET2))


def test_unusual_methods_are_unsafe(new_app: NewApp, serve: Serve) -> None:
    app = csrf_app(new_app)

    @app.route("/report", methods=["REPORT"])
    def report(request: qiao.Request) -> str:
        return "ok"

    client = serve(app)
    refused(send(client, "REPORT", "/report", cookie=None), REASON_NO_CSRF_COOKIE)
    accepted(send(client, "REPORT", "/report", token=MASKED_TEST_SECRET2))


# -- marks ----------------------------------------------------------------------------------------
def test_csrf_exempt_on_a_function_view(new_app: NewApp, serve: Serve) -> None:
    app = new_app()
    CSRF(app)

    @app.post("/hook")
    @csrf_exempt
    def hook(request: qiao.Request) -> str:
        return "ok"

    @csrf_exempt  # marked after registration: the mark is read per request
    @app.post("/late")
    def late(request: qiao.Request) -> str:
        return "ok"

    client = serve(app)
    accepted(send(client, path="/hook", cookie=None))
    accepted(send(client, path="/late", cookie=None))
    response = send(client, path="/hook", cookie=None, headers={"origin": "https://evil.example"})
    accepted(response)
    assert "cookie" not in vary(response), "an exempt view's answer does not depend on CSRF"


def test_csrf_exempt_on_a_view_class(new_app: NewApp, serve: Serve) -> None:
    app = new_app()
    CSRF(app)

    @csrf_exempt
    class Webhook(qiao.View):
        def post(self, request: qiao.Request) -> str:
            return "ok"

    class Checked(qiao.View):
        def post(self, request: qiao.Request) -> str:
            return "ok"

    app.add_route("/webhook", Webhook)
    app.add_route("/as-view", csrf_exempt(Checked.as_view()), name="as_view")
    app.add_route("/checked", Checked)
    client = serve(app)
    accepted(send(client, path="/webhook", cookie=None))
    accepted(send(client, path="/as-view", cookie=None))
    refused(send(client, path="/checked", cookie=None), REASON_NO_CSRF_COOKIE)


def test_csrf_exempt_on_a_blueprint_and_its_nested_blueprints(
    new_app: NewApp, serve: Serve
) -> None:
    app = new_app()
    CSRF(app)
    api = csrf_exempt(qiao.Blueprint("api", __name__, url_prefix="/api"))
    v1 = qiao.Blueprint("v1", __name__, url_prefix="/v1")
    web = qiao.Blueprint("web", __name__, url_prefix="/web")
    hooks = csrf_exempt(qiao.Blueprint("hooks", __name__, url_prefix="/hooks"))

    for bp in (api, v1, web, hooks):

        @bp.post("/do")
        def do(request: qiao.Request) -> str:
            return "ok"

    api.register_blueprint(v1)
    web.register_blueprint(hooks)
    app.register_blueprint(api)
    app.register_blueprint(web)
    client = serve(app)
    accepted(send(client, path="/api/do", cookie=None))
    accepted(send(client, path="/api/v1/do", cookie=None))  # inherits its parent's mark
    refused(send(client, path="/web/do", cookie=None), REASON_NO_CSRF_COOKIE)
    accepted(send(client, path="/web/hooks/do", cookie=None))  # the innermost mark wins


def test_csrf_protect_inside_an_exempt_blueprint(new_app: NewApp, serve: Serve) -> None:
    app = new_app()
    CSRF(app)
    api = csrf_exempt(qiao.Blueprint("api", __name__, url_prefix="/api"))
    account = csrf_protect(qiao.Blueprint("account", __name__, url_prefix="/account"))

    @api.post("/open")
    def open_(request: qiao.Request) -> str:
        return "ok"

    @api.post("/login")
    @csrf_protect
    def login(request: qiao.Request) -> str:
        return "ok"

    @account.post("/delete")
    def delete(request: qiao.Request) -> str:
        return "ok"

    api.register_blueprint(account)
    app.register_blueprint(api)
    client = serve(app)
    accepted(send(client, path="/api/open", cookie=None))
    refused(send(client, path="/api/login", cookie=None), REASON_NO_CSRF_COOKIE)
    refused(send(client, path="/api/account/delete", cookie=None), REASON_NO_CSRF_COOKIE)
    accepted(send(client, path="/api/login", token=MASKED_TEST_SECRET2))


def test_protect_all_off_checks_only_marked_views(new_app: NewApp, serve: Serve) -> None:
    app = new_app(CSRF_PROTECT_ALL=False)
    CSRF(app)
    forms = csrf_protect(qiao.Blueprint("forms", __name__, url_prefix="/forms"))

    @app.post("/open")
    def open_(request: qiao.Request) -> str:
        return "ok"

    @app.post("/guarded")
    @csrf_protect
    def guarded(request: qiao.Request) -> str:
        return "ok"

    @forms.post("/send")
    def send_form(request: qiao.Request) -> str:
        return "ok"

    app.register_blueprint(forms)
    client = serve(app)
    accepted(send(client, path="/open", cookie=None))
    refused(send(client, path="/guarded", cookie=None), REASON_NO_CSRF_COOKIE)
    refused(send(client, path="/forms/send", cookie=None), REASON_NO_CSRF_COOKIE)
    accepted(send(client, path="/guarded", token=MASKED_TEST_SECRET2))


def test_protect_all_off_as_an_option(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, options={"protect_all": False}))
    accepted(send(client, cookie=None))


@pytest.mark.parametrize(("path", "status"), [("/nowhere", 404), ("/token", 405)])
def test_unrouted_requests_get_their_routing_error(
    new_app: NewApp, serve: Serve, path: str, status: int
) -> None:
    client = serve(csrf_app(new_app))
    assert send(client, path=path, cookie=None).status_code == status


# -- stateless API clients ------------------------------------------------------------------------
def test_bearer_token_without_cookies_is_exempt(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    response = send(client, cookie=None, headers={"authorization": "Bearer abc.def.ghi"})
    accepted(response)


def test_authorization_with_cookies_is_checked(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    headers = {"authorization": "Bearer abc.def.ghi", "origin": "https://evil.example"}
    refused(send(client, headers=headers), REASON_BAD_ORIGIN.format("https://evil.example"))
    headers = {"authorization": "Bearer abc.def.ghi", "cookie": "session=abc"}
    refused(send(client, cookie=None, headers=headers), REASON_NO_CSRF_COOKIE)


@pytest.mark.parametrize("scheme", ["Basic dXNlcjpwYXNz", "Digest username=u", "Negotiate YII="])
def test_browser_managed_authorization_is_not_exempt(
    new_app: NewApp, serve: Serve, scheme: str
) -> None:
    client = serve(csrf_app(new_app))
    headers = {
        "authorization": scheme,
        "origin": "https://evil.example",
        "sec-fetch-site": "cross-site",
    }
    response = send(client, cookie=None, headers=headers)
    refused(response, REASON_BAD_ORIGIN.format("https://evil.example"))


def test_cross_site_bearer_request_is_exempt(new_app: NewApp, serve: Serve) -> None:
    """A script on another site can only send ``Authorization: Bearer`` when it holds the
    token (and CORS let it): there is nothing ambient to forge."""
    client = serve(csrf_app(new_app))
    headers = {
        "authorization": "Bearer abc",
        "origin": "https://spa.example",
        "sec-fetch-site": "cross-site",
    }
    accepted(send(client, cookie=None, headers=headers))
    refused(
        send(client, cookie=None, headers={**headers, "authorization": "", "cookie": "a=b"}),
        REASON_BAD_ORIGIN.format("https://spa.example"),
    )


def test_cross_site_check_applies_without_an_origin(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    response = send(client, token=MASKED_TEST_SECRET2, headers={"sec-fetch-site": "cross-site"})
    refused(response, REASON_CROSS_SITE)
