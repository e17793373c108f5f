"""Every function of a TAP deployment knows the tap job type (to create, change, run and show
its jobs), but only the query functions carry DuckDB, sqlglot and PyYAML (TapEngineLayer):
the declaration must work without them, as it does on Lambda."""

from __future__ import annotations

import subprocess
import sys

WITHOUT_THE_ENGINE = """
import sys

class NotInThisLayer:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("duckdb", "sqlglot", "yaml", "duckdb_extension_httpfs"):
            raise ModuleNotFoundError(f"No module named {name!r} (not in this function's layers)")
        return None

sys.meta_path.insert(0, NotInThisLayer())
import os
os.environ["JOB_TYPE_MODULES"] = "tap.jobtype"
from uws.jobtypes import job_type

tap = job_type("tap")
values = tap.validate([("LANG", "ADQL"), ("QUERY", "SELECT 1"), ("DUMMY", "kept")])
assert values["DUMMY"] == ["kept"] and tap.files_by_any_name
body, media_type = tap.error_document("Unknown column 'x' at line 1, column 8.")
assert 'value="ERROR"' in body and media_type == "application/x-votable+xml"
print("ok")
"""


def test_the_tap_job_type_needs_no_engine():
    run = subprocess.run([sys.executable, "-c", WITHOUT_THE_ENGINE], capture_output=True, text=True)
    assert run.stdout.strip() == "ok", run.stderr
