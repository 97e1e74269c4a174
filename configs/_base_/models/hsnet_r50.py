# HSNet (Min et al., ICCV 2021) as released with the resnet50 backbone: configs/_base_/models/hsnet_r101.py with
# torchvision's resnet50 and the ImageNet weights HSNet's `resnet50(pretrained=True)` loaded.
_base_ = ['./hsnet_r101.py']
model = dict(model=dict(backbone='resnet50', pretrained='https://download.pytorch.org/models/resnet50-0676ba61.pth'))
