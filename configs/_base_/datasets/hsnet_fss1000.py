# FSS-1000 on HSNet's protocol and class split (splits/fss/{trn,val,test}.txt), with HSNet's 400x400 resize for
# training and testing, evaluated at that size; one test episode per test image (2400), as HSNet's test.py.
# Batch: HSNet's --bsz 20 (total over its GPUs; with N processes set batch_size=20/N). Validation after every
# epoch on every image of the val classes, as HSNet's train.py does.
_base_ = ['./fss1000.py', './hsnet_pipeline.py']
train_dataloader = dict(batch_size=20, dataset=dict(pipeline={{_base_.hsnet_pipeline}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.hsnet_pipeline}}, eval_label='transformed'))
val_dataloader = dict(dataset=dict(pipeline={{_base_.hsnet_pipeline}}, eval_label='transformed',
                                   num_episodes=None))  # all of val
