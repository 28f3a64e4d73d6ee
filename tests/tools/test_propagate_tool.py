"""tools/propagate.py: masks, colour masks, keypoints and every bad input, on tiny videos."""
import importlib.util
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from helpers import write_random_corrflow_checkpoint

from corrflow.apis import init_model, propagate, read_video
from corrflow.datasets.video_io import DataError, count_video_frames
from corrflow.evaluation.png_io import voc_palette, write_indexed_png

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'propagate.py'

_spec = importlib.util.spec_from_file_location('propagate_tool', TOOL)
tool_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool_module)

W, H, T = 64, 48, 5


def _frame(t: int) -> np.ndarray:
    """BGR frame t: a red 16x16 square on blue, moving right by 4 px per frame."""
    frame = np.zeros((H, W, 3), dtype=np.uint8)
    frame[..., 0] = 200
    frame[16:32, 8 + 4 * t:24 + 4 * t] = (0, 0, 255)
    return frame


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    """A 5-frame 64x48 mp4 (12 fps), the same frames as a folder, labels and a checkpoint."""
    root = tmp_path_factory.mktemp('clip')
    writer = cv2.VideoWriter(str(root / 'square.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 12.0,
                             (W, H))
    (root / 'frames').mkdir()
    for t in range(T):
        writer.write(_frame(t))
        cv2.imwrite(str(root / 'frames' / f'frame{t}.png'), _frame(t))
    writer.release()
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[16:32, 8:24] = 1
    mask[40:, :8] = 2
    write_indexed_png(str(root / 'mask.png'), mask)
    colour = np.zeros((H, W, 3), dtype=np.uint8)
    colour[16:32, 8:24] = (255, 0, 0)
    colour[0:8, 40:60] = (0, 255, 0)
    Image.fromarray(colour).save(root / 'colour.png')
    (root / 'points.json').write_text(json.dumps(
        dict(keypoints=[[16, 24], [50.5, 10]], names=['square', 'corner'])))
    ckpt = write_random_corrflow_checkpoint(root / 'random.pth')
    return dict(root=root, mp4=root / 'square.mp4', frames=root / 'frames', mask=mask,
                mask_png=root / 'mask.png', colour_png=root / 'colour.png',
                points=root / 'points.json', ckpt=ckpt)


def _read_ids(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.mode == 'P'
        palette = np.asarray(img.getpalette()[:256 * 3], dtype=np.uint8).reshape(-1, 3)
        assert (palette == voc_palette()).all()
        return np.asarray(img)


def test_masks_and_overlays_from_an_indexed_png(clip, tmp_path, capsys):
    out = tmp_path / 'out'
    assert tool_module.main([str(clip['mp4']), str(clip['mask_png']), '--checkpoint',
                             str(clip['ckpt']), '--out', str(out), '--device', 'cpu']) == 0
    printed = capsys.readouterr().out
    assert f'{T} frames of {W}x{H}, 12 fps' in printed
    assert '2 object(s), ids 1, 2' in printed
    assert f'{out / "masks"}/%05d.png ({T} indexed PNGs' in printed
    assert str(out / 'overlay.mp4') in printed and str(out / 'overlay.gif') in printed
    masks = sorted((out / 'masks').glob('*.png'))
    assert [p.name for p in masks] == [f'{t:05d}.png' for t in range(T)]
    ids = [_read_ids(p) for p in masks]
    assert all(m.shape == (H, W) for m in ids)
    assert (ids[0] == clip['mask']).all()
    assert count_video_frames(out / 'overlay.mp4') == T
    with Image.open(out / 'overlay.gif') as gif:  # 12 fps -> every 2nd frame at 6 fps
        assert gif.n_frames == 3 and gif.size == (W, H)
    settings = json.loads((out / 'propagation.json').read_text())
    assert settings['num_frames'] == T and settings['propagation']['protocol'] == 'A (CorrFlow)'

    # a second run into the same folder with a shorter clip leaves no stale mask behind
    short = tmp_path / 'short'
    short.mkdir()
    for t in range(2):
        cv2.imwrite(str(short / f'{t}.png'), _frame(t))
    assert tool_module.main([str(short), str(clip['mask_png']), '--checkpoint', 'none',
                             '--out', str(out), '--no-video']) == 0
    assert sorted(p.name for p in (out / 'masks').glob('*.png')) == ['00000.png', '00001.png']


def test_colour_png_mapping_and_default_out_dir(clip, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert tool_module.main([str(clip['frames']), str(clip['colour_png']), '--checkpoint',
                             str(clip['ckpt']), '--no-video']) == 0
    printed = capsys.readouterr().out
    # ids follow the first appearance in row-major order: the green bar at the top first
    assert 'colour (0, 255, 0) -> id 1 (drawn in (128, 0, 0))' in printed
    assert 'colour (255, 0, 0) -> id 2 (drawn in (0, 128, 0))' in printed
    out = tmp_path / 'work_dirs' / 'propagate' / 'frames'
    first = _read_ids(out / 'masks' / '00000.png')
    assert (first[16:32, 8:24] == 2).all() and (first[0:8, 40:60] == 1).all()
    assert (first > 0).sum() == 16 * 16 + 8 * 20
    assert len(list((out / 'masks').glob('*.png'))) == T
    assert not (out / 'overlay.mp4').exists() and not (out / 'overlay.gif').exists()
    settings = json.loads((out / 'propagation.json').read_text())
    assert settings['colours'] == {'1': [0, 255, 0], '2': [255, 0, 0]}


def test_grey_mask_with_threshold(clip, tmp_path, capsys):
    grey = np.zeros((H, W), dtype=np.uint8)
    grey[16:32, 8:24] = 255
    grey = cv2.GaussianBlur(grey, (7, 7), 2)  # anti-aliased: many grey levels
    Image.fromarray(grey).save(tmp_path / 'grey.png')
    args = [str(clip['frames']), str(tmp_path / 'grey.png'), '--checkpoint', 'none',
            '--out', str(tmp_path / 'out'), '--no-video']
    assert tool_module.main(args) == 1
    assert '--threshold 128' in capsys.readouterr().err
    assert tool_module.main(args + ['--threshold', '128']) == 0
    assert (_read_ids(tmp_path / 'out' / 'masks' / '00000.png') == (grey >= 128)).all()


def test_keypoints_json_and_trails(clip, tmp_path, capsys):
    out = tmp_path / 'kp'
    assert tool_module.main([str(clip['mp4']), str(clip['points']), '--checkpoint',
                             str(clip['ckpt']), '--out', str(out), '--fps', '5']) == 0
    printed = capsys.readouterr().out
    assert f'keypoints: {out / "keypoints.json"} ({T} frames x 2 joints)' in printed
    data = json.loads((out / 'keypoints.json').read_text())
    assert data['names'] == ['square', 'corner'] and data['num_frames'] == T
    points = np.asarray(data['keypoints'])
    assert points.shape == (T, 2, 2)
    assert points[0].tolist() == [[16, 24], [50.5, 10]]
    assert np.isfinite(points).all()
    assert count_video_frames(out / 'overlay.mp4') == T
    with Image.open(out / 'overlay.gif') as gif:
        assert gif.n_frames == T
    assert not (out / 'masks').exists()


def test_api_progress_callback(clip):
    model = init_model(checkpoint=clip['ckpt'])
    frames = np.stack([cv2.cvtColor(_frame(t), cv2.COLOR_BGR2RGB) for t in range(T)])
    calls = []
    result = propagate(model, frames, clip['mask'], progress=lambda t, n: calls.append((t, n)))
    assert calls == [(t, T) for t in range(1, T)]
    assert result['masks'].shape == (T, H, W)
    # a strided view of the frames gives the same masks as the file (no copy is needed)
    from_file = propagate(model, clip['frames'], clip['mask_png'])
    assert (from_file['masks'] == result['masks']).all()


def test_read_video_max_frames(clip):
    """The first frames only, from a file, a folder and an array, and the same frames."""
    full, fps = read_video(clip['mp4'])
    assert len(full) == T and fps == pytest.approx(12.0)
    for source in (clip['mp4'], clip['frames'], full, list(full)):
        first, _ = read_video(source, max_frames=3)
        assert first.shape == (3, H, W, 3)
    assert (read_video(clip['frames'], max_frames=3)[0] == read_video(clip['frames'])[0][:3]).all()
    assert (read_video(clip['mp4'], max_frames=3)[0] == full[:3]).all()
    assert len(read_video(clip['mp4'], max_frames=T + 10)[0]) == T
    with pytest.raises(ValueError, match='max_frames must be at least 1, got 0'):
        read_video(clip['mp4'], max_frames=0)


@pytest.mark.parametrize('frames,message', [
    (lambda f: f.astype(np.float32) / 255, 'the given frames are float32 with values in [0, 1]'
     '; frames must be uint8 RGB in [0, 255] (they look like values in [0, 1]: pass '
     '(frames * 255).round().astype(np.uint8))'),
    (lambda f: f.astype(np.int64) * 2, 'the given frames are int64 with values in [0, '),
    (lambda f: f[..., :2], 'the given frames must be a (T, H, W, 3) RGB array'),
])
def test_api_refuses_frames_it_would_have_to_cast(clip, frames, message):
    model = init_model(checkpoint=clip['ckpt'])
    rgb = np.stack([cv2.cvtColor(_frame(t), cv2.COLOR_BGR2RGB) for t in range(T)])
    with pytest.raises(DataError) as err:
        propagate(model, frames(rgb), clip['mask'])
    assert str(err.value).startswith(message)
    # integer frames whose values all fit in uint8 are exact and accepted
    assert propagate(model, rgb.astype(np.int32), clip['mask'])['masks'].shape == (T, H, W)


@pytest.mark.parametrize('mask,message', [
    (lambda m: np.where(m == 2, 256, m.astype(np.int64)),
     'the given mask holds label id 256; ids must lie in 0..255'),
    (lambda m: m.astype(np.int64) - 1, 'the given mask holds label id -1'),
    (lambda m: m.astype(np.float32), 'the given mask is float32; give integer label ids'),
])
def test_api_refuses_label_ids_it_would_have_to_cast(clip, mask, message):
    model = init_model(checkpoint=clip['ckpt'])
    with pytest.raises(DataError, match=re.escape(message)):
        propagate(model, clip['frames'], mask(clip['mask']))
    boolean = propagate(model, clip['frames'], clip['mask'] > 0)['masks']
    assert set(np.unique(boolean)) <= {0, 1}


@pytest.fixture(scope='module')
def bad(clip, tmp_path_factory):
    """Bad inputs, each with the file its error must name."""
    root = tmp_path_factory.mktemp('bad')
    (root / 'text.mp4').write_text('this is not a video\n')
    (root / 'empty').mkdir()
    (root / 'one').mkdir()
    cv2.imwrite(str(root / 'one' / '0.png'), _frame(0))
    write_indexed_png(str(root / 'small.png'), np.ones((H // 2, W // 2), dtype=np.uint8))
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(root / 'photo.png')
    (root / 'ragged.json').write_text('{"keypoints": [[1, 2], [3]]}')
    (root / 'broken.json').write_text('[[1, 2')
    (root / 'outside.json').write_text('[[10, 10], [100, 10]]')
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(8, 3, 3, 3)}),
               root / 'other.pth')
    (root / 'text.pth').write_text('this is not a checkpoint\n')
    return root


@pytest.mark.parametrize('video,labels,checkpoint,blame,message', [
    ('missing.mp4', 'mask', 'ckpt', 'missing.mp4', 'does not exist'),
    ('mp4', 'missing.png', 'ckpt', 'missing.png', 'do not exist'),
    ('mp4', 'mask', 'missing.pth', 'missing.pth', 'does not exist'),
    ('text.mp4', 'mask', 'ckpt', 'text.mp4', 'could not be opened or decoded'),
    ('empty', 'mask', 'ckpt', 'empty', 'holds no frames'),
    ('one', 'mask', 'ckpt', 'one', 'single frame'),
    ('mp4', 'small.png', 'ckpt', 'small.png', 'is 32x24 but the video frames are 64x48'),
    ('mp4', 'photo.png', 'ckpt', 'photo.png', 'colours (at most 64'),
    ('mp4', 'ragged.json', 'ckpt', 'ragged.json', 'must hold a list of [x, y]'),
    ('mp4', 'broken.json', 'ckpt', 'broken.json', 'is not valid JSON'),
    ('mp4', 'outside.json', 'ckpt', 'outside.json', 'joint 1 at (100, 10) lies outside'),
    ('mp4', 'mask', 'other.pth', 'other.pth', 'does not fit LabelPropagator'),
    ('mp4', 'mask', 'text.pth', 'text.pth', 'is a text file'),
])
def test_bad_input_is_one_line_naming_the_file(clip, bad, capsys, video, labels, checkpoint,
                                               blame, message):
    named = dict(mp4=clip['mp4'], mask=clip['mask_png'], ckpt=clip['ckpt'])
    argv = [str(named.get(video, bad / video)), str(named.get(labels, bad / labels)),
            '--checkpoint', str(named.get(checkpoint, bad / checkpoint)), '--out', str(bad / 'out')]
    assert tool_module.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith('error: ')
    assert str(bad / blame) in err and message in err


@pytest.mark.parametrize('extra,message', [
    (['--config', 'configs/train/corrflow_r18_demo.py'], 'use a test config'),
    (['--config', 'nope.py'], 'config nope.py does not exist'),
    (['--cfg-options', 'model.propagation.radiuss=3'], 'did you mean model.propagation.radius'),
    (['--threshold', '0'], '--threshold must be in 1..255'),
    (['--fps', '-1'], '--fps must be > 0'),
    (['--amp', 'fp16', '--device', 'cpu'], 'fp16 autocast needs a CUDA GPU'),
])
def test_bad_options(clip, tmp_path, capsys, extra, message):
    assert tool_module.main([str(clip['mp4']), str(clip['mask_png']), '--checkpoint', 'none',
                             '--out', str(tmp_path), *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_cli_exit_code_without_traceback(tool, bad, clip):
    proc = tool(str(TOOL), str(bad / 'text.mp4'), str(clip['mask_png']), '--checkpoint',
                str(clip['ckpt']), '--out', str(bad / 'out'))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f'error: video {bad / "text.mp4"} could not be opened or decoded by OpenCV or PyAV '
        '(unsupported codec or corrupt file); convert it to mp4/H.264 or extract its frames']


def test_load_test_config_resolves_and_checks(tmp_path, monkeypatch):
    from corrflow.apis import load_test_config
    from corrflow.utils.launch import ConfigError

    monkeypatch.chdir(tmp_path)  # a relative config path is found from the repository root
    cfg = load_test_config('configs/test/pixel_lab_raw_davis.py', {'model.input_size': 240})
    assert cfg.model.input_size == 240 and cfg.model.backbone.type == 'PixelColourEncoder'
    assert load_test_config().filename == str(REPO_ROOT / 'configs/test/corrflow_davis.py')
    with pytest.raises(ConfigError, match='did you mean model.input_size'):
        init_model('configs/test/pixel_lab_raw_davis.py', cfg_options={'model.input_sise': 240})
    with pytest.raises(FileNotFoundError, match='config nope.py does not exist'):
        load_test_config('nope.py')


def test_amp_bf16_propagates_like_fp32(clip, tmp_path, capsys):
    masks = {}
    for name, extra in (('fp32', []), ('bf16', ['--amp', 'bf16'])):
        out = tmp_path / name
        assert tool_module.main([str(clip['mp4']), str(clip['mask_png']), '--checkpoint',
                                 str(clip['ckpt']), '--out', str(out), '--no-video',
                                 *extra]) == 0
        assert f'precision {name}' in capsys.readouterr().out
        settings = json.loads((out / 'propagation.json').read_text())
        assert settings['propagation']['precision'].startswith(name)
        masks[name] = np.stack([_read_ids(p) for p in sorted((out / 'masks').glob('*.png'))])
    assert (masks['bf16'] == masks['fp32']).mean() > 0.98
