"""schemathesis checks of our own (loaded through SCHEMATHESIS_HOOKS by test_openapi.py): what
an OpenAPI description cannot say about an XML body or an atomic value."""

from __future__ import annotations

from pathlib import Path

import requests
import schemathesis
from lxml import etree

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "schemata" / "UWS.xsd")))


@schemathesis.check
def uws_documents_are_valid(ctx, response, case) -> bool | None:
    """Every text/xml body is a UWS 1.1 document, valid against the UWS schema (docs/uws.md,
    Documents)."""
    content_type = response.headers.get("content-type", [""])[0]
    if not content_type.startswith("text/xml") or not response.content:
        return None
    document = etree.fromstring(response.content)
    if not SCHEMA.validate(document):
        raise AssertionError(f"not valid UWS 1.1: {SCHEMA.error_log.last_error}")
    return None


@schemathesis.check
def refusals_are_one_sentence(ctx, response, case) -> bool | None:
    """A 4xx from the service is text/plain: one sentence, never empty (docs/uws.md, Status
    codes). API Gateway's own JSON answers are described separately."""
    content_type = response.headers.get("content-type", [""])[0]
    if not 400 <= response.status_code < 500 or not content_type.startswith("text/plain"):
        return None
    if case.method.upper() == "HEAD":
        return None
    text = response.content.decode("utf-8")
    if not text or "\n" in text or not text.endswith((".", "?")):
        raise AssertionError(f"a refusal should be one sentence, not {text[:80]!r}")
    return None


@schemathesis.check
def created_jobs_are_readable_at_once(ctx, response, case) -> bool | None:
    """A creation's 303 leads to the new job: a GET of its Location is a 200 at once (reads are
    strongly consistent). Stands in for schemathesis's ensure_resource_availability, which
    cannot tell UWS's 303 deletions from a lost job (schemathesis.toml). A repeat of an
    Idempotency-Key names the job created before, which may since have been deleted."""
    if case.method.upper() != "POST" or case.path != "/async" or response.status_code != 303:
        return None
    if any(name.lower() == "idempotency-key" for name in (case.headers or {})):
        return None
    location = response.headers["location"][0]
    reply = requests.get(location, timeout=10)
    if reply.status_code != 200:
        raise AssertionError(f"the new job {location} is a {reply.status_code}: {reply.text}")
    return None
