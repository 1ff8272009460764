"""Pulling sources: local files land once by checksum, URLs stream from a real local HTTP
server, and the Kaggle client is exercised up to the network boundary."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path

import pytest

from include import config
from include.ingest import sources

pytestmark = pytest.mark.unit


def test_classify():
    assert sources.classify("carrie1/ecommerce-data") == "kaggle"
    assert sources.classify("https://example.org/data.zip") == "url"
    assert sources.classify(str(config.SAMPLE_SOURCE)) == "file"
    with pytest.raises(sources.SourceError, match="neither an existing file"):
        sources.classify("/no/such/file.csv")


def test_landing_the_same_bytes_twice_is_a_no_op(tmp_path, caplog):
    first = sources.land(str(config.SAMPLE_SOURCE), tmp_path)
    assert not first.already_landed
    assert Path(first.path) == tmp_path / first.sha256 / "online_retail_sample.zip"
    copy = tmp_path / "elsewhere" / "renamed.zip"
    copy.parent.mkdir()
    copy.write_bytes(config.SAMPLE_SOURCE.read_bytes())
    with caplog.at_level("INFO"):
        second = sources.land(str(copy), tmp_path)
    assert second.already_landed and second.path == first.path and second.sha256 == first.sha256
    assert "already landed" in caplog.text
    assert len(list(tmp_path.glob("*/*"))) == 2  # the landed file + the copy we made, no duplicate


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_source_streams_and_lands(http_server, tmp_path):
    root, base = http_server
    (root / "data.zip").write_bytes(config.SAMPLE_SOURCE.read_bytes())
    landed = sources.land(f"{base}/data.zip", tmp_path / "landing")
    assert landed.kind == "url" and landed.file_name == "data.zip"
    assert landed.sha256 == sources.sha256_of(config.SAMPLE_SOURCE)


def test_url_not_found_is_not_retried(http_server, tmp_path):
    _, base = http_server
    started = time.monotonic()
    with pytest.raises(
        sources.SourceError, match=r"could not download http://127.0.0.1:\d+/missing.zip: HTTP Error 404"
    ):
        sources.land(f"{base}/missing.zip", tmp_path)
    assert time.monotonic() - started < 5


def test_kaggle_download_reaches_the_network_boundary(monkeypatch, tmp_path):
    """The real kagglehub client runs with the credentials we give it and stops at the network
    (a proxy on a closed local port): the error names the dataset and never the key."""
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "not-a-real-key-0123456789")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setattr(config, "DOWNLOAD_RETRIES", 1)
    with pytest.raises(sources.SourceError) as err:
        sources.download_kaggle("carrie1/ecommerce-data", tmp_path)
    message = str(err.value)
    assert "'carrie1/ecommerce-data'" in message and "kaggle.com" in message
    assert "not-a-real-key" not in message


def test_kaggle_without_credentials_says_how_to_set_them(monkeypatch, tmp_path):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))  # no kaggle.json there
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setattr(config, "DOWNLOAD_RETRIES", 1)
    with pytest.raises(sources.SourceError, match="set KAGGLE_USERNAME and KAGGLE_KEY"):
        sources.download_kaggle("carrie1/ecommerce-data", tmp_path)
