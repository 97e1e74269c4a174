# FSSAM on PASCAL-5i fold 3: configs/fssam_pascal_fold0.py with fold 3 (released: exp/pascal/FSSAM/split3/small).
_base_ = ['./fssam_pascal_fold0.py']
fold = 3
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
