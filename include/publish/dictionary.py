"""docs/data_dictionary.md, generated from the database's COMMENT ON of every marts relation.

.venv/bin/python -m include.publish.dictionary      # rewrite docs/data_dictionary.md
"""

from __future__ import annotations

import sys

import psycopg

from include import config
from include.publish.catalog import marts

HEADER = """# Data dictionary: schema `marts`

Generated from the database comments by `python -m include.publish.dictionary` (`make docs`);
a test fails when this file and the database disagree. Every relation shows the latest
successful run; past runs are kept in `published.<name>` by `run_id`.
"""


def render(conn: psycopg.Connection) -> str:
    parts = [HEADER]
    for mart in marts(conn):
        parts.append(f"\n## marts.{mart.name}\n\n{mart.comment or '(no comment)'}\n")
        parts.append("| column | type | description |\n|---|---|---|")
        for col in mart.columns:
            text = (col.comment or "(no comment)").replace("|", "\\|").replace("\n", " ")
            parts.append(f"| `{col.name}` | {col.data_type} | {text} |")
    return "\n".join(parts) + "\n"


def main() -> int:
    from include import runtime
    from include.db.connection import connect

    runtime.configure_environment()
    with connect() as conn:
        text = render(conn)
    config.DATA_DICTIONARY_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {config.DATA_DICTIONARY_PATH} ({text.count('## marts.')} relations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
