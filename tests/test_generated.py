"""The built-in generated benchmark (issue 11): only a model that looks at the support can win it."""
import itertools

import numpy as np

from integrations.mmseg.datasets import GeneratedFewShotDataset, class_appearance, fold_classes, render_scene
from integrations.mmseg.datasets.generated_scenes import CLASSES_PER_FOLD, NUM_CLASSES, NUM_FOLDS, scene_objects

CUES = ("shape", "pattern", "hue_name", "outlined")


def _fold(fold):
    return [class_appearance(c) for c in range(5 * fold + 1, 5 * fold + 6)]


def test_no_single_cue_names_a_test_class_and_training_sees_every_cue_in_other_combinations():
    looks = [class_appearance(c) for c in range(1, NUM_CLASSES + 1)]
    assert len(set(looks)) == NUM_CLASSES == 4 * 4 * 4 * 2  # every combination of the four cues, once
    for fold in range(4):
        base, novel = fold_classes(fold, NUM_FOLDS, NUM_CLASSES, CLASSES_PER_FOLD)
        assert set(base).isdisjoint(novel) and len(base) + len(novel) == NUM_CLASSES
        classes = _fold(fold)
        for cue in CUES:
            values = [getattr(look, cue) for look in classes]
            assert min(values.count(v) for v in values) >= 2, (fold, cue, values)  # every value is shared
            assert set(values) <= {getattr(class_appearance(c), cue) for c in base}, (fold, cue)
        for a, b in itertools.combinations(classes, 2):
            assert a.difference(b) >= 2, (a, b)


def test_test_queries_hold_a_distractor_and_the_target_is_seldom_the_largest_object():
    dataset = GeneratedFewShotDataset(fold=0, mode="test", num_episodes=200, seed=321)
    with_distractor = target_largest = 0
    for index in range(len(dataset)):
        query, category, _ = dataset.episode(index)
        counts = np.bincount(dataset.class_label(dataset.samples[query]).ravel(), minlength=NUM_CLASSES + 1)
        others = [counts[c] for c in range(1, NUM_CLASSES + 1) if c != category and counts[c]]
        with_distractor += bool(others)
        target_largest += counts[category] > max(others, default=0)
    assert with_distractor >= 0.9 * len(dataset)
    assert target_largest <= 0.6 * len(dataset)


def test_targets_are_drawn_in_front_of_distractors_as_often_as_behind():
    in_front = overlaps = 0
    for instance in range(200):
        _, objects = scene_objects(0, 1, instance, 1, 80, (1, 2, 3, 4, 5))
        for (first, first_mask), (second, second_mask) in itertools.combinations(objects, 2):
            if (first == 1) != (second == 1) and (first_mask & second_mask).any():  # target and distractor overlap
                overlaps += 1
                in_front += second == 1  # drawn later: on top
    assert overlaps > 50 and 0.4 <= in_front / overlaps <= 0.6


def test_distractors_look_like_the_target():
    base, _ = fold_classes(0, NUM_FOLDS, NUM_CLASSES, CLASSES_PER_FOLD)
    differences = []
    for instance in range(100):
        _, objects = scene_objects(0, 7, instance, 0, 80, base)
        differences += [class_appearance(c).difference(class_appearance(7)) for c, _ in objects if c != 7]
    assert differences and max(differences) <= 2 and min(differences) >= 1


def test_scenes_are_a_pure_function_of_their_arguments():
    first, again = render_scene(3, 7, 11, 0, 64, (6, 7, 8)), render_scene(3, 7, 11, 0, 64, (6, 7, 8))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert set(np.unique(first[1])) <= {0, 6, 7, 8} and 7 in first[1]
