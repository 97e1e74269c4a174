# A small SAM 2 for the generated data (no download, 2 CPU cores): Hiera-T's config at 128 px, narrower and shallower
# (1.41M parameters with SANSA's adapters); the families on SAM 2 train it from scratch there.
sam2_small = [
    '++model.image_size=128',
    '++model.image_encoder.trunk.embed_dim=16', '++model.image_encoder.trunk.num_heads=1',
    '++model.image_encoder.trunk.stages=[1,1,2,1]', '++model.image_encoder.trunk.global_att_blocks=[3]',
    '++model.image_encoder.neck.d_model=64', '++model.image_encoder.neck.backbone_channel_list=[128,64,32,16]',
    '++model.image_encoder.neck.position_encoding.num_pos_feats=64',
    '++model.memory_attention.d_model=64', '++model.memory_attention.num_layers=2',
    '++model.memory_attention.layer.d_model=64', '++model.memory_attention.layer.dim_feedforward=256',
    '++model.memory_attention.layer.self_attention.embedding_dim=64',
    '++model.memory_attention.layer.cross_attention.embedding_dim=64',
    '++model.memory_attention.layer.cross_attention.kv_in_dim=32',
    '++model.memory_encoder.out_dim=32', '++model.memory_encoder.in_dim=64',
    '++model.memory_encoder.position_encoding.num_pos_feats=32',
    '++model.memory_encoder.mask_downsampler.embed_dim=64',
    '++model.memory_encoder.fuser.layer.dim=64', '++model.memory_encoder.fuser.num_layers=1',
]
