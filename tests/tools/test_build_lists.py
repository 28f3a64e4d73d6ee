"""tools/data/build_lists.py on tiny generated layouts, and the committed list files."""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'data' / 'build_lists.py'
DATA_INFO = REPO_ROOT / 'data' / 'data_info'
JHMDB_ACTIONS = ('brush_hair', 'catch', 'clap', 'climb_stairs', 'golf', 'jump', 'kick_ball',
                 'pick', 'pour', 'pullup', 'push', 'run', 'shoot_ball', 'shoot_bow', 'shoot_gun',
                 'sit', 'stand', 'swing_baseball', 'throw', 'walk', 'wave')

_spec = importlib.util.spec_from_file_location('build_lists', TOOL)
build_lists = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_lists)


def touch(*paths: Path) -> None:
    """Empty files (the tool checks only that frames and annotations exist)."""
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def make_davis(root: Path, annotated: dict[str, bool]) -> None:
    """Sequences of two frames; ``annotated[seq]`` says whether 00000.png exists."""
    for seq, has_mask in annotated.items():
        touch(root / 'JPEGImages/480p' / seq / '00000.jpg', root / 'JPEGImages/480p' / seq /
              '00001.jpg', root / 'Annotations/480p' / seq / '00001.png')
        if has_mask:
            touch(root / 'Annotations/480p' / seq / '00000.png')


# --- davis ---------------------------------------------------------------------------------

def test_davis_reads_the_imageset_and_sorts(tmp_path, capsys):
    make_davis(tmp_path / 'davis', {'dog': True, 'bear': True, 'cat': True})
    (tmp_path / 'davis/ImageSets/2017').mkdir(parents=True)
    (tmp_path / 'davis/ImageSets/2017/val.txt').write_text('dog\nbear\n')
    out = tmp_path / 'val.txt'
    assert build_lists.main(['davis', str(tmp_path / 'davis'), '--out', str(out)]) == 0
    assert read_lines(out) == ['bear', 'dog']
    assert f'wrote 2 sequences to {out}' in capsys.readouterr().out


def test_davis_without_imageset_lists_annotated_folders(tmp_path):
    make_davis(tmp_path, {'dog': True, 'bear': True})
    touch(tmp_path / 'JPEGImages/480p/unlabelled/00000.jpg')
    out = tmp_path / 'val.txt'
    assert build_lists.main(['davis', str(tmp_path), '--out', str(out)]) == 0
    assert read_lines(out) == ['bear', 'dog']


def test_davis_missing_first_frame_annotation_is_an_error(tmp_path, capsys):
    make_davis(tmp_path, {'dog': True, 'bear': False})
    out = tmp_path / 'val.txt'
    assert build_lists.main(['davis', str(tmp_path), '--out', str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: 1 of 2 sequences are incomplete') and 'bear' in err
    assert not out.exists()


def test_davis_on_the_shared_subset_lists_its_15_sequences(shared_data, tmp_path):
    root = shared_data / 'davis2016-val-subset'
    if not root.is_dir():
        pytest.skip(f'{root} not found')
    out = tmp_path / 'val.txt'
    result = run_cli('davis', str(root), '--out', str(out))
    assert result.returncode == 0, result.stderr
    assert f'wrote 15 sequences to {out}' in result.stdout
    names = read_lines(out)
    assert names == sorted(read_lines(root / 'ImageSets/2017/val.txt'))
    assert len(names) == 15 and set(names) <= set(read_lines(DATA_INFO / 'davis2017_val.txt'))


# --- jhmdb ---------------------------------------------------------------------------------

def make_jhmdb(tmp_path: Path, present: list[str]) -> tuple[Path, Path]:
    splits = tmp_path / 'splits'
    splits.mkdir()
    (splits / 'catch_test_split1.txt').write_text(
        'Ball_catch_f_cm_np1_fr_med_0.avi 1\nBall_catch_f_cm_np1_fr_med_1.avi 2 \n\n')
    (splits / 'shoot_ball_test_split1.txt').write_text(
        'Hoops_shoot_ball_u_nm_np1_ba_med_3.avi 2\r\nHoops_shoot_ball_u_nm_np1_ba_med_4.avi 2\r\n')
    (splits / 'catch_test_split2.txt').write_text('Ball_catch_f_cm_np1_fr_med_0.avi 2\n')
    root = tmp_path / 'jhmdb'
    root.mkdir()
    for video in present:
        touch(root / 'Rename_Images' / video / '00001.png',
              root / 'joint_positions' / video / 'joint_positions.mat')
    return root, splits


def test_jhmdb_writes_action_video_lines_of_the_subset(tmp_path):
    root, splits = make_jhmdb(tmp_path, ['catch/Ball_catch_f_cm_np1_fr_med_0',
                                         'catch/Ball_catch_f_cm_np1_fr_med_1',
                                         'shoot_ball/Hoops_shoot_ball_u_nm_np1_ba_med_3',
                                         'shoot_ball/Hoops_shoot_ball_u_nm_np1_ba_med_4'])
    test, train = tmp_path / 'test.txt', tmp_path / 'train.txt'
    assert build_lists.main(['jhmdb', str(root), '--split-dir', str(splits), '--out',
                             str(test)]) == 0
    assert read_lines(test) == ['catch/Ball_catch_f_cm_np1_fr_med_1',
                                'shoot_ball/Hoops_shoot_ball_u_nm_np1_ba_med_3',
                                'shoot_ball/Hoops_shoot_ball_u_nm_np1_ba_med_4']
    assert build_lists.main(['jhmdb', str(root), '--split-dir', str(splits), '--subset',
                             'train', '--out', str(train)]) == 0
    assert read_lines(train) == ['catch/Ball_catch_f_cm_np1_fr_med_0']


def test_jhmdb_missing_videos_are_an_error_unless_allowed(tmp_path, capsys):
    root, splits = make_jhmdb(tmp_path, ['catch/Ball_catch_f_cm_np1_fr_med_1',
                                         'shoot_ball/Hoops_shoot_ball_u_nm_np1_ba_med_3'])
    (root / 'Rename_Images/shoot_ball/Hoops_shoot_ball_u_nm_np1_ba_med_4').mkdir(parents=True)
    out = tmp_path / 'test.txt'
    args = ['jhmdb', str(root), '--split-dir', str(splits), '--out', str(out)]
    assert build_lists.main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: 1 of 3 test videos') and 'med_4' in err and not out.exists()
    assert build_lists.main(args + ['--allow-missing']) == 0
    assert 'warning: skipped 1 test videos' in capsys.readouterr().err
    assert read_lines(out) == ['catch/Ball_catch_f_cm_np1_fr_med_1',
                               'shoot_ball/Hoops_shoot_ball_u_nm_np1_ba_med_3']


def test_jhmdb_malformed_split_line_is_an_error(tmp_path, capsys):
    root, splits = make_jhmdb(tmp_path, [])
    (splits / 'wave_test_split1.txt').write_text('Hello_wave_u_nm_np1_fr_med_0 2\n')
    assert build_lists.main(['jhmdb', str(root), '--split-dir', str(splits), '--out',
                             str(tmp_path / 'x.txt')]) == 1
    assert 'wave_test_split1.txt line 1: expected "<video>.avi <flag>"' in capsys.readouterr().err


# --- kinetics / oxuva ------------------------------------------------------------------------

def test_kinetics_counts_frames_and_skips_gaps(tmp_path, capsys):
    frames = tmp_path / 'frames'
    touch(*(frames / 'abseiling/vid_a' / f'image_{i:05d}.jpg' for i in range(1, 4)))
    touch(*(frames / 'deeper/juggling/vid_b' / f'image_{i:05d}.jpg' for i in range(1, 13)))
    touch(*(frames / 'abseiling/vid_gap' / f'image_{i:05d}.jpg' for i in (1, 2, 4)))
    touch(*(frames / 'abseiling/vid_late' / f'image_{i:05d}.jpg' for i in (2, 3)))
    touch(frames / 'abseiling/not_a_video/readme.txt')
    out = tmp_path / 'kinetics.csv'
    assert build_lists.main(['kinetics', str(frames), '--out', str(out)]) == 0
    assert read_lines(out) == ['abseiling/vid_a,3', 'deeper/juggling/vid_b,12']
    captured = capsys.readouterr()
    assert 'wrote 2 videos' in captured.out
    assert 'warning: skipped 2 video folders' in captured.err
    assert 'abseiling/vid_gap (3 frames, image_00003.jpg missing)' in captured.err
    assert 'abseiling/vid_late (2 frames, image_00001.jpg missing)' in captured.err


def test_oxuva_counts_frames_from_zero(tmp_path, capsys):
    images = tmp_path / 'images'
    touch(*(images / 'vid0000' / f'{i:06d}.jpeg' for i in range(5)))
    touch(*(images / 'vid0001' / f'{i:06d}.jpeg' for i in range(1, 3)))
    touch(images / 'vid0002/readme.txt', images / 'other/000000.jpeg')
    out = tmp_path / 'oxuva.csv'
    assert build_lists.main(['oxuva', str(images), '--out', str(out)]) == 0
    assert read_lines(out) == ['vid0000,5']
    err = capsys.readouterr().err
    assert 'skipped 2 vid folders' in err and 'vid0001 (2 frames, 000000.jpeg missing)' in err
    assert 'vid0002 (no frames)' in err


# --- ytvos / videos --------------------------------------------------------------------------

def test_ytvos_writes_frame_names_and_checks_meta(tmp_path, capsys):
    root = tmp_path / 'train'
    touch(root / 'JPEGImages/b1/00010.jpg', root / 'JPEGImages/b1/00005.jpg',
          root / 'JPEGImages/a0/00000.jpg', root / 'JPEGImages/empty/notes.txt')
    (root / 'meta.json').write_text(json.dumps({'videos': {'a0': {}, 'b1': {}, 'gone': {}}}))
    out = tmp_path / 'ytvos.json'
    assert build_lists.main(['ytvos', str(root), '--out', str(out)]) == 0
    assert json.loads(out.read_text()) == {'a0': ['00000'], 'b1': ['00005', '00010']}
    assert 'skipped 1 videos of' in capsys.readouterr().err


def write_video(path: Path, num_frames: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 30, (16, 16))
    for i in range(num_frames):
        writer.write(np.full((16, 16, 3), 20 * i, np.uint8))
    writer.release()


def test_videos_lists_what_video_folder_uses(tmp_path, capsys):
    from corrflow.datasets import VideoFolder
    root = tmp_path / 'mine'
    write_video(root / 'clips/walk.mp4', 6)
    write_video(root / 'frames_with_video/inside.mp4', 6)  # scanned with its frame folder
    touch(root / 'clips/broken.mp4', root / '.hidden/00000.jpg', root / 'notes.txt')
    for folder in ('frames/run', 'frames_with_video'):
        for i in range(4):
            (root / folder).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / folder / f'{i}.jpg'), np.zeros((8, 8, 3), np.uint8))
    out = tmp_path / 'videos.txt'
    assert build_lists.main(['videos', str(root), '--out', str(out)]) == 0
    assert read_lines(out) == ['clips/walk.mp4', 'frames/run', 'frames_with_video']
    assert 'skipped 1 video files' in capsys.readouterr().err

    def clip_videos(**kwargs) -> list:
        dataset = VideoFolder(data_root=str(root), target_fps=None, clip_length=2,
                              frame_stride=1, pipeline=[], **kwargs)
        return sorted(dataset.get_data_info(i)['video'] for i in range(len(dataset)))

    scanned = clip_videos()  # the list gives the same clips as scanning, none twice
    assert clip_videos(ann_file=str(out)) == scanned
    assert set(scanned) == {'clips/walk.mp4', 'frames/run', 'frames_with_video',
                            'frames_with_video/inside.mp4'}


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize('command', [['davis'], ['jhmdb', '--split-dir', '.'], ['kinetics'],
                                     ['oxuva'], ['ytvos'], ['videos']])
def test_missing_root_is_a_one_line_error(tmp_path, capsys, command):
    args = [command[0], str(tmp_path / 'absent'), *command[1:], '--out', str(tmp_path / 'o')]
    assert build_lists.main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'does not exist' in err and err.count('\n') == 1


def test_cli_errors_exit_1_without_traceback(tmp_path):
    result = run_cli('kinetics', str(tmp_path), '--out', str(tmp_path / 'k.csv'))
    assert result.returncode == 1
    assert result.stderr == 'error: no videos found; nothing written\n'
    assert not (tmp_path / 'k.csv').exists()


def test_default_outputs_go_to_data_info():
    assert build_lists.parse_args(['davis', 'x']).out == str(DATA_INFO / 'davis2017_val.txt')
    args = build_lists.parse_args(['jhmdb', 'x', '--split-dir', 'y', '--subset', 'train'])
    assert args.out == str(DATA_INFO / 'jhmdb_split1_train.txt')


# --- the committed lists -----------------------------------------------------------------------

def test_davis2017_val_list():
    names = read_lines(DATA_INFO / 'davis2017_val.txt')
    assert len(names) == 30 and len(set(names)) == 30 and names == sorted(names)
    assert {'shooting', 'bike-packing', 'blackswan', 'soapbox'} <= set(names)


def test_jhmdb_split1_test_list():
    lines = read_lines(DATA_INFO / 'jhmdb_split1_test.txt')
    assert len(lines) == 268 and len(set(lines)) == 268 and lines == sorted(lines)
    actions = set()
    for line in lines:
        action, video = line.split('/')
        assert action in JHMDB_ACTIONS, line
        assert re.fullmatch(rf'.+_{action}_[fuhl]_(cm|nm)_np\d+_(fr|ba|le|ri)_(goo|med|bad)_\d+',
                            video), line
        actions.add(action)
    assert actions == set(JHMDB_ACTIONS)
    assert 'catch/Goal_Keeping_Tips_catch_f_cm_np1_fr_med_2' not in lines  # a train video
