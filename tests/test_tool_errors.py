"""Expected refusals end a tool with their message alone, bugs keep their traceback (issue 27)."""
import glob
import importlib.util
import os
import textwrap

import pytest
from mmseg.registry import DATASETS

import integrations.mmseg  # noqa: F401  (registers the datasets)
from integrations.cli import PROJECT_FOLDERS, is_refusal, run_tool
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _module(folder, name, source):
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path):
    """A stand-in project folder with checks that refuse and code with bugs."""
    (tmp_path / "project").mkdir()
    checks = _module(tmp_path / "project", "checks", """
        import json

        def refuse(path):
            if path:
                raise FileNotFoundError(
                    f"list not found: {path}")

        def parse(text):
            return int(text)  # a ValueError of the project's code, not a refusal

        def load(text):
            return json.loads(text)  # a ValueError raised inside the json library

        def wrong_type():
            raise TypeError("a bug, however clear")
        """)
    return str(tmp_path / "project"), checks


def _raised(function, *args):
    with pytest.raises(Exception) as info:
        function(*args)
    return info.value


def test_a_refusal_is_an_expected_type_raised_by_a_raise_statement_of_the_project(project):
    folder, checks = project
    assert is_refusal(_raised(checks.refuse, "a.txt"), [folder])  # a raise statement over two lines
    assert not is_refusal(_raised(checks.parse, "x"), [folder])  # int('x') in the project's code: a bug
    assert not is_refusal(_raised(checks.load, "{"), [folder])  # raised inside a library
    assert not is_refusal(_raised(checks.wrong_type), [folder])  # not a refusal type
    assert not is_refusal(_raised(checks.refuse, "a.txt"), [os.path.dirname(folder) + "/elsewhere"])


def test_a_dataset_refusal_built_through_mmengines_registry_is_a_refusal_of_this_project():
    error = _raised(DATASETS.build, dict(type="FSS1000Dataset", data_root="/no/such/folder", split_file="x.txt"))
    assert str(error) == "FSS-1000 data_root not found: /no/such/folder"
    assert is_refusal(error, PROJECT_FOLDERS)


def test_run_tool_prints_a_refusal_alone_exits_1_and_lets_bugs_through(project, capsys):
    folder, checks = project
    import integrations.cli as cli
    previous = cli.PROJECT_FOLDERS
    cli.PROJECT_FOLDERS = (folder,)
    try:
        with pytest.raises(SystemExit) as exit_info:
            run_tool(lambda: checks.refuse("a.txt"))
        assert exit_info.value.code == 1
        assert capsys.readouterr().err == "error: list not found: a.txt\n"
        with pytest.raises(ValueError, match="invalid literal"):
            run_tool(lambda: checks.parse("x"))
    finally:
        cli.PROJECT_FOLDERS = previous
    for result, status in ((3, 3), (0, 0), ({"mIoU": 1.0}, 0), (None, 0), (True, 0)):
        with pytest.raises(SystemExit) as exit_info:
            run_tool(lambda value=result: value)
        assert exit_info.value.code == status


def test_run_tool_treats_a_tools_own_error_type_as_a_refusal_wherever_raised(capsys):
    class ConversionError(ValueError):
        pass

    def main():
        raise ConversionError("label x.mat: not a MATLAB file")  # raised here, in tests/, outside the project

    with pytest.raises(SystemExit) as exit_info:
        run_tool(main, always=(ConversionError,))
    assert exit_info.value.code == 1 and capsys.readouterr().err == "error: label x.mat: not a MATLAB file\n"


def test_every_tool_ends_through_run_tool_and_a_missing_config_is_one_line(tmp_path, capsys):
    tools = sorted(glob.glob(os.path.join(ROOT, "tools", "**", "*.py"), recursive=True))
    mains = {os.path.relpath(path, ROOT): open(path).read().split('if __name__ == "__main__":')[1].strip()
             for path in tools if 'if __name__ == "__main__":' in open(path).read()}
    assert len(mains) >= 9 and all(call.startswith("run_tool(main") for call in mains.values()), mains
    tool = load_tool("test")
    with pytest.raises(SystemExit) as exit_info:
        run_tool(lambda: tool.main([str(tmp_path / "missing.py"), "weights.pth"]))
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == f"error: config file not found: {tmp_path / 'missing.py'}\n"
