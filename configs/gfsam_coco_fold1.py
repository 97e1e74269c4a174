# GF-SAM on COCO-20i fold 1: configs/gfsam_coco_fold0.py with fold 1. GF-SAM's logs: 61.44 mIoU 1-shot
# (outputs/coco/fold1.txt), 69.41 5-shot (--shot 5; outputs/coco_5shot/fold1.txt).
_base_ = ['./gfsam_coco_fold0.py']
fold = 1
test_dataloader = dict(dataset=dict(fold=fold))
