# GF-SAM with the smallest pair, for CPUs: DINOv2 ViT-S/14 and SAM ViT-B (GF-SAM's build_model takes any
# --dinov2-size / --sam-size; its logs are ViT-L + SAM-H). Meta's files:
#   --cfg-options dinov2_weights=dinov2_vits14_pretrain.pth sam_weights=sam_vit_b_01ec64.pth
_base_ = ['./gfsam_vitl_samh.py']
model = dict(model=dict(dinov2='vit_small', sam='vit_b'))
