"""What the project's HTTP servers (`serve`, `review`) share: the optional API key, read from an environment
variable (never from the command line) and checked in constant time on every request but the open paths; their
self-contained pages; and listening on a port, where a port in use is one clear error rather than a traceback."""

from __future__ import annotations

import base64
import binascii
import errno
import hmac
import html
import os
import secrets
import socket
from collections.abc import Callable, Collection
from importlib import resources
from typing import Any

from aiohttp import web

from synthdistill.config import looks_like_a_secret
from synthdistill.errors import ConfigError

BASIC_REALM = "synthdistill"
# A page may run only its own script (the nonce) and reach only its own server: a text holding HTML or script is
# shown as text, and could not run even if it were not escaped.
PAGE_POLICY = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def api_key_from_env(variable: str | None, option: str = "--api-key-env") -> str | None:
    """The key held by environment variable `variable`; None when no variable is named."""
    if variable is None:
        return None
    if looks_like_a_secret(variable):  # never echo it: it may be the key itself
        raise ConfigError(f"{option}: give the name of the variable that holds the key, not a key (not shown)")
    key = os.environ.get(variable)
    if not key:
        raise ConfigError(f"{option}: environment variable {variable} is not set")
    return key


def given_key(request: web.Request) -> str:
    """The key a request carries: `Authorization: Bearer KEY`, `X-API-Key: KEY`, or a browser's Basic
    authentication with the key as password (any user name)."""
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization.removeprefix("Basic ").strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return authorization.removeprefix("Bearer ").strip() or request.headers.get("X-API-Key", "")


def api_key_middleware(api_key: str | None, open_paths: Collection[str] = (), *, browser: bool = False) -> Any:
    """Refuse requests without the key (401), except to `open_paths`. `browser`: ask for it with the browser's
    own password prompt (Basic authentication), for servers that serve a page."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        if api_key is not None and request.path not in open_paths:
            if not hmac.compare_digest(given_key(request).encode(), api_key.encode()):
                headers = {"WWW-Authenticate": f'Basic realm="{BASIC_REALM}"'} if browser else None
                return web.json_response({"error": "missing or wrong API key"}, status=401, headers=headers)
        return await handler(request)

    return authenticate


def run_server(app: web.Application, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve `app` until interrupted. The socket is bound first, so a taken port fails before anything starts and
    `announce` gets the address really listened on (with port 0, the free port the system chose)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listening = socket.create_server((host, port), family=family)
    except OSError as err:
        hint = " (is another server on it?)" if err.errno == errno.EADDRINUSE else ""
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}{hint}") from None
    shown = f"[{host}]" if ":" in host else host
    announce(f"http://{shown}:{listening.getsockname()[1]}")
    web.run_app(app, sock=listening, print=None, access_log=None)


def page_response(page: str, title: str, **values: str) -> web.Response:
    """A page of synthdistill/pages/ with its {{title}} (escaped here), a fresh script nonce, and `values` put in
    as given (the caller makes them safe where they go), under the content security policy above."""
    text = resources.files("synthdistill").joinpath(f"pages/{page}").read_text(encoding="utf-8")
    nonce = secrets.token_urlsafe(16)
    for name, value in {"title": html.escape(title), "nonce": nonce, **values}.items():
        text = text.replace("{{" + name + "}}", value)
    headers = {"Content-Security-Policy": PAGE_POLICY.format(nonce=nonce), "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store"}  # fmt: skip
    return web.Response(text=text, content_type="text/html", headers=headers)
