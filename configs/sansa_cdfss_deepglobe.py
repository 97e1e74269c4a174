# SANSA on Deepglobe, a target of the cross-domain benchmark (PATNet, ECCV 2022), with adapters trained by
# configs/sansa_pascal_fold4.py (PASCAL, no class held out): python tools/test.py configs/sansa_cdfss_deepglobe.py \
#     work_dirs/sansa_pascal_fold4/best_mIoU_epoch_N.pth --cfg-options sam2_weights=sam2_hiera_large.pt [--shot 5]
# PATNet's episodes and 400x400 scoring, as for every trained family; SAM2 takes the 400x400 images at its 1024.
_base_ = ['./sansa_pascal_fold4.py', './_base_/datasets/cdfss_deepglobe.py']
test_dataloader = {{_base_.deepglobe_test_dataloader}}
