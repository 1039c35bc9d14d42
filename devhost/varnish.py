"""Debian's Varnish as the local CDN edge, in front of the devhost's public routes
(``/files/{id}``, ``/thumbnails/{id}``, ``/previews/{id}``): a real cache, real purges and a
real request log.

Two supervised processes: ``varnishd`` (the cache, with a VCL written here: loopback-only
``PURGE``, nothing but the public routes, no credentials forwarded, errors never cached,
``CDN_CACHE_TTL`` when the origin sends no ``Cache-Control``) and ``varnishncsa``, which
writes each request as a JSON line (shared/cdn/varnish.py's ``LOG_FORMAT``) that the app
counts for ``GET /cdn/stats``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from devhost.errors import StackError
from devhost.ports import LOOPBACK, Port
from devhost.processes import OneProcessService, SupervisedProcess, SupervisedTCP
from shared.cdn.varnish import HEALTH_PATH, LOG_FORMAT

_INSTALL = ("run scripts/install-test-tools.sh as root (apt-get install varnish); "
            "`make run` starts without the local CDN meanwhile")
_VCL = """vcl 4.1;

# The local CDN edge in front of the devhost (written by devhost/varnish.py).

backend origin {
    .host = "127.0.0.1";
    .port = "ORIGIN_PORT";
    .connect_timeout = 2s;
    .first_byte_timeout = 60s;
}

# Only the app on this machine may purge.
acl purgers { "127.0.0.1"; "::1"; }

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) { return (synth(403, "Forbidden")); }
        return (purge);
    }
    if (req.url == "HEALTH_PATH") { return (synth(200, "OK")); }
    if (req.method != "GET" && req.method != "HEAD") {
        return (synth(405, "Method Not Allowed"));
    }
    # As Front Door's route: query strings are ignored, only the public routes pass.
    set req.url = regsub(req.url, "[?].*$", "");
    if (req.url !~ "^/(files|thumbnails|previews)/[0-9a-fA-F-]{36}$") {
        return (synth(404, "Not Found"));
    }
    unset req.http.Authorization;
    unset req.http.Cookie;
    return (hash);
}

sub vcl_backend_response {
    # A refusal (401, 404, a 202 while a file is rehydrated) is never kept.
    if (beresp.status != 200) {
        set beresp.uncacheable = true;
        set beresp.ttl = 0s;
        return (deliver);
    }
}

sub vcl_deliver {
    if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
"""


def program(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def available() -> bool:
    return program("varnishd") is not None and program("varnishncsa") is not None


class Varnish(OneProcessService):
    name = "varnish"

    def __init__(self, port: Port, origin_port: int, workdir: Path, log_path: Path,
                 cache_ttl: int) -> None:
        self.port = port
        self.origin_port = origin_port
        self.workdir = workdir
        self.log_path = log_path
        self.cache_ttl = cache_ttl
        self.access_log = workdir / "access.jsonl"
        self._ncsa: SupervisedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port.number}"

    @property
    def instance(self) -> Path:
        return self.workdir / "instance"  # varnishd's -n: its shared memory, for the tools

    def env(self) -> dict[str, str]:
        return {"AZURE_CDN_ENDPOINT": self.url, "VARNISH_URL": self.url,
                "VARNISH_LOG_PATH": str(self.access_log),
                "VARNISH_WORKDIR": str(self.instance), "CDN_CACHE_TTL": str(self.cache_ttl)}

    def start(self, timeout: float = 60.0) -> None:
        varnishd, varnishncsa = program("varnishd"), program("varnishncsa")
        if varnishd is None or varnishncsa is None:
            raise StackError(f"varnish is missing: {_INSTALL}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # varnishd's workers run as their own users
        vcl = self.workdir / "edge.vcl"
        vcl.write_text(_VCL.replace("ORIGIN_PORT", str(self.origin_port))
                       .replace("HEALTH_PATH", HEALTH_PATH))
        self._process = SupervisedTCP([
            varnishd, "-F", "-a", f"{LOOPBACK}:{self.port.number}", "-f", vcl,
            "-n", self.instance, "-s", "malloc,64m", "-p", f"default_ttl={self.cache_ttl}",
            "-p", "default_grace=0",
        ], port=self.port.number, name="varnish", ports=[self.port], log_path=self.log_path,
            cwd=self.workdir, timeout=timeout)
        self._process.start()
        self._ncsa = SupervisedProcess(
            [varnishncsa, "-n", self.instance, "-a", "-w", self.access_log, "-F", LOG_FORMAT],
            ready=self._logging, waiting_for=f"{HEALTH_PATH} in {self.access_log}",
            name="varnishncsa", log_path=self.log_path, cwd=self.workdir, timeout=timeout)
        try:
            self._ncsa.start()
        except BaseException:
            self._process.stop()
            raise

    def _logging(self) -> bool:
        """varnishncsa has attached once a request through the edge shows in its log."""
        try:
            httpx.get(self.url + HEALTH_PATH, timeout=2)
        except httpx.HTTPError:
            return False
        return self.access_log.exists() and HEALTH_PATH in self.access_log.read_text()

    def stop(self) -> None:
        if self._ncsa is not None:
            self._ncsa.stop()
        super().stop()
