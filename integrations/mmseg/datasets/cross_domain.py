"""The targets of the cross-domain benchmark (PATNet, ECCV 2022): a pool of (image, mask) files per category.

PATNet (``data/deepglobe.py``, ``data/isic.py``, ``data/lung.py``) builds each category's pool with a glob,
draws test episodes by its own rules (``protocols.py``: episode i of category i mod C, PATNet's draws
replayed) and reads masks as grey >= 128. The layouts (``deepglobe.py``, ``isic.py``, ``chest_xray.py``)
say where the files are; this base holds what they share.
"""
from __future__ import annotations

import os
from typing import Dict, List, Sequence, Tuple

from .base import FewShotDataset, Sample
from .checks import require_dir
from .protocols import SUPPORT_RULES, EpisodePlan, patnet_class_cycle_plan


def patnet_glob(folder: str, extension: str) -> List[str]:
    """PATNet's pool of a folder: ``sorted(glob(folder + '/*'))`` where ``basename.split('.')[1] == extension``.

    As its loaders filter: the second dot-separated field of the name decides ('a.jpg' and 'a.jpg.png' are
    'jpg', 'a.b.jpg' is not); names without a dot and hidden files (which ``glob`` skips) are not taken.
    """
    names = [name for name in os.listdir(folder) if not name.startswith(".")]
    return [os.path.join(folder, name) for name in sorted(names) if name.split(".")[1:2] == [extension]]


def image_stem(path: str) -> str:
    """PATNet's id of an image file: its name up to the first dot (``name.split('.')[0]``)."""
    return os.path.basename(path).split(".")[0]


class CrossDomainDataset(FewShotDataset):
    """A target of PATNet's cross-domain benchmark, tested after training on PASCAL with no class held out.

    Test only. Episode i is of category i mod C (the categories in PATNet's order); its query and supports
    are drawn from the category's pool as PATNet's ``test.py`` draws them, replayed from ``seed`` (seed 0
    and PATNet's files: PATNet's own 600 episodes; other seeds for intervals). Masks are PATNet's grey
    >= 128; test images and masks are resized to 400 x 400 in the configs and scored at that size.

    Args:
        data_root (str): PATNet's ``--datapath``: the folder holding the layout's folder (``Deepglobe/``,
            ``ISIC/``, ``LungSegmentation/``).
        support_rule (str): 'independent' (PATNet: each support drawn on its own and drawn again only when
            it is the query, so a 5-shot episode may repeat a support) or 'distinct' (drawn again also when
            already drawn: k different supports).
        mode (str): 'test'.
        protocol (str): 'patnet'.
        **kwargs: See :class:`FewShotDataset` (shot, pipeline, num_episodes, seed, eval_label, backend_args).
    """

    PROTOCOLS = ("patnet",)
    LABEL_FORMAT = "mask"
    LAYOUT = ""  # the folders read, under data_root, for messages
    CATEGORIES: Tuple[str, ...] = ()  # PATNet's category folder names, in its order
    CLASS_NAMES: Tuple[str, ...] = ()  # what each category is, for tables and logs

    def __init__(self, data_root: str, support_rule: str = "independent", mode: str = "test",
                 protocol: str = "patnet", **kwargs):
        if support_rule not in SUPPORT_RULES:
            raise ValueError(f"{type(self).__name__}: support_rule must be one of {SUPPORT_RULES}, "
                             f"got {support_rule!r}")
        self.data_root = require_dir(data_root, f"{type(self).__name__} data_root")
        self.support_rule = support_rule
        self.base_classes, self.novel_classes = (), tuple(range(1, len(self.CATEGORIES) + 1))
        self._pools: Dict[int, List[int]] = {}
        super().__init__(mode=mode, protocol=protocol, **kwargs)

    @property
    def metainfo(self) -> dict:
        return dict(classes=self.CLASS_NAMES, class_ids=self.novel_classes)

    @property
    def source(self) -> str:
        return os.path.join(self.data_root, self.LAYOUT)

    def category_files(self, category: str) -> Sequence[Tuple[str, str]]:
        """(image, mask) paths of one category's pool, in PATNet's order."""
        raise NotImplementedError

    def list_samples(self) -> List[Sample]:
        samples = []
        for class_id, category in enumerate(self.CATEGORIES, 1):
            pairs = self.category_files(category)
            if not pairs:
                raise ValueError(f"{type(self).__name__}: category {category} ({self.CLASS_NAMES[class_id - 1]}) "
                                 f"has no file in {self.source}")
            self._pools[class_id] = list(range(len(samples), len(samples) + len(pairs)))
            samples += [Sample(image, mask) for image, mask in pairs]
        return samples

    def plan_episodes(self) -> EpisodePlan:
        return patnet_class_cycle_plan(self._pools, self.support_rule)
