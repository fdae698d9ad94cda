"""The Flask site: Flask-WTF's ``CSRFProtect`` (its secret lives in Flask's signed-cookie
session), a ``FlaskForm``, a Jinja2 template, ``TRUSTED_HOSTS`` (Flask 3.1's host check) and an
``after_request`` hook that sets the headers qiao's SecurityHeaders sets."""

from flask import Flask, Response, redirect, render_template, session
from flask_wtf import CSRFProtect, FlaskForm
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from apps.batteries import ALLOWED_HOSTS, SECRET_KEY, SECURITY_HEADERS, TEMPLATES, TEXT

app = Flask(__name__, template_folder=str(TEMPLATES / "flask"), static_folder=None)
app.config.update(
    SECRET_KEY=SECRET_KEY,
    TRUSTED_HOSTS=ALLOWED_HOSTS,
    SESSION_COOKIE_SAMESITE="Lax",
    WTF_CSRF_TIME_LIMIT=3600,  # the default: a token works for an hour
)
CSRFProtect(app)


class ContactForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=50)])
    email = EmailField("Email", validators=[DataRequired(), Email()])
    message = TextAreaField("Message", validators=[DataRequired(), Length(max=500)])


@app.after_request
def security_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
    return response


def page(form, status=200):
    visits = session.get("visits", 0)
    return render_template("form.html", form=form, visits=visits), status


@app.route("/form", methods=["GET", "POST"])
def form_view():
    form = ContactForm()
    if form.validate_on_submit():
        return redirect("/form", 303)
    return page(form, 422 if form.is_submitted() else 200)


@app.get("/start")
def start():
    session["visits"] = session.get("visits", 0) + 1
    return Response(TEXT, mimetype="text/plain")


@app.get("/plain")
def plain():
    return Response(TEXT, mimetype="text/plain")
