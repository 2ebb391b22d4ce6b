"""Reading template.yaml: a YAML loader for CloudFormation's short-form tags, and a small
evaluator of the intrinsic functions the template's policies use (Ref, GetAtt, Sub, Split,
Join, Select), for the contract tests and the IAM check. Needs only PyYAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# Pseudo parameters as the local checks see them.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com"}


class CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that reads CloudFormation short-form tags (!Ref, !Sub, !GetAtt, !If, ...)
    as plain `{"Fn::Name": value}` data instead of failing on them."""


def _cfn_tag(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    return {name: value}


for _tag in ("Ref", "Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select",
             "Split", "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs", "Condition",
             "Transform", "ToJsonString", "Length", "Contains"):
    CloudFormationLoader.add_constructor(f"!{_tag}", lambda loader, node, _t=_tag: _cfn_tag(loader, _t, node))
# Any other short-form tag a colleague may add later.
CloudFormationLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=CloudFormationLoader)


def function_crate(logical_id: str, resource: dict) -> str:
    """The workspace crate (package and binary, named alike) a function of the template runs:
    its build's `WorkingDirectory: functions/<crate>` (how every Rust function is built,
    docs/design.md "Building and deploying"), else a CodeUri under functions/, else its logical
    id in kebab case (`PasswordResetFunction` is `password-reset`)."""
    working_dir = (resource.get("Metadata") or {}).get("WorkingDirectory")
    code_uri = (resource.get("Properties") or {}).get("CodeUri")
    for path in (working_dir, code_uri):
        if isinstance(path, str) and path.rstrip("/").startswith("functions/"):
            return path.rstrip("/").removeprefix("functions/")
    stem = logical_id.removesuffix("Function")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", stem).lower()


def resource_arn(logical_id: str, attribute: str = "Arn") -> str:
    """A symbolic ARN for a resource of the template (`arn:res:Table`, `arn:res:Table/stream/*`)."""
    if attribute == "StreamArn":
        return f"arn:res:{logical_id}/stream/*"
    if attribute in ("Arn", ""):
        return f"arn:res:{logical_id}"
    return f"arn:res:{logical_id}.{attribute}"


def resolve(value: Any, params: dict[str, str]) -> Any:
    """Evaluates intrinsic functions with the given parameter values; resources become
    symbolic ARNs (`!Ref TokenSecret` is `arn:res:TokenSecret`)."""
    if isinstance(value, list):
        return [resolve(v, params) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref")):
        return {k: resolve(v, params) for k, v in value.items()}
    (fn, arg), = value.items()
    if fn == "Ref":
        if arg in params:
            return params[arg]
        return PSEUDO.get(arg, resource_arn(arg))
    if fn == "Fn::GetAtt":
        resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        return resource_arn(resource, attribute)
    if fn == "Fn::Sub":
        template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], {k: resolve(v, params) for k, v in arg[1].items()})

        def sub(m: re.Match) -> str:
            name = m.group(1)
            if name in variables:
                return str(variables[name])
            if name in params:
                return params[name]
            if name in PSEUDO:
                return PSEUDO[name]
            resource, _, attribute = name.partition(".")
            return resource_arn(resource, attribute)

        return re.sub(r"\$\{([^}!]+)\}", sub, template)
    if fn == "Fn::Split":
        sep, source = arg
        return str(resolve(source, params)).split(sep)
    if fn == "Fn::Join":
        sep, items = arg
        return sep.join(str(i) for i in resolve(items, params))
    if fn == "Fn::Select":
        index, items = arg
        return resolve(items, params)[int(resolve(index, params))]
    return value
