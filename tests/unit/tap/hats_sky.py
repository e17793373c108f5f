"""A small HATS catalogue for the tests: the ADQL tests' sky as plain Parquet (demo.plain) and
as HATS made by local.to_hats (demo.sky), with partitions of at most 150 rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tap.engine import QueryEngine

from local import to_hats

from .sky import ROWS

PLAIN = """
schemas:
  - name: demo
    tables:
      - {name: plain, location: demo/plain.parquet}
"""


@pytest.fixture(scope="session")
def hats_root(tmp_path_factory) -> Path:
    """demo.plain (Parquet) and demo.sky (HATS, partitions of at most 150 rows)."""
    root = tmp_path_factory.mktemp("hats")
    (root / "demo").mkdir()
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id INTEGER, ra DOUBLE, dec DOUBLE, mag DOUBLE)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [r[:4] for r in ROWS if r[1] is not None and r[2] is not None],
    )
    con.execute(f"COPY t TO '{root}/demo/plain.parquet'")
    (root / "catalogue.yaml").write_text(PLAIN)
    to_hats.convert(root / "demo/plain.parquet", root, "demo.sky", threshold=150)
    return root


@pytest.fixture(scope="session")
def hats_engine(hats_root: Path, tmp_path_factory) -> QueryEngine:
    work = tmp_path_factory.mktemp("work")
    return QueryEngine(str(hats_root), lambda path: Path(path).read_text(), dict, work)
