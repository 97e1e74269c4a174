# PFENet + CRC on the generated data: a CPU smoke run of the PFENet host (no download; backbone from scratch).
_base_ = ['./crcnet_generated.py']
model = dict(model=dict(_delete_=True, type='PFENet', layers=50, ppm_scales=(8, 4), pretrained=None,
                        global_conditional=True, cross_reference=True))
