"""FSS-1000: one folder per class holding ten images ``1.jpg``-``10.jpg`` and their masks ``1.png``-``10.png``.

Its classes are split 520/240/240 (HSNet's ``splits/fss/``)."""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Dict, List, Tuple

from mmseg.registry import DATASETS

from .base import FewShotDataset, Sample
from .checks import require_dir
from .lists import read_list_lines
from .protocols import SUPPORT_RULES, EpisodePlan, hsnet_line_plan

PATNET_SUPPORTS = tuple(f"{n}.jpg" for n in range(1, 11))  # data/fss.py: np.random.choice(range(1, 11)) -> '{n}.jpg'


@DATASETS.register_module()
class FSS1000Dataset(FewShotDataset):
    """FSS-1000 with HSNet's class split (``splits/fss/{trn,val,test}.txt``) and HSNet's episodes.

    HSNet (data/fss.py): the split's class names are sorted (class id = 1 + position), each class
    folder's ``.jpg`` files in sorted order make the queries, episode i is image i, and supports are
    drawn independently among the other images of the folder (a 5-shot episode may repeat one). Masks
    are converted to grey and thresholded at 128, whatever the PNG mode. In testing there is one
    episode per test image by default (2400 for the test split).

    PATNet's protocol (``protocol='patnet'``, test only; PATNet's ``data/fss.py`` is HSNet's): the same queries,
    each support ``{n}.jpg`` of the query's folder for n drawn from 1..10 (every class folder must hold
    ``1.jpg .. 10.jpg``), drawn as PATNet's ``test.py`` draws them, replayed from ``seed`` (0: its episodes).

    Args:
        data_root (str): Folder with one sub-folder per class.
        split_file (str): Class names, one per line.
        protocol (str): 'hsnet' or 'patnet'.
        support_rule (str): PATNet's protocol: 'independent' (its draws: a 5-shot episode may repeat a
            support) or 'distinct' (a repeated support is drawn again). HSNet's draws are independent.
        **kwargs: See :class:`FewShotDataset`.
    """

    PROTOCOLS = ("hsnet", "patnet")
    ONE_TEST_EPISODE_PER_IMAGE = True
    LABEL_FORMAT = "mask"

    def __init__(self, data_root: str, split_file: str, protocol: str = "hsnet", support_rule: str = "independent",
                 **kwargs):
        if support_rule not in SUPPORT_RULES or (protocol != "patnet" and support_rule != "independent"):
            raise ValueError(f"FSS1000Dataset: support_rule must be one of {SUPPORT_RULES} ('distinct': PATNet's "
                             f"protocol only), got {support_rule!r} with protocol {protocol!r}")
        self.data_root = require_dir(data_root, "FSS-1000 data_root")
        self.split_file, self.support_rule = split_file, support_rule
        self.class_names = tuple(sorted(line for _, line in read_list_lines(split_file, "FSS-1000 split file")))
        self._lines: List[Tuple[int, int]] = []
        super().__init__(protocol=protocol, **kwargs)

    @property
    def classes(self) -> Tuple[int, ...]:
        return tuple(range(1, len(self.class_names) + 1))

    @property
    def metainfo(self) -> dict:
        return dict(classes=self.class_names, class_ids=self.classes)

    @property
    def source(self) -> str:
        return self.split_file

    def list_samples(self) -> List[Sample]:
        samples = []
        for class_id, name in enumerate(self.class_names, 1):
            folder = require_dir(os.path.join(self.data_root, name), f"FSS-1000 class folder of '{name}'")
            images = sorted(f for f in os.listdir(folder) if os.path.splitext(f)[1] == ".jpg")
            if not images:
                raise ValueError(f"FSS-1000 class folder {folder} has no .jpg image")
            for image in images:
                self._lines.append((len(samples), class_id))
                stem = os.path.splitext(image)[0]
                samples.append(Sample(os.path.join(folder, image), os.path.join(folder, f"{stem}.png")))
        return samples

    def plan_episodes(self) -> EpisodePlan:
        plan = hsnet_line_plan(self._lines)
        if self.protocol == "hsnet":
            return plan
        return replace(plan, pools=self._numbered_pools(), supports_may_repeat=self.support_rule == "independent")

    def _numbered_pools(self) -> Dict[int, List[int]]:
        """Class -> its samples ``1.jpg .. 10.jpg`` in that order (PATNet's support n is pool entry n - 1)."""
        index = {sample.img_path: i for i, sample in enumerate(self.samples)}
        pools = {}
        for class_id, name in enumerate(self.class_names, 1):
            paths = [os.path.join(self.data_root, name, support) for support in PATNET_SUPPORTS]
            missing = [os.path.basename(p) for p in paths if p not in index]
            if missing:
                raise ValueError(f"FSS-1000 class folder {os.path.join(self.data_root, name)} lacks "
                                 f"{', '.join(missing)}: PATNet's protocol draws supports among 1.jpg .. 10.jpg")
            pools[class_id] = [index[p] for p in paths]
        return pools
