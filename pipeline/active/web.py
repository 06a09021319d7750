"""The annotation page: ``tsunagu annotate NAME --web``.

A Starlette app over a :class:`~tsunagu.active.team.TeamSession` (or a
:class:`~tsunagu.active.team.ReviewSession` with ``--review``), served by uvicorn.
The page is plain HTML, JavaScript and CSS shipped in ``tsunagu/active/static``;
it asks ``/api/next`` for its example and posts answers to ``/api/answer``,
whose reply carries the next example, so an answer costs one round trip.

Security, on every request:

* **Bind address.** 127.0.0.1 by default. Any other address needs an access
  token (``--token``, or one generated and printed in the page's address).
* **Token.** When set, a request without it is refused (401): it may come as
  ``?token=`` (the printed address; the page then keeps it in an HttpOnly,
  SameSite=Strict cookie), the ``X-Tsunagu-Token`` header or that cookie;
  compared in constant time.
* **Host header.** Only the bound host and the loopback names are accepted,
  which stops DNS-rebinding pages from reaching a local server.
* **Cross-site requests.** Answers are POSTs that need the JSON content type, the
  page's ``X-CSRF-Token`` header (a secret kept in the label store, written into
  the page) and, when the browser sends one, an ``Origin`` equal to the server's.
  A page on another site can neither read that secret nor send that header
  without a CORS preflight, which this server never grants.
* **Text.** Corpus text reaches the page only as JSON and is put in the page as
  text (``textContent``), never as HTML; a Content-Security-Policy allows only the
  page's own scripts and styles.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
import secrets
import threading
import time
from importlib import resources
from typing import Callable, Optional, Union

from .errors import ActiveLearningError
from .team import ReviewSession, TeamSession, UnknownExample

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
TOKEN_COOKIE = "tsunagu_token"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def needs_token(host: str) -> bool:
    return not is_loopback(host)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _static(name: str) -> bytes:
    return resources.files("tsunagu.active").joinpath("static", name).read_bytes()


class _Guard:
    """ASGI middleware: the token, the Host header, cross-site POSTs, the headers."""

    def __init__(self, app, *, token: Optional[str], csrf: str, allowed_hosts: Optional[set[str]]) -> None:
        self.app, self.token, self.csrf, self.allowed_hosts = app, token, csrf, allowed_hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        request = Request(scope)
        problem = self._problem(request)
        if problem is not None:
            status, message = problem
            response = JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)
            return await response(scope, receive, send)
        set_cookie = self.token is not None and request.query_params.get("token") is not None

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if set_cookie:
                    headers.append((b"set-cookie", f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Strict; "
                                                   "Path=/".encode()))
                message = {**message, "headers": list(message.get("headers", [])) + headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _problem(self, request) -> Optional[tuple[int, str]]:
        host = _host_name(request.headers.get("host") or "")
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return 400, f"this server does not answer for the host {host!r}"
        if self.token is not None:
            given = (request.query_params.get("token") or request.headers.get("x-tsunagu-token")
                     or request.cookies.get(TOKEN_COOKIE) or "")
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return 401, ("this annotation server needs its access token: open the address it printed "
                             "(…/?token=…), or send the X-Tsunagu-Token header")
        if request.method not in ("GET", "HEAD"):
            if request.method != "POST":
                return 405, "only GET and POST"
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return 415, "answers are JSON (Content-Type: application/json)"
            if not hmac.compare_digest((request.headers.get("x-csrf-token") or "").encode(), self.csrf.encode()):
                return 403, "cross-site request refused (no or wrong X-CSRF-Token); reload the page"
            origin = request.headers.get("origin")
            if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host')}":
                return 403, f"cross-site request refused (origin {origin})"
        return None


def _host_name(value: str) -> str:
    """The name in a Host header, without the port."""
    if value.startswith("["):
        return value.split("]")[0] + "]"
    return value.rsplit(":", 1)[0] if ":" in value else value


def create_app(team: Union[TeamSession, ReviewSession], *, token: Optional[str] = None,
               csrf: Optional[str] = None, allowed_hosts: Optional[set[str]] = None):
    """The ASGI app. ``allowed_hosts`` None accepts any Host header (for a server
    bound to all addresses, where the token is the protection)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    csrf = csrf or team.store.secret("web_csrf")
    page = _static("index.html").decode("utf-8")
    page = page.replace("{{csrf}}", html.escape(csrf)).replace("{{mode}}", team.mode) \
               .replace("{{session}}", html.escape(team.session.name))
    assets = {"app.js": ("application/javascript", _static("app.js")),
              "style.css": ("text/css", _static("style.css"))}

    def fail(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def index(request: Request):
        return HTMLResponse(page)

    async def asset(request: Request):
        name = request.path_params["name"]
        if name not in assets:
            return fail(404, "no such file")
        kind, body = assets[name]
        return Response(body, media_type=kind)

    def who(values) -> tuple[str, str]:
        return str(values.get("annotator") or ""), str(values.get("tab") or "")[:64]

    async def next_example(request: Request):
        annotator, tab = who(request.query_params)
        try:
            return JSONResponse(team.view(team.next(annotator, tab), annotator))
        except ActiveLearningError as e:
            return fail(400, str(e))

    async def body(request: Request) -> dict:
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise ActiveLearningError("the request body is not JSON") from None
        if not isinstance(data, dict):
            raise ActiveLearningError("the request body must be a JSON object")
        return data

    async def answer(request: Request):
        try:
            data = await body(request)
            annotator, tab = who(data)
            label = None if data.get("skip") else data.get("label")
            if label is None and not data.get("skip"):
                return fail(400, "an answer needs a label or skip: true")
            status = team.answer(annotator, tab, str(data.get("example_id", "")), label)
            return JSONResponse({"status": status, **team.view(team.next(annotator, tab), annotator)})
        except UnknownExample as e:
            return fail(404, str(e))
        except ActiveLearningError as e:
            # A locked or unwritable store: nothing was saved; the page says so and keeps the example.
            return fail(503 if "label store" in str(e) else 400, str(e))

    async def undo(request: Request):
        try:
            data = await body(request)
            annotator, tab = who(data)
            undone = team.undo(annotator, tab)
            view = team.view(team.next(annotator, tab), annotator)
        except ActiveLearningError as e:
            return fail(503 if "label store" in str(e) else 400, str(e))
        view["undone"] = None if undone is None else {"example_id": undone.example_id,
                                                      "labels": list(undone.labels)}
        return JSONResponse(view)

    routes = [Route("/", index), Route("/static/{name}", asset), Route("/api/next", next_example),
              Route("/api/answer", answer, methods=["POST"]), Route("/api/undo", undo, methods=["POST"])]
    app = Starlette(routes=routes)
    return _Guard(app, token=token, csrf=csrf, allowed_hosts=allowed_hosts)


def hosts_for(host: str) -> Optional[set[str]]:
    """The Host names a server bound to ``host`` answers for (None: any)."""
    if host in ("0.0.0.0", "::", ""):
        return None
    names = set(LOOPBACK_NAMES) if is_loopback(host) else set()
    names.add(host if ":" not in host else f"[{host}]")
    return names


def page_address(host: str, port: int, token: Optional[str], annotator: Optional[str] = None) -> str:
    from urllib.parse import urlencode

    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    query = {k: v for k, v in (("annotator", annotator), ("token", token)) if v}
    return f"http://{shown}:{port}/" + (f"?{urlencode(query)}" if query else "")


def _check_port_free(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ActiveLearningError(f"cannot serve on {host}:{port}: {e.strerror or e}; choose another "
                                      "port (--port) or stop what uses it") from None


def serve(team: Union[TeamSession, ReviewSession], *, host: str = "127.0.0.1", port: int = 8080,
          token: Optional[str] = None, open_browser: bool = True,
          log: Callable[[str], None] = print) -> None:
    """Serve the page until interrupted (Ctrl-C); every answer is already in the store."""
    import uvicorn

    if needs_token(host) and not token:
        raise ActiveLearningError(f"serving on {host} (not this machine only) needs an access token")
    _check_port_free(host, port)
    app = create_app(team, token=token, allowed_hosts=hosts_for(host))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    address = page_address(host, port, token)

    def announce() -> None:
        # Said once the socket listens, so that whoever reads it can connect at once.
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        log(f"annotation page: {address}" + ("" if team.mode == "review" else
                                              f"{'&' if '?' in address else '?'}annotator=YOUR_NAME"))
        log("every answer is saved when the next example shows; Ctrl-C stops the server.")
        if open_browser:
            import webbrowser

            webbrowser.open(address)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()
    finally:
        team.close()
