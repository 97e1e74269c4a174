# SANSA (NeurIPS 2025; ClaudiaCuttano/SANSA) as its paper models run: a frozen SAM2 Hiera-L, Meta's 2024-07
# sam2_hiera_large.pt (opts.py --sam2_version large), object-score head off (its sam2_configs), adapters in Hiera's
# stages 2 and 3 with a bottleneck of 0.3 x the block's input width (README: --adaptformer_stages 2 3; opts.py
# --channel_factor 0.3). The SAM2 file is a run option: --cfg-options sam2_weights=PATH; a checkpoint (SANSA's
# released adapter file, or this project's weights.pth) holds the adapters alone.
# Images: the loader's resize and ImageNet normalisation (the data preprocessor; SANSA's transforms.Normalize), then
# SAM2's 1024 square resize, bilinear and antialiased (models/sam2/modeling/sam2_utils.py, preprocess) in the model.
# Testing: every shot a memory frame (fuses_shots: 'fusion' lets the model fuse), the sigmoid thresholded at 0.5
# (opts.py --threshold 0.5).
_base_ = ['../default_runtime.py']
custom_imports = dict(imports=['integrations.mmseg', 'integrations.sansa'], allow_failed_imports=False)
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=dict(type='FewShotDataPreprocessor', bgr_to_rgb=True),
    model=dict(type='SANSA', sam2_size='large', sam2_weights=None, adapter_stages=(2, 3), adapter_ratio=0.3),
    test_cfg=dict(kshot_mode='fusion', threshold=0.5),
)
