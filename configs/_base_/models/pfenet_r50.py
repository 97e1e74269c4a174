# PFENet (Tian et al., TPAMI 2020) as released: deep-stem ResNet-50 (initmodel/resnet50_v2.pth), FEM bins 60/30/15/8.
# The backbone file is read when training starts (never to test or infer). A released train_epoch_*.pth is tested
# as any checkpoint: python tools/test.py configs/pfenet_pascal_fold0.py train_epoch_200.pth
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=dict(type='FewShotDataPreprocessor', bgr_to_rgb=True),
    model=dict(type='PFENet', layers=50, ppm_scales=(60, 30, 15, 8), pretrained='initmodel/resnet50_v2.pth',
               backbone_bn_updates=False, global_conditional=False, cross_reference=False, aux_weight=1.0),
    test_cfg=dict(kshot_mode='fusion', finetune=dict(steps=10, pairs_per_step=4, lr=1e-3), scales=(1.0,)),
)
