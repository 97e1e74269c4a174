"""The command-line tools under ``tools/`` (no package) loaded as modules from their files, with nothing put on
``sys.path``: ``load_tool("infer")`` is ``tools/infer.py``, ``load_tool("analysis/check_dataset")``
``tools/analysis/check_dataset.py``. Each is loaded once and kept in ``sys.modules`` under a name of its own
(``crc_tool_infer``), so every test that loads a tool gets the same module (and its patches the same object)."""
import importlib.util
import os
import sys
from types import ModuleType

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")


def load_module(path: str, name: str) -> ModuleType:
    """The Python file ``path`` as module ``name``, loaded once (``sys.modules[name]`` while it is that file)."""
    path = os.path.abspath(path)
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == path:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before it runs: its dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_tool(name: str) -> ModuleType:
    """``tools/NAME.py`` as a module (``name`` relative to ``tools/``, without ``.py``)."""
    return load_module(os.path.join(TOOLS, f"{name}.py"), "crc_tool_" + name.replace("/", "_"))
