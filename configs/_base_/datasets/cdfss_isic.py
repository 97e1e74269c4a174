# ISIC 2018 (task 1 training set), a target of the cross-domain benchmark as PATNet (ECCV 2022) tests it:
# data/cdfss/ISIC/ISIC2018_Task1-2_Training_Input/{1,2,3}/*.jpg (split by diagnosis from PATNet's class_id.csv by
# tools/dataset_converters/isic.py) and data/cdfss/ISIC/ISIC2018_Task1_Training_GroundTruth/*_segmentation.png.
# PATNet's data/isic.py and test.py: 600 episodes, episode i of class i mod 3, query and supports drawn as its test.py
# draws them from seed 0 (replayed: PATNet's own episodes), 400x400, masks grey >= 128.
# Supports: support_rule='independent' is PATNet's draw, so a 5-shot episode may repeat a support;
# support_rule='distinct' draws a repeated one again.
# Used as `test_dataloader = {{_base_.isic_test_dataloader}}` beside a training
# config (it replaces that config's own).
isic_test_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ISICDataset', data_root='data/cdfss', mode='test', shot=1, protocol='patnet',
                 support_rule='independent', num_episodes=600, seed=0, eval_label='transformed',
                 pipeline=[dict(type='Resize', scale=(400, 400), keep_ratio=False)]))
