"""The database battery: SQLAlchemy 2 models, one session per request, migrations.

```python
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

import qiao
from qiao.db import Database, Model, get_or_404, paginate

app = qiao.App(__name__, config={"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
db = Database(app)

class Post(Model):
    title: Mapped[str] = mapped_column(String(200))

@app.get("/posts/<int:id>")
def show(request, id):
    return {"title": get_or_404(request.db, Post, id).title}
```

``request.db`` is a SQLAlchemy ``Session`` (``request.adb`` an ``AsyncSession`` for async
views); the request commits when the view succeeds and rolls back when it raises. Needs
``pip install 'qiao[db]'``. See ``docs/database.md``.
"""

from qiao.db._database import Database, DatabaseUnavailable
from qiao.db._debug import current_queries
from qiao.db._discovery import discover_models
from qiao.db._helpers import (
    Page,
    aexists,
    afirst_or_404,
    aget_or_404,
    apaginate,
    bulk_insert,
    bulk_update,
    exists,
    first_or_404,
    get_or_404,
    paginate,
)
from qiao.db._model import Model, TimestampMixin
from qiao.db._on_commit import on_commit

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "Model",
    "Page",
    "TimestampMixin",
    "aexists",
    "afirst_or_404",
    "aget_or_404",
    "apaginate",
    "bulk_insert",
    "bulk_update",
    "current_queries",
    "discover_models",
    "exists",
    "first_or_404",
    "get_or_404",
    "on_commit",
    "paginate",
]
