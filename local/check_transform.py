"""Run SAM's own transform on template.yaml for every AuthMode, offline, and check the API
it makes (`make validate` runs this with aws-sam-cli's Python, which has samtranslator).

`sam validate --lint` passes templates the transform rejects (SAM issues #1859, #3308), so
this is the check that the deployment's API really has every route, its security, the
gateway responses and the binary media types.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

MODES = ("anonymous", "iam", "cognito")
MANAGED = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for name, path in [
        ("AWSLambdaBasicExecutionRole", "service-role/"),
        ("AWSXrayWriteOnlyAccess", ""),
        ("AWSXRayDaemonWriteAccess", ""),
    ]
}


PUBLIC = frozenset({"/capabilities", "/availability", "/tables", "/tables/{name}", "/examples"})


class _Policies:
    def load(self) -> dict[str, str]:
        return MANAGED


def transformed(template: dict, auth_mode: str, parameters: dict | None = None) -> dict:
    """The template after SAM's transform, for ``auth_mode`` and other ``parameters``."""
    for resource in template["Resources"].values():  # the transform wants S3 code locations
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = "s3://bucket/key"
    values = {"CognitoUserPoolArn": "arn:aws:cognito-idp:::userpool/x", **(parameters or {})}
    values["AuthMode"] = auth_mode
    return transform(template, values, _Policies())


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    text = Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml").read_text()
    for mode, job_type in [(mode, "demo") for mode in MODES] + [("iam", "tap")]:
        resources = transformed(yaml_parse(text), mode, {"JobType": job_type})["Resources"]
        body = resources["UwsApi"]["Properties"]["Body"]
        securities = []
        for path, methods in body["paths"].items():
            assert list(methods) == ["x-amazon-apigateway-any-method"], (mode, path)
            method = methods["x-amazon-apigateway-any-method"]
            integration = method.get("x-amazon-apigateway-integration", {})
            assert integration.get("type") == "aws_proxy", (mode, path, "no Lambda integration")
            if path in PUBLIC:  # VOSI answers anyone (docs/tap.md)
                assert method.get("security") == [], (mode, path, "not public")
                continue
            securities.append(json.dumps(method.get("security"), sort_keys=True))
        assert len(set(securities)) == 1, (mode, "routes differ in security")
        if job_type == "tap":
            assert {"TapSyncFunction", "TapVosiFunction"} <= set(resources), mode
            assert any(name.startswith("TapLayer") for name in resources), mode
            assert any(name.startswith("TapEngineLayer") for name in resources), mode
        permissions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
        assert len(permissions) >= len(body["paths"]), (mode, "routes without invoke permission")
        assert {"/", "/{proxy+}", "/async"} <= set(body["paths"]), mode
        assert "multipart/form-data" in body["x-amazon-apigateway-binary-media-types"], mode
        assert "MISSING_AUTHENTICATION_TOKEN" in body["x-amazon-apigateway-gateway-responses"]
    print(f"sam transform: ok ({len(body['paths'])} routes in each of {', '.join(MODES)}; tap)")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        sys.exit(f"sam transform: {json.dumps(error.args)}")
