# CRCNet on PASCAL-5i fold 0 with Section 5.1's settings: python tools/train.py configs/crcnet_pascal_fold0.py
_base_ = ['./_base_/models/crcnet_r50.py', './_base_/datasets/pascal_5i.py', './_base_/schedules/sgd_200e.py',
          './_base_/default_runtime.py']
fold = 0
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
