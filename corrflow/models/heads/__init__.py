from .restricted_attention_head import GlobalAttentionHead, RestrictedAttentionHead

__all__ = ['GlobalAttentionHead', 'RestrictedAttentionHead']
