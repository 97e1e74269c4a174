"""Episode pictures: masks stay visible on objects of any colour; captions name the class."""
import numpy as np

from integrations.mmseg.visualization.visualization import PALETTE, PREDICTION_COLOUR, class_caption, overlay


def _object(colour, background=None):
    image = np.full((40, 40, 3), colour if background is None else background, np.uint8)
    image[10:30, 10:30] = colour
    label = np.zeros((40, 40), np.uint8)
    label[10:30, 10:30] = 1
    return image, label


def test_a_mask_on_an_object_of_any_colour_stays_distinguishable_even_on_a_background_of_that_colour():
    for colour in PALETTE + ((255, 255, 255), (0, 0, 0)):
        image, label = _object(colour)  # object and background alike: only the overlay shows the mask
        drawn = overlay(image, label, PREDICTION_COLOUR).astype(np.float32)
        inside = drawn[14:26, 14:26].reshape(-1, 3).mean(axis=0)
        assert np.linalg.norm(inside - np.asarray(colour, np.float32)) > 60, colour
        edge = drawn[9, 10:30].reshape(-1, 3)  # the outline just outside the object
        assert np.abs(edge - np.asarray(colour, np.float32)).max(axis=1).min() > 100, colour


def test_the_role_colour_is_kept_where_it_is_visible():
    image, label = _object((128, 128, 128), background=(0, 0, 0))
    drawn = overlay(image, label, PREDICTION_COLOUR)
    assert drawn[20, 20, 2] > drawn[20, 20, 0] + 60  # red tint (BGR) on a grey object


def test_captions_name_the_class_when_the_dataset_lists_names():
    meta = dict(classes=("aeroplane", "bicycle"), class_ids=(1, 2))
    assert class_caption(7, 2, meta) == "episode 7  class 2 (bicycle)"
    assert class_caption(7, 3, meta) == "episode 7  class 3"
    assert class_caption(0, 1, None) == "episode 0  class 1"
