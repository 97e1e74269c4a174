# GF-SAM on COCO-20i fold 2: configs/gfsam_coco_fold0.py with fold 2. GF-SAM's logs: 59.63 mIoU 1-shot
# (outputs/coco/fold2.txt), 65.97 5-shot (--shot 5; outputs/coco_5shot/fold2.txt).
_base_ = ['./gfsam_coco_fold0.py']
fold = 2
test_dataloader = dict(dataset=dict(fold=fold))
