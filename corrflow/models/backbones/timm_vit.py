"""Vision transformers of timm as frame encoders: the last block's patch tokens as a map."""
from __future__ import annotations

from mmengine.model import BaseModule
from torch import Tensor

from corrflow.errors import ConfigError
from corrflow.models.backbones.pretrained_weights import KEY_MAPS, load_pretrained_encoder
from corrflow.registry import MODELS

__all__ = ['TimmViT']


@MODELS.register_module()
class TimmViT(BaseModule):
    """A timm ViT whose last block's patch tokens, after the final norm, form the feature map.

    As DINO's video-segmentation evaluation reads a ViT: the class token (and
    any register tokens) are dropped, the h x w patch tokens of the last block
    become a (C, h, w) map at stride ``patch_size``. The positional embedding
    is interpolated to each input's patch grid (timm's ``dynamic_img_size``),
    so any input whose sides are multiples of the patch size works;
    ``LabelPropagator`` pads (or resizes) frames to such sizes with
    ``size_divisor`` equal to the patch size and maps the masks back to the
    original size. Weights start random unless ``checkpoint`` is given (a file
    on disk, never downloaded).

    Args:
        arch (str): a timm ViT name, e.g. ``'vit_small_patch16_224'`` (DINO
            ViT-S/16), ``'vit_small_patch8_224'``, ``'vit_base_patch16_224'``
            (MAE, CropMAE), ``'vit_small_patch14_dinov2'`` or
            ``'vit_small_patch14_reg4_dinov2'`` (DINOv2 with registers).
        img_size (int | None): the size the positional embedding is stored for
            (the checkpoint's: 224, or 518 for DINOv2); None takes the arch's.
        checkpoint (str | None): weights file.
        key_map (str): how the checkpoint names the encoder: ``'dino'``,
            ``'dinov2'``, ``'mae'`` (MAE and CropMAE) or ``'timm'``.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, arch: str = 'vit_small_patch16_224', img_size: int | None = None,
                 checkpoint: str | None = None, key_map: str = 'timm',
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        try:
            import timm
        except ImportError:  # pragma: no cover - timm is a requirement
            raise ConfigError('TimmViT needs timm: pip install -r requirements.txt') from None
        if key_map not in KEY_MAPS:
            raise ConfigError(f'key_map must be one of {sorted(KEY_MAPS)}, got {key_map!r}')
        if not timm.is_model(arch) or not arch.startswith(('vit_', 'deit_')):
            raise ConfigError(f'TimmViT: {arch!r} is not a timm ViT (e.g. vit_small_patch16_224, '
                              'vit_small_patch14_dinov2); list them with timm.list_models("vit_*")')
        kwargs = dict(pretrained=False, num_classes=0, dynamic_img_size=True)
        if img_size is not None:
            kwargs['img_size'] = img_size
        self.vit = timm.create_model(arch, **kwargs)
        self.arch = arch
        self.stride = int(self.vit.patch_embed.patch_size[0])
        self.out_channels = int(self.vit.embed_dim)
        self.num_prefix_tokens = int(self.vit.num_prefix_tokens)
        self.checkpoint = checkpoint
        self.key_map = key_map
        if checkpoint:
            self.load_checkpoint()

    def load_checkpoint(self) -> None:
        """Fill the weights from ``checkpoint`` read with ``key_map``."""
        load_pretrained_encoder(self.vit, self.checkpoint, self.key_map,
                                name=f'TimmViT {self.arch}')

    def init_weights(self) -> None:
        super().init_weights()
        if self.checkpoint:
            self.load_checkpoint()

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W), H and W multiples of the patch size -> (B, C, H/p, W/p)."""
        H, W = x.shape[-2:]
        p = self.stride
        if H % p or W % p:
            raise ValueError(f'TimmViT {self.arch}: input {W}x{H} is not a multiple of the patch '
                             f'size {p}; set the propagator\'s size_divisor to {p}')
        tokens = self.vit.forward_features(x)[:, self.num_prefix_tokens:]  # (B, h*w, C)
        return tokens.transpose(1, 2).reshape(x.shape[0], -1, H // p, W // p)
