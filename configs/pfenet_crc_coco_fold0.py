# PFENet + CRC on COCO-20i fold 0 (Tables 11, 12).
_base_ = ['./pfenet_coco_fold0.py']
model = dict(model=dict(global_conditional=True, cross_reference=True))
