# SANSA on the generated data: a CPU run of the SANSA host (no download). No SAM2 weights exist here, and a frozen
# random SAM2 leaves its adapters nothing to unlock (adapters alone: the loss stays flat), so a small SAM2 (Hiera-T's
# config at 128 px, narrower and shallower: the overrides below; 1.41M parameters) trains from scratch together with
# the adapters (stages 2 and 3, ratio 0.3): freeze_sam2=False, which is not SANSA. AdamW with SANSA's betas, clipping
# and cosine schedule, at lr 1e-3 for a from-scratch run; 24 epochs of 984 episodes take about what the CRCNet
# default takes on 2 cores (docs/en/model_zoo/sansa.md). SANSA's procedure, SAM2 frozen:
# --cfg-options model.model.freeze_sam2=True
_base_ = ['./crcnet_generated.py', './_base_/models/sam2_generated.py']
custom_imports = dict(imports=['integrations.mmseg', 'integrations.sansa'], allow_failed_imports=False)
model = dict(model=dict(_delete_=True, type='SANSA', sam2_size='tiny', sam2_weights=None, adapter_stages=(2, 3),
                        adapter_ratio=0.3, sam2_overrides={{_base_.sam2_small}}, freeze_sam2=False))
base_lr = 1e-3
max_epochs = 24
optim_wrapper = dict(type='OptimWrapper', clip_grad=dict(max_norm=0.1),
                     optimizer=dict(_delete_=True, type='AdamW', lr=base_lr, weight_decay=0.0, betas=(0.9, 0.999)))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, by_epoch=True, begin=0,
                        end=max_epochs, convert_to_iter_based=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=6)
