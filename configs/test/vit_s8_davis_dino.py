# A timm ViT-S/8 (DINO's ViT-S/8 with model.backbone.checkpoint=dino_deitsmall8_pretrain.pth)
# under DINO's protocol (see vit_s16_davis_dino.py): stride 8, +-12 cells.
_base_ = ['./vit_s16_davis_dino.py']
model = dict(backbone=dict(arch='vit_small_patch8_224'), size_divisor=8)
