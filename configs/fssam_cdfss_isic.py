# FSSAM on ISIC2018, a target of the cross-domain benchmark (PATNet, ECCV 2022), with weights trained by
# configs/fssam_pascal_fold4.py (PASCAL, no class held out): python tools/test.py configs/fssam_cdfss_isic.py \
#     work_dirs/fssam_pascal_fold4/best_mIoU_epoch_N.pth [--shot 5] [--seeds 0 1 2 3 4]
# PATNet's episodes and 400x400 scoring, as for every trained family; FSSAM stretches each image to its 512.
_base_ = ['./fssam_pascal_fold4.py', './_base_/datasets/cdfss_isic.py']
test_dataloader = {{_base_.isic_test_dataloader}}
