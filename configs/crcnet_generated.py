# The built-in default: CRCNet on the generated dataset, trained and tested on 2 CPU cores with no download
# (about 10 minutes of training). A compact ResNet (one block per stage) from scratch, 64 channels and 5
# refinement steps keep it fast; every other module is as in the paper. 14 epochs of 984 episodes: shorter
# runs have not learnt to use the support on novel classes (docs/en/benchmarks/generated_data.md).
_base_ = ['./_base_/models/crcnet_r50.py', './_base_/datasets/generated.py', './_base_/default_runtime.py']
model = dict(model=dict(encoder=dict(backbone='resnet10', pretrained=None), channels=64, refine_steps=5))
base_lr = 0.02
max_epochs = 14
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=7)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=25))
