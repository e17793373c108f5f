"""The browser's view (docs/uws.md, Browsers): pages for a browser's Accept, XML for everyone
else, every value escaped, a strict Content-Security-Policy, and forms no other site can drive."""

import pytest

from tests.conftest import BASE

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def page(api, path, **kwargs):
    reply = api.request("GET", path, headers=BROWSER, **kwargs)
    assert reply.content_type == "text/html; charset=utf-8", reply.body
    return reply


def test_a_job_page_shows_everything_escaped(api):
    job_id = api.create(TEXT="<script>alert(1)</script>", RUNID='"><img src=x>', PHASE="RUN")
    api.work()
    reply = page(api, f"/async/{job_id}")
    assert reply.status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply.body
    assert "&#34;&gt;&lt;img src=x&gt;" in reply.body and "<img" not in reply.body
    assert reply.body.count("<script>") == 0  # a finished job is not followed
    assert f'href="{BASE}/async/{job_id}/results/result"' in reply.body
    assert "COMPLETED" in reply.body
    policy = reply.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'") and "unsafe" not in policy
    assert (
        reply.headers["Vary"] == "Accept" and reply.headers["X-Content-Type-Options"] == "nosniff"
    )


def test_a_running_job_is_followed_by_the_one_allowed_script(api):
    from uws.web.pages import CONTENT_SECURITY_POLICY, SCRIPT, _hash

    job_id = api.create(PHASE="RUN")
    reply = page(api, f"/async/{job_id}")
    assert f"<script>{SCRIPT}</script>" in reply.body and "WAIT=-1" in SCRIPT
    assert f"script-src {_hash(SCRIPT)}" in CONTENT_SECURITY_POLICY


def test_the_list_page_links_filters_and_offers_the_creation_form(api):
    done, pending = api.create(PHASE="RUN"), api.create()
    api.work()
    reply = page(api, "/async", query={"PHASE": "PENDING"})
    assert pending in reply.body and done not in reply.body
    assert 'value="PENDING" checked' in reply.body
    for name in ("DURATION", "FAIL", "TEXT", "RUNID"):
        assert f'name="{name}"' in reply.body
    assert 'enctype="multipart/form-data"' in reply.body


def test_errors_are_readable_pages_with_their_status_and_headers(api):
    reply = page(api, "/async/AAAAAAAAAAAAAAAAAAAAAA")
    assert (
        reply.status == 404
        and "No such job" in reply.body
        and "<h1>404 Not Found</h1>" in reply.body
    )
    job_id = api.create()
    refused = api.request("PUT", f"/async/{job_id}/phase", headers=BROWSER)
    assert refused.status == 405 and refused.headers["Allow"] == "GET, POST"
    assert refused.content_type.startswith("text/html")


@pytest.mark.parametrize("path", ["/async/{job}/parameters", "/async/{job}/results"])
def test_the_other_documents_stay_xml_for_a_browser(api, path):
    reply = api.request("GET", path.format(job=api.create()), headers=BROWSER)
    assert reply.content_type.startswith("text/xml")


@pytest.mark.parametrize("owner", [None, "alice"])  # anonymous, and an authenticated caller
@pytest.mark.parametrize(
    "method, path, data",
    [("POST", "/async", {"TEXT": "x"}), ("POST", "/async/{job}/phase", {"PHASE": "RUN"}),
     ("POST", "/async/{job}", {"ACTION": "DELETE"}), ("DELETE", "/async/{job}", {})],
)  # fmt: skip
def test_another_site_cannot_change_anything(api, owner, method, path, data):
    job_id = api.create(owner=owner)
    before = api.item(job_id)
    for origin in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                   {"Sec-Fetch-Site": "cross-site"}):  # fmt: skip
        reply = api.request(method, path.format(job=job_id), data=data, owner=owner,
                            headers={**BROWSER, **origin})  # fmt: skip
        assert reply.status == 403 and "another site" in reply.body
    assert api.item(job_id) == before
    own = {"Origin": BASE.rsplit("/", 1)[0]}
    reply = api.request(method, path.format(job=job_id), data=data, owner=owner, headers=own)
    assert reply.status == 303
