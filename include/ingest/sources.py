"""Pull a source (Kaggle dataset, local file, http(s) URL) and land it under its sha256.

Landing layout: `<LANDING_DIR>/<sha256>/<file name>`. Landing the same bytes twice is a no-op
that says so. Downloads stream to disk with a timeout and retries; memory stays flat.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from include import config
from include.errors import BadInputError

log = logging.getLogger(__name__)

KAGGLE_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
CHUNK = 1 << 20


class SourceError(BadInputError, RuntimeError):
    """The source could not be pulled: the message names it and what to do."""


@dataclass(frozen=True)
class Landed:
    source: str
    kind: str  # 'file' | 'url' | 'kaggle'
    path: str  # the landed file
    file_name: str
    sha256: str
    size_bytes: int
    already_landed: bool
    seconds: float

    def to_xcom(self) -> dict:
        return asdict(self)


def classify(source: str) -> str:
    """'url' for http(s), 'file' for an existing path, 'kaggle' for an owner/dataset slug."""
    if re.match(r"^https?://", source, re.IGNORECASE):
        return "url"
    if Path(source).expanduser().exists():
        return "file"
    if KAGGLE_SLUG.match(source):
        return "kaggle"
    raise SourceError(
        f"source {source!r} is neither an existing file, an http(s) URL, nor a Kaggle "
        "dataset slug like 'carrie1/ecommerce-data'"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def land_file(path: Path, landing_dir: Path, *, move: bool = False) -> tuple[Path, str, bool]:
    """Put `path` at landing/<sha256>/<name>; returns (landed path, sha256, already_landed)."""
    sha = sha256_of(path)
    target_dir = landing_dir / sha
    existing = sorted(p for p in target_dir.glob("*") if p.is_file()) if target_dir.is_dir() else []
    if existing:
        if move:
            path.unlink(missing_ok=True)
        return existing[0], sha, True
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    partial = target.with_name(target.name + ".partial")
    if move:
        shutil.move(path, partial)
    else:
        shutil.copyfile(path, partial)
    partial.replace(target)  # atomic: a landed file is always whole
    return target, sha, False


def download_url(
    url: str,
    dest_dir: Path,
    timeout: float = config.DOWNLOAD_TIMEOUT_SECONDS,
    retries: int = config.DOWNLOAD_RETRIES,
) -> Path:
    """Stream `url` to a file in dest_dir, retrying with exponential backoff."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    name = Path(urllib.request.url2pathname(url.split("?", 1)[0].rstrip("/"))).name or "download"
    last: Exception | None = None
    for attempt in range(1, retries + 1):
        fd, tmp = tempfile.mkstemp(dir=dest_dir, suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total = 0
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    total += len(chunk)
            target = dest_dir / name
            Path(tmp).replace(target)
            log.info("downloaded %s (%d bytes)", url, total)
            return target
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            Path(tmp).unlink(missing_ok=True)
            last = err
            if isinstance(err, urllib.error.HTTPError) and 400 <= err.code < 500:
                break  # a client error will not heal by retrying
            if attempt < retries:
                wait = 2 ** (attempt - 1)
                log.warning("download of %s failed (%s); retry %d in %d s", url, err, attempt, wait)
                time.sleep(wait)
    raise SourceError(f"could not download {url}: {last}") from last


def kaggle_credentials() -> dict[str, str]:
    """KAGGLE_USERNAME/KAGGLE_KEY from the environment, else the Airflow connection
    `config.KAGGLE_CONN_ID` (login = user name, password = API key). Never logged."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return {"KAGGLE_USERNAME": os.environ["KAGGLE_USERNAME"], "KAGGLE_KEY": os.environ["KAGGLE_KEY"]}
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(config.KAGGLE_CONN_ID)
    except Exception:  # no connection configured
        return {}
    if conn.login and conn.password:
        return {"KAGGLE_USERNAME": conn.login, "KAGGLE_KEY": conn.password}
    return {}


def download_kaggle(slug: str, dest_dir: Path) -> Path:
    """Download a Kaggle dataset with kagglehub and return the data file in it.

    A dataset of one file gives that file; several files give a zip-free folder, from which the
    file of a known layout is picked.
    """
    import kagglehub

    creds = kaggle_credentials()
    saved = {k: os.environ.get(k) for k in creds}
    os.environ.update(creds)  # kagglehub reads credentials from the environment
    out_dir = Path(tempfile.mkdtemp(prefix="kaggle-", dir=_mkdir(dest_dir)))
    try:
        last: Exception | None = None
        for attempt in range(1, config.DOWNLOAD_RETRIES + 1):
            try:
                folder = Path(kagglehub.dataset_download(slug, output_dir=str(out_dir), force_download=True))
                break
            except Exception as err:  # kagglehub raises many kinds
                last = err
                if attempt < config.DOWNLOAD_RETRIES:
                    log.warning(
                        "Kaggle download of %s failed (%s); retry %d", slug, type(err).__name__, attempt
                    )
                    time.sleep(2 ** (attempt - 1))
        else:
            hint = (
                ""
                if creds
                else " No Kaggle credentials found: set KAGGLE_USERNAME and KAGGLE_KEY, or the Airflow connection kaggle_default."
            )
            raise SourceError(
                f"could not download Kaggle dataset {slug!r}: {type(last).__name__}: {last}.{hint}"
            ) from last
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return _pick_data_file(folder, slug)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pick_data_file(folder: Path, slug: str) -> Path:
    from include.ingest.layouts import LAYOUTS

    if folder.is_file():
        return folder
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    known = {layout.file_name for layout in LAYOUTS.values()}
    for candidates in (
        [p for p in files if p.name in known],
        [p for p in files if p.suffix.lower() in {".csv", ".zip"}],
    ):
        if len(candidates) == 1:
            return candidates[0]
    raise SourceError(f"Kaggle dataset {slug!r} holds {[p.name for p in files]}: no single data file to load")


def land(source: str, landing_dir: Path = config.LANDING_DIR) -> Landed:
    """Pull `source` and land it. Returns what was landed (small: fits in XCom)."""
    started = time.monotonic()
    kind = classify(source)
    if kind == "file":
        landed, sha, already = land_file(Path(source).expanduser().resolve(), landing_dir)
    else:
        download_dir = config.DOWNLOAD_DIR
        fetched = (
            download_url(source, download_dir) if kind == "url" else download_kaggle(source, download_dir)
        )
        landed, sha, already = land_file(fetched, landing_dir, move=True)
    seconds = time.monotonic() - started
    size = landed.stat().st_size
    if already:
        log.info("%s: already landed as %s (sha256 %s): nothing to pull", source, landed, sha[:12])
    else:
        log.info("%s: landed %d bytes as %s in %.2f s", source, size, landed, seconds)
    return Landed(source, kind, str(landed), landed.name, sha, size, already, round(seconds, 3))
