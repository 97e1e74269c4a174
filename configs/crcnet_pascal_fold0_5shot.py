# 5-shot test of the 1-shot model (Table 4): fusion; add --kshot-mode finetune|both to tools/test.py.
_base_ = ['./crcnet_pascal_fold0.py']
test_dataloader = dict(dataset=dict(shot=5))
