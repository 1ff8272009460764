"""Every bad input the README lists ends with its reason on the terminal: `make demo`'s code path
(tools.cli main -> demo, real DAG runs with dag.test() on the test warehouse, one Airflow metadata
database for all of them) prints the failed DAG and task, the error naming the file and the
problem, the runbook link, and exits non-zero. The README's table is the list of cases."""

from __future__ import annotations

import gzip
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from include import config
from include.ingest.layouts import LAYOUTS

pytestmark = pytest.mark.integration

README = config.PROJECT_ROOT / "README.md"
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
HEADER_II = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"


def readme_cases() -> list[tuple[str, str]]:
    """(case, words make demo prints) of each row of the README's bad-input table."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("<!-- bad inputs:"))
    cases = []
    for line in lines[start + 3 :]:  # the comment, the table header, its separator
        if not line.startswith("|"):
            break
        kind, shown = (cell.strip() for cell in line.strip("|").split("|"))
        cases.append((kind, re.search(r"`(.+)`", shown).group(1)))
    return cases


CASES = readme_cases()


@pytest.fixture(scope="module")
def good_lines() -> list[str]:
    with zipfile.ZipFile(config.SAMPLE_SOURCE) as zf:
        return zf.read("data.csv").decode("latin-1").splitlines()[1:401]


def _csv(path: Path, lines: list[str], header: str = HEADER, encoding: str = "latin-1") -> Path:
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode(encoding))
    return path


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _text(lines: list[str], header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode("latin-1")


def _corrupt_member(tmp: Path, lines: list[str]) -> Path:
    """A stored (uncompressed) zip with one letter of the data changed: the central directory is
    intact, the CRC-32 of the member is not (the CSV itself still reads)."""
    path = _zip(
        tmp / "corrupt_data.zip",
        {"data.csv": _text([*lines, "581587,22138,BAKING SET,3,12/9/2011 12:50,4.95,12680,France"])},
        zipfile.ZIP_STORED,
    )
    data = bytearray(path.read_bytes())
    at = data.rindex(b"BAKING SET")  # in the member's data, near its end
    data[at] = ord("X")
    path.write_bytes(bytes(data))
    return path


Builder = Callable[[Path, list[str]], tuple[str, str]]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + bytes(40)
NOT_UTF8 = [
    "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085,United Kingdom",
    "489434,79323P,CAF\xc9 PINK CHERRY LIGHTS,12,2009-12-01 07:45:00,6.75,13085,United Kingdom",
]
BUILDERS: dict[str, Builder] = {
    "an empty file": lambda tmp, lines: (str(_write(tmp / "empty.csv", b"")), "auto"),
    "a header-only file": lambda tmp, lines: (str(_csv(tmp / "header_only.csv", [])), "auto"),
    "a required column missing": lambda tmp, lines: (
        str(
            _csv(tmp / "no_country.csv", [x.rsplit(",", 1)[0] for x in lines[:20]], HEADER.rsplit(",", 1)[0])
        ),
        "auto",
    ),
    "semicolons instead of commas": lambda tmp, lines: (
        str(
            _csv(tmp / "semicolons.csv", [x.replace(",", ";") for x in lines[:20]], HEADER.replace(",", ";"))
        ),
        "auto",
    ),
    "another layout's file (`LAYOUT=online_retail` on a customer-personality file)": lambda tmp, lines: (
        str(
            _csv(tmp / "profiles.csv", ["1\t1970"], "\t".join(LAYOUTS["customer_personality"].source_columns))
        ),
        "online_retail",
    ),
    "a header no layout knows": lambda tmp, lines: (
        str(_csv(tmp / "other.csv", ["1,2,3"], "foo,bar,baz")),
        "auto",
    ),
    "a truncated zip": lambda tmp, lines: (
        str(
            _write(
                tmp / "truncated.zip", _zip(tmp / "whole.zip", {"data.csv": _text(lines)}).read_bytes()[:3000]
            )
        ),
        "auto",
    ),
    "a zip whose data is corrupt": lambda tmp, lines: (str(_corrupt_member(tmp, lines)), "auto"),
    "a zip without a CSV": lambda tmp, lines: (
        str(_zip(tmp / "no_csv.zip", {"readme.txt": b"nothing here", "chart.png": PNG})),
        "auto",
    ),
    "a zip with two CSVs": lambda tmp, lines: (
        str(_zip(tmp / "two.zip", {"2010.csv": _text(lines[:5]), "2011.csv": _text(lines[5:10])})),
        "auto",
    ),
    "random bytes": lambda tmp, lines: (str(_write(tmp / "random.bin", _random_bytes())), "auto"),
    "a PNG image": lambda tmp, lines: (str(_write(tmp / "chart.png", PNG)), "auto"),
    "a gzip file named `.zip`": lambda tmp, lines: (
        str(_write(tmp / "data.zip", gzip.compress(_text(lines[:50])))),
        "auto",
    ),
    "UTF-16 without a byte order mark": lambda tmp, lines: (
        str(_csv(tmp / "utf16.csv", lines[:20], encoding="utf-16-le")),
        "auto",
    ),
    "bytes that are not UTF-8 in a UTF-8 layout (`online_retail_ii`)": lambda tmp, lines: (
        str(_csv(tmp / "retail_ii_latin1.csv", NOT_UTF8, HEADER_II)),
        "auto",
    ),
    "a path that does not exist": lambda tmp, lines: (str(tmp / "no_such_file.csv"), "auto"),
    "too many bad lines (above `MAX_REJECTED_SHARE`)": lambda tmp, lines: (
        str(
            _csv(
                tmp / "many_bad.csv",
                lines + [f"58{i:04d},22138,BAKING SET,3,,4.95,12680,France" for i in range(60)],
            )
        ),
        "auto",
    ),
    "only cancellations": lambda tmp, lines: (
        str(
            _csv(
                tmp / "only_cancellations.csv",
                [x for x in lines if x.startswith("C")]
                or ["C581100,22138,BAKING SET,-3,12/9/2011 12:50,4.95,12680,France"],
            )
        ),
        "auto",
    ),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _random_bytes() -> bytes:
    import random

    return random.Random(12).randbytes(5000)


def test_the_readme_and_this_test_list_the_same_bad_inputs():
    assert len(CASES) >= 15
    assert [kind for kind, _ in CASES] == list(BUILDERS)


@pytest.mark.parametrize(("kind", "words"), CASES, ids=[kind for kind, _ in CASES])
def test_make_demo_prints_the_reason_and_exits_non_zero(
    kind, words, tmp_path, good_lines, capfd, caplog, monkeypatch
):
    from tools import cli

    for conn_id in (config.NOTIFY_SMTP_CONN_ID, config.NOTIFY_WEBHOOK_CONN_ID):
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
    source, layout = BUILDERS[kind](tmp_path, good_lines)
    capfd.readouterr()
    caplog.set_level("INFO", logger="include.notifications")

    code = cli.main(["demo", "--source", source, "--layout", layout])

    out, err = capfd.readouterr()
    terminal = out + err
    print(f"\n--- make demo on {kind} ---\n{out.strip()}")
    assert code != 0
    failed = [line for line in out.splitlines() if line.startswith("failed       DAG ")]
    errors = [line for line in out.splitlines() if line.startswith("error        ")]
    runbooks = [line for line in out.splitlines() if line.startswith("runbook      ")]
    assert failed and errors and runbooks, terminal
    assert words in errors[0], errors[0]
    assert Path(source).name in errors[0], errors[0]
    dag_id, task_id = re.match(r"failed       DAG (\w+), task (\w+)", failed[0]).groups()
    anchor = f"{dag_id}-{task_id}".replace("_", "-")
    assert runbooks[0].endswith(f"docs/runbook.md#{anchor}")  # tests/unit/test_runbook.py: it exists
    assert "see its task logs" not in terminal
    # The failure callback ran: no notification connection here, so one info line says they are off.
    assert caplog.text.count("failure notifications are off") == 1
