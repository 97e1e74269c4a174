# PFENet + GC on COCO-20i fold 0 (Table 12).
_base_ = ['./pfenet_coco_fold0.py']
model = dict(model=dict(global_conditional=True))
