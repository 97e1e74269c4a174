# COCO-20i (4-fold setting) on HSNet's protocol and split files (copy HSNet's data/splits/coco to splits/coco):
# trn/fold{fold}.pkl for training, val/fold{fold}.pkl for testing; 400x400 resize, evaluated at that size.
# Batch: HSNet's README trains COCO with --bsz 40 (total over its GPUs; with N processes set batch_size=40/N).
# Validation after every epoch on 1000 episodes, as HSNet's train.py does.
_base_ = ['./coco_20i.py', './hsnet_pipeline.py']
hsnet_test = dict(protocol='hsnet', list_file=None, split_file='splits/coco/val/fold{fold}.pkl',
                  pipeline={{_base_.hsnet_pipeline}}, num_episodes=1000, eval_label='transformed')
train_dataloader = dict(batch_size=40, dataset=dict(
    protocol='hsnet', list_file=None, split_file='splits/coco/trn/fold{fold}.pkl',
    pipeline={{_base_.hsnet_pipeline}}))
test_dataloader = dict(dataset=hsnet_test)
val_dataloader = dict(dataset=hsnet_test)
