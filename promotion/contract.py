"""The contract gate: does the candidate's API still serve every client of the API the
target serves? Pure: two OpenAPI 3 documents in, a list of changes in plain words out.

`compare(old, new)` lists every change, each `breaking` (an old client may fail) or
`compatible` (listed, passes). `gate(old, new, ...)` reads both documents (refusing, and
saying which one, when it cannot), compares them and says whether the promotion may go on.

How each change counts is decided by who writes the value:
- in a request (the client writes it), a change that accepts less is breaking: a new
  required parameter, field or body; an optional one made required; a type, enum, length,
  range, pattern or format narrowed. A request field or query parameter that the candidate
  no longer declares is breaking too: this API's function refuses unknown body fields and
  unknown query parameters with 400, so an old client that still sends one is refused. A
  header parameter that is no longer declared is compatible (headers are not refused).
- in a response (the server writes it), a change that may send what an old client does
  not expect is breaking: a removed status, header or field; a field that may now be
  absent; a type, enum or constraint widened. A response enum that gains a value is
  breaking: generated clients map an enum to a closed type and fail on a value they do
  not know. Narrowing a response (fewer enum values, a tighter maxLength) is compatible.
- operations are matched by method and path shape: `/users/{id}` and `/users/{userId}`
  are the same path (path parameters are matched by position; a rename is listed).
- a change neither wider nor narrower (a type changed to another, a pattern replaced) is
  breaking on both sides; so is a change to a keyword the gate cannot reason about
  (allOf, anyOf, oneOf, not, additionalProperties).

`$ref`s are resolved within the document (`#/components/...`) and in API Gateway's own
model form (`https://apigateway.amazonaws.com/restapis/{id}/models/{name}`, which its
stored models use), so an exported document compares like the one that was imported.
Compare like with like: both documents from the same source (two stage exports, or two
local-cloud snapshots), never an export against openapi.json.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

BREAKING = "breaking"
COMPATIBLE = "compatible"

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ANY_METHOD = "x-amazon-apigateway-any-method"  # API Gateway's ANY
_PATH_PARAMETER = re.compile(r"\{[^}/]+\}")
_MODEL_REF = re.compile(r"^https://apigateway\.amazonaws\.com/restapis/[^/]+/models/([^/]+)$")
_JSON = "application/json"
# Keywords whose changes the gate does not reason about: any change to them is breaking.
_OPAQUE = ("allOf", "anyOf", "oneOf", "not", "additionalProperties")
# Constraints that accept less when added or raised (minima) or lowered (maxima).
_MINIMA = ("minLength", "minimum", "minItems", "minProperties")
_MAXIMA = ("maxLength", "maximum", "maxItems", "maxProperties")

_REFUSED_VALUE = "a value an old client may send is refused"
_UNEXPECTED_VALUE = "an old client may get a value it does not expect"


@dataclass(frozen=True)
class Change:
    kind: str   # BREAKING or COMPATIBLE
    where: str  # e.g. "POST /users request body field 'name'"
    text: str   # e.g. "maxLength lowered from 100 to 50; a value an old client may send is refused"

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean",
               type(None): "null"}


class UnreadableDocument(Exception):
    """One of the two documents cannot be read; `label` says which."""

    def __init__(self, label: str, reason: str):
        super().__init__(f"cannot read the OpenAPI document of {label}: {reason}")
        self.label = label
        self.reason = reason


# --- reading -------------------------------------------------------------------------

def read_document(raw, label: str) -> dict:
    """The document as a dict, from a dict, JSON text or JSON bytes (what GetExport with
    exportType oas30 and Accept application/json returns); UnreadableDocument otherwise."""
    if raw is None:
        raise UnreadableDocument(label, "there is none (nothing was found to compare)")
    document = raw
    if isinstance(raw, (bytes, bytearray)):
        try:
            document = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableDocument(label, "it is not UTF-8 text") from None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as err:
            raise UnreadableDocument(label, f"it is not valid JSON ({err})") from None
    if not isinstance(document, dict):
        raise UnreadableDocument(label, f"it is a JSON {_JSON_TYPES.get(type(document), 'value')}"
                                        ", not an OpenAPI document (an object)")
    version = document.get("openapi")
    if not (isinstance(version, str) and version.startswith("3.")):
        found = (f"openapi {version!r}" if "openapi" in document else
                 f"swagger {document['swagger']!r}" if "swagger" in document else
                 "no openapi version")
        raise UnreadableDocument(label, f"it is not an OpenAPI 3 document ({found}); export it "
                                        "as OpenAPI 3 (GetExport exportType oas30)")
    paths = document.get("paths")
    if not isinstance(paths, dict):
        raise UnreadableDocument(label, "it has no paths object")
    for path, item in paths.items():
        if not isinstance(item, dict):
            raise UnreadableDocument(label, f"paths.{path} is not an object")
        for key in (*METHODS, ANY_METHOD):
            if key in item and not isinstance(item[key], dict):
                raise UnreadableDocument(label, f"paths.{path}.{key} is not an object")
    refs = _Refs(document, label)
    for ref in _all_refs(document):
        refs.target(ref)
    return document


def _all_refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _all_refs(value)


class _Refs:
    """Resolves the `$ref`s of one document."""

    def __init__(self, document: dict, label: str):
        self.document = document
        self.label = label

    def target(self, ref: str):
        model = _MODEL_REF.match(ref)
        pointer = f"#/components/schemas/{model.group(1)}" if model else ref
        if not pointer.startswith("#/"):
            raise UnreadableDocument(self.label, f"$ref {ref!r} points outside the document")
        node = self.document
        for part in pointer[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise UnreadableDocument(self.label, f"$ref {ref!r} names nothing in the document")
            node = node[part]
        return node

    def resolve(self, node):
        """The node a chain of `$ref`s ends at (a cycle of bare refs is unreadable)."""
        seen = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            if node["$ref"] in seen:
                raise UnreadableDocument(self.label, f"$ref {node['$ref']!r} refers to itself")
            seen.add(node["$ref"])
            node = self.target(node["$ref"])
        return node if isinstance(node, dict) else {}


# --- operations ----------------------------------------------------------------------

def _shape(path: str) -> str:
    return _PATH_PARAMETER.sub("{}", path)


def _method(key: str) -> str:
    return "ANY" if key == ANY_METHOD else key.upper()


def _operations(document: dict) -> dict[tuple[str, str], tuple[str, dict, dict]]:
    """(METHOD, path shape) -> (path as written, path item, operation)."""
    found = {}
    for path, item in document["paths"].items():
        for key in (*METHODS, ANY_METHOD):
            if key in item:
                found[(_method(key), _shape(path))] = (path, item, item[key])
    return found


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class _Comparison:
    def __init__(self, old: dict, new: dict, old_label: str, new_label: str):
        self.old = _Refs(old, old_label)
        self.new = _Refs(new, new_label)
        self.changes: list[Change] = []

    def add(self, kind: str, where: str, text: str) -> None:
        self.changes.append(Change(kind, where, text))

    def run(self) -> list[Change]:
        old_ops = _operations(self.old.document)
        new_ops = _operations(self.new.document)
        old_shapes = {shape for _, shape in old_ops}
        new_shapes = {shape for _, shape in new_ops}
        for key in sorted(old_ops.keys() | new_ops.keys(), key=lambda k: (k[1], k[0])):
            method, shape = key
            if key not in new_ops:
                if shape not in new_shapes:
                    continue  # said once for the whole path below
                self.add(BREAKING, f"{method} {old_ops[key][0]}",
                         "removed; an old client that calls it is refused")
            elif key not in old_ops:
                if shape in old_shapes:
                    self.add(COMPATIBLE, f"{method} {new_ops[key][0]}", "new operation")
            else:
                self.operation(method, old_ops[key], new_ops[key])
        for shape in sorted(old_shapes - new_shapes):
            path = next(p for (m, s), (p, _, _) in old_ops.items() if s == shape)
            methods = sorted(m for m, s in old_ops if s == shape)
            self.add(BREAKING, path, f"path removed, with {_listing(methods)}; an old client "
                                     "that calls it is refused")
        for shape in sorted(new_shapes - old_shapes):
            path = next(p for (m, s), (p, _, _) in new_ops.items() if s == shape)
            methods = sorted(m for m, s in new_ops if s == shape)
            self.add(COMPATIBLE, path, f"new path, with {_listing(methods)}")
        return self.changes

    def operation(self, method: str, old, new) -> None:
        old_path, old_item, old_op = old
        new_path, new_item, new_op = new
        where = f"{method} {new_path}"
        self.security(where, old_op, new_op)
        self.parameters(where, old_path, new_path, self._parameters(self.old, old_item, old_op),
                        self._parameters(self.new, new_item, new_op))
        self.request_body(where, old_op.get("requestBody"), new_op.get("requestBody"))
        self.responses(where, old_op.get("responses") or {}, new_op.get("responses") or {})

    # --- security --------------------------------------------------------------------

    def security(self, where: str, old_op: dict, new_op: dict) -> None:
        def schemes(refs: _Refs, op: dict) -> list[str]:
            requirements = op.get("security", refs.document.get("security")) or []
            # An empty requirement ({}) makes authorization optional.
            if any(not requirement for requirement in requirements):
                return []
            return sorted({name for requirement in requirements for name in requirement})
        old, new = schemes(self.old, old_op), schemes(self.new, new_op)
        if old == new:
            return
        if not new:
            self.add(COMPATIBLE, where, f"no longer requires authorization (was {_listing(old)})")
        elif not old:
            self.add(BREAKING, where, f"now requires authorization ({_listing(new)}); an old "
                                      "client that does not sign is refused")
        else:
            self.add(BREAKING, where, f"authorization changed from {_listing(old)} to "
                                      f"{_listing(new)}; an old client is refused")

    # --- parameters ------------------------------------------------------------------

    @staticmethod
    def _parameters(refs: _Refs, item: dict, op: dict) -> dict[tuple[str, str], dict]:
        # Path-item parameters apply to every operation; the operation's own override them.
        found = {}
        for param in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
            param = refs.resolve(param)
            place, name = param.get("in"), str(param.get("name"))
            found[(place, name.lower() if place == "header" else name)] = param
        return found

    def parameters(self, where: str, old_path: str, new_path: str, old: dict, new: dict) -> None:
        # Path parameters are matched by their place in the path, whatever their names.
        old_names = [n[1:-1] for n in _PATH_PARAMETER.findall(old_path)]
        new_names = [n[1:-1] for n in _PATH_PARAMETER.findall(new_path)]
        for old_name, new_name in zip(old_names, new_names):
            if old_name != new_name:
                self.add(COMPATIBLE, where, f"path parameter {{{old_name}}} is now named "
                                            f"{{{new_name}}}; the URL is the same")
            if ("path", old_name) in old and ("path", new_name) in new:
                old[("path", new_name)] = old.pop(("path", old_name))
        for key in sorted(old.keys() | new.keys()):
            place, _ = key
            name = (new.get(key) or old.get(key)).get("name")
            at = f"{where} {place} parameter '{name}'"
            if key not in old:
                if new[key].get("required"):
                    self.add(BREAKING, at, "new and required; an old client does not send it")
                else:
                    self.add(COMPATIBLE, at, "new, optional")
            elif key not in new:
                if place == "query":
                    self.add(BREAKING, at, "removed; the API refuses unknown query parameters "
                                           "(400), so an old client that sends it is refused")
                else:
                    self.add(COMPATIBLE, at, "removed; an old client that sends it is not "
                                             "refused, but it is no longer read")
            else:
                self.required(at, "request", bool(old[key].get("required")),
                              bool(new[key].get("required")))
                self.schema(at, "request", self._parameter_schema(old[key]),
                            self._parameter_schema(new[key]), [])

    @staticmethod
    def _parameter_schema(param: dict):
        if "schema" in param:
            return param["schema"]
        for media in (param.get("content") or {}).values():
            return (media or {}).get("schema")
        return None

    def required(self, where: str, side: str, old: bool, new: bool) -> None:
        if old == new:
            return
        if side == "request":
            if new:
                self.add(BREAKING, where, "now required; an old client may leave it out")
            else:
                self.add(COMPATIBLE, where, "now optional")
        elif new:
            self.add(COMPATIBLE, where, "now always there")
        else:
            self.add(BREAKING, where, "may now be absent; an old client that reads it may "
                                      "find nothing")

    # --- bodies ----------------------------------------------------------------------

    def request_body(self, where: str, old, new) -> None:
        at = f"{where} request body"
        old = self.old.resolve(old) if old is not None else None
        new = self.new.resolve(new) if new is not None else None
        if old is None and new is None:
            return
        if old is None:
            if new.get("required"):
                self.add(BREAKING, at, "new and required; an old client sends none")
            else:
                self.add(COMPATIBLE, at, "new, optional")
            return
        if new is None:
            self.add(BREAKING, at, "removed; an old client still sends one")
            return
        self.required(at, "request", bool(old.get("required")), bool(new.get("required")))
        self.content(at, "request", old.get("content") or {}, new.get("content") or {})

    def content(self, where: str, side: str, old: dict, new: dict) -> None:
        for media in sorted(old.keys() | new.keys()):
            if media not in new:
                if side == "request":
                    self.add(BREAKING, where, f"no longer accepts {media}; an old client that "
                                              "sends it is refused")
                else:
                    self.add(BREAKING, where, f"no longer sends {media}; an old client that "
                                              "reads it finds nothing")
            elif media not in old:
                verb = "accepts" if side == "request" else "sends"
                self.add(COMPATIBLE, where, f"now also {verb} {media}")
            else:
                at = where if media == _JSON else f"{where} ({media})"
                self.schema(at, side, (old[media] or {}).get("schema"),
                            (new[media] or {}).get("schema"), [])

    def responses(self, where: str, old: dict, new: dict) -> None:
        old = {str(k): v for k, v in old.items()}
        new = {str(k): v for k, v in new.items()}
        for status in sorted(old.keys() | new.keys()):
            at = f"{where} response {status}"
            if status not in new:
                self.add(BREAKING, at, "removed; an old client that expects it gets another "
                                       "answer")
                continue
            if status not in old:
                self.add(COMPATIBLE, at, "new")
                continue
            old_response = self.old.resolve(old[status])
            new_response = self.new.resolve(new[status])
            self.headers(at, old_response.get("headers") or {}, new_response.get("headers") or {})
            self.content(at, "response", old_response.get("content") or {},
                         new_response.get("content") or {})

    def headers(self, where: str, old: dict, new: dict) -> None:
        old = {k.lower(): (k, v) for k, v in old.items()}
        new = {k.lower(): (k, v) for k, v in new.items()}
        for key in sorted(old.keys() | new.keys()):
            name = (new.get(key) or old.get(key))[0]
            at = f"{where} header '{name}'"
            if key not in new:
                self.add(BREAKING, at, "removed; an old client that reads it finds nothing")
            elif key not in old:
                self.add(COMPATIBLE, at, "new")
            else:
                old_header = self.old.resolve(old[key][1])
                new_header = self.new.resolve(new[key][1])
                self.required(at, "response", bool(old_header.get("required")),
                              bool(new_header.get("required")))
                self.schema(at, "response", old_header.get("schema"), new_header.get("schema"), [])

    # --- schemas ---------------------------------------------------------------------

    def schema(self, base: str, side: str, old, new, field: list[str],
               seen: frozenset = frozenset()) -> None:
        """Compare two schemas; `field` is the path to them inside the body."""
        pair = (_ref_of(old), _ref_of(new))
        if pair != (None, None):
            if pair in seen:
                return  # a recursive schema: this pair is being compared further up
            seen = seen | {pair}
        old = self.old.resolve(old) if old is not None else {}
        new = self.new.resolve(new) if new is not None else {}
        where = f"{base} field '{_dotted(field)}'" if field else base
        self.types(where, side, _types(old), _types(new))
        self.enums(where, side, old.get("enum"), new.get("enum"))
        self.bounds(where, side, old, new)
        for keyword in ("pattern", "format", "multipleOf", "uniqueItems"):
            self.keyword(where, side, keyword, old.get(keyword), new.get(keyword))
        for keyword in _OPAQUE:
            if old.get(keyword) != new.get(keyword):
                self.add(BREAKING, where, f"{keyword} changed; the gate cannot tell whether "
                                          "that is compatible, so it counts as breaking")
        if "items" in old or "items" in new:
            self.schema(base, side, old.get("items"), new.get("items"), [*field, "[]"], seen)
        if _may_be_object(old) and _may_be_object(new):
            self.properties(base, side, old, new, field, seen)

    def properties(self, base: str, side: str, old: dict, new: dict, field: list[str],
                   seen: frozenset) -> None:
        old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
        old_required, new_required = set(old.get("required") or ()), set(new.get("required") or ())
        for name in sorted(old_props.keys() | new_props.keys()):
            path = [*field, name]
            at = f"{base} field '{_dotted(path)}'"
            if name not in old_props:
                if side == "response":
                    self.add(COMPATIBLE, at, "new")
                elif name in new_required:
                    self.add(BREAKING, at, "new and required; an old client does not send it")
                else:
                    self.add(COMPATIBLE, at, "new, optional")
            elif name not in new_props:
                if side == "request":
                    self.add(BREAKING, at, "removed; the API refuses unknown fields (400), so an "
                                           "old client that sends it is refused")
                else:
                    self.add(BREAKING, at, "removed; an old client that reads it finds nothing")
            else:
                self.required(at, side, name in old_required, name in new_required)
                self.schema(base, side, old_props[name], new_props[name], path, seen)

    def narrowed(self, where: str, side: str, text: str) -> None:
        """The new schema accepts less than the old one."""
        if side == "request":
            self.add(BREAKING, where, f"{text}; {_REFUSED_VALUE}")
        else:
            self.add(COMPATIBLE, where, text)

    def widened(self, where: str, side: str, text: str) -> None:
        """The new schema accepts more than the old one."""
        if side == "response":
            self.add(BREAKING, where, f"{text}; {_UNEXPECTED_VALUE}")
        else:
            self.add(COMPATIBLE, where, text)

    def changed(self, where: str, side: str, text: str) -> None:
        """Neither wider nor narrower: some old values are refused, some new ones unexpected."""
        reason = _REFUSED_VALUE if side == "request" else _UNEXPECTED_VALUE
        self.add(BREAKING, where, f"{text}; {reason}")

    def types(self, where: str, side: str, old, new) -> None:
        if old == new:
            return
        wider, narrower = _covers(new, old), _covers(old, new)
        text = f"from {_type_words(old)} to {_type_words(new)}"
        if narrower:
            self.narrowed(where, side, f"type narrowed {text}")
        elif wider:
            self.widened(where, side, f"type widened {text}")
        else:
            self.changed(where, side, f"type changed {text}")

    def enums(self, where: str, side: str, old, new) -> None:
        if old == new:
            return
        if new is None:
            self.widened(where, side, "no longer limited to a list of values")
            return
        if old is None:
            self.narrowed(where, side, f"now limited to the values {_values(new)}")
            return
        gone = [v for v in old if v not in new]
        added = [v for v in new if v not in old]
        if gone:
            self.narrowed(where, side, f"enum narrowed: {_values(gone)} no longer allowed")
        if added:
            self.widened(where, side, f"enum widened: {_values(added)} now allowed")

    def bounds(self, where: str, side: str, old: dict, new: dict) -> None:
        for keyword in (*_MINIMA, *_MAXIMA):
            before, after = old.get(keyword), new.get(keyword)
            if before == after:
                continue
            if not all(_is_number(v) for v in (before, after) if v is not None):
                self.changed(where, side, f"{keyword} changed from {before!r} to {after!r}")
            elif before is None:
                self.narrowed(where, side, f"{keyword} {after} added")
            elif after is None:
                self.widened(where, side, f"{keyword} {before} removed")
            else:
                tighter = after > before if keyword in _MINIMA else after < before
                moved = "raised" if after > before else "lowered"
                text = f"{keyword} {moved} from {before} to {after}"
                (self.narrowed if tighter else self.widened)(where, side, text)

    def keyword(self, where: str, side: str, keyword: str, before, after) -> None:
        if before == after or (keyword == "uniqueItems" and not before and not after):
            return
        if keyword == "uniqueItems":
            (self.narrowed if after else self.widened)(
                where, side, "items must now be unique" if after else "items may now repeat")
        elif before is None:
            self.narrowed(where, side, f"{keyword} {after!r} added")
        elif after is None:
            self.widened(where, side, f"{keyword} {before!r} removed")
        elif keyword == "multipleOf" and _is_multiple(after, before):
            self.narrowed(where, side, f"multipleOf changed from {before} to {after}")
        elif keyword == "multipleOf" and _is_multiple(before, after):
            self.widened(where, side, f"multipleOf changed from {before} to {after}")
        else:
            self.changed(where, side, f"{keyword} changed from {before!r} to {after!r}")


def _ref_of(schema):
    return schema.get("$ref") if isinstance(schema, dict) else None


def _dotted(field: list[str]) -> str:
    text = ""
    for part in field:
        text += part if part == "[]" or not text else f".{part}"
    return text


_ANY = None  # no `type`: any JSON value


def _types(schema: dict):
    declared = schema.get("type")
    if declared is None:
        return _ANY
    found = {declared} if isinstance(declared, str) else set(declared)
    if schema.get("nullable") is True:
        found.add("null")
    return frozenset(found)


def _covers(wide, narrow) -> bool:
    """Every value of type set `narrow` is also one of `wide` (an integer is a number)."""
    if wide is _ANY:
        return True
    if narrow is _ANY:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _type_words(types) -> str:
    return "any type" if types is _ANY else " or ".join(sorted(types))


def _may_be_object(schema: dict) -> bool:
    types = _types(schema)
    return types is _ANY or "object" in types


def _values(values) -> str:
    return _listing([json.dumps(v) for v in values])


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_multiple(value, of) -> bool:
    try:
        return of != 0 and (value / of) == int(value / of)
    except (TypeError, ZeroDivisionError):
        return False


def compare(old: dict, new: dict, *, old_label: str = "the old document",
            new_label: str = "the new document") -> list[Change]:
    """Every difference between what `old` and `new` promise their clients, in plain words.
    Both must be readable (`read_document`); a `$ref` naming nothing raises
    UnreadableDocument with that document's label."""
    return _Comparison(read_document(old, old_label), read_document(new, new_label),
                       old_label, new_label).run()


# --- the gate ------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    ok: bool
    lines: tuple[str, ...]
    changes: tuple[Change, ...] = ()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def gate(old, new, *, old_label: str, new_label: str, allow_breaking: bool = False) -> Verdict:
    """May the candidate (`new`) replace what the target serves (`old`)? Each document is a
    dict, JSON text or bytes, or None where none was found; `old_label`/`new_label` name
    them in the answer, e.g. "the deployment prod serves (abc123)". A document that cannot
    be read refuses, whatever `allow_breaking` says: nothing can be told about it."""
    unreadable = []
    documents = []
    for raw, label in ((old, old_label), (new, new_label)):
        try:
            documents.append(read_document(raw, label))
        except UnreadableDocument as err:
            unreadable.append(str(err))
    if unreadable:
        return Verdict(False, (*unreadable, "refused: the API contract cannot be checked; "
                                            "nothing was changed"))
    changes = _Comparison(*documents, old_label, new_label).run()
    breaking = [c for c in changes if c.kind == BREAKING]
    compatible = [c for c in changes if c.kind == COMPATIBLE]
    lines = [f"API contract: {new_label} against {old_label}"]
    lines += [f"  breaking: {change}" for change in breaking]
    lines += [f"  compatible: {change}" for change in compatible]
    if not changes:
        return Verdict(True, (f"API contract: {new_label} serves the same API as {old_label}",))
    if not breaking:
        lines.append(f"passed: {_plural(len(compatible), 'compatible change')}, none breaking")
        return Verdict(True, tuple(lines), tuple(changes))
    if allow_breaking:
        lines.append(f"allowed by --allow-breaking: {_plural(len(breaking), 'breaking change')}; "
                     "old clients may fail")
        return Verdict(True, tuple(lines), tuple(changes))
    lines.append(f"refused: {_plural(len(breaking), 'breaking change')}; nothing was changed. "
                 "Keep the API compatible, or pass --allow-breaking to promote anyway")
    return Verdict(False, tuple(lines), tuple(changes))


# --- the definition a deployment holds, hashed -----------------------------------------

# An export names the stage it was taken from (`servers[].variables.basePath.default` is
# the stage's name), so one deployment exported through test and through prod differs
# there and nowhere else: the hash leaves `servers` out.
_STAGE_SPECIFIC = ("servers",)


def definition_hash(raw, label: str) -> str:
    """The SHA-256 of the definition a deployment holds, as one backend reads it (an export
    of a stage, or a local snapshot): canonical JSON without the keys that name the stage.
    Compare hashes of one source only (two exports, or two snapshots). UnreadableDocument
    when it is not an OpenAPI 3 document."""
    document = read_document(raw, label)
    kept = {key: value for key, value in document.items() if key not in _STAGE_SPECIFIC}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
