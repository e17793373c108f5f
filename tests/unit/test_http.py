"""Request parsing: bodies, names, identity, and the API's public base URL."""

import base64

import pytest
from uws.config import Settings, settings
from uws.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from uws.web.http import base_url, caller_from_context, parse_request

from local.events import Mount, find_route, rest_event
from local.template import load, routes


@pytest.fixture
def config(monkeypatch) -> Settings:
    for name in ("PUBLIC_BASE_URL", "AUTH_MODE", "MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAX_BODY_BYTES", "1000")
    settings.cache_clear()
    yield settings()
    settings.cache_clear()


def event(body=None, content_type="application/x-www-form-urlencoded", b64=False, **extra):
    return {
        "httpMethod": "POST",
        "path": "/async",
        "headers": {"Content-Type": content_type, "Host": "h.example"},
        "body": body,
        "isBase64Encoded": b64,
        "requestContext": {"path": "/async", "stage": "uws"},
        **extra,
    }


def test_form_names_are_case_insensitive_and_values_exact(config):
    request = parse_request(event("phase=RUN&Text=a%26b%20%E2%98%83&text=2"), config)
    assert request.value("PHASE") == "RUN"
    assert request.values("TEXT") == ["a&b ☃", "2"]
    with pytest.raises(BadRequest):
        request.value("text")


def test_query_and_body_are_merged(config):
    request = parse_request(event("B=2", multiValueQueryStringParameters={"A": ["1", "3"]}), config)
    assert request.params == [("A", "1"), ("A", "3"), ("B", "2")]


def test_base64_bodies_are_decoded(config):
    body = base64.b64encode(b"TEXT=%C3%A9").decode()
    assert parse_request(event(body, b64=True), config).value("TEXT") == "é"


@pytest.mark.parametrize(
    "body, b64, error",
    [
        ("TEXT=%FF%FE", False, BadRequest),  # percent-escaped invalid UTF-8
        ("not base64!", True, BadRequest),
        (base64.b64encode(b"TEXT=\xff").decode(), True, BadRequest),  # raw invalid UTF-8
        ("TEXT=" + "x" * 2000, False, PayloadTooLarge),
        ("&".join(f"a{i}=1" for i in range(1001))[:999], False, None),
    ],
)
def test_bad_bodies(config, body, b64, error):
    if error is None:
        parse_request(event(body, b64=b64), config)
    else:
        with pytest.raises(error):
            parse_request(event(body, b64=b64), config)


def test_too_many_fields(config, monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "100000")
    settings.cache_clear()
    with pytest.raises(BadRequest):
        parse_request(event("&".join(f"a{i}=1" for i in range(1001))), settings())


@pytest.mark.parametrize("content_type", ["application/json", "text/xml", "image/png"])
def test_other_content_types_are_415(config, content_type):
    with pytest.raises(UnsupportedMediaType):
        parse_request(event('{"PHASE": "RUN"}', content_type=content_type), config)


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("garbage", "multipart/form-data"),  # no boundary
        (
            "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
    ],
)
def test_malformed_multipart_is_400(config, body, content_type):
    with pytest.raises(BadRequest):
        parse_request(event(body, content_type=content_type), config)


ROLE = "arn:aws:sts::123456789012:assumed-role/astronomers"


@pytest.mark.parametrize(
    "context, owner",
    [
        ({}, None),
        ({"authorizer": {"principalId": "alice"}}, "alice"),
        # cognito: the immutable sub, not the user name a deleted user frees for another
        ({"authorizer": {"claims": {"cognito:username": "bob", "sub": "b-1"}}}, "b-1"),
        ({"authorizer": {"claims": {"sub": "b-1"}}}, "b-1"),
        ({"identity": {"userArn": "arn:aws:iam::1:user/c"}}, "arn:aws:iam::1:user/c"),
        ({"identity": {"userArn": None}}, None),
        # iam: an assumed role's session name changes at every credential refresh (the AWS
        # CLI's default is botocore-session-<epoch>); the role is the owner
        ({"identity": {"userArn": f"{ROLE}/botocore-session-1795460400"}}, ROLE),
        ({"identity": {"userArn": f"{ROLE}/botocore-session-1795464000"}}, ROLE),
        ({"identity": {"userArn": f"{ROLE}/i-0abc/with/slashes"}}, ROLE),
        ({"identity": {"userArn": "arn:aws-cn:sts::1:assumed-role/r/s"}}, "arn:aws-cn:sts::1:assumed-role/r"),
        ({"identity": {"userArn": "arn:aws:sts::1:federated-user/dana"}}, "arn:aws:sts::1:federated-user/dana"),
        ({"identity": {"userArn": "arn:aws:iam::1:root"}}, "arn:aws:iam::1:root"),
    ],
)  # fmt: skip
def test_caller_comes_from_the_request_context(context, owner):
    assert caller_from_context(context).owner == owner


EXECUTE_API = "abc123defg.execute-api.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    "mount, expected",
    [
        (Mount.execute_api(EXECUTE_API, "uws"), f"https://{EXECUTE_API}/uws"),
        (Mount.execute_api(EXECUTE_API, "prod", edge=True), f"https://{EXECUTE_API}/prod"),
        (Mount.custom_domain("data.example.org"), "https://data.example.org"),
        (Mount.custom_domain("data.example.org", "/tap"), "https://data.example.org/tap"),
        (Mount.custom_domain("data.example.org", "/v1/tap"), "https://data.example.org/v1/tap"),
        (Mount.local("127.0.0.1:8000"), "http://127.0.0.1:8000"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/async", "/async/Q2ZkR3dmYWtlLWpvYi1pZA", "/async/Q2ZkR3dmYWtlLWpvYi1pZA/phase",
        "/async/Q2ZkR3dmYWtlLWpvYi1pZA/results/a%20b", "/async/Q2ZkR3dmYWtlLWpvYi1pZA/parameters/TEXT",
        "/", "/async/", "/nothing/here", "/async/Q2ZkR3dmYWtlLWpvYi1pZA/results/a/b",
    ],
)  # fmt: skip
def test_base_url_for_every_way_a_client_reaches_the_api(config, mount, expected, path):
    """The same rule holds for every event shape API Gateway sends (local.events.Mount
    cites where each comes from), on every route, the catch-all ones included."""
    route, params = find_route(routes(load()), path)
    headers = {"X-Forwarded-Proto": "http"} if expected.startswith("http:") else {}
    event = rest_event("GET", route, path, params, mount, headers=headers)
    lowered = {k.lower(): v for k, v in event["headers"].items()}
    assert base_url(event, lowered, config) == expected


def test_public_base_url_overrides(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://vo.example.org/uws/")
    settings.cache_clear()
    try:
        assert base_url({}, {"host": "x"}, settings()) == "https://vo.example.org/uws"
    finally:
        settings.cache_clear()


def test_a_multipart_boundary_with_angle_brackets_is_read_as_sent():
    """RFC 2046 lets a boundary hold < and > (STILTS sends "<<<---…--->>>"); the standard
    library's parser would strip them and find no part."""
    from uws.web.http import _multipart

    boundary = "<<<--------------MULTIPART-BOUNDARY------->>>"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="LANG"\r\n\r\nADQL\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="t1"; filename="t1"\r\n'
        f"Content-Type: application/x-votable+xml\r\n\r\n<VOTABLE/>\r\n--{boundary}--\r\n"
    ).encode()
    params, files = _multipart(body, f'multipart/form-data; boundary="{boundary}"')
    assert params == [("LANG", "ADQL")]
    assert files["t1"].content == b"<VOTABLE/>"
