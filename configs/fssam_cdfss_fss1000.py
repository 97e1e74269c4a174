# FSSAM on FSS-1000, a target of the cross-domain benchmark (PATNet, ECCV 2022), with weights trained by
# configs/fssam_pascal_fold4.py (PASCAL, no class held out), whose own test it is: python tools/test.py \
#     configs/fssam_cdfss_fss1000.py work_dirs/fssam_pascal_fold4/best_mIoU_epoch_N.pth [--shot 5] [--seeds 0 1 2 3 4]
_base_ = ['./fssam_pascal_fold4.py']
