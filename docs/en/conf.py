"""Sphinx configuration of crc-modules' documentation (MyST Markdown pages, API reference from the docstrings).

Build offline, warnings as errors, every cross-reference checked:
``sphinx-build -W --keep-going -n -b html docs/en docs/_build/html`` (``pip install -e '.[docs]'`` first).
"""
import importlib
import os
from importlib.metadata import version as installed_version

from sphinx.util.nodes import make_refnode

project = "crc-modules"
author = "crc-modules contributors"
copyright = "2026, crc-modules contributors"
release = version = installed_version("crc-modules")

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
autosummary_generate = True  # the API pages (docs/en/generated/, not committed) are made at each build

# MyST: ::: fences, $$ maths for the paper's equations, anchors for links to a page's sections
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# the API reference: Google-style ``Args:`` docstrings, signatures without the type clutter
# each object documented once, in the module that defines it (a package's re-exports are links to it)
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # a class's "Attributes:" as fields: a NamedTuple's fields keep their one entry

# Every reference inside the project must resolve. The build is offline (no intersphinx inventories), so names
# from other packages (torch, numpy, MMEngine, ...) and the plain-English types of docstrings cannot be linked.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|np|mmengine|mmseg|mmcv|PIL|cv2|gradio|sam2|sam3|timm|segment_anything|selenium)(\..*)?"),
    (r"py:.*", r"(nn|F|pathlib|os|typing|collections|abc|argparse|pickle|_pickle|zipfile|subprocess)(\..*)?"),
    (r"py:.*", r"(threading|_thread)(\..*)?"),
    (r"py:.*", r"(Tensor|Module|Parameter|Path|BatchNorm|Dropout|Runner|BaseModel|BaseDataset|Config|ConfigDict)"),
    (r"py:.*", r"(optional|callable|sequence|iterable|mapping|array|array-like|ndarray|tensor|module|dict-like)"),
    (r"py:.*", r"(_?T|T_co|Self|NoneType|ellipsis|builtins\..*|contextlib\..*|dataclasses\..*|functools\..*)"),
]



def locate(dotted):
    """The object a dotted name denotes (its longest importable module, then attributes), or None."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            if not hasattr(obj, attribute):
                return None
            obj = getattr(obj, attribute)
        return obj
    return None


def canonical_name(dotted):
    """Where the object a dotted name denotes is defined: ``crc_modules.EpisodeModel.loss`` ->
    ``crc_modules.episode_model.EpisodeModel.loss`` (for a plain value, its owner's place and its own name)."""
    owner, _, attribute = dotted.rpartition(".")
    obj = locate(dotted)
    if getattr(obj, "__module__", None) and getattr(obj, "__qualname__", None):
        return f"{obj.__module__}.{obj.__qualname__}"
    if owner and obj is not None:
        owner_name = canonical_name(owner) or owner
        return f"{owner_name}.{attribute}"
    return None


def resolve_short_names(app, env, node, contnode):
    """Resolve a Python reference that Sphinx's own lookup missed, or show it unlinked when the name exists but has
    no page of its own (a module's constant): a package's re-export (``crc_modules.EpisodeModel``, documented in
    ``crc_modules.episode_model``), a name relative to the citing module or class (``ROWS``, ``.priors``), or a name
    written without its module when exactly one documented object fits. A name that denotes nothing stays a warning,
    so a stale reference fails the build."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    objects = env.get_domain("py").objects
    module, cls = node.get("py:module") or "", node.get("py:class") or ""
    package = module.rpartition(".")[0]
    scopes = [f"{module}.{cls}" if cls else "", module, package, ""]
    for scope in scopes:
        dotted = f"{scope}.{target}" if scope else target
        if locate(dotted) is None and not (not scope and dotted in objects):
            continue
        name = dotted if dotted in objects else canonical_name(dotted)
        if name in objects:
            return make_refnode(app.builder, node["refdoc"], objects[name].docname, objects[name].node_id, contnode,
                                name)
        return contnode  # it exists, but has no entry of its own (a constant, a private helper)
    found = {name for name in objects if name.endswith("." + target)}
    if len(found) > 1:
        citing = module.split(".")
        shared = {name: len(os.path.commonprefix([name.split("."), citing])) for name in found}
        found = {name for name in found if shared[name] == max(shared.values())}
    if len(found) != 1:
        return None
    name = found.pop()
    return make_refnode(app.builder, node["refdoc"], objects[name].docname, objects[name].node_id, contnode, name)


def setup(app):
    app.connect("missing-reference", resolve_short_names)


html_theme = "furo"
html_title = "crc-modules"
html_static_path = ["_static"]
copybutton_prompt_text = r"\$ "
copybutton_prompt_is_regexp = True
