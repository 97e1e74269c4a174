# COCO-20i on FSSAM's protocol: PFENet's lists and rules with the interleaved folds (use_split_coco: True), the
# pipelines, sizes, 1000 test episodes (test.sh --episode=1000) and seed of configs/_base_/datasets/fssam_pascal_5i.py.
_base_ = ['./coco_20i.py', './fssam_pipelines.py']
train_dataloader = dict(batch_size=8, dataset=dict(pipeline={{_base_.fssam_train_pipeline}}))
test_dataloader = dict(dataset={{_base_.fssam_test}})
val_dataloader = dict(dataset={{_base_.fssam_test}})
