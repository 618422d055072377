"""The package's structure, as docs/architecture.md states it, checked on the source.

Every module of ``logitkit/`` is parsed (``ast``; nothing is imported) and its imports,
at the top or inside functions, are checked against four rules:

1. no import cycle between modules;
2. an import goes to the module's own stage or a lower one:
   ``_util`` < ``loaddata`` < ``prepdata`` < ``embed`` < ``predict`` < ``evaluate`` <
   ``interpret`` < ``pipeline`` < ``serve`` < the doors (``logitkit/__init__``,
   ``__main__``, ``pipeline/cli.py``); ``formula`` feeds ``prepdata``/``predict`` and
   imports only ``_util``, ``loaddata``, ``prepdata`` and ``predict``;
3. no private name of another stage: ``from x import _y``, a module path with a
   ``_part`` (``logitkit.interpret._figure``), or ``m._y`` on a module ``m`` of another
   stage (``_util`` is the shared, public-to-the-package toolbox);
4. no module over 450 lines.

``KNOWN`` lists violations allowed for a while (none now), each with the area that owns
it; a violation not in it fails, and so does an entry that no longer occurs (delete it:
the list only shrinks).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "logitkit"
PACKAGE = "logitkit"
STAGES = ["_util", "loaddata", "prepdata", "embed", "predict", "evaluate", "interpret", "pipeline", "serve"]
DOORS = {"logitkit", "logitkit.__main__", "logitkit.pipeline.cli"}
DOOR_LEVEL = len(STAGES)
FORMULA_IMPORTS = {"_util", "loaddata", "prepdata", "predict", "formula"}
MAX_LINES = 450

#: violations still present in files owned by other work (owner in the comment); remove
#: an entry when its fix lands
KNOWN: dict[str, str] = {}  # none left: every module keeps the rule


# ---------------------------------------------------------------- reading the source
def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out



def stage_of(module: str) -> str:
    """``logitkit.<stage>...`` -> stage; the doors -> 'door'."""
    if module in DOORS:
        return "door"
    return module.split(".")[1]


def level_of(stage: str) -> float:
    if stage == "door":
        return DOOR_LEVEL
    if stage == "formula":
        return STAGES.index("predict")  # imported from predict up; its own imports: FORMULA_IMPORTS
    return STAGES.index(stage)


def _absolute(mods: dict, module: str, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module if mods[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _private_part(target: str) -> str | None:
    """A ``_name`` component of a module path (``_util``, the stage itself, excepted)."""
    parts = target.split(".")[1:]
    for i, p in enumerate(parts):
        if p.startswith("_") and not p.startswith("__") and not (i == 0 and p == "_util"):
            return p
    return None


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def imports(mods: dict, module: str) -> tuple[set[str], list[tuple[str, str]]]:
    """(modules of the package ``module`` imports, [(target, private name or path used)])."""
    tree = ast.parse(mods[module].read_text(), str(mods[module]))
    targets: set[str] = set()
    private: list[tuple[str, str]] = []
    aliases: dict[str, str] = {}  # local name -> package module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] != PACKAGE:
                    continue
                targets.add(a.name)
                aliases[a.asname or a.name] = a.name
                if _private_part(a.name):
                    private.append((a.name, a.name))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(mods, module, node)
            if base.split(".")[0] != PACKAGE:
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                if base == PACKAGE and a.name.startswith("__"):  # the package's metadata (__version__)
                    continue
                if sub in mods:  # a module of a package
                    targets.add(sub)
                    aliases[a.asname or a.name] = sub
                    if _private_part(sub):
                        private.append((sub, sub))
                    continue
                targets.add(base)
                aliases[a.asname or a.name] = f"{base}.{a.name}"  # a class or function of ``base``
                if _private_part(base):
                    private.append((base, base))
                if a.name.startswith("_") and not a.name.startswith("__"):
                    private.append((base, f"{base}.{a.name}"))
    for node in ast.walk(tree):  # m._y on a module or class bound above (or a dotted logitkit.x._y)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = _dotted(node.value)
            target = aliases.get(base) if base else None
            if target is None and base in mods:
                target = base
            if target is not None:
                private.append((target, f"{target}.{node.attr}"))
    return {t for t in targets if t in mods or t.rsplit(".", 1)[0] in mods}, private


def _resolve(mods: dict, target: str) -> str:
    """A name imported from a module is an edge to that module."""
    return target if target in mods else target.rsplit(".", 1)[0]


# ---------------------------------------------------------------- the rules
def graph(mods: dict) -> dict[str, set[str]]:
    return {m: {_resolve(mods, t) for t in imports(mods, m)[0]} - {m} for m in mods}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def violations(root: Path = ROOT) -> list[str]:
    """Every rule broken in the package under ``root``, one line each (no line numbers,
    so that the text stays stable while the files change)."""
    mods = module_files(root)
    found = []
    g = graph(mods)
    for comp in cycles(g):
        found.append("cycle: " + " <-> ".join(comp))
    for m in sorted(mods):
        here = stage_of(m)
        if here not in STAGES + ["door", "formula"]:
            found.append(f"unknown stage: {m} (add '{here}' to the stage map in docs/architecture.md and this test)")
            continue
        _, private = imports(mods, m)
        for t in sorted(g[m]):
            there = stage_of(t)
            if there == here or there not in STAGES + ["door", "formula"]:
                continue
            upward = level_of(there) > level_of(here)
            if here == "formula":
                upward = there not in FORMULA_IMPORTS
            if upward:
                found.append(f"upward: {m} imports {t} ({there} is above {here})")
        for t, name in sorted(set(private)):
            if stage_of(_resolve(mods, t)) != here:
                found.append(f"private: {m} uses {name}")
        n = len(mods[m].read_text().splitlines())
        if n > MAX_LINES:
            found.append(f"long: {m} has more than {MAX_LINES} lines")
    return found


# ---------------------------------------------------------------- the tests
def test_no_new_violations():
    new = [v for v in violations() if v not in KNOWN]
    assert not new, "the package's structure (docs/architecture.md):\n" + "\n".join(new)


def test_known_violations_still_occur():
    gone = [v for v in KNOWN if v not in set(violations())]
    assert not gone, "fixed, so delete from KNOWN in tests/test_architecture.py:\n" + "\n".join(gone)


def test_the_checker_sees_each_kind_of_violation(tmp_path):
    """The rules fire on a small package written for the test (a test that cannot fail
    proves nothing), and stay quiet where the package is in order."""
    pkg = tmp_path / PACKAGE
    files = {
        "__init__.py": "__version__ = '1'\n",
        "_util/__init__.py": "",
        "_util/base.py": "from logitkit import __version__\nfrom logitkit.predict import model\n",  # upward
        "loaddata/__init__.py": "",
        "_util/errors.py": "",
        "loaddata/read.py": "from logitkit._util import errors\nfrom . import _helpers\n",  # in order
        "loaddata/_helpers.py": "",
        "predict/__init__.py": "",
        "predict/_hidden.py": "",
        "predict/model.py": "from logitkit.evaluate.score import _helper\nimport logitkit.evaluate.score as s\n"
                            "s._other()\nclass Model: ...\n",  # upward (twice private)
        "evaluate/__init__.py": "",
        "evaluate/score.py": "from logitkit.predict import model, _hidden\nfrom logitkit.predict.model import Model\n"
                             "Model._state()\nfrom logitkit.loaddata import read\nread._private\n"
                             + "x = 1\n" * MAX_LINES,  # cycle with predict.model, 3 private, long
        "weird/__init__.py": "",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    assert set(violations(pkg)) == {
        "cycle: logitkit.evaluate.score <-> logitkit.predict.model",
        "upward: logitkit._util.base imports logitkit.predict.model (predict is above _util)",
        "upward: logitkit.predict.model imports logitkit.evaluate.score (evaluate is above predict)",
        "private: logitkit.predict.model uses logitkit.evaluate.score._helper",
        "private: logitkit.predict.model uses logitkit.evaluate.score._other",
        "private: logitkit.evaluate.score uses logitkit.predict._hidden",
        "private: logitkit.evaluate.score uses logitkit.predict.model.Model._state",
        "private: logitkit.evaluate.score uses logitkit.loaddata.read._private",
        f"long: logitkit.evaluate.score has more than {MAX_LINES} lines",
        "unknown stage: logitkit.weird (add 'weird' to the stage map in docs/architecture.md and this test)",
    }
