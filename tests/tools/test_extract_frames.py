"""tools/data/extract_frames.py: frame rates, resizing, resuming, undecodable files."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'data' / 'extract_frames.py'

_spec = importlib.util.spec_from_file_location('extract_frames', TOOL)
extract_frames = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(extract_frames)


def write_clip(path: Path, num: int, fps: float, size=(64, 48)) -> Path:
    """A tiny mp4v video whose frame t has grey level 10 * t (size is (W, H))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
    for t in range(num):
        writer.write(np.full((size[1], size[0], 3), 10 * t, dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture
def videos(tmp_path):
    src = tmp_path / 'videos'
    write_clip(src / 'a.mp4', 20, 30.0)  # 30 fps -> 6 fps keeps frames 0, 5, 10, 15
    write_clip(src / 'sub' / 'b.mp4', 7, 10.0, size=(40, 32))  # keeps 0, 2, 3, 5
    (src / 'notes.txt').write_text('not a video')
    return src


def frame_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == '.jpg')


def grey(path: Path) -> float:
    return float(cv2.imread(str(path)).mean())


def test_fps_resize_and_layout(videos, tmp_path, capsys):
    dst = tmp_path / 'frames'
    assert extract_frames.main([str(videos), str(dst), '--short-side', '24', '--workers', '1']) \
        == 0
    out = capsys.readouterr().out
    assert '[2/2]' in out and 'extracted 2, skipped 0' in out and '30 -> 6 fps' in out
    assert frame_files(dst / 'a') == [f'{i:05d}.jpg' for i in range(4)]
    assert [round(grey(dst / 'a' / f'{i:05d}.jpg') / 10) for i in range(4)] == [0, 5, 10, 15]
    assert [round(grey(dst / 'sub' / 'b' / f'{i:05d}.jpg') / 10) for i in range(4)] == \
        [0, 2, 3, 5]
    assert cv2.imread(str(dst / 'a' / '00000.jpg')).shape == (24, 32, 3)
    assert cv2.imread(str(dst / 'sub' / 'b' / '00000.jpg')).shape == (24, 30, 3)
    marker = json.loads((dst / 'a' / '.done').read_text())
    assert marker['frames'] == 4 and marker['settings']['short_side'] == 24
    # the rate of the written frames: 30 -> 6 fps, and 10 fps at --fps 6 -> 6 fps
    assert marker['fps'] == pytest.approx(6.0)
    assert json.loads((dst / 'sub' / 'b' / '.done').read_text())['fps'] == pytest.approx(6.0)


def test_every_n_keep_size_and_png(videos, tmp_path):
    dst = tmp_path / 'frames'
    assert extract_frames.main([str(videos), str(dst), '--every', '3', '--short-side', '0',
                                '--ext', 'png', '--workers', '1']) == 0
    assert len(list((dst / 'a').glob('*.png'))) == 7  # 0, 3, ..., 18
    assert len(list((dst / 'sub' / 'b').glob('*.png'))) == 3  # 0, 3, 6
    assert json.loads((dst / 'a' / '.done').read_text())['fps'] == pytest.approx(10.0)
    assert json.loads((dst / 'sub' / 'b' / '.done').read_text())['fps'] == pytest.approx(10 / 3)
    assert cv2.imread(str(dst / 'a' / '00000.png')).shape == (48, 64, 3)


def test_resume_skips_done_and_redoes_partial_or_changed(videos, tmp_path, capsys):
    dst = tmp_path / 'frames'
    args = [str(videos), str(dst), '--workers', '1']
    assert extract_frames.main(args) == 0
    capsys.readouterr()
    b_mtime = (dst / 'sub' / 'b' / '00000.jpg').stat().st_mtime_ns
    (dst / 'a' / '.done').unlink()  # an interrupted run: frames but no marker ...
    (dst / 'a' / '00003.jpg').unlink()
    (dst / 'a' / '00042.jpg').write_bytes(b'stale')  # ... and a stale frame of another run
    assert extract_frames.main(args) == 0
    out = capsys.readouterr().out
    assert 'sub/b: skipped, already extracted (4 frames)' in out
    assert 'a: 4 frames' in out and 'redone' in out
    assert 'extracted 1, skipped 1' in out
    assert frame_files(dst / 'a') == [f'{i:05d}.jpg' for i in range(4)]
    assert (dst / 'sub' / 'b' / '00000.jpg').stat().st_mtime_ns == b_mtime
    assert extract_frames.main(args) == 0
    assert 'extracted 0, skipped 2' in capsys.readouterr().out
    assert extract_frames.main([*args, '--every', '2']) == 0  # other settings: redone
    assert 'extracted 2, skipped 0' in capsys.readouterr().out
    assert len(frame_files(dst / 'a')) == 10


def test_undecodable_files_are_counted_and_listed(videos, tmp_path, capsys):
    (videos / 'broken.mp4').write_bytes(b'\x00not really a video' * 50)
    dst = tmp_path / 'frames'
    assert extract_frames.main([str(videos), str(dst), '--workers', '1']) == 0
    captured = capsys.readouterr()
    assert 'broken: FAILED' in captured.out
    assert 'failed 1 of 3 videos' in captured.out
    assert 'warning: 1 videos could not be decoded' in captured.err
    assert 'broken.mp4' in captured.err
    assert not (dst / 'broken').exists()


def test_nothing_decodable_or_no_videos_is_an_error(tmp_path, capsys):
    src = tmp_path / 'bad'
    src.mkdir()
    assert extract_frames.main([str(src), str(tmp_path / 'out')]) == 1
    assert capsys.readouterr().err.startswith('error: no videos')
    (src / 'x.avi').write_bytes(b'garbage' * 10)
    assert extract_frames.main([str(src), str(tmp_path / 'out'), '--workers', '1']) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        f'error: none of the 1 videos under {src} could be decoded'


def test_output_names_keep_extensions_only_on_collisions(tmp_path):
    videos = [tmp_path / 'a.mp4', tmp_path / 'a.AVI', tmp_path / 'd' / 'c.mkv']
    assert extract_frames.output_names(videos, tmp_path) == ['a_mp4', 'a_avi', 'd/c']


def test_parallel_cli(videos, tmp_path, tool):
    dst = tmp_path / 'frames'
    proc = tool(str(TOOL), str(videos), str(dst), '--workers', '2', '--fps', '10')
    assert proc.returncode == 0, proc.stderr
    assert 'extracted 2, skipped 0' in proc.stdout and '2 workers' in proc.stdout
    assert len(frame_files(dst / 'a')) == 7  # 30 -> 10 fps: 0, 3, ..., 18
    assert len(frame_files(dst / 'sub' / 'b')) == 7  # 10 fps: every frame
