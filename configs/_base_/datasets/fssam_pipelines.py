# FSSAM's training and test pipelines and test episodes (configs/_base_/datasets/fssam_pascal_5i.py says whence).
mean_bgr = (103.53, 116.28, 123.675)
fssam_train_pipeline = [
    dict(type='RandomScale', ratio_range=(0.9, 1.1)),
    dict(type='RandomRotate', prob=0.5, degree=10, pad_val=mean_bgr, seg_pad_val=255),
    dict(type='RandomGaussianBlur', kernel=5, prob=0.5),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=(512, 512)),
    dict(type='Pad', size=(512, 512), pad_val=dict(img=mean_bgr, seg=255)),
]
fssam_test_pipeline = [dict(type='Resize', scale=(512, 512), keep_ratio=False)]
fssam_test = dict(pipeline=fssam_test_pipeline, num_episodes=1000, seed=321, eval_label='original')
