# SANSA on COCO-20i fold 2: configs/sansa_coco_fold0.py with fold 2 (released adapter_coco_fold2.pth).
_base_ = ['./sansa_coco_fold0.py']
fold = 2
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
