# GF-SAM on FSS-1000 with its settings (scripts/fss.sh, main_eval.py): DINOv2 ViT-L/14 + SAM ViT-H, nothing trained;
# HSNet's protocol at 1024x1024, one episode per test image (2400), seed 0. Its logs: 88.04 mIoU 1-shot
# (outputs/fss/log.txt), 88.94 5-shot (--shot 5; outputs/fss_5shot/log.txt).
#   python tools/test.py configs/gfsam_fss1000.py --cfg-options dinov2_weights=PATH sam_weights=PATH
_base_ = ['./_base_/models/gfsam_vitl_samh.py', './_base_/datasets/gfsam_fss1000.py']
