# COCO-20i, 4-fold setting (fold i novel = {4k+i+1}), on PFENet's protocol with PFENet's lists and converted PNGs.
# Layout: data/coco/{train2014,val2014}, data/coco/annotations/{train2014,val2014}/*.png,
# lists/coco/{train,val}_data_list.txt copied from PFENet's lists/coco/; or list_file=None,
# ann_file='data/coco/annotations/instances_{train,val}2014.json' (pip install '.[coco]').
# HSNet's protocol instead: protocol='hsnet', list_file=None, split_file='splits/coco/trn/fold{fold}.pkl'
# (training) or 'splits/coco/val/fold{fold}.pkl' (testing), from HSNet's data/splits.
# Episodes: test 20000, as PFENet's test.py runs COCO (`test_num = 20000`; 20001 through its loop's break
# test); HSNet's protocol: 1000 (HSNet data/coco.py: __len__ is 1000 outside training). Validation during
# training: 300 episodes of the test fold (PFENet validates on the same 20000 every epoch of its 50, HSNet on
# its 1000 every epoch).
_base_ = ['./pascal_5i.py']
dataset_type = 'CocoFewShotDataset'
data_root = 'data/coco'
train_dataloader = dict(dataset=dict(
    _delete_=True, type=dataset_type, data_root=data_root, setting='fold', fold=0, mode='train', shot=1,
    list_file='lists/coco/train_data_list.txt', protocol='pfenet', pipeline={{_base_.train_pipeline}}))
test_dataloader = dict(dataset=dict(
    _delete_=True, type=dataset_type, data_root=data_root, setting='fold', fold=0, mode='test', shot=1,
    list_file='lists/coco/val_data_list.txt', protocol='pfenet', pipeline={{_base_.test_pipeline}},
    num_episodes=20000, seed=321, eval_label='original'))
# validation: the test dataset, 300 episodes from another seed
val_dataloader = dict(dataset=dict(test_dataloader['dataset'], num_episodes=300, seed=123))
