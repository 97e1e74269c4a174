# FSSAM on PASCAL-5i fold 1: configs/fssam_pascal_fold0.py with fold 1 (released: exp/pascal/FSSAM/split1/small).
_base_ = ['./fssam_pascal_fold0.py']
fold = 1
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
