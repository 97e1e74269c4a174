# Chest X-ray (lungs), a target of the cross-domain benchmark as PATNet (ECCV 2022) tests it:
# data/cdfss/LungSegmentation/{CXR_png,masks} (Kaggle's "Chest Xray Masks and Labels", its "Lung Segmentation"
# folder renamed). PATNet's data/lung.py and test.py: one class, 600 episodes, query and supports drawn from the
# masks' pool as its test.py draws them from seed 0 (replayed: PATNet's own episodes), 400x400, masks grey >= 128.
# Masks not named <id>_mask.png (Montgomery's) have no image by PATNet's rule and are left out (logged).
# Supports: support_rule='independent' is PATNet's draw, so a 5-shot episode may repeat a support;
# support_rule='distinct' draws a repeated one again.
# Used as `test_dataloader = {{_base_.chest_xray_test_dataloader}}` beside a training
# config (it replaces that config's own).
chest_xray_test_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ChestXrayDataset', data_root='data/cdfss', mode='test', shot=1, protocol='patnet',
                 support_rule='independent', num_episodes=600, seed=0, eval_label='transformed',
                 pipeline=[dict(type='Resize', scale=(400, 400), keep_ratio=False)]))
