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
    ),
    test_cfg=dict(kshot_mode='fusion', finetune=dict(steps=10, lr=1e-3), scales=(1.0,)),
)
