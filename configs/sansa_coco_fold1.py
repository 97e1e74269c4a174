# SANSA on COCO-20i fold 1: configs/sansa_coco_fold0.py with fold 1 (released adapter_coco_fold1.pth).
_base_ = ['./sansa_coco_fold0.py']
fold = 1
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
