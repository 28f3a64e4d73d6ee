# DINOv2 ViT-S/14 with 4 registers (model.backbone.checkpoint=dinov2_vits14_reg4_pretrain.pth)
# under DINO's protocol (see vit_s16_davis_dino.py); the register tokens are dropped
# with the class token.
_base_ = ['./vit_s16_davis_dino.py']
model = dict(backbone=dict(arch='vit_small_patch14_reg4_dinov2', key_map='dinov2'),
             size_divisor=14)
