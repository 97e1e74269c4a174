# CRCNet on FSS-1000 (Table 15).
_base_ = ['./_base_/models/crcnet_r50.py', './_base_/datasets/fss1000.py', './_base_/schedules/sgd_200e.py',
          './_base_/default_runtime.py']
