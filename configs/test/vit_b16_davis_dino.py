# A timm ViT-B/16 under DINO's protocol (see vit_s16_davis_dino.py). DINO's ViT-B/16:
# model.backbone.checkpoint=dino_vitbase16_pretrain.pth; MAE's or CropMAE's ViT-B/16
# encoder: model.backbone.checkpoint=mae_pretrain_vit_base.pth model.backbone.key_map=mae.
_base_ = ['./vit_s16_davis_dino.py']
model = dict(backbone=dict(arch='vit_base_patch16_224'))
