"""Dependencies inside the package run one way: from the command line down to the errors.

Layers, lowest first: ``errors``/``version``, ``registry``, ``utils``, ``models``,
``datasets`` (its transforms use the colour layers of ``models``), ``evaluation``,
``engine`` and ``visualization``, ``apis``. A module may import its own layer and the
layers below; ``corrflow.utils.launch``, the helpers of the command-line tools, is imported
by no library module.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'corrflow'
LAYERS = {'errors': 0, 'version': 0, 'registry': 1, 'utils': 2, 'models': 3, 'datasets': 4,
          'evaluation': 5, 'engine': 6, 'visualization': 6, 'apis': 7}
COMMAND_LINE = 'corrflow.utils.launch'


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imports(path: Path, module: str | None = None) -> set[str]:
    """Absolute names of the corrflow modules (or their members) a file imports."""
    own = (module or _module(path)).split('.')
    package = own if path.name == '__init__.py' else own[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            found.update(f'{module}.{alias.name}' for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split('.')[0] == 'corrflow'}


def _layer(name: str) -> int | None:
    parts = name.split('.')
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_layers_are_known():
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix('.py') for p in PACKAGE.rglob('*.py')}
    assert tops - {'__init__'} <= set(LAYERS), tops - set(LAYERS)


def test_no_library_module_imports_a_layer_above_it_or_the_command_line():
    upward, command_line = [], []
    for path in PACKAGE.rglob('*.py'):
        module = _module(path)
        if module in (COMMAND_LINE, 'corrflow'):
            continue
        own = _layer(module)
        for name in _imports(path):
            if name.startswith(COMMAND_LINE):
                command_line.append(f'{module} -> {name}')
            target = _layer(name)
            if own is not None and target is not None and target > own:
                upward.append(f'{module} -> {name}')
    assert not command_line, command_line
    assert not upward, upward


def test_the_check_sees_a_violation(tmp_path):
    """The parser resolves relative imports, so the test above can fail."""
    probe = tmp_path / 'probe.py'
    probe.write_text('from ...engine import recalibrate_bn\nfrom ...utils import launch\n')
    module = 'corrflow.models.layers.probe'
    assert _imports(probe, module) == {'corrflow.engine.recalibrate_bn', 'corrflow.utils.launch'}
    assert _layer('corrflow.engine.recalibrate_bn') > _layer(module)
