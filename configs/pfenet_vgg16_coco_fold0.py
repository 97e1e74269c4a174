# PFENet with VGG-16-BN on COCO-20i fold 0, the backbone of PFENet's released COCO models
# (config/coco/coco_split0_vgg.yaml: vgg=True, FEM bins relative 1.0/0.5/0.25/0.125, 641x641).
# ImageNet weights: PFENet's initmodel/vgg16_bn.pth (torchvision's vgg16_bn file has the same keys).
# Test a released model: python tools/test.py configs/pfenet_vgg16_coco_fold0.py PATH/train_epoch_50.pth
_base_ = ['./pfenet_coco_fold0.py']
model = dict(model=dict(vgg=True, ppm_scales=(1.0, 0.5, 0.25, 0.125), pretrained='initmodel/vgg16_bn.pth'))
