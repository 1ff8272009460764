"""Stream a landed file into its `raw` table with COPY, and record the load in the audit table.

The file's bytes go to PostgreSQL unparsed (COPY does the CSV parsing and the transcoding), so
memory stays flat whatever the size. Each raw row carries its load_id and source line number,
filled in by column defaults during the COPY. A rerun of the same DAG run deletes that load's
rows and copies again in one transaction: nothing duplicates, nothing half-loaded is visible.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from include import config
from include.errors import BadInputError
from include.ingest.layouts import LAYOUTS, HeaderMatch, Layout, LayoutError, match_header

log = logging.getLogger(__name__)

PROGRESS_EVERY_BYTES = 16 << 20


class IngestError(BadInputError, ValueError):
    """The landed file cannot be loaded: the message names the file and the problem."""


@dataclass(frozen=True)
class LoadResult:
    load_id: int
    layout: str
    raw_table: str
    member: str
    rows: int
    extra_columns: tuple[str, ...]
    seconds: float

    def to_xcom(self) -> dict:
        return asdict(self)


@contextmanager
def open_data_file(path: Path, name: str | None = None) -> Iterator[tuple[str, BinaryIO]]:
    """Yield (label, binary stream) of the CSV in `path` (a .zip holding one, or a plain file).
    Messages name the file `name` (the source as the user gave it), else `path`."""
    shown = name or str(path)
    if not path.is_file():
        raise IngestError(f"{shown}: file not found")
    if zipfile.is_zipfile(path):
        try:
            zf = zipfile.ZipFile(path)
            names = [n for n in zf.namelist() if not n.endswith("/")]
        except (zipfile.BadZipFile, OSError) as err:
            raise IngestError(f"{shown}: not a readable zip archive ({err})") from err
        with zf:
            known = [n for n in names if Path(n).name in {lay.file_name for lay in LAYOUTS.values()}]
            csvs = known or [n for n in names if n.lower().endswith((".csv", ".tsv"))]
            if len(csvs) != 1:
                what = "no CSV file" if not csvs else f"{len(csvs)} CSV files"
                raise IngestError(
                    f"{shown}: the zip holds {what} (members: {', '.join(names) or 'none'}); expected one data CSV"
                )
            label = f"{shown}!{csvs[0]}"
            try:
                with zf.open(csvs[0]) as stream:
                    yield label, stream
            except (zipfile.BadZipFile, EOFError, zlib_error()) as err:
                raise IngestError(f"{label}: the zip is corrupt or truncated ({err})") from err
        return
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if head.startswith(b"PK"):
            raise IngestError(f"{shown}: looks like a zip archive but is corrupt or truncated")
        yield shown, fh


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


# File signatures of common non-text files, to name what was given instead of a CSV.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "gzip-compressed data; decompress it, or zip the CSV"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook or other OLE2 file; export it as CSV"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "an executable"),
)
# Byte order marks of the encodings transcoded to UTF-8 on the way to COPY (UTF-32 first: its
# little-endian mark starts with UTF-16's).
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 control bytes that never occur in a text CSV (tab, newlines, form feed, vertical tab, ESC
# and the DOS end-of-file mark SUB are allowed).
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x19\x1c-\x1f]")


def not_text_reason(head: bytes) -> str | None:
    """Why `head` (the first bytes of a file) is not CSV text, or None when it may be."""
    for signature, what in SIGNATURES:
        if head.startswith(signature):
            kind, _, hint = what.partition("; ")
            return f"not a text file: {kind} (signature at byte 0{'; ' + hint if hint else ''})"
    if utf16_without_bom(head):
        return (
            "the file looks UTF-16 encoded without a byte order mark (NUL every other byte); "
            "save it as UTF-8 or ISO-8859-1 CSV"
        )
    control = _CONTROL.search(head)
    if control:
        return f"not a text file (binary data at byte {control.start()}: 0x{head[control.start()]:02x})"
    return None


def utf16_without_bom(head: bytes) -> bool:
    """NUL at every odd (little-endian) or every even (big-endian) position of a text start."""
    sample = head[: min(len(head), 400) // 2 * 2]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    return (odd.count(0) == len(odd) and even.count(0) == 0) or (
        even.count(0) == len(even) and odd.count(0) == 0
    )


class _Transcoded(io.RawIOBase):
    """A binary stream of UTF-8 bytes decoded incrementally from `stream` in `encoding`
    (its byte order mark consumed): memory stays flat."""

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        while not self._pending and not self._done:
            raw = self._stream.read(config.COPY_CHUNK_BYTES)
            self._done = not raw
            self._pending = self._decoder.decode(raw, final=self._done).encode("utf-8")
        n = min(len(b), len(self._pending))
        b[:n], self._pending = self._pending[:n], self._pending[n:]
        return n


@dataclass(frozen=True)
class Head:
    """The start of a data file: the bytes read so far, the header line, the stream of the rest
    (UTF-8 when the file was transcoded) and the encoding it was transcoded from."""

    first: bytes
    header: str
    stream: BinaryIO
    transcoded_from: str | None = None


def read_header(stream: BinaryIO, label: str) -> Head:
    """Read up to the first newline, after checking the file is text. UTF-16 and UTF-32 files
    with a byte order mark are transcoded to UTF-8; binary data is named as such."""
    first = stream.read(1 << 16)
    if not first:
        raise IngestError(f"{label}: the file is empty (no header, no rows)")
    transcoded_from = next((enc for bom, enc in BOMS if first.startswith(bom)), None)
    if transcoded_from:
        stream = io.BufferedReader(_Transcoded(_Prefixed(first, stream), transcoded_from))
        try:
            first = stream.read(1 << 16)
        except UnicodeDecodeError as err:
            raise IngestError(f"{label}: not valid {transcoded_from} text ({err.reason})") from err
        if not first:
            raise IngestError(f"{label}: the file is empty (a {transcoded_from} byte order mark only)")
        log.info("%s: %s with a byte order mark, transcoded to UTF-8 for COPY", label, transcoded_from)
    reason = not_text_reason(first)
    if reason:
        raise IngestError(f"{label}: {reason}; expected a CSV file (or a zip holding one)")
    newline = first.find(b"\n")
    header = first if newline < 0 else first[:newline]
    if header.startswith(codecs.BOM_UTF8):
        header = header[len(codecs.BOM_UTF8) :]
    return Head(first, header.decode("latin-1").rstrip("\r"), stream, transcoded_from)


def _copy_statement(
    layout: Layout, *, transcode_in_server: bool, pg_encoding: str | None = None
) -> sql.Composed:
    options = [sql.SQL("format csv"), sql.SQL("header true")]
    options.append(
        sql.SQL("delimiter {}").format(sql.Literal(layout.delimiter if transcode_in_server else ","))
    )
    if transcode_in_server:
        options.append(sql.SQL("encoding {}").format(sql.Literal(pg_encoding or layout.pg_encoding)))
    return sql.SQL("copy {table} ({columns}) from stdin with ({options})").format(
        table=sql.Identifier("raw", layout.raw_table),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in layout.raw_columns),
        options=sql.SQL(", ").join(options),
    )


def _stream_bytes(copy: psycopg.Copy, first: bytes, stream: BinaryIO, label: str) -> int:
    """Send the file's bytes as they are; COPY parses and transcodes them."""
    sent, next_report = 0, PROGRESS_EVERY_BYTES
    chunk = first
    while chunk:
        copy.write(chunk)
        sent += len(chunk)
        if sent >= next_report:
            log.info("%s: %d MB sent to COPY", label, sent >> 20)
            next_report += PROGRESS_EVERY_BYTES
        chunk = stream.read(config.COPY_CHUNK_BYTES)
    return sent


def _stream_reordered(
    copy: psycopg.Copy, first: bytes, stream: BinaryIO, match: HeaderMatch, encoding: str | None = None
) -> int:
    """Slow path for headers that differ in order or carry extra columns: parse and re-emit
    only the layout's columns, in its order (tolerating unknown extra columns)."""
    layout = match.layout
    keys = [c.strip() for c in match.columns]
    index = [keys.index(next(k for k in keys if _same(k, c))) for c in layout.source_columns]
    text = io.TextIOWrapper(_Prefixed(first, stream), encoding=encoding or layout.encoding, newline="")
    reader = csv.reader(text, delimiter=layout.delimiter)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(layout.source_columns)
    rows = 0
    for row in reader:
        if rows == 0:
            rows = 1  # the header, already written in layout order
            continue
        writer.writerow([row[i] if i < len(row) else None for i in index])
        rows += 1
        if buf.tell() > config.COPY_CHUNK_BYTES:
            copy.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
    copy.write(buf.getvalue())
    return rows - 1


def _same(a: str, b: str) -> bool:
    from include.ingest.layouts import snake_case

    return snake_case(a) == snake_case(b)


class _Prefixed(io.RawIOBase):
    """A binary stream that first yields `prefix`, then the rest of `stream`."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix, self._stream = prefix, stream

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        if self._prefix:
            n = min(len(b), len(self._prefix))
            b[:n], self._prefix = self._prefix[:n], self._prefix[n:]
            return n
        data = self._stream.read(len(b))
        b[: len(data)] = data
        return len(data)


_RAW_LOCK = 7_311_002  # one raw load at a time: the line-number sequence is shared


def copy_into_raw(
    conn: psycopg.Connection,
    path: Path,
    load_id: int,
    layout_name: str | None = None,
    *,
    replace: bool = True,
    source_name: str | None = None,
) -> LoadResult:
    """Load `path` as load `load_id` into its raw table; `replace` first deletes rows an earlier
    attempt of the same load left (a rerun), which a first attempt can skip. Messages name the
    file `source_name` (the source as given), else `path`."""
    started = time.monotonic()
    with open_data_file(path, source_name) as (label, raw_stream):
        head = read_header(raw_stream, label)
        first, header, stream = head.first, head.header, head.stream
        try:
            match = match_header(header, label, layout_name)
        except LayoutError as err:
            raise IngestError(str(err)) from err
        layout = match.layout
        if match.extra_columns:
            log.warning(
                "%s: ignoring %d column(s) unknown to layout %s: %s",
                label,
                len(match.extra_columns),
                layout.name,
                ", ".join(match.extra_columns),
            )
        # No transaction of its own: the caller commits the load together with its audit row.
        conn.execute("select pg_advisory_xact_lock(%s)", (_RAW_LOCK,))
        for other in LAYOUTS.values() if replace else ():  # a rerun may have seen another layout
            conn.execute(
                sql.SQL("delete from {} where load_id = %s").format(sql.Identifier("raw", other.raw_table)),
                (load_id,),
            )
        conn.execute(
            "select setval('raw.source_line_seq', 1), set_config('ingest.load_id', %s, true)",
            (str(load_id),),
        )
        cur = conn.cursor()
        # A transcoded file (UTF-16/32 with a byte order mark) reaches COPY as UTF-8.
        encoding = "utf-8" if head.transcoded_from else layout.encoding
        try:
            statement = _copy_statement(
                layout,
                transcode_in_server=match.is_exact,
                pg_encoding="UTF8" if head.transcoded_from else None,
            )
            # The queued writer sends from a thread while this one reads and inflates the file.
            with cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
                if match.is_exact:
                    _stream_bytes(copy, first, stream, label)
                else:
                    _stream_reordered(copy, first, stream, match, encoding)
        except psycopg.errors.DataError as err:
            raise IngestError(f"{label}: {_pg_problem(err)}") from err
        except UnicodeDecodeError as err:
            raise IngestError(
                f"{label}: not valid {head.transcoded_from or encoding} text ({err.reason})"
            ) from err
        rows = cur.rowcount
        if rows <= 0:
            raise IngestError(f"{label}: header only, no data rows (layout {layout.name})")
    seconds = time.monotonic() - started
    log.info("%s: %d rows copied into raw.%s in %.2f s", label, rows, layout.raw_table, seconds)
    return LoadResult(
        load_id, layout.name, layout.raw_table, label, rows, match.extra_columns, round(seconds, 3)
    )


def _pg_problem(err: psycopg.Error) -> str:
    diag = err.diag
    where = f" ({diag.context.strip()})" if diag.context else ""
    return f"{diag.message_primary}{where}"


def prune_raw_loads(conn: psycopg.Connection, keep: int = config.RAW_LOADS_KEPT) -> int:
    """Delete raw rows of all but the newest `keep` successful loads (and of failed ones)."""
    removed = 0
    keep_ids = [
        r[0]
        for r in conn.execute(
            "select load_id from audit.ingest_runs where status = 'success' order by load_id desc limit %s",
            (keep,),
        )
    ]
    running = [r[0] for r in conn.execute("select load_id from audit.ingest_runs where status = 'running'")]
    for layout in LAYOUTS.values():
        cur = conn.execute(
            sql.SQL("delete from {} where not (load_id = any(%s))").format(
                sql.Identifier("raw", layout.raw_table)
            ),
            (keep_ids + running,),
        )
        removed += cur.rowcount
    return removed
