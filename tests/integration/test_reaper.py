"""The scheduled reaper: destruction times and deadlines enforced from indexes, never a scan."""

import datetime

import boto3

from local.iam import every_layer_client
from tests.conftest import UWS, set_item, text_of


def store_jobs(api, count, destruction_in_days=7.0):
    """Write ``count`` jobs straight into the table (25 per batch), as if clients had made them."""
    from uws.config import settings
    from uws.isodt import utcnow
    from uws.job import new_job
    from uws.store import item_from_job

    now = utcnow()
    jobs = []
    for _ in range(count):
        job = new_job(None, "demo", now, settings())
        job.destruction = now + datetime.timedelta(days=destruction_in_days)
        jobs.append(job)
    db = boto3.client("dynamodb")
    for start in range(0, count, 25):
        db.batch_write_item(
            RequestItems={
                api.refs["JobsTable"]: [
                    {"PutRequest": {"Item": item_from_job(j)}} for j in jobs[start : start + 25]
                ]
            }
        )
    return [j.job_id for j in jobs]


def count_reads():
    """Items DynamoDB hands back to our client, and the calls by name (botocore's event hooks)."""
    tally = {"items": 0, "calls": {}}

    def after(event_name, parsed, **_):
        operation = event_name.rsplit(".", 1)[1]
        tally["calls"][operation] = tally["calls"].get(operation, 0) + 1
        tally["items"] += len(parsed.get("Items", [])) + (1 if "Item" in parsed else 0)

    for each in every_layer_client("dynamodb"):
        each.meta.events.register("after-call.dynamodb", after)
    return tally


def test_reaper_destroys_exactly_the_expired_jobs_reading_only_those(api):

    kept = store_jobs(api, 990)
    expired = store_jobs(api, 10, destruction_in_days=-1)
    s3 = boto3.client("s3")
    for job_id in expired + kept[:5]:
        s3.put_object(
            Bucket=api.refs["ResultsBucket"], Key=f"jobs/{job_id}/results/result", Body=b"x"
        )
    tally = count_reads()
    report = api.sweep()
    assert report == {"destroyed": 10, "timed_out": 0, "recovered": 0, "lost": 0}
    assert tally["items"] == 10  # proportional to the expired jobs, not the 1,000 stored
    assert "Scan" not in tally["calls"]
    assert tally["calls"]["DeleteItem"] == 10
    assert all(api.item(j) is None and api.objects(j) == [] for j in expired)
    assert all(api.objects(j) for j in kept[:5])
    count = boto3.client("dynamodb").scan(TableName=api.refs["JobsTable"], Select="COUNT")["Count"]
    assert count == 990


def test_overlapping_sweeps_do_each_thing_once(api):
    expired = store_jobs(api, 5, destruction_in_days=-1)
    first, second = api.sweep(), api.sweep()
    assert first["destroyed"] == 5 and second["destroyed"] == 0
    assert all(api.item(j) is None for j in expired)


def test_a_destruction_extended_meanwhile_is_respected(api):
    from uws.config import settings
    from uws.isodt import utcnow
    from uws.store import JobStore

    (job_id,) = store_jobs(api, 1, destruction_in_days=-1)
    store = JobStore(settings().table)
    assert store.destroy_expired(job_id, utcnow() - datetime.timedelta(days=2)) is False
    assert api.item(job_id) is not None


def test_an_executing_job_past_its_deadline_ends_in_error(api):
    job_id = api.create()
    set_item(
        api, job_id, phase="EXECUTING", deadline="2001-01-01T00:00:00.000000Z", deadlineShard="3"
    )
    assert api.sweep()["timed_out"] == 1
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ERROR"
    assert "execution duration" in text_of(root, "uws:errorSummary/uws:message")
    assert "deadline" not in api.item(job_id)
    assert api.sweep()["timed_out"] == 0


def test_a_queued_job_whose_message_was_lost_ends_in_error(api, monkeypatch):
    job_id = api.create()
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    boto3.client("sqs").purge_queue(QueueUrl=api.refs["JobsQueue"])
    assert api.sweep()["recovered"] == 0  # not yet overdue
    set_item(api, job_id, deadline="2001-01-01T00:00:00.000000Z")
    assert api.sweep()["recovered"] == 1
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ERROR"
    message = text_of(root, "uws:errorSummary/uws:message")
    assert message.startswith("No worker started the job") and "submit it again" in message
    reply = api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    assert reply.status == 403  # so the message does not say "run it again"


def test_finished_jobs_leave_the_deadline_index(api):
    job_id = api.create(PHASE="RUN")
    assert "deadline" in api.item(job_id)
    api.work()
    assert text_of(api.job(job_id), "uws:phase") == "COMPLETED"
    assert "deadline" not in api.item(job_id) and "deadlineShard" not in api.item(job_id)
    aborted = api.create(PHASE="RUN")
    api.request("POST", f"/async/{aborted}/phase", data={"PHASE": "ABORT"})
    assert "deadline" not in api.item(aborted)
    assert api.job(aborted).find("uws:phase", UWS).text == "ABORTED"
