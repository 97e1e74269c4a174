"""What the foundation families share: SAM2 built from Meta's ``sam2`` package and its released files, naming what a
weight file holds, and turning a support marked by a box, clicks or a scribble into its mask.

Nothing here is imported by ``crc_modules`` or by the CNN families: ``sam2`` is imported only by the modules that
build it (:mod:`.sam2_models`, :mod:`.prompt_masks`), and only when used.
"""

# run options every config takes, naming the file of a step that serves every model: the support prompt step's SAM2
# (:func:`.prompt_masks.prompt_masker_for`); a model's own files are its ``EpisodeModel.weight_options``
PROMPT_WEIGHTS_OPTION = "sam2_weights"
SHARED_WEIGHT_OPTIONS = {PROMPT_WEIGHTS_OPTION: "Meta's SAM2 file (sam2_hiera_*.pt, sam2.1_hiera_*.pt): turns a "
                                                "support's box, clicks or scribble into its mask"}
