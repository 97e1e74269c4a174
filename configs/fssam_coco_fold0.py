# FSSAM on COCO-20i fold 0, 1-shot, SAM 2 small (FSSAM's config/coco/small/coco_split0_small_batch.yaml):
# FSSAM's protocol, 1000 episodes from seed 321, 512x512. Its released model (exp.zip):
#   python tools/test.py configs/fssam_coco_fold0.py exp/coco/FSSAM/split0/small/snapshot/FILE.pth
# Training from Meta's files (75 epochs, early stop after 25 without a better validation mIoU):
#   python tools/train.py configs/fssam_coco_fold0.py --cfg-options sam2_weights=sam2_hiera_small.pt \
#       dinov2_weights=dinov2_vitb14_pretrain.pth
_base_ = ['./_base_/models/fssam_sam2_small.py', './_base_/datasets/fssam_coco_20i.py',
          './_base_/schedules/fssam_adamw.py']
fold = 0
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))  # train.py keeps the best validation
max_epochs = 75
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs,
                        convert_to_iter_based=True)]
train_cfg = dict(max_epochs=max_epochs)
custom_hooks = [dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater', patience=25)]
