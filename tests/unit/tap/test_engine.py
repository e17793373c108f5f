"""The query engine over a catalogue on disk: metadata carried into results, TAP_SCHEMA as the
tables say, uploads joined, MAXREC, errors that name their place, and DuckDB locked down
behind the translator (docs/tap.md)."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import duckdb
import pytest
from astropy.io.votable import parse_single_table
from tap.engine import QueryEngine
from tap.metadata import Column
from tap.request import Limits, TapError, parse_tap_query
from tap.votable import write_votable


@pytest.fixture
def engine(catalogue_root: Path, tmp_path: Path) -> QueryEngine:
    return QueryEngine(
        str(catalogue_root), lambda path: Path(path).read_text(), dict, tmp_path / "work"
    )


def run(engine: QueryEngine, query: str, uploads=None, check=None, **parameters):
    tap = parse_tap_query({"LANG": "ADQL", "QUERY": query, **parameters}, Limits())
    outcome = engine.run(tap, uploads or {}, check=check)
    return outcome, outcome.path.read_bytes()


def table(data: bytes):
    return parse_single_table(io.BytesIO(data)).to_table()


def test_selected_columns_keep_their_metadata_computed_ones_their_type(engine):
    outcome, data = run(engine, "SELECT id, ra, ra * 2 AS twice FROM demo.stars ORDER BY id")
    assert list(table(data)["id"]) == [1, 2]
    votable = parse_single_table(io.BytesIO(data))
    fields = {f.name: f for f in votable.fields}
    assert fields["ra"].ucd == "pos.eq.ra;meta.main" and str(fields["ra"].unit) == "deg"
    assert fields["ra"].description == "Right ascension"
    assert fields["twice"].ucd is None and fields["twice"].datatype == "double"
    assert outcome.written.rows == 2 and not outcome.written.overflow


def test_tap_schema_is_queryable_and_agrees_with_the_catalogue(engine):
    _, data = run(
        engine,
        "SELECT table_name, column_name, unit, ucd FROM TAP_SCHEMA.columns "
        "WHERE table_name = 'demo.stars' ORDER BY column_index",
    )
    rows = [tuple(row) for row in table(data)]
    described = engine.catalogue.table("demo.stars").columns
    assert [r[1] for r in rows] == [c.name for c in described]
    assert ("demo.stars", "ra", "deg", "pos.eq.ra;meta.main") in rows


def test_an_upload_is_a_table_of_tap_upload_and_joins(engine):
    buffer = io.BytesIO()
    write_votable(buffer, [Column("star", "long"), Column("note", "char", "*")], [[(1, "x")]])
    _, data = run(
        engine,
        "SELECT s.id, u.note FROM demo.stars AS s JOIN TAP_UPLOAD.mine AS u ON s.id = u.star",
        uploads={"mine": buffer.getvalue()},
    )
    assert [tuple(r) for r in table(data)] == [(1, "x")]


def test_maxrec_caps_and_says_overflow(engine):
    outcome, data = run(engine, "SELECT id FROM demo.stars", MAXREC="1")
    assert outcome.written.rows == 1 and outcome.written.overflow
    assert b'name="QUERY_STATUS" value="OVERFLOW"' in data


def test_what_cannot_run_names_the_problem_and_its_place(engine):
    with pytest.raises(TapError, match=r"nosuch.*line 1, column 8"):
        run(engine, "SELECT nosuch FROM demo.stars")
    with pytest.raises(TapError, match=r"demo\.nowhere"):
        run(engine, "SELECT * FROM demo.nowhere")


def test_the_translator_refuses_table_functions(engine):
    with pytest.raises(TapError):
        run(engine, "SELECT * FROM read_csv('/etc/passwd')")


def test_duckdb_itself_reads_nothing_but_the_catalogue(engine):
    """Behind the translator: even SQL it would never emit cannot read other files or undo
    the lock (DuckDB's allowed_directories, enable_external_access, lock_configuration)."""
    run(engine, "SELECT id FROM demo.stars")  # opens the database
    cursor = engine._open().cursor()
    with pytest.raises(duckdb.PermissionException):
        cursor.execute("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(duckdb.Error, match="locked"):
        cursor.execute("SET enable_external_access = true")


def test_an_abort_interrupts_a_running_query(engine):
    """The job's check() raising (ABORT, or the deadline) stops DuckDB, not just the job."""

    class Aborted(Exception):
        pass

    calls = []

    def check():
        calls.append(time.monotonic())
        if len(calls) >= 2:
            raise Aborted

    started = time.monotonic()
    slow = (
        "SELECT COUNT(*) FROM demo.stars AS a, demo.stars AS b, TAP_SCHEMA.columns AS c, "
        "TAP_SCHEMA.columns AS d, TAP_SCHEMA.columns AS e, TAP_SCHEMA.columns AS f, "
        "TAP_SCHEMA.columns AS g, TAP_SCHEMA.columns AS h WHERE SQRT(a.id + c.column_index + "
        "d.column_index + e.column_index + f.column_index + g.column_index + h.column_index) > 0"
    )
    with pytest.raises(Aborted):
        run(engine, slow, check=check)
    assert time.monotonic() - started < 10
    assert threading.active_count() < 10


def test_a_cold_start_leaves_other_engines_work_and_clears_what_dead_ones_left(
    catalogue_root: Path, tmp_path: Path
):
    """The local runtime's functions, its container tasks and the tests share one disk: one
    engine's cold start once emptied the shared working directory under another's running
    /sync queries (a 500 to STILTS taplint in CI)."""
    import subprocess
    import sys

    def new_engine() -> QueryEngine:
        return QueryEngine(str(catalogue_root), lambda p: Path(p).read_text(), dict, tmp_path)

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    abandoned = tmp_path / f"engine-{dead}-0000"
    (abandoned / "spill").mkdir(parents=True)
    (abandoned / "result.votable").write_text("left by a runtime that crashed")
    living = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        others = tmp_path / f"engine-{living.pid}-0000"
        (others / "spill").mkdir(parents=True)
        (others / "result.votable").write_text("another process's running query")
        first = new_engine()
        outcome, _ = run(first, "SELECT TOP 1 id FROM demo.stars")
        second = new_engine()  # another container's cold start on the same disk
        run(second, "SELECT TOP 1 id FROM demo.stars")
        assert outcome.path.exists(), "a cold start removed a running engine's result"
        assert (others / "result.votable").exists()
        assert not abandoned.exists()
        assert first.workdir != second.workdir
    finally:
        living.kill()
        living.wait()


def test_a_cold_start_that_failed_is_tried_again_by_the_next_query(catalogue_root, tmp_path):
    """The engine is the container's for its life: one failed read of the catalogue's
    metadata (S3 throttling past its retries) must not break every later query."""
    reads: list[str] = []

    def flaky(path: str) -> str:
        reads.append(path)
        if len(reads) == 1:
            raise OSError("SlowDown: please reduce your request rate")
        return Path(path).read_text()

    engine = QueryEngine(str(catalogue_root), flaky, dict, tmp_path)
    with pytest.raises(OSError):
        run(engine, "SELECT TOP 1 id FROM demo.stars")
    outcome, _ = run(engine, "SELECT TOP 1 id FROM demo.stars")
    assert outcome.written.rows == 1 and len(reads) == 2


def test_what_a_restarted_runtime_left_is_cleared_and_no_live_engine_s_is(catalogue_root, tmp_path):
    """Lambda restarts a runtime that timed out or crashed in the same container, /tmp and all,
    and its process id may be the same: a directory of this process's id that no engine of
    this process holds is what such a runtime left."""
    import os

    left = tmp_path / f"engine-{os.getpid()}-restarted"
    (left / "spill").mkdir(parents=True)
    waiting = QueryEngine(str(catalogue_root), lambda p: Path(p).read_text(), dict, tmp_path)
    fresh = QueryEngine(str(catalogue_root), lambda p: Path(p).read_text(), dict, tmp_path)
    run(fresh, "SELECT TOP 1 id FROM demo.stars")  # its cold start sweeps
    assert not left.exists()
    run(waiting, "SELECT TOP 1 id FROM demo.stars")  # made before the sweep, opened after it
    assert waiting.workdir.exists() and fresh.workdir.exists()
