"""A blueprint (Flask style), mounted under /blog."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import qiao

bp = qiao.Blueprint("blog", __name__, url_prefix="/blog")

POSTS = {"hello-qiao": "qiao says hello", "two-schools": "decorators and URLconfs, one router"}


@bp.before_request
def count_visit(request: qiao.Request) -> None:
    request.state.section = "blog"


@bp.get("/")
def index(request: qiao.Request) -> str:
    links = "".join(
        f'<li><a href="{request.url_for(".post", slug=slug)}">{slug}</a></li>' for slug in POSTS
    )
    return f"<h1>Blog</h1><ul>{links}</ul>"


@bp.get("/<slug:slug>", name="post")
async def show_post(request: qiao.Request, slug: str) -> dict[str, str]:
    if slug not in POSTS:
        raise qiao.NotFound(f"No post {slug!r}.")
    return {"slug": slug, "body": POSTS[slug], "section": request.state.section}


@bp.get("/feed")
async def feed(request: qiao.Request) -> qiao.StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for slug in POSTS:
            yield f"{slug}\n"
            await asyncio.sleep(0)

    return qiao.StreamingResponse(lines(), content_type="text/plain; charset=utf-8")
