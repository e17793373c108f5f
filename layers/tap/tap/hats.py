"""A HATS catalogue (LSDB's Hierarchical Adaptive Tiling Scheme) as one TAP table.

HATS keeps a catalogue as HEALPix-partitioned Parquet: ``dataset/Norder=K/Dir=D/Npix=N.parquet``
(``D`` is ``N`` rounded down to ten thousands), the partitions listed in ``partition_info.csv``,
the positions' columns and row count in ``properties``, and every row's nested HEALPix index at
order 29 in ``_healpix_29``. Surveys publish Gaia, ZTF or Pan-STARRS so in S3; we read them as
they lie. The partition list is read once (with the catalogue, per container). A query whose
WHERE requires a cone or polygon of the catalogue's own RA/Dec, or whose join cross-matches it
with an upload within a given radius, reads only the partitions that region (those cones)
overlaps, and within them only rows (and row groups, by their statistics) whose
``_healpix_29`` falls in the region's index ranges; every other query reads every partition.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from . import healpix
from .adql.tables import Cone, Cones, Region, SkyPolygon
from .metadata import MetadataError, quote_identifier, sql_literal, storage_busy

INDEX_COLUMN = "_healpix_29"
MAX_RANGES = 200  # beyond this many index ranges, the partitions alone narrow the read


@dataclass(frozen=True)
class HatsCatalogue:
    """What the service knows of one HATS catalogue: where it is and how it is cut."""

    base: str  # the catalogue's root directory or s3:// prefix, without a trailing slash
    ra_column: str
    dec_column: str
    partitions: tuple[tuple[int, int], ...]  # (Norder, Npix), sorted by their index ranges
    rows: int | None
    suffix: str = ".parquet"  # hats_npix_suffix: a file, or "/" for a directory of files

    @property
    def schema_source(self) -> str:
        """The file whose Parquet schema describes the columns (no data is read)."""
        return f"{self.base}/dataset/_common_metadata"

    def partition_path(self, order: int, pix: int) -> str:
        path = f"{self.base}/dataset/Norder={order}/Dir={pix // 10000 * 10000}/Npix={pix}"
        return path + "/*.parquet" if self.suffix.endswith("/") else path + self.suffix

    def _read(self, paths: Sequence[str]) -> str:
        files = ", ".join(sql_literal(p) for p in paths)
        return f"read_parquet([{files}], hive_partitioning = false)"

    @property
    def sql_glob(self) -> str:
        """The glob of every partition file."""
        files = "Npix=*/*.parquet" if self.suffix.endswith("/") else f"Npix=*{self.suffix}"
        return f"{self.base}/dataset/Norder=*/Dir=*/{files}"

    @property
    def sql(self) -> str:
        """Every partition, as DuckDB reads it: a glob, not a list (a list of thousands of
        names would be parsed again with every query)."""
        return self._read([self.sql_glob])

    def ranges(self, regions: Sequence[Region]) -> healpix.Ranges | None:
        """Order-29 index ranges every row inside all the regions is in, or None when no
        region is on this catalogue's positions (nothing to narrow by)."""
        floor = max((order for order, _ in self.partitions), default=0)
        found: healpix.Ranges | None = None
        for region in regions:
            if (region.ra_column.lower(), region.dec_column.lower()) != (
                self.ra_column.lower(),
                self.dec_column.lower(),
            ):
                continue
            shape = _shape(region)
            if shape is None:
                continue
            depth = healpix.depth_for(shape, floor)
            if isinstance(shape, healpix.ConesRegion) and len(shape.cones) * 25 > MAX_RANGES:
                # more index ranges than are worth writing: deep enough to choose partitions
                depth = min(depth, floor + 2)
            cells = healpix.coverage(shape, depth)
            found = cells if found is None else healpix.intersect(found, cells)
        return found

    def overlapping(self, ranges: healpix.Ranges) -> list[tuple[int, int]]:
        """The partitions (Norder, Npix) any of the ranges reaches."""
        starts = [healpix.cell_range(*p)[0] for p in self.partitions]
        chosen: dict[int, tuple[int, int]] = {}
        for lo, hi in ranges:
            i = max(bisect.bisect_right(starts, lo) - 1, 0)
            while i < len(starts) and starts[i] <= hi:
                if healpix.cell_range(*self.partitions[i])[1] >= lo:
                    chosen[i] = self.partitions[i]
                i += 1
        return [chosen[i] for i in sorted(chosen)]

    def narrow(self, regions: Sequence[Region]) -> str:
        """The partitions the regions overlap and, within them, the rows whose index can be
        inside them (a superset: the query's own constraint stays)."""
        ranges = self.ranges(regions)
        if ranges is None:
            return self.sql
        chosen = self.overlapping(ranges)
        if not chosen:  # no partition: one file's columns and no row
            return (
                f"(SELECT * FROM {self._read([self.partition_path(*self.partitions[0])])}"
                " WHERE false)"
            )
        # Most of the catalogue (an all-sky cross-match, a huge cone) is read by its glob: a
        # full scan in all but name, and said so (tap.engine full_scans), not thousands of names.
        whole = len(chosen) * 2 > len(self.partitions)
        source = self.sql if whole else self._read([self.partition_path(*p) for p in chosen])
        if len(ranges) > MAX_RANGES:
            return source
        column = quote_identifier(INDEX_COLUMN)
        condition = " OR ".join(f"{column} BETWEEN {lo} AND {hi}" for lo, hi in ranges)
        return f"(SELECT * FROM {source} WHERE {condition})"


def _shape(region: Region) -> healpix.Region | None:
    if isinstance(region, Cone):
        if not all(map(math.isfinite, (region.ra, region.dec, region.radius))):
            return None
        return healpix.ConeRegion(region.ra, region.dec, region.radius)
    if isinstance(region, Cones):
        if not math.isfinite(region.radius):
            return None
        return healpix.ConesRegion(region.centres, region.radius)
    if isinstance(region, SkyPolygon):
        polygon = healpix.PolygonRegion(region.vertices)
        return polygon if polygon.bounded else None
    return None


def read_hats(con: duckdb.DuckDBPyConnection, base: str, name: str) -> HatsCatalogue:
    """The catalogue at ``base`` (its ``properties`` and ``partition_info.csv``), read through
    DuckDB so a local directory and S3 are read alike; MetadataError names what is missing."""
    base = base.rstrip("/")
    try:
        text = con.execute("SELECT content FROM read_text(?)", [f"{base}/properties"]).fetchone()
        listed = con.execute(
            "SELECT Norder, Npix FROM read_csv(?, header = true,"
            " columns = {'Norder': 'BIGINT', 'Npix': 'BIGINT'}, auto_detect = false)",
            [f"{base}/partition_info.csv"],
        ).fetchall()
    except duckdb.Error as exc:
        if storage_busy(exc):
            raise  # not the table's fault: the engine says StorageBusy
        raise MetadataError(
            f"table {name}: {base} is not a HATS catalogue: {str(exc).splitlines()[0]}"
        ) from None
    properties = _properties(text[0] if text else "")
    if not listed:
        raise MetadataError(f"table {name}: the HATS catalogue at {base} lists no partition")
    rows = properties.get("hats_nrows", "")
    return HatsCatalogue(
        base=base,
        ra_column=properties.get("hats_col_ra", "ra"),
        dec_column=properties.get("hats_col_dec", "dec"),
        partitions=tuple(
            sorted(((int(k), int(n)) for k, n in listed), key=lambda p: healpix.cell_range(*p))
        ),
        rows=int(rows) if rows.isdigit() else None,
        suffix=properties.get("hats_npix_suffix", ".parquet") or ".parquet",
    )


def _properties(text: str) -> dict[str, str]:
    """A Java properties file's ``key=value`` lines (HATS writes no continuations)."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found
