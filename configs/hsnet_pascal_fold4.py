# HSNet trained for the cross-domain benchmark (PATNet, ECCV 2022): PASCAL VOC + SBD with no class held out (PATNet's
# --fold 4: training reads all four splits/pascal/trn/fold*.txt), ResNet-50 (the backbone of PATNet's and the
# cross-domain papers' HSNet rows), HSNet's settings otherwise; validated on FSS-1000's val classes after every epoch
# as PATNet's train.py does, keeping the best validation mIoU; its test is FSS-1000 as PATNet tests it.
# The other targets: configs/hsnet_cdfss_{deepglobe,isic,chest_xray,fss1000}.py with this run's weights.
_base_ = ['./_base_/models/hsnet_r50.py', './_base_/datasets/hsnet_pascal_5i.py', './_base_/schedules/hsnet_adam.py',
          './_base_/default_runtime.py', './_base_/datasets/cdfss_fss1000.py']
fold = 4
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = {{_base_.fss1000_val_dataloader}}
test_dataloader = {{_base_.fss1000_test_dataloader}}
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))  # HSNet and PATNet keep the best val mIoU
