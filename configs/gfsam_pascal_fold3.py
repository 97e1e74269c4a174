# GF-SAM on PASCAL-5i fold 3: configs/gfsam_pascal_fold0.py with fold 3. GF-SAM's logs: 73.25 mIoU 1-shot
# (outputs/pascal/fold3.txt), 82.90 5-shot (--shot 5; outputs/pascal_5shot/fold3.txt).
_base_ = ['./gfsam_pascal_fold0.py']
fold = 3
test_dataloader = dict(dataset=dict(fold=fold))
