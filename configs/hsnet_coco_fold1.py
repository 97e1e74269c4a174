# HSNet on COCO-20i fold 1 with HSNet's settings (README, train.py): ResNet-101 (HSNet also released ResNet-50
# COCO models: model.model.backbone=resnet50 with its pretrained file, or configs/_base_/models/hsnet_r50.py),
# Adam lr 1e-3, batch 40, 400x400, protocol='hsnet', 1000 test episodes, evaluated at 400x400.
_base_ = ['./_base_/models/hsnet_r101.py', './_base_/datasets/hsnet_coco_20i.py', './_base_/schedules/hsnet_adam.py',
          './_base_/default_runtime.py']
fold = 1
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = dict(dataset=dict(fold=fold))
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))  # HSNet keeps its best validation mIoU
