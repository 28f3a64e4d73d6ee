"""run_with_one_line_errors: input errors are one line and exit 1, bugs keep their traceback."""
import pytest

from corrflow.datasets.video_io import DataError
from corrflow.utils.launch import run_with_one_line_errors


class ToolError(Exception):
    pass


def _raise(err):
    def func():
        raise err
    return func


def test_success_is_exit_0(capsys):
    assert run_with_one_line_errors(lambda: None) == 0
    assert capsys.readouterr().err == ''


@pytest.mark.parametrize('err, expected', [
    (ToolError('bad\n   thing'), 'error: bad thing'),                       # the tool's own type
    (DataError('frame x.jpg could not be decoded'), 'error: frame x.jpg could not be decoded'),
    (KeyError('"Nope is not in the model registry. Please check whether ..."'),
     'error: Nope is not in the model registry'),
])
def test_input_errors_are_one_line(capsys, err, expected):
    assert run_with_one_line_errors(_raise(err), (ToolError,)) == 1
    assert capsys.readouterr().err == expected + '\n'


def test_bugs_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        run_with_one_line_errors(lambda: 1 / 0, (ToolError,))
