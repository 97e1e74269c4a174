# COCO-20i as GF-SAM tests it (scripts/coco.sh -> main_eval.py --benchmark coco): HSNet's split files and episode
# rules (matcher/data/coco.py is HSNet's data/coco.py: a uniform class, then a query of its pool), 1000 episodes,
# images and labels resized to 1024x1024 with PIL's bilinear (FSSDataset.initialize) and scored at that size,
# episodes drawn from seed 0 (main_eval.py: utils.fix_randseed(0)).
_base_ = ['./hsnet_coco_20i.py', './gfsam_pipeline.py']
test_dataloader = dict(dataset=dict(pipeline={{_base_.gfsam_pipeline}}, seed=0))
train_dataloader = val_dataloader = val_evaluator = None  # nothing trained, nothing validated: testing only
