from .restricted_attention_head import GlobalAttentionHead, RestrictedAttentionHead
from .node_projection import NodeProjection
from .transform_regressor import TransformRegressor

__all__ = ['GlobalAttentionHead', 'NodeProjection', 'RestrictedAttentionHead', 'TransformRegressor']
