"""What the local stack reads from `template.yaml`, the single source of truth for routes.

* `load()` reads the SAM template with CloudFormation's short-form tags (`!Ref`, `!GetAtt`, ...)
  as plain `{"Ref": ...}` / `{"Fn::GetAtt": [...]}` data.
* `Template` resolves what API Gateway itself would know at run time: parameters (defaults,
  overridable like `sam local --parameter-overrides`), conditions (a resource whose condition
  is false is left out), the HttpApi routes of every function
  (method, path, function, authorizer), the API's stage variables and its Lambda authorizers
  (identity sources and cache TTL as SAM translates `Identity`).

Used by the local front (`infra/local/front.py`) and the contract test
(`tests/contract/test_openapi.py`). Needs PyYAML only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DEFAULT_ROUTE = "$default"


from infra.cfn import CloudFormationLoader, function_crate  # noqa: E402  (the one reader of CloudFormation tags)


def load(path: Path = TEMPLATE) -> dict:
    with Path(path).open(encoding="utf-8") as f:
        return yaml.load(f, Loader=CloudFormationLoader)


def parse_overrides(raw: str | None) -> dict[str, str]:
    """`Key=Value` pairs separated by spaces or commas, as `sam --parameter-overrides` takes them."""
    out: dict[str, str] = {}
    for pair in re.split(r"[\s,]+", (raw or "").strip()):
        if "=" in pair:
            key, value = pair.split("=", 1)
            out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # /api/portals/{portal_id}, or $default
    function: str  # logical id of the function
    authorizer: str | None  # name in the API's Auth.Authorizers

    @property
    def key(self) -> str:
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str  # the cargo-lambda binary (what `cargo lambda watch` invokes)
    runtime: str
    handler: str
    timeout: int
    memory: int
    inline_code: str | None = None  # set for inline functions (e.g. the example Python backend)
    environment: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Authorizer:
    name: str
    function: str  # logical id
    payload_version: str
    simple_responses: bool
    identity_sources: tuple[str, ...]  # `$request.header.x-api-key`, `$context.routeKey`, ...
    ttl_seconds: int


class Template:
    def __init__(self, data: dict | None = None, overrides: dict[str, str] | None = None):
        self.data = load() if data is None else data
        self.resources: dict[str, dict] = self.data.get("Resources") or {}
        self.parameters: dict[str, Any] = {}
        for name, spec in (self.data.get("Parameters") or {}).items():
            self.parameters[name] = (spec or {}).get("Default")
        for name, value in (overrides or {}).items():
            if name not in self.parameters:
                raise KeyError(f"{name} is not a parameter of the template")
            self.parameters[name] = value
        self.globals = ((self.data.get("Globals") or {}).get("Function")) or {}

    # ---------------------------------------------------------------- intrinsic functions

    def resolve(self, value: Any) -> Any:
        """Resolves `Ref` to parameters and pseudo parameters and a plain `Fn::Sub`; other
        intrinsics (attributes of resources that only exist once deployed) stay as data."""
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" and isinstance(arg, str):
                if arg in self.parameters:
                    return self.parameters[arg]
                pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
                          "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "gatehouse"}
                return pseudo.get(arg, value)
            if key == "Fn::Sub" and isinstance(arg, str):
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self.resolve({"Ref": m.group(1)})), arg)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def condition(self, name: str) -> bool:
        """A template condition's value under the parameters (`Fn::Equals`, `Fn::Not`,
        `Fn::And`, `Fn::Or` and `Condition` references, as CloudFormation evaluates them)."""
        conditions = self.data.get("Conditions") or {}
        if name not in conditions:
            raise KeyError(f"{name} is not a condition of the template")
        return self._truth(conditions[name])

    def _truth(self, expr: Any) -> bool:
        if isinstance(expr, bool):
            return expr
        if isinstance(expr, dict) and len(expr) == 1:
            (key, arg), = expr.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                a, b = (self.resolve(v) for v in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(v) for v in arg)
            if key == "Fn::Or":
                return any(self._truth(v) for v in arg)
        raise ValueError(f"unsupported condition {expr!r}")

    def _of_type(self, kind: str):
        """Resources of a type that the parameters create (a resource whose `Condition` is
        false does not exist, as after `sam deploy`)."""
        for logical_id, resource in self.resources.items():
            if isinstance(resource, dict) and resource.get("Type") == kind:
                if "Condition" in resource and not self.condition(resource["Condition"]):
                    continue
                yield logical_id, resource.get("Properties") or {}, resource

    # ---------------------------------------------------------------- functions and routes

    def functions(self) -> dict[str, Function]:
        out = {}
        g = self.globals
        for logical_id, props, resource in self._of_type("AWS::Serverless::Function"):
            name = function_crate(logical_id, resource)
            env = dict((g.get("Environment") or {}).get("Variables") or {})
            env.update((props.get("Environment") or {}).get("Variables") or {})
            out[logical_id] = Function(
                logical_id=logical_id,
                name=name,
                runtime=props.get("Runtime", g.get("Runtime", "")),
                handler=props.get("Handler", g.get("Handler", "")),
                timeout=int(self.resolve(props.get("Timeout", g.get("Timeout", 3)))),
                memory=int(self.resolve(props.get("MemorySize", g.get("MemorySize", 128)))),
                inline_code=props.get("InlineCode"),
                environment=self.resolve(env),
            )
        return out

    def routes(self, api: str | None = None) -> list[Route]:
        """Every HttpApi event of every function (of `api` when given), as API Gateway routes."""
        out = []
        for logical_id, props, _ in self._of_type("AWS::Serverless::Function"):
            for event in (props.get("Events") or {}).values():
                if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                    continue
                ep = event.get("Properties") or {}
                api_ref = ep.get("ApiId")
                api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else api_ref
                if api is not None and api_id not in (api, None):
                    continue
                path, method = ep.get("Path", DEFAULT_ROUTE), str(ep.get("Method", "ANY")).upper()
                if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
                    method = "ANY"
                if path == f"/{DEFAULT_ROUTE}":
                    path = DEFAULT_ROUTE
                auth = (ep.get("Auth") or {}).get("Authorizer")
                if auth is None and api_id:
                    auth = self.default_authorizer(api_id)
                out.append(Route(method, path, logical_id, None if auth in (None, "NONE") else auth))
        return out

    # ---------------------------------------------------------------- the HTTP API

    def http_apis(self) -> list[str]:
        return [logical_id for logical_id, _, _ in self._of_type("AWS::Serverless::HttpApi")]

    def _api(self, api: str) -> dict:
        return (self.resources.get(api) or {}).get("Properties") or {}

    def stage_name(self, api: str) -> str:
        return self.resolve(self._api(api).get("StageName", DEFAULT_ROUTE))

    def stage_variables(self, api: str) -> dict[str, str]:
        return {k: str(v) for k, v in self.resolve(self._api(api).get("StageVariables") or {}).items()}

    def throttling(self, api: str) -> tuple[dict | None, dict[str, dict]]:
        """`(DefaultRouteSettings, RouteSettings by route key)`: each route's own rate and burst."""
        props = self._api(api)
        default = self.resolve(props.get("DefaultRouteSettings"))
        per_route = self.resolve(props.get("RouteSettings") or {})
        return default, per_route

    def default_authorizer(self, api: str) -> str | None:
        return (self._api(api).get("Auth") or {}).get("DefaultAuthorizer")

    def authorizers(self, api: str) -> dict[str, Authorizer]:
        out = {}
        for name, spec in ((self._api(api).get("Auth") or {}).get("Authorizers") or {}).items():
            arn = spec.get("FunctionArn")
            if not (isinstance(arn, dict) and "Fn::GetAtt" in arn):
                continue  # JWT authorizers and external functions are not run locally
            identity = spec.get("Identity") or {}
            sources = []
            for prefix, key in (("$request.header.", "Headers"), ("$request.querystring.", "QueryStrings"),
                                ("$stageVariables.", "StageVariables"), ("$context.", "Context")):
                sources += [prefix + str(v) for v in identity.get(key) or []]
            ttl = self.resolve(identity.get("ReauthorizeEvery", 0))
            out[name] = Authorizer(
                name=name,
                function=arn["Fn::GetAtt"][0],
                payload_version=str(spec.get("AuthorizerPayloadFormatVersion", "2.0")),
                simple_responses=bool(spec.get("EnableSimpleResponses", False)),
                identity_sources=tuple(sources),
                ttl_seconds=int(ttl),
            )
        return out
