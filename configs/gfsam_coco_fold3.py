# GF-SAM on COCO-20i fold 3: configs/gfsam_coco_fold0.py with fold 3. GF-SAM's logs: 57.12 mIoU 1-shot
# (outputs/coco/fold3.txt), 64.83 5-shot (--shot 5; outputs/coco_5shot/fold3.txt).
_base_ = ['./gfsam_coco_fold0.py']
fold = 3
test_dataloader = dict(dataset=dict(fold=fold))
