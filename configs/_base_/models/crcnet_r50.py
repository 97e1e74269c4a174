# CRCNet (Section 4, 5.1): ImageNet ResNet-50, layer3+layer4 dilated to 1/8, 256 channels, lambda 0.1,
# 10 refinement steps. The ImageNet weights are read when training starts (never to test or infer); set
# model.model.encoder.pretrained=None to start from scratch.
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=dict(type='FewShotDataPreprocessor', bgr_to_rgb=True),
    model=dict(
        type='CRCNet',
        encoder=dict(type='SiameseEncoder', backbone='resnet50', pretrained='torchvision://resnet50',
                     multi_level=True),
        channels=256,
        cross_reference=True,
        cr_activation='sigmoid',
        global_conditional=True,
        local_conditional=True,
        local_use_mask=True,
        use_cache=True,
        refine_steps=10,
        aux_weight=0.1,
        finetune_backprop_steps=1,  # k-shot finetuning back-propagates through the last refinement step only
    ),
    # k-shot finetuning (4.6; the paper gives no schedule): 5 SGD steps of one support pair each at lr 2e-3 keep
    # the gain of 10 steps x 4 pairs at 1e-3 with full back-propagation at a fraction of its cost
    # (docs/en/benchmarks/generated_data.md).
    test_cfg=dict(kshot_mode='fusion', finetune=dict(steps=5, pairs_per_step=1, lr=2e-3), scales=(1.0,)),
)
