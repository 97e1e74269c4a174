# Section 5.1: SGD, lr 0.0025, 200 epochs. Reading: momentum 0.9, weight decay 1e-4, poly(0.9) decay and
# batch 8 are not in the paper; they are CANet's / PFENet's values.
# base_lr and max_epochs are run options: `--cfg-options max_epochs=50 base_lr=0.005` changes the fields below.
base_lr = 0.0025
max_epochs = 200
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
