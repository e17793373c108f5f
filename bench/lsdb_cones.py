"""LSDB's cone searches over one HATS catalogue, run in LSDB's own venv (``.lsdb-venv``: its S3
reader, s3fs, pins a botocore that moto's and boto3's cannot share): what bench/hats.py compares
the query engine with, from the same store in the same run.

Reads ``{"catalogue": path or s3 URL, "endpoint": S3 endpoint or null, "cones": [[ra, dec,
radius_deg], …]}`` on stdin; writes ``{"one_call_ms": …, "opened_ms": …, "rows": […], "ids": […]}``: the
median of ``read_hats(...).cone_search(...)`` made afresh for each cone (opening the catalogue
included), and of the cone searches of one catalogue opened once; each cone's row count, and
the SHA-256 of its sorted ids (as bench/hats.py's ``ids_digest``).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from typing import Any


def main() -> None:
    import lsdb

    asked = json.load(sys.stdin)
    catalogue: Any = asked["catalogue"]
    if asked.get("endpoint"):  # the embedded S3: moto's server on loopback, plain HTTP
        from upath import UPath

        catalogue = UPath(catalogue, key="local", secret="local",
                          client_kwargs={"endpoint_url": asked["endpoint"],
                                         "region_name": "us-east-1"})  # fmt: skip
    cones = [tuple(c) for c in asked["cones"]]
    one_call, opened, rows, ids = [], [], [], []
    for ra, dec, radius in cones:
        started = time.perf_counter()
        lsdb.read_hats(catalogue).cone_search(ra, dec, radius * 3600).compute()
        one_call.append(time.perf_counter() - started)
    opened_catalogue = lsdb.read_hats(catalogue)
    for ra, dec, radius in cones:
        started = time.perf_counter()
        found = opened_catalogue.cone_search(ra, dec, radius * 3600).compute()
        opened.append(time.perf_counter() - started)
        rows.append(len(found))
        digest = ",".join(map(str, sorted(int(i) for i in found["id"])))
        ids.append(hashlib.sha256(digest.encode()).hexdigest())
    answer = {"one_call_ms": _ms(one_call), "opened_ms": _ms(opened), "rows": rows, "ids": ids}
    json.dump(answer, sys.stdout)


def _ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


if __name__ == "__main__":
    main()
