"""qiao (桥, "bridge"): one small, fast Python web framework for WSGI, ASGI and its own server.

```python
import qiao

app = qiao.App(__name__, config={"DEBUG": True})

@app.get("/hello/<name>")
def hello(request, name):
    return {"hello": name}
```
"""

from qiao._config import DEFAULTS, Config
from qiao.app import App
from qiao.blueprints import Blueprint
from qiao.converters import Converter
from qiao.http.datastructures import Headers, MultiDict
from qiao.http.exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    HTTPException,
    ImproperlyConfigured,
    InternalServerError,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RequestHeaderFieldsTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnprocessableEntity,
    UnsupportedMediaType,
    URITooLong,
    abort,
)
from qiao.http.forms import FormData, UploadFile
from qiao.http.request import Request
from qiao.http.response import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    redirect,
)
from qiao.routing import BuildError, RouteConflict
from qiao.templating import render, render_to_string
from qiao.views import View

__version__ = "0.1.0"

__all__ = [
    "DEFAULTS",
    "App",
    "BadRequest",
    "Blueprint",
    "BuildError",
    "Config",
    "Conflict",
    "Converter",
    "FileResponse",
    "Forbidden",
    "FormData",
    "Gone",
    "HTMLResponse",
    "HTTPException",
    "Headers",
    "ImproperlyConfigured",
    "InternalServerError",
    "JSONResponse",
    "MethodNotAllowed",
    "MultiDict",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "PlainTextResponse",
    "RangeNotSatisfiable",
    "RedirectResponse",
    "Request",
    "RequestHeaderFieldsTooLarge",
    "Response",
    "RouteConflict",
    "ServiceUnavailable",
    "StreamingResponse",
    "TooManyRequests",
    "URITooLong",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "UploadFile",
    "View",
    "__version__",
    "abort",
    "redirect",
    "render",
    "render_to_string",
]
