# GF-SAM on COCO-20i fold 0 with its settings (scripts/coco.sh, main_eval.py): DINOv2 ViT-L/14 + SAM ViT-H, nothing
# trained; HSNet's protocol at 1024x1024, 1000 episodes, seed 0. Its logs: 56.62 mIoU 1-shot
# (outputs/coco/fold0.txt), 67.09 5-shot (--shot 5; outputs/coco_5shot/fold0.txt).
#   python tools/test.py configs/gfsam_coco_fold0.py --cfg-options dinov2_weights=PATH sam_weights=PATH
_base_ = ['./_base_/models/gfsam_vitl_samh.py', './_base_/datasets/gfsam_coco_20i.py']
fold = 0  # the datasets' fold (theirs by default); a run option: --cfg-options fold=N
