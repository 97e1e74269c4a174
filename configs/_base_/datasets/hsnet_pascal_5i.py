# PASCAL-5i on HSNet's protocol and split files (copy HSNet's data/splits/pascal to splits/pascal): training reads
# trn/fold*.txt of the three other folds, testing val/fold{fold}.txt. HSNet resizes every image and label to
# 400x400 (no other augmentation) for training and testing, and evaluates at that size (eval_label='transformed').
# Batch: HSNet's --bsz 20 is the total over its DataParallel GPUs; with N processes set batch_size=20/N.
# Validation after every epoch on the test fold's 1000 episodes, as HSNet's train.py does.
_base_ = ['./pascal_5i.py', './hsnet_pipeline.py']
hsnet_test = dict(protocol='hsnet', list_file=None, split_file='splits/pascal/val/fold{fold}.txt',
                  pipeline={{_base_.hsnet_pipeline}}, num_episodes=1000, eval_label='transformed')
train_dataloader = dict(batch_size=20, dataset=dict(
    protocol='hsnet', list_file=None, split_file='splits/pascal/trn/fold{fold}.txt',
    pipeline={{_base_.hsnet_pipeline}}))
test_dataloader = dict(dataset=hsnet_test)
val_dataloader = dict(dataset=hsnet_test)
