# FSS-1000, a target of the cross-domain benchmark as PATNet (ECCV 2022) tests it: data/cdfss/FSS-1000/<class>/
# {1..10}.{jpg,png} and splits/fss/test.txt (PATNet's data/splits/fss, HSNet's split). PATNet's data/fss.py (HSNet's):
# one episode per test image (2400), each support {n}.jpg of the query's folder with n drawn from 1..10, drawn as
# PATNet's test.py draws them from seed 0 (replayed: its own episodes), 400x400, masks grey >= 128.
# Supports: support_rule='independent' is PATNet's draw, so a 5-shot episode may repeat a support (here 74% of them:
# 5 draws among the query's 9 other images); support_rule='distinct' draws a repeated one again.
# fss1000_val_dataloader: the validation PATNet's train.py runs after every epoch to keep its best model (every
# image of the val classes, HSNet's protocol at 400x400).
# Used as `test_dataloader = {{_base_.fss1000_test_dataloader}}` beside a training
# config (it replaces that config's own).
fss1000_test_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='FSS1000Dataset', data_root='data/cdfss/FSS-1000', split_file='splits/fss/test.txt',
                 mode='test', shot=1, protocol='patnet', support_rule='independent', seed=0,
                 eval_label='transformed', pipeline=[dict(type='Resize', scale=(400, 400), keep_ratio=False)]))
fss1000_val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='FSS1000Dataset', data_root='data/cdfss/FSS-1000', split_file='splits/fss/val.txt',
                 mode='test', shot=1, protocol='hsnet', seed=123, eval_label='transformed',
                 pipeline=[dict(type='Resize', scale=(400, 400), keep_ratio=False)]))
