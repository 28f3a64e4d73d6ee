"""Config checks: every component type, argument and override key exists, before anything
is built.

A typo in a config or a ``--cfg-options`` key becomes one :class:`ConfigError` that names
the key and the closest valid names, instead of a deep traceback from whatever builds the
component.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Iterable

from mmengine.config import Config

from corrflow.errors import ConfigError

__all__ = ['check_config_components', 'check_cfg_options', 'set_dataset_root']


def _lookup(node: Any, parts: list[str]) -> tuple[bool, list[str]]:
    """Whether the dotted path exists; on failure, the keys available at the break."""
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                return False, [str(k) for k in node.keys()]
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, []
    return True, []


# Top-level keys the Runner reads besides its constructor arguments.
_RUNNER_EXTRA_KEYS = ('sync_bn', 'find_unused_parameters', 'model_wrapper_cfg', 'compile',
                      'auto_scale_lr', 'strategy', 'task', 'data_root', 'runner_type')


def _component_params(type_name: Any) -> tuple[set[str], bool] | None:
    """Constructor parameters of a registered type (and whether it takes **kwargs).

    Follows ``**kwargs`` into base classes. None when the type is not found.
    """


    cls = type_name if not isinstance(type_name, str) else _registered(type_name)
    if cls is None:
        return None
    params: set[str] = set()
    targets = cls.__mro__ if inspect.isclass(cls) else (cls,)
    for target in targets:
        init = target.__init__ if inspect.isclass(target) else target
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            return params, True
        params.update(n for n, p in sig.parameters.items()
                      if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and n != 'self')
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            return params, False
        if target is object:
            break
    return params, True


_REGISTRY_NAMES = ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'TASK_UTILS', 'LOOPS',
                   'DATA_SAMPLERS', 'PARAM_SCHEDULERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
                   'OPTIM_WRAPPER_CONSTRUCTORS', 'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS',
                   'FUNCTIONS', 'EVALUATOR', 'WEIGHT_INITIALIZERS', 'MODEL_WRAPPERS', 'RUNNERS',
                   'RUNNER_CONSTRUCTORS', 'STRATEGIES', 'INFERENCERS')
_CONFIG_KEYS = ('type', '_scope_', '_delete_')


def _registered(type_name: str):
    """The class or function registered as ``type_name`` in any corrflow registry, or None."""
    from corrflow import registry

    for name in _REGISTRY_NAMES:
        try:
            found = getattr(registry, name).get(type_name)
        except (KeyError, AttributeError, ImportError):
            found = None
        if found is not None:
            return found
    return None


def _all_registered_names() -> list[str]:
    from corrflow import registry

    names: set[str] = set()
    for name in _REGISTRY_NAMES:
        reg = getattr(registry, name, None)
        while reg is not None:
            names.update(reg.module_dict)
            reg = reg.parent
    return sorted(names)


def check_config_components(node: Any, where: str = 'the config') -> None:
    """Refuse unknown component types and arguments a component does not take.

    Walks a config (or one of its parts): every dict with a string ``type``
    must name a registered component, and, when its constructor takes no
    ``**kwargs``, every other key must be one of its arguments. Run before
    anything is built, so that a typo is one :class:`ConfigError` naming the
    key, instead of an error raised deep inside the build.

    Raises:
        ConfigError: an unknown type, or an argument the component does not take.
    """
    def walk(item: Any, path: str) -> None:
        if isinstance(item, dict):
            kind = item.get('type')
            if isinstance(kind, str):
                _check_component(item, kind, path)
            for key, value in item.items():
                walk(value, f'{path}.{key}' if path else str(key))
        elif isinstance(item, (list, tuple)):
            for i, value in enumerate(item):
                walk(value, f'{path}.{i}')

    def _check_component(item: dict, kind: str, path: str) -> None:
        label = path or where
        if _registered(kind) is None:
            close = difflib.get_close_matches(kind.split('.')[-1], _all_registered_names(), n=3)
            hint = f' (did you mean {", ".join(close)}?)' if close else ''
            raise ConfigError(f'{label}.type: "{kind}" is not a registered component{hint}; '
                              'a component of your own needs its module in custom_imports')
        found = _component_params(kind)
        if found is None or found[1]:
            return  # takes **kwargs: its arguments cannot be checked here
        params = found[0]
        for key in item:
            if key in _CONFIG_KEYS or key in params:
                continue
            close = difflib.get_close_matches(str(key), sorted(params), n=3)
            hint = f'; did you mean {", ".join(close)}?' if close else ''
            raise ConfigError(f'{label}: {kind} takes no argument "{key}"{hint}')

    config = node.to_dict() if isinstance(node, Config) else node
    walk(config, '')


def check_cfg_options(cfg: Config, options: dict | None) -> None:
    """Refuse ``--cfg-options`` keys that neither exist nor are accepted.

    A key that is not in the config is accepted only when its parent is a
    component (a dict with ``type``) whose constructor takes that argument, or
    when it is a top-level key the Runner reads. A typo such as
    ``train_cfg.max_iter=10`` would otherwise be added and silently ignored.
    """
    if not options:
        return
    from mmengine.runner import Runner

    tree = cfg.to_dict()  # a plain copy, read only
    for key in options:
        parts = key.split('.')
        ok, siblings = _lookup(tree, parts)
        if ok:
            continue
        parent_ok, _ = _lookup(tree, parts[:-1])
        leaf = parts[-1]
        candidates = list(siblings)
        if len(parts) == 1:
            runner_keys = _component_params(Runner)[0] | set(_RUNNER_EXTRA_KEYS)
            if leaf in runner_keys:
                continue
            candidates += sorted(runner_keys)
        elif parent_ok:
            node = tree
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
            if isinstance(node, dict) and 'type' in node:
                found = _component_params(node['type'])
                if found is None or found[1] and not found[0] or leaf in found[0]:
                    continue  # unknown type, or an accepted argument
                candidates += sorted(found[0])
        close = difflib.get_close_matches(leaf, sorted(set(candidates)), n=3)
        hint = f'; did you mean {", ".join(".".join(parts[:-1] + [c]) for c in close)}?' \
            if close else ''
        raise ConfigError(f'--cfg-options: key "{key}" does not exist in the config{hint}')


def set_dataset_root(dataset_cfg: dict, root: str) -> int:
    """Set ``data_root`` of a dataset config and of all datasets it wraps.

    Returns:
        int: number of dataset configs that received the root.
    """
    count = 0
    if 'data_root' in dataset_cfg:
        dataset_cfg['data_root'] = root
        count += 1
    children: Iterable = dataset_cfg.get('datasets', []) or []
    if 'dataset' in dataset_cfg and isinstance(dataset_cfg['dataset'], dict):
        children = [*children, dataset_cfg['dataset']]
    for child in children:
        count += set_dataset_root(child, root)
    return count
