"""Each function runs under the role SAM makes of its template policies, and moto enforces
IAM (local.iam): a permission missing from the template fails here, not first in production."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from local.lambdas import _acting
from tests.conftest import text_of


def role_of(function):
    return f"uws-{function}"


def test_a_function_works_under_its_own_role(api):
    job_id = api.create(TEXT="x")
    assert api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}).status == 303
    api.work()
    assert text_of(api.job(job_id), "uws:phase") == "COMPLETED"
    roles = {r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]}
    assert {"uws-JobsFunction", "uws-PhaseFunction", "uws-WorkerFunction"} <= roles


@pytest.mark.parametrize(
    "function, call",
    [
        ("ErrorFunction", lambda c, refs: c("dynamodb").put_item(
            TableName=refs["JobsTable"], Item={"jobId": {"S": "x"}})),
        ("PhaseFunction", lambda c, refs: c("dynamodb").scan(TableName=refs["JobsTable"])),
        ("JobsFunction", lambda c, refs: c("s3").put_object(
            Bucket=refs["ResultsBucket"], Key="jobs/x/results/r", Body=b"x")),
        ("ResultsFunction", lambda c, refs: c("s3").list_buckets()),
        ("QuoteFunction", lambda c, refs: c("sqs").send_message(
            QueueUrl=refs["JobsQueue"], MessageBody="{}")),
        # a transaction's items are authorized one by one (local.moto_fixes)
        ("JobFunction", lambda c, refs: c("dynamodb").transact_write_items(TransactItems=[
            {"Put": {"TableName": refs["JobsTable"], "Item": {"jobId": {"S": "x"}}}}])),
    ],
)  # fmt: skip
def test_what_a_role_does_not_allow_is_refused(api, function, call):
    from uws import aws

    api.request("GET", "/async")  # any function: the roles are in place
    _acting.function = function
    try:
        with pytest.raises(ClientError) as refused:
            call(aws.client, api.refs)
    finally:
        _acting.function = None
    # AWS: AccessDeniedException (DynamoDB, SQS), AccessDenied (S3); moto answers the first
    # two as a bare 403 in XML, which botocore reports by its status.
    assert refused.value.response["Error"]["Code"] in (
        "AccessDeniedException",
        "AccessDenied",
        "403",
    )


def test_one_permission_removed_from_one_role_shows_as_the_failure_it_would_be(api, caplog):
    """PhaseFunction without dynamodb:UpdateItem: RUN fails with a 500 and changes nothing,
    and the log says why."""
    job_id = api.create()
    assert api.request("GET", f"/async/{job_id}/phase").body == "PENDING"  # its role exists
    iam = boto3.client("iam")
    role = role_of("PhaseFunction")
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = document if isinstance(document, dict) else json.loads(document)
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            statement["Action"] = [a for a in actions if a != "dynamodb:UpdateItem"] or [
                "dynamodb:GetItem"
            ]
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    reply = api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    assert reply.status == 500
    assert api.request("GET", f"/async/{job_id}/phase").body == "PENDING"
    (failure,) = [r for r in caplog.records if r.getMessage() == "request failed"]
    assert "AccessDenied" in str(failure.exc_info[1])
