# HSNet on COCO-20i fold 2: configs/hsnet_coco_fold0.py with fold 2.
_base_ = ['./hsnet_coco_fold0.py']
fold = 2
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
