import pytest
import torch

from corrflow.registry import MODELS


def test_global_attention_head_is_a_softmax_over_every_reference_cell():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 8, 5, 6, generator=g), torch.randn(2, 8, 5, 6, generator=g)
    labels = torch.rand(2, 3, 5, 6, generator=g).softmax(1)
    head = MODELS.build(dict(type='GlobalAttentionHead', temperature=0.5))
    out = head(q, k, labels)
    assert out.shape == (2, 3, 5, 6)
    for b in range(2):
        for y, x in ((0, 0), (2, 3), (4, 5)):
            aff = torch.einsum('c,chw->hw', q[b, :, y, x], k[b]).flatten() / 0.5
            want = labels[b].flatten(1) @ aff.softmax(0)
            torch.testing.assert_close(out[b, :, y, x], want)
    torch.testing.assert_close(out.sum(1), torch.ones(2, 5, 6))


def test_global_attention_equals_restricted_attention_whose_window_covers_the_map():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(1, 4, 6, 7, generator=g), torch.randn(1, 4, 6, 7, generator=g)
    labels = torch.rand(1, 5, 6, 7, generator=g)
    dense = MODELS.build(dict(type='GlobalAttentionHead'))(q, k, labels)
    windowed = MODELS.build(dict(type='RestrictedAttentionHead', radius=7))(q, k, labels)
    torch.testing.assert_close(dense, windowed, rtol=1e-4, atol=1e-5)


def test_global_attention_head_shares_the_label_downsampling_and_checks_shapes():
    head = MODELS.build(dict(type='GlobalAttentionHead', stride=4))
    restricted = MODELS.build(dict(type='RestrictedAttentionHead', stride=4))
    labels = torch.randint(0, 4, (1, 16, 20))
    torch.testing.assert_close(head.downsample_labels(labels, 4, (4, 5)),
                               restricted.downsample_labels(labels, 4, (4, 5)))
    with pytest.raises(ValueError, match='share batch and grid'):
        head(torch.randn(1, 4, 3, 3), torch.randn(1, 4, 3, 3), torch.rand(1, 2, 3, 4))
    with pytest.raises(ValueError, match='temperature'):
        MODELS.build(dict(type='GlobalAttentionHead', temperature=0))
