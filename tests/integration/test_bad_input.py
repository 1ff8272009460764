"""Bad input, kind by kind: the outcome a data engineer expects and a message that names the
problem. Files are real sample lines plus the bad ones, loaded into the real PostgreSQL."""

from __future__ import annotations

import gzip
import random
import zipfile
from pathlib import Path

import pytest

from include import config

pytestmark = pytest.mark.integration

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


@pytest.fixture(scope="module")
def good_lines() -> list[str]:
    """The first 400 data lines of the shipped sample (real, ISO-8859-1)."""
    with zipfile.ZipFile(config.SAMPLE_SOURCE) as zf:
        text = zf.read("data.csv").decode("latin-1")
    return text.splitlines()[1:401]


def _write(
    tmp_path: Path, name: str, lines: list[str], header: str = HEADER, encoding: str = "latin-1"
) -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode(encoding))
    return path


def _ingest(path: Path, run_id: str, layout: str | None = None) -> dict:
    from include.tasks.ingest_ecommerce import land_source, load_raw

    return load_raw(land_source(str(path)), "test_bad_input", run_id, layout)


def _clean(load_id: int):
    from include.transform.cleaning import clean_load

    return clean_load(load_id)


def _rejected(db, load_id: int) -> dict[int, tuple[str, str]]:
    rows = db.execute(
        "select source_line_number, reason_code, reason from staging.rejected_lines where load_id = %s",
        (load_id,),
    ).fetchall()
    return {line: (code, reason) for line, code, reason in rows}


BAD_ROWS = {
    # kind: (line, reason_code, words in the reason)
    "blank date": ("581001,22138,BAKING SET,3,,4.95,12680,France", "missing_date", "InvoiceDate is blank"),
    "impossible date": (
        "581002,22138,BAKING SET,3,2/30/2011 8:26,4.95,12680,France",
        "unparseable_date",
        "2/30/2011 8:26",
    ),
    "impossible month": (
        "581003,22138,BAKING SET,3,13/1/2011 8:26,4.95,12680,France",
        "unparseable_date",
        "13/1/2011",
    ),
    "non-numeric quantity": (
        "581004,22138,BAKING SET,six,12/9/2011 12:50,4.95,12680,France",
        "unparseable_quantity",
        "six",
    ),
    "non-numeric price": (
        "581005,22138,BAKING SET,3,12/9/2011 12:50,4 pounds,12680,France",
        "unparseable_price",
        "4 pounds",
    ),
    "absurd quantity": (
        "581006,22138,BAKING SET,1e12,12/9/2011 12:50,4.95,12680,France",
        "absurd_magnitude",
        "1e12",
    ),
    "absurd price": (
        "581007,22138,BAKING SET,3,12/9/2011 12:50,1e308,12680,France",
        "absurd_magnitude",
        "1e308",
    ),
    "date after the extract": (
        "581008,22138,BAKING SET,3,12/9/2099 12:50,4.95,12680,France",
        "date_after_extract",
        "2099",
    ),
    "fractional customer": (
        "581009,22138,BAKING SET,3,12/9/2011 12:50,4.95,12680.5,France",
        "bad_customer_id",
        "12680.5",
    ),
    "bad invoice": (
        "X581010,22138,BAKING SET,3,12/9/2011 12:50,4.95,12680,France",
        "bad_invoice_no",
        "X581010",
    ),
    "positive cancellation": (
        "C581011,22138,BAKING SET,3,12/9/2011 12:50,4.95,12680,France",
        "inconsistent_cancellation",
        "C581011",
    ),
}


def test_bad_rows_are_rejected_one_reason_each_and_the_rest_loads(warehouse, db, tmp_path, good_lines):
    lines = good_lines + [line for line, _, _ in BAD_ROWS.values()]
    load = _ingest(_write(tmp_path, "bad_rows.csv", lines), "bad-rows")
    result = _clean(load["load_id"])
    assert result.raw_rows == len(lines) == result.clean_rows + result.return_rows + result.rejected_rows
    rejected = _rejected(db, load["load_id"])
    first_bad = len(good_lines) + 2  # header is line 1
    for offset, (kind, (_, code, words)) in enumerate(BAD_ROWS.items()):
        got_code, reason = rejected[first_bad + offset]
        assert got_code == code, kind
        assert words in reason, (kind, reason)


def test_hostile_text_loads_verbatim(warehouse, db, tmp_path, good_lines):
    hostile = "QUOTE \"X\"; DROP TABLE staging.order_lines; -- back\\slash\ttab\nnew line, comma 'single'"
    field = '"' + hostile.replace('"', '""') + '"'
    line = f"581020,99999Z,{field},2,12/9/2011 12:50,1.25,12680,France"
    load = _ingest(_write(tmp_path, "hostile.csv", [*good_lines, line]), "hostile")
    _clean(load["load_id"])
    raw = db.execute(
        "select description from raw.online_retail_lines where load_id = %s and stock_code = '99999Z'",
        (load["load_id"],),
    ).fetchone()[0]
    assert raw == hostile
    assert (
        db.execute("select description from staging.products where product_id = '99999Z'").fetchone()[0]
        == hostile
    )
    assert (
        db.execute("select count(*) from staging.order_lines where product_id = '99999Z'").fetchone()[0] == 1
    )


def test_unknown_extra_columns_are_tolerated_with_a_warning(warehouse, db, tmp_path, good_lines, caplog):
    lines = [line + ",web" for line in good_lines]
    with caplog.at_level("WARNING"):
        load = _ingest(_write(tmp_path, "extra.csv", lines, header=HEADER + ",Channel"), "extra-column")
    assert load["rows"] == len(good_lines)
    assert tuple(load["extra_columns"]) == ("Channel",)
    assert "ignoring 1 column(s) unknown to layout online_retail: Channel" in caplog.text
    first = db.execute(
        "select invoice_no, country from raw.online_retail_lines where load_id = %s and source_line_number = 2",
        (load["load_id"],),
    ).fetchone()
    assert first == tuple(good_lines[0].split(",")[i] for i in (0, 7))


@pytest.mark.parametrize(
    ("kind", "content", "layout", "words"),
    [
        ("utf-16 without a byte order mark", "utf-16", None, "looks UTF-16 encoded"),
        ("random bytes", "random", None, "not a text file (binary data at byte"),
        ("png", "png", None, "not a text file: a PNG image"),
        ("gzip named .zip", "gzip", None, "not a text file: gzip-compressed data"),
        ("semicolons", "semicolon", None, "semicolon-separated"),
        ("missing column", "missing", None, "missing required column(s) Country"),
        ("wrong layout", "personality", "online_retail", "looks like layout 'customer_personality'"),
    ],
)
def test_unloadable_files_fail_naming_the_problem(
    warehouse, tmp_path, good_lines, kind, content, layout, words
):
    from include.ingest.layouts import LAYOUTS
    from include.ingest.loader import IngestError

    if content == "utf-16":
        path = _write(tmp_path, "utf16.csv", good_lines[:20], encoding="utf-16-le")
    elif content == "random":
        path = tmp_path / "random.csv"
        path.write_bytes(random.Random(3).randbytes(2048))
    elif content == "png":
        path = tmp_path / "chart.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    elif content == "gzip":
        path = tmp_path / "data.zip"
        path.write_bytes(gzip.compress(("\n".join([HEADER, *good_lines[:20]]) + "\n").encode("latin-1")))
    elif content == "semicolon":
        path = _write(
            tmp_path, "semi.csv", [x.replace(",", ";") for x in good_lines[:20]], HEADER.replace(",", ";")
        )
    elif content == "missing":
        path = _write(
            tmp_path, "missing.csv", [x.rsplit(",", 1)[0] for x in good_lines[:20]], HEADER.rsplit(",", 1)[0]
        )
    else:
        path = _write(
            tmp_path, "profiles.csv", ["1\t1970"], "\t".join(LAYOUTS["customer_personality"].source_columns)
        )
    with pytest.raises(IngestError) as err:
        _ingest(path, f"unloadable-{kind}", layout)
    assert path.name in str(err.value) and words in str(err.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_load_like_the_latin1_file(db, tmp_path, good_lines, encoding):
    """The same lines (with their pound signs and accents) as UTF-16/32 with a BOM are transcoded
    to UTF-8 for COPY: the raw rows equal those of the ISO-8859-1 original, line by line."""
    lines = [*good_lines[:50], "581099,22138,CAFÉ CRÈME £ SET,3,12/9/2011 12:50,4.95,12680,France"]
    latin = _ingest(_write(tmp_path, "latin1.csv", lines), f"bom-latin1-{encoding}")
    wide = _ingest(_write(tmp_path, f"{encoding}.csv", lines, encoding=encoding), f"bom-{encoding}")
    assert wide["rows"] == latin["rows"] == 51

    def rows(load_id: int) -> list[tuple]:
        return db.execute(
            "select source_line_number, invoice_no, stock_code, description, quantity, invoice_date,"
            " unit_price, customer_id, country from raw.online_retail_lines where load_id = %s order by 1",
            (load_id,),
        ).fetchall()

    assert rows(wide["load_id"]) == rows(latin["load_id"])
    assert rows(wide["load_id"])[-1][3] == "CAFÉ CRÈME £ SET"


def test_only_cancellations_fail_as_nothing_left(warehouse, db, tmp_path, good_lines):
    from include.transform.cleaning import CleaningError

    cancellations = [x for x in good_lines if x.startswith("C")] or [
        "C581100,22138,BAKING SET,-3,12/9/2011 12:50,4.95,12680,France"
    ]
    load = _ingest(_write(tmp_path, "only_cancellations.csv", cancellations), "only-cancellations")
    before = db.execute("select count(*), max(load_id) from staging.order_lines").fetchone()
    with pytest.raises(
        CleaningError, match=r"only_cancellations.csv: nothing left after cleaning: 0 clean sale lines"
    ):
        _clean(load["load_id"])
    assert db.execute("select count(*), max(load_id) from staging.order_lines").fetchone() == before


def test_rejected_share_above_threshold_fails_and_keeps_staging(warehouse, db, tmp_path, good_lines):
    from include.transform.cleaning import CleaningError

    bad = [f"58{i:04d},22138,BAKING SET,3,,4.95,12680,France" for i in range(60)]  # 60 / 460 = 13 %
    load = _ingest(_write(tmp_path, "many_bad.csv", good_lines + bad), "many-bad")
    before = db.execute("select count(*), max(load_id) from staging.order_lines").fetchone()
    with pytest.raises(
        CleaningError, match=r"many_bad.csv: 1\d\.\d % of lines rejected, above the 5.0 % threshold"
    ):
        _clean(load["load_id"])
    assert db.execute("select count(*), max(load_id) from staging.order_lines").fetchone() == before


NON_PRODUCT_CODES = [
    "POST",
    "DOT",
    "M",
    "D",
    "C2",
    "BANK CHARGES",
    "AMAZONFEE",
    "S",
    "PADS",
    "B",
    "CRUK",
    "GIFT_0001_10",
]
PRODUCT_CODES = ["85123A", "22138", "15056BL", "DCGSSBOY", "dcgs0003"]


def test_non_product_rule_and_canonical_description(warehouse, db, tmp_path, good_lines):
    """Postage, fees, manual lines and vouchers are separated by the stock-code rule; the
    canonical description of a product is the one most of its lines use."""
    extra = [
        f"58{i:04d},{code},SOMETHING,1,12/9/2011 12:50,1.00,12680,France"
        for i, code in enumerate(NON_PRODUCT_CODES + PRODUCT_CODES)
    ]
    # 99990: two lines say "MUG", one says "mug, red": MUG wins
    extra += [
        "581900,99990,MUG,1,12/9/2011 12:50,1.00,12680,France",
        "581901,99990,MUG,2,12/9/2011 12:51,1.00,12680,France",
        '581902,99990,"mug, red",1,12/9/2011 12:52,1.00,12680,France',
    ]
    load = _ingest(_write(tmp_path, "codes.csv", good_lines + extra), "codes")
    _clean(load["load_id"])
    rejected = dict(
        db.execute(
            "select stock_code, reason_code from staging.rejected_lines where load_id = %s and description = 'SOMETHING'",
            (load["load_id"],),
        ).fetchall()
    )
    assert rejected == {code: "non_product_code" for code in NON_PRODUCT_CODES}
    sold = {
        r[0] for r in db.execute("select product_id from staging.order_lines where invoice_no like '58%%'")
    }
    assert {code.upper() for code in PRODUCT_CODES} <= sold
    assert db.execute(
        "select description, description_variants from staging.products where product_id = '99990'"
    ).fetchone() == ("MUG", 2)
