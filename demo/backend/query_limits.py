"""What one GraphQL request may cost: bounded size, depth and aliases, one mutation at a time.

Without these, one request of 50,000 aliased `serverInfo` fields costs half a minute of CPU,
500 aliased `addPoints` run one after another, and 30 aliased `startSession` evict every other
user. The official client (and ours) sends one small operation per request, far inside these.
"""

from __future__ import annotations

from graphql import GraphQLError, OperationType, ValidationRule
from graphql.language import DocumentNode, FieldNode, OperationDefinitionNode
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

MAX_TOKENS = 2000  # lexical tokens in the query text (variables are counted apart, see guards.py)
MAX_DEPTH = 8  # nesting of selections (the deepest real query, `videos`, needs 5)
MAX_ALIASES = 15


class OneMutationPerRequest(ValidationRule):
    """A mutation operation selects exactly one field (no aliases or fragments to multiply it)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args):
        if node.operation != OperationType.MUTATION:
            return
        selections = node.selection_set.selections
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            self.report_error(
                GraphQLError("A request may run one mutation only; send one request per change.", node)
            )


class _NameTheOperation(ValidationRule):
    def enter_document(self, node: DocumentNode, *_args):
        self.report_error(
            GraphQLError("The document holds several operations: say which one to run in 'operationName'.", node)
        )


class OperationNameRequired(SchemaExtension):
    """Several operations and no `operationName` is an error (GraphQL spec, GetOperation).

    Strawberry would run the first one: it fills a missing name in from the first operation.
    """

    def on_validate(self):
        context = self.execution_context
        # The name the request sent; `operation_name` falls back to the first operation's.
        provided = getattr(context, "_provided_operation_name", None)
        document = context.graphql_document
        if provided is None and document is not None:
            operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            if operations > 1:
                context.validation_rules = (*context.validation_rules, _NameTheOperation)
        yield


# Factories: Strawberry builds fresh extensions for each request.
QUERY_LIMITS = [
    lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
    lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    lambda: AddValidationRules([OneMutationPerRequest]),
    OperationNameRequired,
]
