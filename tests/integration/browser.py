"""Headless Debian Chromium driven over the Chrome DevTools Protocol, and a one-page HTTP
server to load pages from.

CDP needs only a websocket client (``websockets``), no driver binary that has to match the
browser's version. Chromium runs in a session of its own, so that stopping it also stops its
zygote, renderer and GPU children; nothing is left running after ``stop()``.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from devhost.processes import SupervisedProcess

CHROMIUM = Path("/usr/bin/chromium")

# The closed network refuses every connection Chromium would open on its own (updates, sync,
# safe browsing, QUIC probes); these flags stop it from trying, so the only traffic is ours.
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--no-proxy-server",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]


class CdpError(RuntimeError):
    pass


class Page:
    """One page target: send a CDP command, get its result; events are kept, in order."""

    def __init__(self, websocket_url: str, timeout: float = 30.0) -> None:
        try:
            from websockets.sync.client import connect
        except ImportError:
            pytest.fail("websockets is missing: pip install -r requirements-dev.txt",
                        pytrace=False)
        self.timeout = timeout
        # proxy=None: a proxy set in the environment must not see loopback traffic.
        self._closing = contextlib.ExitStack()
        self._socket = self._closing.enter_context(
            connect(websocket_url, max_size=None, open_timeout=timeout, proxy=None))
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []  # every event received so far, in order

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        answer = self._receive_until(lambda m: m.get("id") == message_id, method)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait_for_event(self, method: str, since: int = 0) -> dict[str, Any]:
        """The first event ``method`` among those received from ``events[since]`` on."""
        for event in self.events[since:]:
            if event["method"] == method:
                return event
        return self._receive_until(lambda m: m.get("method") == method, method)

    def _receive_until(self, wanted: Callable[[dict[str, Any]], bool], what: str
                       ) -> dict[str, Any]:
        """Read messages, keeping every event, until one is ``wanted``."""
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CdpError(f"{what}: nothing within {self.timeout} s")
            message = json.loads(self._socket.recv(timeout=remaining))
            if "method" in message:
                self.events.append(message)
            if wanted(message):
                return message

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        """Load ``url`` and return once its load event fired (its scripts have run)."""
        self.call("Page.enable")
        since = len(self.events)
        self.call("Page.navigate", url=url)
        self.wait_for_event("Page.loadEventFired", since)

    def close(self) -> None:
        self._closing.close()


class Chromium:
    """``chromium --headless=new`` with a fresh profile under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        if not CHROMIUM.exists():
            pytest.fail(f"{CHROMIUM} is missing: run scripts/install-test-tools.sh as root "
                        "(apt-get install chromium)", pytrace=False)
        self.profile = workdir / "profile"
        self.profile.mkdir(parents=True)
        self._process = SupervisedProcess(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            name="chromium", ready=self._devtools_port_known, waiting_for="DevToolsActivePort",
            log_path=workdir / "chromium.log",
        )
        self._group: int | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._process.start(timeout)
        self._group = self._process.pid

    def _devtools_port_known(self) -> bool:
        path = self._active_port_file()  # port, then the browser's path: two lines when done
        return path.exists() and len(path.read_text().split()) >= 2

    def _active_port_file(self) -> Path:
        # Chromium writes the port it picked (we asked for 0: any free one) into the profile.
        return self.profile / "DevToolsActivePort"

    @property
    def devtools_port(self) -> int:
        return int(self._active_port_file().read_text().split()[0])

    def first_page(self) -> Page:
        """The tab Chromium opened on ``about:blank``."""
        url = f"http://127.0.0.1:{self.devtools_port}/json/list"
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(url, timeout=10) as response:
            targets = json.load(response)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise CdpError(f"no page target in {targets}")
        return Page(pages[0]["webSocketDebuggerUrl"])

    def stop(self) -> None:
        group = self._group
        # The stop signal goes to Chromium's whole process group, its children included.
        self._process.stop(timeout=10)
        if group is not None:
            _kill_group_leftovers(group)
        self._group = None

    def log_tail(self) -> str:
        return self._process.log_tail()


def _kill_group_leftovers(group: int, timeout: float = 5.0) -> None:
    """SIGKILL whatever of the process group outlived its leader (a group id cannot be reused
    while any member lives, so every process found here is one of ours)."""
    leftovers = [p for p in psutil.process_iter() if _group_of(p) == group]
    for process in leftovers:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(leftovers, timeout=timeout)


def _group_of(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None


@contextlib.contextmanager
def chromium(workdir: Path) -> Iterator[Chromium]:
    browser = Chromium(workdir)
    try:
        browser.start()
        yield browser
    finally:
        browser.stop()


@contextlib.contextmanager
def page_server(html: str) -> Iterator[str]:
    """Serve ``html`` at ``/`` on a free loopback port; yields the page's URL."""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/" else 404
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body) if status == 200 else 0))
            self.end_headers()
            if status == 200:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # pytest shows failures; a line per request would only be noise

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
