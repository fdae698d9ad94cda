"""``Auth``: the battery that ties users, hashing, login, throttling, views and commands to an
app, and reads the ``AUTH_*`` settings when the app compiles."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar

from qiao.auth._hashers import PasswordHashers
from qiao.auth._models import AbstractUser
from qiao.auth._throttle import MemoryThrottleStore, RedisThrottleStore, Throttle
from qiao.auth._validators import PasswordValidator, default_validators
from qiao.blueprints import Blueprint
from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["Auth", "get_user_model"]

_DEFAULT_USER_MODEL = "qiao.auth.models:User"


class Auth(Extension):
    """The auth battery: ``Auth(app)``, after ``Database(app)`` and ``Sessions(app)``.

    Gives ``request.user``, the ``qiao createsuperuser`` and ``qiao changepassword`` commands,
    permission rows after migrations and, with ``AUTH_VIEWS`` (on by default), the login,
    logout, password change and reset views under ``AUTH_URL_PREFIX`` (the ``auth``
    blueprint; they need ``CSRF`` and ``Templates``, and password reset needs ``Mail``).

    Attributes (after the app compiles):
        user_model: the user class (``AUTH_USER_MODEL``).
        hashers: the ``PasswordHashers`` policy (``AUTH_PASSWORD_HASHERS``).
        validators: the password validators (``AUTH_PASSWORD_VALIDATORS``).
        throttle: the login throttle.
        blueprint: the ``auth`` blueprint of the views.
    """

    name = "auth"
    prefix = "AUTH_"
    middleware = False
    settings: ClassVar[dict[str, Any]] = {
        "AUTH_USER_MODEL": _DEFAULT_USER_MODEL,
        "AUTH_PASSWORD_HASHERS": ("argon2", "pbkdf2_sha256", "scrypt"),
        "AUTH_PASSWORD_VALIDATORS": None,
        "AUTH_VIEWS": True,
        "AUTH_URL_PREFIX": "/accounts",
        "AUTH_LOGIN_URL": None,
        "AUTH_LOGIN_REDIRECT_URL": "/",
        "AUTH_LOGOUT_REDIRECT_URL": "/",
        "AUTH_ALLOW_SIGNUP": False,
        "AUTH_PASSWORD_RESET": True,
        "AUTH_PASSWORD_RESET_TIMEOUT": 24 * 3600,
        "AUTH_SITE_URL": None,
        "AUTH_THROTTLE_FAILURES": 5,
        "AUTH_THROTTLE_IP_FAILURES": 20,
        "AUTH_THROTTLE_WINDOW": 900,
        "AUTH_THROTTLE_STORE": "memory",
    }

    user_model: type[AbstractUser]
    hashers: PasswordHashers
    validators: list[PasswordValidator]
    throttle: Throttle

    def __init__(self, app: App | None = None, **options: Any) -> None:
        self.blueprint = Blueprint("auth", "qiao.auth", template_folder="templates")
        super().__init__(app, **options)

    def init_app(self, app: App) -> None:
        """Install on ``app``: ``request.user``, the commands and the ``auth`` blueprint (its
        routes are added when the app compiles, per ``AUTH_VIEWS``).

        Raises:
            ImproperlyConfigured: the battery is already installed on this app.
            ValueError: another battery took ``request.user`` or the command names.
        """
        super().init_app(app)
        from qiao.auth._commands import changepassword, createsuperuser
        from qiao.auth._login import get_user

        app.add_request_attribute("user", get_user)
        app.add_command("createsuperuser", createsuperuser, help="create a superuser account")
        app.add_command("changepassword", changepassword, help="change a user's password")
        app.register_blueprint(self.blueprint)

    def configure(self, app: App) -> None:
        """Check the batteries auth needs and read the settings (when the app compiles).

        Raises:
            ImproperlyConfigured: ``qiao.E501``-``qiao.E509``; see docs/auth.md.
        """
        db = app.extensions.get("db")
        if db is None:
            raise ImproperlyConfigured(
                "qiao.E501: Auth needs the database battery for its users; install "
                "qiao.db.Database(app) before Auth(app)."
            )
        if "sessions" not in app.extensions:
            raise ImproperlyConfigured(
                "qiao.E502: Auth needs the sessions battery to remember who is logged in; "
                "install qiao.sessions.Sessions(app) before Auth(app)."
            )
        self.user_model = _load_user_model(self.setting("AUTH_USER_MODEL"))
        self.hashers = PasswordHashers(self.setting("AUTH_PASSWORD_HASHERS"))
        self.validators = _validators(self.setting("AUTH_PASSWORD_VALIDATORS"))
        self.throttle = Throttle(
            _throttle_store(self.setting("AUTH_THROTTLE_STORE")),
            _count(self, "AUTH_THROTTLE_FAILURES"),
            _count(self, "AUTH_THROTTLE_IP_FAILURES"),
            _count(self, "AUTH_THROTTLE_WINDOW"),
        )
        self.reset_timeout = _count(self, "AUTH_PASSWORD_RESET_TIMEOUT")
        from qiao.auth._permissions import create_permissions

        if create_permissions not in db.after_migrate_hooks:
            db.after_migrate(create_permissions)
        self.views = bool(self.setting("AUTH_VIEWS"))
        self.password_reset = self.views and bool(self.setting("AUTH_PASSWORD_RESET"))
        if self.views:
            self._check_view_batteries(app)
            from qiao.auth._views import add_routes

            self.blueprint.url_prefix = str(self.setting("AUTH_URL_PREFIX") or "")
            add_routes(
                self.blueprint,
                with_reset=self.password_reset,
                with_signup=bool(self.setting("AUTH_ALLOW_SIGNUP")),
            )

    def _check_view_batteries(self, app: App) -> None:
        for name, install, check in (
            ("csrf", "qiao.csrf.CSRF(app)", "qiao.E503"),
            ("templates", "qiao.templating.Templates(app)", "qiao.E504"),
        ):
            if name not in app.extensions:
                raise ImproperlyConfigured(
                    f"{check}: the auth views (AUTH_VIEWS) need the {name} battery; install "
                    f"{install}, or set AUTH_VIEWS = False and write your own views."
                )
        if self.password_reset and "mail" not in app.extensions:
            raise ImproperlyConfigured(
                "qiao.E505: the password reset views send e-mail; install qiao.mail.Mail(app) "
                "(MAIL_BACKEND = 'console' prints messages in development), or set "
                "AUTH_PASSWORD_RESET = False."
            )


def _load_user_model(value: Any) -> type[AbstractUser]:
    model = value
    if isinstance(value, str):
        module_name, _, attribute = value.partition(":")
        try:
            model = getattr(importlib.import_module(module_name), attribute or "User")
        except (ImportError, AttributeError) as exc:
            raise ImproperlyConfigured(
                f"qiao.E507: AUTH_USER_MODEL {value!r} cannot be imported ({exc}); write "
                "'package.module:ClassName'."
            ) from None
    if not (isinstance(model, type) and issubclass(model, AbstractUser)):
        raise ImproperlyConfigured(
            f"qiao.E507: AUTH_USER_MODEL {value!r} is not a subclass of "
            "qiao.auth.AbstractUser; subclass it for your own user model."
        )
    if model.__dict__.get("__abstract__"):
        raise ImproperlyConfigured(
            f"qiao.E507: AUTH_USER_MODEL {value!r} is abstract; name a concrete subclass."
        )
    return model


def _validators(value: Any) -> list[PasswordValidator]:
    if value is None:
        return default_validators()
    validators = list(value)
    wrong = [v for v in validators if not isinstance(v, PasswordValidator)]
    if wrong:
        raise ImproperlyConfigured(
            f"qiao.E509: AUTH_PASSWORD_VALIDATORS entries must be validator objects (with "
            f"validate(password, user) and help_text()), got {wrong!r}; e.g. "
            "[MinimumLengthValidator(12), CommonPasswordValidator()]."
        )
    return validators


def _throttle_store(value: Any) -> Any:
    if value == "memory":
        return MemoryThrottleStore()
    if isinstance(value, str) and value.startswith(("redis://", "rediss://", "unix://")):
        return RedisThrottleStore(value)
    if isinstance(value, str) or not all(
        callable(getattr(value, name, None)) for name in ("get", "hit", "reset")
    ):
        raise ImproperlyConfigured(
            f"qiao.E508: AUTH_THROTTLE_STORE must be 'memory', a redis:// URL or a store "
            f"object (with get, hit and reset), got {value!r}."
        )
    return value


def _count(battery: Auth, key: str) -> int:
    value = battery.setting(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(
            f"qiao.E508: {key} must be a non-negative whole number, got {value!r}."
        )
    return value


def get_auth(app: App) -> Auth:
    """The app's ``Auth`` battery, configured (the app is compiled if it was not).

    Raises:
        ImproperlyConfigured: the battery is not installed.
    """
    battery: Auth | None = app.extensions.get("auth")
    if battery is None:
        raise ImproperlyConfigured("The auth battery is not installed: qiao.auth.Auth(app).")
    if not hasattr(battery, "user_model"):
        app.compile()
    return battery


def get_user_model(app: App) -> type[AbstractUser]:
    """The app's user class (``AUTH_USER_MODEL``; ``qiao.auth.User`` by default).

    Raises:
        ImproperlyConfigured: the auth battery is not installed.
    """
    return get_auth(app).user_model
