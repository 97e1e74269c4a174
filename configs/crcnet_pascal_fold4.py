# CRCNet trained for the cross-domain benchmark (PATNet, ECCV 2022): PASCAL VOC + SBD with no class held out (PATNet's
# --fold 4: all 20 classes are training classes), Section 5.1's settings otherwise; validated on FSS-1000's val classes
# as PATNet's train.py does, keeping the best validation mIoU; its test is FSS-1000 as PATNet tests it.
# The other targets: configs/crcnet_cdfss_{deepglobe,isic,chest_xray,fss1000}.py with this run's weights.
_base_ = ['./crcnet_pascal_fold0.py', './_base_/datasets/cdfss_fss1000.py']
fold = 4
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = {{_base_.fss1000_val_dataloader}}
test_dataloader = {{_base_.fss1000_test_dataloader}}
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))
