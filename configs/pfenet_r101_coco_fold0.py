# PFENet with the deep-stem ResNet-101 on COCO-20i fold 0 (config/coco/coco_split0_resnet101.yaml: layers=101,
# FEM bins relative 1.0/0.5/0.25/0.125, 641x641). ImageNet weights: PFENet's initmodel/resnet101_v2.pth.
_base_ = ['./pfenet_coco_fold0.py']
model = dict(model=dict(layers=101, ppm_scales=(1.0, 0.5, 0.25, 0.125), pretrained='initmodel/resnet101_v2.pth'))
