"""The mark a dataset converter leaves in the tree it writes until it finishes (``tools/dataset_converters/``), which
the datasets refuse (``integrations.mmseg.datasets.checks.check_conversion_finished``). A module of its own, with no
import, so the converters' worker processes fork without torch's threads."""
CONVERSION_MARKER = ".conversion-incomplete"
