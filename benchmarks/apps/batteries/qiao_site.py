"""The qiao site, with the batteries installed as ``examples/demo/app.py`` installs them
(AllowedHosts, SecurityHeaders, Sessions with the signed-cookie store, CSRF, Templates; no
Compression, since neither peer compresses and wrk sends no ``Accept-Encoding``)."""

import qiao
from apps.batteries import ALLOWED_HOSTS, SECRET_KEY, TEMPLATES, TEXT
from qiao import PlainTextResponse, forms
from qiao.csrf import CSRF
from qiao.security import AllowedHosts, SecurityHeaders
from qiao.sessions import Sessions
from qiao.templating import Templates, render


class ContactForm(forms.Form):
    name = forms.CharField(max_length=50)
    email = forms.EmailField()
    message = forms.CharField(max_length=500, widget=forms.Textarea())


def build(asynchronous: bool) -> qiao.App:
    """The site with plain ``def`` views (WSGI) or ``async def`` views (ASGI)."""
    app = qiao.App(
        __name__,
        template_folder=str(TEMPLATES / "qiao"),
        static_folder=None,
        config={"SECRET_KEY": SECRET_KEY, "DEBUG": False, "ALLOWED_HOSTS": ALLOWED_HOSTS},
    )
    AllowedHosts(app)
    SecurityHeaders(app)
    Sessions(app)  # SESSION_STORE = "cookie" (the default): signed cookies
    CSRF(app)
    Templates(app)

    def start(request):
        request.session["visits"] = request.session.get("visits", 0) + 1
        return PlainTextResponse(TEXT)

    def page(request, form, status=200):
        visits = request.session.get("visits", 0)
        return render(request, "form.html", status=status, form=form, visits=visits)

    def plain(request):
        return PlainTextResponse(TEXT)

    if asynchronous:

        async def form_view(request):
            if request.method == "POST":
                form = ContactForm(await request.aform())
                if form.is_valid():
                    return qiao.redirect("/form", 303)
                return page(request, form, 422)
            return page(request, ContactForm())

        async def start_view(request):
            return start(request)

        async def plain_view(request):
            return plain(request)

    else:

        def form_view(request):
            if request.method == "POST":
                form = ContactForm(request.form())
                if form.is_valid():
                    return qiao.redirect("/form", 303)
                return page(request, form, 422)
            return page(request, ContactForm())

        start_view, plain_view = start, plain

    app.add_route("/form", form_view, methods=["GET", "POST"], name="form")
    app.add_route("/start", start_view, methods=["GET"], name="start")
    app.add_route("/plain", plain_view, methods=["GET"], name="plain")
    return app
