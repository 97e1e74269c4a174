# HSNet on PASCAL-5i fold 0 with HSNet's settings (README, train.py): ResNet-101 (train.py's default; HSNet also
# released VGG-16 and ResNet-50 PASCAL models: model.model.backbone=vgg16|resnet50 with the matching pretrained
# file, or configs/_base_/models/hsnet_{vgg16,r50}.py), Adam lr 1e-3, batch 20, 400x400, protocol='hsnet',
# 1000 test episodes, evaluated at 400x400 (eval_label='transformed').
_base_ = ['./_base_/models/hsnet_r101.py', './_base_/datasets/hsnet_pascal_5i.py', './_base_/schedules/hsnet_adam.py',
          './_base_/default_runtime.py']
fold = 0  # the datasets' fold (theirs by default); a run option: --cfg-options fold=N
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))  # HSNet keeps its best validation mIoU
