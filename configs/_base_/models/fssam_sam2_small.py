# FSSAM (ICML 2025; Sam1224/FSSAM) as its released models run: SAM 2 small (Meta's 2024-07 sam2_hiera_small.pt) at a
# 512 input, DINOv2 ViT-B/14 (dinov2_vitb14) priors at 560, three memory refinement steps (--num_refine 3,
# --ver_refine v1). A released checkpoint (exp.zip: exp/{pascal,coco}/{FSSAM,FSSAM5s}/split{N}/small/snapshot/*.pth)
# holds every weight, so testing needs no other file:
#   python tools/test.py configs/fssam_pascal_fold0.py exp/pascal/FSSAM/split0/small/snapshot/train_epoch_N_X.pth
# Training starts from Meta's files, run options: --cfg-options sam2_weights=sam2_hiera_small.pt
# dinov2_weights=dinov2_vitb14_pretrain.pth. SAM 2's base+ / large: --cfg-options model.model.sam2_size=base_plus.
# Testing: every shot a memory frame (fuses_shots), the sigmoid thresholded at 0.5 (test.py), the 512 logits upsampled
# to the original label with corners aligned (ori_resize).
_base_ = ['../default_runtime.py']
custom_imports = dict(imports=['integrations.mmseg', 'integrations.fssam.model', 'integrations.fssam.transforms'],
                      allow_failed_imports=False)  # transforms: the pipelines' RandomScale, RandomGaussianBlur
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=dict(type='FewShotDataPreprocessor', bgr_to_rgb=True),  # ImageNet mean/std (FSSAM's, in-model)
    model=dict(type='FSSAM', sam2_size='small', dinov2='vit_base', sam2_weights=None, dinov2_weights=None,
               refinement_steps=3),
    test_cfg=dict(kshot_mode='fusion', threshold=0.5),
)
