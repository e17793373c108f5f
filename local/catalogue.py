"""The catalogue ``make serve-tap`` serves: Hipparcos-2 as Parquet (local.hipparcos), made
once into ``.uws-local/catalogue/`` and put into the embedded S3 where the deployment's
TAP_CATALOGUE points, as a data centre would copy its own with ``aws s3 sync``."""

from __future__ import annotations

import os
from pathlib import Path

import boto3

from .hipparcos import convert, source_path
from .template import ROOT

BUILT = ROOT / ".uws-local" / "catalogue"
EXAMPLES = Path(__file__).with_name("hipparcos-examples.yaml")  # DALI examples that run


def build(directory: Path = BUILT) -> Path:
    """The Hipparcos catalogue root, converted from hip2.dat unless it is there already."""
    if not (directory / "catalogue.yaml").exists() or (
        (directory / "catalogue.yaml").stat().st_mtime < source_path().stat().st_mtime
    ):
        convert(directory)
    (directory / "examples.yaml").write_bytes(EXAMPLES.read_bytes())
    return directory


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
