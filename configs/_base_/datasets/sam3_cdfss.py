# The cross-domain targets (PATNet, ECCV 2022) for FSS-SAM3: PATNet's episode rules and draws from seed 0, images and
# masks stretched to SAM 3's 1008x1008 (PIL's bilinear; masks nearest) and scored at that size, as GF-SAM's settings at
# its 1024. FSS-SAM3 publishes no cross-domain numbers.
# Used as `test_dataloader = {{_base_.sam3_<target>_test_dataloader}}`.


def _sam3_loader(dataset_type, data_root='data/cdfss', **dataset):
    return dict(_delete_=True, batch_size=1, num_workers=2, persistent_workers=True,
                sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='pseudo_collate'),
                dataset=dict(type=dataset_type, data_root=data_root, mode='test', shot=1, protocol='patnet',
                             support_rule='independent', seed=0, eval_label='transformed',
                             pipeline=[dict(type='Resize', scale=(1008, 1008), keep_ratio=False, backend='pillow')],
                             **dataset))


sam3_deepglobe_test_dataloader = _sam3_loader('DeepglobeDataset', num_episodes=600)
sam3_isic_test_dataloader = _sam3_loader('ISICDataset', num_episodes=600)
sam3_chest_xray_test_dataloader = _sam3_loader('ChestXrayDataset', num_episodes=600)
sam3_fss1000_test_dataloader = _sam3_loader('FSS1000Dataset', data_root='data/cdfss/FSS-1000',
                                            split_file='splits/fss/test.txt')
test_evaluator = dict(type='FewShotIoUMetric')
train_dataloader = val_dataloader = val_evaluator = None  # nothing trained, nothing validated: testing only
