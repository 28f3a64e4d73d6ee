from .restricted_attention_head import RestrictedAttentionHead

__all__ = ['RestrictedAttentionHead']
