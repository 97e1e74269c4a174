# FSS-SAM3's own test episodes (its data/dataset_tool.py, replayed exactly: protocol 'fss_sam3'): 1000 per fold from
# random.Random(seed + fold), supports given as ONE INSTANCE'S BOX, not a mask (the support's label is the box's
# rectangle), queries labelled on the class with nothing ignored and scored at their own size. Seeds: PASCAL 123,
# COCO 0 (evaluate.py's defaults). No pipeline: one support and the query keep their own pixels (k > 1 supports are
# stretched to 1008x1008 so they stack). Layouts: data/VOCdevkit/VOC2012 (JPEGImages, SegmentationClass,
# SegmentationObject, ImageSets/Segmentation/val.txt); data/coco (val2014/, annotations/instances_val2014.json).
def _fss_sam3_loader(dataset_type, data_root, seed):
    return dict(batch_size=1, num_workers=2, persistent_workers=True,
                sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='pseudo_collate'),
                dataset=dict(type=dataset_type, data_root=data_root, fold=0, mode='test', shot=1,
                             protocol='fss_sam3', pipeline=[], seed=seed, eval_label='original',
                             num_episodes=1000))  # dataset_tool.py: episode_num = 1000


fss_sam3_pascal_test_dataloader = _fss_sam3_loader('FssSam3PascalDataset', 'data/VOCdevkit/VOC2012', 123)
fss_sam3_coco_test_dataloader = _fss_sam3_loader('FssSam3CocoDataset', 'data/coco', 0)
test_evaluator = dict(type='FewShotIoUMetric')
train_dataloader = val_dataloader = val_evaluator = None  # nothing trained, nothing validated: testing only
