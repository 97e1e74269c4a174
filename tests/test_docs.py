"""The documentation (issue 33): each hosted family has its model-zoo page naming every one of its configs, the
README's links lead to files that exist, and the docs build (Sphinx, warnings as errors, nitpicky) fails on a broken
page link and on a Python reference that denotes nothing, while a correct page passes."""
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

from integrations.families import families

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs", "en")


def zoo_page(family):
    """``docs/en/model_zoo/<prefix>.md``: the family's configs' prefix without its underscore."""
    return os.path.join(DOCS, "model_zoo", family.config_prefix.rstrip("_") + ".md")


@pytest.mark.parametrize("family", families(), ids=lambda family: family.name)
def test_each_family_has_a_model_zoo_page_naming_every_config_it_owns(family):
    page = zoo_page(family)
    assert os.path.isfile(page), f"{family.name} has no model-zoo page {os.path.relpath(page, ROOT)}"
    text = open(page, encoding="utf-8").read()
    configs = sorted(glob.glob(os.path.join(ROOT, "configs", family.config_prefix + "*.py")))
    assert configs, family.config_prefix
    missing = [os.path.basename(c) for c in configs if f"configs/{os.path.basename(c)}" not in text]
    assert not missing, f"{os.path.relpath(page, ROOT)} does not name {missing}"
    index = open(os.path.join(DOCS, "index.md"), encoding="utf-8").read()
    assert f"model_zoo/{family.config_prefix.rstrip('_')}\n" in index, "the page is not in the index's toctree"
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert f"(docs/en/model_zoo/{family.config_prefix.rstrip('_')}.md)" in readme, "no link from the README's zoo"


def test_every_config_belongs_to_a_family_page():
    prefixes = tuple(family.config_prefix for family in families())
    orphans = [name for name in os.listdir(os.path.join(ROOT, "configs"))
               if name.endswith(".py") and not name.startswith(prefixes)]
    assert not orphans, f"configs of no hosted family (no model-zoo page): {orphans}"


def test_the_readmes_relative_links_lead_to_files_that_exist():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert len(local) >= 10
    broken = [link for link in local if not os.path.exists(os.path.join(ROOT, link))]
    assert not broken, broken
    assert sum(1 for _ in open(os.path.join(ROOT, "README.md"), encoding="utf-8")) < 200


def build(tmp_path, page):
    """Build a one-page site with the project's own ``conf.py`` (warnings as errors, nitpicky): (status, output)."""
    source = tmp_path / "source"
    (source / "_static").mkdir(parents=True)
    shutil.copy(os.path.join(DOCS, "conf.py"), source / "conf.py")
    (source / "index.md").write_text("# Index\n\n```{toctree}\npage\nother\n```\n", encoding="utf-8")
    (source / "other.md").write_text("# Other\n\n## A section\n", encoding="utf-8")
    (source / "page.md").write_text(page, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html",
                             str(source), str(tmp_path / "html")], capture_output=True, text=True, cwd=ROOT)
    return result.returncode, result.stdout + result.stderr


def test_the_docs_build_passes_a_correct_page_and_fails_on_broken_references(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    correct = ("# Page\n\n[the other page](other.md), {py:class}`crc_modules.CrossReference` (re-exported), "
               "{py:func}`crc_modules.masked_average_pool`, {py:class}`torch.nn.Module` (another package).\n")
    status, output = build(tmp_path / "correct", correct)
    assert status == 0, output
    status, output = build(tmp_path / "page", "# Page\n\n[a page that is not there](missing.md)\n")
    assert status != 0 and "missing.md" in output, output
    status, output = build(tmp_path / "name", "# Page\n\n{py:class}`crc_modules.NoSuchBlock`\n")
    assert status != 0 and "crc_modules.NoSuchBlock" in output, output
