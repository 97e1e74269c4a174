# HSNet + CRC on COCO fold 0: the CRC blocks at HSNet's documented insertion points (integrations/hsnet/model.py),
# everything else as configs/hsnet_coco_fold0.py. Released HSNet weights cover every key but the added blocks.
_base_ = ['./hsnet_coco_fold0.py']
model = dict(model=dict(cross_reference=True, global_conditional=True))
