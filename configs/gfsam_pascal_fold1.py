# GF-SAM on PASCAL-5i fold 1: configs/gfsam_pascal_fold0.py with fold 1. GF-SAM's logs: 75.70 mIoU 1-shot
# (outputs/pascal/fold1.txt), 86.32 5-shot (--shot 5; outputs/pascal_5shot/fold1.txt).
_base_ = ['./gfsam_pascal_fold0.py']
fold = 1
test_dataloader = dict(dataset=dict(fold=fold))
