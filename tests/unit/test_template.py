"""template.yaml: routes for every UWS resource and method, least privilege, safe storage."""

import pytest

from local.template import (
    functions,
    load,
    parameter_defaults,
    resources_of_type,
    rest_api,
    routes,
)

UWS_PATHS = {
    "/async", "/async/{jobId}", "/async/{jobId}/phase", "/async/{jobId}/executionduration",
    "/async/{jobId}/destruction", "/async/{jobId}/error", "/async/{jobId}/quote",
    "/async/{jobId}/owner", "/async/{jobId}/parameters", "/async/{jobId}/parameters/{name}",
    "/async/{jobId}/results", "/async/{jobId}/results/{id}", "/async/{jobId}/startTime",
}  # fmt: skip
TAP_PATHS = {"/sync", "/capabilities", "/availability", "/tables", "/tables/{name}", "/examples"}
PUBLIC_PATHS = TAP_PATHS - {"/sync"}  # VOSI answers anyone (docs/tap.md)
WRITES = ("Put", "Update", "Delete", "BatchWrite", "Send", "Create")
READ_ONLY = [
    "ErrorFunction",
    "QuoteFunction",
    "OwnerFunction",
    "StartTimeFunction",
    "ResultsFunction",
]


@pytest.fixture(scope="module")
def template():
    return load()


def statements(resource):
    found = []
    for policy in resource["Properties"].get("Policies", []):
        if "Statement" in policy:
            found.extend(policy["Statement"])
        else:
            found.append(policy)  # a SAM policy template
    return found


def actions(statement):
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else action


CATCH_ALL = {"/", "/{proxy+}"}


def test_every_uws_path_routes_every_method_to_one_function(template):
    found = routes(template)
    assert {r.path for r in found} == UWS_PATHS | CATCH_ALL | TAP_PATHS
    assert all(r.method == "ANY" for r in found)  # so the function answers 405 itself
    assert len({r.path for r in found}) == len(found)


def test_taps_functions_exist_only_when_the_job_type_is_tap(template):
    """Without JobType tap the TAP paths reach the API's 404 (NotFoundFunction); with it,
    TAP's functions with the TAP layer, and the worker carries the layer too."""
    from local.template import conditions

    defaults = parameter_defaults(template)
    for job_type, present in (("demo", False), ("tap", True)):
        when = conditions(template, {**defaults, "JobType": job_type})
        deployed = {r.path: r.function for r in routes(template, when)}
        assert (set(deployed) >= TAP_PATHS) is present
        assert (
            set(functions(template, when)) >= {"TapSyncFunction", "TapVosiFunction"} or not present
        )
    for name in ("TapSyncFunction", "TapVosiFunction"):
        function = template["Resources"][name]
        assert function["Condition"] == "IsTap"
        assert function["Properties"]["Layers"] == [{"Ref": "TapLayer"}]
    assert template["Resources"]["TapLayer"]["Condition"] == "IsTap"
    worker = template["Resources"]["WorkerFunction"]["Properties"]
    assert worker["Layers"] == [{"Fn::If": ["IsTap", {"Ref": "TapLayer"}, {"Ref": "AWS::NoValue"}]}]


def test_what_no_uws_path_takes_goes_to_a_function_without_aws_access(template):
    """API Gateway would answer unrouted paths itself (403 "Missing Authentication Token");
    the catch-all routes make them a 404 with a sentence, from a function that can do nothing
    else."""
    assert {r.function for r in routes(template) if r.path in CATCH_ALL} == {"NotFoundFunction"}
    assert "Policies" not in template["Resources"]["NotFoundFunction"]["Properties"]


def test_every_route_has_the_apis_security_and_its_functions_integration(template):
    """With a DefinitionBody SAM adds no integration for the Api events: each path names its
    function itself, and it must be the function whose event routes that path."""
    body = template["Resources"]["UwsApi"]["Properties"]["DefinitionBody"]
    assert set(body["paths"]) == UWS_PATHS | CATCH_ALL | TAP_PATHS
    methods = {path: p["x-amazon-apigateway-any-method"] for path, p in body["paths"].items()}
    secured = [m["security"] for path, m in methods.items() if path not in PUBLIC_PATHS]
    assert all(security == secured[0] for security in secured)
    assert all(methods[path]["security"] == [] for path in PUBLIC_PATHS)
    by_events = {r.path: r.function for r in routes(template)}
    for path, method in methods.items():
        integration = method["x-amazon-apigateway-integration"]
        assert (integration["type"], integration["httpMethod"]) == ("aws_proxy", "POST")
        uri = integration["uri"]
        if path in TAP_PATHS:  # TAP's function with JobType tap, else the API's 404
            condition, tap_uri, otherwise = uri["Fn::If"]
            assert condition == "IsTap" and "${NotFoundFunction.Arn}" in otherwise["Fn::Sub"]
            uri = tap_uri
        assert f"${{{by_events[path]}.Arn}}/invocations" in uri["Fn::Sub"], path


def test_binary_media_types_are_written_as_rest_apis_want_them(template):
    """REST APIs take ~1 for the slash; a plain slash breaks a later stack update."""
    types = template["Resources"]["UwsApi"]["Properties"]["BinaryMediaTypes"]
    assert "multipart~1form-data" in types
    assert all("/" not in t and "~1" in t for t in types)


@pytest.mark.parametrize("auth_mode", ["anonymous", "iam", "cognito"])
@pytest.mark.parametrize(
    "kind, status",
    [("MISSING_AUTHENTICATION_TOKEN", 403), ("REQUEST_TOO_LARGE", 413), ("DEFAULT_4XX", 400),
     ("DEFAULT_5XX", 502)],
)  # fmt: skip
def test_api_gateways_own_answers_are_plain_sentences(template, auth_mode, kind, status):
    refs = {**parameter_defaults(template), "AuthMode": auth_mode, "AWS::NoValue": ""}
    answer_status, headers, body = rest_api(template, refs).gateway_response(kind, status, "X")
    assert headers == {"Content-Type": "text/plain; charset=utf-8"}
    text = body.decode()
    assert text.endswith(".") and text.count(". ") == 0 and not text.startswith("{"), text
    if kind == "MISSING_AUTHENTICATION_TOKEN":  # unsigned, in iam mode; else unrouted
        assert answer_status == (403 if auth_mode == "iam" else 404)


def test_read_only_functions_cannot_write(template):
    functions_ = resources_of_type(template, "AWS::Serverless::Function")
    for name in READ_ONLY:
        for statement in statements(functions_[name]):
            assert "Action" in statement, f"{name} uses a SAM policy template: {statement}"
            for action in actions(statement):
                assert not any(word in action for word in WRITES), (name, action)


def test_no_function_has_wildcard_actions_or_resources(template):
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        for statement in statements(function):
            if "Action" not in statement:
                continue
            assert all("*" not in a for a in actions(statement)), name
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            if actions(statement) == ["ecs:ListTasks"]:
                # ListTasks names no task; IAM narrows it by the cluster's condition key
                # (Service Authorization Reference, Amazon ECS: ecs:cluster)
                assert set(statement["Condition"]["ArnEquals"]) == {"ecs:cluster"}, name
                continue
            assert "*" not in resources, name


def test_queries_go_to_indexes_and_nothing_scans(template):
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        acts = [a for s in statements(function) if "Action" in s for a in actions(s)]
        assert "dynamodb:Scan" not in acts, name
        queried = [
            str(r)
            for s in statements(function)
            if "dynamodb:Query" in actions(s)
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        ]
        if name == "JobsFunction":
            assert any("index/byOwner" in r for r in queried)
        elif name == "ReaperFunction":
            assert all("index/byDestruction" in r or "index/byDeadline" in r for r in queried)
            assert queried
        else:
            assert queried == [], name


def test_only_the_worker_writes_results(template):
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        for statement in statements(function):
            if "s3:PutObject" in actions(statement):
                resource = str(statement["Resource"])
                # uploads; and /sync's answers too large to send, under answers/
                assert (
                    name == "WorkerFunction"
                    or "uploads" in resource
                    or (name == "TapSyncFunction" and "/answers/*" in resource)
                ), name


def test_worker_outlives_the_longest_job_and_the_queue_outlives_the_worker(template):
    resources = template["Resources"]
    worker = resources["WorkerFunction"]["Properties"]
    from uws.config import LAMBDA_MAX_EXECUTION_DURATION

    # the longest job the worker takes (longer ones run as container tasks)
    assert worker["Timeout"] > LAMBDA_MAX_EXECUTION_DURATION
    assert resources["JobsQueue"]["Properties"]["VisibilityTimeout"] >= 6 * worker["Timeout"]
    queue_event = worker["Events"]["Queue"]["Properties"]
    assert queue_event["BatchSize"] == 1
    assert queue_event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_bucket_is_private_encrypted_and_tls_only(template):
    bucket = template["Resources"]["ResultsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    policy = template["Resources"]["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_files_left_behind_expire_after_the_longest_destruction(template):
    rules = template["Resources"]["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("Prefix") == "jobs/"]
    assert rule["ExpirationInDays"] == {"Ref": "FileRetentionDays"}
    parameters = template["Parameters"]
    assert parameters["FileRetentionDays"]["Default"] > parameters["MaxDestructionDays"]["Default"]


def test_table_is_on_demand_recoverable_encrypted_with_the_three_indexes(template):
    table = template["Resources"]["JobsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
        "byOwner",
        "byDestruction",
        "byDeadline",
    }


def test_queue_has_a_dead_letter_queue(template):
    queue = template["Resources"]["JobsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]
    }


def test_functions_are_traced_by_lambda_not_powertools(template):
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    for spec in functions(template).values():
        assert "Tracer" not in spec.file.read_text()


ALARMS = {
    "DeadLetterAlarm", "ApiServerErrorsAlarm", "FunctionErrorsAlarm", "ThrottlesAlarm",
    "WorkerNearTimeoutAlarm", "JobFailureRateAlarm", "ReaperNotRunningAlarm",
}  # fmt: skip


def test_every_alarm_notifies_the_topic_and_email_is_optional(template):
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert set(alarms) == ALARMS
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["Properties"]["AlarmDescription"], name
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    refs = {**parameter_defaults(template)}
    from local.template import conditions

    assert conditions(template, refs)["HasAlarmEmail"] is False
    assert conditions(template, {**refs, "AlarmEmail": "ops@example.org"})["HasAlarmEmail"]


def test_the_dashboard_is_json_and_shows_every_alarm(template):
    import json
    import re

    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(ALARMS)
    assert {m for m in re.findall(r"\$\{(\w+)\.Arn\}", body)} == ALARMS


def test_the_worker_is_capped_and_a_queued_job_waits_as_long_as_its_message(template):
    """A burst of RUNs cannot take the account's concurrency; a job behind the cap is not
    ended while SQS still keeps its message."""
    event = template["Resources"]["WorkerFunction"]["Properties"]["Events"]["Queue"]
    assert event["Properties"]["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}
    }
    queue = template["Resources"]["JobsQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == {"Ref": "QueueTimeoutSeconds"}
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["QUEUE_TIMEOUT_SECONDS"] == {"Ref": "QueueTimeoutSeconds"}
