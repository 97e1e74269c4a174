# FSSAM on the generated data: a CPU run of the FSSAM host (no download). No SAM 2 or DINOv2 weights exist here: a
# small SAM 2 (configs/_base_/models/sam2_generated.py, 128 px) whose image encoder trains with FSSAM's parts (FSSAM
# trains only the mask decoder, memory encoder and memory attention of a pretrained SAM 2), and a small random DINOv2
# (2 blocks, 32 wide, images at 56 px), frozen as FSSAM's: its priors are random-feature similarities. FSSAM's AdamW
# and poly schedule at lr 1e-3, 12 epochs of 984 episodes.
_base_ = ['./crcnet_generated.py', './_base_/models/sam2_generated.py']
custom_imports = dict(imports=['integrations.mmseg', 'integrations.fssam.model'], allow_failed_imports=False)
model = dict(model=dict(_delete_=True, type='FSSAM', sam2_size='tiny', dinov2='vit_small', sam2_weights=None,
                        dinov2_weights=None, refinement_steps=3, dinov2_input=56,
                        dinov2_architecture=dict(embed_dim=32, depth=2, num_heads=2),
                        trained_parts=('image_encoder', 'sam_mask_decoder', 'memory_encoder', 'memory_attention'),
                        sam2_overrides={{_base_.sam2_small}}),
             test_cfg=dict(kshot_mode='fusion', threshold=0.5))
base_lr = 1e-3
max_epochs = 12
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(_delete_=True, type='AdamW', lr=base_lr, weight_decay=0.0))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs,
                        convert_to_iter_based=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=6)
