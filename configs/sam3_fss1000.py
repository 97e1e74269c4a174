# FSS-SAM3 (SAM 3, nothing trained) on FSS-1000 by HSNet's protocol (one episode per test image, 2400), supports as
# masks. The shortest command to try it on your own images:
#   python tools/infer.py --config configs/sam3_fss1000.py --cfg-options sam3_weights=sam3.pt \
#       --support s.png s_mask.png --query q.png --out out/
_base_ = ['./_base_/models/sam3.py', './_base_/datasets/sam3_hsnet_fss1000.py']
