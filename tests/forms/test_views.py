"""Forms in real views, under WSGI and ASGI: the GET / invalid POST / valid POST round trip,
file uploads through multipart bodies, CSRF, and templates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import qiao
from qiao.forms import CharField, EmailField, FileField, Form, IntegerField
from tests.http._support import MULTIPART, NewApp, Serve, multipart, part


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI (see tests/http/conftest.py)."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


MODES = pytest.mark.parametrize("mode", ["sync", "async"])
XSS = '"><script>alert(1)</script>'


class ContactForm(Form):
    name = CharField(max_length=50)
    email = EmailField()
    quantity = IntegerField(min_value=1)


def page(form: Form) -> str:
    return f'<form method="post">{form}<button>Send</button></form>'


def contact_app(new_app: NewApp, sent: list[dict[str, Any]], **config: Any) -> qiao.App:
    """``/sync`` and ``/async``: the classic form view; ``/thanks`` after a valid POST."""
    app = new_app(**config)

    @app.route("/sync", methods=["GET", "POST"])
    def sync_contact(request: qiao.Request) -> Any:
        data = request.form() if request.method == "POST" else None
        form = ContactForm(data, request=request)
        if form.is_valid():
            sent.append(form.cleaned_data)
            return qiao.redirect("/thanks", 303)
        return page(form), 422 if form.is_bound else 200

    @app.route("/async", methods=["GET", "POST"])
    async def async_contact(request: qiao.Request) -> Any:
        data = await request.aform() if request.method == "POST" else None
        form = ContactForm(data, request=request)
        if form.is_valid():
            sent.append(form.cleaned_data)
            return qiao.redirect("/thanks", 303)
        return page(form), 422 if form.is_bound else 200

    @app.get("/thanks")
    def thanks(request: qiao.Request) -> str:
        return "Thanks!"

    return app


# -- the round trip -----------------------------------------------------------------------------


@MODES
def test_get_renders_an_empty_form(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(contact_app(new_app, [])).get(f"/{mode}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<input type="email" name="email" id="id_email" required>' in response.text
    assert "errorlist" not in response.text
    assert "csrfmiddlewaretoken" not in response.text  # no CSRF battery on this app


@MODES
def test_an_invalid_post_rerenders_with_errors_and_the_users_values(
    new_app: NewApp, serve: Serve, mode: str
) -> None:
    sent: list[dict[str, Any]] = []
    client = serve(contact_app(new_app, sent))
    response = client.post(f"/{mode}", data={"name": XSS, "email": "ada@", "quantity": "١٢"})
    assert response.status_code == 422
    html = response.text
    assert "<script>" not in html
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert 'value="ada@"' in html
    assert 'value="١٢"' in html
    assert "<li>Enter a valid email address.</li>" in html
    assert "<li>Enter a whole number.</li>" in html
    assert html.count('aria-invalid="true"') == 2
    assert sent == []


@MODES
def test_a_valid_post_redirects(new_app: NewApp, serve: Serve, mode: str) -> None:
    sent: list[dict[str, Any]] = []
    client = serve(contact_app(new_app, sent))
    response = client.post(
        f"/{mode}", data={"name": " Ada ", "email": "ada@example.com", "quantity": "3"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/thanks"
    assert sent == [{"name": "Ada", "email": "ada@example.com", "quantity": 3}]


@MODES
def test_a_multipart_post_binds_the_same_way(new_app: NewApp, serve: Serve, mode: str) -> None:
    sent: list[dict[str, Any]] = []
    body = multipart(part("name", "Ada"), part("email", "a@example.com"), part("quantity", "1"))
    response = serve(contact_app(new_app, sent)).post(
        f"/{mode}", content=body, headers={"content-type": MULTIPART}
    )
    assert response.status_code == 303
    assert sent == [{"name": "Ada", "email": "a@example.com", "quantity": 1}]


@MODES
def test_repeated_and_missing_fields_are_errors_not_500s(
    new_app: NewApp, serve: Serve, mode: str
) -> None:
    client = serve(contact_app(new_app, []))
    response = client.post(f"/{mode}", data={"name": ["a", "b"], "quantity": "9" * 4000})
    assert response.status_code == 422
    assert "<li>Enter a single value.</li>" in response.text
    assert "<li>This field is required.</li>" in response.text
    assert "<li>Enter a whole number.</li>" in response.text


# -- file uploads -------------------------------------------------------------------------------


class UploadForm(Form):
    title = CharField()
    document = FileField(max_size=100, content_types=["text/plain"], extensions=[".txt"])
    attachment = FileField(required=False)


def upload_app(new_app: NewApp) -> qiao.App:
    app = new_app()

    def describe(form: UploadForm) -> dict[str, Any]:
        if not form.is_valid():
            return {"errors": form.errors}
        document = form.cleaned_data["document"]
        attachment = form.cleaned_data["attachment"]
        return {
            "title": form.cleaned_data["title"],
            "type": type(document).__name__,
            "filename": document.filename,
            "size": document.size,
            "content": document.read().decode(),
            "attachment": attachment.filename if attachment else None,
        }

    @app.post("/sync")
    def sync_upload(request: qiao.Request) -> dict[str, Any]:
        return describe(UploadForm(request.form()))

    @app.post("/async")
    async def async_upload(request: qiao.Request) -> dict[str, Any]:
        return describe(UploadForm(await request.aform()))

    return app


@MODES
def test_a_valid_upload_cleans_to_an_uploadfile(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(upload_app(new_app)).post(
        f"/{mode}",
        data={"title": "Notes"},
        files={"document": ("notes.TXT", b"hello", "text/plain; charset=utf-8")},
    )
    assert response.json() == {
        "title": "Notes",
        "type": "UploadFile",
        "filename": "notes.TXT",
        "size": 5,
        "content": "hello",
        "attachment": None,
    }


@MODES
def test_an_optional_file_field_takes_a_file_too(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(upload_app(new_app)).post(
        f"/{mode}",
        data={"title": "Notes"},
        files=[
            ("document", ("a.txt", b"x", "text/plain")),
            ("attachment", ("photo.jpg", b"\xff\xd8", "image/jpeg")),
        ],
    )
    assert response.json()["attachment"] == "photo.jpg"


@MODES
@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            ("big.txt", b"x" * 101, "text/plain"),
            "Ensure this file is at most 100 bytes (it is 101).",
        ),
        (("a.txt", b"x", "text/html"), "Files of type text/html are not allowed."),
        (("a.exe", b"x", "text/plain"), "File extension .exe is not allowed; use one of .txt."),
        (("noext", b"x", "text/plain"), "File extension (none) is not allowed; use one of .txt."),
        (("empty.txt", b"", "text/plain"), "The submitted file is empty."),
    ],
    ids=["too-big", "content-type", "extension", "no-extension", "empty"],
)
def test_upload_checks(
    new_app: NewApp, serve: Serve, mode: str, upload: tuple[str, bytes, str], message: str
) -> None:
    response = serve(upload_app(new_app)).post(
        f"/{mode}", data={"title": "t"}, files={"document": upload}
    )
    assert response.json() == {"errors": {"document": [message]}}


@MODES
def test_a_missing_file_and_a_form_sent_without_multipart(
    new_app: NewApp, serve: Serve, mode: str
) -> None:
    client = serve(upload_app(new_app))
    response = client.post(
        f"/{mode}", data={"title": "t"}, files={"other": ("a.txt", b"x", "text/plain")}
    )
    assert response.json() == {"errors": {"document": ["No file was submitted."]}}
    response = client.post(f"/{mode}", data={"title": "t", "document": "a.txt"})
    assert response.json() == {
        "errors": {
            "document": [
                "No file was submitted. Check the form's encoding type "
                '(enctype="multipart/form-data").'
            ]
        }
    }


@MODES
def test_an_empty_file_input_is_a_missing_file(new_app: NewApp, serve: Serve, mode: str) -> None:
    body = multipart(
        part("title", "t"),
        part("document", b"", filename="", content_type="application/octet-stream"),
    )
    response = serve(upload_app(new_app)).post(
        f"/{mode}", content=body, headers={"content-type": MULTIPART}
    )
    assert response.json() == {"errors": {"document": ["No file was submitted."]}}


@MODES
def test_two_files_for_one_file_field(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(upload_app(new_app)).post(
        f"/{mode}",
        data={"title": "t"},
        files=[
            ("document", ("a.txt", b"x", "text/plain")),
            ("document", ("b.txt", b"y", "text/plain")),
        ],
    )
    assert response.json() == {"errors": {"document": ["Enter a single value."]}}


@MODES
def test_a_hostile_file_name_is_reduced_before_the_extension_check(
    new_app: NewApp, serve: Serve, mode: str
) -> None:
    body = multipart(
        part("title", "t"),
        part("document", b"data", filename="../../etc/x.txt", content_type="text/plain"),
    )
    response = serve(upload_app(new_app)).post(
        f"/{mode}", content=body, headers={"content-type": MULTIPART}
    )
    assert response.json()["filename"] == "x.txt"


def test_a_file_field_reads_uploadfiles_from_a_plain_mapping() -> None:
    from qiao import Headers, UploadFile

    upload = UploadFile("r.txt", "text/plain", Headers(), 1024)
    upload.file.write(b"abc")
    upload.size = 3
    upload.seek(0)
    form = UploadForm({"title": "t", "document": upload})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["document"] is upload
    assert UploadForm({"title": "t", "document": "not a file"}).errors == {
        "document": [
            "No file was submitted. Check the form's encoding type "
            '(enctype="multipart/form-data").'
        ]
    }
    upload.close()


# -- CSRF ---------------------------------------------------------------------------------------

csrf = pytest.importorskip("qiao.csrf")
TOKEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([A-Za-z0-9]+)">')


@MODES
def test_forms_render_the_csrf_input_and_the_middleware_checks_it(
    new_app: NewApp, serve: Serve, mode: str
) -> None:
    sent: list[dict[str, Any]] = []
    app = contact_app(new_app, sent)
    csrf.CSRF(app)
    client = serve(app)
    page_html = client.get(f"/{mode}").text
    name, token = TOKEN.findall(page_html)[0]
    assert name == "csrfmiddlewaretoken"
    assert len(token) == 64
    assert page_html.index("csrfmiddlewaretoken") > page_html.index('name="quantity"')

    fields = {"name": "Ada", "email": "ada@example.com", "quantity": "2"}
    assert client.post(f"/{mode}", data=fields).status_code == 403
    response = client.post(f"/{mode}", data={**fields, name: token})
    assert response.status_code == 303
    assert sent == [{"name": "Ada", "email": "ada@example.com", "quantity": 2}]

    invalid = client.post(f"/{mode}", data={"name": "Ada", name: token})
    assert invalid.status_code == 422
    assert TOKEN.findall(invalid.text)[0][1] != token  # a fresh mask on every render


def test_csrf_field_alone_and_its_configured_name(new_app: NewApp) -> None:
    app = new_app()
    csrf.CSRF(app, field_name="tok")
    seen: dict[str, str] = {}

    @app.get("/")
    def show(request: qiao.Request) -> str:
        form = ContactForm(request=request)
        seen["field"] = form.csrf_field()
        seen["unbound"] = ContactForm().csrf_field()
        return str(form.as_p())

    html = app.test_client().get("/").text
    assert TOKEN.fullmatch(seen["field"])
    assert seen["field"].startswith('<input type="hidden" name="tok" value="')
    assert seen["unbound"] == ""
    token = TOKEN.findall(html)[0][1]
    assert html.endswith(f'</p><input type="hidden" name="tok" value="{token}">')


def test_a_view_can_return_rendered_html_directly(new_app: NewApp) -> None:
    app = new_app()

    @app.get("/")
    def show(request: qiao.Request) -> Any:
        return ContactForm().as_div()

    assert app.test_client().get("/").status_code == 200


def test_no_csrf_input_without_the_battery(new_app: NewApp) -> None:
    app = new_app()
    seen: dict[str, str] = {}

    @app.get("/")
    def show(request: qiao.Request) -> str:
        seen["field"] = ContactForm(request=request).csrf_field()
        return "ok"

    app.test_client().get("/")
    assert seen["field"] == ""


# -- templates ----------------------------------------------------------------------------------


def test_a_form_in_a_jinja_template_through_the_templates_battery(tmp_path: Path) -> None:
    templating = pytest.importorskip("qiao.templating")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "contact.html").write_text(
        '<form method="post">{{ form.csrf_field() }}{% for field in form %}'
        "<p>{{ field.label_tag() }}{{ field }}{{ field.errors }}</p>{% endfor %}</form>",
        encoding="utf-8",
    )
    app = qiao.App(__name__, root_path=str(tmp_path), config={"SECRET_KEY": "x"})
    templating.Templates(app)
    csrf.CSRF(app)

    @app.route("/", methods=["GET", "POST"])
    def contact(request: qiao.Request) -> Any:
        form = ContactForm(request.form() if request.method == "POST" else None, request=request)
        if form.is_valid():
            return qiao.redirect("/", 303)
        return templating.render(
            request, "contact.html", status=422 if form.is_bound else 200, form=form
        )

    client = app.test_client()
    name, token = TOKEN.findall(client.get("/").text)[0]
    response = client.post("/", data={"name": XSS, name: token})
    assert response.status_code == 422
    assert "<script>" not in response.text
    assert 'value="&quot;&gt;&lt;script&gt;' in response.text
    assert '<ul class="errorlist" id="id_email_error"><li>This field is required.</li></ul>' in (
        response.text
    )
