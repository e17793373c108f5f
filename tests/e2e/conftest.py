"""The local runtime as a real process on a free port, over real HTTP."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local.embedded import free_port

ROOT = Path(__file__).parents[2]
WAIT_CAP = 3


class Server:
    def __init__(self, base: str, process: subprocess.Popen, state: Path) -> None:
        self.base = base
        self.process = process
        self.state = state  # where it tells `make invoke` its AWS (UWS_LOCAL_STATE)
        self.crashed = False
        self.log = ""  # what it printed, once it stopped

    def crash(self) -> None:
        """Stop it as a power cut would: SIGKILL, no clean stop."""
        self.crashed = True
        self.process.kill()
        self.process.wait(timeout=10)

    @property
    def jobs(self) -> str:
        return f"{self.base}/async"


@contextlib.contextmanager
def running_server(
    *overrides: str, keep_in: Path | None = None, env: dict[str, str] | None = None,
    tap: bool = False,
) -> Iterator[Server]:  # fmt: skip
    """`make serve` on a free port (`make serve-tap` with ``tap``); jobs kept in ``keep_in``
    (default: a new directory); ``env`` adds to its environment (LOG_LEVEL …)."""
    if keep_in is None:
        with (
            tempfile.TemporaryDirectory(prefix="uws-kept-") as fresh,
            running_server(*overrides, keep_in=Path(fresh), env=env, tap=tap) as server,
        ):
            yield server
        return
    port = free_port()
    # not the caller's AWS settings, nor a pool or a fault rate exported for `make serve`:
    # a test asks for those through ``env``
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("AWS_") and k not in ("ACCOUNT_CONCURRENCY", "FAULT_RATE")}  # fmt: skip
    # each its own state file: `make test` runs several services at once
    state = keep_in.parent / f"{keep_in.name}.state.json"
    environment.update(REAPER_EVERY="1", PYTHONUNBUFFERED="1", ENFORCE_IAM="1",
                       UWS_LOCAL_STATE=str(state), **(env or {}))  # fmt: skip
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.serve",
            "--port",
            str(port),
            "--keep-in",
            str(keep_in),
            *(["--tap"] if tap else []),
            "--parameter-overrides",
            f"WaitCapSeconds={WAIT_CAP}",
            *overrides,
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/async", timeout=1).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or listening and still starting
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"local.serve did not start:\n{process.stdout.read()}")
    server = Server(base, process, state)
    yield server
    process.terminate()  # what Ctrl-C does too: a clean stop that leaves nothing behind
    try:
        assert process.wait(timeout=20) == 0 or server.crashed
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    finally:
        server.log = process.stdout.read()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/async", timeout=1)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    with running_server() as running:
        yield running


@pytest.fixture(scope="session")
def testing_server() -> Iterator[Server]:
    """The runtime deployed with the tests' job type (a required parameter, a file parameter)."""
    overrides = ("JobType=testing", "JobTypeModules=uws.demo,tests.jobtypes_for_tests")
    with running_server(*overrides) as running:
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
