"""Turn a Parquet or FITS table into a HATS catalogue the TAP service serves as it lies.

``python -m local.to_hats INPUT ROOT --table schema.name [--ra ra --dec dec]`` writes the HATS
catalogue (``hats-import``: HEALPix partitions of at most ``--threshold`` rows, the
``_healpix_29`` index, ``partition_info.csv``, ``properties``) under ``ROOT/schema/name/`` and
adds the table to ``ROOT/catalogue.yaml`` (``format: hats``; the positions described with
their units and UCDs), so ROOT is a catalogue root ``tap.metadata`` reads; ``--upload
s3://bucket/prefix/`` then copies ROOT where a deployment's ``CatalogueLocation`` points. A data
centre that has HATS catalogues already only adds their entries to ``catalogue.yaml``.

``hats-import`` (and dask under it) is a tool's dependency (the ``dev`` extra), never the
functions': they read the result with DuckDB alone.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

INDEX_DESCRIPTION = "Nested HEALPix index of the position at order 29 (HATS's partitioning)"


def import_hats(
    source: Path,
    outdir: Path,
    ra: str = "ra",
    dec: str = "dec",
    threshold: int = 1_000_000,
    workers: int = 1,
) -> Path:
    """Write the HATS catalogue of ``source`` (Parquet, or FITS by its suffix) to ``outdir``."""
    from dask.distributed import Client
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client

    outdir = outdir.resolve()
    if outdir.exists():
        shutil.rmtree(outdir)
    reader = "fits" if source.suffix.lower() in (".fits", ".fit", ".fz") else "parquet"
    with tempfile.TemporaryDirectory(prefix="to-hats-") as scratch:
        arguments = ImportArguments(
            output_artifact_name=outdir.name,
            input_file_list=[str(source.resolve())],
            file_reader=reader,
            ra_column=ra,
            dec_column=dec,
            output_path=str(outdir.parent),
            tmp_dir=scratch,
            pixel_threshold=threshold,
            progress_bar=False,
            resume=False,
        )
        with Client(
            n_workers=workers, threads_per_worker=1, processes=workers > 1, dashboard_address=None
        ) as client:
            pipeline_with_client(arguments, client)
    return outdir


def table_entry(
    name: str, location: str, ra: str, dec: str, description: str | None = None
) -> dict[str, Any]:
    """The catalogue.yaml entry of a HATS table: where it is, and what its positions mean."""
    entry: dict[str, Any] = {"name": name, "location": location, "format": "hats"}
    if description:
        entry["description"] = description
    entry["columns"] = [
        {"name": ra, "unit": "deg", "ucd": "pos.eq.ra;meta.main", "principal": True},
        {"name": dec, "unit": "deg", "ucd": "pos.eq.dec;meta.main", "principal": True},
        {
            "name": "_healpix_29",
            "ucd": "pos.healpix",
            "indexed": True,
            "description": INDEX_DESCRIPTION,
        },
    ]
    return entry


def add_table(metadata: Path, schema: str, entry: dict[str, Any]) -> None:
    """Put ``entry`` into ``schema`` of the metadata file (made if absent), replacing a table of
    the same name."""
    document = yaml.safe_load(metadata.read_text()) if metadata.exists() else None
    document = document or {"schemas": []}
    found = next((s for s in document["schemas"] if s.get("name") == schema), None)
    if found is None:
        found = {"name": schema, "tables": []}
        document["schemas"].append(found)
    tables = [t for t in found.get("tables") or [] if t.get("name") != entry["name"]]
    found["tables"] = [*tables, entry]
    metadata.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def convert(
    source: Path,
    root: Path,
    table: str,
    ra: str = "ra",
    dec: str = "dec",
    threshold: int = 1_000_000,
    description: str | None = None,
    workers: int = 1,
) -> Path:
    """HATS of ``source`` at ``root/schema/name`` and its entry in ``root/catalogue.yaml``."""
    schema, _, name = table.partition(".")
    if not schema or not name:
        raise ValueError(f"--table must be schema.name, not {table!r}")
    location = f"{schema}/{name}"
    written = import_hats(source, root / location, ra, dec, threshold, workers)
    add_table(root / "catalogue.yaml", schema, table_entry(name, location, ra, dec, description))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="a Parquet or FITS table")
    parser.add_argument("root", type=Path, help="the catalogue root (catalogue.yaml's directory)")
    parser.add_argument("--table", required=True, help="its ADQL name, schema.name")
    parser.add_argument("--ra", default="ra", help="the right ascension column (degrees)")
    parser.add_argument("--dec", default="dec", help="the declination column (degrees)")
    parser.add_argument(
        "--threshold",
        type=int,
        default=1_000_000,
        help="at most this many rows a partition (HATS's pixel_threshold)",
    )
    parser.add_argument("--description", help="the table's description")
    parser.add_argument("--workers", type=int, default=1, help="dask worker processes")
    parser.add_argument("--upload", help="copy the root there afterwards (s3://bucket/prefix/)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    written = convert(
        args.input,
        args.root,
        args.table,
        args.ra,
        args.dec,
        args.threshold,
        args.description,
        args.workers,
    )
    partitions = len((written / "partition_info.csv").read_text().splitlines()) - 1
    print(
        f"{args.table}: {partitions} partitions at {written}"
        f" in {time.perf_counter() - started:.1f} s"
    )
    if args.upload:
        from .catalogue import publish

        print(f"{publish(args.root, args.upload)} files to {args.upload}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
