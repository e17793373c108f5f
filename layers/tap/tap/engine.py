"""Running a TAP query: DuckDB over the catalogue's Parquet in S3, one database per container.

The database is made once per container (cold start): DuckDB's httpfs extension loaded from
its pip package (Lambda has no internet for DuckDB to fetch extensions from, and needs none),
the catalogue's metadata read and merged with its Parquet, TAP_SCHEMA put in as tables, and
then DuckDB locked down: no file or URL but the catalogue's and the working directory's, no
configuration change after (defence in depth behind the translator's allow-list, which
already refuses table functions, COPY, ATTACH, SET and the like). Each query gets a cursor of
its own, the S3 keys the function holds at that moment, its uploads in a schema of its own
(``TAP_UPLOAD.<name>`` in ADQL), and a watch that interrupts DuckDB when the job is aborted or
past its deadline.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import yaml

from .adql import AdqlError, ResolvedTable, StaticResolver, Translation, translate
from .adql.tables import Positions
from .formats import Format, Result
from .metadata import (
    Catalogue,
    Column,
    MetadataError,
    parse_catalogue,
    quote_identifier,
    sql_literal,
    storage_busy,
)
from .request import StorageBusy, TapError, TapQuery
from .tapschema import create_tap_schema
from .upload import NUMERIC, UploadTable, read_votable
from .upload import load_table as load_upload
from .votable import VOTableError, Written

CATALOGUE_FILE = "catalogue.yaml"
UploadColumns = dict[str, dict[str, Column]]  # an upload's columns, by table and column name
# Fractions of the function's memory DuckDB may take; the rest is Python's and the writers'.
MEMORY_SHARE = 0.6
ENGINE_DIRECTORY = "engine-"  # + process id + a suffix: one engine's working directory
_working: set[Path] = set()  # the working directories of this process's engines


@dataclass(frozen=True)
class Outcome:
    """A query's result file: where it is, its format and what was written."""

    path: Path
    output: Format
    written: Written
    full_scans: tuple[str, ...] = ()  # big tables the query read whole


def httpfs_extension() -> str:
    """The httpfs extension file the pip package ``duckdb-extension-httpfs`` ships."""
    import duckdb_extension_httpfs

    found = glob.glob(
        os.path.join(os.path.dirname(duckdb_extension_httpfs.__file__), "**", "*.duckdb_extension"),
        recursive=True,
    )
    if not found:
        raise RuntimeError("the duckdb-extension-httpfs package holds no extension file")
    return found[0]


def _remove_abandoned(base: Path) -> None:
    """Remove what engines left under ``base`` that no running process holds: a Lambda
    runtime restarted after a timeout or crash keeps the container's /tmp, spilled data and
    results included, and its successor may have the same process id."""
    for directory in base.glob(f"{ENGINE_DIRECTORY}*"):
        if directory in _working:
            continue
        pid = directory.name.removeprefix(ENGINE_DIRECTORY).partition("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid() or not _running(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _s3_secret(access: Mapping[str, str | None]) -> str:
    """CREATE SECRET for DuckDB's S3 reads, from the keys and endpoint the function uses."""
    options = [
        "TYPE s3",
        f"KEY_ID {sql_literal(access['key_id'])}",
        f"SECRET {sql_literal(access['secret'])}",
        f"REGION {sql_literal(access['region'] or 'us-east-1')}",
    ]
    if access.get("session_token"):
        options.append(f"SESSION_TOKEN {sql_literal(access['session_token'])}")
    endpoint = access.get("endpoint") or ""
    if endpoint and "amazonaws.com" not in endpoint:  # moto's server locally: plain HTTP, paths
        host = endpoint.split("://", 1)[-1].rstrip("/")
        options += [f"ENDPOINT {sql_literal(host)}", "URL_STYLE 'path'"]
        options.append(f"USE_SSL {'true' if endpoint.startswith('https') else 'false'}")
    return f"CREATE OR REPLACE SECRET catalogue ({', '.join(options)})"


class QueryEngine:
    """The container's DuckDB database and catalogue; :meth:`run` answers one query."""

    def __init__(
        self,
        root: str,
        read_text: Callable[[str], str],
        s3_access: Callable[[], Mapping[str, str | None]],
        workdir: Path,
        memory_mb: int | None = None,
        spill_gib: int | None = None,
        elsewhere: Sequence[str] = (),
    ) -> None:
        self.root = root.rstrip("/") + "/"
        self.elsewhere = tuple(elsewhere)  # s3:// prefixes of other buckets (tap.locations)
        self.read_text = read_text
        self._s3_access = s3_access
        # A directory of its own under ``workdir``: on Lambda /tmp is the container's alone,
        # but the local runtime's functions, its container tasks and the tests share one disk,
        # and a cold start that emptied ``workdir`` whole took other engines' results away.
        self.workdir = workdir / f"{ENGINE_DIRECTORY}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        _working.add(self.workdir)  # before any sweep can see it: no engine of ours is abandoned
        self._memory_mb = memory_mb
        self._spill_gib = spill_gib  # at most this much spilled (a container task's disk)
        self._lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._catalogue: Catalogue | None = None

    @property
    def _reads_s3(self) -> bool:
        """Whether DuckDB reads S3 (with the function's keys, for every bucket it may read)."""
        return self.root.startswith("s3://") or bool(self.elsewhere)

    @property
    def catalogue(self) -> Catalogue:
        self._open()
        assert self._catalogue is not None
        return self._catalogue

    def _open(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._db is None:
                try:
                    self._db = self._database()
                except duckdb.HTTPException as error:  # the catalogue's metadata unread
                    if storage_busy(error):
                        raise StorageBusy(_duckdb_message(error)) from None
                    raise
            return self._db

    def _database(self) -> duckdb.DuckDBPyConnection:
        _remove_abandoned(self.workdir.parent)
        # exist_ok: a cold start that failed (catalogue.yaml unread) is tried again next query
        (self.workdir / "spill").mkdir(parents=True, exist_ok=True)
        db = duckdb.connect(config={"autoinstall_known_extensions": False,
                                    "autoload_known_extensions": False})  # fmt: skip
        db.execute(f"LOAD {sql_literal(httpfs_extension())}")
        if self._reads_s3:
            db.execute(_s3_secret(self._s3_access()))
        # A file's size and Parquet footer are kept for the container's life (the catalogue
        # is read once per container anyway): a second query over a partition sends no HEAD
        # and parses no footer again (the bytes themselves stay in DuckDB's external file
        # cache while memory allows).
        db.execute("SET enable_http_metadata_cache = true")
        db.execute("SET parquet_metadata_cache = true")
        db.execute(f"SET temp_directory = {sql_literal(str(self.workdir / 'spill'))}")
        if self._memory_mb:
            db.execute(f"SET memory_limit = '{int(self._memory_mb * MEMORY_SHARE)}MB'")
        if self._spill_gib:
            db.execute(f"SET max_temp_directory_size = '{int(self._spill_gib)}GiB'")
        allowed = [self.root, *self.elsewhere, str(self.workdir) + "/"]
        db.execute(f"SET allowed_directories = [{', '.join(map(sql_literal, allowed))}]")
        db.execute("SET enable_external_access = false")
        db.execute("SET lock_configuration = true")
        # The catalogue's tables are described (schemas, HATS metadata) only now, behind the
        # lock: a location tap.locations let through still reads nothing DuckDB may not.
        try:
            document = yaml.safe_load(self.read_text(self.root + CATALOGUE_FILE))
        except yaml.YAMLError as error:
            raise MetadataError(f"{CATALOGUE_FILE} is not YAML: {error}") from None
        self._catalogue = parse_catalogue(document, self.root, db, self.elsewhere)
        create_tap_schema(db, self._catalogue)
        return db

    # ---- a query ---------------------------------------------------------------------------

    def run(
        self,
        query: TapQuery,
        uploads: Mapping[str, bytes],
        check: Callable[[], None] | None = None,
        on_full_scan: Callable[[tuple[str, ...]], None] | None = None,
    ) -> Outcome:
        """Translate and run ``query`` (its uploads' VOTables given by table name) into a file
        of the query's format in the working directory; TapError for what cannot run.
        ``on_full_scan`` hears, before the query runs, of the big tables it reads whole."""
        with self._uploads_loaded(uploads) as (cursor, upload_tables, upload_columns):
            translation = self._translate(query, upload_tables)
            full_scans = self.full_scans(translation)
            if full_scans and on_full_scan is not None:
                on_full_scan(full_scans)
            path = self.workdir / f"{uuid.uuid4().hex}.{query.output.extension}"
            result = Result(
                cursor,
                translation.sql,
                columns=self._columns_for(translation, upload_columns),
                maxrec=query.maxrec,
                query=query.query,
            )
            with _watched(cursor, check):
                try:
                    written = query.output.write(result, str(path))
                except duckdb.Error as error:
                    path.unlink(missing_ok=True)
                    raise _tap_error(error) from None
            return Outcome(path, query.output, written, full_scans)

    @contextlib.contextmanager
    def _uploads_loaded(
        self, uploads: Mapping[str, bytes]
    ) -> Iterator[tuple[duckdb.DuckDBPyConnection, dict[str, ResolvedTable], UploadColumns]]:
        """A cursor of its own (S3 keys as fresh as the function's) with the uploads loaded
        into a schema of their own, dropped afterwards."""
        cursor = self._open().cursor()
        upload_schema = f"upload_{uuid.uuid4().hex}"
        try:
            if self._reads_s3:
                cursor.execute(_s3_secret(self._s3_access()))
            tables, columns = self._load_uploads(cursor, upload_schema, uploads)
            yield cursor, tables, columns
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.execute(f"DROP SCHEMA IF EXISTS {quote_identifier(upload_schema)} CASCADE")
            cursor.close()

    def full_scans_of(self, query: TapQuery, uploads: Mapping[str, bytes]) -> tuple[str, ...]:
        """The big tables ``query`` would read whole, from its translation (nothing run): what
        the worker asks before it runs a query (tap.service.needs_container). The uploads are
        loaded, as a run loads them: a cross-match is narrowed by their positions. TapError
        for a query that cannot run."""
        with self._uploads_loaded(uploads) as (_, tables, _):
            return self.full_scans(self._translate(query, tables))

    def _translate(self, query: TapQuery, uploads: Mapping[str, ResolvedTable]) -> Translation:
        try:
            return translate(query.query, self._resolver(uploads))
        except AdqlError as error:
            raise TapError(str(error)) from None

    def _load_uploads(
        self, cursor: duckdb.DuckDBPyConnection, schema: str, uploads: Mapping[str, bytes]
    ) -> tuple[dict[str, ResolvedTable], UploadColumns]:
        tables, columns = {}, {}
        for name, document in uploads.items():
            table = _upload(name, document)
            load_upload(cursor, name, table, schema=schema, directory=str(self.workdir))
            relation = f"{quote_identifier(schema)}.{quote_identifier(name)}"
            tables[name] = ResolvedTable(
                "TAP_UPLOAD", name, relation, tuple(c.name for c in table.columns),
                positions=_positions(cursor, relation, table),
            )  # fmt: skip
            columns[name.lower()] = {c.name.lower(): c for c in table.columns}
        return tables, columns

    def _resolver(self, uploads: Mapping[str, ResolvedTable]) -> StaticResolver:
        tables = []
        for table in self.catalogue.tables():
            schema, _, name = table.name.partition(".")
            columns = tuple(c.name for c in table.columns)
            if table.hats is not None:  # partitions chosen by the query's cone or polygon
                hats = table.hats
                tables.append(ResolvedTable(schema, name, hats.sql, columns, narrow=hats.narrow))
                continue
            if table.location is None:  # TAP_SCHEMA: tables in the database itself
                sql = f"{quote_identifier(schema)}.{quote_identifier(name)}"
            else:
                sql = f"read_parquet({sql_literal(self.catalogue.parquet_glob(table))})"
            tables.append(ResolvedTable(schema, name, sql, columns))
        return StaticResolver([*tables, *uploads.values()])

    def full_scans(self, translation: Translation) -> tuple[str, ...]:
        """The big tables the translation reads whole: a HATS catalogue read by its glob of
        every partition (no region narrowed it), a big Parquet table read at all."""
        found = []
        for used in translation.tables:
            try:
                table = self.catalogue.table(f"{used.schema}.{used.table}")
            except KeyError:
                continue  # an upload
            if not table.is_big:
                continue
            whole = table.hats.sql_glob if table.hats is not None else None
            if whole is None or sql_literal(whole) in translation.body:
                found.append(table.name)
        return tuple(found)

    def _columns_for(
        self, translation: Translation, uploads: UploadColumns
    ) -> Callable[[Sequence[Any]], list[Column]]:
        """The result's columns: a column selected as it is keeps its table's description,
        unit, UCD and utype; a computed one is described by its DuckDB type."""

        def described(description: Sequence[Any]) -> list[Column]:
            columns = []
            for output, entry in zip(translation.columns, description, strict=True):
                typed = Column.from_sql(output.name, str(entry[1]))
                source = self._source_column(output.source, uploads)
                if source is not None:
                    typed = replace(
                        typed, description=source.description, unit=source.unit,
                        ucd=source.ucd, utype=source.utype,
                    )  # fmt: skip
                if output.xtype is not None:
                    typed = replace(typed, xtype=output.xtype)
                columns.append(typed)
            return columns

        return described

    def _source_column(self, ref: Any, uploads: UploadColumns) -> Column | None:
        if ref is None:
            return None
        if (ref.schema or "").upper() == "TAP_UPLOAD":
            return uploads.get(ref.table.lower(), {}).get(ref.column.lower())
        try:
            return self.catalogue.table(f"{ref.schema}.{ref.table}").column(ref.column)
        except KeyError:
            return None


def _upload(name: str, document: bytes) -> UploadTable:
    try:
        return read_votable(document)
    except VOTableError as error:
        raise TapError(f"The upload {name} is not a VOTable this service reads: {error}.") from None


def _positions(cursor: duckdb.DuckDBPyConnection, relation: str, table: UploadTable) -> Positions:
    """An upload's values of two numeric columns, which a cross-match against a HATS table
    narrows that table's read to (None: no such columns). Read back from the table as loaded:
    a ``float`` column is compared in single precision, and its cones must be the same."""
    numeric = {c.name.lower(): c.name for c in table.columns
               if c.datatype in NUMERIC and c.arraysize in (None, "1")}  # fmt: skip

    def positions(ra: str, dec: str) -> list[tuple[float, float]] | None:
        if ra.lower() not in numeric or dec.lower() not in numeric:
            return None
        columns = (quote_identifier(numeric[c.lower()]) for c in (ra, dec))
        select = ", ".join(f"CAST({c} AS DOUBLE)" for c in columns)
        rows = cursor.execute(f"SELECT {select} FROM {relation}").fetchall()
        return [(a, d) for a, d in rows if a is not None and d is not None]

    return positions


@contextlib.contextmanager
def _watched(cursor: duckdb.DuckDBPyConnection, check: Callable[[], None] | None) -> Iterator[None]:
    """Run the block while a thread calls ``check`` each second; when it raises (the job was
    aborted, or its deadline passed), DuckDB is interrupted and the block ends with that."""
    if check is None:
        yield
        return
    stop = threading.Event()
    stopped: list[BaseException] = []

    def watch() -> None:
        while not stop.wait(1.0):
            try:
                check()
            except BaseException as reason:  # JobStopped and its kind
                stopped.append(reason)
                cursor.interrupt()
                return

    watcher = threading.Thread(target=watch, name="query-watch", daemon=True)
    watcher.start()
    try:
        yield
    except (duckdb.Error, TapError):
        if stopped:
            raise stopped[0] from None
        raise
    finally:
        stop.set()
        watcher.join()
    if stopped:
        raise stopped[0]


def _tap_error(error: duckdb.Error) -> TapError:
    """What a failed run is to the caller: storage busy for a moment, or the query's fault."""
    if storage_busy(error):
        return StorageBusy(_duckdb_message(error))
    return TapError(_duckdb_message(error))


def _duckdb_message(error: duckdb.Error) -> str:
    """DuckDB's message as one sentence a user can act on (its first line, without the
    error class it starts with)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    kind, _, rest = text.partition(": ")
    message = rest if rest and kind.endswith("Error") else text
    return f"The query failed while running: {message.rstrip('.')}."
