"""HATS cones: a generated catalogue (denser towards the Galactic plane) made by local.to_hats,
put into the embedded S3, and cones of 0.1°, 1° and 10° and a full scan run through the TAP
query engine, from the embedded S3 and from local disk. LSDB's one-call
``read_hats(...).cone_search(...)`` and LSDB with the catalogue open run on the same cones in
the same run, from the same embedded S3 and the same local disk (in its own venv,
``.lsdb-venv``: its S3 reader, s3fs, pins a botocore that breaks boto3 beside moto), and must
find the same rows. What each query reads (bytes, GETs, HEADs) is DuckDB's own HTTP
statistics for its SQL from a fresh database.

``python -m bench.hats [--rows 1000000 10000000]`` (in ``make bench``, not in ``make test``;
hats-import builds each catalogue once into .uws-local/bench-hats/, minutes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import subprocess
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
CACHED = Path(__file__).with_name("hats-results.json")
LSDB_PYTHON = ROOT / ".lsdb-venv" / "bin" / "python"  # make bench installs it
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


def _lsdb(
    catalogue: str, endpoint: str | None, cones: list[tuple[float, float, float]]
) -> dict[str, Any]:
    """LSDB's medians for ``cones`` over ``catalogue`` (a directory, or an s3:// URL in the
    embedded S3 at ``endpoint``), from bench/lsdb_cones.py in LSDB's venv."""
    asked = {"catalogue": catalogue, "endpoint": endpoint, "cones": cones}
    # -P: bench/ not on sys.path, where hats.py would shadow the hats package LSDB imports
    done = subprocess.run([str(LSDB_PYTHON), "-P", str(Path(__file__).with_name("lsdb_cones.py"))],
                          input=json.dumps(asked), capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"LSDB failed on {catalogue}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _against_lsdb(root: Path, prefix: str, endpoint: str, cones: list, ours: dict) -> dict:
    """LSDB from the embedded S3 and from local disk on the same cones; its rows must be ours."""
    s3 = _lsdb(f"{prefix}bench/sky", endpoint, cones)
    disk = _lsdb(str(root / "bench/sky"), None, cones)
    if not s3["ids"] == disk["ids"] == ours["ids"]:
        raise AssertionError(f"rows per cone: LSDB {s3['rows']}, ours {ours['rows']}")
    return {
        "lsdb_one_call_ms": s3["one_call_ms"], "lsdb_opened_ms": s3["opened_ms"],
        "lsdb_disk_one_call_ms": disk["one_call_ms"], "lsdb_disk_opened_ms": disk["opened_ms"],
        "x_faster_than_lsdb_one_call": round(s3["one_call_ms"] / ours["s3_ms"], 1),
        "x_faster_than_lsdb_opened_same_s3": round(s3["opened_ms"] / ours["s3_ms"], 2),
        "x_faster_than_lsdb_opened_same_disk": round(disk["opened_ms"] / ours["disk_ms"], 2),
        "same_rows_as_lsdb": True,
    }  # fmt: skip


def ids_digest(ids: Any) -> str:
    """The rows a cone found, as one value: the SHA-256 of their sorted ids (bench/lsdb_cones.py
    computes the same)."""
    return hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()


def _ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


_SIZE = {"bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def traffic(access: dict[str, str], sql: str) -> dict[str, int]:
    """What one query's SQL asks of S3 from a fresh DuckDB (no cache): bytes in, requests,
    from DuckDB's own HTTP statistics (EXPLAIN ANALYZE)."""
    import duckdb
    from tap.engine import _s3_secret, httpfs_extension
    from tap.metadata import sql_literal

    con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})  # fmt: skip
    con.execute(f"LOAD {sql_literal(httpfs_extension())}")
    con.execute(_s3_secret(access))
    plan = con.execute(f"EXPLAIN ANALYZE {sql}").fetchall()[0][1]
    con.close()
    stats = dict(re.findall(r"(in|#HEAD|#GET): ([\d.]+ ?\w*)", plan))
    number, _, unit = stats["in"].partition(" ")
    return {"bytes": round(float(number) * _SIZE[unit or "bytes"]),
            "gets": int(stats["#GET"]), "heads": int(stats["#HEAD"])}  # fmt: skip


class _Engines:
    """The query engine over one catalogue twice: from the embedded S3 and from local disk."""

    def __init__(self, root: Path, prefix: str, access: dict[str, str], s3: Any) -> None:
        from tap.engine import QueryEngine

        def read_text(url: str) -> str:
            bucket, _, key = url.removeprefix("s3://").partition("/")
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()

        self.access = access
        self.s3 = QueryEngine(prefix, read_text, lambda: access, Path(tempfile.mkdtemp()))
        self.disk = QueryEngine(str(root), lambda p: Path(p).read_text(), dict,
                                Path(tempfile.mkdtemp()))  # fmt: skip
        self.open_ms = {}
        for name in ("s3", "disk"):
            started = time.perf_counter()
            _ = getattr(self, name).catalogue
            self.open_ms[name] = round((time.perf_counter() - started) * 1e3)
        self.hats = self.s3.catalogue.table("bench.sky").hats

    def measure(self, query: str) -> dict[str, Any]:
        """One query: its time from S3 and from disk, its translation's, what it reads."""
        from tap.adql import translate
        from tap.metadata import sql_literal
        from tap.request import Limits, parse_tap_query

        tap = parse_tap_query({"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv",
                               "MAXREC": "10000000"}, Limits())  # fmt: skip
        started = time.perf_counter()
        translation = translate(query, self.s3._resolver({}))
        found: dict[str, Any] = {"translate": time.perf_counter() - started}
        found.update(traffic(self.access, translation.sql))  # before the engine reads it
        whole = sql_literal(self.hats.sql_glob) in translation.sql
        found["files"] = len(self.hats.partitions) if whole else translation.sql.count(".parquet'")
        for name in ("s3", "disk"):
            started = time.perf_counter()
            outcome = getattr(self, name).run(tap, {})
            found[name] = time.perf_counter() - started
            found["rows"] = outcome.written.rows
            with outcome.path.open() as answer:  # CSV, the id first: what LSDB must find too
                found["ids"] = ids_digest(int(line.split(",", 1)[0]) for line in list(answer)[1:])
            outcome.path.unlink()
        return found


def _summary(samples: list[dict[str, Any]], partitions: int) -> dict[str, Any]:
    return {
        "s3_ms": _ms([s["s3"] for s in samples]),
        "s3_max_ms": round(max(s["s3"] for s in samples) * 1000, 1),
        "disk_ms": _ms([s["disk"] for s in samples]),
        "translate_ms": _ms([s["translate"] for s in samples]),
        "partitions_read_pct": round(100 * max(s["files"] for s in samples) / partitions, 3),
        "files_median": statistics.median(s["files"] for s in samples),
        "bytes_median": round(statistics.median(s["bytes"] for s in samples)),
        "bytes_read_max": max(s["bytes"] for s in samples),
        "gets_median": statistics.median(s["gets"] for s in samples),
        "heads_median": statistics.median(s["heads"] for s in samples),
        "rows_median": statistics.median(s["rows"] for s in samples),
    }


FULL_SCAN = "SELECT COUNT(*) AS n, AVG(mag) AS mean FROM bench.sky WHERE mag > 19"


def run(rows_list: list[int], repeats: int = 7) -> dict[str, Any]:
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
            engines = _Engines(root, prefix, access, s3)
            partitions = len(engines.hats.partitions)
            per_size: dict[str, Any] = {"rows": rows, "partitions": partitions,
                                        "dataset_bytes": size, "open_ms": engines.open_ms["s3"],
                                        "open_disk_ms": engines.open_ms["disk"]}  # fmt: skip
            for radius in (0.1, 1.0, 10.0):
                cones = [(float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(rng.uniform(-1, 1)))),
                          radius) for _ in range(repeats)]  # fmt: skip
                samples = [
                    engines.measure("SELECT id, ra, dec, mag FROM bench.sky WHERE 1 = CONTAINS("
                                    f"POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra}, {dec}, {r}))")
                    for ra, dec, r in cones
                ]  # fmt: skip
                row = _summary(samples, partitions)
                if radius == 1.0:  # LSDB from the same S3 and the same disk, in the same run
                    ours = {**row, "rows": [s["rows"] for s in samples],
                            "ids": [s["ids"] for s in samples]}  # fmt: skip
                    row.update(_against_lsdb(root, prefix, aws.endpoint, cones, ours))
                per_size[f"cone_{radius:g}deg"] = row
            per_size["full_scan"] = _summary([engines.measure(FULL_SCAN) for _ in range(3)],
                                             partitions)  # fmt: skip
            results[str(rows)] = per_size
    finally:
        aws.stop()
    return results


def table(results: dict[str, Any]) -> str:
    lines = ["", "10. HATS cones: the query engine from the embedded S3 | from local disk;"
             " LSDB 0.11 from the same S3 and the same disk, same run, same cones, same rows"]  # fmt: skip
    for rows, r in results.items():
        lines.append(f"  {int(rows):>11,} rows, {r['partitions']} partitions,"
                     f" {r['dataset_bytes'] / 1e6:.0f} MB; catalogue opened in {r['open_ms']} ms"
                     f" (S3) | {r['open_disk_ms']} ms (disk)")  # fmt: skip
        for key, c in r.items():
            if not isinstance(c, dict):
                continue
            lines.append(f"    {key:<13} {c['s3_ms']:>7} ms (max {c['s3_max_ms']}) | {c['disk_ms']} ms;"
                         f" translation {c['translate_ms']} ms; ≤{c['partitions_read_pct']}% of partitions,"
                         f" median {c['files_median']:g} files, {c['bytes_median'] / 1e6:.2f} MB"
                         f" ({100 * c['bytes_median'] / r['dataset_bytes']:.3g}% of the table) in"
                         f" {c['gets_median']:g} GETs + {c['heads_median']:g} HEADs")  # fmt: skip
            if "lsdb_one_call_ms" in c:
                lines.append(f"{'':18}LSDB from S3: one call {c['lsdb_one_call_ms']} ms (ours"
                             f" {c['x_faster_than_lsdb_one_call']}x faster), catalogue opened"
                             f" {c['lsdb_opened_ms']} ms (ours {c['x_faster_than_lsdb_opened_same_s3']}x"
                             f" faster); from disk: one call {c['lsdb_disk_one_call_ms']} ms, opened"
                             f" {c['lsdb_disk_opened_ms']} ms (ours {c['x_faster_than_lsdb_opened_same_disk']}x"
                             " faster); the same rows")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    results = run(args.rows)
    print(table(results))
    CACHED.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures in {CACHED}")


if __name__ == "__main__":
    main()
