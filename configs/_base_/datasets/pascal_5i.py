# PASCAL-5i (Table 10) in VOC2012 + SBD's SegmentationClassAug, on PFENet's protocol and lists (the numbers
# CRCNet compares with). Layout: data/VOCdevkit/VOC2012/{JPEGImages,SegmentationClassAug},
# lists/pascal/{voc_sbd_merge_noduplicate,val}.txt copied from PFENet's lists/pascal/.
# HSNet's protocol instead: protocol='hsnet', list_file=None, split_file='splits/pascal/trn/fold{fold}.txt'
# (training reads the three other folds) or 'splits/pascal/val/fold{fold}.txt' (testing), from HSNet's data/splits.
# Training: random scale, crop 321x321 and flip (5.1; reading: scale range 0.75-1.25 of a 400px longer side).
# Testing: longer side to 321, padded; labels at their original size (PFENet's protocol).
# Episodes: test 5000, as PFENet's test.py runs PASCAL (`test_num = 5000`; its loop's break test lets one
# more through, 5001); HSNet's protocol: 1000 (HSNet data/pascal.py: __len__ is 1000 outside training), set
# num_episodes=1000 with protocol='hsnet'. Validation during training: 300 episodes of the test fold every
# val_interval epochs (PFENet validates on the same 5000 every 2 epochs, HSNet on its 1000 every epoch).
dataset_type = 'PascalFewShotDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (321, 321)
train_pipeline = [
    dict(type='RandomResize', scale=(400, 400), ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='Pad', size=crop_size, pad_val=dict(img=0, seg=255)),
    dict(type='RandomFlip', prob=0.5),
]
test_pipeline = [dict(type='LongerSideResizePad', size=321)]
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='EpisodeSampler', shuffle=True),  # episodes keyed by (seed, epoch, index)
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, fold=0, mode='train', shot=1, protocol='pfenet',
                 list_file='lists/pascal/voc_sbd_merge_noduplicate.txt', pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, fold=0, mode='test', shot=1, protocol='pfenet',
                 list_file='lists/pascal/val.txt', pipeline=test_pipeline, num_episodes=5000, seed=321,
                 eval_label='original'))
# validation: the test loader, 300 episodes from another seed
val_dataloader = dict(test_dataloader, dataset=dict(test_dataloader['dataset'], num_episodes=300, seed=123))
val_evaluator = dict(type='FewShotIoUMetric')
test_evaluator = val_evaluator
