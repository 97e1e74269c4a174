_base_ = ['./crcnet_coco_fold0.py']
train_dataloader = dict(dataset=dict(fold=3))
val_dataloader = dict(dataset=dict(fold=3))
test_dataloader = dict(dataset=dict(fold=3))
