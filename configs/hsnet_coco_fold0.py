# HSNet on COCO-20i fold 0 with HSNet's settings (README, train.py): ResNet-101 (HSNet also released ResNet-50
# COCO models: model.model.backbone=resnet50 with its pretrained file, or configs/_base_/models/hsnet_r50.py),
# Adam lr 1e-3, batch 40, 400x400, protocol='hsnet', 1000 test episodes, evaluated at 400x400.
_base_ = ['./_base_/models/hsnet_r101.py', './_base_/datasets/hsnet_coco_20i.py', './_base_/schedules/hsnet_adam.py',
          './_base_/default_runtime.py']
fold = 0  # the datasets' fold (theirs by default); a run option: --cfg-options fold=N
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))  # HSNet keeps its best validation mIoU
