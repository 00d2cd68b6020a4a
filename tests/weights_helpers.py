"""A local weights server for the pretrained-weights tests (nothing reaches the internet).

``WeightsServer`` serves files from 127.0.0.1 and counts requests; ``point_coco_at`` makes a
model's COCO ``WeightsEnum`` entry name a served file, the way the registry holds it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import threading
import time
from pathlib import Path

import pytest
import torch

from workbench.engine import detectors
from workbench.engine import weights_download as wd

MODEL = "ssdlite320_mobilenet_v3_large"


class WeightsServer:
    """Serves ``files`` (name → bytes) with Content-Length; records every request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.short: set[str] = set()  # names whose connection ends before Content-Length
        self.slow: set[str] = set()  # names sent at ~1 MB/s (to cancel mid-way)
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _head(self) -> bytes | None:
                name = self.path.lstrip("/")
                server.requests.append((self.command, name))
                data = server.files.get(name)
                if data is None:
                    self.send_error(404, "Not Found")
                    return None
                self.send_response(200)
                extra = 1000 if name in server.short else 0
                self.send_header("Content-Length", str(len(data) + extra))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                return data

            def do_HEAD(self) -> None:  # noqa: N802
                self._head()

            def do_GET(self) -> None:  # noqa: N802
                data = self._head()
                if data is None:
                    return
                for i in range(0, len(data), 32 * 1024):
                    self.wfile.write(data[i:i + 32 * 1024])
                    if self.path.lstrip("/") in server.slow:
                        time.sleep(0.03)
                if self.path.lstrip("/") in server.short:
                    self.close_connection = True

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that cancels mid-file resets the connection: expected

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, data: bytes, stem: str, hash_prefix: str | None = None) -> str:
        """Serve ``data`` as ``<stem>-<hash8>.pth`` (the right SHA-256 prefix unless given)."""
        name = f"{stem}-{hash_prefix or hashlib.sha256(data).hexdigest()[:8]}.pth"
        self.files[name] = data
        return name

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class StandInWeights:
    """A torchvision ``WeightsEnum`` member as the weights API sees it: ``url`` and ``meta``."""

    name = "COCO_V1"

    def __init__(self, file_name: str, meta: dict | None = None) -> None:
        self.url = wd.OFFICIAL_BASE_URL + file_name
        self.meta = meta or {}


def point_coco_at(monkeypatch: pytest.MonkeyPatch, file_name: str, model: str = MODEL) -> None:
    """Make ``model``'s COCO enum name ``file_name`` (the registry entry, as in production)."""
    spec = detectors.get_spec(model)
    monkeypatch.setitem(detectors._REGISTRY, model, dataclasses.replace(
        spec, detector_weights=StandInWeights(file_name)))




def temp_torch_home(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the torch hub cache at ``path`` (``TORCH_HOME``) for this test."""
    monkeypatch.setenv("TORCH_HOME", str(path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return path


def cache_files(torch_home: Path) -> list[str]:
    return sorted(p.name for p in torch_home.rglob("*") if p.is_file())


def coco_like_bytes() -> bytes:
    """A real ssdlite320 COCO-shaped (91 classes) state_dict, random values (~14 MB)."""
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    torch.manual_seed(0)
    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()
