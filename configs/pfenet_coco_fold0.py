# PFENet on COCO-20i fold 0: 641x641 crops, 50 epochs, batch 8 (PFENet's COCO settings).
_base_ = ['./_base_/models/pfenet_r50.py', './_base_/datasets/coco_20i.py', './_base_/schedules/sgd_200e.py',
          './_base_/default_runtime.py']
base_lr = 0.005
max_epochs = 50
crop_size = (641, 641)
train_pipeline = [
    dict(type='RandomResize', scale=(641, 641), ratio_range=(0.9, 1.1), keep_ratio=True),
    dict(type='RandomRotate', prob=1.0, degree=10, pad_val=0, seg_pad_val=255),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='Pad', size=crop_size, pad_val=dict(img=0, seg=255)),
    dict(type='RandomFlip', prob=0.5),
]
test_pipeline = [dict(type='LongerSideResizePad', size=641)]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
