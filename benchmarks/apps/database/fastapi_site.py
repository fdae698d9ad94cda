"""FastAPI + SQLAlchemy 2 the way its docs show it: a session per request from a dependency
with ``yield`` (closed, so rolled back, when the request ends; nothing here writes), dicts
returned from the endpoints (FastAPI's ``jsonable_encoder`` + ``JSONResponse``), and Jinja2
through ``Jinja2Templates`` for the fortunes. The docs routes are off.

Engines: ``pool_size`` = QIAO_BENCH_POOL_SIZE and no overflow on PostgreSQL (psycopg 3, sync and
async); on SQLite SQLAlchemy's default pool (5 + 10 overflow), as qiao's battery has there. No
pre-ping. The sync app's endpoints run in AnyIO's thread pool, capped at QIAO_BENCH_THREADS
tokens (AnyIO's default is 40) so it gets as many threads as the WSGI servers.

No ``from __future__ import annotations``: FastAPI must see the ``Annotated`` dependency types
made inside ``build_*``.
"""

import contextlib
from operator import attrgetter
from random import randint, sample
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import String, create_engine, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from apps.database import (
    ADDITIONAL_FORTUNE,
    FORTUNE_TABLE,
    TEMPLATES,
    WORLD_ROWS,
    WORLD_TABLE,
    kind,
    pool_size,
    queries_param,
    sqlalchemy_url,
    threads,
)


class Base(DeclarativeBase):
    pass


class World(Base):
    __tablename__ = WORLD_TABLE
    id: Mapped[int] = mapped_column(primary_key=True)
    randomnumber: Mapped[int]


class Fortune(Base):
    __tablename__ = FORTUNE_TABLE
    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


templates = Jinja2Templates(directory=str(TEMPLATES))
by_message = attrgetter("message")
IDS = range(1, WORLD_ROWS + 1)


def engine_options() -> dict[str, Any]:
    if kind() == "sqlite":
        return {}
    return {"pool_size": pool_size(), "max_overflow": 0}


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads()
    print(f"AnyIO thread pool: {threads()} tokens", flush=True)
    yield


def build_async() -> FastAPI:
    engine = create_async_engine(sqlalchemy_url(asynchronous=True), **engine_options())
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def get_session():
        async with sessions() as session:
            yield session

    DB = Annotated[AsyncSession, Depends(get_session)]
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.get("/db")
    async def db(session: DB):
        world = await session.get(World, randint(1, WORLD_ROWS))
        return {"id": world.id, "randomNumber": world.randomnumber}

    @app.get("/queries")
    async def queries(session: DB, queries: str = "1"):
        worlds = []
        for id in sample(IDS, queries_param(queries)):
            world = await session.get(World, id)
            worlds.append({"id": world.id, "randomNumber": world.randomnumber})
        return worlds

    @app.get("/fortunes")
    async def fortunes(request: Request, session: DB):
        rows = list(await session.scalars(select(Fortune)))
        rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
        rows.sort(key=by_message)
        return templates.TemplateResponse(request, "fortunes.html", {"fortunes": rows})

    return app


def build_sync() -> FastAPI:
    engine = create_engine(sqlalchemy_url(asynchronous=False), **engine_options())
    sessions = sessionmaker(engine, expire_on_commit=False)

    def get_session():
        with sessions() as session:
            yield session

    DB = Annotated[Session, Depends(get_session)]
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.get("/db")
    def db(session: DB):
        world = session.get(World, randint(1, WORLD_ROWS))
        return {"id": world.id, "randomNumber": world.randomnumber}

    @app.get("/queries")
    def queries(session: DB, queries: str = "1"):
        worlds = []
        for id in sample(IDS, queries_param(queries)):
            world = session.get(World, id)
            worlds.append({"id": world.id, "randomNumber": world.randomnumber})
        return worlds

    @app.get("/fortunes")
    def fortunes(request: Request, session: DB):
        rows = list(session.scalars(select(Fortune)))
        rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
        rows.sort(key=by_message)
        return templates.TemplateResponse(request, "fortunes.html", {"fortunes": rows})

    return app
