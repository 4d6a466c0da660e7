import json

import numpy as np
import pytest

from lrbook import notebook
from lrbook.notebook import GLUED, Text, glue, glue_summary
from lrbook.stats import summarize


def test_glue_records_plain_text_and_numbers():
    glue("t_text", "0.91 ± 0.01")
    assert isinstance(GLUED["t_text"], Text) and repr(GLUED["t_text"]) == "0.91 ± 0.01"
    glue("t_num", np.float32(0.5))
    assert type(GLUED["t_num"]) is float
    glue_summary("t_sum", summarize([0.9, 0.92]), scale=100, digits=1)
    assert GLUED["t_sum"] == "91.0 ± 1.4" and GLUED["t_sum_n"] == 2
    with pytest.raises(ValueError, match="Argument `name` must be a non-empty string"):
        glue("", 1)


def test_headlines_round_trip_through_an_executed_notebook(tmp_path):
    notebook.HEADLINES.clear()
    notebook.headline("Best optimizer", "Adam: 0.91 ± 0.01", n=5, note="MNIST-1D")
    with pytest.raises(ValueError, match="Argument `label` must be a non-empty string"):
        notebook.headline("", "x")
    glued = notebook.glue_headlines()
    assert glued[0]["value"] == "Adam: 0.91 ± 0.01"
    # What myst-nb's glue writes into an executed notebook:
    out = {
        "output_type": "display_data",
        "metadata": {
            "scrapbook": {
                "name": notebook.HEADLINES_NAME,
                "mime_prefix": "application/papermill.record/",
            }
        },
        "data": {
            "application/papermill.record/text/plain": repr(
                GLUED[notebook.HEADLINES_NAME]
            )
        },
    }
    nb = {
        "cells": [{"cell_type": "code", "source": "", "outputs": [out]}],
        "metadata": {},
    }
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    back = json.loads(notebook.read_glued(path)[notebook.HEADLINES_NAME])
    assert back == [
        {
            "label": "Best optimizer",
            "value": "Adam: 0.91 ± 0.01",
            "n": 5,
            "note": "MNIST-1D",
        }
    ]
    notebook.HEADLINES.clear()


@pytest.mark.parametrize(
    "text",
    [
        "1, 2",
        "0.01, 0.03, 0.1",
        "[1, 2]",
        "12",
        "0.5",
        "0.91 ± 0.01",
        "True",
        "grid, random",
        "'quoted'",
        '[{"n": 5}]',
    ],
)
def test_text_renders_as_itself_through_myst_nb(text):
    variables = pytest.importorskip(
        "myst_nb.core.variables",
        reason="myst_nb is the book's renderer (the `book` extra), not lrbook's",
    )
    format_plain_text = (
        variables.format_plain_text
    )  # what {glue:text} does with text/plain

    assert format_plain_text(repr(Text(text)), "") == text


def test_read_glued_unquotes_a_text_that_was_stored_quoted(tmp_path):
    outs = [
        {
            "output_type": "display_data",
            "metadata": {
                "scrapbook": {
                    "name": name,
                    "mime_prefix": "application/papermill.record/",
                }
            },
            "data": {"application/papermill.record/text/plain": repr(Text(value))},
        }
        for name, value in [("a", "1, 2"), ("b", "0.9 ± 0.1"), ("c", '[{"n": 5}]')]
    ]
    path = tmp_path / "x.ipynb"
    path.write_text(
        json.dumps(
            {
                "cells": [{"cell_type": "code", "source": "", "outputs": outs}],
                "metadata": {},
            }
        )
    )
    assert notebook.read_glued(path) == {
        "a": "1, 2",
        "b": "0.9 ± 0.1",
        "c": '[{"n": 5}]',
    }
