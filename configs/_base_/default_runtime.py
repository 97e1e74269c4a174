# MMEngine runtime shared by every config: mmseg scope, our registrations, logs, checkpoints, pictures.
default_scope = 'mmseg'
custom_imports = dict(imports=['integrations.mmseg', 'integrations.pfenet', 'integrations.hsnet'],
                      allow_failed_imports=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
# TensorBoard: in your config, visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),
# dict(type='TensorboardVisBackend')]) writes scalars and tools/test.py --show-dir pictures to WORK_DIR/<time>/vis_data
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')], name='visualizer')
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='FewShotVisualizationHook'),
)
