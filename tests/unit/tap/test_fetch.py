"""UPLOAD by URL reaches the public internet only: never the task metadata endpoint (which
hands out a task role's keys), loopback (Lambda's runtime API) or a private network."""

from __future__ import annotations

import pytest
from tap.fetch import fetch_upload
from tap.request import TapError


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.170.2/v2/credentials/abc",  # ECS task metadata: the task role's keys
        "http://169.254.169.254/latest/meta-data/",  # instance metadata
        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",  # Lambda's runtime API
        "http://10.0.0.5/table.xml",
        "http://[::1]/table.xml",
        "http://localhost/table.xml",
    ],
)
def test_hosts_only_the_service_could_reach_are_refused_before_a_byte_is_sent(url, monkeypatch):
    monkeypatch.delenv("TAP_UPLOAD_LOOPBACK", raising=False)
    with pytest.raises(TapError, match="not on the public internet"):
        fetch_upload(url, 1000)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/t.xml", "s3://b/k"])
def test_only_http_and_https(url):
    with pytest.raises(TapError, match="http or https"):
        fetch_upload(url, 1000)
