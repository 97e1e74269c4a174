# HSNet's one transform, for training and testing on every benchmark: images and labels resized to 400x400 (no other
# augmentation), scored at that size (eval_label='transformed'). Used by hsnet_{pascal_5i,coco_20i,fss1000}.py.
hsnet_pipeline = [dict(type='Resize', scale=(400, 400), keep_ratio=False)]
