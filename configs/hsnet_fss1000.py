# HSNet on FSS-1000 with HSNet's settings (README, train.py): ResNet-101 (HSNet also released VGG-16 and ResNet-50
# FSS-1000 models), Adam lr 1e-3, batch 20, 400x400, protocol='hsnet', 2400 test episodes, evaluated at 400x400.
_base_ = ['./_base_/models/hsnet_r101.py', './_base_/datasets/hsnet_fss1000.py', './_base_/schedules/hsnet_adam.py',
          './_base_/default_runtime.py']
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))  # HSNet keeps its best validation mIoU
