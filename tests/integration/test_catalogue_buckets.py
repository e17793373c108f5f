"""Tables in other buckets (the template's CatalogueBuckets), against moto's server, as DuckDB
reads S3 over HTTP: a HATS catalogue left in a survey's bucket is queried from the catalogue in
ours; a table in a bucket the deployment does not name is refused when the catalogue is read,
with a sentence saying how to admit it, and DuckDB itself reads no other bucket
(docs/tap.md, Catalogues)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
import yaml
from tap.engine import QueryEngine
from tap.locations import bucket_prefixes
from tap.metadata import MetadataError
from tap.request import Limits, parse_tap_query

from local.catalogue import HATS_TABLE, build
from local.embedded import free_port

OURS, SURVEY, OTHER = "stack-results", "survey-data", "not-named"
SIRIUS = 32349
CONE = ("SELECT hip FROM hipparcos.main_hats WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        "CIRCLE('ICRS', 101.2872, -16.7161, 2)) ORDER BY hip")  # fmt: skip


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """moto's server with three buckets: ours, a survey's holding Hipparcos as HATS, another."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip
    for bucket in (OURS, SURVEY, OTHER):
        client.create_bucket(Bucket=bucket)
    hats = build() / "hipparcos" / HATS_TABLE
    for path in (p for p in hats.rglob("*") if p.is_file()):
        key = f"hips/{HATS_TABLE}/{path.relative_to(hats)}"
        client.upload_file(str(path), SURVEY, key)
        client.upload_file(str(path), OTHER, key)
    try:
        yield client
    finally:
        server.stop()


def engine(s3: Any, tmp_path: Path, location: str, buckets: str) -> QueryEngine:
    """Our catalogue (s3://stack-results/catalogue/) naming main_hats at ``location``, read by
    an engine that may read the buckets ``buckets`` names too."""
    built = yaml.safe_load((build() / "catalogue.yaml").read_text())
    (entry,) = [t for t in built["schemas"][0]["tables"] if t["name"] == HATS_TABLE]
    document = {"schemas": [{"name": "hipparcos", "tables": [{**entry, "location": location}]}]}
    s3.put_object(Bucket=OURS, Key="catalogue/catalogue.yaml", Body=yaml.safe_dump(document))

    def read_text(url: str) -> str:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()

    access = {"key_id": "k", "secret": "s", "region": "us-east-1",
              "endpoint": s3.meta.endpoint_url}  # fmt: skip
    return QueryEngine(f"s3://{OURS}/catalogue/", read_text, lambda: access, tmp_path,
                       elsewhere=bucket_prefixes(buckets))  # fmt: skip


def hips(engine: QueryEngine, query: str) -> list[int]:
    tap = parse_tap_query({"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"}, Limits())
    outcome = engine.run(tap, {})
    return [int(line) for line in outcome.path.read_text().split()[1:]]


def test_a_hats_catalogue_in_a_named_bucket_is_queried(s3, tmp_path):
    survey = engine(s3, tmp_path, f"s3://{SURVEY}/hips/{HATS_TABLE}/", f"{OTHER}x, {SURVEY}")
    found = hips(survey, CONE)
    assert SIRIUS in found and len(found) > 10
    # the same rows as the catalogue on disk gives
    local = QueryEngine(str(build()), lambda path: Path(path).read_text(), dict, tmp_path / "l")
    assert found == hips(local, CONE)


def test_a_table_in_a_bucket_not_named_is_refused_saying_how_to_admit_it(s3, tmp_path):
    refused = engine(s3, tmp_path, f"s3://{OTHER}/hips/{HATS_TABLE}/", SURVEY)
    with pytest.raises(MetadataError) as error:
        refused.catalogue  # noqa: B018 (reading it is the test)
    assert str(error.value) == (
        f"table hipparcos.{HATS_TABLE} is at s3://{OTHER}/hips/{HATS_TABLE}/, in bucket "
        f"{OTHER}, which this service does not read: name the bucket in the template's "
        "CatalogueBuckets"
    )
    for sneaky, said in (
        (f"s3://{SURVEY}/../{OTHER}/hips/", "may not climb"),
        ("../elsewhere/", "may not climb"),  # out of the root on disk
        (f"s3://{SURVEY[:-2]}/hips/", "CatalogueBuckets"),  # a bucket named like a shorter one
        (f"https://{OTHER}.s3.amazonaws.com/x/", "CatalogueBuckets"),
    ):
        with pytest.raises(MetadataError, match=said):
            engine(s3, tmp_path / "s", sneaky, SURVEY).catalogue  # noqa: B018


def test_duckdb_reads_no_bucket_the_deployment_does_not_name(s3, tmp_path):
    survey = engine(s3, tmp_path, f"s3://{SURVEY}/hips/{HATS_TABLE}/", SURVEY)
    db = survey._open()
    (partition,) = [k["Key"] for k in s3.list_objects_v2(Bucket=OTHER)["Contents"]
                    if k["Key"].endswith(".parquet")][:1]  # fmt: skip
    assert db.execute(
        f"SELECT count(*) FROM read_parquet('s3://{SURVEY}/{partition}')"
    ).fetchone()[0] > 0  # fmt: skip
    with pytest.raises(duckdb.PermissionException):
        db.execute(f"SELECT count(*) FROM read_parquet('s3://{OTHER}/{partition}')")
