import keras
import numpy as np
import pytest

from lrbook import models


def conv_params(k, cin, cout, bias=True):
    return k * cin * cout + (cout if bias else 0)


def test_cnn1d_parameter_count_by_hand():
    # 40 -> 20 -> 10 -> 5 positions after three poolings, 32 channels
    expected = conv_params(5, 1, 32) + 2 * conv_params(5, 32, 32) + 5 * 32 * 10 + 10
    assert models.cnn1d((40, 1)).count_params() == expected == 12106


def test_cnn1d_batch_norm_drops_bias_and_adds_four_vectors():
    expected = (
        conv_params(5, 1, 32, False)
        + 2 * conv_params(5, 32, 32, False)
        + 3 * 4 * 32
        + 5 * 32 * 10
        + 10
    )
    assert models.cnn1d((40, 1), norm="batch").count_params() == expected == 12394


def test_mlp_and_cnn2d_parameter_counts_by_hand():
    assert models.mlp((40, 1)).count_params() == (40 * 256 + 256) + (
        256 * 256 + 256
    ) + (256 * 10 + 10)
    # digits: 8x8 -> 4x4 -> 2x2 after two poolings, 64 channels
    expected = conv_params(9, 1, 32) + conv_params(9, 32, 64) + 2 * 2 * 64 * 10 + 10
    assert models.cnn2d((8, 8, 1)).count_params() == expected == 21386


def test_docstring_table_matches():
    doc = models.__doc__
    for text in ("78,858", "12,106", "12,394", "21,386"):
        assert text in doc


@pytest.mark.parametrize("norm", models.NORMS)
def test_every_norm_builds_and_outputs_logits(norm):
    model = models.cnn1d((40, 1), norm=norm, width=0.5)
    out = keras.ops.convert_to_numpy(
        model(np.random.default_rng(0).normal(size=(4, 40, 1)).astype("float32"))
    )
    assert out.shape == (4, 10)
    assert not np.allclose(out.sum(axis=1), 1.0)  # logits, not probabilities


def test_width_multiplier_scales_channels():
    assert models.cnn1d(width=2.0).get_layer("conv_0").filters == 64


def test_compile_classifier_uses_logits_loss():
    model = models.compile_classifier(models.mlp((40, 1), hidden=(8,)), "sgd")
    assert model.loss.from_logits


@pytest.mark.parametrize(
    "builder, kwargs, match",
    [
        (models.cnn1d, {"norm": "weight"}, "Argument `norm` must be one of"),
        (models.cnn1d, {"dropout": 1.0}, r"Argument `dropout` must be in \[0, 1\)"),
        (models.cnn1d, {"width": 0}, "Argument `width` must be > 0"),
        (
            models.cnn1d,
            {"num_classes": 1},
            "Argument `num_classes` must be an integer >= 2",
        ),
        (models.cnn1d, {"filters": ()}, "Argument `filters` must be a non-empty list"),
        (
            models.mlp,
            {"input_shape": (40, 1), "norm": "group"},
            "Argument `norm` must be None, 'batch' or 'layer'",
        ),
        (
            models.mlp,
            {"input_shape": (40, 1), "hidden": ()},
            "Argument `hidden` must be a non-empty list",
        ),
    ],
)
def test_bad_arguments(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)


def test_resnet1d_parameter_count_by_hand():
    # depth 8: stem, one basic block per stage (16, 32, 64 channels), batch norm
    # (4 vectors per convolution, no conv bias); stages 2 and 3 project their shortcut.
    def conv_bn(k, cin, cout):
        return conv_params(k, cin, cout, bias=False) + 4 * cout

    expected = (
        conv_bn(3, 1, 16)
        + 2 * conv_bn(3, 16, 16)
        + conv_bn(3, 16, 32)
        + conv_bn(3, 32, 32)
        + conv_bn(1, 16, 32)
        + conv_bn(3, 32, 64)
        + conv_bn(3, 64, 64)
        + conv_bn(1, 32, 64)
        + 64 * 10
        + 10
    )
    assert models.resnet1d((40, 1)).count_params() == expected == 29178
    assert "29,178" in models.__doc__


def test_resnet1d_shapes_and_depth():
    model = models.resnet1d((40, 1), depth=14, width=0.5, norm=None)
    out = keras.ops.convert_to_numpy(
        model(np.random.default_rng(0).normal(size=(3, 40, 1)).astype("float32"))
    )
    assert out.shape == (3, 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    # stem + 2 blocks x 3 stages x 2 convs + 2 projections; depth counts stem+blocks+dense
    assert len(convs) == 1 + 12 + 2
    assert model.get_layer("stem_conv").filters == 8
    assert model.get_layer("s2b0_a_conv").strides == (2,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth": 10}, r"Argument `depth` must be 6n \+ 2 with n >= 1"),
        ({"depth": 2}, r"Argument `depth` must be 6n \+ 2"),
        ({"kernel_size": 0}, "Argument `kernel_size` must be an integer >= 1"),
        (
            {"input_shape": (40,)},
            r"Argument `input_shape` must be \(length, channels\)",
        ),
        ({"norm": "weight"}, "Argument `norm` must be one of"),
        ({"width": 0}, "Argument `width` must be > 0"),
        ({"num_classes": 1}, "Argument `num_classes` must be an integer >= 2"),
    ],
)
def test_resnet1d_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.resnet1d(**kwargs)
