"""schemathesis against `make serve` from docs/openapi.yaml (docs/uws.md): every route, method
and documented status, fuzzed and then driven through the description's links (create, run,
change, delete); every response must match the description, none may be a 5xx, every XML
body must be valid UWS 1.1 and every refusal one sentence (tests/e2e/uws_checks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from .conftest import ROOT, Server, running_server

DESCRIPTION = ROOT / "docs" / "openapi.yaml"
CONFIG = ROOT / "tests" / "e2e" / "schemathesis.toml"
# A fixed seed: CI finds the same cases every run; SCHEMATHESIS_SEED=<n> explores others.
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261124")
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "25")


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Server]:
    with running_server() as server:
        yield server


def schemathesis(server: Server, *options: str) -> str:
    run = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG),
            "run", str(DESCRIPTION), "--url", server.base,
            "--seed", SEED, "--workers", "1", "--request-timeout", "10",
            "--generation-database", "none", "--no-color", *options,
        ],
        cwd=ROOT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.uws_checks"},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    report = run.stdout[-12000:] + run.stderr[-3000:]
    assert run.returncode == 0, report
    return run.stdout


def test_every_operation_holds_to_the_description(fuzzed):
    out = schemathesis(fuzzed, "--max-examples", EXAMPLES)
    assert "32 selected / 32 total" in out, out
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase}" in out, out  # each phase ran and passed


def test_json_documents_hold_to_their_schemas(fuzzed):
    """The stateful phase again, every request asking for JSON: real jobs' JSON documents
    checked against the description's schemas (the fuzzed Accept headers rarely ask)."""
    out = schemathesis(
        fuzzed, "--phases", "stateful", "--max-examples", "10",
        "--header", "Accept: application/json",
    )  # fmt: skip
    assert "✅  Stateful" in out, out
