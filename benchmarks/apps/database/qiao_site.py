"""qiao with its database battery (``request.db`` / ``request.adb``, committed per request) and
its templates battery (Jinja2).

Pool: ``DATABASE_POOL_SIZE`` = QIAO_BENCH_POOL_SIZE, no overflow, no pre-ping (the peers do not
ping either; qiao's default is to ping on every checkout). qiao passes the pool settings only
to non-SQLite engines, so on SQLite it keeps SQLAlchemy's default pool (5 + 10 overflow); the
FastAPI app does the same there.
"""

from __future__ import annotations

from operator import attrgetter
from random import randint, sample

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

import qiao
from apps.database import (
    ADDITIONAL_FORTUNE,
    FORTUNE_TABLE,
    TEMPLATES,
    WORLD_ROWS,
    WORLD_TABLE,
    pool_size,
    queries_param,
    url,
)
from qiao.db import Database, Model
from qiao.templating import Templates, render


class World(Model):
    __tablename__ = WORLD_TABLE
    randomnumber: Mapped[int]


class Fortune(Model):
    __tablename__ = FORTUNE_TABLE
    message: Mapped[str] = mapped_column(String(2048))


by_message = attrgetter("message")
IDS = range(1, WORLD_ROWS + 1)


def build(asynchronous: bool) -> qiao.App:
    """The app with plain ``def`` views on ``request.db`` (WSGI) or ``async def`` views on
    ``request.adb`` (ASGI)."""
    app = qiao.App(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=None,
        config={"SECRET_KEY": "benchmark-not-a-secret", "DEBUG": False},
    )
    Database(
        app,
        url=url(),
        pool_size=pool_size(),
        max_overflow=0,
        pool_pre_ping=False,
    )
    Templates(app)

    if asynchronous:

        @app.get("/db")
        async def db(request):
            world = await request.adb.get(World, randint(1, WORLD_ROWS))
            return {"id": world.id, "randomNumber": world.randomnumber}

        @app.get("/queries")
        async def queries(request):
            get = request.adb.get
            worlds = []
            for id in sample(IDS, queries_param(request.query.get("queries"))):
                world = await get(World, id)
                worlds.append({"id": world.id, "randomNumber": world.randomnumber})
            return worlds

        @app.get("/fortunes")
        async def fortunes(request):
            rows = list(await request.adb.scalars(select(Fortune)))
            rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
            rows.sort(key=by_message)
            return render(request, "fortunes.html", fortunes=rows)

    else:

        @app.get("/db")
        def db(request):
            world = request.db.get(World, randint(1, WORLD_ROWS))
            return {"id": world.id, "randomNumber": world.randomnumber}

        @app.get("/queries")
        def queries(request):
            get = request.db.get
            worlds = []
            for id in sample(IDS, queries_param(request.query.get("queries"))):
                world = get(World, id)
                worlds.append({"id": world.id, "randomNumber": world.randomnumber})
            return worlds

        @app.get("/fortunes")
        def fortunes(request):
            rows = list(request.db.scalars(select(Fortune)))
            rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
            rows.sort(key=by_message)
            return render(request, "fortunes.html", fortunes=rows)

    return app
