# GF-SAM on PASCAL-5i fold 2: configs/gfsam_pascal_fold0.py with fold 2. GF-SAM's logs: 69.17 mIoU 1-shot
# (outputs/pascal/fold2.txt), 79.69 5-shot (--shot 5; outputs/pascal_5shot/fold2.txt).
_base_ = ['./gfsam_pascal_fold0.py']
fold = 2
test_dataloader = dict(dataset=dict(fold=fold))
