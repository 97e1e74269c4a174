# GF-SAM (Zhang et al., NeurIPS 2024) as released (ANDYZAQ/GF-SAM: matcher/GFSAM.py build_model and main_eval.py's
# defaults): DINOv2 ViT-L/14 (--dinov2-size vit_large) at 518 px and SAM ViT-H (--sam-size vit_h), nothing trained.
# Meta's files are run options, and no checkpoint is needed:
#   --cfg-options dinov2_weights=dinov2_vitl14_pretrain.pth sam_weights=sam_vit_h_4b8939.pth
# k shots: GF-SAM averages the shots' similarity priors itself (GFSAM.py generate_prior); the host's 'mean' fusion
# hands all k shots to the model (fuses_shots).
_base_ = ['../default_runtime.py']
custom_imports = dict(imports=['integrations.mmseg', 'integrations.pfenet', 'integrations.hsnet', 'integrations.gfsam'],
                      allow_failed_imports=False)  # only GF-SAM configs import timm and segment-anything
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=dict(type='FewShotDataPreprocessor', bgr_to_rgb=True),  # ImageNet mean/std: DINOv2's and SAM's
    model=dict(type='GFSAM', dinov2='vit_large', sam='vit_h', dinov2_weights=None, sam_weights=None,
               dinov2_image_size=518,  # GFSAM.py __init__: img_size = 518 (37x37 patches)
               max_points=128,  # GFSAM.py find_points: "set maximum to 128 for efficiency"
               points_per_batch=64),  # GFSAM.py generate_sam_masks: batch_iterator(64, ...)
    test_cfg=dict(kshot_mode='fusion', kshot_fusion='mean'),
)
test_cfg = dict(type='TestLoop')
