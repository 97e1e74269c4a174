"""Every command the README and docs/ document runs as written (issue 33, item 4): each `python tools/...` and
`bash tools/...` command's tool exists, the configs it names exist, and the tool's own argument parser accepts its
arguments (parsed, not run); each `python -m integrations...` module exists. A stale command fails here."""
import argparse
import glob
import importlib.util
import os
import re
import shlex

import pytest

from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = ["README.md"] + sorted(os.path.relpath(path, ROOT)
                                   for path in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
COMMAND = re.compile(r"(?:python|bash) (?:tools/\S+|-m integrations\.\S+)")
PLACEHOLDER = re.compile(r"[{}*<>]|\.\.\.")


def code_blocks_and_prose(text):
    """(the lines of shell code blocks, the prose between blocks): fences are read in order."""
    shell, prose, language = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            language = None if language is not None else (line[3:].strip() or "text")
            continue
        if language is None:
            prose.append(line)
        elif language in ("bash", "sh", "text"):
            shell.append(line)
    return "\n".join(shell), "\n".join(prose)


def documented_commands():
    """(document, command) for each command: code blocks' lines (joined over trailing backslashes, comments cut)
    and inline code spans."""
    commands = []
    for document in DOCUMENTS:
        shell, prose = code_blocks_and_prose(open(os.path.join(ROOT, document), encoding="utf-8").read())
        for line in shell.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if COMMAND.match(line):
                commands.append((document, line))
        for span in re.findall(r"`([^`\n]+(?:\n[^`\n]+)?)`", prose):
            span = " ".join(span.split())
            if COMMAND.match(span):
                commands.append((document, span))
    return sorted(set(commands))


class Parsed(Exception):
    """Raised by the patched parser once a tool's arguments are parsed: nothing of the tool runs."""


def parse_only(monkeypatch):
    original = argparse.ArgumentParser.parse_args

    def parse(self, args=None, namespace=None):
        original(self, args, namespace)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse)


@pytest.mark.parametrize("document, command", documented_commands(), ids=lambda value: value[:60])
def test_each_documented_command_names_existing_files_and_its_tools_parser_accepts_it(document, command,
                                                                                        monkeypatch):
    check_command(document, command, monkeypatch)


def test_a_stale_command_fails_the_check(monkeypatch):
    with pytest.raises(AssertionError, match="no configs/crcnet_pascal_fold9.py"):
        check_command("README.md", "python tools/train.py configs/crcnet_pascal_fold9.py", monkeypatch)
    with pytest.raises(SystemExit):  # argparse: unrecognized arguments
        check_command("README.md", "python tools/test.py configs/crcnet_generated.py W --shots 5", monkeypatch)
    with pytest.raises(AssertionError, match="no tools/evaluate.py"):
        check_command("README.md", "python tools/evaluate.py configs/crcnet_generated.py", monkeypatch)


def check_command(document, command, monkeypatch):
    """Assert ``command``'s tool and configs exist and the tool's parser accepts its arguments (SystemExit if not)."""
    # an optional part [--x y] is checked as given, of alternatives a|b the first; '...' (and so on) is left out
    words = [word.split("|")[0] for word in shlex.split(command.replace("[", " ").replace("]", " "))
             if word != "..."]
    if words[1] == "-m":
        assert importlib.util.find_spec(words[2]) is not None, f"{document}: no module {words[2]}"
        return
    tool = os.path.join(ROOT, words[1])
    assert os.path.isfile(tool), f"{document}: no {words[1]} ({command})"
    for word in words[2:]:
        if word.startswith("configs/") and word.endswith(".py") and not PLACEHOLDER.search(word):
            assert os.path.isfile(os.path.join(ROOT, word)), f"{document}: no {word} ({command})"
    if words[0] == "bash":
        return
    monkeypatch.chdir(ROOT)
    parse_only(monkeypatch)
    module = load_tool(os.path.relpath(tool, os.path.join(ROOT, "tools"))[:-3])
    with pytest.raises(Parsed):
        module.main(words[2:])


def test_the_commands_are_found():
    commands = [command for _, command in documented_commands()]
    assert len(commands) > 40
    assert any(command.startswith("python tools/train.py configs/crcnet_pascal_fold0.py") for command in commands)
