# FSS-1000 as GF-SAM tests it (scripts/fss.sh -> main_eval.py --benchmark fss): HSNet's class split and episode
# rules (matcher/data/fss.py is HSNet's data/fss.py: one episode per test image, 2400), images and masks resized to
# 1024x1024 with PIL's bilinear (FSSDataset.initialize) and scored at that size, episodes drawn from seed 0
# (main_eval.py: utils.fix_randseed(0)).
_base_ = ['./hsnet_fss1000.py', './gfsam_pipeline.py']
test_dataloader = dict(dataset=dict(pipeline={{_base_.gfsam_pipeline}}, seed=0))
train_dataloader = val_dataloader = val_evaluator = None  # nothing trained, nothing validated: testing only
