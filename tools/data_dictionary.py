"""docs/data_dictionary.md, generated from the database's COMMENT ON of every marts relation
(`make docs` writes it)."""

from __future__ import annotations

import psycopg

from include.publish.catalog import marts

HEADER = """# Data dictionary: schema `marts`

Generated from the database comments by `make docs` (tools/data_dictionary.py);
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
