"""The catalogue ``make serve-tap`` serves: Hipparcos-2 as Parquet (local.hipparcos) and the
same stars as a HATS catalogue (local.to_hats), made once into ``.uws-local/catalogue/`` and put
into the embedded S3 where the deployment's TAP_CATALOGUE points, as a data centre would copy
its own with ``aws s3 sync``."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import boto3
import yaml

from .hipparcos import LOCATION, convert, source_path
from .template import ROOT
from .to_hats import add_table, import_hats, table_entry

BUILT = ROOT / ".uws-local" / "catalogue"
EXAMPLES = Path(__file__).with_name("hipparcos-examples.yaml")  # DALI examples that run
HATS_TABLE = "main_hats"  # hipparcos.main_hats: the same stars, HEALPix-partitioned
HATS_THRESHOLD = 2_000  # rows a partition at most: about a hundred partitions of orders 1 to 4


def build(directory: Path = BUILT) -> Path:
    """The Hipparcos catalogue root, converted from hip2.dat unless it is there already. Under
    a file lock: pytest's workers (and a server) may all ask for it first on a fresh clone."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        metadata = directory / "catalogue.yaml"
        if (
            not metadata.exists()
            or metadata.stat().st_mtime < source_path().stat().st_mtime
            or not (directory / "hipparcos" / HATS_TABLE / "partition_info.csv").exists()
        ):
            convert(directory)
            add_hats(directory)
        examples = directory / "examples.yaml"
        if not examples.exists() or examples.read_bytes() != EXAMPLES.read_bytes():
            examples.write_bytes(EXAMPLES.read_bytes())
    return directory


def add_hats(directory: Path) -> None:
    """hipparcos.main again as HATS, described as hipparcos.main is (plus its index)."""
    location = f"hipparcos/{HATS_TABLE}"
    import_hats(next((directory / LOCATION).glob("*.parquet")), directory / location,
                threshold=HATS_THRESHOLD)  # fmt: skip
    main = yaml.safe_load((directory / "catalogue.yaml").read_text())["schemas"][0]["tables"][0]
    entry = table_entry(HATS_TABLE, location, "ra", "dec")
    entry["description"] = f"{main['description']} The same stars as a HATS catalogue."
    entry["columns"] = [*main["columns"], entry["columns"][-1]]
    add_table(directory / "catalogue.yaml", "hipparcos", entry)


def publish(root: Path, location: str) -> int:
    """Copy every file under ``root`` to ``location`` (``s3://bucket/prefix/``); how many."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    files = [p for p in root.rglob("*") if p.is_file()]
    for path in files:
        s3.upload_file(
            str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(root)}".lstrip("/")
        )
    return len(files)


def serve_hipparcos() -> str:
    """Build and publish the demo catalogue where the functions look for it; its location."""
    location = os.environ["TAP_CATALOGUE"]
    publish(build(), location)
    return location
