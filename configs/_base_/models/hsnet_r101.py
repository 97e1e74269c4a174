# HSNet (Min et al., ICCV 2021) as released, backbone resnet101: torchvision's network with the ImageNet weights HSNet's
# `resnet101(pretrained=True)` loaded (torchvision's first weights), read when training starts (never to test or
# infer), frozen, BatchNorm in eval mode. A released best_model.pt (a DataParallel state dict) tests with
# `python tools/test.py CONFIG best_model.pt`.
# k-shot: one prediction per support, fused by HSNet's own vote (test.py's predict_mask_nshot):
# kshot_fusion='vote'; --kshot-fusion mean averages the probabilities instead (the CRCNet paper's fusion).
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=dict(type='FewShotDataPreprocessor', bgr_to_rgb=True),  # ImageNet mean/std, as HSNet
    model=dict(type='HSNet', backbone='resnet101', pretrained='https://download.pytorch.org/models/resnet101-63fe2227.pth',
               mask_support_features=True, cross_reference=False, global_conditional=False),
    test_cfg=dict(kshot_mode='fusion', kshot_fusion='vote', finetune=dict(steps=10, pairs_per_step=1, lr=1e-3),
                  scales=(1.0,)),
)
