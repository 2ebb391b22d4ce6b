"""Contract checks for openapi.yaml.

The OpenAPI document must describe exactly the routes that are served: those deployed by the
SAM template (HttpApi events in template.yaml, which the local front routes by too, apart from
the example protected backend outside /api and the `$default` route), and those of the route
table of the `$default` route's function (`shared/src/routes.rs`, which must be the template's
exactly, example backend included, so its 405 `Allow` lists what API Gateway would route).
Every operation must be well formed: an operationId, a 2xx answer, an RFC 9457 problem for its
4xx answers, declared path parameters, known security schemes, and `$ref`s that resolve.

Run from the workspace root:  python3 -m unittest tests/contract/test_openapi.py
Needs only the standard library and PyYAML.
"""

import re
import sys
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from infra.local.template import DEFAULT_ROUTE, Template  # noqa: E402

OPENAPI = ROOT / "openapi.yaml"
ROUTE_TABLE = ROOT / "shared" / "src" / "routes.rs"

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_TYPE = "application/problem+json"
REQUIRED_SCHEMAS = {
    "Developer",
    "Portal",
    "PortalSettings",
    "SettingsPatch",
    "Approval",
    "Invite",
    "Team",
    "Application",
    "Credential",
    "Problem",
    "Page",
}


def load_openapi():
    with OPENAPI.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def openapi_routes(doc):
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def router_routes():
    """The `ROUTES` table of shared/src/routes.rs: `("GET", "/api/...")` pairs."""
    text = ROUTE_TABLE.read_text(encoding="utf-8")
    table = text[text.index("pub const ROUTES"):]
    table = table[: table.index("];")]
    return set(re.findall(r'\(\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*\)', table))


def template_routes():
    return {(r.method, r.path) for r in Template().routes() if r.path != DEFAULT_ROUTE}


def api_only(routes):
    return {(m, p) for m, p in routes if p == "/api" or p.startswith("/api/")}


def pointer_get(doc, ref):
    """Resolves a local JSON pointer (`#/a/b~1c`), raising KeyError when it does not."""
    if not ref.startswith("#"):
        raise KeyError(f"{ref}: only local references are used in this document")
    node = doc
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(ref)
    return node


def deref(doc, node):
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise KeyError(f"reference cycle at {ref}")
        seen.add(ref)
        node = pointer_get(doc, ref)
    return node


def all_refs(node, where="#"):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield where, v
            else:
                yield from all_refs(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from all_refs(v, f"{where}/{i}")


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, item, op


def fmt(routes):
    return "\n  ".join(f"{m} {p}" for m, p in sorted(routes, key=lambda r: (r[1], r[0])))


class OpenApiContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = load_openapi()

    def test_document_header(self):
        self.assertEqual(self.doc["openapi"], "3.1.0")
        self.assertTrue(self.doc["info"]["title"] and self.doc["info"]["version"])
        urls = [s["url"] for s in self.doc.get("servers", [])]
        self.assertIn("http://127.0.0.1:9000", urls)
        for path in self.doc["paths"]:
            self.assertTrue(path.startswith("/api/"), f"{path}: every path carries the /api prefix")

    def test_routes_match_the_route_table_of_the_default_route(self):
        spec, router = openapi_routes(self.doc), api_only(router_routes())
        self.assertTrue(router, "no routes read from shared/src/routes.rs")
        self.assertEqual(
            spec,
            router,
            f"\nin shared/src/routes.rs but not in openapi.yaml:\n  {fmt(router - spec)}"
            f"\nin openapi.yaml but not in shared/src/routes.rs:\n  {fmt(spec - router)}",
        )

    def test_the_route_table_is_the_templates_exactly(self):
        table, deployed = router_routes(), template_routes()
        self.assertNotIn("ANY", {m for m, _ in deployed}, "routes should name methods")
        self.assertEqual(
            table,
            deployed,
            f"\nin template.yaml but not in shared/src/routes.rs:\n  {fmt(deployed - table)}"
            f"\nin shared/src/routes.rs but not in template.yaml:\n  {fmt(table - deployed)}",
        )

    def test_unmatched_requests_have_a_default_route(self):
        defaults = [r for r in Template().routes() if r.path == DEFAULT_ROUTE]
        self.assertEqual(len(defaults), 1, "one $default route answers 404/405 problems")
        self.assertEqual(defaults[0].method, "ANY")
        self.assertIsNone(defaults[0].authorizer)

    def test_routes_match_the_sam_template(self):
        spec, deployed = openapi_routes(self.doc), api_only(template_routes())
        self.assertEqual(
            spec,
            deployed,
            f"\nin template.yaml but not in openapi.yaml:\n  {fmt(deployed - spec)}"
            f"\nin openapi.yaml but not deployed by template.yaml:\n  {fmt(spec - deployed)}",
        )

    def test_every_ref_resolves(self):
        broken = []
        for where, ref in all_refs(self.doc):
            try:
                pointer_get(self.doc, ref)
            except (KeyError, IndexError, ValueError):
                broken.append(f"{where}: {ref}")
        self.assertEqual(broken, [], "unresolved $ref")

    def test_required_component_schemas_exist(self):
        schemas = self.doc["components"]["schemas"]
        self.assertEqual(REQUIRED_SCHEMAS - set(schemas), set())
        problem = schemas["Problem"]
        self.assertEqual(set(problem["required"]), {"type", "title", "status", "detail"})
        self.assertIn("errors", problem["properties"])

    def test_operation_ids_are_present_and_unique(self):
        ids = []
        for path, method, _, op in operations(self.doc):
            self.assertTrue(op.get("operationId"), f"{method.upper()} {path} has no operationId")
            ids.append(op["operationId"])
        self.assertEqual(len(ids), len(set(ids)), "operationIds must be unique")

    def test_every_operation_answers_2xx_and_a_4xx_problem(self):
        for path, method, _, op in operations(self.doc):
            name = f"{method.upper()} {path}"
            with self.subTest(name):
                codes = {str(c) for c in op.get("responses", {})}
                # A redirect (the sign-in's start and callback) answers 302 where others answer 2xx.
                self.assertTrue(any(c.startswith("2") or c == "302" for c in codes), f"{name}: no 2xx response")
                self.assertTrue(any(c.startswith("4") for c in codes), f"{name}: no 4xx response")
                for code, response in op["responses"].items():
                    code = str(code)
                    resolved = deref(self.doc, response)
                    self.assertIn("description", resolved, f"{name} {code}: no description")
                    content = resolved.get("content") or {}
                    if code[0] in "45":
                        self.assertIn(PROBLEM_TYPE, content, f"{name} {code}: not {PROBLEM_TYPE}")
                        schema = content[PROBLEM_TYPE].get("schema", {})
                        self.assertEqual(schema.get("$ref"), PROBLEM_REF, f"{name} {code}: not the Problem schema")
                    elif code == "204":
                        self.assertEqual(content, {}, f"{name} 204 has a body")
                    elif code[0] == "2":
                        self.assertIn("application/json", content, f"{name} {code}: no JSON body")
                if "401" in codes:
                    headers = deref(self.doc, op["responses"]["401"]).get("headers", {})
                    self.assertIn("WWW-Authenticate", headers, f"{name} 401 without WWW-Authenticate")
                for code in ("429", "503"):
                    if code in codes:
                        headers = deref(self.doc, op["responses"][code]).get("headers", {})
                        self.assertIn("Retry-After", headers, f"{name} {code} without Retry-After")

    def test_request_bodies_refuse_unknown_fields(self):
        def closed(schema):
            schema = deref(self.doc, schema)
            for key in ("oneOf", "anyOf"):
                if key in schema:
                    return all(closed(s) for s in schema[key])
            return schema.get("additionalProperties") is False

        for path, method, _, op in operations(self.doc):
            body = op.get("requestBody")
            if not body:
                continue
            name = f"{method.upper()} {path}"
            with self.subTest(name):
                content = deref(self.doc, body)["content"]
                self.assertIn("application/json", content)
                schema = content["application/json"]["schema"]
                self.assertTrue(closed(schema), f"{name}: request body allows unknown fields")
                codes = {str(c) for c in op["responses"]}
                for code in ("400", "413", "415"):
                    self.assertIn(code, codes, f"{name}: a JSON body can be answered {code}")

    def test_path_parameters_are_declared(self):
        for path, method, item, op in operations(self.doc):
            name = f"{method.upper()} {path}"
            with self.subTest(name):
                declared = {}
                for p in list(item.get("parameters", [])) + list(op.get("parameters", [])):
                    p = deref(self.doc, p)
                    if p["in"] == "path":
                        self.assertTrue(p.get("required"), f"{name}: path parameter {p['name']} not required")
                        declared[p["name"]] = deref(self.doc, p["schema"])
                self.assertEqual(set(re.findall(r"{([^}]+)}", path)), set(declared), name)
                for pname, schema in declared.items():
                    if pname.endswith("_id"):
                        self.assertEqual(schema.get("format"), "uuid", f"{name}: {pname} is a UUID")
                    else:
                        self.assertEqual(schema.get("type"), "string", f"{name}: {pname}")
                        self.assertNotEqual(schema.get("format"), "uuid", f"{name}: {pname}")

    def test_security_is_explicit_and_known(self):
        schemes = self.doc["components"]["securitySchemes"]
        for scheme in ("adminToken", "sessionToken"):
            self.assertEqual(schemes[scheme]["type"], "http")
            self.assertEqual(schemes[scheme]["scheme"], "bearer")
        for path, method, _, op in operations(self.doc):
            name = f"{method.upper()} {path}"
            with self.subTest(name):
                self.assertIn("security", op, f"{name}: say explicitly who may call it ([] for public)")
                used = {s for requirement in op["security"] for s in requirement}
                self.assertLessEqual(used, set(schemes), name)
                codes = {str(c) for c in op["responses"]}
                if used:
                    self.assertIn("401", codes, f"{name}: an authenticated route can answer 401")


if __name__ == "__main__":
    unittest.main()
