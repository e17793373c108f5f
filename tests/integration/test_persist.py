"""local.persist: a snapshot written, the deployment emptied, the snapshot loaded back (the
e2e tests restart `make serve` itself; these check the edges quickly, in-process)."""

from __future__ import annotations

import boto3

from local.persist import STOPPED_MESSAGE, Snapshot
from local.template import load
from tests.conftest import set_item, text_of


def emptied(api) -> None:
    """What a new process starts with: the table and the bucket empty."""
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    for item in dynamodb.scan(TableName=api.refs["JobsTable"])["Items"]:
        dynamodb.delete_item(TableName=api.refs["JobsTable"], Key={"jobId": item["jobId"]})
    listed = s3.list_objects_v2(Bucket=api.refs["ResultsBucket"]).get("Contents", [])
    for obj in listed:
        s3.delete_object(Bucket=api.refs["ResultsBucket"], Key=obj["Key"])


def test_items_and_files_come_back_as_they_were(api, tmp_path):
    done = api.create(PHASE="RUN", TEXT="kept")
    api.work()
    pending = api.create(TEXT="later")
    document = api.request("GET", f"/async/{done}").body
    snapshot = Snapshot(tmp_path, load(), api.refs)
    snapshot.save()
    emptied(api)
    assert api.request("GET", f"/async/{done}").status == 404
    assert snapshot.load() == 2
    assert api.request("GET", f"/async/{done}").body == document
    assert text_of(api.job(pending), "uws:phase") == "PENDING"
    assert api.objects(done) == [f"jobs/{done}/results/result"]
    snapshot.stop()


def test_a_file_the_index_names_but_a_crash_lost_is_skipped(api, tmp_path):
    done = api.create(PHASE="RUN")
    api.work()
    snapshot = Snapshot(tmp_path, load(), api.refs)
    snapshot.save()
    for path in (tmp_path / "ResultsBucket").iterdir():
        if path.name != "index.json":
            path.unlink()
    emptied(api)
    assert snapshot.load() == 1  # the item is back; its lost file is not, and the start goes on
    assert api.objects(done) == []
    snapshot.stop()


def test_executing_jobs_end_in_error_and_one_past_destruction_does_not_stop_the_start(
    api, tmp_path
):
    running = api.create(PHASE="RUN")
    expired = api.create(PHASE="RUN")
    set_item(api, running, phase="EXECUTING")
    set_item(api, expired, phase="EXECUTING", destruction="2000-01-01T00:00:00.000000Z")
    snapshot = Snapshot(tmp_path, load(), api.refs)
    snapshot.save()
    emptied(api)
    assert snapshot.load() == 2
    assert text_of(api.job(running), "uws:phase") == "ERROR"
    assert api.request("GET", f"/async/{running}/error").body == STOPPED_MESSAGE
    snapshot.stop()


def test_a_quota_counter_and_an_item_it_cannot_read_do_not_stop_the_start(
    api, tmp_path, monkeypatch, capsys
):
    """With a quota the job table holds counter items (active#…); a restart restores them as
    they are, and an item this version cannot read as a job is kept and named, not a crash."""
    from uws.config import settings

    monkeypatch.setenv("MAX_ACTIVE_JOBS_PER_OWNER", "2")
    settings.cache_clear()
    running = api.create(PHASE="RUN", owner="alice")
    dynamodb = boto3.client("dynamodb")
    counters = [
        i for i in dynamodb.scan(TableName=api.refs["JobsTable"])["Items"]
        if i["jobId"]["S"].startswith("active#")
    ]  # fmt: skip
    assert counters
    odd = {"jobId": {"S": "A" * 22}, "note": {"S": "written by another version"}}
    dynamodb.put_item(TableName=api.refs["JobsTable"], Item=odd)
    snapshot = Snapshot(tmp_path, load(), api.refs)
    snapshot.save()
    emptied(api)
    assert snapshot.load() == 3
    assert "not jobs as this version reads them" in capsys.readouterr().err
    assert text_of(api.job(running, owner="alice"), "uws:phase") == "QUEUED"
    assert (
        dynamodb.get_item(TableName=api.refs["JobsTable"], Key={"jobId": counters[0]["jobId"]})[
            "Item"
        ]
        == counters[0]
    )
    snapshot.stop()
