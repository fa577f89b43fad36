"""`demo/schema.graphql` is the API's contract: it matches the schema the server builds, and the
Python client's operations (the very texts and variables it sends) are valid against it.

The web UI's operations are checked against the same file by
`demo/frontend/src/api/schemaContract.test.ts`.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json

import pytest
from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    Visitor,
    build_ast_schema,
    build_schema,
    lexicographic_sort_schema,
    parse,
    print_schema,
    validate,
    visit,
)
from graphql.execution.values import get_variable_values

from demo.backend.schema_sdl import SDL_PATH, schema_sdl
from demo.testing.client import DemoClient


class _WithoutDescriptions(Visitor):
    def enter(self, node, *_):
        if getattr(node, "description", None) is None:
            return None
        if dataclasses.is_dataclass(node):  # graphql-core 3.3: frozen nodes
            return dataclasses.replace(node, description=None)
        bare = copy.copy(node)
        bare.description = None
        return bare


def _canonical(sdl: str) -> str:
    """The schema as graphql-core prints it, types sorted and descriptions dropped: layout, order
    and wording (a Strawberry release may reword its built-in types) do not count; types,
    fields, arguments and their types do."""
    document = visit(parse(sdl), _WithoutDescriptions())
    return print_schema(lexicographic_sort_schema(build_ast_schema(document)))


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    return build_schema(SDL_PATH.read_text())


def test_committed_schema_matches_the_live_schema():
    committed, live = _canonical(SDL_PATH.read_text()), _canonical(schema_sdl())
    if committed != live:
        diff = "\n".join(
            difflib.unified_diff(
                committed.splitlines(), live.splitlines(), "demo/schema.graphql", "live schema", lineterm=""
            )
        )
        pytest.fail(f"demo/schema.graphql is stale: run `make schema` and commit it.\n{diff[:4000]}")


def operation_problems(schema: GraphQLSchema, query: str, variables: dict) -> list[str]:
    """Why `query` with `variables` would be refused before any resolver runs ([] when valid)."""
    try:
        document = parse(query)
    except Exception as exc:  # graphql.GraphQLSyntaxError; any other error is a problem just the same
        return [f"syntax: {exc}"]
    problems = [error.message for error in validate(schema, document)]
    if problems:
        return problems
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    return [error.message for error in coerced] if isinstance(coerced, list) else []


class _Sent(Exception):
    """Raised by the recording transport: the request was captured, nothing goes out."""


class RecordingHttp:
    """Stands in for the client's `requests.Session`: records each GraphQL request it is given."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.operations: list[tuple[str, dict]] = []

    def post(self, url: str, **kwargs):
        if not url.endswith("/graphql"):
            raise AssertionError(f"not a GraphQL request: {url}")
        if "data" in kwargs:  # the multipart request spec: operations + map + files
            body = json.loads(kwargs["data"]["operations"])
            for paths in json.loads(kwargs["data"]["map"]).values():
                for path in paths:  # the server puts the uploaded file where the map points
                    *parents, leaf = path.split(".")
                    target = body
                    for key in parents:
                        target = target[key]
                    target[leaf] = f"<file {path}>"
        else:
            body = kwargs["json"]
        self.operations.append((body["query"], body.get("variables") or {}))
        raise _Sent


# Every public DemoClient method that sends a GraphQL operation of its own, called with sample
# arguments. `graphql`/`graphql_raw` send the caller's text; `propagate` is not GraphQL.
CLIENT_CALLS = {
    "start_session": lambda c: c.start_session("gallery/clip.mp4"),
    "close_session": lambda c: c.close_session("s1"),
    "add_points": lambda c: c.add_points("s1", 3, 1, [[0.5, 0.25]], [1]),
    "cancel": lambda c: c.cancel("s1"),
    "upload": lambda c: c.upload(b"\0" * 16, start=1.0, duration=2.5),
    "upload_raw": lambda c: c.upload_raw(b"\0" * 16),
}
NOT_OPERATIONS = {"graphql", "graphql_raw", "propagate", "session_masks", "use_route_key"}  # HTTP, headers


def test_every_client_operation_is_checked():
    public = {name for name in vars(DemoClient) if not name.startswith("_") and callable(getattr(DemoClient, name))}
    unlisted = public - set(CLIENT_CALLS) - NOT_OPERATIONS
    assert not unlisted, f"add these DemoClient methods to CLIENT_CALLS (or NOT_OPERATIONS): {sorted(unlisted)}"


@pytest.mark.parametrize("method", sorted(CLIENT_CALLS))
def test_client_operation_is_valid_against_the_schema(contract, method):
    client = DemoClient("http://client.invalid")
    client.http = RecordingHttp()
    with pytest.raises(_Sent):
        CLIENT_CALLS[method](client)
    ((query, variables),) = client.http.operations
    problems = operation_problems(contract, query, variables)
    assert not problems, f"DemoClient.{method} sends what demo/schema.graphql refuses: {problems}\n{query}"


def test_a_wrong_operation_is_caught(contract):
    """The check itself can fail: unknown fields, bad variables and syntax are reported."""
    assert operation_problems(contract, "{ defaultVideo { noSuchField } }", {})
    assert operation_problems(
        contract,
        "mutation($input: StartSessionInput!) { startSession(input: $input) { sessionId } }",
        {"input": {"pathh": "x"}},
    )
    assert operation_problems(contract, "mutation { startSession(", {})
