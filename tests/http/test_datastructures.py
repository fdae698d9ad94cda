"""``MultiDict`` and ``Headers``: multi-valued, ordered, and (for headers) case-insensitive."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import qiao
from qiao import Headers, MultiDict
from tests.http._support import NewApp, Serve

# -- MultiDict -----------------------------------------------------------------------------------


def test_multidict_gives_the_first_value_and_every_value() -> None:
    d = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert d["a"] == "1"
    assert d.get("a") == "1"
    assert d.getlist("a") == ["1", "3"]
    assert d.getlist("missing") == []
    assert d.get("missing") is None
    assert d.get("missing", "default") == "default"
    assert list(d) == ["a", "b"]
    assert len(d) == 2
    assert "a" in d
    assert "c" not in d
    assert 1 not in d
    assert d.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert dict(d) == {"a": "1", "b": "2"}
    with pytest.raises(KeyError):
        d["missing"]


def test_multidict_from_a_mapping() -> None:
    d = MultiDict({"a": "1", "b": "2"})
    assert d.multi_items() == [("a", "1"), ("b", "2")]


def test_multidict_copy_keeps_repeated_values() -> None:
    original = MultiDict([("a", "1"), ("a", "2")])
    assert MultiDict(original).getlist("a") == ["1", "2"]


def test_multidict_is_immutable() -> None:
    d: Any = MultiDict([("a", "1")])
    with pytest.raises(TypeError):
        d["a"] = "2"
    with pytest.raises(TypeError):
        del d["a"]
    with pytest.raises(TypeError):
        hash(d)


def test_multidict_multi_items_is_a_copy() -> None:
    d = MultiDict([("a", "1")])
    d.multi_items().append(("b", "2"))
    assert "b" not in d


def test_multidict_equality() -> None:
    assert MultiDict([("a", "1"), ("b", "2")]) == MultiDict([("b", "2"), ("a", "1")])
    assert MultiDict([("a", "1")]) != MultiDict([("a", "1"), ("a", "2")])
    assert MultiDict([("a", "1")]) == {"a": "1"}
    assert MultiDict([("a", "1")]) != {"a": "2"}


def test_multidicts_that_give_different_first_values_are_not_equal() -> None:
    # d["a"] is "1" for one and "2" for the other; equal objects must not behave differently.
    first, second = MultiDict([("a", "1"), ("a", "2")]), MultiDict([("a", "2"), ("a", "1")])
    assert first["a"] != second["a"]
    assert first != second


def test_multidict_equality_never_raises_on_unorderable_values() -> None:
    # Form files are a MultiDict of UploadFile objects, which cannot be ordered.
    value = object()
    same = MultiDict([("f", value), ("f", value)])
    assert same == MultiDict([("f", value), ("f", value)])
    assert same != MultiDict([("f", object()), ("f", object())])


def test_multidict_repr() -> None:
    assert repr(MultiDict([("a", "1")])) == "MultiDict([('a', '1')])"


pairs = st.lists(st.tuples(st.sampled_from("abcde"), st.integers()), max_size=20)


@given(pairs)
def test_multidict_matches_a_list_of_pairs(items: list[tuple[str, int]]) -> None:
    d = MultiDict(items)
    keys_in_order = list(dict.fromkeys(k for k, _ in items))
    assert list(d) == keys_in_order
    assert len(d) == len(keys_in_order)
    assert d.multi_items() == items
    for key in "abcdef":
        values = [v for k, v in items if k == key]
        assert d.getlist(key) == values
        assert (key in d) == bool(values)
        assert d.get(key) == (values[0] if values else None)
        if values:
            assert d[key] == values[0]
    assert d == MultiDict(list(items))


# -- Headers -------------------------------------------------------------------------------------


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    h = Headers([("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert h["content-type"] == "text/plain"
    assert h["CONTENT-TYPE"] == "text/plain"
    assert h.get("Set-Cookie") == "a=1"
    assert h.getlist("SET-COOKIE") == ["a=1", "b=2"]
    assert "Content-type" in h
    assert 42 not in h
    assert list(h) == ["content-type", "set-cookie"]
    assert h.keys() == ["content-type", "set-cookie"]
    assert len(h) == 3
    assert h.items() == [
        ("content-type", "text/plain"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    ]
    assert h.get("missing") is None
    assert h.get("missing", "x") == "x"
    with pytest.raises(KeyError):
        h["missing"]


def test_headers_from_a_mapping_or_nothing() -> None:
    assert Headers({"X-A": "1"}).items() == [("x-a", "1")]
    assert Headers().items() == []
    assert Headers(None).items() == []


def test_headers_setitem_replaces_every_field_of_that_name() -> None:
    h = Headers([("vary", "a"), ("x", "1"), ("Vary", "b")])
    h["VARY"] = "c"
    assert h.items() == [("x", "1"), ("vary", "c")]


def test_headers_add_appends() -> None:
    h = Headers({"set-cookie": "a=1"})
    h.add("Set-Cookie", "b=2")
    assert h.getlist("set-cookie") == ["a=1", "b=2"]


def test_headers_delitem_removes_every_field_and_ignores_missing() -> None:
    h = Headers([("a", "1"), ("b", "2"), ("A", "3")])
    del h["A"]
    assert h.items() == [("b", "2")]
    del h["missing"]
    assert h.items() == [("b", "2")]


def test_headers_setdefault() -> None:
    h = Headers({"a": "1"})
    assert h.setdefault("A", "2") == "1"
    assert h.setdefault("b", "2") == "2"
    assert h.items() == [("a", "1"), ("b", "2")]


def test_headers_update_replaces_each_named_field() -> None:
    h = Headers([("a", "1"), ("b", "2"), ("a", "3")])
    h.update([("A", "x"), ("a", "y"), ("c", "z")])
    assert h.getlist("a") == ["x", "y"]
    assert h["b"] == "2"
    assert h["c"] == "z"
    h.update({"b": "new"})
    assert h.getlist("b") == ["new"]


def test_headers_update_from_another_headers_object() -> None:
    h = Headers({"x": "old"})
    h.update(Headers([("X", "1"), ("ab", "2"), ("x", "3")]))
    assert h.items() == [("x", "1"), ("ab", "2"), ("x", "3")]
    copy = Headers(Headers({"ab": "1"}))
    assert copy.items() == [("ab", "1")]


def test_headers_add_vary_does_not_repeat_fields() -> None:
    h = Headers()
    h.add_vary("Accept")
    h.add_vary("accept", "Cookie")
    h.add_vary("COOKIE")
    assert h["vary"] == "accept, cookie"
    h2 = Headers({"vary": "Origin"})
    h2.add_vary("Accept-Encoding")
    assert h2.getlist("vary") == ["origin, accept-encoding"]


def test_headers_values_are_converted_to_str() -> None:
    h = Headers()
    h["content-length"] = 5  # type: ignore[assignment]
    assert h["content-length"] == "5"


def test_headers_equality_ignores_order_and_case() -> None:
    assert Headers([("A", "1"), ("b", "2")]) == Headers([("b", "2"), ("a", "1")])
    assert Headers([("a", "1")]) != Headers([("a", "2")])
    assert Headers() != {}
    with pytest.raises(TypeError):
        hash(Headers())


def test_headers_repr() -> None:
    assert repr(Headers({"A": "1"})) == "Headers([('a', '1')])"


FORBIDDEN = ["\r", "\n", "\x00"]


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\r\nSet-Cookie: x=1", "a\x00b", "\n"])
def test_headers_refuse_cr_lf_and_nul_in_values_everywhere(bad: str) -> None:
    h = Headers()
    for attempt in (
        lambda: Headers({"x": bad}),
        lambda: Headers([("x", bad)]),
        lambda: h.__setitem__("x", bad),
        lambda: h.add("x", bad),
        lambda: h.setdefault("x", bad),
        lambda: h.update({"x": bad}),
    ):
        with pytest.raises(ValueError, match="contains CR, LF or NUL"):
            attempt()
    assert h.items() == []


@pytest.mark.parametrize("name", ["", "a b", "a:b", "a\r\nb", "a\nb", "x\x00"])
def test_headers_refuse_invalid_names(name: str) -> None:
    with pytest.raises(ValueError, match="Invalid header name"):
        Headers({name: "v"})
    with pytest.raises(ValueError, match="Invalid header name"):
        Headers().add(name, "v")


@given(st.text(st.characters(max_codepoint=255)))
def test_headers_accept_a_latin1_value_exactly_when_it_has_no_cr_lf_or_nul(value: str) -> None:
    # Latin-1 is what header values are sent as (PEP 3333, ASGI); for other text see
    # test_a_header_value_outside_latin1_fails_as_a_handled_500.
    h = Headers()
    if any(c in value for c in FORBIDDEN):
        with pytest.raises(ValueError, match="contains CR, LF or NUL"):
            h["x"] = value
        with pytest.raises(ValueError, match="contains CR, LF or NUL"):
            h.add("x", value)
        assert h.items() == []
    else:
        h["x"] = value
        assert h["x"] == value


@given(st.text(min_size=1).map(lambda s: s + "\n") | st.text().map(lambda s: "\r" + s))
def test_headers_never_store_a_line_break(value: str) -> None:
    with pytest.raises(ValueError, match="contains CR, LF or NUL"):
        Headers([("x", value)])


# -- header values through the app ---------------------------------------------------------------


def test_a_view_cannot_inject_a_header(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = new_app()

    @app.get("/inject")
    def inject(request: qiao.Request) -> Any:
        return "ok", 200, {"x-name": "ann\r\nSet-Cookie: admin=1"}

    response = serve(app).get("/inject")
    assert response.status_code == 500
    assert "set-cookie" not in response.headers
    [record] = [r for r in caplog.records if r.name == "qiao"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


def test_a_header_value_outside_latin1_fails_as_a_handled_500(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    # Header values go on the wire as latin-1 (PEP 3333, ASGI); one that cannot be encoded
    # must fail inside qiao's error handling (500, logged, request id), not in the adapter.
    app = new_app()

    @app.get("/name")
    def name(request: qiao.Request) -> Any:
        return "ok", 200, {"x-name": "张三"}

    response = serve(app).get("/name")
    assert response.status_code == 500
    assert "x-request-id" in response.headers


def test_add_vary_merges_every_vary_line() -> None:
    headers = Headers([("vary", "Cookie"), ("vary", "Accept-Language, cookie")])
    headers.add_vary("Origin", "cookie")
    assert headers.getlist("vary") == ["cookie, accept-language, origin"]


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\0b"])
def test_header_values_and_names_refuse_cr_lf_nul(bad: str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Headers().add("x-ok", bad)
    with pytest.raises(ValueError, match="Invalid header name"):
        Headers().add(bad, "ok")
