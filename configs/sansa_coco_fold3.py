# SANSA on COCO-20i fold 3: configs/sansa_coco_fold0.py with fold 3 (released adapter_coco_fold3.pth).
_base_ = ['./sansa_coco_fold0.py']
fold = 3
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
