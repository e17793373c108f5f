"""The local runtime answers as API Gateway and Lambda would, limits and all, and an external
UWS validator (STILTS taplint) finds nothing wrong."""

import shutil
import socket
import subprocess
import time

import pytest
import requests

from tests.e2e.conftest import running_server


def raw(server, request: bytes) -> bytes:
    """Send bytes as they are (requests will not send TRACE with a body or a bare method)."""
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO"])
def test_methods_api_gateway_does_not_route_get_its_answer(server, method):
    """ANY takes DELETE, GET, HEAD, OPTIONS, PATCH, POST and PUT; API Gateway answers any
    other itself, with the template's MISSING_AUTHENTICATION_TOKEN response."""
    reply = raw(
        server, f"{method} /async HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ")
    assert b"Content-Type: text/plain; charset=utf-8" in head
    assert body == b"There is no such resource or method here."


@pytest.mark.parametrize("path", ["/", "/async/", "/async/AAAAAAAAAAAAAAAAAAAAAA/nosuchthing"])
def test_unrouted_paths_are_404_sentences_for_every_method(server, http, path):
    for method in ("GET", "POST", "DELETE", "HEAD"):
        reply = http.request(method, f"{server.base}{path}")
        assert reply.status_code == 404, (method, path)
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert method == "HEAD" or reply.text.endswith(".")


def test_head_has_the_length_of_the_get(server, http):
    job = http.post(server.jobs, data={"TEXT": "t"}, allow_redirects=False).headers["Location"]
    get, head = http.get(job), http.head(job)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == len(get.content) > 0


def test_a_body_over_api_gateways_10_mb_is_its_413(server, http):
    reply = http.post(server.jobs, data=b"TEXT=" + b"x" * (10 * 1024 * 1024),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert reply.status_code == 413
    assert reply.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert reply.text == "The request body is over the limit of 4194304 bytes."


def test_a_body_lambda_cannot_take_is_api_gateways_413_not_a_5xx(server, http):
    """7 MB passes API Gateway but not Lambda's 6 MB event: the function never runs, and API
    Gateway answers 413 "Request Too Long" with x-amzn-ErrorType BadRequestException (its
    REQUEST_TOO_LARGE response, which the template makes our sentence; Lambda quotas,
    "Invocation payload"; API Gateway Developer Guide, "Gateway response types")."""
    reply = http.post(server.jobs, data=b"TEXT=" + b"x" * (7 * 1024 * 1024),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert reply.status_code == 413
    assert reply.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert reply.text == "The request body is over the limit of 4194304 bytes."


def test_a_body_that_reaches_the_function_but_is_over_its_limit_is_a_sentence(server, http):
    reply = http.post(server.jobs, data=b"TEXT=" + b"x" * (5 * 1024 * 1024),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert reply.status_code == 413
    assert reply.text == "The request body is over the limit of 4194304 bytes."


@pytest.mark.skipif(shutil.which("stilts") is None, reason="STILTS is installed by .ci/run")
def test_stilts_taplint_finds_no_uws_errors():
    with running_server(tap=True) as server:
        result = subprocess.run(
            ["stilts", "taplint", "interface=tap1.1", f"tapurl={server.base}", "stages=UWS",
             f"asyncurl={server.jobs}", "report=EWFIS"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert requests.get(server.jobs, timeout=5).status_code == 200
    report = result.stdout
    assert "Totals: Errors: 0; Warnings: 0;" in report and "Failures: 0" in report, report
    assert "I-UWS-CJOB-1 Created new job" in report, report


def test_a_hundred_jobs_behind_a_worker_cap_of_two_all_complete(http):
    """The worker's MaximumConcurrency holds (never more than 2 EXECUTING), the queue drains,
    and the reaper (every second here) ends none of the jobs merely waiting their turn."""
    import time

    from lxml import etree

    with running_server("WorkerMaxConcurrency=2", "QueueTimeoutSeconds=60") as server:
        jobs = [
            http.post(server.jobs, data={"DURATION": "0.02", "PHASE": "RUN"},
                      allow_redirects=False).headers["Location"]
            for _ in range(100)
        ]  # fmt: skip
        most_executing, deadline = 0, time.monotonic() + 120
        while time.monotonic() < deadline:
            root = etree.fromstring(http.get(server.jobs).content)
            phases = [e.text for e in root.iter("{http://www.ivoa.net/xml/UWS/v1.0}phase")]
            most_executing = max(most_executing, phases.count("EXECUTING"))
            if phases.count("COMPLETED") == len(jobs):
                break
            time.sleep(0.25)  # a job list of 100 costs the one-process runtime too
    assert phases.count("COMPLETED") == 100, {p: phases.count(p) for p in set(phases)}
    assert 1 <= most_executing <= 2


def test_a_busy_port_is_one_sentence_with_a_hint(server):
    """A second make serve on the same port says so, and how to choose another."""
    import sys
    from pathlib import Path

    port = int(server.base.rsplit(":", 1)[1])
    run = subprocess.run(
        [sys.executable, "-m", "local.serve", "--port", str(port)],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.strip() == (
        f"Port {port} is in use (another make serve?); try PORT={port + 1}."
    )


def test_make_help_is_the_default_and_names_every_target():
    from pathlib import Path

    root = Path(__file__).parents[2]
    run = subprocess.run(["make", "--no-print-directory"], cwd=root, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0
    listed = {line.split()[1] for line in run.stdout.splitlines() if line.startswith("  make ")}
    declared = set((root / "Makefile").read_text().split(".PHONY:")[1].split("\n")[0].split())
    assert listed == declared


def test_a_burst_of_fifty_clients_is_queued_not_refused(server):
    """http.server's listen backlog of 5 reset connections under 50 clients; now they wait."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        with requests.Session() as session:
            return session.get(server.jobs, timeout=30).status_code

    with ThreadPoolExecutor(50) as pool:
        assert list(pool.map(one, range(100))) == [200] * 100


def test_fifty_clients_each_running_six_whole_lifecycles_lose_nothing(server):
    """50 clients at once, each six times: create with RUN, WAIT until done, fetch the result,
    DELETE. Nothing is refused, every job completes with its result, every job is gone."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    phase_in = re.compile(r"<uws:phase>(\w+)</uws:phase>")

    def client(index: int) -> list[tuple[str, str, bytes]]:
        seen = []
        with requests.Session() as session:
            for round_ in range(6):
                text = f"client {index} round {round_}"
                created = session.post(server.jobs, data={"PHASE": "RUN", "TEXT": text},
                                       allow_redirects=False, timeout=60)  # fmt: skip
                assert created.status_code == 303, created.text
                job = created.headers["Location"]
                phase, deadline = "QUEUED", time.monotonic() + 120
                while phase in ("QUEUED", "EXECUTING") and time.monotonic() < deadline:
                    reply = session.get(job, params={"WAIT": "3", "PHASE": phase}, timeout=60)
                    phase = phase_in.search(reply.text).group(1)
                result = session.get(f"{job}/results/result", timeout=60).content
                assert session.delete(job, allow_redirects=False, timeout=60).status_code == 303
                seen.append((job, phase, result))
        return seen

    with ThreadPoolExecutor(50) as pool:
        runs = [run for seen in pool.map(client, range(50)) for run in seen]
    assert len(runs) == 300 and len({job for job, _, _ in runs}) == 300
    assert [phase for _, phase, _ in runs] == ["COMPLETED"] * 300
    for index in range(50):
        for round_ in range(6):
            text = f"client {index} round {round_}".encode()
            assert sum(b">" + text + b"<" in result for _, _, result in runs) == 1
    gone = {requests.get(job, timeout=30).status_code for job, _, _ in runs}
    assert gone == {404}
