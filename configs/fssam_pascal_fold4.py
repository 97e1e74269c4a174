# FSSAM trained for the cross-domain benchmark (PATNet, ECCV 2022): PASCAL VOC + SBD with no class held out (PATNet's
# --fold 4), FSSAM's settings otherwise (configs/fssam_pascal_fold0.py: PFENet's lists, 512 crops, AdamW, SAM 2 small
# and DINOv2 ViT-B from Meta's files); validated on FSS-1000's val classes as PATNet's train.py does, keeping the best
# validation mIoU; its test is FSS-1000 as PATNet tests it. FSSAM released no such model.
#   python tools/train.py configs/fssam_pascal_fold4.py --cfg-options sam2_weights=sam2_hiera_small.pt \
#       dinov2_weights=dinov2_vitb14_pretrain.pth
# The other targets: configs/fssam_cdfss_{deepglobe,isic,chest_xray,fss1000}.py with this run's weights.
_base_ = ['./fssam_pascal_fold0.py', './_base_/datasets/cdfss_fss1000.py']
fold = 4
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = {{_base_.fss1000_val_dataloader}}
test_dataloader = {{_base_.fss1000_test_dataloader}}
