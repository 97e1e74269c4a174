# GF-SAM's test transform on every benchmark (main_eval.py --img-size 1024; FSSDataset.initialize:
# transforms.Resize((1024, 1024)), PIL's bilinear, hence backend='pillow'; labels by nearest), scored at that size.
# Used by gfsam_{pascal_5i,coco_20i,fss1000}.py.
gfsam_pipeline = [dict(type='Resize', scale=(1024, 1024), keep_ratio=False, backend='pillow')]
