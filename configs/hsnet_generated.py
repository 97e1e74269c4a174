# HSNet on the generated data: a CPU smoke run of the HSNet host (no download). The backbone stays frozen as in
# HSNet, here at its random initialisation (pretrained=None), so only the learner learns: a test of the plumbing,
# not of HSNet. Adam, lr 1e-3, constant (HSNet's train.py).
_base_ = ['./crcnet_generated.py']
model = dict(model=dict(_delete_=True, type='HSNet', backbone='resnet50', pretrained=None))
base_lr = 1e-3
max_epochs = 2
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(_delete_=True, type='Adam', lr=base_lr))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
