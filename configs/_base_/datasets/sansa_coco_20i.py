# COCO-20i (4 folds) as SANSA's datasets/coco.py runs it: HSNet's protocol and split files (splits/coco/{trn,val}/
# fold{fold}.pkl; a uniform class, then a uniform query of it, supports drawn rejecting the query), 1000 test
# episodes (test_episodes = 1000), seed 0 (opts.py --seed 0; SANSA draws from numpy's global state, so its own draws
# cannot be replayed, only its rules), images and labels resized to 640x640 (transforms.Resize((640, 640)); labels
# nearest) and evaluated at that size (use_original_imgsize=False). mmcv's cv2 resize is within one grey level of
# torchvision's PIL resize here (COCO images are at most 640 px, so only upsampled) and labels are identical.
# Training: 1 support + the query per episode (engine.py: random.randint(1, args.shots), --shots 1 by default; the
# loader draws --J 3 supports, of which the first is used), no augmentation, batch 32 (README; with N processes set
# batch_size=32/N). Validation after every epoch on the test fold's 1000 episodes, as main.py's eval_fss.
_base_ = ['./hsnet_coco_20i.py']
sansa_pipeline = [dict(type='Resize', scale=(640, 640), keep_ratio=False)]
sansa_test = dict(pipeline=sansa_pipeline, num_episodes=1000, seed=0)
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=sansa_pipeline, shot=1))
test_dataloader = dict(dataset=sansa_test)
val_dataloader = dict(dataset=sansa_test)
