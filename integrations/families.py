"""The hosted model families, registered in one place: each family package under ``integrations/`` that has a
``family.py`` declares itself there (``FAMILY = Family(...)``), and the tools find it here.

A new family is one folder (``integrations/<name>/`` with its model and ``family.py``), its configs, its tests and
its model-zoo page (``docs/en/model_zoo/``): nothing in ``integrations/mmseg/``, ``crc_modules/`` or ``tools/`` names
it. What a family's model needs from the tools (its frozen files' run options, its promptable supports) it declares
on the model (:class:`~crc_modules.EpisodeModel`); what the family adds to the tools (its benchmark cases) it declares
here.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Dict, Mapping, NamedTuple, Tuple

import integrations


class BenchmarkCase(NamedTuple):
    """One row of ``tools/benchmark.py``: a config (with overrides) run at ``shots`` in a k-shot ``mode``.

    Attributes:
        config: The config file, e.g. ``'configs/crcnet_pascal_fold0.py'``.
        shots: Supports per episode.
        mode: The k-shot mode ('fusion' or 'finetune').
        overrides: ``--cfg-options`` key paths applied to the config (e.g. a smaller foundation model).
        multi_scale: Test at the multi-scale setting.
        folder: Prepare the supports once and segment ``--queries`` queries (the folder case).
        note: What a reader of the table should know (its own input size, what random weights do).
    """

    config: str
    shots: int = 1
    mode: str = "fusion"
    overrides: Mapping[str, object] = {}
    multi_scale: bool = False
    folder: bool = False
    note: str = ""


@dataclass(frozen=True)
class Family:
    """A hosted family.

    Attributes:
        name: As its paper names it ('GF-SAM').
        paper: Authors, title, venue.
        package: The package whose import registers its models (``'integrations.gfsam'``).
        config_prefix: Its configs' file-name prefix (``'gfsam_'``).
        benchmark_cases: ``tools/benchmark.py`` rows by name.
        train_step_configs: The configs whose training step ``tools/benchmark_train_step.py`` times (none for a
            family with nothing trained).
    """

    name: str
    paper: str
    package: str
    config_prefix: str
    benchmark_cases: Mapping[str, BenchmarkCase] = field(default_factory=dict)
    train_step_configs: Tuple[str, ...] = ()


def families() -> Tuple[Family, ...]:
    """Every family declared by a ``family.py`` in a package under ``integrations/``, in package-name order (the
    ``family.py`` modules import nothing heavy; the family's own package is imported by :func:`import_family`)."""
    found = []
    for module in sorted(pkgutil.iter_modules(integrations.__path__), key=lambda module: module.name):
        if module.ispkg and importlib.util.find_spec(f"integrations.{module.name}.family") is not None:
            found.append(importlib.import_module(f"integrations.{module.name}.family").FAMILY)
    return tuple(found)


def import_family(family: Family) -> None:
    """Register the family's models (import its package)."""
    importlib.import_module(family.package)


def train_step_configs() -> Tuple[str, ...]:
    """Every trained family's training-step configs, in family order."""
    return tuple(config for family in families() for config in family.train_step_configs)


def benchmark_cases() -> Dict[str, BenchmarkCase]:
    """Every family's benchmark rows, by name (names are unique across families)."""
    cases: Dict[str, BenchmarkCase] = {}
    for family in families():
        clash = cases.keys() & family.benchmark_cases.keys()
        if clash:
            raise ValueError(f"benchmark case {sorted(clash)[0]!r} of {family.name} is another family's name too")
        cases.update(family.benchmark_cases)
    return cases
