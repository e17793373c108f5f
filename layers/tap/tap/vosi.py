"""The TAP service's own documents: VOSI capabilities (with TAPRegExt), availability and
tables, and DALI examples (docs/tap.md, Endpoints).

Built from what the service really offers: the ADQL features the translator accepts, the
formats :mod:`tap.formats` writes, the limits the deployment is configured with, and the
tables of the catalogue, so that a client (pyvo, TOPCAT, taplint) never asks for something
it was promised and is then refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .adql.names import adql_name
from .metadata import Catalogue, Column, Table

VOSI_CAPABILITIES = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VOSI_AVAILABILITY = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VOSI_TABLES = "http://www.ivoa.net/xml/VOSITables/v1.0"
VR = "http://www.ivoa.net/xml/VOResource/v1.0"
VS = "http://www.ivoa.net/xml/VODataService/v1.1"
TR = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XHTML = "http://www.w3.org/1999/xhtml"
_TYPE = f"{{{XSI}}}type"
_TABLES_NS = {"vosi": VOSI_TABLES, "vs": VS, "xsi": XSI}

XML_MIME = "text/xml; charset=utf-8"
XHTML_MIME = "application/xhtml+xml; charset=utf-8"

TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt"
# The ADQL features the translator offers, by TAPRegExt's feature types (ADQL 2.1, 4.x).
FEATURES: dict[str, tuple[str, ...]] = {
    f"{TAPREGEXT}#features-adqlgeo": (
        "POINT", "CIRCLE", "BOX", "POLYGON", "CONTAINS", "INTERSECTS", "DISTANCE", "COORD1",
        "COORD2", "AREA",
    ),
    f"{TAPREGEXT}#features-adql-string": ("LOWER", "UPPER", "ILIKE"),
    f"{TAPREGEXT}#features-adql-sets": ("UNION", "EXCEPT", "INTERSECT"),
    f"{TAPREGEXT}#features-adql-type": ("CAST",),
    f"{TAPREGEXT}#features-adql-offset": ("OFFSET",),
}  # fmt: skip

# (TAPRegExt ivo-id or None, MIME type, aliases) of each format tap.formats writes.
OUTPUT_FORMATS: tuple[tuple[str | None, str, tuple[str, ...]], ...] = (
    (f"{TAPREGEXT}#output-votable-td", "application/x-votable+xml", ("votable", "votable/td")),
    (
        f"{TAPREGEXT}#output-votable-binary2",
        "application/x-votable+xml;serialization=BINARY2",
        ("votable/b2", "votableb2"),
    ),
    (None, "text/csv;header=present", ("csv",)),
    (None, "text/tab-separated-values", ("tsv",)),
    (None, "application/vnd.apache.parquet", ("parquet",)),
)


@dataclass(frozen=True)
class Limits:
    """What the deployment promises (TAPRegExt's limits; seconds, rows and bytes)."""

    default_duration: int
    max_duration: int
    default_retention: int
    max_retention: int
    default_maxrec: int
    max_maxrec: int
    upload_bytes: int


def _element(parent: Any, tag: str, text: str | None = None, **attributes: str) -> Any:
    element = etree.SubElement(parent, tag, {k: v for k, v in attributes.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _document(root: Any) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _vosi_capability(root: Any, standard: str, url: str) -> None:
    capability = _element(root, "capability", standardID=standard)
    interface = _element(capability, "interface", role="std")
    interface.set(_TYPE, "vs:ParamHTTP")
    _element(interface, "accessURL", url, use="full")


def capabilities(base: str, limits: Limits) -> bytes:
    """VOSI capabilities: TAP 1.1 (TAPRegExt 1.0: languages, formats, uploads, limits) and
    the VOSI and DALI resources beside it."""
    root = etree.Element(
        f"{{{VOSI_CAPABILITIES}}}capabilities",
        nsmap={"vosi": VOSI_CAPABILITIES, "vr": VR, "vs": VS, "tr": TR, "xsi": XSI},
    )
    tap = _element(root, "capability", standardID="ivo://ivoa.net/std/TAP")
    tap.set(_TYPE, "tr:TableAccess")
    interface = _element(tap, "interface", role="std", version="1.1")
    interface.set(_TYPE, "vs:ParamHTTP")
    _element(interface, "accessURL", base, use="base")
    language = _element(tap, "language")
    _element(language, "name", "ADQL")
    _element(language, "version", "2.0", **{"ivo-id": "ivo://ivoa.net/std/ADQL#v2.0"})
    _element(language, "version", "2.1", **{"ivo-id": "ivo://ivoa.net/std/ADQL#v2.1"})
    _element(language, "description", "ADQL 2.1 (and 2.0), on the celestial sphere in degrees.")
    for kind, forms in FEATURES.items():
        features = _element(language, "languageFeatures", type=kind)
        for form in forms:
            _element(_element(features, "feature"), "form", form)
    for ivo_id, mime, aliases in OUTPUT_FORMATS:
        output = _element(tap, "outputFormat", **({"ivo-id": ivo_id} if ivo_id else {}))
        _element(output, "mime", mime)
        for alias in aliases:
            _element(output, "alias", alias)
    _element(tap, "uploadMethod", **{"ivo-id": f"{TAPREGEXT}#upload-inline"})
    _element(tap, "uploadMethod", **{"ivo-id": f"{TAPREGEXT}#upload-http"})
    _element(tap, "uploadMethod", **{"ivo-id": f"{TAPREGEXT}#upload-https"})
    for name, default, hard in (
        ("retentionPeriod", limits.default_retention, limits.max_retention),
        ("executionDuration", limits.default_duration, limits.max_duration),
    ):
        period = _element(tap, name)
        _element(period, "default", str(default))
        _element(period, "hard", str(hard))
    output_limit = _element(tap, "outputLimit")
    _element(output_limit, "default", str(limits.default_maxrec), unit="row")
    _element(output_limit, "hard", str(limits.max_maxrec), unit="row")
    upload_limit = _element(tap, "uploadLimit")
    _element(upload_limit, "hard", str(limits.upload_bytes), unit="byte")
    for standard, path in (
        ("ivo://ivoa.net/std/VOSI#capabilities", "capabilities"),
        ("ivo://ivoa.net/std/VOSI#availability", "availability"),
        ("ivo://ivoa.net/std/VOSI#tables-1.1", "tables"),
        ("ivo://ivoa.net/std/DALI#examples", "examples"),
    ):
        _vosi_capability(root, standard, f"{base}/{path}")
    return _document(root)


def availability(note: str) -> bytes:
    """VOSI availability: a serverless service is there whenever AWS is (nothing to be down
    between requests)."""
    root = etree.Element(f"{{{VOSI_AVAILABILITY}}}availability", nsmap={"vosi": VOSI_AVAILABILITY})
    _element(root, f"{{{VOSI_AVAILABILITY}}}available", "true")
    _element(root, f"{{{VOSI_AVAILABILITY}}}note", note)
    return _document(root)


def _column(parent: Any, column: Column, detail: bool) -> None:
    element = _element(parent, "column", std="true" if column.std else None)
    _element(element, "name", adql_name(column.name))
    if not detail:
        return
    for tag in ("description", "unit", "ucd", "utype"):
        value = getattr(column, tag)
        if value:
            _element(element, tag, value)
    data_type = _element(
        element, "dataType", column.datatype, arraysize=column.arraysize, extendedType=column.xtype
    )
    data_type.set(_TYPE, "vs:VOTableType")
    if column.indexed:
        _element(element, "flag", "indexed")


def _table(parent: Any, table: Table, detail: bool) -> None:
    element = _element(parent, "table", type=None if table.table_type == "table" else "view")
    _element(element, "name", table.name)
    if table.description:
        _element(element, "description", table.description)
    if table.utype:
        _element(element, "utype", table.utype)
    for column in table.columns if detail else ():
        _column(element, column, detail)
    for key in table.foreign_keys if detail else ():
        foreign = _element(element, "foreignKey")
        _element(foreign, "targetTable", key.target_table)
        for source, target in key.columns:
            pair = _element(foreign, "fkColumn")
            _element(pair, "fromColumn", adql_name(source))
            _element(pair, "targetColumn", adql_name(target))
        if key.description:
            _element(foreign, "description", key.description)


def tableset(catalogues: Iterable[Catalogue], detail: bool = True) -> bytes:
    """VOSI 1.1 tables: every schema and table; with ``detail`` (the default) their columns
    and keys, without it (``detail=min``) the names alone."""
    root = etree.Element(f"{{{VOSI_TABLES}}}tableset", nsmap=_TABLES_NS)
    for catalogue in catalogues:
        for schema in catalogue.schemas:
            element = _element(root, "schema")
            _element(element, "name", schema.name)
            if schema.description:
                _element(element, "description", schema.description)
            for table in schema.tables:
                _table(element, table, detail)
    return _document(root)


def table(one: Table) -> bytes:
    """VOSI 1.1 ``tables/{name}``: one table with its columns."""
    root = etree.Element(f"{{{VOSI_TABLES}}}table", nsmap=_TABLES_NS)
    holder = etree.Element("holder")
    _table(holder, one, True)
    for child in holder[0]:
        root.append(child)
    return _document(root)


@dataclass(frozen=True)
class Example:
    """A DALI example: a name, a sentence saying what it shows, and a query that runs."""

    id: str
    name: str
    description: str
    query: str


def examples(items: Iterable[Example], base: str) -> bytes:
    """DALI 1.1 examples: an XHTML page, each example a ``typeof="example"`` element with its
    ``name`` and ``query`` properties (RDFa Lite), readable in a browser as it is."""
    html = etree.Element(f"{{{XHTML}}}html", nsmap={None: XHTML})
    head = _element(html, f"{{{XHTML}}}head")
    _element(head, f"{{{XHTML}}}title", "TAP examples")
    body = _element(html, f"{{{XHTML}}}body", vocab="ivo://ivoa.net/std/DALI#examples")
    _element(body, f"{{{XHTML}}}h1", "Examples of queries this TAP service answers")
    _element(body, f"{{{XHTML}}}p", f"Send them to {base}/sync or {base}/async.")
    for item in items:
        div = _element(
            body, f"{{{XHTML}}}div", id=item.id, resource=f"#{item.id}", typeof="example"
        )
        _element(div, f"{{{XHTML}}}h2", item.name, property="name")
        _element(div, f"{{{XHTML}}}p", item.description)
        _element(div, f"{{{XHTML}}}pre", item.query, property="query")
    return etree.tostring(
        html, xml_declaration=True, encoding="UTF-8", pretty_print=True,
        doctype='<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML+RDFa 1.1//EN" '
        '"http://www.w3.org/MarkUp/DTD/xhtml-rdfa-2.dtd">',
    )  # fmt: skip
