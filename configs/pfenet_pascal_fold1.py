_base_ = ['./pfenet_pascal_fold0.py']
fold = 1
train_dataloader = dict(dataset=dict(fold=1))
val_dataloader = dict(dataset=dict(fold=1))
test_dataloader = dict(dataset=dict(fold=1))
