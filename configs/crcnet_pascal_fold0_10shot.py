_base_ = ['./crcnet_pascal_fold0.py']
test_dataloader = dict(dataset=dict(shot=10))
