"""Build the list files of ``data/data_info/`` and the training lists from data on disk.

``python tools/data/build_lists.py SUBCOMMAND ...``, one subcommand per source:

- ``davis ROOT``: DAVIS sequence names (``ImageSets/2017/<split>.txt`` or the
  annotated folders), each checked for frames and a first-frame annotation;
- ``jhmdb ROOT --split-dir SPLITS``: ``<action>/<video>`` lines of a JHMDB split
  from the official ``<action>_test_split<k>.txt`` files (1 = train, 2 = test);
- ``kinetics FRAMES_ROOT``: ``relative_video_dir,num_frames`` (``image_%05d.jpg`` from 1);
- ``oxuva FRAMES_ROOT``: ``vidNNNN,num_frames`` (``%06d.jpeg`` from 0);
- ``ytvos ROOT``: json ``{video: [frame names]}`` of ``JPEGImages/<video>/*.jpg``;
- ``videos ROOT``: video files and frame folders for the ``VideoFolder`` dataset.

Each writes one file and prints how many entries it wrote; problems are
reported on stderr as ``warning: ...`` (entries skipped) or ``error: ...``
(nothing written, exit code 1). See ``data/data_info/README.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from corrflow.datasets.video_io import (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, DataError,
                                        natural_sort_key, probe_video)

DATA_INFO = Path(__file__).resolve().parents[2] / 'data' / 'data_info'
KINETICS_FRAME = re.compile(r'image_\d+\.jpg')
OXUVA_FRAME = re.compile(r'\d+\.jpeg')
OXUVA_VIDEO = re.compile(r'vid\d+')
JHMDB_FLAGS = {'train': '1', 'test': '2'}


class ListError(Exception):
    """The list cannot be built; the message is shown as ``error: <message>``."""


def _existing_dir(path: str, what: str) -> Path:
    if not Path(path).is_dir():
        raise ListError(f'{what} {path} does not exist or is not a folder')
    return Path(path)


def _read_lines(path: Path) -> list[str]:
    """Stripped lines of a text file (blank ones included, so indices are line numbers - 1)."""
    try:
        with open(path, encoding='utf-8') as f:
            return [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as err:
        raise ListError(f'cannot read {path}: {err}') from err


def _summary(items: list[str], limit: int = 10) -> str:
    return ', '.join(items[:limit]) + (f' ... ({len(items) - limit} more)'
                                       if len(items) > limit else '')


def _warn_skipped(skipped: list[str], reason: str) -> None:
    if skipped:
        print(f'warning: skipped {len(skipped)} {reason}: {_summary(skipped)}', file=sys.stderr)


def _rel(path: str, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _count_numbered_frames(dirpath: str, names: list[str], pattern: re.Pattern, template: str,
                           first: int, root: Path, entries: list[str],
                           skipped: list[str]) -> None:
    """Append ``rel_dir,num_frames`` to entries, or the folder to skipped if numbering has gaps.

    The frames matching ``pattern`` must be exactly ``template.format(i)`` for
    ``i = first, first + 1, ...``, the names the dataset will read.
    """
    frames = set(filter(pattern.fullmatch, names))
    expected = (template.format(i) for i in range(first, first + len(frames)))
    missing = next((name for name in expected if name not in frames), None)
    if not frames:
        skipped.append(f'{_rel(dirpath, root)} (no frames)')
    elif missing is not None:
        skipped.append(f'{_rel(dirpath, root)} ({len(frames)} frames, {missing} missing)')
    else:
        entries.append(f'{_rel(dirpath, root)},{len(frames)}')


def build_davis(root: str, split: str = 'val', resolution: str = '480p') -> list[str]:
    """Sorted DAVIS sequence names, each checked for frames and a first-frame annotation."""
    root_dir = _existing_dir(root, 'DAVIS root')
    img_dir = root_dir / 'JPEGImages' / resolution
    ann_dir = root_dir / 'Annotations' / resolution
    list_file = root_dir / 'ImageSets' / '2017' / f'{split}.txt'
    if list_file.is_file():
        names = [name for name in _read_lines(list_file) if name]
    elif img_dir.is_dir():
        names = [d.name for d in img_dir.iterdir() if d.is_dir() and (ann_dir / d.name).is_dir()]
    else:
        raise ListError(f'{root} has neither {list_file.relative_to(root_dir)} nor '
                        f'{img_dir.relative_to(root_dir)}/')
    problems = []
    for name in names:
        seq_dir = img_dir / name
        frames = sorted(p.name for p in seq_dir.glob('*') if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not frames:
            problems.append(f'{name} (no frames in {seq_dir})')
        elif not (ann_dir / name / (Path(frames[0]).stem + '.png')).is_file():
            problems.append(f'{name} (no first-frame annotation {ann_dir / name}/'
                            f'{Path(frames[0]).stem}.png)')
    if problems:
        raise ListError(f'{len(problems)} of {len(names)} sequences are incomplete: '
                        f'{_summary(problems)}')
    return sorted(set(names))


def build_jhmdb(root: str, split_dir: str, split: int = 1, subset: str = 'test',
                allow_missing: bool = False) -> list[str]:
    """Sorted ``<action>/<video>`` lines of one subset of an official JHMDB split."""
    root_dir = _existing_dir(root, 'JHMDB root')
    suffix = f'_test_split{split}.txt'
    split_files = sorted(_existing_dir(split_dir, 'JHMDB split folder').glob(f'*{suffix}'))
    if not split_files:
        raise ListError(f'no *{suffix} files in {split_dir}')
    entries = []
    for split_file in split_files:
        action = split_file.name[:-len(suffix)]
        for line_no, line in enumerate(_read_lines(split_file), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[0].endswith('.avi'):
                raise ListError(f'{split_file} line {line_no}: expected "<video>.avi <flag>", '
                                f'got {line!r}')
            if fields[1] == JHMDB_FLAGS[subset]:
                entries.append(f'{action}/{fields[0][:-len(".avi")]}')
    missing = [e for e in entries
               if not (root_dir / 'Rename_Images' / e).is_dir()
               or not (root_dir / 'joint_positions' / e / 'joint_positions.mat').is_file()]
    if missing and not allow_missing:
        raise ListError(f'{len(missing)} of {len(entries)} {subset} videos have no '
                        f'Rename_Images/<action>/<video>/ or joint_positions mat under {root} '
                        f'(--allow-missing leaves them out): {_summary(missing)}')
    _warn_skipped(missing, f'{subset} videos missing under {root}')
    return sorted(set(entries) - set(missing))


def build_kinetics(frames_root: str) -> list[str]:
    """``relative_video_dir,num_frames`` of every folder of ``image_%05d.jpg`` frames."""
    root = _existing_dir(frames_root, 'Kinetics frames root')
    entries: list[str] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if any(KINETICS_FRAME.fullmatch(n) for n in filenames):
            _count_numbered_frames(dirpath, filenames, KINETICS_FRAME, 'image_{:05d}.jpg', 1,
                                   root, entries, skipped)
    _warn_skipped(skipped, 'video folders whose image_*.jpg frames are not image_00001.jpg, '
                  'image_00002.jpg, ... without gaps')
    return sorted(entries)


def build_oxuva(frames_root: str) -> list[str]:
    """``vidNNNN,num_frames`` of every ``vidNNNN`` folder of ``%06d.jpeg`` frames."""
    root = _existing_dir(frames_root, 'OxUvA frames root')
    entries: list[str] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if OXUVA_VIDEO.fullmatch(os.path.basename(dirpath)):
            dirnames.clear()
            _count_numbered_frames(dirpath, filenames, OXUVA_FRAME, '{:06d}.jpeg', 0, root,
                                   entries, skipped)
    _warn_skipped(skipped, 'vid folders whose frames are not 000000.jpeg, 000001.jpeg, ... '
                  'without gaps')
    return sorted(entries)


def build_ytvos(root: str) -> dict[str, list[str]]:
    """``{video: [frame names without extension]}`` of ``ROOT/JPEGImages/<video>/*.jpg``."""
    root_dir = _existing_dir(root, 'YouTube-VOS root')
    img_dir = _existing_dir(str(root_dir / 'JPEGImages'), 'YouTube-VOS frame folder')
    videos = {}
    for video_dir in sorted(d for d in img_dir.iterdir() if d.is_dir()):
        names = sorted((p.stem for p in video_dir.glob('*.jpg')), key=natural_sort_key)
        if names:
            videos[video_dir.name] = names
    meta_file = root_dir / 'meta.json'
    if meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text(encoding='utf-8'))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ListError(f'cannot read {meta_file}: {err}') from err
        _warn_skipped(sorted(set(meta.get('videos', {})) - set(videos)),
                      f'videos of {meta_file} that have no frames in {img_dir}')
    return videos


def build_videos(root: str) -> list[str]:
    """Entries of a ``VideoFolder`` list: frame folders and decodable video files under ROOT.

    A listed folder is scanned recursively by ``VideoFolder``, so nothing below a
    frame folder (a folder directly holding an image) is listed again; hidden
    files and folders are ignored, as the dataset does.
    """
    root_dir = _existing_dir(root, 'video folder')
    entries: list[str] = []
    undecodable: list[str] = []
    visited = set()
    for dirpath, dirnames, filenames in os.walk(root_dir, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        if os.path.realpath(dirpath) in visited:  # a symbolic link loop
            dirnames.clear()
            continue
        visited.add(os.path.realpath(dirpath))
        files = [f for f in filenames if not f.startswith('.')]
        if any(f.lower().endswith(IMAGE_EXTENSIONS) for f in files):
            entries.append(_rel(dirpath, root_dir))
            dirnames.clear()
            continue
        for name in files:
            if name.lower().endswith(VIDEO_EXTENSIONS):
                path = os.path.join(dirpath, name)
                try:
                    probe_video(path)
                    entries.append(_rel(path, root_dir))
                except DataError:
                    undecodable.append(_rel(path, root_dir))
    _warn_skipped(undecodable, 'video files that neither OpenCV nor PyAV can decode')
    return sorted(entries, key=natural_sort_key)


def _write(entries: list[str] | dict[str, list[str]], out: str, what: str) -> None:
    if not entries:
        raise ListError(f'no {what} found; nothing written')
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(entries, dict):  # one video per line: valid json that diffs well
        text = '{\n' + ',\n'.join(f'{json.dumps(k)}: {json.dumps(v)}'
                                  for k, v in entries.items()) + '\n}\n'
    else:
        text = ''.join(f'{e}\n' for e in entries)
    path.write_text(text, encoding='utf-8')
    print(f'wrote {len(entries)} {what} to {path}')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)

    davis = sub.add_parser('davis', help='DAVIS sequence list')
    davis.add_argument('root', help='DAVIS root (JPEGImages/, Annotations/, ImageSets/)')
    davis.add_argument('--split', default='val', help='ImageSets/2017/<split>.txt to read')
    davis.add_argument('--resolution', default='480p', help='480p or Full-Resolution')
    davis.add_argument('--out', help='default: data/data_info/davis2017_<split>.txt')

    jhmdb = sub.add_parser('jhmdb', help='JHMDB split list (<action>/<video> lines)')
    jhmdb.add_argument('root', help='JHMDB root (Rename_Images/, joint_positions/)')
    jhmdb.add_argument('--split-dir', required=True,
                       help='folder of the official <action>_test_split<k>.txt files')
    jhmdb.add_argument('--split', type=int, default=1, choices=(1, 2, 3))
    jhmdb.add_argument('--subset', default='test', choices=tuple(JHMDB_FLAGS))
    jhmdb.add_argument('--allow-missing', action='store_true',
                       help='leave out (and report) videos missing under ROOT')
    jhmdb.add_argument('--out', help='default: data/data_info/jhmdb_split<k>_<subset>.txt')

    for name, root_help, default in (
            ('kinetics', 'folder of <class>/<video>/image_%%05d.jpg', 'kinetics_train.csv'),
            ('oxuva', 'folder of vidNNNN/%%06d.jpeg', 'oxuva_train.csv'),
            ('ytvos', 'YouTube-VOS train root (JPEGImages/, meta.json)', 'ytvos_train.json'),
            ('videos', 'folder of video files and/or frame folders', 'videos.txt')):
        cmd = sub.add_parser(name, help=f'{name} list')
        cmd.add_argument('root', help=root_help)
        cmd.add_argument('--out', default=str(DATA_INFO / default),
                         help=f'default: data/data_info/{default}')
    args = parser.parse_args(argv)
    if args.command == 'davis' and args.out is None:
        args.out = str(DATA_INFO / f'davis2017_{args.split}.txt')
    if args.command == 'jhmdb' and args.out is None:
        args.out = str(DATA_INFO / f'jhmdb_split{args.split}_{args.subset}.txt')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == 'davis':
            _write(build_davis(args.root, args.split, args.resolution), args.out, 'sequences')
        elif args.command == 'jhmdb':
            _write(build_jhmdb(args.root, args.split_dir, args.split, args.subset,
                               args.allow_missing), args.out, 'videos')
        elif args.command == 'kinetics':
            _write(build_kinetics(args.root), args.out, 'videos')
        elif args.command == 'oxuva':
            _write(build_oxuva(args.root), args.out, 'videos')
        elif args.command == 'ytvos':
            _write(build_ytvos(args.root), args.out, 'videos')
        else:
            _write(build_videos(args.root), args.out, 'entries')
    except (ListError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
