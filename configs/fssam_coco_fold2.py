# FSSAM on COCO-20i fold 2: configs/fssam_coco_fold0.py with fold 2 (released: exp/coco/FSSAM/split2/small).
_base_ = ['./fssam_coco_fold0.py']
fold = 2
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
