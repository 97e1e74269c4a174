# SANSA trained for the cross-domain benchmark (PATNet, ECCV 2022): PASCAL VOC + SBD with no class held out (PATNet's
# --fold 4: training reads all four of HSNet's splits/pascal/trn/fold*.txt), SANSA's settings otherwise (frozen SAM2
# Hiera-L with adapters in stages 2 and 3, AdamW 1e-4, batch 32, 5 epochs, 1 support + the query per episode, images
# resized to 640x640 as its COCO loader); validated on FSS-1000's val classes after every epoch as PATNet's train.py
# does, keeping the best validation mIoU; its test is FSS-1000 as PATNet tests it. SANSA released no PASCAL adapter.
#   python tools/train.py configs/sansa_pascal_fold4.py --cfg-options sam2_weights=sam2_hiera_large.pt
# The other targets: configs/sansa_cdfss_{deepglobe,isic,chest_xray,fss1000}.py with this run's weights.
_base_ = ['./_base_/models/sansa_hiera_l.py', './_base_/datasets/hsnet_pascal_5i.py',
          './_base_/schedules/sansa_adamw.py', './_base_/datasets/cdfss_fss1000.py']
fold = 4
train_dataloader = dict(batch_size=32, dataset=dict(
    fold=fold, shot=1, pipeline=[dict(type='Resize', scale=(640, 640), keep_ratio=False)]))
val_dataloader = {{_base_.fss1000_val_dataloader}}
test_dataloader = {{_base_.fss1000_test_dataloader}}
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))
