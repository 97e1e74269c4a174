# GF-SAM on FSS-1000 with PATNet's episodes, a target of the cross-domain benchmark (PATNet, ECCV 2022), with
# GF-SAM's settings (DINOv2 ViT-L/14 + SAM ViT-H, nothing trained, 1024x1024; GF-SAM reports FSS-1000 by HSNet's
# rules only, which is configs/gfsam_fss1000.py):
#   python tools/test.py configs/gfsam_cdfss_fss1000.py --cfg-options dinov2_weights=PATH sam_weights=PATH [--shot 5]
_base_ = ['./gfsam_fss1000.py', './_base_/datasets/gfsam_cdfss.py']
test_dataloader = {{_base_.gfsam_fss1000_test_dataloader}}
