"""HATS cones: a generated catalogue (denser towards the Galactic plane) made by local.to_hats,
put into the embedded S3, and cones of 0.1°, 1° and 10° run through the TAP query engine;
against LSDB's one-call ``read_hats(...).cone_search(...)`` and LSDB with the catalogue open.

``python -m bench.hats [--rows 1000000 10000000]`` (not in ``make test``; minutes: hats-import
builds each catalogue once into .uws-local/bench-hats/). LSDB reads the same files from local
disk (its S3 reader, s3fs, pins a botocore that breaks boto3 in this venv).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from local.catalogue import publish
from local.embedded import EmbeddedAws
from local.template import ROOT
from local.to_hats import add_table, import_hats, table_entry

BUILT = ROOT / ".uws-local" / "bench-hats"
BUCKET = "bench-hats"
# ICRS unit vector = _GAL_TO_ICRS @ Galactic unit vector (the IAU 1958 pole and origin)
_GAL_TO_ICRS = np.array(
    [
        [-0.0548755604, 0.4941094279, -0.8676661490],
        [-0.8734370902, -0.4448296300, -0.1980763734],
        [-0.4838350155, 0.7469822445, 0.4559837762],
    ]
)


def sky(rows: int, seed: int = 25) -> pa.Table:
    """Positions: a fifth uniform, the rest with Galactic latitude ~ Laplace(0°, 8°)."""
    rng = np.random.default_rng(seed)
    uniform = rows // 5
    lat = np.concatenate(
        [np.degrees(np.arcsin(rng.uniform(-1, 1, uniform))),
         np.clip(rng.laplace(0, 8, rows - uniform), -90, 90)]
    )  # fmt: skip
    lon = rng.uniform(0, 360, rows)
    lo, la = np.radians(lon), np.radians(lat)
    gal = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    x, y, z = _GAL_TO_ICRS @ gal
    ra = np.degrees(np.arctan2(y, x)) % 360
    dec = np.degrees(np.arcsin(np.clip(z, -1, 1)))
    mag = rng.normal(17, 2, rows)
    return pa.table({"id": np.arange(rows), "ra": ra, "dec": dec, "mag": mag})


def catalogue(rows: int) -> Path:
    """The catalogue root with ``bench.sky`` (HATS), built once."""
    root = BUILT / f"rows{rows}"
    if (root / "bench/sky/partition_info.csv").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "sky.parquet"
        pq.write_table(sky(rows), source, row_group_size=1_000_000)
        import_hats(source, root / "bench/sky", threshold=max(1000, rows // 1000), workers=2)
    add_table(root / "catalogue.yaml", "bench", table_entry("sky", "bench/sky", "ra", "dec"))
    return root


def _lsdb(root: Path, cones: list[tuple[float, float, float]]) -> dict[str, float]:
    import lsdb

    one_call, opened = [], []
    for ra, dec, radius in cones:
        started = time.perf_counter()
        lsdb.read_hats(root / "bench/sky").cone_search(ra, dec, radius * 3600).compute()
        one_call.append(time.perf_counter() - started)
    cat = lsdb.read_hats(root / "bench/sky")
    for ra, dec, radius in cones:
        started = time.perf_counter()
        cat.cone_search(ra, dec, radius * 3600).compute()
        opened.append(time.perf_counter() - started)
    return {"lsdb_one_call_ms": _ms(one_call), "lsdb_opened_ms": _ms(opened)}


def _ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


def run(rows_list: list[int], repeats: int = 7) -> dict[str, Any]:
    from tap.engine import QueryEngine
    from tap.request import Limits, parse_tap_query

    aws = EmbeddedAws().start()
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    results: dict[str, Any] = {}
    rng = np.random.default_rng(1)
    try:
        for rows in rows_list:
            root = catalogue(rows)
            prefix = f"s3://{BUCKET}/rows{rows}/"
            publish(root, prefix)
            size = sum(p.stat().st_size for p in (root / "bench/sky/dataset").rglob("*.parquet"))
            access = {"key_id": "local", "secret": "local", "region": "us-east-1",
                      "endpoint": aws.endpoint}  # fmt: skip

            def read_text(url: str) -> str:
                bucket, _, key = url.removeprefix("s3://").partition("/")
                return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()

            work = Path(tempfile.mkdtemp(prefix="bench-hats-"))
            engine = QueryEngine(prefix, read_text, lambda access=access: access, work)
            started = time.perf_counter()
            hats = engine.catalogue.table("bench.sky").hats
            per_size: dict[str, Any] = {"rows": rows, "partitions": len(hats.partitions),
                                        "dataset_bytes": size,
                                        "open_ms": round((time.perf_counter() - started) * 1e3)}  # fmt: skip
            for radius in (0.1, 1.0, 10.0):
                cones = [(float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(rng.uniform(-1, 1)))),
                          radius) for _ in range(repeats)]  # fmt: skip
                times, fractions, read_bytes, found = [], [], [], []
                for ra, dec, r in cones:
                    from tap.adql import Cone

                    chosen = hats.overlapping(hats.ranges([Cone("ra", "dec", ra, dec, r)]) or [])
                    fractions.append(len(chosen) / len(hats.partitions))
                    read_bytes.append(sum(
                        (root / "bench/sky" / hats.partition_path(*p)[len(hats.base) + 1:]).stat().st_size
                        for p in chosen))  # fmt: skip
                    query = ("SELECT id, ra, dec, mag FROM bench.sky WHERE 1 = CONTAINS("
                             f"POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra}, {dec}, {r}))")  # fmt: skip
                    tap = parse_tap_query({"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv",
                                           "MAXREC": "1000000"}, Limits())  # fmt: skip
                    begun = time.perf_counter()
                    outcome = engine.run(tap, {})
                    times.append(time.perf_counter() - begun)
                    found.append(outcome.written.rows)
                    outcome.path.unlink()
                row = {"query_ms": _ms(times), "query_max_ms": round(max(times) * 1000, 1),
                       "partitions_read_pct": round(100 * max(fractions), 3),
                       "bytes_read_max": max(read_bytes), "rows_median": statistics.median(found)}  # fmt: skip
                if radius == 1.0:
                    row.update(_lsdb(root, cones))
                    row["x_faster_than_lsdb_one_call"] = round(
                        row["lsdb_one_call_ms"] / row["query_ms"], 1
                    )
                    row["x_faster_than_lsdb_opened"] = round(
                        row["lsdb_opened_ms"] / row["query_ms"], 2
                    )
                per_size[f"cone_{radius:g}deg"] = row
            results[str(rows)] = per_size
    finally:
        aws.stop()
    return results


def table(results: dict[str, Any]) -> str:
    lines = ["", "HATS cones (DuckDB from the embedded S3; LSDB from local disk)"]
    for rows, r in results.items():
        lines.append(f"  {int(rows):>11,} rows, {r['partitions']} partitions,"
                     f" {r['dataset_bytes'] / 1e6:.0f} MB; catalogue opened in {r['open_ms']} ms")  # fmt: skip
        for key, c in r.items():
            if key.startswith("cone_"):
                extra = ""
                if "lsdb_one_call_ms" in c:
                    extra = (f"; LSDB one call {c['lsdb_one_call_ms']} ms ({c['x_faster_than_lsdb_one_call']}x),"
                             f" opened {c['lsdb_opened_ms']} ms ({c['x_faster_than_lsdb_opened']}x)")  # fmt: skip
                lines.append(f"    {key:<12} {c['query_ms']:>7} ms (max {c['query_max_ms']}),"
                             f" ≤{c['partitions_read_pct']}% of partitions,"
                             f" ≤{c['bytes_read_max'] / 1e6:.2f} MB{extra}")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    results = run(args.rows)
    print(table(results))
    out = Path(__file__).with_name("hats-results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures in {out}")


if __name__ == "__main__":
    main()
