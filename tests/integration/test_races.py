"""Conditional writes really race: many threads change one job at once."""

import datetime
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import UWS, queued_messages, text_of


def run_all(calls, workers=25):
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_run_and_abort_racing_end_aborted_with_at_most_one_message(api):
    for _ in range(3):
        job_id = api.create()

        def post(phase, job_id=job_id):
            return phase, api.request(
                "POST", f"/async/{job_id}/phase", data={"PHASE": phase}
            ).status

        outcomes = run_all([lambda p=p: post(p) for p in ["RUN", "ABORT"] * 25])
        assert {status for _, status in outcomes} <= {303, 403}
        assert all(status == 303 for phase, status in outcomes if phase == "ABORT")
        assert text_of(api.job(job_id), "uws:phase") == "ABORTED"
        messages = queued_messages(api)
        runs_that_won = [o for o in outcomes if o == ("RUN", 303)]
        assert len(messages) <= 1
        assert bool(messages) == bool(runs_that_won)
        # one write queued it (perhaps), one aborted it: nothing else was written
        assert int(api.item(job_id)["version"]["N"]) == len(messages) + 1


def test_racing_runs_queue_once(api):
    job_id = api.create()
    statuses = run_all(
        [lambda: api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}).status] * 50
    )
    assert statuses == [303] * 50
    assert len(queued_messages(api)) == 1
    assert int(api.item(job_id)["version"]["N"]) == 1


def test_racing_parameter_posts_lose_no_update(testing_type):
    api = testing_type
    job_id = api.create(NAME="n")

    def post(i):
        return api.request("POST", f"/async/{job_id}/parameters", data={f"P{i}": f"v{i}"}).status

    assert run_all([lambda i=i: post(i) for i in range(20)]) == [303] * 20
    params = {
        p.get("id"): p.text for p in api.job(job_id).findall("uws:parameters/uws:parameter", UWS)
    }
    assert params == {"NAME": "n", **{f"P{i}": f"v{i}" for i in range(20)}}
    assert int(api.item(job_id)["version"]["N"]) == 20


def test_parameter_posts_racing_run_are_either_in_or_refused(testing_type):
    api = testing_type
    job_id = api.create(NAME="n")

    def post(i):
        reply = api.request("POST", f"/async/{job_id}/parameters", data={f"P{i}": f"v{i}"})
        return i, reply.status

    calls = [lambda i=i: post(i) for i in range(20)]
    calls.insert(
        10,
        lambda: (
            "run",
            api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}).status,
        ),
    )
    outcomes = run_all(calls)
    params = {p.get("id") for p in api.job(job_id).findall("uws:parameters/uws:parameter", UWS)}
    for who, status in outcomes:
        if who == "run":
            assert status == 303
        elif status == 303:
            assert f"P{who}" in params  # accepted before RUN: kept
        else:
            assert status == 403 and f"P{who}" not in params  # refused after RUN: not applied


def test_racing_destruction_changes_leave_one_of_the_values(api):
    job_id = api.create()
    now = datetime.datetime.now(datetime.UTC)
    values = [
        (now + datetime.timedelta(days=1, minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for i in range(30)
    ]

    def post(value):
        return api.request(
            "POST", f"/async/{job_id}/destruction", data={"DESTRUCTION": value}
        ).status

    assert run_all([lambda v=v: post(v) for v in values]) == [303] * 30
    assert text_of(api.job(job_id), "uws:destruction") in values
    assert int(api.item(job_id)["version"]["N"]) == 30


def test_delete_racing_changes_never_resurrects_the_job(api):
    changes = [
        ("POST", "/phase", {"PHASE": "RUN"}),
        ("POST", "/parameters", {"TEXT": "x"}),
        ("POST", "/executionduration", {"EXECUTIONDURATION": "5"}),
    ] * 5
    for _ in range(3):
        job_id = api.create()
        calls = [lambda job_id=job_id: api.request("DELETE", f"/async/{job_id}").status]
        calls += [
            lambda job_id=job_id, m=m, c=c, d=d: (
                api.request(m, f"/async/{job_id}{c}", data=d).status
            )
            for m, c, d in changes
        ]
        statuses = run_all(calls)
        assert statuses[0] == 303
        assert set(statuses[1:]) <= {303, 403, 404}
        assert api.item(job_id) is None


def test_delete_racing_the_workers_completion_leaves_nothing_behind(api):
    import threading
    import time

    for delay in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3):
        job_id = api.create(PHASE="RUN", DURATION="0.1")
        worker = threading.Thread(target=api.work, kwargs={"max_messages": 1})
        worker.start()
        time.sleep(delay)
        assert api.request("DELETE", f"/async/{job_id}").status in (303, 404)
        worker.join(timeout=10)
        assert api.item(job_id) is None, delay  # never resurrected by the worker's writes
        assert api.objects(job_id) == [], delay  # and no result file outlives it


def test_two_uploads_at_once_never_delete_each_others_files(testing_type):
    """Each parameter POST deletes only the file its own write displaced: the file the job
    lists at the end is always there, and nothing else is left (before, each POST deleted
    every upload its own snapshot did not list, so the winner's file could vanish)."""
    from tests.integration.test_children import multipart

    api = testing_type
    for _ in range(8):
        job_id = api.create(NAME="n")

        def upload(i, job_id=job_id):
            body, headers = multipart({}, {"UPLOAD": (f"f{i}.txt", b"file", "text/plain")})
            return api.request(
                "POST", f"/async/{job_id}/parameters", body=body, headers=headers
            ).status

        assert run_all([lambda i=i: upload(i) for i in range(6)], workers=6) == [303] * 6
        item = api.item(job_id)
        listed = item["uploads"]["M"]["UPLOAD"]["M"]["key"]["S"]
        assert api.objects(job_id) == [listed]
