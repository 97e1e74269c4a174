# SANSA on FSS-1000, a target of the cross-domain benchmark (PATNet, ECCV 2022), with adapters trained by
# configs/sansa_pascal_fold4.py (PASCAL, no class held out), whose own test it is: python tools/test.py \
#     configs/sansa_cdfss_fss1000.py work_dirs/sansa_pascal_fold4/best_mIoU_epoch_N.pth \
#     --cfg-options sam2_weights=sam2_hiera_large.pt [--shot 5] [--seeds 0 1 2 3 4]
_base_ = ['./sansa_pascal_fold4.py']
