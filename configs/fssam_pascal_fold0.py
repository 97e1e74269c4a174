# FSSAM on PASCAL-5i fold 0, 1-shot, SAM 2 small (FSSAM's config/pascal/small/pascal_split0_small_batch.yaml):
# FSSAM's protocol, 1000 episodes from seed 321, 512x512. Its released model (exp.zip):
#   python tools/test.py configs/fssam_pascal_fold0.py exp/pascal/FSSAM/split0/small/snapshot/FILE.pth
# Training from Meta's files (300 epochs, early stop after 100 without a better validation mIoU):
#   python tools/train.py configs/fssam_pascal_fold0.py --cfg-options sam2_weights=sam2_hiera_small.pt \
#       dinov2_weights=dinov2_vitb14_pretrain.pth
_base_ = ['./_base_/models/fssam_sam2_small.py', './_base_/datasets/fssam_pascal_5i.py',
          './_base_/schedules/fssam_adamw.py']
fold = 0
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))  # train.py keeps the best validation
