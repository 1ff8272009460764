"""Synthetic shops in the Online Retail layout, drawn from distributions fitted to the real file.

    make synth SCALE=10                                    # .local/synth/online_retail_x10.csv
    .venv/bin/python -m tools.synth generate --scale 100 --products 40000 --seed 7 --zip
    .venv/bin/python -m tools.synth generate --scale 10 --fit ../shared/datasets/ecommerce-data.zip
    .venv/bin/python -m tools.synth fit ../shared/datasets/ecommerce-data.zip   # refresh the shipped profile

`fit.py` reads the real file and writes a small profile (the shipped one:
`profile_online_retail.json`); `generate.py` draws customers, their order schedules and tastes,
invoices and lines from it, streaming the file chunk by chunk of invoices; `model.py` holds
what both share. SCALE=k means k x the customers and (about) k x the lines over the same
period; the catalogue grows as sqrt(k) (10x products at k=100) unless --products says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_PROFILE = Path(__file__).with_name("profile_online_retail.json")


def load_profile(path: Path = DEFAULT_PROFILE) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
