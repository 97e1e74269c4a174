# FSS-1000 as SANSA's datasets/fss.py runs it: HSNet's class split (splits/fss/{trn,test}.txt; testing on the test
# classes, its 'val' image set), one test episode per test image (2400), supports drawn from the class's 10 images
# rejecting the query, images and labels resized to 518x518 (transforms.Resize((518, 518)); labels nearest) and
# evaluated at that size, seed 0 (opts.py). Training: 1 support + the query, no augmentation, batch 32; validation
# after every epoch on the test classes, as main.py's eval_fss.
_base_ = ['./hsnet_fss1000.py']
sansa_pipeline = [dict(type='Resize', scale=(518, 518), keep_ratio=False)]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=sansa_pipeline, shot=1))
test_dataloader = dict(dataset=dict(pipeline=sansa_pipeline, seed=0))
val_dataloader = dict(dataset=dict(split_file='splits/fss/test.txt', pipeline=sansa_pipeline, seed=0))
