"""GAVO DaCHS 2.7 on this machine, serving the same Hipparcos-2 rows as `make serve-tap`: the
TAP service ours is measured against (bench/tap.py).

Debian's ``gavodachs2-server`` is installed with apt-get if it is missing. Everything the
bench's DaCHS uses is under WORK, made afresh each run: a PostgreSQL cluster of its own on a
free port (q3c and pg_sphere from the package's dependencies), a GAVO root (``dachs init``),
a resource descriptor written from ``local/hipparcos.yaml`` and the Parquet schema (the
``//scs#q3cindex`` mixin: DaCHS's positional index), the rows as CSV written by DuckDB from
the Parquet `python -m local.hipparcos` makes, ``dachs imp``, then ``dachs serve start
--foreground`` (production mode, as its systemd unit runs it) on another free port. The
system's own cluster and /var/gavo are left alone (the package's installer uses them).

``python -m bench.dachs`` sets it up, measures the cone search as bench/tap.py does and
prints the figures.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import requests
import yaml

from local.embedded import free_port
from local.hipparcos import METADATA, convert

WORK = Path("/tmp/uws-bench-dachs")
PACKAGE = "gavodachs2-server"
# the Parquet's types as DaCHS (PostgreSQL) names them
TYPES = {"INTEGER": "integer", "SMALLINT": "smallint", "BIGINT": "bigint",
         "DOUBLE": "double precision", "FLOAT": "real", "VARCHAR": "text"}  # fmt: skip


class Unavailable(Exception):
    """DaCHS cannot be had here; the message says why (the bench skips it)."""


@dataclass
class Setup:
    """Seconds each step of the setup took, and what was installed."""

    steps: dict[str, float] = field(default_factory=dict)
    installed_now: bool = False

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.steps[name] = round(time.monotonic() - started, 2)

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": self.steps, "total_s": round(sum(self.steps.values()), 1),
                "installed_now": self.installed_now, "work_dir": str(WORK)}  # fmt: skip


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """The command's output; a failure raises with what it said."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()[-800:]
        raise RuntimeError(f"{' '.join(command[:4])} … exited {done.returncode}: {said}")
    return done


def _package_configured() -> bool:
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE],
                            capture_output=True, text=True)  # fmt: skip
    return status.returncode == 0 and status.stdout.strip() == "install ok installed"


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise Unavailable("no PostgreSQL server binaries under /usr/lib/postgresql")
    return Path(found[-1]).parent


def install() -> bool:
    """Debian's package, with apt-get, unless it is there; whether it was installed now.

    Its installer creates a database in the system's cluster, which must be running for it
    (in a container nothing starts it): the cluster is started for the installer and
    stopped again, and a DaCHS the installer started is stopped."""
    if shutil.which("dachs") and _package_configured():
        return False
    if os.geteuid() != 0:
        raise Unavailable(f"{PACKAGE} is not installed, and installing it needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    got = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", PACKAGE],
                         env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    if not shutil.which("dachs"):
        tail = (got.stderr or got.stdout).strip().splitlines()[-1:]
        raise Unavailable(f"apt-get could not install {PACKAGE}: {' '.join(tail)}")
    if not _package_configured():  # its installer failed without a running cluster
        version = _pg_bin().parent.name
        down = "down" in _run(["pg_lsclusters", version, "main"]).stdout
        if down:
            _run(["pg_ctlcluster", version, "main", "start"])
        try:
            configured = subprocess.run(["dpkg", "--configure", PACKAGE], env=env,
                                        capture_output=True, text=True)  # fmt: skip
        finally:
            subprocess.run(["/etc/init.d/dachs", "stop"], capture_output=True)
            if down:
                subprocess.run(["pg_ctlcluster", version, "main", "stop"], capture_output=True)
        if configured.returncode != 0:
            raise Unavailable(f"{PACKAGE}'s installer failed: {configured.stdout[-300:]}")
    return True


def resource_descriptor(parquet: Path) -> str:
    """The RD for ``hipparcos.main``: every column of the Parquet, with the units, UCDs and
    descriptions of local/hipparcos.yaml, ADQL-queryable, indexed by q3c on (ra, dec)."""
    import duckdb

    schema = yaml.safe_load(METADATA.read_text())["schemas"][0]
    table = schema["tables"][0]
    described = {c["name"]: c for c in table.get("columns", [])}
    columns = []
    for name, sql_type, *_ in duckdb.sql(f"DESCRIBE SELECT * FROM '{parquet}'").fetchall():
        meta = described.get(name, {})
        attributes = {"name": name, "type": TYPES[sql_type], "unit": meta.get("unit"),
                      "ucd": meta.get("ucd"), "description": meta.get("description")}  # fmt: skip
        if name == "hip":
            attributes["required"] = "True"
        columns.append(
            "    <column "
            + " ".join(f"{k}={quoteattr(str(v))}" for k, v in attributes.items() if v)
            + "/>"
        )
    return "\n".join([
        f'<resource schema="{schema["name"]}">',
        '  <meta name="title">Hipparcos-2 (the bench\'s copy)</meta>',
        f'  <meta name="description">{escape(schema["description"])}</meta>',
        '  <meta name="creationDate">2007-01-01T00:00:00</meta>',
        '  <meta name="subject">astrometry</meta>',
        f'  <table id="{table["name"]}" onDisk="True" adql="True" primary="hip">',
        "    <mixin>//scs#q3cindex</mixin>",
        *columns,
        "  </table>",
        '  <data id="import">',
        "    <sources>hip2.csv</sources>",
        "    <csvGrammar/>",
        f'    <make table="{table["name"]}"><rowmaker idmaps="*"/></make>',
        "  </data>",
        "</resource>",
        "",
    ])  # fmt: skip


@contextlib.contextmanager
def _postgres(setup: Setup, user: str | None) -> Iterator[int]:
    """A cluster of the bench's own under WORK/pg on a free port, run by ``user`` (None: by
    the bench's own user); stopped on exit."""
    pg, data, sockets = _pg_bin(), WORK / "pg", WORK / "sockets"
    as_user = ["runuser", "-u", user, "--"] if user else []
    port = free_port()
    for folder in (data, sockets):
        folder.mkdir()
        if user:
            shutil.chown(folder, user)
    with setup.step("initdb"):
        _run([*as_user, str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
              "-E", "UTF8", "--locale=C.UTF-8"])  # fmt: skip
    with setup.step("postgres start"):
        _run([*as_user, str(pg / "pg_ctl"), "-D", str(data), "-l", str(data / "postgres.log"),
              "-w", "start", "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"])  # fmt: skip
    try:
        yield port
    finally:
        subprocess.run([*as_user, str(pg / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)  # fmt: skip


@contextlib.contextmanager
def dachs_tap() -> Iterator[tuple[str, Setup]]:
    """DaCHS serving Hipparcos-2 as ``hipparcos.main``: its TAP URL and the setup's times.
    Raises Unavailable (before anything is started) if DaCHS cannot be had here."""
    setup = Setup()
    with setup.step("apt-get install"):
        setup.installed_now = install()
    if WORK.exists():
        _stop_leftover_postgres()
        shutil.rmtree(WORK)
    WORK.mkdir(mode=0o755)
    root = WORK / "root"
    # PostgreSQL refuses to run as root; DaCHS's server drops to its user (the package's
    # "gavo") when started as root.
    as_root = os.geteuid() == 0
    web_port = free_port()
    env = {**os.environ, "GAVOSETTINGS": str(WORK / "gavo.rc"),
           "GAVOCUSTOM": str(WORK / "no-gavorc"), "HOME": str(WORK)}  # fmt: skip
    (WORK / "gavo.rc").write_text(
        f"[general]\nrootDir: {root}\n\n[web]\nbindAddress: 127.0.0.1\nserverPort: {web_port}\n"
        f"serverURL: http://127.0.0.1:{web_port}\nuser: {'gavo' if as_root else ''}\n"
    )
    with _postgres(setup, "postgres" if as_root else None) as db_port:
        dsn = f"host=127.0.0.1 port={db_port} dbname=gavo user=postgres"
        with setup.step("dachs init"):
            _run(["psql", "-h", "127.0.0.1", "-p", str(db_port), "-U", "postgres", "-q", "-c",
                  "CREATE DATABASE gavo ENCODING 'UTF8' TEMPLATE template0"])  # fmt: skip
            _run(["dachs", "init", "-d", dsn], env=env, cwd=WORK)
        inputs = root / "inputs" / "hipparcos"
        inputs.mkdir(parents=True)
        with setup.step("Parquet and CSV"):
            convert(WORK / "catalogue")
            parquet = WORK / "catalogue" / "hipparcos" / "main" / "hip2.parquet"
            import duckdb

            duckdb.sql(f"COPY (SELECT * FROM '{parquet}') TO '{inputs / 'hip2.csv'}' (HEADER)")
            (inputs / "q.rd").write_text(resource_descriptor(parquet))
        with setup.step("dachs imp"):
            _run(["dachs", "imp", "q"], env=env, cwd=inputs)
        if as_root:
            _run(["chown", "-R", "gavo:gavo", str(root)])
        with setup.step("dachs serve start"):
            log = (WORK / "serve.log").open("w")
            server = subprocess.Popen(["dachs", "serve", "start", "--foreground"], env=env,
                                      cwd=WORK, stdout=log, stderr=log)  # fmt: skip
            url = f"http://127.0.0.1:{web_port}/tap"
            _wait_for(url, server)
        try:
            yield url, setup
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
    shutil.rmtree(WORK, ignore_errors=True)  # kept (with its logs) if anything failed


def _wait_for(url: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"dachs serve exited ({server.returncode}); see {WORK}/serve.log")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/availability", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"DaCHS did not answer at {url} within a minute; see {WORK}/serve.log")


def _stop_leftover_postgres() -> None:
    """A cluster an interrupted run of the bench left running in WORK."""
    if (WORK / "pg" / "postmaster.pid").exists():
        owner = pwd.getpwuid((WORK / "pg").stat().st_uid).pw_name
        as_user = ["runuser", "-u", owner, "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, str(_pg_bin() / "pg_ctl"), "-D", str(WORK / "pg"),
                        "-m", "immediate", "stop"], capture_output=True)  # fmt: skip


if __name__ == "__main__":
    import json

    from .tap import cone_search

    try:
        with dachs_tap() as (tap_url, how):
            figures = cone_search(tap_url, int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    except Unavailable as why:
        sys.exit(f"DaCHS skipped: {why}")
    print(json.dumps({"setup": how.as_dict(), **figures}, indent=2))
