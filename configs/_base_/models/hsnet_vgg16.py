# HSNet (Min et al., ICCV 2021) as released with the vgg16 backbone: configs/_base_/models/hsnet_r101.py with
# torchvision's vgg16 and the ImageNet weights HSNet's `vgg16(pretrained=True)` loaded.
_base_ = ['./hsnet_r101.py']
model = dict(model=dict(backbone='vgg16', pretrained='https://download.pytorch.org/models/vgg16-397923af.pth'))
