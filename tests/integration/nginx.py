"""Debian's nginx as a reference static file server: one foreground process (no master, no
daemon) whose configuration, logs, pid and temporary files all live under one directory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.ports import free_ports
from devhost.processes import SupervisedHTTP

NGINX = Path("/usr/sbin/nginx")

# `master_process off` keeps nginx in the one process we start (workers would be children
# we would have to find); it also means no switch to the `user` directive's account, so as
# root the files under the root are read as root and no `user` line is needed.
# `if_modified_since before` is RFC 9110's rule (nginx's default, `exact`, is not).
CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    types {{ video/mp4 mp4; text/plain txt; }}
    default_type application/octet-stream;
    sendfile on;
    if_modified_since before;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
    }}
}}
"""


class Nginx:
    """nginx serving ``prefix/root`` on a free loopback port."""

    def __init__(self, prefix: Path) -> None:
        if not NGINX.exists():
            pytest.fail(f"{NGINX} is missing: run scripts/install-test-tools.sh as root "
                        "(apt-get install nginx-light)", pytrace=False)
        self.prefix = prefix
        self.root = prefix / "root"
        self.port = free_ports(1)[0]
        for directory in (self.root, prefix / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        config = prefix / "nginx.conf"
        config.write_text(CONFIG.format(prefix=prefix, port=self.port, root=self.root))
        # -e: the error log to use before the configuration is read (the compiled-in default,
        # /var/log/nginx/error.log, is not ours to write).
        argv = [NGINX, "-p", prefix, "-c", config, "-e", prefix / "error.log"]
        self._process = SupervisedHTTP(argv, url=f"{self.url}/", name="nginx",
                                       log_path=prefix / "stderr.log", cwd=prefix)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self._process.start(timeout)

    def stop(self) -> None:
        # SIGTERM is nginx's fast shutdown; with one process there is nothing else to end.
        self._process.stop(timeout=10)
        (self.prefix / "nginx.pid").unlink(missing_ok=True)


@contextlib.contextmanager
def nginx(prefix: Path) -> Iterator[Nginx]:
    server = Nginx(prefix)
    try:
        server.start()
        yield server
    finally:
        server.stop()
