# SANSA's training (main.py, engine.py, opts.py; README's command `--batch_size 32`): AdamW lr 1e-4, weight decay 0,
# betas (0.9, 0.999), gradient norm clipped at 0.1 (--clip_max_norm), cosine annealing to 0 stepped every iteration
# over --epochs 5, the adapters alone trained (SAM2 frozen, but in training mode: its memory attention's dropout
# 0.1 is on, as SANSA's model.train() leaves it). A checkpoint and an evaluation on the test fold after every epoch.
base_lr = 1e-4
max_epochs = 5
optim_wrapper = dict(type='OptimWrapper', clip_grad=dict(max_norm=0.1),
                     optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.0, betas=(0.9, 0.999)))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, by_epoch=True, begin=0,
                        end=max_epochs, convert_to_iter_based=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
