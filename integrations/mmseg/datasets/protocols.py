"""PFENet's and HSNet's episode rules: query order, candidate classes, support pools and support draws.

An :class:`EpisodePlan` holds what a protocol fixes before any random draw; :func:`draw_episode` makes
one episode from it with the project's seeded generator (the peers draw from global random states, so
their draws themselves cannot be replayed, only their rules).

PFENet (``util/dataset.py``):
  - a class counts in an image when it covers >= 2*32*32 pixels (``make_dataset``); the image list is
    the images where a class of the split counts, in list order, and each class's support pool is the
    images where it counts;
  - the query's class is drawn uniformly among every class of the split present in the query, whatever
    its pixel count (``SemData.__getitem__``), in training and in testing;
  - the k supports are distinct pool entries whose image is not the query;
  - testing (``test.py``) walks the image list in order (no shuffle), episode i on image i mod N;
    training shuffles the image list each epoch, one episode per image.

HSNet (``data/pascal.py``, ``data/fss.py``, ``data/coco.py``):
  - PASCAL and FSS-1000: episode i is line i mod N of the split (an image and its class; FSS: every
    image of the split's class folders, classes in sorted order, files in sorted order); the pool of a
    class is its lines; supports are drawn independently from the pool, rejecting the query only, so a
    k-shot episode may repeat a support;
  - COCO: the index is ignored; the class is uniform over the fold's classes, the query uniform over the
    class's images in the split file, the supports drawn as above.

PATNet, the cross-domain benchmark (``data/{deepglobe,isic,lung,fss}.py``, ``test.py``):
  - Deepglobe, ISIC, Chest X-ray: a pool of files per category, categories in their listed order; episode
    i is of category i mod C, its query drawn from the category's pool, then its supports;
  - FSS-1000 (``data/fss.py``, HSNet's own): episode i is image i of the split's sorted class folders; its
    supports are drawn among ``1.jpg .. 10.jpg`` of the query's folder (``range(1, 11)``);
  - every draw is ``np.random.choice(pool, 1, replace=False)`` from numpy's global generator, which
    ``test.py`` seeds once (``fix_randseed(0)``) before the episodes run in order (no shuffle, no worker):
    the first entry of a permutation of the pool; a support equal to the query is drawn again, so a k-shot
    episode may repeat a support. Unlike the others, these draws can be replayed exactly
    (:func:`replay_patnet_draws`); the option ``support_rule='distinct'`` also redraws a repeated support.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import AbstractSet, Dict, List, Mapping, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

PROTOCOLS = ("pfenet", "hsnet")  # the PASCAL / COCO layouts'; PATNet's ("patnet") belongs to its own layouts
SUPPORT_RULES = ("independent", "distinct")  # PATNet's draws: supports may repeat, or are redrawn until distinct
MIN_CLASS_PIXELS = 2 * 32 * 32  # PFENet: a class counts in an image (image list, support pools) from 2048 pixels


@dataclass(frozen=True)
class Query:
    """A query image (index into the dataset's samples) and the classes its episode may be of."""

    sample: int
    classes: Tuple[int, ...]


@dataclass
class EpisodePlan:
    """The queries in the peer's order, the support pool of each class and how supports are drawn.

    Args:
        queries: Episode i takes ``queries[i % len(queries)]`` (unless ``query_from_class_pool``).
        pools: Class -> sample indices its supports are drawn from (repeated entries count twice).
        supports_may_repeat: HSNet's independent draws (True) or PFENet's distinct draws (False).
        query_from_class_pool: HSNet's COCO rule: a uniform class, then a uniform query from its pool.
        class_cycle: With ``query_from_class_pool``, PATNet's rule: episode i's class is the i-th of the
            pool classes in turn (i mod C), not a uniform one.
    """

    queries: List[Query]
    pools: Dict[int, List[int]]
    supports_may_repeat: bool
    query_from_class_pool: bool = False
    class_cycle: bool = False
    pool_classes: Tuple[int, ...] = field(init=False)

    def __post_init__(self):
        self.pool_classes = tuple(sorted(c for c, pool in self.pools.items() if pool))

    @property
    def length(self) -> int:
        """The episodes in one pass, one per query, or one per distinct image of the pools (HSNet's COCO length)."""
        if self.query_from_class_pool:
            return len({s for c in self.pool_classes for s in self.pools[c]})
        return len(self.queries)

    @property
    def episode_classes(self) -> Tuple[int, ...]:
        if self.query_from_class_pool:
            return self.pool_classes
        return tuple(sorted({c for q in self.queries for c in q.classes}))


def pfenet_plan(class_pixels: Sequence[Mapping[int, int]], classes: Sequence[int], min_pixels: int) -> EpisodePlan:
    """PFENet's image list, candidate classes and pools from each sample's {class: pixel count}."""
    split = set(classes)
    queries, pools = [], defaultdict(list)
    for sample, pixels in enumerate(class_pixels):
        counted = sorted(c for c, n in pixels.items() if c in split and n >= min_pixels)
        if not counted:
            continue
        queries.append(Query(sample, tuple(sorted(c for c, n in pixels.items() if c in split and n > 0))))
        for class_id in counted:
            pools[class_id].append(sample)
    return EpisodePlan(queries, dict(pools), supports_may_repeat=False)


def hsnet_line_plan(lines: Sequence[Tuple[int, int]]) -> EpisodePlan:
    """HSNet's PASCAL / FSS-1000 rule from (sample, class) lines in split order."""
    pools = defaultdict(list)
    for sample, class_id in lines:
        pools[class_id].append(sample)
    return EpisodePlan([Query(s, (c,)) for s, c in lines], dict(pools), supports_may_repeat=True)


def hsnet_class_pool_plan(pools: Mapping[int, List[int]]) -> EpisodePlan:
    """HSNet's COCO rule from the split file's class -> images."""
    return EpisodePlan([], {c: list(p) for c, p in pools.items()}, supports_may_repeat=True,
                       query_from_class_pool=True)


def patnet_class_cycle_plan(pools: Mapping[int, List[int]], support_rule: str) -> EpisodePlan:
    """PATNet's Deepglobe / ISIC / Chest X-ray rule from each category's pool (class ids in the categories' order)."""
    return EpisodePlan([], {c: list(p) for c, p in pools.items()}, supports_may_repeat=support_rule == "independent",
                       query_from_class_pool=True, class_cycle=True)


def restrict_plan(plan: EpisodePlan, samples: AbstractSet[int]) -> EpisodePlan:
    """The plan on ``samples`` alone: other samples leave the queries and every support pool.

    Used to hold images out of training for a validation set on the training classes (both sides of
    the split call it, one with the held-out samples, one with the rest), so no image serves both.
    """
    pools = {c: [s for s in pool if s in samples] for c, pool in plan.pools.items()}
    queries = [q for q in plan.queries if q.sample in samples]
    return EpisodePlan(queries, pools, plan.supports_may_repeat, plan.query_from_class_pool, plan.class_cycle)


def keep_drawable(plan: EpisodePlan, shot: int, owner: str) -> EpisodePlan:
    """Drop the (query, class) pairs whose pool cannot give ``shot`` supports other than the query, with a warning.

    The peers' draw loops never end there (PFENet: fewer than k distinct other images; HSNet: no other
    image); on the published lists this never happens, so the plan is unchanged.
    """
    needed = 1 if plan.supports_may_repeat else shot
    counts = {c: Counter(pool) for c, pool in plan.pools.items()}

    def enough(query: int, class_id: int) -> bool:
        return len(plan.pools.get(class_id, ())) - counts.get(class_id, Counter())[query] >= needed

    if plan.query_from_class_pool:
        dropped = [c for c in plan.pool_classes if not all(enough(q, c) for q in set(plan.pools[c]))]
        pools = {c: p for c, p in plan.pools.items() if c not in dropped}
        kept = EpisodePlan([], pools, plan.supports_may_repeat, query_from_class_pool=True,
                           class_cycle=plan.class_cycle)
    else:
        queries = [Query(q.sample, tuple(c for c in q.classes if enough(q.sample, c))) for q in plan.queries]
        dropped = sorted(set(plan.episode_classes) - {c for q in queries for c in q.classes})
        kept = EpisodePlan([q for q in queries if q.classes], plan.pools, plan.supports_may_repeat)
    lost = len(plan.queries) - len(kept.queries)
    if dropped or lost:
        print_log(f"{owner}: classes {dropped or 'none'} lose their episodes and {lost} queries are left out: "
                  f"their pools hold fewer than {needed} support image(s) besides the query", logger="current",
                  level=30)
    return kept


def draw_episode(plan: EpisodePlan, index: int, rng: np.random.Generator, shot: int) -> Tuple[int, int, List[int]]:
    """(query sample, class, support samples) of episode ``index``, drawing from ``rng``."""
    if plan.query_from_class_pool:
        cycle = index % len(plan.pool_classes) if plan.class_cycle else rng.integers(len(plan.pool_classes))
        category = plan.pool_classes[cycle]
        pool = plan.pools[category]
        query = pool[rng.integers(len(pool))]
    else:
        chosen = plan.queries[index % len(plan.queries)]
        query, category = chosen.sample, chosen.classes[rng.integers(len(chosen.classes))]
    candidates = [s for s in plan.pools[category] if s != query]
    picks = rng.choice(len(candidates), size=shot, replace=plan.supports_may_repeat)
    return query, int(category), [candidates[i] for i in picks]


def replay_patnet_draws(plan: EpisodePlan, count: int, seed: int, shot: int) -> List[Tuple[int, int, List[int]]]:
    """(query sample, class, support samples) of episodes 0..count-1, drawn as PATNet's ``test.py`` draws them.

    numpy's legacy generator seeded with ``seed`` stands for the global one that ``fix_randseed(seed)`` seeds;
    the episodes are drawn in order, each draw ``choice(len(pool), 1, replace=False)`` (the numbers
    ``np.random.choice(pool, 1, replace=False)`` consumes, whatever the pool holds). So with PATNet's pools in
    its order and seed 0, these are its test episodes; an episode is still a function of (seed, index). With
    ``plan.supports_may_repeat`` False a support already drawn is drawn again too.
    """
    stream = np.random.RandomState(seed)

    def draw(pool: List[int]) -> int:
        return pool[stream.choice(len(pool), 1, replace=False)[0]]

    episodes = []
    for index in range(count):
        if plan.class_cycle:
            category = plan.pool_classes[index % len(plan.pool_classes)]
            query = draw(plan.pools[category])
        else:
            chosen = plan.queries[index % len(plan.queries)]
            query, category = chosen.sample, chosen.classes[0]
        supports: List[int] = []
        while len(supports) < shot:  # keep_drawable left only pools that end this loop
            support = draw(plan.pools[category])
            if support != query and (plan.supports_may_repeat or support not in supports):
                supports.append(support)
        episodes.append((query, int(category), supports))
    return episodes
