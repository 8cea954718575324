"""Check project data against the JSON Schema and say what is wrong in plain sentences."""

from __future__ import annotations

import copy
import difflib
import os
import unicodedata
from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

from renderer.errors import Problem
from renderer.schemas import load_schema
from renderer.spec.loader import Marks, Path_

_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping (key: value)",
    "array": "a list",
    "null": "empty",
}


if TYPE_CHECKING:
    import jsonschema  # imported where used: only a document with problems needs it (0.1 s to import)

_COMMON_KEYS = ("type", "provider", "model", "seed", "provider_options", "takes", "pick", "output", "matrix")


@cache
def _validator() -> jsonschema.Draft7Validator:
    import jsonschema

    return jsonschema.Draft7Validator(load_schema("project"))


@cache
def keys_for_type(asset_type: str) -> tuple[str, ...]:
    """The keys an asset of this type may have, read from the schema so there is one list."""
    asset = load_schema("project")["definitions"]["asset"]
    for rule in asset["allOf"]:
        if rule["if"]["properties"]["type"]["const"] == asset_type:
            return tuple(rule["then"]["propertyNames"]["enum"])
    return tuple(asset["properties"])


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f"; did you mean '{close[0]}'?" if close else ""


def locate(marks: Marks, path: Path_) -> tuple[int, int]:
    path = tuple(path)
    while path not in marks and path:
        path = path[:-1]
    return marks.get(path, (1, 1))


def where(path: Path_) -> str:
    """A plain name for a place in the document: "asset 'cliff'", "providers.varg", ..."""
    if len(path) >= 2 and path[0] == "assets":
        return f"asset '{path[1]}'"
    if len(path) >= 2 and path[0] == "providers":
        return f"provider '{path[1]}'"
    if len(path) >= 3 and path[0] == "defaults":
        return f"defaults for {path[1]} assets"
    if path:
        return str(path[0])
    return "the project"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"the text '{value[:40]}'"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else type(value).__name__


def _field(path: Path_) -> str:
    if len(path) >= 3 and path[0] == "defaults":
        return ".".join(str(p) for p in path[2:])
    parts = list(path[2:]) if len(path) >= 2 and path[0] in ("assets", "providers") else list(path)
    return ".".join(str(p) for p in parts)


class _Validators:
    folder: Path | None = None  # the run's cache directory's validators/, set by the CLI; None: in memory


VALIDATORS = _Validators()


_SAME_FAMILY = {"integer": "number"}  # every integer is a number: those two types overlap


def untangle(node: Any) -> Any:
    """The schema with each ``oneOf`` whose branches are told apart by their ``type`` written as
    ``if type: then first branch, else the others``: the same verdicts, but fastjsonschema tries every branch
    of a oneOf and raises an exception for each that fails, twice per input of every asset."""
    if isinstance(node, list):
        return [untangle(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: untangle(value) for key, value in node.items()}
    branches = node.get("oneOf")
    if (
        "if" in node
        or not branches
        or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in branches)
    ):
        return node
    first, rest = branches[0], branches[1:]
    family = _SAME_FAMILY.get(first["type"], first["type"])
    if rest and all(_SAME_FAMILY.get(b["type"], b["type"]) != family for b in rest):
        del node["oneOf"]
        node.update(
            {"if": {"type": first["type"]}, "then": first, "else": rest[0] if len(rest) == 1 else {"oneOf": rest}}
        )
    return node


def fast_schemas(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The project schema split for the compiled validator: ``head`` (the document, its assets' names but
    not their bodies) and one schema per asset type. The asset schema's ``allOf`` of "if the type is T then
    ..." makes fastjsonschema raise an exception for each type an asset is not; an asset whose type is T
    needs only T's rule. Same verdicts as the whole schema (tests/spec/test_schema.py checks)."""
    schema = untangle(copy.deepcopy(schema))
    definitions = schema["definitions"]
    asset = dict(definitions["asset"])
    rules = asset.pop("allOf")
    split = {}
    for rule in rules:
        asset_type = rule["if"]["properties"]["type"]["const"]
        split[asset_type] = {**copy.deepcopy(asset), "allOf": [rule["then"]], "definitions": definitions}
    assets = schema["properties"]["assets"]
    schema["properties"]["assets"] = {key: value for key, value in assets.items() if key != "additionalProperties"}
    return {"head": schema, **split}


@cache
def _schemas_and_ident() -> tuple[dict[str, dict[str, Any]], str]:
    """fast_schemas' parts, and a digest of them and of the compiler that names what is made of them."""
    import hashlib
    import json

    # fastjsonschema rewrites the schema it is given (absolute $refs); keep the shared one intact.
    schemas = fast_schemas(load_schema("project"))
    ident = hashlib.sha256((fastjsonschema.VERSION + json.dumps(schemas, sort_keys=True)).encode()).hexdigest()[:20]
    return schemas, ident


def schema_ident() -> str:
    return _schemas_and_ident()[1]


@cache
def _fast_validators() -> dict[str, Any]:
    """The project schema compiled to Python (fast_schemas' parts), kept in the cache directory by the
    schema's digest, so that later runs import it (bytecode and all) instead of generating and compiling it
    again (0.1 s)."""
    schemas, ident = _schemas_and_ident()
    if VALIDATORS.folder is not None:
        try:
            return {part: _compiled_in(VALIDATORS.folder, f"project_{ident}_{part}", schemas[part]) for part in schemas}
        except Exception:  # a cache that cannot be written (read-only, full): compile in memory
            pass
    return {part: fastjsonschema.compile(copy.deepcopy(schema)) for part, schema in schemas.items()}


def _compiled_in(folder: Path, name: str, schema: dict[str, Any]) -> Any:
    import importlib.util

    path = folder / f"{name}.py"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        code = fastjsonschema.compile_to_code(copy.deepcopy(schema))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(code, encoding="utf-8")
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(f"_render_validator_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return next(value for key, value in vars(module).items() if key.startswith("validate"))


def _fast_validate(data: Any, known_valid: Collection[str] = ()) -> None:
    """Raises JsonSchemaException unless ``data`` is a valid project: the head, then each asset by its type
    (but those ``known_valid``)."""
    validators = _fast_validators()
    validators["head"](data)
    for name, asset in data["assets"].items():  # the head said: a mapping of mappings... or of anything
        if name in known_valid:
            continue
        asset_type = asset.get("type") if isinstance(asset, dict) else None
        validate = validators.get(asset_type) if isinstance(asset_type, str) and asset_type != "head" else None
        if validate is None:
            raise fastjsonschema.JsonSchemaException("not an asset of a known type")
        validate(asset)


def validate_data(
    data: Any, marks: Marks, display: str, schema_path: Path_ = (), known_valid: Collection[str] = ()
) -> list[Problem]:
    """Every schema problem of ``data`` (found at ``schema_path`` in the document); the assets named in
    ``known_valid`` validated already (spec/entrycache.py).

    A compiled validator answers "valid" in microseconds per asset; only a document with problems goes
    through jsonschema, which finds all of them and says where.
    """
    if not schema_path:
        try:
            _fast_validate(data, known_valid)
            return []
        except fastjsonschema.JsonSchemaException:
            pass
    problems: list[Problem] = []
    for error in _validator().iter_errors(data) if not schema_path else _asset_validator().iter_errors(data):
        problems.extend(_explain(error, marks, display, schema_path, data))
    return problems


def validate_options(
    options: dict[str, Any], properties: dict[str, Any], marks: Marks, display: str, schema_path: Path_
) -> list[Problem]:
    """Problems with the provider-block options a third-party provider declares (JSON Schema properties)."""
    import jsonschema

    validator = jsonschema.Draft7Validator({"type": "object", "properties": properties})
    return [
        p for error in validator.iter_errors(options) for p in _explain(error, marks, display, schema_path, options)
    ]


@cache
def _asset_validator() -> jsonschema.Draft7Validator:
    schema = dict(load_schema("project"))
    schema = {**schema["definitions"]["asset"], "definitions": schema["definitions"]}
    import jsonschema

    return jsonschema.Draft7Validator(schema)


def _at_path(data: Any, path: Path_) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _explain(error: jsonschema.ValidationError, marks: Marks, display: str, prefix: Path_, root: Any) -> list[Problem]:
    path: Path_ = (*prefix, *error.absolute_path)
    subject = where(path)
    field = _field(path)
    validator = error.validator
    schema_path = list(error.absolute_schema_path)

    def at(p: Path_, message: str) -> Problem:
        line, column = locate(marks, p)
        return Problem(display, line, column, message)

    if validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        if len(path) == 2 and path[0] == "assets" and isinstance(error.instance, dict):
            allowed = list(keys_for_type(str(error.instance.get("type", ""))))
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        return [at((*path, k), f"{subject}: unknown key '{k}'{did_you_mean(k, allowed)}") for k in extra]
    if validator == "enum" and "propertyNames" in schema_path:
        container_value = _at_path(root, tuple(error.absolute_path))
        asset_type = container_value.get("type") if isinstance(container_value, dict) else None
        # jsonschema reports propertyNames problems at the object; the bad key is the instance
        key = error.instance
        container = path
        if key not in load_schema("project")["definitions"]["asset"]["properties"]:
            return []  # an unknown key: additionalProperties reports it once, with a suggestion
        if isinstance(asset_type, str):
            allowed = list(keys_for_type(asset_type))
            own = [k for k in allowed if k not in _COMMON_KEYS]
            message = (
                f"{subject}: '{key}' is not used by {asset_type} assets{did_you_mean(key, allowed)} "
                f"({asset_type} assets take: {', '.join(own)})"
            )
        else:
            message = f"{subject}: unknown key '{key}'"
        return [at((*container, key), message)]
    if validator == "pattern" and "propertyNames" in schema_path:
        return [
            at(
                (*path, error.instance),
                f"asset name '{visible(error.instance)}' may use only letters, digits, '_', '.' and '-', starting with a letter or digit",
            )
        ]
    if validator == "maxLength" and "propertyNames" in schema_path:
        return [
            at((*path, error.instance), f"asset name '{visible(error.instance[:30])}...' is longer than 100 characters")
        ]
    if validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [at(path, f"{subject}: '{k}' is required" + _required_hint(k)) for k in missing]
    if validator == "type":
        wanted = error.validator_value
        names = " or ".join(_TYPE_NAMES.get(w, str(w)) for w in (wanted if isinstance(wanted, list) else [wanted]))
        return [at(path, f"{subject}: '{field or 'value'}' must be {names}, not {_describe(error.instance)}")]
    if validator in ("enum", "const"):
        options = error.validator_value if validator == "enum" else [error.validator_value]
        shown = ", ".join(str(o) for o in options)
        hint = did_you_mean(str(error.instance), [str(o) for o in options])
        return [at(path, f"{subject}: '{field}' must be one of: {shown} (got {_describe(error.instance)}){hint}")]
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }
        return [
            at(path, f"{subject}: '{field}' must be {words[validator]} {error.validator_value} (got {error.instance})")
        ]
    if validator in ("minLength", "minItems", "minProperties"):
        return [at(path, f"{subject}: '{field or 'value'}' must not be empty")]
    if validator == "maxLength":
        return [at(path, f"{subject}: '{field}' is longer than {error.validator_value} characters")]
    if validator == "pattern":
        if field.endswith("aspect_ratio"):
            return [at(path, f"{subject}: aspect_ratio must look like '16:9' (got {_describe(error.instance)})")]
        if field.startswith("executor"):
            return [
                at(
                    path,
                    f"executor: use local, dask (worker processes on this machine) or dask://HOST:PORT "
                    f"(got {_describe(error.instance)})",
                )
            ]
        return [at(path, f"{subject}: '{field}' does not have the expected form (got {_describe(error.instance)})")]
    if validator == "oneOf" and error.context:
        import jsonschema

        best = jsonschema.exceptions.best_match(error.context)
        if field in ("inputs", "clips") and isinstance(error.instance, str):
            return [at(path, f"{subject}: '{field}' is a list; write {field}: [{error.instance}]")]
        if (
            best.validator == "type"
            and "ref" in str(error.schema)
            or field.split(".")[0] in ("inputs", "clips", "audio", "voiceover")
        ):
            return [
                at(
                    path,
                    f"{subject}: '{field}' must be an asset name, a file path, or {{asset: NAME}} / {{file: PATH}}",
                )
            ]
        return _explain(best, marks, display, prefix, root)
    return [at(path, f"{subject}: {error.message}")]


def _required_hint(key: str) -> str:
    return {
        "version": "; add 'version: 1' at the top",
        "assets": "; add an 'assets:' mapping of asset names to their settings",
        "prompt": "; describe what to make",
        "text": "; give the words to speak",
        "clips": "; list the assets to put one after another",
        "inputs": "; name the assets or files it works on",
        "type": "; one of image, video, music, speech, lipsync, upscale, compose",
    }.get(key, "")


def visible(text: str) -> str:
    """``text`` with what a terminal would hide or reorder (newlines, bidirectional overrides, controls)
    written as escapes, so that a message shows what is really there."""
    return "".join(
        c if c.isprintable() and not unicodedata.category(c).startswith("C") else repr(c)[1:-1] for c in text
    )
