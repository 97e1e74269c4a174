# FSS-1000 on HSNet's protocol and class split (the numbers CRCNet's Table 15 compares with):
# data/FSS-1000/<class>/{1..10}.{jpg,png}, splits/fss/{trn,val,test}.txt copied from HSNet's data/splits/fss.
# Images are 224x224; one test episode per test image (2400), as HSNet's data/fss.py (__len__ is the number of
# images of the split); validation during training: 300 episodes of the val classes.
_base_ = ['./pascal_5i.py']
dataset_type = 'FSS1000Dataset'
data_root = 'data/FSS-1000'
train_pipeline = [
    dict(type='RandomResize', scale=(321, 321), ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(321, 321)),
    dict(type='Pad', size=(321, 321), pad_val=dict(img=0, seg=255)),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(dataset=dict(
    _delete_=True, type=dataset_type, data_root=data_root, split_file='splits/fss/trn.txt', protocol='hsnet',
    mode='train', shot=1, pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(
    _delete_=True, type=dataset_type, data_root=data_root, split_file='splits/fss/test.txt', protocol='hsnet',
    mode='test', shot=1, pipeline={{_base_.test_pipeline}}, seed=321, eval_label='original'))
# validation: the test dataset on the val classes, 300 episodes from another seed
val_dataloader = dict(dataset=dict(test_dataloader['dataset'], split_file='splits/fss/val.txt', num_episodes=300,
                                   seed=123))
