"""SACRO-Viewer (PyPI `sacroviewer`) started on 127.0.0.1 from the interop venv, and a small HTTP client for it.

The viewer is a Django app: `python -m sacro` serves it on 127.0.0.1:$PORT. It records a review by writing into the
results.json it was opened on, so tests open a copy of the bundle.
"""

from __future__ import annotations

import html
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Viewer:
    base: str
    log: Path

    def __post_init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        """GET (or POST `data` as a form, with the CSRF token); returns status, final URL and body."""
        headers = {}
        body = None
        if data is not None:
            token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
            body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
            headers = {"X-CSRFToken": token or "", "Referer": self.base + "/"}
        req = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with self.opener.open(req, timeout=60) as r:
                return r.status, r.geturl(), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.geturl(), e.read()

    def outputs(self, page: bytes) -> dict:
        """The outputs the checker page lists, as the page hands them to its script (`outputData`)."""
        m = re.search(rb'<script id="outputData" type="application/json">(.*?)</script>', page, re.S)
        assert m, "the checker page holds no outputData"
        return json.loads(html.unescape(m.group(1).decode("utf-8")))

    def log_tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:] if self.log.is_file() else ""


@contextmanager
def running_viewer(python: Path, workdir: Path) -> Iterator[Viewer]:
    """Start the viewer with `python` (the interop venv's) on a free port; stop it on the way out."""
    port = free_port()
    log = workdir / "viewer.log"
    env = {**os.environ, "PORT": str(port), "DJANGO_SETTINGS_MODULE": "sacro.settings", "DEBUG": "False"}
    env.pop("SACRO_APP_TOKEN", None)
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen([str(python), "-m", "sacro"], cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT)
    viewer = Viewer(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if viewer.request("/")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"SACRO-Viewer did not start on 127.0.0.1:{port}:\n{viewer.log_tail()}")
            time.sleep(0.3)
        yield viewer
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
