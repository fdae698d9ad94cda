"""The router: one table for decorator routes and URLconf routes, compiled once at start-up.

Matching cost does not grow with the number of routes: static paths are one dictionary lookup,
dynamic paths walk a prefix tree one segment at a time (each segment a dictionary lookup or a
few converter regexes), and only ``re_path`` routes are tried one after another.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from qiao.converters import DEFAULT_CONVERTERS, FAST_MATCHES, Converter, PathConverter
from qiao.http.exceptions import ImproperlyConfigured

__all__ = ["BuildError", "Route", "RouteConflict", "Router"]

_PARAM = re.compile(r"<(?:([A-Za-z_][A-Za-z0-9_]*):)?([A-Za-z_][A-Za-z0-9_]*)>")
_REGEX_GROUP = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>((?:[^()\\]|\\.|\([^()]*\))*)\)")
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class RouteConflict(ImproperlyConfigured):
    """Two routes claim the same pattern and method (check ``qiao.E002``)."""


class BuildError(LookupError):
    """``url_for`` cannot build a URL: unknown name, missing or ill-typed parameter."""


@dataclass(slots=True, eq=False)
class Route:
    """One registered route. ``plan`` is filled in by the app when it compiles."""

    pattern: str
    view: Callable[..., Any]
    methods: frozenset[str] | None
    name: str | None = None
    is_regex: bool = False
    scaffolds: tuple[Any, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    location: str = ""
    plan: Any = None
    # compiled
    tokens: list[str | tuple[str, Converter]] = field(default_factory=list)
    regex: re.Pattern[str] | None = None
    param_names: tuple[str, ...] = ()
    #: the names the matcher reports: those of the first route of this shape (``/u/<int:id>``
    #: and ``/u/<int:uid>`` share one matcher), set by ``Router.compile``
    match_params: tuple[str, ...] = ()

    def describe(self) -> str:
        methods = ",".join(sorted(self.methods)) if self.methods else "*"
        return f"{methods} {self.pattern}"


class Endpoint:
    """Everything registered at one pattern, by method."""

    __slots__ = ("allowed", "any_route", "routes")

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.any_route: Route | None = None
        self.allowed: frozenset[str] = frozenset()

    def add(self, route: Route) -> None:
        methods = route.methods
        if methods is None:
            if self.any_route is not None:
                raise _conflict(route, self.any_route, "*")
            self.any_route = route
        else:
            for method in methods:
                if method in self.routes:
                    raise _conflict(route, self.routes[method], method)
                self.routes[method] = route
        allowed = set(self.routes)
        if self.any_route is not None:
            allowed |= {"GET", "POST", "PUT", "PATCH", "DELETE"}
        if "GET" in allowed:
            allowed.add("HEAD")
        allowed.add("OPTIONS")
        self.allowed = frozenset(allowed)

    def for_method(self, method: str) -> Route | None:
        """The route for ``method`` (``HEAD`` falls back to ``GET``), or None."""
        route = self.routes.get(method)
        if route is None:
            if method == "HEAD":
                route = self.routes.get("GET")
            if route is None:
                route = self.any_route
        return route


def _conflict(new: Route, old: Route, method: str) -> RouteConflict:
    return RouteConflict(
        f"qiao.E002: Route '{method} {new.pattern}' is already registered by view "
        f"{_view_name(old.view)!r} ({old.location}); {_view_name(new.view)!r} ({new.location}) "
        "cannot take it too. Use another path or method."
    )


def _view_name(view: Callable[..., Any]) -> str:
    return getattr(view, "__qualname__", repr(view))


class _Segment:
    """A dynamic path segment: a full-match regex plus the converters of its groups."""

    __slots__ = ("key", "params", "regex")

    def __init__(self, regex: re.Pattern[str], params: list[tuple[str, Converter]], key: str):
        self.regex = regex
        self.params = params
        self.key = key


class _Node:
    __slots__ = ("dynamic", "endpoint", "rest", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        # (test, (name, to_python or None) when the whole segment is one parameter, segment,
        # child); ``test`` is the converter's fast_match or the segment regex's fullmatch.
        self.dynamic: list[tuple[Callable[[str], Any], Any, _Segment, _Node]] = []
        self.rest: list[tuple[str, Converter, Endpoint]] = []
        self.endpoint: Endpoint | None = None


class Router:
    """Compiles routes and matches paths.

    Args:
        converters: converter name -> instance; the defaults are always present.
    """

    def __init__(self, converters: Mapping[str, Converter] | None = None) -> None:
        self.converters: dict[str, Converter] = {**DEFAULT_CONVERTERS, **(converters or {})}
        self.routes: list[Route] = []
        self._static: dict[str, Endpoint] = {}
        self._root = _Node()
        self._regex: list[tuple[re.Pattern[str], Endpoint, bool]] = []
        self._by_name: dict[str, list[Route]] = {}

    # -- building -------------------------------------------------------------------------------
    def compile(self, routes: list[Route]) -> None:
        """Compile ``routes`` into the matching structures.

        Raises:
            RouteConflict: two routes share a pattern and a method (``qiao.E002``).
            ImproperlyConfigured: a pattern is malformed or names an unknown converter
                (``qiao.E003``, ``qiao.E004``).
        """
        self.routes = list(routes)
        self._static, self._root, self._regex, self._by_name = {}, _Node(), [], {}
        endpoints: dict[str, Endpoint] = {}
        firsts: dict[str, Route] = {}
        for route in routes:
            key = self._compile_route(route)
            endpoint = endpoints.get(key)
            if endpoint is None:
                endpoint = endpoints[key] = Endpoint()
                firsts[key] = route
                self._place(route, endpoint)
            route.match_params = firsts[key].param_names
            endpoint.add(route)
            if route.name:
                self._by_name.setdefault(route.name, []).append(route)

    def _compile_route(self, route: Route) -> str:
        """Tokenise ``route`` and return its conflict key (the pattern with converters only)."""
        if route.is_regex:
            try:
                route.regex = re.compile(route.pattern)
            except re.error as exc:
                raise ImproperlyConfigured(
                    f"qiao.E003: Route regex {route.pattern!r} does not compile: {exc}."
                ) from None
            route.param_names = tuple(route.regex.groupindex)
            return "re:" + route.pattern
        if not route.pattern.startswith("/"):
            raise ImproperlyConfigured(
                f"qiao.E003: Route pattern {route.pattern!r} must start with '/'."
            )
        tokens: list[str | tuple[str, Converter]] = []
        names: list[str] = []
        key_parts: list[str] = []
        pos = 0
        for match in _PARAM.finditer(route.pattern):
            static = route.pattern[pos : match.start()]
            if "<" in static or ">" in static:
                raise ImproperlyConfigured(
                    f"qiao.E003: Route pattern {route.pattern!r} has a malformed parameter near "
                    f"{static!r}; write <name> or <converter:name>."
                )
            conv_name, name = match.group(1) or "str", match.group(2)
            converter = self.converters.get(conv_name)
            if converter is None:
                raise ImproperlyConfigured(
                    f"qiao.E004: Route {route.pattern!r} uses unknown converter {conv_name!r}; "
                    f"known: {', '.join(sorted(self.converters))}. Register yours with "
                    "app.add_converter()."
                )
            if name in names:
                raise ImproperlyConfigured(
                    f"qiao.E003: Route {route.pattern!r} names parameter {name!r} twice."
                )
            names.append(name)
            if static:
                tokens.append(static)
            tokens.append((name, converter))
            key_parts += [static, f"<{conv_name}>"]
            pos = match.end()
        tail = route.pattern[pos:]
        if "<" in tail or ">" in tail:
            raise ImproperlyConfigured(
                f"qiao.E003: Route pattern {route.pattern!r} has a malformed parameter near "
                f"{tail!r}; write <name> or <converter:name>."
            )
        if tail:
            tokens.append(tail)
        route.tokens = tokens
        route.param_names = tuple(names)
        return "".join(key_parts) + tail

    def _place(self, route: Route, endpoint: Endpoint) -> None:
        if route.is_regex:
            assert route.regex is not None
            self._regex.append((route.regex, endpoint, bool(route.regex.groupindex)))
            return
        if not route.param_names:
            self._static[route.pattern] = endpoint
            return
        segments = route.pattern[1:].split("/")
        node = self._root
        for index, segment in enumerate(segments):
            if "<" not in segment:
                node = node.static.setdefault(segment, _Node())
                continue
            params = [
                (m.group(2), self.converters[m.group(1) or "str"]) for m in _PARAM.finditer(segment)
            ]
            whole = _PARAM.fullmatch(segment) is not None
            if any(isinstance(c, PathConverter) or "/" in c.regex for _, c in params):
                if whole and index == len(segments) - 1:
                    node.rest.append((params[0][0], params[0][1], endpoint))
                    return
                self._place_as_regex(route, endpoint)
                return
            regex_src = ""
            pos = 0
            for m in _PARAM.finditer(segment):
                conv = self.converters[m.group(1) or "str"]
                regex_src += re.escape(segment[pos : m.start()]) + f"({conv.regex})"
                pos = m.end()
            regex_src += re.escape(segment[pos:])
            key = _PARAM.sub(lambda m: f"<{m.group(1) or 'str'}>", segment)
            for _, _, existing, child in node.dynamic:
                if existing.key == key:
                    node = child
                    break
            else:
                child = _Node()
                matcher = _Segment(re.compile(regex_src), params, key)
                single = None
                test: Callable[[str], Any] = matcher.regex.fullmatch
                if whole:
                    name, conv = params[0]
                    # PERF: text converters need no call; their to_python is the identity.
                    identity = type(conv).to_python is Converter.to_python
                    single = (name, None if identity else conv.to_python)
                    test = FAST_MATCHES.get(conv.regex, test)
                node.dynamic.append((test, single, matcher, child))
                node = child
        node.endpoint = endpoint

    def _place_as_regex(self, route: Route, endpoint: Endpoint) -> None:
        """A ``path`` converter in the middle of a pattern: match it with one regex."""
        source = "^"
        for token in route.tokens:
            if isinstance(token, str):
                source += re.escape(token)
            else:
                source += f"(?P<{token[0]}>{token[1].regex})"
        regex = re.compile(source + "$")
        self._regex.append((regex, endpoint, True))
        route.regex = regex

    # -- matching -------------------------------------------------------------------------------
    def match(self, path: str) -> tuple[Endpoint, dict[str, Any], tuple[Any, ...]] | None:
        """Find the endpoint for ``path``: ``(endpoint, kwargs, args)`` or None."""
        endpoint = self._static.get(path)
        if endpoint is not None:
            return endpoint, {}, ()
        if path[:1] == "/":
            segments = path[1:].split("/")
            params: dict[str, Any] = {}
            found = _descend(self._root, segments, params)
            if found is None:
                params = {}
                found = _walk(self._root, segments, 0, len(segments), params)
            if found is not None:
                return found, params, ()
        for regex, endpoint, named in self._regex:
            m = regex.match(path)
            if m is not None:
                try:
                    if named:
                        return endpoint, self._convert_regex_groups(endpoint, m), ()
                except ValueError:
                    continue
                return endpoint, {}, m.groups()
        return None

    @staticmethod
    def _convert_regex_groups(endpoint: Endpoint, m: re.Match[str]) -> dict[str, Any]:
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        route = next(iter(endpoint.routes.values()), None) or endpoint.any_route
        if route is not None and not route.is_regex:  # a path route placed as a regex
            for name, converter in (t for t in route.tokens if isinstance(t, tuple)):
                groups[name] = converter.to_python(groups[name])
        return groups

    # -- building URLs --------------------------------------------------------------------------
    def url_for(self, name: str, params: Mapping[str, Any]) -> str:
        """Build the path of route ``name``; params no route part uses become the query string.

        Raises:
            BuildError: no route has that name, a parameter is missing, or a value does not fit
                its converter.
        """
        routes = self._by_name.get(name)
        if not routes:
            close = [n for n in self._by_name if n.rsplit(":", 1)[-1] == name.rsplit(":", 1)[-1]]
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise BuildError(f"No route is named {name!r}.{hint}")
        errors: list[str] = []
        # The route that uses the most of the given parameters wins (as in Flask).
        for route in sorted(routes, key=lambda r: -len(r.param_names)):
            missing = [p for p in route.param_names if p not in params]
            if missing:
                errors.append(f"{route.pattern!r} needs {', '.join(missing)}")
                continue
            try:
                path = _build_path(route, params)
            except (TypeError, ValueError) as exc:
                errors.append(f"{route.pattern!r}: {exc}")
                continue
            extra = [
                (k, v)
                for k, value in params.items()
                if k not in route.param_names
                for v in (value if isinstance(value, (list, tuple)) else [value])
            ]
            return f"{path}?{urlencode(extra)}" if extra else path
        raise BuildError(f"Cannot build a URL for {name!r}: {'; '.join(errors)}.")


def _descend(node: _Node, segments: list[str], params: dict[str, Any]) -> Endpoint | None:
    """The first path the full search (``_walk``) would try, without recursion or backtracking.

    PERF: almost every request matches on that first path; when it does not (a dead end, a
    segment with several parameters, a ``path`` converter), ``match`` falls back to ``_walk``,
    which tries the same path first and so finds the same endpoint whenever this one does.
    """
    for segment in segments:
        child = node.static.get(segment)
        if child is not None:
            node = child
            continue
        for test, single, _, dynamic_child in node.dynamic:
            if test(segment):
                if single is None:
                    return None
                name, to_python = single
                try:
                    params[name] = segment if to_python is None else to_python(segment)
                except ValueError:
                    continue
                node = dynamic_child
                break
        else:
            return None
    return node.endpoint


def _walk(
    node: _Node, segments: list[str], index: int, count: int, params: dict[str, Any]
) -> Endpoint | None:
    """Depth-first match of ``segments[index:]`` below ``node``; static children first, then
    dynamic ones in declaration order, then ``path`` converters taking the rest."""
    segment = segments[index]
    index += 1
    child = node.static.get(segment)
    if child is not None:
        found = child.endpoint if index == count else _walk(child, segments, index, count, params)
        if found is not None:
            return found
    for test, single, matcher, child in node.dynamic:
        m = test(segment)
        if not m:
            continue
        try:
            if single is not None:  # the whole segment is the parameter
                name, to_python = single
                value = segment if to_python is None else to_python(segment)
            else:
                values = [
                    c.to_python(v) for (_, c), v in zip(matcher.params, m.groups(), strict=True)
                ]
        except ValueError:
            continue
        found = child.endpoint if index == count else _walk(child, segments, index, count, params)
        if found is not None:
            if single is not None:
                params[name] = value
            else:
                params.update(zip([n for n, _ in matcher.params], values, strict=True))
            return found
    if node.rest:
        remainder = "/".join(segments[index - 1 :])
        for name, converter, endpoint in node.rest:
            if re.fullmatch(converter.regex, remainder):
                try:
                    params[name] = converter.to_python(remainder)
                except ValueError:
                    continue
                return endpoint
    return None


def _build_path(route: Route, params: Mapping[str, Any]) -> str:
    if route.is_regex:
        return _build_regex_path(route, params)
    parts: list[str] = []
    for token in route.tokens:
        if isinstance(token, str):
            parts.append(token)
            continue
        name, converter = token
        safe = "/" if isinstance(converter, PathConverter) else ""
        text = quote(converter.to_url(params[name]), safe=safe + "-._~")
        if not re.fullmatch(converter.regex, text):
            raise ValueError(f"{name}={params[name]!r} does not match {converter.regex!r}")
        parts.append(text)
    return "".join(parts)


def _build_regex_path(route: Route, params: Mapping[str, Any]) -> str:
    """Reverse a ``re_path`` regex made of literal text and named groups."""
    assert route.regex is not None
    source = route.pattern.lstrip("^").rstrip("$")
    values: dict[str, str] = {}

    def fill(m: re.Match[str]) -> str:
        values[m.group(1)] = quote(str(params[m.group(1)]), safe="-._~")
        return "\x00" + m.group(1) + "\x00"

    template = _REGEX_GROUP.sub(fill, source)
    literal = re.sub(r"\\(.)", r"\1", template)
    if re.search(r"[\[\]()*+?{}|^$]", literal):
        raise ValueError("this regex is too complex to reverse; give the route a path() pattern")
    path = re.sub("\x00([A-Za-z_][A-Za-z0-9_]*)\x00", lambda m: values[m.group(1)], literal)
    if not route.regex.match(path):
        raise ValueError(f"the built path {path!r} does not match the route's regex")
    return path
