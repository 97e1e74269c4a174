# FSSAM's training (train.py, config/*/small/*.yaml): AdamW lr 1e-3, weight decay 0, poly(0.9) decay per iteration,
# 300 epochs on PASCAL (75 on COCO), SAM 2's mask decoder, memory encoder and memory attention trained (the rest of
# SAM 2 and DINOv2 frozen), the best validation mIoU kept, stopped after stop_interval epochs without a better one
# (100 on PASCAL, 25 on COCO). FSSAM trains under CUDA bf16 autocast: --cfg-options optim_wrapper.type=AmpOptimWrapper
# optim_wrapper.dtype=bfloat16 on a GPU.
base_lr = 1e-3
max_epochs = 300
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.0))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs,
                        convert_to_iter_based=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
custom_hooks = [dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater', patience=100)]
