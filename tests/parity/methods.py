"""Issue 16's five-way method parity check: every method of Rust async
(`credit_sync::Client`), Rust blocking (`credit_sync::blocking::Client`), Python sync
(`CreditSyncClient`), Python async (`AsyncCreditSyncClient`) and Node (`CreditSyncClient`)
exists in all five with the same parameters and defaults, apart from the commented
exceptions in exceptions.toml. The surfaces are read from the real things: Rust's source
(rust-surface, syn), the installed wheel (inspect.signature), the loaded Node package and
its index.d.ts (node_surface.js). tests/python/test_method_parity.py runs it."""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import re
import subprocess
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SURFACES = ("rust_async", "rust_blocking", "python_sync", "python_async", "node")
GROUPS = {"rust": ("rust_async", "rust_blocking"), "python": ("python_sync", "python_async")}
# A default a surface states in its docs: a number, a quoted string, true/false.
LITERAL = r'(-?\d[\d_]*|"[^"]*"|true|false)'


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def literal(text: str):
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"'):
        return text[1:-1]
    return int(text.replace("_", ""))


def doc_default(doc: str, name: str, *, own: bool = False):
    """The default `doc` states for `name` (`` `name` (default 600`` or, in the
    parameter's own doc, ``Default 20``), or None when it states none."""
    names = {name, re.sub(r"_(.)", lambda m: m.group(1).upper(), name)}
    for n in names:
        m = re.search(r"`%s`[^`.;]{0,30}?\b(?:server |bindings' )?default:?\s+`?%s" % (re.escape(n), LITERAL), doc, re.I)
        if m:
            return literal(m.group(1))
    if own:
        m = re.search(r"\bdefault:?\s+`?%s" % LITERAL, doc, re.I)
        if m:
            return literal(m.group(1))
    return None


class Param(dict):
    """name, required (bool), default (a literal, or None when not stated)."""


def rust_surfaces(dump: dict) -> dict:
    out = {}
    for surface in ("rust_async", "rust_blocking"):
        methods = {}
        for name, m in dump[surface].items():
            # The blocking client documents by reference to the async one.
            doc = m["doc"] + " " + dump["rust_async"].get(name, {}).get("doc", "")
            methods[name] = [
                Param(name=p["name"], required=not p["option"], default=doc_default(doc, p["name"]))
                for p in m["params"]
            ]
        out[surface] = methods
    return out


def python_methods(cls) -> dict:
    methods = {}
    for name, value in inspect.getmembers(cls):
        if name.startswith("_") or isinstance(inspect.getattr_static(cls, name), property):
            continue
        if not callable(value):
            continue
        params = []
        for p in inspect.signature(value).parameters.values():
            if p.name in ("self", "cls"):
                continue
            has = p.default is not inspect.Parameter.empty
            default = p.default if has and isinstance(p.default, (int, str, bool)) else None
            params.append(Param(name=p.name, required=not has, default=default))
        methods[name] = params
    return methods


def python_surfaces() -> dict:
    import credit_sync_client as cs

    return {"python_sync": python_methods(cs.CreditSyncClient), "python_async": python_methods(cs.AsyncCreditSyncClient)}


def node_surfaces(dump: dict) -> dict:
    runtime, declared = dump["node"]["runtime"], dump["node"]["declared"]
    methods = {}
    for name, r in runtime.items():
        if r["kind"] != "method":
            continue
        d = declared.get(name)
        if d is None:
            methods[snake(name)] = [Param(name="<not declared in index.d.ts>", required=True, default=None)]
            continue
        params = []
        for p in d["params"]:
            if p["options"] is not None and name != "constructor":
                # An options object: its fields are keyword parameters.
                for f in p["options"]:
                    params.append(Param(name=snake(f["name"]), required=not f["optional"],
                                        default=doc_default(f["doc"], f["name"], own=True)))
            else:
                params.append(Param(name=snake(p["name"]), required=not p["optional"],
                                    default=doc_default(d["doc"], p["name"])))
        methods[snake(name)] = params
    return {"node": methods}


def load_surfaces() -> dict:
    """The five real surfaces (needs the wheel installed, the addon built)."""
    # rust-surface parses core/src when it runs, so the binary `cargo build --workspace`
    # left (scripts/test-all.sh) is never stale about the Rust surface; `cargo run` only
    # when there is none (it may wait on cargo's locks while other builds run).
    built = ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "rust-surface"
    rust_bin = os.environ.get("CREDIT_SYNC_RUST_SURFACE_BIN") or (str(built) if built.exists() else None)
    cmd = [rust_bin] if rust_bin else ["cargo", "run", "-q", "-p", "credit-sync-parity", "--"]
    rust = json.loads(subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=300).stdout)
    addon = ROOT / "bindings-node"
    if not (addon / "native.d.ts").exists() or not list(addon.glob("*.node")):
        raise RuntimeError(f"the Node addon is not built in {addon}: run `bash scripts/install-node.sh dev` "
                           "(tests/node/run.sh does; scripts/test-all.sh runs it before this suite)")
    node = json.loads(subprocess.run(["node", str(HERE / "node_surface.js")], cwd=ROOT, check=True,
                                     capture_output=True, text=True, timeout=60).stdout)
    return {**rust_surfaces(rust), **python_surfaces(), **node_surfaces(node)}


def expand(names) -> set:
    out = set()
    for n in names:
        out.update(GROUPS.get(n, (n,)))
    return out


def compare(surfaces: dict, exceptions: dict | None = None) -> list[str]:
    """Every parity difference, as readable lines; empty when the five agree."""
    if exceptions is None:
        exceptions = tomllib.loads((HERE / "exceptions.toml").read_text())
    alias = exceptions.get("alias", {})
    only = {k: expand(v["surfaces"]) for k, v in exceptions.get("only", {}).items()}
    problems = []
    canon = {}
    for s in SURFACES:
        canon[s] = {alias.get(f"{s}.{name}", name): params for name, params in surfaces[s].items()}
    for name in sorted(set().union(*(canon[s] for s in SURFACES))):
        have = {s for s in SURFACES if name in canon[s]}
        want = only.get(name, set(SURFACES))
        for s in sorted(want - have):
            problems.append(f"{name}: missing in {s}")
        for s in sorted(have - want):
            problems.append(f"{name}: in {s}, which exceptions.toml does not list for it")
        views = {}
        for s in sorted(have & want):
            views[s] = view(s, name, canon[s][name], exceptions)
        problems += compare_params(name, views)
    # Python's two clients are one language: their signatures must be identical.
    for name in sorted(set(canon["python_sync"]) & set(canon["python_async"])):
        if canon["python_sync"][name] != canon["python_async"][name]:
            problems.append(f"{name}: python_sync {canon['python_sync'][name]} != python_async {canon['python_async'][name]}")
    return problems


def view(surface: str, method: str, params: list, exceptions: dict) -> dict:
    """A surface's parameters after its exceptions: name -> Param."""
    rule = {}
    for group in [g for g, members in GROUPS.items() if surface in members] + [surface]:
        rule.update(exceptions.get("params", {}).get(f"{group}.{method}", {}))
    out = {}
    for p in params:
        if p["name"] in rule.get("ignore", ()):
            continue
        p = Param(p, name=rule.get("rename", {}).get(p["name"], p["name"]))
        if p["name"] in rule.get("required", ()):
            p = Param(p, required=None)  # required here, defaulted elsewhere: not compared
        out[p["name"]] = p
    for n in rule.get("absent", ()):
        out[n] = None  # not in this surface, on purpose
    return out


def compare_params(method: str, views: dict) -> list[str]:
    problems = []
    names = set().union(*(set(v) for v in views.values())) if views else set()
    for n in sorted(names):
        seen = {s: v[n] for s, v in views.items() if n in v}
        for s in sorted(set(views) - set(seen)):
            problems.append(f"{method}({n}): missing in {s} (has {sorted(views[s])})")
        present = {s: p for s, p in seen.items() if p is not None}
        req = {s: p["required"] for s, p in present.items() if p["required"] is not None}
        if len(set(req.values())) > 1:
            problems.append(f"{method}({n}): required in {sorted(s for s, r in req.items() if r)}, optional in {sorted(s for s, r in req.items() if not r)}")
        defaults = {s: p["default"] for s, p in present.items() if p["default"] is not None}
        if len(set(map(repr, defaults.values()))) > 1:
            problems.append(f"{method}({n}): defaults differ: {defaults}")
        # A default one surface states must be stated by every surface where it is optional.
        if defaults:
            for s, p in present.items():
                if p["required"] is False and p["default"] is None and s != "rust_blocking" and not s.startswith("rust"):
                    problems.append(f"{method}({n}): {s} states no default, others {defaults}")
    # Required parameters come in the same order everywhere.
    orders = {s: [k for k, p in v.items() if p is not None and p["required"]] for s, v in views.items()}
    if len({tuple(o) for o in orders.values()}) > 1:
        problems.append(f"{method}: required parameters in different orders: {orders}")
    return problems


if __name__ == "__main__":
    found = compare(load_surfaces())
    print("\n".join(found) or "the five surfaces agree")
    raise SystemExit(1 if found else 0)
