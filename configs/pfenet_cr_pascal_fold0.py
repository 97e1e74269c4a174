# PFENet + CR (Table 8).
_base_ = ['./pfenet_pascal_fold0.py']
model = dict(model=dict(cross_reference=True))
