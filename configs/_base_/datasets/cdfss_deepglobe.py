# Deepglobe, a target of the cross-domain benchmark as PATNet (ECCV 2022) tests it: data/cdfss/Deepglobe/{1..6}/test/
# {origin,groundtruth} (PATNet's tiles, from the official download by tools/dataset_converters/deepglobe.py).
# PATNet's data/deepglobe.py and test.py: 600 episodes, episode i of class i mod 6, query and supports drawn as its
# test.py draws them from seed 0 (seed=0 replays PATNet's own episodes; tools/test.py --seeds for intervals),
# images and masks resized to 400x400 and scored at that size, masks grey >= 128.
# Supports: support_rule='independent' is PATNet's draw, so a 5-shot episode may repeat a support;
# support_rule='distinct' draws a repeated one again.
# Used as `test_dataloader = {{_base_.deepglobe_test_dataloader}}` beside a training config (it replaces that config's
# own; a name of its own, so that the two bases do not clash).
deepglobe_test_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='DeepglobeDataset', data_root='data/cdfss', mode='test', shot=1, protocol='patnet',
                 support_rule='independent', num_episodes=600, seed=0, eval_label='transformed',
                 pipeline=[dict(type='Resize', scale=(400, 400), keep_ratio=False)]))
