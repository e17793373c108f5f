"""A small catalogue on disk: a Parquet file written by DuckDB and its metadata file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

METADATA = """
schemas:
  - name: demo
    description: A demo schema.
    tables:
      - name: stars
        location: demo/stars/
        description: Some stars.
        utype: demo:stars
        columns:
          - {name: id, ucd: meta.id;meta.main, principal: true, indexed: true}
          - {name: ra, unit: deg, ucd: pos.eq.ra;meta.main, description: Right ascension}
          - {name: label, datatype: unicodeChar, std: 1}
      - name: spectra
        location: demo/spectra.parquet
        columns:
          - {name: star_id, description: The star}
        foreign_keys:
          - target: demo.stars
            columns: {star_id: id}
            description: Each spectrum's star
"""


@pytest.fixture
def catalogue_root(tmp_path: Path) -> Path:
    """demo.stars in two files (one in a subdirectory), demo.spectra in one."""
    con = duckdb.connect()
    (tmp_path / "demo/stars/more").mkdir(parents=True)
    con.execute(
        "COPY (SELECT 1::BIGINT AS id, 10.5 AS ra, -5.25::FLOAT AS dec, 'a' AS label,"
        " TIMESTAMP '2020-01-02 03:04:05' AS seen, [1.0, 2.0] AS flux)"
        f" TO '{tmp_path}/demo/stars/part-0.parquet'"
    )
    con.execute(
        "COPY (SELECT 2::BIGINT AS id, NULL::DOUBLE AS ra, 1.0::FLOAT AS dec, 'b' AS label,"
        " NULL::TIMESTAMP AS seen, []::DOUBLE[] AS flux)"
        f" TO '{tmp_path}/demo/stars/more/part-1.parquet'"
    )
    con.execute(
        "COPY (SELECT 1::BIGINT AS star_id, 7::SMALLINT AS n, true AS good)"
        f" TO '{tmp_path}/demo/spectra.parquet'"
    )
    (tmp_path / "catalogue.yaml").write_text(METADATA)
    return tmp_path


from .hats_sky import hats_engine, hats_root  # noqa: E402, F401  (the sky as HATS)
from .sky import db, run  # noqa: E402, F401  (the ADQL tests' sky, as fixtures)
