# DINOv2 ViT-S/14 (model.backbone.checkpoint=dinov2_vits14_pretrain.pth) under DINO's
# protocol (see vit_s16_davis_dino.py): patch 14, frames padded to multiples of 14, the
# positional embedding (stored for 518x518, a 37x37 grid) interpolated to each frame's grid.
_base_ = ['./vit_s16_davis_dino.py']
model = dict(backbone=dict(arch='vit_small_patch14_dinov2', key_map='dinov2'), size_divisor=14)
