# HSNet's train.py: Adam, lr 1e-3 (--lr), no weight decay, no schedule; --niter 2000 epochs, each followed by a
# validation, the best validation mIoU kept (its README: "choose the best model when the validation curve
# saturates"; the named configs keep best_mIoU_epoch_N.pth). base_lr and max_epochs are run options
# (`--cfg-options max_epochs=100`).
base_lr = 1e-3
max_epochs = 2000
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=base_lr))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
