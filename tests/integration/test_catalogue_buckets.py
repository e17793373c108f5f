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
from local.moto_fixes import apply_all

OURS, SURVEY, OTHER = "stack-results", "survey-data", "not-named"
SIRIUS = 32349
CONE = ("SELECT hip FROM hipparcos.main_hats WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        "CIRCLE('ICRS', 101.2872, -16.7161, 2)) ORDER BY hip")  # fmt: skip


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """moto's server with three buckets: ours, a survey's holding Hipparcos as HATS, another."""
    from moto.server import ThreadedMotoServer

    apply_all()  # moto as the local runtime has it (and local.faults' S3 errors for DuckDB)
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


def test_s3_busy_past_duckdb_s_retries_is_storage_busy_and_a_rerun_answers(s3, tmp_path, faults):
    """S3's SlowDown and 500s to DuckDB's own reads (local.faults, as S3 sends them): DuckDB
    retries each request three times itself; a request refused four times in a row is
    StorageBusy (/sync's 503, a job's query run again), never the query's error; the job's
    rerun then gets the right rows. Each case opens a fresh engine first (DuckDB caches what it
    read, so a warm one might send no request at all)."""
    from tap.request import StorageBusy
    from tap.service import STORAGE_ATTEMPTS, until_storage_answers

    cone = parse_tap_query({"LANG": "ADQL", "QUERY": CONE, "RESPONSEFORMAT": "csv"}, Limits())
    expected = hips(QueryEngine(str(build()), lambda p: Path(p).read_text(), dict, tmp_path), CONE)

    def opened(**script: list[str]) -> QueryEngine:
        """A new container's engine, its catalogue read; then S3 refuses as ``script`` says."""
        faults.script.clear()
        fresh = engine(s3, tmp_path, f"s3://{SURVEY}/hips/{HATS_TABLE}/", SURVEY)
        fresh.catalogue  # noqa: B018 (opening it is the point)
        faults.script.update(script)
        return fresh

    def rows(outcome: Any) -> list[int]:
        return [int(line) for line in outcome.path.read_text().split()[1:]]

    # three refusals of each request in turn: DuckDB's own retries ride through them
    survey = opened(GET=["SlowDown", "InternalError", "SlowDown"], HEAD=["SlowDown"] * 3)
    assert rows(survey.run(cone, {})) == expected
    assert faults.injected["duckdb:SlowDown"] >= 2 and not faults.script["GET"]

    # four in a row: busy, not the query's fault
    survey = opened(GET=["SlowDown"] * 4, HEAD=["SlowDown"] * 4)
    with pytest.raises(StorageBusy, match="HTTP 503"):
        survey.run(cone, {})

    # a job's run: refused, answered by its next run 1 s later (no pause here: recorded)
    survey = opened(GET=["SlowDown"] * 4, HEAD=["SlowDown"] * 4)
    paused: list[float] = []
    assert rows(until_storage_answers(lambda: survey.run(cone, {}), paused.append)) == expected
    assert paused and paused == [2**i for i in range(len(paused))]

    # refused every time: StorageBusy once the attempts are spent
    survey = opened(GET=["SlowDown"] * 99, HEAD=["SlowDown"] * 99)
    paused.clear()
    with pytest.raises(StorageBusy):
        until_storage_answers(lambda: survey.run(cone, {}), paused.append)
    assert paused == [2**i for i in range(STORAGE_ATTEMPTS - 1)]

    # a cold start whose metadata reads S3 refuses: busy (VOSI's 503), not a broken table,
    # and the next request's start reads it
    faults.script.clear()
    faults.script.update(GET=["SlowDown"] * 4, HEAD=["SlowDown"] * 4)
    cold = engine(s3, tmp_path, f"s3://{SURVEY}/hips/{HATS_TABLE}/", SURVEY)
    with pytest.raises(StorageBusy):
        cold.catalogue  # noqa: B018 (opening it is the point)
    faults.script.clear()
    assert rows(cold.run(cone, {})) == expected
