"""Owner isolation: a job with an owner is shown to, read and changed by its owner alone."""

import pytest

from tests.conftest import unchanged

# Every route and method a client could try, with a body that would change the job.
REQUESTS = [
    ("GET", "", None),
    ("GET", "", {"WAIT": "1"}),
    ("DELETE", "", None),
    ("POST", "", {"ACTION": "DELETE"}),
    ("GET", "/phase", None),
    ("POST", "/phase", {"PHASE": "RUN"}),
    ("POST", "/phase", {"PHASE": "ABORT"}),
    ("GET", "/executionduration", None),
    ("POST", "/executionduration", {"EXECUTIONDURATION": "10"}),
    ("GET", "/destruction", None),
    ("POST", "/destruction", {"DESTRUCTION": "2001-01-01T00:00:00Z"}),
    ("GET", "/error", None),
    ("GET", "/quote", None),
    ("GET", "/owner", None),
    ("GET", "/startTime", None),
    ("GET", "/parameters", None),
    ("GET", "/parameters/TEXT", None),
    ("POST", "/parameters", {"TEXT": "mine now"}),
    ("GET", "/results", None),
    ("GET", "/results/result", None),
]


@pytest.mark.parametrize("method, child, data", REQUESTS)
@pytest.mark.parametrize("intruder", ["bob", None])
def test_another_caller_gets_403_and_changes_nothing(api, method, child, data, intruder):
    job_id = api.create(owner="alice", TEXT="alice's")
    kwargs = {"query": data} if method == "GET" else {"data": data}
    with unchanged(api, job_id):
        reply = api.request(method, f"/async/{job_id}{child}", owner=intruder, **kwargs)
    assert reply.status == 403
    assert reply.body == "This job belongs to another owner."


def test_the_owner_cannot_be_set_by_a_header_or_a_parameter(api):
    headers = {
        "X-Owner": "alice",
        "Authorization": "Basic YWxpY2U6eA==",
        "X-Amzn-Oidc-Identity": "alice",
    }
    reply = api.request("POST", "/async", data={"OWNER": "alice"}, headers=headers)
    assert reply.status == 400  # OWNER is not a parameter of the job type
    reply = api.request("POST", "/async", data={"TEXT": "x"}, headers=headers)
    job_id = reply.location.rsplit("/", 1)[1]
    assert api.request("GET", f"/async/{job_id}/owner", headers=headers).body == "NULL"


def test_identity_comes_from_cognito_claims_and_iam(api):
    from tests.conftest import Reply

    role = "arn:aws:sts::123456789012:assumed-role/observers"
    cases = [
        # cognito: the immutable sub claim
        ({"authorizer": {"claims": {"cognito:username": "carol", "sub": "1234"}}}, None, "1234"),
        ({"identity": {"userArn": "arn:aws:iam::123456789012:user/dave"}}, None,
         "arn:aws:iam::123456789012:user/dave"),
        # iam with an assumed role: the credentials are refreshed (a new session name) between
        # creating the job and reading it; the job is still the caller's
        ({"identity": {"userArn": f"{role}/botocore-session-1795460400"}},
         {"identity": {"userArn": f"{role}/botocore-session-1795464000"}}, role),
    ]  # fmt: skip
    for context, later_context, owner in cases:
        function, event = api.event("POST", "/async", data={"TEXT": "x"})
        event["requestContext"].update(context)
        reply: Reply = api.invoke(function, event)
        job_id = reply.location.rsplit("/", 1)[1]
        function, event = api.event("GET", f"/async/{job_id}/owner")
        event["requestContext"].update(later_context or context)
        answer = api.invoke(function, event)
        assert (answer.status, answer.body) == (200, owner)
