"""Where a table's files may be: under the catalogue's root, or under an ``s3://`` prefix in a
bucket the deployment names (the template's ``CatalogueBuckets``: a survey's public bucket, a
partner's), and nowhere else. The one place that decides it, for the metadata file's locations
and for DuckDB's ``allowed_directories`` (tap.engine).
"""

from __future__ import annotations

from collections.abc import Sequence


def bucket_prefixes(names: str) -> tuple[str, ...]:
    """``TAP_CATALOGUE_BUCKETS`` (``a,b``, as the template joins the parameter) as the
    prefixes DuckDB may read: ``s3://a/``, ``s3://b/``."""
    return tuple(f"s3://{name.strip()}/" for name in names.split(",") if name.strip())


def joined(root: str, location: str) -> str:
    """The location as DuckDB reads it (no trailing slash): an ``s3://`` URL as it is, anything
    else under the root."""
    if location.startswith("s3://"):
        return location.rstrip("/")
    return f"{root.rstrip('/')}/{location.strip('/')}"


def check(table: str, location: str, root: str, elsewhere: Sequence[str]) -> None:
    """MetadataError for a location outside the root and the named buckets, saying how to
    admit it. A location without a scheme is the root's (as :func:`joined` makes it)."""
    from .metadata import MetadataError  # which builds on this module

    if ".." in location.split("/"):
        raise MetadataError(f"table {table} is at {location}: a location may not climb with '..'")
    if "://" not in location:
        return
    path = joined(root, location) + "/"
    if location.startswith("s3://"):
        if any(path.startswith(prefix) for prefix in (root, *elsewhere)):
            return
        bucket = location.removeprefix("s3://").split("/", 1)[0]
        raise MetadataError(
            f"table {table} is at {location}, in bucket {bucket}, which this service does not "
            "read: name the bucket in the template's CatalogueBuckets"
        )
    raise MetadataError(
        f"table {table} is at {location}: a location is a path under the catalogue's root or "
        "an s3:// prefix in a bucket the template's CatalogueBuckets names"
    )
