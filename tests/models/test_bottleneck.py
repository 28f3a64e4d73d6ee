import pytest
import torch

from corrflow.registry import MODELS


def build(**kwargs):
    return MODELS.build(dict(type='ColourBottleneck', **kwargs))


def test_channel_dropout_statistics():
    torch.manual_seed(0)
    bottleneck = build(jitter_prob=0.0)
    n = 6000
    kept, dropped = 0, {1: 0, 2: 0}
    per_channel = torch.zeros(3)
    for _ in range(n):
        s = bottleneck.dropout_scales(4)[:, 0, :, 0, 0]  # (B, 3)
        assert (s == s[0]).all()  # one draw per iteration: same for the whole batch
        zeros = int((s[0] == 0).sum())
        if zeros == 0:
            kept += 1
            assert torch.equal(s[0], torch.ones(3))
        else:
            dropped[zeros] += 1
            assert torch.allclose(s[0][s[0] > 0], torch.full((3 - zeros,), 3.0 / (3 - zeros)))
            per_channel += (s[0] == 0).float()
    # binomial standard errors: ~0.006 on 0.3, ~0.006 on 0.35
    assert abs(kept / n - 0.3) < 0.03
    assert abs(dropped[1] / n - 0.35) < 0.03 and abs(dropped[2] / n - 0.35) < 0.03
    share = per_channel / per_channel.sum()
    assert (share - 1 / 3).abs().max() < 0.03  # channels chosen uniformly


def test_per_sample_draws_differ_across_the_batch():
    torch.manual_seed(0)
    s = build(draw='sample', jitter_prob=0.0).dropout_scales(64)[:, 0, :, 0, 0]
    assert len({tuple(row.tolist()) for row in s}) > 3


def test_jitter_statistics_and_identity_in_eval():
    torch.manual_seed(0)
    bottleneck = build(keep_prob=1.0, jitter_prob=0.1)
    frames = torch.rand(200, 2, 3, 8, 8) * 0.8 + 0.1
    out = bottleneck(frames)
    changed = (out - frames).flatten(1).abs().amax(1) > 1e-6
    assert 0.04 < changed.float().mean() < 0.18  # about 10 % of the clips
    jittered = changed.nonzero().flatten()
    # frames of a jittered clip get their own factors
    i = int(jittered[0])
    assert not torch.allclose(out[i, 0] - frames[i, 0], out[i, 1] - frames[i, 1])
    bottleneck.eval()
    assert bottleneck(frames) is frames


def test_output_range_and_scaling():
    torch.manual_seed(3)
    bottleneck = build(keep_prob=0.0, drop_counts=(2,), jitter_prob=0.0)
    frames = torch.full((1, 1, 3, 2, 2), 0.25)
    out = bottleneck(frames)
    assert sorted(out[0, 0, :, 0, 0].tolist()) == pytest.approx([0.0, 0.0, 0.75])


def test_bad_arguments():
    with pytest.raises(ValueError, match='draw'):
        build(draw='batch')
    with pytest.raises(ValueError, match='drop_counts'):
        build(drop_counts=(3,))
    with pytest.raises(ValueError, match='probabilities'):
        build(keep_prob=1.5)
