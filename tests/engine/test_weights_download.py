"""Opt-in pretrained weights: ``--weights coco|imagenet`` through torchvision's weights API.

Every file is served by a local HTTP server on 127.0.0.1 (``WORKBENCH_WEIGHTS_BASE_URL`` points
the official URLs at it); nothing here reaches the internet. The torch hub cache is a temporary
``TORCH_HOME``.
"""

from __future__ import annotations

import importlib.util
import io
import os
import socket
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from workbench.cli import main as workbench_main
from workbench.cli.train import fetch_weights
from workbench.engine import detectors
from workbench.engine import weights_download as wd
from workbench.engine.config import TrainConfig
from workbench.engine.events import WeightsError

MODEL = "ssdlite320_mobilenet_v3_large"


_spec = importlib.util.spec_from_file_location(
    "workbench_weights_helpers", Path(__file__).resolve().parents[1] / "weights_helpers.py")
W = sys.modules.get("workbench_weights_helpers")
if W is None:
    W = importlib.util.module_from_spec(_spec)
    sys.modules["workbench_weights_helpers"] = W
    _spec.loader.exec_module(W)
WeightsServer, point_coco_at = W.WeightsServer, W.point_coco_at


# --------------------------------------------------------------------------------------------
# fixtures: a counting HTTP server (tests/weights_helpers.py), a temporary torch hub cache
# --------------------------------------------------------------------------------------------
@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[WeightsServer]:
    srv = WeightsServer()
    monkeypatch.setenv(wd.BASE_URL_ENV, srv.url)
    yield srv
    srv.close()


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return W.temp_torch_home(tmp_path / "torch_home", monkeypatch)


cache_files = W.cache_files


def nothing_in(folder: Path) -> bool:
    """No file written there (``workbench train`` may create ``--out`` to check it early)."""
    return not folder.exists() or not any(folder.rglob("*"))


# --------------------------------------------------------------------------------------------
# size first, progress, hash, atomic
# --------------------------------------------------------------------------------------------
def test_official_size_comes_from_the_enum_without_a_request(torch_home: Path,
                                                             monkeypatch) -> None:
    monkeypatch.delenv(wd.BASE_URL_ENV, raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("no request may be made before the user agrees")

    monkeypatch.setattr(wd.urllib.request, "urlopen", no_network)
    remote = wd.remote_weights(MODEL, "coco")
    assert remote.url == ("https://download.pytorch.org/models/"
                          "ssdlite320_mobilenet_v3_large_coco-a79551df.pth")
    assert remote.enum_name == "SSDLite320_MobileNet_V3_Large_Weights.COCO_V1"
    assert remote.path == torch_home / "hub" / "checkpoints" / (
        "ssdlite320_mobilenet_v3_large_coco-a79551df.pth")
    assert remote.hash_prefix == "a79551df" and not remote.cached
    assert remote.size_bytes == int(13.418 * wd.MIB)
    assert remote.question().startswith("Download 13.4 MB from download.pytorch.org into ")
    imagenet = wd.remote_weights("fasterrcnn_mobilenet_v3_large_320_fpn", "imagenet")
    assert imagenet.enum_name == "MobileNet_V3_Large_Weights.IMAGENET1K_V1"
    assert imagenet.path.name == "mobilenet_v3_large-8738ca79.pth"


def test_every_torchvision_model_maps_to_its_enums_and_the_demo_model_has_none() -> None:
    from workbench.core.models import trainable_names

    # The catalog's models, not the registry: tests register faulty models of their own.
    # Our own models (the CPU demo, R-CNN / Fast R-CNN on selective search) have no
    # torchvision weights: asking for them names the reason.
    from_scratch = {"demo_ssdlite_cpu", "rcnn_ss", "fast_rcnn_ss"}
    assert from_scratch <= set(trainable_names())
    for name in trainable_names():
        spec = detectors.get_spec(name)
        if name in from_scratch:
            for which in ("coco", "imagenet"):
                with pytest.raises(WeightsError, match="has no .* weights .* trains from"):
                    wd.weights_enum(name, which)
            continue
        coco = wd.weights_enum(name, "coco")
        assert type(coco).__name__.endswith("_Weights") and coco.name == "COCO_V1", name
        assert wd.weights_enum(name, "imagenet").name.startswith("IMAGENET1K"), name
        assert spec.detector_weights is coco


def test_download_announces_size_then_streams_with_progress(server: WeightsServer,
                                                            torch_home: Path,
                                                            monkeypatch) -> None:
    data = os.urandom(300_000)
    name = server.add(data, "tiny_coco")
    point_coco_at(monkeypatch, name)
    remote = wd.remote_weights(MODEL, "coco")
    assert server.requests == [("HEAD", name)]  # the mirror's Content-Length, before any GET
    assert remote.size_bytes == len(data) and remote.url == server.url + name
    assert remote.question() == (f"Download 293.0 kB from {server.url[7:-1]} into "
                                 f"{torch_home / 'hub' / 'checkpoints'}?")
    calls: list[tuple[int, int | None]] = []
    path = wd.download(remote, progress=lambda done, total: calls.append((done, total)))
    assert path == remote.path and path.read_bytes() == data
    assert [r for r in server.requests] == [("HEAD", name), ("GET", name)]
    dones = [d for d, _ in calls]
    assert dones[0] == 0 and dones[-1] == len(data) and len(calls) > 3
    assert dones == sorted(dones) and len(set(dones)) == len(dones)
    assert {t for _, t in calls} == {len(data)}  # total = Content-Length
    assert cache_files(torch_home) == [name]


def test_cli_prints_the_size_before_the_progress_line(server: WeightsServer, torch_home: Path,
                                                      monkeypatch) -> None:
    data = os.urandom(200_000)
    name = server.add(data, "tiny_coco")
    point_coco_at(monkeypatch, name)
    out = io.StringIO()
    assert fetch_weights(MODEL, "coco", out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == (f"COCO detector weights for {MODEL} (StandInWeights.COCO_V1): "
                        f"downloading 195.3 kB from {server.url}{name} into "
                        f"{torch_home / 'hub' / 'checkpoints'}")
    assert lines[1].startswith("downloading [") and "/ 195.3 kB" in lines[-2]
    assert lines[-1] == f"saved {torch_home / 'hub' / 'checkpoints' / name}"


def test_wrong_hash_is_refused_and_nothing_is_left(server: WeightsServer, torch_home: Path,
                                                   monkeypatch) -> None:
    data = os.urandom(100_000)
    name = server.add(data, "tiny_coco", hash_prefix="deadbeef")
    point_coco_at(monkeypatch, name)
    remote = wd.remote_weights(MODEL, "coco")
    with pytest.raises(wd.DownloadError, match="does not start with deadbeef"):
        wd.download(remote)
    assert not remote.path.exists() and cache_files(torch_home) == []  # no partial file
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert fetch_weights(MODEL, "coco", out=io.StringIO()) == 2
    assert "was deleted" in err.getvalue() and cache_files(torch_home) == []


def test_cut_connection_and_cancel_leave_nothing(server: WeightsServer, torch_home: Path) -> None:
    data = os.urandom(150_000)
    name = server.add(data, "tiny_coco")
    server.short.add(name)
    dst = torch_home / "hub" / "checkpoints" / name
    with pytest.raises(wd.DownloadError, match=f"Could not download {server.url}{name}: "):
        wd.download_url(server.url + name, dst, hash_prefix=name[-12:-4])
    assert cache_files(torch_home) == []
    server.short.clear()
    with pytest.raises(wd.DownloadCancelled, match="nothing was kept"):
        wd.download_url(server.url + name, dst, hash_prefix=name[-12:-4],
                        progress=lambda done, total: None, cancelled=lambda: True)
    assert cache_files(torch_home) == []


def test_http_error_is_one_plain_line(server: WeightsServer, torch_home: Path) -> None:
    dst = torch_home / "hub" / "checkpoints" / "absent-12345678.pth"
    with pytest.raises(wd.DownloadError) as info:
        wd.download_url(server.url + "absent-12345678.pth", dst, hash_prefix="12345678")
    assert str(info.value) == (
        f"Could not download {server.url}absent-12345678.pth: HTTP 404 Not Found. Download it "
        f"on a machine with internet and pass --weights FILE, or copy it into {dst.parent}.")
    assert cache_files(torch_home) == []


@pytest.mark.parametrize(("exc", "reason"), [
    (urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution")),
     "no network connection"),
    (urllib.error.URLError(OSError(101, "Network is unreachable")), "no network connection"),
    (urllib.error.URLError(TimeoutError("timed out")), "no network connection (timed out)"),
    (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
     "connection refused"),
])
def test_offline_messages(exc: Exception, reason: str, tmp_path: Path) -> None:
    url = "https://download.pytorch.org/models/x-12345678.pth"
    assert wd.failure_message(url, exc, tmp_path) == (
        f"Could not download {url}: {reason}. Download it on a machine with internet and pass "
        f"--weights FILE, or copy it into {tmp_path}.")


def test_offline_dns_failure_through_the_cli(torch_home: Path, tmp_path: Path, monkeypatch,
                                             capsys) -> None:
    """The official URL with no network (urlopen fails as it does without DNS)."""
    monkeypatch.delenv(wd.BASE_URL_ENV, raising=False)

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(wd.urllib.request, "urlopen", offline)
    code = workbench_main(["train", str(tmp_path / "voc"), "--weights", "coco",
                           "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    cache = torch_home / "hub" / "checkpoints"
    assert code == 2
    assert captured.err == (
        "Could not download https://download.pytorch.org/models/ssdlite320_mobilenet_v3_large_"
        "coco-a79551df.pth: no network connection. Download it on a machine with internet and "
        f"pass --weights FILE, or copy it into {cache}.\n")
    assert captured.out.splitlines()[0].startswith("COCO detector weights for ")  # size first
    assert not torch_home.exists() and nothing_in(tmp_path / "run")


def test_server_down_exits_2_with_one_line(torch_home: Path, tmp_path: Path, monkeypatch,
                                           capsys) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(wd.BASE_URL_ENV, f"http://127.0.0.1:{port}/models/")
    code = workbench_main(["train", str(tmp_path / "voc"), "--weights", "coco",
                           "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    cache = torch_home / "hub" / "checkpoints"
    assert code == 2
    assert captured.err == (
        f"Could not download http://127.0.0.1:{port}/models/ssdlite320_mobilenet_v3_large_coco-"
        "a79551df.pth: connection refused. Download it on a machine with internet and pass "
        f"--weights FILE, or copy it into {cache}.\n")
    assert "Traceback" not in captured.out + captured.err
    assert not torch_home.exists() and nothing_in(tmp_path / "run")


def test_model_without_weights_is_a_clear_message(torch_home: Path, tmp_path: Path,
                                                  capsys) -> None:
    code = workbench_main(["train", str(tmp_path), "--model", "demo_ssdlite_cpu",
                           "--weights", "imagenet", "--out", str(tmp_path / "run")])
    assert code == 2
    assert capsys.readouterr().err.startswith(
        "demo_ssdlite_cpu has no ImageNet backbone weights (torchvision publishes none for it; "
        "it trains from scratch). Models with ImageNet backbone weights: ssd300_vgg16, ")


def test_already_cached_makes_no_request(server: WeightsServer, torch_home: Path,
                                         monkeypatch) -> None:
    data = os.urandom(50_000)
    name = server.add(data, "tiny_coco")
    point_coco_at(monkeypatch, name)
    cached = torch_home / "hub" / "checkpoints" / name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(data)
    out = io.StringIO()
    assert fetch_weights(MODEL, "coco", out=out) == 0
    assert out.getvalue() == (f"COCO detector weights for {MODEL} already in the torch hub "
                              f"cache: {cached} (no download)\n")
    assert wd.download(wd.remote_weights(MODEL, "coco")) == cached
    assert server.requests == []


def test_coco_request_without_the_file_says_how_to_get_it(torch_home: Path) -> None:
    with pytest.raises(WeightsError, match=r"not in the torch hub cache .*--weights coco"):
        detectors.build_detector(MODEL, 3, image_size=96, weights="coco")


# --------------------------------------------------------------------------------------------
# end to end: a real state_dict served, downloaded, loaded with head re-sizing
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def coco_like_bytes() -> bytes:
    return W.coco_like_bytes()


def test_coco_download_builds_a_two_class_model_from_the_served_file(
        server: WeightsServer, torch_home: Path, monkeypatch, coco_like_bytes: bytes) -> None:
    name = server.add(coco_like_bytes, "ssdlite320_mobilenet_v3_large_coco")
    point_coco_at(monkeypatch, name)
    assert fetch_weights(MODEL, "coco", out=io.StringIO()) == 0
    served = torch.load(io.BytesIO(coco_like_bytes), weights_only=True)
    model, info = detectors.build_detector(MODEL, 3, weights="coco")
    assert info["weights_kind"] == "detector"
    assert info["weights_source"] == f"coco:{torch_home / 'hub' / 'checkpoints' / name}"
    own = model.state_dict()
    backbone = [k for k in own if k.startswith("backbone.")]
    assert len(backbone) > 100
    assert all(torch.equal(own[k], served[k]) for k in backbone)
    # the class-dependent head is re-sized (3 classes, not 91) and left at its fresh init
    cls = [k for k in info["reinitialised"] if "classification_head" in k]
    assert cls and all(own[k].shape != served[k].shape for k in cls)
    assert "re-initialised for 2 classes" in info["weights_message"]


def test_finetune_learning_rate_follows_the_weights() -> None:
    cfg = TrainConfig(images_dir=Path("."), batch_size=4)
    assert cfg.effective_lr("ssd") == pytest.approx(0.005)
    assert cfg.effective_lr("ssd", weights_kind="detector") == pytest.approx(0.0005)
    assert cfg.effective_lr("ssd", weights_kind="backbone") == pytest.approx(0.0005)
    assert cfg.effective_lr("fasterrcnn", weights_kind="detector") == pytest.approx(0.0005)
    assert cfg.effective_lr("fasterrcnn", weights_kind="backbone") == pytest.approx(0.005)
    assert cfg.replace(lr=0.01).effective_lr("ssd", weights_kind="detector") == 0.01


@pytest.mark.slow
def test_cli_trains_from_downloaded_coco_weights_and_resume_keeps_the_recipe(
        server: WeightsServer, torch_home: Path, tmp_path: Path, monkeypatch, capsys,
        coco_like_bytes: bytes, write_tiny_voc) -> None:
    name = server.add(coco_like_bytes, "ssdlite320_mobilenet_v3_large_coco")
    point_coco_at(monkeypatch, name)
    write_tiny_voc(tmp_path / "voc")
    run = tmp_path / "run"
    common = ["train", str(tmp_path / "voc"), "--image-size", "96", "--batch-size", "4",
              "--max-steps-per-epoch", "1", "--warmup-steps", "1", "--out", str(run)]
    assert workbench_main([*common, "--epochs", "1", "--weights", "coco"]) == 0
    out = capsys.readouterr().out
    assert "downloading" in out and ("weights: loaded COCO detector weights StandInWeights."
                                     "COCO_V1 from the torch hub cache") in out
    assert "fine-tuning: learning rate 0.0005 (0.1 x the from-scratch default)" in out
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["detector"]["weights_kind"] == "detector"
    assert ckpt["optimizer"]["param_groups"][0]["initial_lr"] == pytest.approx(0.0005)
    assert workbench_main([*common, "--epochs", "2", "--resume", str(run / "last.pt")]) == 0
    assert "downloading" not in capsys.readouterr().out
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 2
    assert ckpt["optimizer"]["param_groups"][0]["initial_lr"] == pytest.approx(0.0005)
    assert [r[0] for r in server.requests] == ["HEAD", "GET"]  # one download, in the first run
