"""The project's import graph: no circle, and no arrow up.

Every module's imports are read with `ast`, those inside functions and under
TYPE_CHECKING included (they are arrows all the same), and checked against the table of
layers below. A module that no row of the table names fails the first test: give it a
row before anything else.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Where every module stands. A key names one module, or a whole package when it ends in
# ".*" (the package's __init__ included). Each package row is one unit: its modules may
# import each other.
LAYER_OF = {
    # The Pulumi program: its entry point, its pure helpers and components.
    "__main__": "program",
    "infra.*": "infra",
    # The function's code, the only files in its archive.
    "user_service.*": "function",
    # The local cloud's foundation: what any of its parts may stand on.
    "localcloud.atomic": "foundation",        # files written whole
    "localcloud.emulator": "foundation",      # moto on 127.0.0.1, clients for it
    "localcloud.control_plane": "foundation",  # reads stages, functions, policies from moto
    "localcloud.kinds": "foundation",         # what a resource kind is made of
    "localcloud.policy": "foundation",        # IAM's policy language, evaluated
    "localcloud.sigv4": "foundation",         # SigV4 checks' shared steps (botocore)
    "localcloud.emulator_auth.*": "foundation",  # the emulator's front check (IAM at its port)
    "localcloud.invocation": "foundation",    # what a caller of a function gets back
    "localcloud.http.*": "foundation",        # an HTTP front door (waitress), for any service
    # The local cloud's services: each stands on its own.
    "localcloud.apigateway.*": "service",
    "localcloud.awslambda.*": "service",
    "localcloud.iam.*": "service",
    "localcloud.s3.*": "service",
    "localcloud.dynamodb.*": "service",
    "localcloud.logs.*": "service",
    "localcloud.acm.*": "service",
    "localcloud.route53.*": "service",
    # The engine composes the services into `pulumi up`.
    "localcloud.engine.*": "engine",
    # What runs the local cloud: the session, the CLI, log following.
    "localcloud": "composition",
    "localcloud.session": "composition",
    "localcloud.__main__": "composition",
    "localcloud.cli": "composition",
    "localcloud.tail": "composition",
    "localcloud.watch": "composition",      # up --watch: follows the checkout's edits
    # The promotion tool. Only its local-cloud backend and its CLI know the local cloud.
    "promotion.local_backend": "promotion on the local cloud",
    "promotion.__main__": "promotion on the local cloud",
    "promotion.*": "promotion",
}

BELOW_SERVICES = {"foundation", "infra"}
# What each layer may import, besides the modules of its own unit.
MAY_IMPORT = {
    "infra": set(),
    "program": {"infra"},
    "function": set(),
    "foundation": {"foundation", "infra"},
    "service": BELOW_SERVICES,
    "engine": {"service"} | BELOW_SERVICES,
    "composition": {"composition", "engine", "service"} | BELOW_SERVICES,
    "promotion": {"infra"},
    "promotion on the local cloud": {"promotion on the local cloud", "promotion", "composition",
                                     "engine", "service"} | BELOW_SERVICES,
}

# Where each top-level source folder's modules are importable from.
SOURCES = {"infra": ROOT / "infra", "localcloud": ROOT / "localcloud",
           "promotion": ROOT / "promotion", "user_service": ROOT / "function" / "user_service"}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


def project_modules() -> dict[str, Module]:
    modules = {"__main__": Module("__main__", ROOT / "__main__.py", False)}
    for top, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            modules[name] = Module(name, path, is_package)
    return modules


MODULES = project_modules()


def imported_names(module: Module) -> set[str]:
    """Every module name an import statement anywhere in the module names."""
    names = set()
    for node in ast.walk(ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, `level - 1` up
                package = module.name.split(".")[: None if module.is_package else -1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module
            # `from a import b` imports the module a.b where there is one, else a's name b.
            names.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                         for alias in node.names)
    return names


def edges() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    graph = {}
    for name, module in MODULES.items():
        graph[name] = {target for target in imported_names(module)
                       if target in MODULES and target != name}
    return graph


GRAPH = edges()


def unit_of(module: str) -> str | None:
    """The table row that places a module: its own name, or its nearest package row."""
    if module in LAYER_OF:
        return module
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        row = ".".join(parts[:end]) + ".*"
        if row in LAYER_OF:
            return row
    return None


def layer_of(module: str) -> str:
    return LAYER_OF[unit_of(module)]


def arrows_not_allowed(modules) -> list[str]:
    wrong = []
    for name in sorted(modules):
        layer = layer_of(name)
        for target in sorted(GRAPH[name]):
            if unit_of(target) != unit_of(name) and layer_of(target) not in MAY_IMPORT[layer]:
                wrong.append(f"{name} ({layer}) imports {target} ({layer_of(target)})")
    return wrong


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    assert [name for name in MODULES if unit_of(name) is None] == []


def test_the_checks_see_what_they_check():
    # The reader itself: it finds the modules and the arrows it is meant to judge.
    assert {"infra.naming", "localcloud.engine.deployer", "promotion.smoke",
            "user_service.handler", "__main__"} <= set(MODULES)
    assert "localcloud.engine.registry" in GRAPH["localcloud.engine.deployer"]
    assert "user_service.store" in GRAPH["user_service.routes"]  # a relative import
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_circle_between_modules():
    assert cycles(GRAPH) == []


def test_no_circle_between_packages():
    units: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        units.setdefault(unit_of(name), set()).update(
            unit_of(t) for t in targets if unit_of(t) != unit_of(name))
    assert cycles(units) == []


@pytest.mark.parametrize("layer", sorted(set(LAYER_OF.values())))
def test_no_arrow_up(layer):
    assert arrows_not_allowed(n for n in MODULES if layer_of(n) == layer) == []


def test_each_service_package_stands_on_its_own():
    # No service imports another service, the engine, or what composes them.
    services = [n for n in MODULES if layer_of(n) == "service"]
    assert len({unit_of(n) for n in services}) == 8
    assert arrows_not_allowed(services) == []


def test_the_real_aws_side_of_promotion_does_not_import_the_local_cloud():
    for name in ("promotion.automation_backend", "promotion.smoke", "promotion.commands",
                 "promotion.decisions", "promotion.backends"):
        assert [t for t in GRAPH[name] if t.split(".")[0] == "localcloud"] == [], name


def test_the_http_front_door_knows_nothing_of_api_gateway():
    front_door = [n for n in MODULES if unit_of(n) == "localcloud.http.*"]
    assert front_door, "the HTTP front door package is missing"
    for name in front_door:
        assert [t for t in GRAPH[name] if t.split(".")[:2] != ["localcloud", "http"]] == []
        text = MODULES[name].path.read_text(encoding="utf-8")
        for word in ("apigateway", "API Gateway", "Missing Authentication Token", "x-amzn",
                     "10 MB"):
            assert word not in text, f"{name} says {word!r}: the gateway passes that in"
