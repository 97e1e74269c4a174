# HSNet on PASCAL-5i fold 3: configs/hsnet_pascal_fold0.py with fold 3.
_base_ = ['./hsnet_pascal_fold0.py']
fold = 3
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
