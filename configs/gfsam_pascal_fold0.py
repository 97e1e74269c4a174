# GF-SAM on PASCAL-5i fold 0 with its settings (scripts/voc.sh, main_eval.py): DINOv2 ViT-L/14 + SAM ViT-H, nothing
# trained; HSNet's protocol at 1024x1024, 1000 episodes, seed 0. Its logs: 71.12 mIoU 1-shot
# (outputs/pascal/fold0.txt), 81.49 5-shot (--shot 5; outputs/pascal_5shot/fold0.txt).
#   python tools/test.py configs/gfsam_pascal_fold0.py --cfg-options dinov2_weights=PATH sam_weights=PATH
_base_ = ['./_base_/models/gfsam_vitl_samh.py', './_base_/datasets/gfsam_pascal_5i.py']
fold = 0  # the datasets' fold (theirs by default); a run option: --cfg-options fold=N
