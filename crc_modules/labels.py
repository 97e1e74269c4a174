"""Label values shared by every ring: 0 background, 1 the episode's class (or a class id), ``IGNORE_INDEX`` ignored."""

IGNORE_INDEX = 255  # padding, object borders (PASCAL), crowd regions (COCO): left out of losses and metrics
