# PFENet + CRC (Table 8): the global conditional and cross-reference modules inserted into PFENet.
_base_ = ['./pfenet_pascal_fold0.py']
model = dict(model=dict(global_conditional=True, cross_reference=True))
