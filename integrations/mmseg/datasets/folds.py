"""Class splits of the k-fold protocols: which classes a fold tests on (novel) and trains on (base)."""
from __future__ import annotations

from typing import Optional, Tuple


def fold_classes(fold: int, num_folds: int, num_classes: int, per_fold: Optional[int] = None,
                 interleaved: bool = False) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(base, novel) class ids (1-based) of ``fold``: ``per_fold`` novel classes, every other class base.

    Contiguous folds (PASCAL-5i, Table 10; the generated data): novel = fold*n+1 .. (fold+1)*n.
    Interleaved folds (COCO-20i as PFENet and HSNet split it): novel = {num_folds*k + fold + 1 : k = 0..n-1}.
    ``fold == num_folds`` holds no class out: every class is base, none novel (PATNet's ``--fold 4``: the
    cross-domain benchmark trains on all 20 PASCAL classes; its data/pascal.py makes fold 4's novel ids
    20..24, none of PASCAL's 0..19).

    Args:
        fold (int): 0 .. num_folds - 1, or num_folds for no class held out.
        num_folds (int): Number of folds.
        num_classes (int): Classes of the dataset, ids 1..num_classes.
        per_fold (int, optional): Novel classes per fold. Default: ``num_classes // num_folds``.
        interleaved (bool): Interleaved rather than contiguous folds. Default: False.
    """
    if not 0 <= fold <= num_folds:
        raise ValueError(f"fold must be in 0..{num_folds - 1}, or {num_folds} for no class held out; got {fold}")
    if fold == num_folds:
        return tuple(range(1, num_classes + 1)), ()
    per_fold = num_classes // num_folds if per_fold is None else per_fold
    if interleaved:
        novel = tuple(num_folds * k + fold + 1 for k in range(per_fold))
    else:
        novel = tuple(range(fold * per_fold + 1, (fold + 1) * per_fold + 1))
    return tuple(c for c in range(1, num_classes + 1) if c not in novel), novel
