# CRCNet on COCO-20i fold 0 (4-fold setting, Tables 11-12 protocol).
_base_ = ['./_base_/models/crcnet_r50.py', './_base_/datasets/coco_20i.py', './_base_/schedules/sgd_200e.py',
          './_base_/default_runtime.py']
