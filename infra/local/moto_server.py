#!/usr/bin/env python3
"""moto server with DynamoDB transactions made atomic, as DynamoDB's are.

moto 5 applies the items of a TransactWriteItems one by one and, when a condition fails,
rolls the table back by restoring a copy. Meanwhile a concurrent GetRecords (our stream pump)
can read the stream records of writes that are then rolled back: phantom inserts, whose
sequence numbers are reused afterwards. Real DynamoDB never shows a cancelled transaction on
the stream. This wrapper evaluates every condition first, under one lock shared with the
single-item writes, and cancels with the same reasons before anything is written; only a
transaction whose conditions all hold is applied (without moto's whole-table copy, which
grows with the table's history). Three pure caches spare moto per-request work whose answer
never changes (_memoised_dispatch), and a Query reads only what it can match instead of
sorting the whole table first (_queries_without_a_table_sort), and the mailbox reads only
SES's models (_model_data_of_one_service), and GetRecords and DynamoDB's item operations answer
with json.dumps (_stream_records_as_json, _dynamodb_results_as_json), and an UpdateExpression is
parsed once per string (_update_expressions_parsed_once), and an item's size is checked once
as a whole (_items_sized_once), and werkzeug writes no access log (_no_access_log). Everything
else is stock moto.

    python infra/local/moto_server.py -H 127.0.0.1 -p 4566
"""

from __future__ import annotations

import threading

from moto import server
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend

_LOCK = threading.RLock()


def _key_of(self, op_type, op):
    """The primary key a transaction item addresses (a Put names it inside its item)."""
    if op_type != "Put":
        return op["Key"]
    table = self.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _conditions_first(original):
    def transact_write_items(self, transact_items):
        with _LOCK:
            errors = []
            for item in transact_items:
                if len(item) != 1:
                    return original(self, transact_items)  # let moto raise its own error
                op_type, op = next(iter(item.items()))
                condition = op.get("ConditionExpression")
                if condition is None:
                    errors.append((None, None, None))
                    continue
                try:
                    key = _key_of(self, op_type, op)
                    current = self.get_item(op["TableName"], key)
                    check = get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    )
                except Exception:  # malformed request: moto's own path reports it
                    return original(self, transact_items)
                if check.expr(current):
                    errors.append((None, None, None))
                else:
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
            if any(code is not None for code, _, _ in errors):
                raise TransactionCanceledException(errors)
            return _apply(self, transact_items, original)

    return transact_write_items


def _apply(self, transact_items, original):
    """Applies a transaction whose conditions hold. moto's own path deep-copies every table
    it touches (stream included) to be able to roll back, which grows with the table's whole
    history; with the conditions checked under the lock there is nothing to roll back."""
    seen = set()
    ops = []
    for item in transact_items:
        op_type, op = next(iter(item.items()))
        key = _key_of(self, op_type, op)
        ident = (op["TableName"], str(sorted((k, str(v)) for k, v in key.items())))
        if ident in seen or op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            return original(self, transact_items)  # moto reports the validation error
        seen.add(ident)
        ops.append((op_type, op, key))
    for op_type, op, key in ops:
        names = op.get("ExpressionAttributeNames")
        values = op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(op["TableName"], op["Item"])
        elif op_type == "Delete":
            self.delete_item(op["TableName"], key)
        elif op_type == "Update":
            self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                             expression_attribute_names=names, expression_attribute_values=values)


def _locked(original):
    def wrapper(self, *args, **kwargs):
        with _LOCK:
            return original(self, *args, **kwargs)

    return wrapper


def _memoised_dispatch():
    """Per-request work of moto's dispatch whose answer never changes while the server runs,
    computed once (measured: about 10% less of moto's CPU per GetItem or conditional PutItem):
    the list of moto's service packages (a listdir and an isdir per package, to match the
    request's host), a handler class's method names (inspect.getmembers, to find the action)
    and the request id (52 `random.choice` calls; now from os.urandom, same alphabet and
    length). Answers are unchanged."""
    import base64
    import os

    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    names: dict[type, frozenset[str]] = {}
    original_names = responses.method_names_from_class

    def method_names_from_class(clazz):
        found = names.get(clazz)
        if found is None:
            found = names[clazz] = frozenset(original_names(clazz))
        return found

    responses.method_names_from_class = method_names_from_class

    def gen_amzn_requestid_long(headerdict=None):
        req_id = base64.b32encode(os.urandom(35)).decode()[:52]
        if isinstance(headerdict, dict):
            headerdict.update({"x-amzn-requestid": req_id})
        return req_id

    responses.gen_amzn_requestid_long = gen_amzn_requestid_long


def _queries_without_a_table_sort():
    """moto's Query starts from `Table.all_items()`: every item of the table, sorted by key,
    for every Query, so a Query costs O(n log n) in the table's size (measured on the local
    stack: after 1,000 registrations, nearly all of moto's CPU). Inside a Query, all_items now
    answers only what that Query can match:

    - on the table: the items of the queried partition, sorted as before (the partition's
      dict, as GetItem reads it);
    - on an index: every item, unsorted, since moto sorts an index's matches itself by the
      full key (index hash and range, then the table's hash and range: a total order), so the
      order it started from never shows.

    Queries hold the writers' lock, so a write never changes the dict being read. Answers are
    unchanged; test_moto_server.py checks them against an independent sort."""
    import inspect

    from moto.dynamodb.models.table import Table

    scope = threading.local()
    all_items = Table.all_items
    query = Table.query
    signature = inspect.signature(query)

    def scoped_all_items(self):
        within = getattr(scope, "query", None)
        if within is None or within[0] is not self:
            return all_items(self)
        _, index_name, hash_key = within
        # A partition is a dict of its items by range key, or the item itself without one.
        partitions = self.items.values() if index_name else [p for p in [self.items.get(hash_key)] if p is not None]
        items = [item for p in partitions for item in (p.values() if self.range_key_attr else [p])]
        if index_name:
            return items
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def scoped_query(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        with _LOCK:
            outer = getattr(scope, "query", None)
            scope.query = (self, bound.arguments.get("index_name"), bound.arguments.get("hash_key"))
            try:
                return query(self, *args, **kwargs)
            finally:
                scope.query = outer

    Table.all_items = scoped_all_items
    Table.query = scoped_query


def _model_data_of_one_service():
    """`GET /moto-api/data.json?service=ses` answers only that service's models. moto's
    data.json walks every tracked model instance of every service (each DynamoDB item among
    them, `dir()` and a json.dumps per attribute), so the mailbox's read of the sent mail
    (infra/local/sidecar.py) grew with the table: measured, about 40% of moto's CPU during
    section 8 of the benchmark. Without `service` the answer is stock moto's."""
    import json
    from urllib.parse import parse_qs, urlparse

    from moto.moto_api._internal.responses import MotoAPIResponse

    original = MotoAPIResponse.model_data

    def model_data(self, request, full_url, headers):
        wanted = set(parse_qs(urlparse(full_url).query).get("service", []))
        if not wanted:
            return original(self, request, full_url, headers)
        from moto.core.model_instances import model_data as tracked

        results = {}
        for service in sorted(wanted & set(tracked)):
            results[service] = {}
            for name in sorted(tracked[service]):
                instances = []
                for instance in list(tracked[service][name].instances_tracked):
                    fields = {}
                    for attr in dir(instance):
                        if not attr.startswith("_"):
                            try:
                                json.dumps(getattr(instance, attr))
                            except (TypeError, AttributeError, ValueError):
                                pass
                            else:
                                fields[attr] = getattr(instance, attr)
                    instances.append(fields)
                results[service][name] = instances
        return 200, {"Content-Type": "application/javascript"}, json.dumps(results)

    MotoAPIResponse.model_data = model_data


def _stream_records_as_json():
    """GetRecords answers its records with json.dumps instead of moto's shape serialiser.
    moto keeps a stream record in the wire's own shape already (AttributeValue maps), and the
    serialiser walked every attribute of every image through botocore's model: most of moto's
    CPU under load was there (the stream pump reads every write twice, new and old image).
    The two conversions the serialiser makes are made here: datetimes as epoch seconds
    truncated to milliseconds, bytes as base64. test_moto_server.py checks the answer equals stock moto's."""
    import base64
    import datetime
    import json

    from moto.core.responses import ActionResult
    from moto.core.serialize import TimestampSerializer
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    get_records = DynamoDBStreamsHandler.get_records
    unix = TimestampSerializer.TIMESTAMP_FORMAT_UNIX
    timestamps = TimestampSerializer(unix)

    def wire(value):
        if isinstance(value, datetime.datetime):  # moto's serialiser's own conversion
            return timestamps._convert_timestamp_to_str(value, unix)
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode()
        raise TypeError(f"{type(value).__name__} in a stream record")

    def fast_get_records(self):
        answer = get_records(self)
        if not isinstance(answer, ActionResult) or not isinstance(answer.result, dict):
            return answer
        try:
            body = json.dumps(answer.result, default=wire)
        except TypeError:
            return answer  # something this does not know: moto's serialiser
        return body, {"Content-Type": "application/x-amz-json-1.0", "status": 200}

    DynamoDBStreamsHandler.get_records = fast_get_records


_DYNAMODB_ITEM_OPERATIONS = (
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactGetItems", "TransactWriteItems",
)


def _dynamodb_results_as_json():
    """DynamoDB's item operations answer a successful result with json.dumps instead of moto's
    shape serialiser, which walked every attribute through botocore's model with an alias
    lookup, a context object and a path per value (a sixth of moto's CPU per GetItem; measured
    in-process: 347 us -> 10 us for a GetItem's item of five attributes, 6.5 ms -> 0.13 ms for a
    Query of 20; on the server, GetItem 1.82 -> 1.43 ms of CPU a call).
    A result (a DynamoResult's dynamo_to_dict, or BatchWriteItem's and TransactWriteItems'
    plain dicts) is nearly the wire's JSON already; what the serialiser changes, done here with
    a converter built once per operation from the same output shape:

    - a structure keeps only the members its shape names, in the shape's order: anything else
      is dropped (DeleteItem's `ConsumedCapacityUnits`), and so is a member whose value is None;
    - a member's value is looked up under the keys moto's value picker would try, in its order
      (for `SS` it tries `StringSetAttributeValue` first, then `string_set_attribute_value`,
      then `SS`, `ss`), computed once from the picker itself;
    - integers through int(), doubles through float() (BatchGetItem's `CapacityUnits: 1` is
      1.0 on the wire), blobs (B, BS) as base64 (a str's UTF-8 bytes, as the serialiser does);
    - strings and booleans as they are (N stays a string), empty lists and maps kept; a None
      in a list stays null, in a map of structures the key is dropped.

    Anything else falls back to moto's serialiser for that answer: a value that is not a plain
    dict or list where the shape wants one, a shape type the converter does not know, any
    exception, a response transformer registered on the handler, a protocol other than JSON.
    Other operations go through moto's serialiser as before, and so would an error (moto's
    DynamoDB errors are HTTPExceptions that call_action answers without `serialized` at all).
    The body is returned to call_action as before, so amz_crc32 computes
    x-amz-crc32 over the same text. The body is the same text as moto's (same key order), not
    only the same JSON; test_moto_server.py checks both answers for every operation."""
    import base64
    import json

    from moto import settings
    from moto.core import serialize
    from moto.core.responses import ActionResult, BaseResponse
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    json_serializer = serialize.get_serializer_class("dynamodb", "json")
    base, root = serialize.BaseJSONSerializer, serialize.ResponseSerializer
    methods = {  # the serialiser's method per shape type, as this converter mirrors them
        "structure": base._serialize_type_structure, "map": base._serialize_type_map,
        "list": base._serialize_type_list, "blob": root._serialize_type_blob,
        "integer": root._serialize_type_integer, "long": root._serialize_type_long,
        "float": root._serialize_type_float, "double": root._serialize_type_double,
        "string": None, "boolean": None,  # moto's _default_serialize: the value as it is
    }
    if json_serializer is not serialize.JSONSerializer or vars(json_serializer).keys() - {"__module__", "__doc__"}:
        return  # not the serialiser this mirrors: stock moto
    if any(getattr(json_serializer, f"_serialize_type_{t}", None) is not m for t, m in methods.items()):
        return

    service_model = get_service_model("dynamodb")
    picker = serialize.XFormedAttributePicker()
    skip = object()  # "nothing written": a None where the shape wants a structure

    class Unknown(Exception):
        pass

    def blob(value):  # ResponseSerializer._base64
        if isinstance(value, str):
            value = value.encode("utf-8")
        return base64.b64encode(value).strip().decode("utf-8")

    scalars = {"string": None, "boolean": None, "integer": int, "long": int, "float": float, "double": float,
               "blob": blob}
    built: dict[str, object] = {}

    def converter(shape):
        """The function turning a value of `shape` into what the serialiser writes for it
        (None for "the value itself"); raises Unknown when a shape needs what this does not do."""
        if shape.serialization.get("name") or getattr(shape, "is_document_type", False):
            raise Unknown(shape.name)  # a renamed member or a document: not mirrored
        if shape.type_name in scalars:
            return scalars[shape.type_name]
        if shape.name in built:  # recursive shapes (AttributeValue's M and L)
            return built[shape.name]
        if shape.type_name == "structure":
            members = []
            conv = built[shape.name] = structure(shape, members)
            counts: dict[str, int] = {}
            for key, member in shape.members.items():
                member.parent = shape  # as the serialiser sets it before the picker looks
                context = serialize.AttributePickerContext(obj={}, key=key, shape=member, operation_model=None,
                                                           service_model=service_model)
                keys = list(dict.fromkeys(picker.get_possible_keys(context)))
                if any("." in k for k in keys):
                    raise Unknown(key)  # get_value would walk a path
                for k in keys:
                    counts[k] = counts.get(k, 0) + 1
                members.append((key, keys, converter(member)))
            # A dict whose keys are all member names no other member's picker tries answers
            # each member by its own name: the picker's first present key is the name itself.
            conv.direct = frozenset(key for key, keys, _ in members if key in keys and counts[key] == 1)
            return conv
        if shape.type_name == "list":
            return listing(shape)
        if shape.type_name == "map":
            return mapping(shape)
        raise Unknown(shape.type_name)

    def structure(shape, members):
        def conv(value):
            if value is None:
                return skip
            if type(value) is not dict:
                raise Unknown(shape.name)  # the picker would read an object's attributes
            out = {}
            if value.keys() <= conv.direct:
                for key, _, c in members:
                    if key in value:
                        v = value[key]
                        if v is not None:
                            out[key] = v if c is None else c(v)
                return out
            for key, keys, c in members:
                for k in keys:
                    if k in value:
                        v = value[k]
                        break
                else:
                    continue
                if v is not None:
                    out[key] = v if c is None else c(v)
            return out

        return conv

    def listing(shape):
        member = shape.member
        if member.serialization.get("name"):
            raise Unknown(shape.name)
        holder = []

        def conv(value):
            if type(value) is not list:
                raise Unknown(shape.name)
            c = holder[0]
            if c is None:
                return list(value)
            out = []
            for item in value:
                r = c(item)
                out.append(item if r is skip else r)
            return out

        built[shape.name] = conv
        holder.append(converter(member))
        return conv

    def mapping(shape):
        holder = []

        def conv(value):
            if type(value) is not dict:
                raise Unknown(shape.name)
            c = holder[0]
            if c is None:
                return dict(value)
            out = {}
            for k, v in value.items():
                r = c(v)
                if r is not skip:
                    out[k] = r
            return out

        built[shape.name] = conv
        holder.append(converter(shape.value))
        return conv

    answers = {}
    for operation in _DYNAMODB_ITEM_OPERATIONS:
        model = service_model.operation_model(operation)
        if model.output_shape is None:
            continue
        try:
            conv = converter(model.output_shape)
        except Unknown:
            continue  # moto's serialiser for this operation
        content_type = json_serializer(operation_model=model)._get_protocol_specific_content_type()
        status = model.http.get("responseCode", json_serializer.DEFAULT_RESPONSE_CODE)
        answers[operation] = (conv, status, content_type)

    serialized = DynamoHandler.serialized
    plain = (ActionResult, DynamoResult)  # not PaginatedResult or EmptyResult: their own execute_result

    def fast_serialized(self, action_result):
        answer = answers.get(self._get_action())
        if (answer is None or type(action_result) not in plain or isinstance(action_result.result, Exception)
                or getattr(self, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)
                or self.determine_response_protocol(get_service_model(self.boto3_service_name)) != "json"):
            return serialized(self, action_result)
        conv, status, content_type = answer
        try:
            result = conv(action_result.result)
            body = json.dumps({} if result is skip else result, indent=4 if settings.PRETTIFY_RESPONSES else None)
        except Exception:  # something this does not know: moto's serialiser
            return serialized(self, action_result)
        headers = {"Content-Type": content_type}
        headers.update(self.response_headers)
        return status, headers, body

    if serialized is BaseResponse.serialized:  # the method this stands in for
        DynamoHandler.serialized = fast_serialized


def _update_expressions_parsed_once():
    """An UpdateExpression string is parsed once; every later parse of the same string gets
    its own copy of that first tree (pickle.loads of it: about 16 us instead of 106 us for
    `ADD #n :one SET #t = if_not_exists(#t, :ttl)`, and each UpdateItem parses its expression
    twice, in the handler and in the backend; measured on the server, 2.41 -> 2.16 ms of CPU
    per UpdateItem). Our service sends the same few expressions over
    and over (the rate-limit counters). A copy, not the tree itself: moto's validator replaces
    nodes in place (placeholders by their values, functions by their results); in moto 5.2.1 it
    does so on its own deepcopy of the tree, but nothing here relies on that. A parse tree holds
    only nodes, lists, strings, ints and None, so the copy is the tree a fresh parse makes,
    sharing and parents included. An expression that fails to parse is not kept (it raises
    again, the same way); at most 1024 expressions are kept."""
    import pickle

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.make.__func__
    parsed: dict[str, bytes] = {}

    def make_once(cls, expression_str):
        if cls is not UpdateExpressionParser or type(expression_str) is not str:
            return make(cls, expression_str)
        tree = parsed.get(expression_str)
        if tree is not None:
            return pickle.loads(tree)
        ast = make(cls, expression_str)
        if len(parsed) < 1024:
            parsed[expression_str] = pickle.dumps(ast, pickle.HIGHEST_PROTOCOL)
        return ast

    make_once.__wrapped__ = make
    UpdateExpressionParser.make = classmethod(make_once)


def _items_sized_once():
    """An item's attributes are checked against DynamoDB's size limit once, as a whole, instead
    of once per attribute: moto's `LimitedSizeDict.__setitem__` sums the size of every attribute
    already set each time one is added, so building an item of n attributes costs n^2/2 size
    computations (measured: 9% of moto's CPU in the stream consumer's benchmark, whose developer
    and event items have 20-30 attributes). The running sum only grows, so "some prefix is over
    the limit" is "the whole is over": the same items are refused with the same error, and an
    accepted item holds the same attributes in the same order. A single attribute set later (an
    update) still goes through moto's check."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def __init__(self, hash_key, range_key, attrs):
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > 405000:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, values)  # dict's own update: no per-attribute check

    __init__.__wrapped__ = Item.__init__
    Item.__init__ = __init__


def _no_access_log():
    """werkzeug writes one access-log line per request to moto's log (4% of moto's CPU under the
    stream consumer's benchmark); errors are still logged. GATEHOUSE_MOTO_ACCESS_LOG=1 keeps it."""
    import os

    if os.environ.get("GATEHOUSE_MOTO_ACCESS_LOG") == "1":
        return
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.log_request = lambda self, code="-", size="-": None


_memoised_dispatch()
_items_sized_once()
_no_access_log()
_queries_without_a_table_sort()
_model_data_of_one_service()
_stream_records_as_json()
_dynamodb_results_as_json()
_update_expressions_parsed_once()
DynamoDBBackend.transact_write_items = _conditions_first(DynamoDBBackend.transact_write_items)
for _name in ("put_item", "update_item", "delete_item"):
    setattr(DynamoDBBackend, _name, _locked(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    server.main()
