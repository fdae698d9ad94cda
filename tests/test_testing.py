"""The test clients and the pytest plugin."""

from __future__ import annotations

import pytest

import qiao


def make_app():
    app = qiao.App(__name__, config={"SECRET_KEY": "t"})

    @app.get("/set")
    def set_cookie(request):
        response = qiao.redirect("/get")
        response.set_cookie("flavour", "ginger")
        return response

    @app.get("/get")
    def get_cookie(request):
        return {"flavour": request.cookies.get("flavour")}

    @app.post("/echo")
    def echo(request):
        return {"query": dict(request.query), "form": dict(request.form().fields)}

    return app


def test_client_keeps_cookies_and_follows_redirects_on_request():
    with make_app().test_client() as client:
        first = client.get("/set")
        assert first.status_code == 302
        assert client.get("/get").json() == {"flavour": "ginger"}
        assert client.get("/set", follow_redirects=True).json() == {"flavour": "ginger"}


def test_client_sends_params_data_and_files():
    with make_app().test_client() as client:
        response = client.post("/echo", params={"q": "1"}, data={"a": "b"})
        assert response.json() == {"query": {"q": "1"}, "form": {"a": "b"}}


@pytest.mark.anyio
async def test_async_client_runs_lifespan_and_requests():
    app = make_app()
    started = []
    app.on_startup(lambda: started.append(True))
    async with app.async_test_client() as client:
        assert started == [True]
        response = await client.get("/set", follow_redirects=True)
        assert response.json() == {"flavour": "ginger"}


@pytest.mark.anyio
async def test_async_client_reports_a_failed_startup():
    app = make_app()

    @app.on_startup
    def explode():
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"):
        async with app.async_test_client():
            pass


def test_pytest_plugin_offers_app_and_client_fixtures(pytester):
    pytester.makepyfile(
        myapp="""
        import qiao
        app = qiao.App(__name__, config={"SECRET_KEY": "x"})
        app.add_route("/", lambda request: "from ini", name="home")
        """,
        test_ini="""
        def test_it(client):
            assert client.get("/").text == "from ini"
        """,
    )
    pytester.makeini("[pytest]\nqiao_app = myapp:app\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_pytest_plugin_app_fixture_can_be_overridden(pytester):
    pytester.makeconftest(
        """
        import pytest, qiao

        @pytest.fixture
        def app():
            app = qiao.App(__name__, config={"SECRET_KEY": "x"})
            app.add_route("/", lambda request: "overridden", name="home")
            return app
        """
    )
    pytester.makepyfile("def test_it(client):\n    assert client.get('/').text == 'overridden'\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_pytest_plugin_without_an_app_says_how_to_fix_it(pytester):
    pytester.makepyfile("def test_it(client):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*define an 'app' fixture*"])
