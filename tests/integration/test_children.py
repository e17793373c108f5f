"""{job}/error, quote, owner, startTime, parameters and results."""

import urllib.parse

import boto3
import pytest

from tests.conftest import BASE, UWS, set_item, text_of, unchanged

TEXT = "text/plain; charset=utf-8"


def get(api, job_id, child, owner=None):
    return api.request("GET", f"/async/{job_id}/{child}", owner=owner)


def test_error_is_404_unless_the_job_is_in_error(api):
    job_id = api.create()
    reply = get(api, job_id, "error")
    assert reply.status == 404 and "PENDING" in reply.body


def test_error_gives_the_summarys_message(api):
    job_id = api.create()
    set_item(
        api,
        job_id,
        phase="ERROR",
        errorSummary={"type": "fatal", "message": "short", "hasDetail": False},
    )
    reply = get(api, job_id, "error")
    assert (reply.status, reply.content_type, reply.body) == (200, TEXT, "short")


def test_quote_is_empty_when_unknown_and_iso_when_known(api):
    job_id = api.create()
    assert (get(api, job_id, "quote").status, get(api, job_id, "quote").body) == (200, "")
    set_item(api, job_id, quote="2030-01-01T00:00:00.400000Z")
    assert get(api, job_id, "quote").body == "2030-01-01T00:00:00Z"
    assert text_of(api.job(job_id), "uws:quote") == "2030-01-01T00:00:00Z"


def test_owner_is_null_for_anonymous_jobs(api):
    reply = get(api, api.create(), "owner")
    assert (reply.status, reply.content_type, reply.body) == (200, TEXT, "NULL")
    assert get(api, api.create(owner="alice"), "owner", owner="alice").body == "alice"


def test_start_time_is_null_until_execution(api):
    job_id = api.create()
    assert get(api, job_id, "startTime").body == "NULL"
    set_item(api, job_id, phase="EXECUTING", startTime="2026-01-02T03:04:05.000000Z")
    assert get(api, job_id, "startTime").body == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize(
    "child", ["error", "quote", "owner", "startTime", "results", "results/result", "parameters/X"]
)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_read_only_children_answer_405(api, child, method):
    reply = api.request(method, f"/async/{api.create()}/{child}")
    assert reply.status == 405 and reply.headers["Allow"] == "GET"


# ---- parameters ----------------------------------------------------------------------------


def test_parameters_document(api):
    job_id = api.create(TEXT="a & b", DURATION="2")
    reply = get(api, job_id, "parameters")
    assert reply.status == 200 and reply.content_type.startswith("text/xml")
    root = api.validate(reply.body)
    assert {p.get("id"): p.text for p in root.findall("uws:parameter", UWS)} == {
        "TEXT": "a & b",
        "DURATION": "2",
    }


def test_one_parameter_as_text(api):
    job_id = api.create(TEXT="hello")
    reply = get(api, job_id, "parameters/text")
    assert (reply.status, reply.body) == (200, "hello")
    assert get(api, job_id, "parameters/FAIL").status == 404


def test_post_parameters_while_pending(api):
    job_id = api.create(TEXT="old")
    reply = api.request("POST", f"/async/{job_id}/parameters", data={"text": "new", "FAIL": "boom"})
    assert reply.status == 303 and reply.location == f"{BASE}/async/{job_id}"
    params = {
        p.get("id"): p.text for p in api.job(job_id).findall("uws:parameters/uws:parameter", UWS)
    }
    assert params == {"TEXT": "new", "FAIL": "boom"}


@pytest.mark.parametrize(
    "data",
    [{"NOPE": "1"}, {"DURATION": "x"}, {"TEXT": ["a", "b"]}, {"TEXT": "ok", "DURATION": "-3"}],
)
def test_bad_parameter_posts_are_400_and_change_nothing(api, data):
    job_id = api.create(TEXT="keep")
    with unchanged(api, job_id):
        assert api.request("POST", f"/async/{job_id}/parameters", data=data).status == 400


@pytest.mark.parametrize("phase", ["QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED"])
def test_parameters_are_frozen_after_pending(api, phase):
    job_id = api.create(TEXT="keep")
    set_item(api, job_id, phase=phase)
    with unchanged(api, job_id):
        reply = api.request("POST", f"/async/{job_id}/parameters", data={"TEXT": "new"})
    assert reply.status == 403 and phase in reply.body


def test_multi_valued_parameters_keep_every_value(testing_type):
    api = testing_type
    job_id = api.create(NAME="n", TAGS=["a", "b", "c"])
    values = [
        p.text for p in api.job(job_id).findall("uws:parameters/uws:parameter[@id='TAGS']", UWS)
    ]
    assert values == ["a", "b", "c"]


def multipart(fields, files):
    boundary = "----uws-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content, mime) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {mime}\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_a_multipart_form_with_no_fields_is_an_empty_form(api):
    """RFC 7578 allows a form of no parts (schemathesis sends one); it is no change at all."""
    body, headers = multipart({}, {})
    assert body == b"------uws-test-boundary--\r\n"
    reply = api.request("POST", "/async", body=body, headers=headers)
    assert reply.status == 303
    job_id = reply.location.rsplit("/", 1)[1]
    reply = api.request("POST", f"/async/{job_id}/parameters", body=body, headers=headers)
    assert reply.status == 303 and reply.location.endswith(job_id)


def test_uploaded_parameter_is_by_reference_and_downloads(testing_type):
    api = testing_type
    content = bytes(range(256)) * 10
    body, headers = multipart(
        {"NAME": "n"}, {"upload": ("table.xml", content, "application/x-votable+xml")}
    )
    reply = api.request("POST", "/async", body=body, headers=headers)
    assert reply.status == 303, reply.body
    job_id = reply.location.rsplit("/", 1)[1]
    param = api.job(job_id).find("uws:parameters/uws:parameter[@id='UPLOAD']", UWS)
    assert param.get("byReference") == "true"
    assert param.text == f"{BASE}/async/{job_id}/parameters/UPLOAD"
    redirect = get(api, job_id, "parameters/UPLOAD")
    assert redirect.status == 303
    assert download(api, redirect.location) == content


def test_an_upload_is_an_attachment_and_a_result_is_not(testing_type):
    """What a client uploaded keeps its Content-Type but is downloaded as an attachment, both
    by the presigned URL (response-content-disposition) and as stored (S3 API Reference,
    GetObject, PutObject): an uploaded HTML page never renders from the bucket's origin."""
    api = testing_type
    body, headers = multipart({"NAME": "n"}, {"upload": ("x.html", b"<html/>", "text/html")})
    job_id = api.request("POST", "/async", body=body, headers=headers).location.rsplit("/", 1)[1]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(
        get(api, job_id, "parameters/UPLOAD").location).query))  # fmt: skip
    assert query["response-content-type"] == "text/html"
    assert query["response-content-disposition"] == "attachment"
    (key,) = api.objects(job_id)
    stored = boto3.client("s3").head_object(Bucket=api.refs["ResultsBucket"], Key=key)
    assert stored["ContentDisposition"] == "attachment"
    add_result(api, job_id)
    result = get(api, job_id, "results/result").location
    assert "response-content-disposition" not in result  # a job's own output shows inline


def test_replacing_an_upload_removes_the_old_file(testing_type):
    api = testing_type
    body, headers = multipart({"NAME": "n"}, {"UPLOAD": ("a.txt", b"first", "text/plain")})
    job_id = api.request("POST", "/async", body=body, headers=headers).location.rsplit("/", 1)[1]
    body, headers = multipart({}, {"UPLOAD": ("b.txt", b"second", "text/plain")})
    assert (
        api.request("POST", f"/async/{job_id}/parameters", body=body, headers=headers).status == 303
    )
    assert len(api.objects(job_id)) == 1
    assert download(api, get(api, job_id, "parameters/UPLOAD").location) == b"second"


def test_refused_upload_leaves_the_job_and_files_as_they_were(testing_type):
    api = testing_type
    body, headers = multipart({"NAME": "n"}, {"UPLOAD": ("a.txt", b"first", "text/plain")})
    job_id = api.request("POST", "/async", body=body, headers=headers).location.rsplit("/", 1)[1]
    set_item(api, job_id, phase="COMPLETED")
    body, headers = multipart({}, {"UPLOAD": ("b.txt", b"second", "text/plain")})
    with unchanged(api, job_id):
        assert (
            api.request("POST", f"/async/{job_id}/parameters", body=body, headers=headers).status
            == 403
        )


def test_files_for_parameters_that_take_none_are_400(testing_type):
    api = testing_type
    body, headers = multipart({}, {"NAME": ("a.txt", b"x", "text/plain")})
    assert api.request("POST", "/async", body=body, headers=headers).status == 400


# ---- results -------------------------------------------------------------------------------


def download(api, url):
    """Fetch a presigned URL from moto's S3 (the signature is checked by the URL's shape)."""
    parsed = urllib.parse.urlparse(url)
    query = dict(urllib.parse.parse_qsl(parsed.query))
    assert "X-Amz-Signature" in query and int(query["X-Amz-Expires"]) == 300
    bucket = api.refs["ResultsBucket"]
    path = urllib.parse.unquote(parsed.path).lstrip("/")
    key = path if parsed.netloc.startswith(f"{bucket}.") else path.removeprefix(f"{bucket}/")
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def add_result(api, job_id, name="result", content=b"<VOTABLE/>", mime="application/x-votable+xml"):
    key = f"jobs/{job_id}/results/{name}"
    boto3.client("s3").put_object(Bucket=api.refs["ResultsBucket"], Key=key, Body=content)
    set_item(
        api,
        job_id,
        phase="COMPLETED",
        results=[{"id": name, "key": key, "mimeType": mime, "size": len(content)}],
    )


def test_results_list_is_empty_for_a_new_job(api):
    reply = get(api, api.create(), "results")
    assert reply.status == 200
    assert api.validate(reply.body).findall("uws:result", UWS) == []


def test_results_list_and_download_by_redirect(api):
    job_id = api.create()
    add_result(api, job_id)
    root = api.validate(get(api, job_id, "results").body)
    (result,) = root.findall("uws:result", UWS)
    href = result.get("{http://www.w3.org/1999/xlink}href")
    assert href == f"{BASE}/async/{job_id}/results/result"
    assert (result.get("size"), result.get("mime-type")) == ("10", "application/x-votable+xml")
    reply = get(api, job_id, "results/result")
    assert reply.status == 303
    assert "response-content-type=application%2Fx-votable%2Bxml" in reply.location
    assert download(api, reply.location) == b"<VOTABLE/>"


def test_unknown_result_is_404(api):
    job_id = api.create()
    add_result(api, job_id)
    assert get(api, job_id, "results/other").status == 404
