# FSSAM on COCO-20i fold 3: configs/fssam_coco_fold0.py with fold 3 (released: exp/coco/FSSAM/split3/small).
_base_ = ['./fssam_coco_fold0.py']
fold = 3
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
