"""Turn checked project data into a Project: defaults, ${...} values, matrix variants, inputs, outputs."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from renderer.dag import find_cycle, topological_order
from renderer.errors import Problem, SpecError
from renderer.providers.registry import BUILTIN, declared_options, default_formats, provider_class, provider_names
from renderer.spec.entrycache import entry_cache_for
from renderer.spec.loader import MAX_DEPTH, Marks, Path_, load_yaml
from renderer.spec.model import (
    ASSET_TYPES,
    DEFAULT_EXTENSION,
    NOT_IN_RECIPE,
    Asset,
    InputRef,
    Project,
    ProviderSettings,
    take_name,
)
from renderer.spec.schema import (
    did_you_mean,
    keys_for_type,
    locate,
    schema_ident,
    validate_data,
    validate_options,
)

_PLACEHOLDER = re.compile(r"\$\$|\$\{([^}]*)\}")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_COMMON_DEFAULTS = ("provider", "model", "seed", "provider_options", "takes")


class _Problems:
    def __init__(self, display: str, marks: Marks) -> None:
        self.display = display
        self.marks = marks
        self.items: list[Problem] = []

    def add(self, path: Path_, message: str) -> None:
        line, column = locate(self.marks, path)
        self.items.append(Problem(self.display, line, column, message))


def load_project(
    path: Path,
    display: str | None = None,
    data: bytes | None = None,
    out_dir: Path | None = None,
    *,
    elsewhere: frozenset[str] = frozenset(),
    checked: frozenset[str] = frozenset(),
) -> Project:
    """Load, check and resolve a project file. Raises SpecError listing every problem found.

    ``elsewhere`` and ``checked`` serve a part of a spec (incremental.py): names of assets the part leaves
    out, which its assets may still name as inputs, and assets whose provider checks passed already."""
    display = display or str(path)
    try:  # marked to the level of assets only: a spec with a problem is read again, marked in full
        return _load_project(path, display, data, out_dir, elsewhere, checked, marks_depth=2)
    except SpecError:
        pass
    return _load_project(path, display, data, out_dir, elsewhere, checked, marks_depth=MAX_DEPTH)


def _load_project(
    path: Path,
    display: str,
    data: bytes | None,
    out_dir: Path | None,
    elsewhere: frozenset[str],
    checked: frozenset[str],
    *,
    marks_depth: int,
) -> Project:
    # a whole spec only: a part (incremental.py) is a few entries, read sooner than the cache is loaded
    entries = entry_cache_for(path, schema_ident()) if marks_depth == 2 and not elsewhere else None
    raw, marks = load_yaml(path, display, data, marks_depth=marks_depth, entries=entries)
    problems = _Problems(display, marks)
    if not isinstance(raw, dict):
        raise SpecError([Problem(display, 1, 1, "a project file must be a mapping with 'version' and 'assets'")])
    common, declared = _split_declared_options(raw)
    problems.items.extend(validate_data(common, marks, display, known_valid=entries.taken if entries else ()))
    for name, (schema, options) in declared.items():
        problems.items.extend(validate_options(options, schema, marks, display, ("providers", name)))
    if entries is not None and not problems.items:
        entries.save()  # the entries read make a valid document
    if problems.items and not isinstance(raw.get("assets"), dict):
        raise SpecError(problems.items)
    try:
        return _resolve(path, display, raw, marks, problems, out_dir, elsewhere, checked)
    except SpecError:
        raise
    except Exception:
        # Resolution assumes a well-formed document; when the schema has already said it is not, what it
        # said is the answer (a crash here must never become a traceback).
        if problems.items:
            raise SpecError(problems.items) from None
        raise


def _split_declared_options(
    raw: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, tuple[dict[str, Any], dict[str, Any]]]]:
    """The document without the provider-block options that third-party providers declare (the project
    schema knows only the common ones), and those options with each provider's schema for them."""
    blocks = raw.get("providers")
    if not isinstance(blocks, dict):
        return raw, {}
    declared: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    common_blocks = dict(blocks)
    for name, block in blocks.items():
        if not isinstance(block, dict):
            continue
        schema = declared_options(str(block.get("use") or name))
        if schema:
            declared[name] = (schema, {k: v for k, v in block.items() if k in schema})
            common_blocks[name] = {k: v for k, v in block.items() if k not in schema}
    return ({**raw, "providers": common_blocks} if declared else raw), declared


def _section(raw: dict[str, Any], key: str) -> dict[str, Any]:
    """A top-level mapping, or empty when it is missing or malformed (the schema reports that)."""
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _resolve(
    path: Path,
    display: str,
    raw: dict[str, Any],
    marks: Marks,
    problems: _Problems,
    out_dir: Path | None,
    elsewhere: frozenset[str] = frozenset(),
    checked: frozenset[str] = frozenset(),
) -> Project:
    bad_assets = set(_assets_with_problems(problems.items, raw, marks))
    root = path.resolve().parent
    defaults = _section(raw, "defaults")
    _check_type_defaults(defaults, marks, display, problems)
    settings = _provider_settings(_section(raw, "providers"))
    for block in settings.values():
        if not _is_known_provider(block.use):
            known = provider_names()
            problems.add(
                ("providers", block.name, "use") if block.use != block.name else ("providers", block.name),
                f"provider '{block.name}': '{block.use}' is not a known provider{did_you_mean(block.use, known)} "
                f"(known: {', '.join(known)}; name one with 'use:', or install its package)",
            )
    variables = _section(raw, "vars")

    assets: dict[str, Asset] = {}
    line_of: dict[str, int] = {}
    known_names: set[str] = set()
    entries: dict[str, Any] = raw.get("assets") or {}
    expanded: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    known_names |= elsewhere
    for entry, body in entries.items():
        if not isinstance(body, dict) or entry in bad_assets:
            known_names.add(entry)
            continue
        for name, matrix_values in _variants(entry, body, problems):
            if name in known_names:
                problems.add(("assets", entry), f"asset '{entry}': the name '{name}' is used twice; rename one of them")
                continue
            known_names.add(name)
            expanded.append((entry, name, body, matrix_values))
    user_names = set(known_names)

    outputs: dict[str, str] = {}
    expanded_outputs = {name: _planned_output(name, body) for _, name, body, _ in expanded}
    for entry, name, body, matrix_values in expanded:
        asset = _build_asset(entry, name, body, matrix_values, defaults, variables, problems)
        if asset is None:
            continue
        asset.line = locate(marks, ("assets", entry))[0]
        line_of[name] = asset.line
        if "output" not in body and "output" not in defaults.get(asset.type, {}):
            asset.output = f"{name}{_provider_format(asset, settings)}"
        _resolve_inputs(asset, entry, known_names, root, problems, confine=raw.get("confine") is not False)
        if asset.type == "upscale" and "output" not in body and asset.inputs:
            asset.output = f"{name}{_source_extension(asset.inputs[0], expanded_outputs)}"
        _check_output(asset, entry, outputs, problems)
        for take in _takes_of(asset, user_names, problems):
            _check_output(take, entry, outputs, problems)
            assets[take.name] = take
            line_of[take.name] = asset.line
        if asset.provider not in settings and not _is_known_provider(asset.provider):
            known = sorted(set(settings) | set(provider_names()))
            problems.add(
                ("assets", entry, "provider") if "provider" in body else ("assets", entry),
                f"asset '{name}': unknown provider '{asset.provider}'{did_you_mean(asset.provider, known)} "
                f"(known: {', '.join(known)})",
            )
        assets[name] = asset

    deps = {n: a.depends_on() for n, a in assets.items()}
    try:
        order: list[str] | None = topological_order(deps)  # the run's order too, when it runs every asset
        cycle = None
    except ValueError:
        order, cycle = None, find_cycle(deps)
    if cycle:
        first = cycle[0]
        entry = assets[first].entry
        shown = " -> ".join([*cycle, cycle[0]])
        message = (
            f"asset '{first}' needs itself as an input"
            if len(cycle) == 1
            else f"assets depend on each other in a cycle: {shown}; remove one of these inputs"
        )
        problems.add(("assets", entry, "inputs"), message)

    if not problems.items:
        _provider_checks({n: a for n, a in assets.items() if n not in checked}, assets, settings, problems)
    if problems.items:
        raise SpecError(problems.items)

    output_dir = out_dir if out_dir is not None else root / str(raw.get("output_dir") or "out")
    return Project(
        path=path.resolve(),
        display=display,
        root=root,
        name=str(raw.get("name") or path.stem),
        output_dir=output_dir.resolve(),
        confine=raw.get("confine") is not False,
        remote=_remote_url(raw.get("remote"), root),
        remote_push=not (isinstance(raw.get("remote"), dict) and raw["remote"].get("push") is False),
        claim_timeout=float(raw["remote"].get("claim_timeout", 120)) if isinstance(raw.get("remote"), dict) else 120.0,
        executor=_executor(raw.get("executor")),
        budget=float(raw["budget"]) if isinstance(raw.get("budget"), (int, float)) else None,
        providers=settings,
        assets=assets,
        line_of=line_of,
        known_deps=deps,
        known_order=order,
    )


def _assets_with_problems(items: list[Problem], raw: dict[str, Any], marks: Marks) -> set[str]:
    lines = {p.line for p in items}
    bad: set[str] = set()
    entries = raw.get("assets")
    if not isinstance(entries, dict):
        return bad
    names = list(entries)
    starts = [marks.get(("assets", n), (0, 0))[0] for n in names]
    for i, name in enumerate(names):
        end = starts[i + 1] if i + 1 < len(starts) else 1 << 30
        if any(starts[i] <= line < end for line in lines):
            bad.add(name)
    return bad


def _check_type_defaults(defaults: dict[str, Any], marks: Marks, display: str, problems: _Problems) -> None:
    for asset_type in ASSET_TYPES:
        block = defaults.get(asset_type)
        if isinstance(block, dict):
            for problem in validate_data({"type": asset_type, **block}, marks, display, ("defaults", asset_type)):
                if "is required" not in problem.message:
                    problems.items.append(problem)


def _provider_settings(raw: dict[str, Any]) -> dict[str, ProviderSettings]:
    settings = {"local": ProviderSettings("local", "local", {})}
    for name, block in raw.items():
        if isinstance(block, dict):
            settings[name] = ProviderSettings(name, str(block.get("use") or name), dict(block))
    return settings


def _is_known_provider(name: str) -> bool:
    return name in BUILTIN or name in provider_names()  # a built-in needs no scan of installed packages


def _slug(value: Any) -> str:
    text = str(value).lower() if not isinstance(value, bool) else str(value).lower()
    text = text.replace(":", "x")
    text = re.sub(r"[^a-z0-9._]+", "-", text).strip("-.")
    return text or "x"


def _variants(entry: str, body: dict[str, Any], problems: _Problems) -> list[tuple[str, dict[str, Any]]]:
    matrix = body.get("matrix")
    if not matrix:
        return [(entry, {})]
    keys = list(matrix)
    variants = []
    seen: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*(matrix[k] for k in keys)):
        values = dict(zip(keys, combo, strict=True))
        name = "-".join([entry, *(_slug(v) for v in combo)])
        if name in seen:
            problems.add(
                ("assets", entry, "matrix"),
                f"asset '{entry}': matrix values {seen[name]} and {values} both make the name '{name}'; make the values differ by more than punctuation or case",
            )
            continue
        if len(name) > 100:
            problems.add(
                ("assets", entry, "matrix"),
                f"asset '{entry}': the variant name '{name[:40]}...' would be longer than 100 characters; use shorter matrix values",
            )
            continue
        seen[name] = values
        variants.append((name, values))
    return variants


def _interpolate(value: Any, context: dict[str, Any], path: Path_, problems: _Problems, asset: str) -> Any:
    if isinstance(value, str):
        if "$" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1).strip()
            if name in context:
                return str(context[name])
            choices = sorted(context)
            how = ""
            if name.startswith("vars.") and "." not in name[5:]:
                how = f"; to add it, give it a value under vars: at the top (vars: {{{name[5:]}: ...}})"
            problems.add(
                path,
                f"asset '{asset}': '${{{name}}}' names nothing known{did_you_mean(name, choices)}{how} "
                f"(known: {', '.join(choices) or 'none'}; write $$ for a literal $)",
            )
            return match.group(0)

        return _PLACEHOLDER.sub(replace, value)
    if isinstance(value, dict):
        return {
            k: v if _nothing_to_fill(v) else _interpolate(v, context, (*path, k), problems, asset)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            v if _nothing_to_fill(v) else _interpolate(v, context, (*path, i), problems, asset)
            for i, v in enumerate(value)
        ]
    return value


def _nothing_to_fill(value: Any) -> bool:
    """Nothing to interpolate in it: a number, a flag, or text with no $ (most of 100,000 assets' values)."""
    kind = type(value)
    return (kind is str and "$" not in value) or kind is int or kind is float or kind is bool or value is None


def _build_asset(
    entry: str,
    name: str,
    body: dict[str, Any],
    matrix_values: dict[str, Any],
    defaults: dict[str, Any],
    variables: dict[str, Any],
    problems: _Problems,
) -> Asset | None:
    asset_type = body["type"]
    allowed = keys_for_type(asset_type)
    merged: dict[str, Any] = {k: defaults[k] for k in _COMMON_DEFAULTS if k in defaults}
    type_defaults = defaults.get(asset_type)
    if isinstance(type_defaults, dict):
        merged.update(type_defaults)
    merged.update({k: v for k, v in body.items() if k != "matrix"})
    for key, value in matrix_values.items():
        if key in allowed and key not in ("type", "matrix"):
            merged[key] = value
    context = {f"vars.{k}": v for k, v in variables.items()}
    context.update({f"matrix.{k}": v for k, v in matrix_values.items()})
    context["asset"] = name
    context["entry"] = entry
    merged = _interpolate(merged, context, ("assets", entry), problems, name)

    params = {k: v for k, v in merged.items() if k not in NOT_IN_RECIPE}
    output = merged.get("output") or f"{name}{DEFAULT_EXTENSION[asset_type]}"
    asset = Asset(
        name=name,
        type=asset_type,
        provider=str(merged.get("provider") or "local"),
        model=merged.get("model"),
        seed=merged.get("seed"),
        params=params,
        inputs=[],
        output=str(output),
        entry=entry,
    )
    asset.params["_raw_inputs"] = _raw_inputs(merged)
    asset.takes = int(merged.get("takes") or 1)
    asset.pick = merged.get("pick")
    if asset.pick is not None and asset.pick > asset.takes:
        problems.add(
            ("assets", entry, "pick"),
            f"asset '{name}': 'pick: {asset.pick}' but it has {asset.takes} take{'s' if asset.takes != 1 else ''}; "
            f"pick 1 to {asset.takes}, or raise 'takes'",
        )
    return asset


def _takes_of(asset: Asset, known: set[str], problems: _Problems) -> list[Asset]:
    """The take assets of an asset with ``takes`` > 1, which itself becomes the picked one of them.

    Take K is the asset with the seed plus K-1 (take 1 is the asset as it would be with no takes, so
    going from 1 take to 4 keeps the output there is); with no seed, take 1 has none and the others one
    derived from the recipe fields, never from names (renaming costs nothing)."""
    if asset.takes <= 1:
        return []
    path = PurePosixPath(asset.output)
    derived = hashlib.sha256(
        json.dumps([asset.type, asset.model, asset.params], sort_keys=True, default=str).encode()
    ).digest()
    takes = []
    for k in range(1, asset.takes + 1):
        name = take_name(asset.name, k)
        if name in known:
            problems.add(
                ("assets", asset.entry),
                f"asset '{asset.name}': its take {k} would be named '{name}', which another asset is called; "
                "rename one of them",
            )
            continue
        if asset.seed is not None:
            seed: int | None = asset.seed + k - 1
        else:
            seed = None if k == 1 else int.from_bytes(derived[:4], "big") % 2_000_000_000 + k
        takes.append(
            dataclasses.replace(
                asset,
                name=name,
                seed=seed,
                params=dict(asset.params),
                inputs=list(asset.inputs),
                output=str(path.with_name(f"{path.stem}.take{k}{path.suffix}")),
                takes=1,
                pick=None,
                take=k,
            )
        )
    asset.inputs = [InputRef(f"take{take.take}", "asset", take.name) for take in takes]
    return takes


def _provider_format(asset: Asset, settings: dict[str, ProviderSettings]) -> str:
    """The output format a provider delivers by default for this asset type (Vrex: MP3)."""
    use = settings[asset.provider].use if asset.provider in settings else asset.provider
    return default_formats(use).get(asset.type, DEFAULT_EXTENSION[asset.type])


def _planned_output(name: str, body: dict[str, Any]) -> str:
    return str(body.get("output") or f"{name}{DEFAULT_EXTENSION[body['type']]}")


def _source_extension(ref: InputRef, outputs: dict[str, str]) -> str:
    source = outputs.get(ref.target, "") if ref.kind == "asset" else ref.target
    suffix = PurePosixPath(source).suffix.lower()
    return suffix if suffix in (".png", ".jpg", ".jpeg", ".webp", ".mp4", ".mov", ".webm") else ".png"


def _raw_inputs(merged: dict[str, Any]) -> list[tuple[str, Any, Path_]]:
    """(slot, reference, path-in-document) for every input, in order."""
    found: list[tuple[str, Any, Path_]] = []
    inputs = merged.get("inputs")
    if isinstance(inputs, list):
        found += [(str(i), ref, ("inputs", i)) for i, ref in enumerate(inputs)]
    elif isinstance(inputs, dict):
        found += [(str(k), ref, ("inputs", k)) for k, ref in inputs.items()]
    for i, clip in enumerate(merged.get("clips") or []):
        found.append((f"clips.{i}", clip, ("clips", i)))
    for key in ("audio", "voiceover"):
        if key in merged:
            found.append((key, merged[key], (key,)))
    return found


def _resolve_inputs(
    asset: Asset, entry: str, known: set[str], root: Path, problems: _Problems, *, confine: bool = True
) -> None:
    raw = asset.params.pop("_raw_inputs")
    clips: list[dict[str, Any]] = []
    for slot, ref, where in raw:
        path = ("assets", entry, *where)
        kind, target = _classify(ref, known)
        if isinstance(ref, dict) and slot.startswith("clips."):
            trim = {k: ref[k] for k in ("from", "to", "audio", "volume") if k in ref}
            if "from" in trim and "to" in trim and trim["to"] <= trim["from"]:
                problems.add(
                    path,
                    f"asset '{asset.name}': clip {slot[6:]} ends ('to: {trim['to']}') before it starts ('from: {trim['from']}')",
                )
            clips.append(trim)
        elif slot.startswith("clips."):
            clips.append({})
        if target is None:
            problems.add(path, f"asset '{asset.name}': clip {slot[6:]} needs 'asset' or 'file'")
            continue
        if kind == "asset-explicit" and target not in known:
            problems.add(path, f"asset '{asset.name}': unknown asset '{target}'{did_you_mean(target, sorted(known))}")
            continue
        if kind in ("asset", "asset-explicit"):
            if target == asset.name:
                problems.add(path, f"asset '{asset.name}' needs itself as an input; name another asset or a file")
                continue
            asset.inputs.append(InputRef(slot, "asset", target))
            continue
        relative = _check_file(asset.name, target, kind == "file", known, root, path, problems, confine=confine)
        if relative is not None:
            asset.inputs.append(InputRef(slot, "file", relative))
    if clips:
        asset.params["clips"] = clips
    for key in ("inputs", "audio", "voiceover"):
        asset.params.pop(key, None)


def _classify(ref: Any, known: set[str]) -> tuple[str, str | None]:
    if isinstance(ref, str):
        if ref in known:
            return "asset", ref
        # "${entry}-${matrix.aspect_ratio}" gives "hero-16:9"; the variant is named "hero-16x9"
        variant = ref.replace(":", "x")
        if ":" in ref and variant in known:
            return "asset", variant
        return "guess", ref
    if isinstance(ref, dict):
        if "asset" in ref:
            return "asset-explicit", str(ref["asset"])
        if "file" in ref:
            return "file", str(ref["file"])
    return "guess", None


def _check_file(
    asset: str,
    target: str,
    explicit_file: bool,
    known: set[str],
    root: Path,
    path: Path_,
    problems: _Problems,
    *,
    confine: bool = True,
) -> str | None:
    looks_like_path = explicit_file or "/" in target or "\\" in target or bool(PurePosixPath(target).suffix)
    if not looks_like_path:
        problems.add(
            path,
            f"asset '{asset}': unknown asset '{target}'{did_you_mean(target, sorted(known))} "
            f"(assets: {', '.join(sorted(known)[:20])}{', ...' if len(known) > 20 else ''})",
        )
        return None
    if confine and (os.path.isabs(target) or target.startswith("\\")):
        problems.add(
            path, f"asset '{asset}': input '{target}' is an absolute path; give it relative to the project file"
        )
        return None
    candidate = (root / target).resolve()  # symlinks resolved: a link out of the project is outside it
    try:
        relative: str | None = candidate.relative_to(root).as_posix()
    except ValueError:
        if confine:
            problems.add(
                path,
                f"asset '{asset}': input '{target}' is outside the project directory {root}; "
                "copy it into the project (or set 'confine: false')",
            )
            return None
        relative = None
    if not candidate.is_file():
        kind = _special_kind(candidate)
        if kind:
            problems.add(path, f"asset '{asset}': input '{target}' is {kind}, not a file; give a regular file")
            return None
        hint = " (it is a directory)" if candidate.is_dir() else ""
        close = did_you_mean(target, sorted(known)) if not explicit_file else ""
        problems.add(
            path, f"asset '{asset}': input file '{target}' does not exist{hint}{close}; paths are relative to {root}"
        )
        return None
    return relative if relative is not None else str(candidate)


def _remote_url(value: Any, root: Path) -> str | None:
    """The spec's remote as a URL; a relative path is relative to the spec, as every path in it is."""
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        return None
    if "://" not in url and not os.path.isabs(os.path.expanduser(url)):
        return str(root / url)
    return url


def _executor(value: Any) -> dict[str, Any] | None:
    """The spec's ``executor:`` as a mapping (address, workers, shared_cache); the CLI settles it."""
    if isinstance(value, str):
        return {"address": value}
    return dict(value) if isinstance(value, dict) else None


def _special_kind(path: Path) -> str | None:
    """What a path that exists but is no regular file or folder is (reading a FIFO would hang)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    for test, name in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return None


# a file name in the output directory itself, with an extension: nothing below can be wrong with it
_SIMPLE_OUTPUT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.[A-Za-z0-9]+")


def _check_output(asset: Asset, entry: str, outputs: dict[str, str], problems: _Problems) -> None:
    output = asset.output
    path = ("assets", entry, "output")
    simple = _SIMPLE_OUTPUT.fullmatch(output) and output.split(".", 1)[0].lower() not in _RESERVED
    normal = output if simple else _normal_output(asset, path, problems)
    if normal is None:
        return
    key = normal.lower()
    if key in outputs:
        problems.add(
            path, f"assets '{outputs[key]}' and '{asset.name}' both write '{normal}'; give one another 'output'"
        )
        return
    outputs[key] = asset.name
    asset.output = normal


def _normal_output(asset: Asset, path: Path_, problems: _Problems) -> str | None:
    """The output path written with forward slashes, or None (and a problem) if it cannot be one."""
    output = asset.output
    pure = PurePosixPath(output.replace("\\", "/"))
    if os.path.isabs(output) or output.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", output):
        problems.add(
            path,
            f"asset '{asset.name}': output '{output}' is an absolute path; give a name inside the output directory",
        )
        return None
    if ".." in pure.parts or not pure.name or pure.name in (".",):
        problems.add(path, f"asset '{asset.name}': output '{output}' would leave the output directory; remove '..'")
        return None
    if any(part.split(".")[0].lower() in _RESERVED for part in pure.parts):
        problems.add(path, f"asset '{asset.name}': output '{output}' uses a reserved device name; choose another name")
        return None
    if any(part.startswith(".render") for part in pure.parts):
        problems.add(
            path, f"asset '{asset.name}': output '{output}' is inside render's own state folder; choose another name"
        )
        return None
    if not pure.suffix:
        problems.add(
            path,
            f"asset '{asset.name}': output '{output}' has no file extension; add one such as {DEFAULT_EXTENSION[asset.type]}",
        )
        return None
    return pure.as_posix()


def _provider_checks(
    chosen: dict[str, Asset], assets: dict[str, Asset], settings: dict[str, ProviderSettings], problems: _Problems
) -> None:
    for asset in chosen.values():
        block = settings.get(asset.provider) or ProviderSettings(asset.provider, asset.provider, {})
        cls = provider_class(block.use)
        for message in cls.check(asset, assets):
            problems.add(("assets", asset.entry), f"asset '{asset.name}': {message}")
