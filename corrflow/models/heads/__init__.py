from .restricted_attention_head import GlobalAttentionHead, RestrictedAttentionHead
from .transform_regressor import TransformRegressor

__all__ = ['GlobalAttentionHead', 'RestrictedAttentionHead', 'TransformRegressor']
