"""Which representation an Accept header gets, and which requests may change state
(docs/uws.md, JSON and Browsers)."""

import pytest
from uws.web.http import preferred, representation, same_site

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    "accept, representation",
    [
        ("", "xml"), ("*/*", "xml"), ("application/xml", "xml"), ("text/xml", "xml"),
        (BROWSER, "html"), ("text/html", "html"), ("application/xhtml+xml", "html"),
        ("application/json", "json"), ("application/json;q=0.9, text/xml;q=0.5", "json"),
        ("text/html, application/json", "json"), ("text/html;q=0.5, */*", "html"),
        ("text/html;q=0.5, text/xml", "xml"), ("text/html;q=0", "xml"),
        ("text/html;q=x", "xml"), ("TEXT/HTML", "html"),
    ],
)  # fmt: skip
def test_preferred_representation(accept, representation):
    assert preferred(accept) == representation


JAVA = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"  # HttpURLConnection's default


@pytest.mark.parametrize(
    "headers, answer",
    [
        ({"accept": BROWSER}, "html"),
        ({"accept": "text/html", "sec-fetch-dest": "document"}, "html"),
        ({"accept": JAVA}, "xml"),  # Java clients (STILTS, TOPCAT) that set no Accept
        ({"accept": "text/html"}, "xml"),
        ({"accept": BROWSER, "sec-fetch-dest": "empty"}, "html"),
        ({"accept": "application/json", "sec-fetch-dest": "empty"}, "json"),
        ({}, "xml"),
    ],
)  # fmt: skip
def test_pages_go_to_browsers_opening_them_only(headers, answer):
    assert representation(headers) == answer


BASE = "https://abc.execute-api.eu-west-1.amazonaws.com/prod"


@pytest.mark.parametrize(
    "headers, allowed",
    [
        ({}, True),  # pyvo, curl: no Origin
        ({"origin": "https://abc.execute-api.eu-west-1.amazonaws.com"}, True),
        ({"origin": "https://ABC.execute-api.eu-west-1.amazonaws.com/"}, True),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "http://abc.execute-api.eu-west-1.amazonaws.com"}, False),
        ({"origin": "null"}, False),  # data: and sandboxed pages
        ({"sec-fetch-site": "cross-site"}, False),
        ({"sec-fetch-site": "same-origin",
          "origin": "https://abc.execute-api.eu-west-1.amazonaws.com"}, True),
    ],
)  # fmt: skip
def test_only_the_services_own_pages_or_no_page_may_change_state(headers, allowed):
    assert same_site(headers, BASE) is allowed
