"""DALI examples (/examples): queries that run against this service's own catalogue.

A data centre writes its own in ``examples.yaml`` beside ``catalogue.yaml`` (a list of
``{id, name, description, query}``); the service adds a few that any catalogue answers: its
table list, the first rows of each table and, for a table with a main position, a cone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

from .metadata import Catalogue, MetadataError, Table
from .vosi import Example

EXAMPLES_FILE = "examples.yaml"


def _position(table: Table) -> tuple[str, str] | None:
    """The table's main RA and Dec columns, by their UCDs."""
    by_ucd = {(c.ucd or "").lower(): c.name for c in table.columns}
    ra, dec = by_ucd.get("pos.eq.ra;meta.main"), by_ucd.get("pos.eq.dec;meta.main")
    return (ra, dec) if ra and dec else None


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def generic_examples(catalogue: Catalogue) -> list[Example]:
    examples = [
        Example(
            "tables", "The tables of this service",
            "Every table TAP_SCHEMA describes, with its description.",
            "SELECT table_name, description FROM TAP_SCHEMA.tables ORDER BY table_name",
        )
    ]  # fmt: skip
    for table in [t for t in catalogue.tables() if t.location is not None][:5]:
        examples.append(
            Example(
                f"first-rows-{_identifier(table.name)}",
                f"The first rows of {table.name}",
                "Ten rows, every column.",
                f"SELECT TOP 10 * FROM {table.name}",
            )
        )
        position = _position(table)
        if position is not None:
            ra, dec = position
            examples.append(
                Example(
                    f"cone-{_identifier(table.name)}",
                    f"A cone search in {table.name}",
                    "The rows within one degree of RA 0, Dec 0, nearest first.",
                    f"SELECT TOP 100 *, DISTANCE(POINT('ICRS', {ra}, {dec}), "
                    f"POINT('ICRS', 0, 0)) AS dist FROM {table.name} WHERE 1 = CONTAINS("
                    f"POINT('ICRS', {ra}, {dec}), CIRCLE('ICRS', 0, 0, 1)) ORDER BY dist",
                )
            )
    return examples


def examples_of(
    catalogue: Catalogue, read_text: Callable[[str], str] | None = None
) -> list[Example]:
    """The data centre's examples (if it wrote ``examples.yaml``), then the generic ones."""
    own: list[Example] = []
    if read_text is not None:
        try:
            document = yaml.safe_load(read_text(catalogue.root.rstrip("/") + "/" + EXAMPLES_FILE))
        except (OSError, LookupError, yaml.YAMLError):
            document = None
        except Exception as error:  # S3's NoSuchKey and the like: no examples of its own
            if "NoSuchKey" not in type(error).__name__ and "NoSuchKey" not in str(error):
                raise
            document = None
        for entry in document or []:
            try:
                own.append(
                    Example(
                        str(entry["id"]),
                        str(entry["name"]),
                        str(entry.get("description", "")),
                        str(entry["query"]),
                    )
                )
            except (KeyError, TypeError):
                raise MetadataError(
                    f"{EXAMPLES_FILE}: each example needs id, name and query"
                ) from None
    return own + generic_examples(catalogue)
