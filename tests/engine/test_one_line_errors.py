"""run_with_one_line_errors: input errors are one line and exit 1, bugs keep their traceback."""
import pytest

from corrflow.datasets.video_io import DataError
from corrflow.utils.launch import ConfigError, check_config_components, run_with_one_line_errors


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
    (ConfigError('model.head: X takes no argument "r"'),
     'error: model.head: X takes no argument "r"'),
])
def test_input_errors_are_one_line(capsys, err, expected):
    assert run_with_one_line_errors(_raise(err), (ToolError,)) == 1
    assert capsys.readouterr().err == expected + '\n'


@pytest.mark.parametrize('err', [
    ZeroDivisionError('division by zero'),
    # errors are classified by type, not by their text: these look like input errors but are bugs
    KeyError('"Nope is not in the model registry. Please check whether ..."'),
    TypeError("__init__() got an unexpected keyword argument 'x'"),
    ValueError('class `Thing` in thing.py: bad value'),
])
def test_bugs_keep_their_traceback(err):
    with pytest.raises(type(err)):
        run_with_one_line_errors(_raise(err), (ToolError,))


def test_config_components_are_checked_before_anything_is_built():
    from mmengine.config import Config

    cfg = Config(dict(model=dict(type='RecursiveFlow', backbone=dict(type='CorrFlowResNett'),
                                 neck=dict(type='EmbeddingProjection', in_channel=3))))
    with pytest.raises(ConfigError, match=r'model.backbone.type: "CorrFlowResNett" is not a '
                                          r'registered component \(did you mean CorrFlowResNet'):
        check_config_components(cfg)
    cfg.model.backbone.type = 'CorrFlowResNet'
    with pytest.raises(ConfigError, match='model.neck: EmbeddingProjection takes no argument '
                                          '"in_channel"; did you mean in_channels'):
        check_config_components(cfg)
    cfg.model.neck = dict(type='EmbeddingProjection', in_channels=3, _delete_=True)
    check_config_components(cfg)  # config keys (_delete_, _scope_) are not arguments
