# FSS-SAM3's test transform with mask supports: every image stretched to SAM 3's 1008x1008 with PIL's bilinear filter
# (labels by nearest), scored at that size. Used by sam3_hsnet_{pascal_5i,coco_20i,fss1000}.py.
sam3_pipeline = [dict(type='Resize', scale=(1008, 1008), keep_ratio=False, backend='pillow')]
