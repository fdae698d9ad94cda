"""Class-based views: one method per HTTP method, 405 for the rest.

```python
class ArticleView(View):
    def get(self, request, id):
        ...
    def post(self, request, id):
        ...

app.add_route("/articles/<int:id>", ArticleView)        # or ArticleView.as_view()
```

Handlers are all sync or all async (mixing them is an error at start-up, as in Django). A new
instance serves each request, built with the keyword arguments given to ``as_view``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from qiao._concurrency import is_async_callable
from qiao.http.exceptions import ImproperlyConfigured, MethodNotAllowed

__all__ = ["View"]

_METHODS = ("get", "post", "put", "patch", "delete", "options", "trace")


class View:
    """Base class for class-based views."""

    #: Restrict the methods served; by default, every method the class defines.
    http_method_names: ClassVar[tuple[str, ...]] = _METHODS

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)

    @classmethod
    def allowed_methods(cls) -> frozenset[str]:
        """The upper-case methods this view answers (HEAD comes with GET)."""
        return frozenset(m.upper() for m in cls.http_method_names if hasattr(cls, m))

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., Any]:
        """A view function that builds an instance per request and calls its method handler.

        Raises:
            ImproperlyConfigured: handlers mix sync and async, or an init kwarg is not a class
                attribute (a typo guard, as in Django).
        """
        for key in initkwargs:
            if not hasattr(cls, key):
                raise ImproperlyConfigured(
                    f"{cls.__name__}.as_view() got {key!r}, which is not an attribute of the class."
                )
        methods = cls.allowed_methods()
        handlers = [getattr(cls, m.lower()) for m in methods]
        kinds = {is_async_callable(h) for h in handlers}
        if len(kinds) > 1:
            raise ImproperlyConfigured(
                f"{cls.__name__} mixes sync and async handlers; make them all one kind."
            )

        def handler_for(request: Any) -> Callable[..., Any]:
            name = "get" if request.method == "HEAD" else request.method.lower()
            if name.upper() not in methods:
                raise MethodNotAllowed(methods)
            return getattr(cls(**initkwargs), name)  # type: ignore[no-any-return]

        view: Callable[..., Any]
        if kinds == {True}:

            async def view(request: Any, *args: Any, **kwargs: Any) -> Any:
                return await handler_for(request)(request, *args, **kwargs)

        else:

            def view(request: Any, *args: Any, **kwargs: Any) -> Any:
                return handler_for(request)(request, *args, **kwargs)

        view.__name__ = cls.__name__
        view.__qualname__ = cls.__qualname__
        view.__module__ = cls.__module__
        view.__doc__ = cls.__doc__
        setattr(view, "methods", methods)  # noqa: B010 - read by the router
        setattr(view, "view_class", cls)  # noqa: B010
        return view
