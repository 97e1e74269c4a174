# GF-SAM on Deepglobe, a target of the cross-domain benchmark (PATNet, ECCV 2022), with GF-SAM's settings
# (DINOv2 ViT-L/14 + SAM ViT-H, nothing trained, 1024x1024; its log: 49.5 mIoU 1-shot):
#   python tools/test.py configs/gfsam_cdfss_deepglobe.py --cfg-options dinov2_weights=PATH sam_weights=PATH [--shot 5]
_base_ = ['./gfsam_fss1000.py', './_base_/datasets/gfsam_cdfss.py']
test_dataloader = {{_base_.gfsam_deepglobe_test_dataloader}}
