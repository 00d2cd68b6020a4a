"""Opt-in download of torchvision's official pretrained weights into the torch hub cache.

Nothing here runs unless the user asks for ``--weights coco`` / ``--weights imagenet`` (or picks
"COCO (download)" / "ImageNet backbone (download)" in the Train panel). The files are the ones
torchvision's weights API names for the chosen model:

* ``coco``: the detector's ``WeightsEnum`` member (``DetectorSpec.detector_weights``, e.g.
  ``SSDLite320_MobileNet_V3_Large_Weights.COCO_V1``);
* ``imagenet``: its backbone's ``weights_backbone`` member (``DetectorSpec.backbone_weights``,
  e.g. ``MobileNet_V3_Large_Weights.IMAGENET1K_V1``).

The steps, each visible to the user: :func:`remote_weights` says where the file comes from,
where it goes (``torch.hub.get_dir()/checkpoints/<file name>``, the place torchvision itself
looks) and its size — from the enum's ``meta["_file_size"]`` (MiB) without touching the network,
or from a HEAD request's ``Content-Length`` when a mirror serves the files — *before* anything is
downloaded; :func:`download` then fetches it with a progress callback and a cancel flag into a
temporary file beside the destination, checks the SHA-256 prefix that torchvision embeds in the
file name (``torch.hub.HASH_REGEX``, as ``torch.hub.download_url_to_file(hash_prefix=...)``
does) and renames it into place — a partial or corrupt file never takes the final name.
A file already in the cache is never downloaded again.

Mirrors and air-gapped set-ups: set ``WORKBENCH_WEIGHTS_BASE_URL`` to a URL that serves the same
file names as ``https://download.pytorch.org/models/`` (an internal HTTP server, or
``http://127.0.0.1:PORT/`` in tests); it replaces that prefix of every official URL.

Failures are one sentence for the user (:class:`DownloadError`), e.g. offline::

    Could not download https://download.pytorch.org/models/x.pth: no network connection.
    Download it on a machine with internet and pass --weights FILE, or copy it into <cache dir>.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import os
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from workbench.engine.events import WeightsError

log = logging.getLogger(__name__)

#: The ``--weights`` words that name a torchvision download.
DOWNLOAD_CHOICES = ("coco", "imagenet")
#: Where torchvision's weights live; an override replaces this prefix.
OFFICIAL_BASE_URL = "https://download.pytorch.org/models/"
#: Environment variable naming a mirror of :data:`OFFICIAL_BASE_URL` (mirrors, air-gapped sites).
BASE_URL_ENV = "WORKBENCH_WEIGHTS_BASE_URL"
#: Seconds to wait for a connection or for the next bytes.
TIMEOUT_S = 30.0
CHUNK = 64 * 1024
MIB = 1024 * 1024

#: ``progress(done_bytes, total_bytes_or_None)``
Progress = Callable[[int, int | None], None]


class DownloadError(WeightsError):
    """The weights could not be fetched (offline, HTTP error, wrong hash); the message is one
    line for the user. The CLI exits with status 2."""


class DownloadCancelled(WeightsError):
    """The user cancelled the download; nothing was kept."""


@dataclass(frozen=True)
class RemoteWeights:
    """One downloadable weights file, resolved for a model: where from, where to, how big."""

    model: str
    which: str  # "coco" | "imagenet"
    enum_name: str  # e.g. "SSDLite320_MobileNet_V3_Large_Weights.COCO_V1"
    url: str  # the URL fetched (mirror applied)
    path: Path  # the torch hub cache file
    size_bytes: int | None  # announced before the download; None when unknown
    hash_prefix: str | None  # leading hex digits of the SHA-256, from the file name

    @property
    def cached(self) -> bool:
        return self.path.is_file()

    @property
    def what(self) -> str:
        return "COCO detector" if self.which == "coco" else "ImageNet backbone"

    @property
    def host(self) -> str:
        return urlparse(self.url).netloc or self.url

    def size_text(self) -> str:
        return "an unknown size" if self.size_bytes is None else fmt_size(self.size_bytes)

    def question(self) -> str:
        """"Download 13.4 MB from download.pytorch.org into ~/.cache/torch/hub/checkpoints?\""""
        return f"Download {self.size_text()} from {self.host} into {_home(self.path.parent)}?"

    def announcement(self) -> str:
        """One line said before the download starts (CLI)."""
        return (f"{self.what} weights for {self.model} ({self.enum_name}): downloading "
                f"{self.size_text()} from {self.url} into {self.path.parent}")


def fmt_size(n: int) -> str:
    """Bytes as "13.4 MB" (MiB, the unit of torchvision's ``_file_size``)."""
    return f"{n / MIB:.1f} MB" if n >= MIB else f"{n / 1024:.1f} kB"


def _home(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def base_url() -> str:
    """The base every official URL is fetched from (``WORKBENCH_WEIGHTS_BASE_URL`` or the
    official one), ending in "/"."""
    base = os.environ.get(BASE_URL_ENV, "").strip() or OFFICIAL_BASE_URL
    return base if base.endswith("/") else base + "/"


def mirrored(url: str) -> str:
    """``url`` with :data:`OFFICIAL_BASE_URL` replaced by :func:`base_url`."""
    if url.startswith(OFFICIAL_BASE_URL):
        return base_url() + url[len(OFFICIAL_BASE_URL):]
    return url


def cache_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``: where torchvision looks for its weights files."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def hash_prefix_of(file_name: str) -> str | None:
    """The SHA-256 prefix torchvision embeds in a file name ("name-<hex>.pth"), else None."""
    m = torch.hub.HASH_REGEX.search(file_name)
    return m.group(1) if m and m.group(1) else None


def weights_enum(model_name: str, which: str) -> Any:
    """The torchvision ``WeightsEnum`` member ``which`` ("coco"/"imagenet") names for a model.

    Raises :class:`WeightsError` for an unknown choice or a model torchvision has no such
    weights for (e.g. the CPU demo model, which trains from scratch).
    """
    from workbench.engine.detectors import detector_names, get_spec

    which = which.strip().lower()
    if which not in DOWNLOAD_CHOICES:
        raise WeightsError(f"unknown pretrained weights {which!r}: use coco or imagenet")
    spec = get_spec(model_name)
    member = spec.detector_weights if which == "coco" else spec.backbone_weights
    if member is None:
        have = [n for n in detector_names()
                if (get_spec(n).detector_weights if which == "coco"
                    else get_spec(n).backbone_weights) is not None]
        what = "COCO detector" if which == "coco" else "ImageNet backbone"
        raise WeightsError(
            f"{model_name} has no {what} weights (torchvision publishes none for it; it trains "
            f"from scratch). Models with {what} weights: {', '.join(have)}")
    return member


def enum_label(member: Any) -> str:
    return f"{type(member).__name__}.{getattr(member, 'name', member)}"


def remote_weights(model_name: str, which: str, *, timeout: float = TIMEOUT_S) -> RemoteWeights:
    """Resolve ``which`` weights of ``model_name`` to a :class:`RemoteWeights` (no download).

    The size comes from the enum's metadata when the official server is used (no request),
    else from a HEAD request to the mirror (which may fail with :class:`DownloadError`); a file
    already in the cache makes no request at all.
    """
    member = weights_enum(model_name, which)
    official = str(member.url)
    name = os.path.basename(urlparse(official).path)
    url = mirrored(official)
    path = cache_dir() / name
    meta_mib = (getattr(member, "meta", None) or {}).get("_file_size")
    size = int(float(meta_mib) * MIB) if meta_mib else None
    if not path.is_file() and (url != official or size is None):
        size = _head_size(url, path.parent, timeout) or size
    return RemoteWeights(model_name, which.strip().lower(), enum_label(member), url, path, size,
                         hash_prefix_of(name))


def _head_size(url: str, cache: Path, timeout: float) -> int | None:
    request = urllib.request.Request(url, method="HEAD", headers=_HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            length = response.headers.get("Content-Length")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(failure_message(url, exc, cache)) from exc
    return int(length) if length and length.isdigit() else None


_HEADERS = {"User-Agent": "detection-workbench"}


def failure_message(url: str, exc: BaseException, cache: Path) -> str:
    """The one line a user sees when ``url`` could not be fetched."""
    return (f"Could not download {url}: {_reason(exc)}. Download it on a machine with internet "
            f"and pass --weights FILE, or copy it into {cache}.")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}".strip()
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection ended early"
    inner: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(inner, ConnectionRefusedError) or getattr(inner, "errno", None) == \
            errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(inner, (TimeoutError, socket.timeout)):
        return "no network connection (timed out)"
    if isinstance(inner, socket.gaierror) or getattr(inner, "errno", None) in (
            errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN):
        return "no network connection"
    text = str(getattr(inner, "strerror", None) or inner).strip()
    return f"network error ({text})" if text else "network error"


def download(remote: RemoteWeights, *, progress: Progress | None = None,
             cancelled: Callable[[], bool] | None = None,
             timeout: float = TIMEOUT_S) -> Path:
    """Fetch ``remote`` into the torch hub cache (hash checked, atomic) and return its path.

    A file already there is returned without any request.
    """
    if remote.cached:
        log.info("%s already in the torch hub cache: %s", remote.enum_name, remote.path)
        return remote.path
    return download_url(remote.url, remote.path, hash_prefix=remote.hash_prefix,
                        progress=progress, cancelled=cancelled, timeout=timeout)


def download_url(url: str, dst: Path, *, hash_prefix: str | None,
                 progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None,
                 timeout: float = TIMEOUT_S) -> Path:
    """``torch.hub.download_url_to_file`` with a progress callback and cancel flag.

    Streams into a temporary file in ``dst``'s folder, checks that the SHA-256 starts with
    ``hash_prefix`` (when given), then renames it to ``dst`` (atomic on one file system); on any
    failure the temporary file is removed and ``dst`` is untouched. ``progress(done, total)``
    is called with increasing byte counts (``total`` from Content-Length, None if absent).
    """
    dst = Path(dst)
    request = urllib.request.Request(url, headers=_HEADERS)
    try:  # connect first: an unreachable server leaves nothing on disk, not even the folder
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(failure_message(url, exc, dst.parent)) from exc
    with response:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".partial",
                                        dir=dst.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                done, total, digest = _stream(response, out, url, dst, progress, cancelled)
            if total is not None and done != total:
                raise DownloadError(f"Could not download {url}: the connection ended after "
                                    f"{fmt_size(done)} of {fmt_size(total)}. Try again.")
            if hash_prefix and not digest.startswith(hash_prefix):
                raise DownloadError(
                    f"Downloaded {url} but its SHA-256 ({digest[:16]}…) does not start with "
                    f"{hash_prefix} as its file name says: the file is damaged or not the "
                    "official one, and was deleted.")
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
    log.info("downloaded %s (%s) into %s", url, fmt_size(done), dst)
    return dst


def _stream(response: Any, out: Any, url: str, dst: Path, progress: Progress | None,
            cancelled: Callable[[], bool] | None) -> tuple[int, int | None, str]:
    """Copy ``response`` into ``out`` in chunks; returns (bytes, Content-Length, sha256 hex)."""
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    sha = hashlib.sha256()
    done = 0
    if progress is not None:
        progress(0, total)
    while True:
        if cancelled is not None and cancelled():
            raise DownloadCancelled(f"download of {url} cancelled; nothing was kept")
        try:
            chunk = response.read(CHUNK)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise DownloadError(failure_message(url, exc, dst.parent)) from exc
        if not chunk:
            return done, total, sha.hexdigest()
        out.write(chunk)
        sha.update(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
