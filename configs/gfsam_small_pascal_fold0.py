# GF-SAM with DINOv2 ViT-S/14 + SAM ViT-B, for CPUs: configs/gfsam_pascal_fold0.py's protocol with the smallest pair.
#   python tools/test.py configs/gfsam_small_pascal_fold0.py --cfg-options dinov2_weights=dinov2_vits14_pretrain.pth \
#       sam_weights=sam_vit_b_01ec64.pth [--episodes N]
_base_ = ['./_base_/models/gfsam_vits_samb.py', './_base_/datasets/gfsam_pascal_5i.py']
fold = 0  # the datasets' fold (theirs by default); a run option: --cfg-options fold=N
