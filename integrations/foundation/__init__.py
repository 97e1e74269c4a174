"""What the foundation families share: SAM2 built from Meta's ``sam2`` package and its released files, naming what a
weight file holds, and turning a support marked by a box, clicks or a scribble into its mask.

Nothing here is imported by ``crc_modules`` or by the CNN families: ``sam2`` is imported only by the modules that
build it (:mod:`.sam2_models`, :mod:`.prompt_masks`), and only when used.
"""
