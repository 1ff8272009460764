"""A data file is text before it is a CSV: binary input is named as such, UTF-16/32 files with a
byte order mark are transcoded to UTF-8 on the way to COPY, a UTF-16 file without one is named."""

from __future__ import annotations

import gzip
import io
import random
import zlib

import pytest

from include.ingest.loader import IngestError, not_text_reason, read_header

pytestmark = pytest.mark.unit

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
LINES = [HEADER, "536365,85123A,CAFÉ HEART T-LIGHT £,6,12/1/2010 8:26,2.55,17850,United Kingdom"]
TEXT = "\r\n".join(LINES) + "\r\n"


def _png() -> bytes:
    """A real 1x1 PNG: signature, IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (random.Random(7).randbytes(4096), "not a text file (binary data at byte"),
        (_png(), "not a text file: a PNG image (signature at byte 0)"),
        (gzip.compress(TEXT.encode("latin-1")), "not a text file: gzip-compressed data"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not a text file: a PDF document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "Excel 97-2003 workbook"),
        (TEXT.encode("utf-16-le"), "looks UTF-16 encoded without a byte order mark"),
        (TEXT.encode("utf-16-be"), "looks UTF-16 encoded without a byte order mark"),
        (
            TEXT.encode("latin-1")[:60] + b"\x00\x00\x00" + TEXT.encode("latin-1")[60:],
            "binary data at byte 60: 0x00",
        ),
    ],
    ids=["random", "png", "gzip", "pdf", "xls", "utf16le-no-bom", "utf16be-no-bom", "nul-in-text"],
)
def test_non_text_input_is_named(content, words):
    with pytest.raises(IngestError) as err:
        read_header(io.BytesIO(content), "upload.csv")
    message = str(err.value)
    assert message.startswith("upload.csv: ") and words in message, message
    assert "expected a CSV file" in message or "save it as UTF-8" in message


@pytest.mark.parametrize(
    "text",
    [TEXT, TEXT.replace("\r\n", "\n"), "\ufeff" + TEXT, TEXT + "a\tb;c|d\f\v\x1a\n"],
    ids=["crlf", "lf", "utf8-bom", "tab-ff-vt-sub"],
)
def test_ordinary_text_passes(text):
    for encoding in ("latin-1", "utf-8") if "\ufeff" not in text else ("utf-8",):
        assert not_text_reason(text.encode(encoding)) is None


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be-bom", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_transcoded_to_utf8(encoding):
    data = ("\ufeff" + TEXT).encode("utf-16-be") if encoding == "utf-16-be-bom" else TEXT.encode(encoding)
    head = read_header(io.BytesIO(data), "upload.csv")
    assert head.transcoded_from == ("utf-16" if encoding.startswith("utf-16") else "utf-32")
    assert head.header == HEADER
    assert head.first + head.stream.read() == TEXT.encode("utf-8")  # every byte, the BOM gone


def test_transcoding_streams_in_chunks(monkeypatch):
    """A file larger than a chunk comes through whole (the decoder keeps split code units)."""
    from include import config

    monkeypatch.setattr(config, "COPY_CHUNK_BYTES", 7)  # odd: splits UTF-16 code units
    text = (
        HEADER
        + "\n"
        + "\n".join(f"5{i:05d},22138,CRÈME BRÛLÉE Ω,3,12/9/2011 12:50,4.95,12680,France" for i in range(3000))
        + "\n"
    )
    head = read_header(io.BytesIO(text.encode("utf-16")), "big.csv")
    assert head.first + head.stream.read() == text.encode("utf-8")


def test_invalid_utf16_is_named():
    data = "\ufeffInvoiceNo\n".encode("utf-16-le") + b"\x00\xd8\x41\x00"  # a lone high surrogate
    with pytest.raises(IngestError, match=r"upload.csv: not valid utf-16 text"):
        head = read_header(io.BytesIO(data), "upload.csv")
        head.stream.read()
