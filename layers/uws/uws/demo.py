"""The reference job type ``demo``, for trying and testing the service (docs/uws.md).

It works DURATION seconds (checking for abort every 0.1 s), fails with FAIL's text if FAIL is
given, and otherwise writes one result, ``result``: a VOTable with one row holding the
parameters it got and the seconds it worked. It is also the worked example of a job type.
"""

from __future__ import annotations

import time

from lxml import etree

from .jobtypes import JobType, Parameter, register
from .worker import JobContext, JobFailed

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
VOTABLE_MIME = "application/x-votable+xml"


def run(ctx: JobContext) -> None:
    params = ctx.parameters
    duration = float(params.get("DURATION", 0))
    started = time.monotonic()
    while (worked := time.monotonic() - started) < duration:
        ctx.check()
        time.sleep(min(0.1, duration - worked))
    ctx.check()
    if "FAIL" in params:
        raise JobFailed(params["FAIL"])
    fields = [
        ("duration", "double", "s", str(duration)),
        ("text", "char", None, str(params.get("TEXT", ""))),
        ("worked", "double", "s", f"{time.monotonic() - started:.3f}"),
    ]
    ctx.write_result("result", votable(fields), VOTABLE_MIME)


def votable(fields: list[tuple[str, str, str | None, str]]) -> bytes:
    """A one-row VOTable 1.3 document: (name, datatype, unit, value) per column."""
    root = etree.Element(f"{{{VOTABLE_NS}}}VOTABLE", nsmap={None: VOTABLE_NS}, version="1.3")
    resource = etree.SubElement(root, f"{{{VOTABLE_NS}}}RESOURCE", type="results")
    etree.SubElement(resource, f"{{{VOTABLE_NS}}}INFO", name="QUERY_STATUS", value="OK")
    table = etree.SubElement(resource, f"{{{VOTABLE_NS}}}TABLE", name="result")
    for name, datatype, unit, _ in fields:
        field = etree.SubElement(table, f"{{{VOTABLE_NS}}}FIELD", name=name, datatype=datatype)
        if datatype == "char":
            field.set("arraysize", "*")
        if unit:
            field.set("unit", unit)
    data = etree.SubElement(table, f"{{{VOTABLE_NS}}}DATA")
    row = etree.SubElement(
        etree.SubElement(data, f"{{{VOTABLE_NS}}}TABLEDATA"), f"{{{VOTABLE_NS}}}TR"
    )
    for *_, value in fields:
        etree.SubElement(row, f"{{{VOTABLE_NS}}}TD").text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


DEMO = register(
    JobType(
        name="demo",
        description="Works DURATION seconds, then writes a one-row VOTable of what it got.",
        run=run,
        parameters=(
            Parameter(
                "DURATION",
                type="float",
                default="0",
                minimum=0,
                maximum=86400,
                description="Seconds of simulated work, checked for abort every 0.1 s.",
            ),
            Parameter(
                "FAIL",
                description="If given (and not empty), the job ends in ERROR with this message.",
            ),
            Parameter("TEXT", description="Copied into the result."),
        ),
    )
)
