# The cross-domain targets (PATNet, ECCV 2022) as GF-SAM tests them (scripts/{deepglobe,isic}.sh -> main_eval.py):
# PATNet's episode rules and draws from seed 0 (its matcher/data/deepglobe.py and isic.py sample as PATNet's, and
# nothing else draws from numpy between episodes), but images and masks resized to 1024x1024 (main_eval.py
# --img-size 1024, PIL's bilinear; masks nearest) and scored at that size. ISIC's classes are ordered nevus, melanoma,
# seborrheic keratosis (its cls_dict over class_id.csv): categories=('1', '3', '2') of PATNet's folders here. GF-SAM
# has no Chest X-ray loader and tests FSS-1000 by HSNet's rules (configs/gfsam_fss1000.py); for those two targets
# its settings are applied to PATNet's episodes. Used as `test_dataloader = {{_base_.gfsam_<target>_test_dataloader}}`.


def _gfsam_loader(dataset_type, data_root='data/cdfss', **dataset):
    return dict(_delete_=True, batch_size=1, num_workers=2, persistent_workers=True,
                sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='pseudo_collate'),
                dataset=dict(type=dataset_type, data_root=data_root, mode='test', shot=1, protocol='patnet',
                             support_rule='independent', seed=0, eval_label='transformed',
                             pipeline=[dict(type='Resize', scale=(1024, 1024), keep_ratio=False, backend='pillow')],
                             **dataset))


gfsam_deepglobe_test_dataloader = _gfsam_loader('DeepglobeDataset', num_episodes=600)
gfsam_isic_test_dataloader = _gfsam_loader('ISICDataset', num_episodes=600, categories=('1', '3', '2'))
gfsam_chest_xray_test_dataloader = _gfsam_loader('ChestXrayDataset', num_episodes=600)
gfsam_fss1000_test_dataloader = _gfsam_loader('FSS1000Dataset', data_root='data/cdfss/FSS-1000',
                                              split_file='splits/fss/test.txt')
