# PFENet on PASCAL-5i fold 0: 473x473 crops, batch 4, SGD lr 0.0025, 200 epochs, poly 0.9 (PFENet's settings).
# released_lr_x10 = True (or --cfg-options released_lr_x10=True) reproduces the released code, whose lr schedule
# multiplies every group's lr by 10; model.model.backbone_bn_updates=True its BatchNorm updates in the frozen backbone.
_base_ = ['./_base_/models/pfenet_r50.py', './_base_/datasets/pascal_5i.py', './_base_/schedules/sgd_200e.py',
          './_base_/default_runtime.py']
fold = 0
crop_size = (473, 473)
train_pipeline = [
    dict(type='RandomResize', scale=(473, 473), ratio_range=(0.9, 1.1), keep_ratio=True),
    dict(type='RandomRotate', prob=1.0, degree=10, pad_val=0, seg_pad_val=255),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='Pad', size=crop_size, pad_val=dict(img=0, seg=255)),
    dict(type='RandomFlip', prob=0.5),
]
test_pipeline = [dict(type='LongerSideResizePad', size=473)]
train_dataloader = dict(batch_size=4, dataset=dict(fold=fold, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(fold=fold, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(fold=fold, pipeline=test_pipeline))
