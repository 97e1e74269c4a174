# PASCAL-5i as GF-SAM tests it (scripts/voc.sh -> main_eval.py --benchmark pascal): HSNet's split files and episode
# rules (matcher/data/pascal.py is HSNet's data/pascal.py), 1000 episodes (its __len__ outside training), images and
# labels resized to 1024x1024 (main_eval.py --img-size 1024; FSSDataset.initialize: transforms.Resize((1024, 1024)),
# PIL's bilinear, hence backend='pillow'; labels by nearest) and scored at that size (use_original_imgsize False),
# episodes drawn from seed 0 (main_eval.py: utils.fix_randseed(0); the draws are this project's seeded generator's).
_base_ = ['./hsnet_pascal_5i.py', './gfsam_pipeline.py']
test_dataloader = dict(dataset=dict(pipeline={{_base_.gfsam_pipeline}}, seed=0))
train_dataloader = val_dataloader = val_evaluator = None  # nothing trained, nothing validated: testing only
