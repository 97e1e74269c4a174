"""Packaging: the core needs torch, torchvision, numpy and mmengine; the MMSegmentation host comes with [mmseg]."""
import ast
import glob
import importlib.metadata
import os
import re
import subprocess
import sys

import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = {"torch", "torchvision", "numpy", "mmengine"}
HOST_ONLY_MODULES = ("mmseg", "mmcv", "ftfy", "regex", "prettytable", "tqdm", "integrations")
# folders and modules that import their own extra's packages when loaded ([foundation]; the page's layout: [demo];
# its browser driver, for the README's screenshot and the browser tests: Selenium, in [test])
PAGE = "integrations/mmseg/apis/demo_page"
OWN_EXTRA_FOLDERS = ("integrations/sansa", "integrations/gfsam", "integrations/fssam", f"{PAGE}/layout.py",
                     f"{PAGE}/browser.py")


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        return tomllib.load(handle)["project"]


def _names(requirements):
    return {re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def _distributions_imported_by(folder, module_level_only=False, leave_out=()):
    """Distributions (not the standard library, not this project) whose modules the files under ``folder`` import.

    With ``module_level_only``, imports inside functions (optional features such as COCO's json) are left out;
    files under the ``leave_out`` folders are not read.
    """
    providers = importlib.metadata.packages_distributions()
    found = {}
    for path in glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True):
        if os.path.relpath(path, ROOT).startswith(tuple(leave_out)):
            continue
        tree = ast.parse(open(path).read())
        nodes = tree.body if module_level_only else ast.walk(tree)
        for node in nodes:
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("crc_modules", "integrations", "tests"):
                    continue
                for distribution in providers.get(top, [top]):
                    found.setdefault(distribution.lower(), set()).add(os.path.relpath(path, ROOT))
    return found


def test_the_core_install_declares_only_torch_torchvision_numpy_and_mmengine():
    assert _names(_project()["dependencies"]) == CORE


def test_crc_modules_imports_nothing_beyond_the_core_dependencies():
    assert set(_distributions_imported_by("crc_modules")) <= CORE


def test_the_mmseg_extra_with_the_core_covers_what_the_hosts_and_tools_import_and_extras_the_rest():
    """The host and the tools import only [mmseg] when loaded; the foundation families (importing sam2, timm,
    segment_anything when loaded) and the page (gradio; Selenium to drive it, in [test]) come with their extras;
    everything is in some extra."""
    extras = _project()["optional-dependencies"]
    host = CORE | _names(extras["mmseg"])
    imported = {**_distributions_imported_by("integrations", True, OWN_EXTRA_FOLDERS),
                **_distributions_imported_by("tools", True, OWN_EXTRA_FOLDERS)}
    assert not {name: files for name, files in imported.items() if name not in host}, "not in [mmseg]"
    optional = host | set().union(*(_names(extras[name]) for name in ("coco", "tensorboard", "convert", "foundation",
                                                                      "demo", "test", "backends")))
    imported = {**_distributions_imported_by("integrations"), **_distributions_imported_by("tools")}
    assert not {name: files for name, files in imported.items() if name not in optional}, "not in any extra"


def test_the_host_and_the_pages_logic_import_without_gradio_or_selenium():
    """Only the page's layout needs Gradio ([demo]) and only its browser driver Selenium ([test]): the host, its
    apis and the rest of the page's package import without them, and importing the host loads none of the page."""
    package = PAGE.replace("/", ".")
    modules = sorted(f"{package}.{os.path.basename(path)[:-3]}".replace(".__init__", "")
                     for path in glob.glob(os.path.join(ROOT, PAGE, "*.py")))
    modules = [module for module in modules if not module.endswith((".layout", ".browser"))]
    assert len(modules) == 10, modules
    code = ("import sys\n"
            "sys.modules.update(dict.fromkeys(('gradio', 'selenium')))\n"  # as if not installed
            "import integrations.mmseg, integrations.mmseg.apis\n"
            f"assert not [m for m in sys.modules if m.startswith({package!r})]\n"
            "import importlib\n"
            f"for module in {modules!r}:\n"
            "    importlib.import_module(module)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_core_package_imports_and_runs_without_mmseg_or_the_host_dependencies():
    hide = ("import sys\n"  # a None entry in sys.modules makes import and find_spec behave as if not installed
            f"sys.modules.update(dict.fromkeys({HOST_ONLY_MODULES!r}))\n")
    use = ("import torch\n"
           "from crc_modules import CRCNet, CrossReference\n"
           "model = CRCNet(encoder=dict(backbone='resnet10'), channels=16, refine_steps=1).eval()\n"
           "out = model(torch.randn(1, 3, 33, 33), torch.randn(1, 3, 33, 33), torch.ones(1, 1, 33, 33))\n"
           "assert out.query_logits.shape[:2] == (1, 2), out.query_logits.shape\n"
           "assert not [m for m, loaded in sys.modules.items()\n"
           f"            if m.split('.')[0] in {HOST_ONLY_MODULES!r} and loaded]\n")
    result = subprocess.run([sys.executable, "-c", hide + use], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]


def test_ci_installs_what_the_readme_installs():
    """The README's set-up extras, and the documentation's, which CI builds."""
    extras = {}
    for path in (".ci/run", "README.md"):
        found = re.findall(r"pip install (?:--quiet )?-e '\.\[([a-z,]+)\]'", open(os.path.join(ROOT, path)).read())
        extras[path] = set(found[0].split(","))
    assert extras["README.md"] == {"mmseg", "foundation", "demo", "test"}
    assert extras[".ci/run"] == extras["README.md"] | {"docs"}
