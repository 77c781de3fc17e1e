"""The option schema is the one source: defaults, validation, flags, the settings record, the solver's settings."""

from dataclasses import fields

import numpy as np
import pytest

import deblur
from deblur import api, solver
from deblur.cli import main
from deblur.options import DEFAULTS, SolveOptions


def test_defaults_are_read_from_the_schema_everywhere():
    assert DEFAULTS == {f.name: f.default for f in fields(SolveOptions)}
    import inspect

    signature = inspect.signature(deblur.solve).parameters
    for f in fields(SolveOptions):
        assert signature[f.name].default == f.default, f.name


def test_every_flagged_field_is_a_command_line_option():
    flags = {f.metadata["flag"].split("/")[0]: f.name for f in fields(SolveOptions) if f.metadata["flag"]}
    for command in ("restore", "batch"):
        options = {opt: p.name for p in main.commands[command].params for opt in p.opts}
        for flag, name in flags.items():
            assert options.get(flag) == name, (command, flag)


def test_the_solver_gets_every_setting_it_has_from_the_schema():
    names = {f.name for f in fields(SolveOptions)}
    assert {f.name for f in fields(solver.Options)} <= names
    plan = api.prepare(np.zeros((16, 16)), "box:size=3", SolveOptions(max_num_iter=7, tol=0.0, lr=0.5))
    assert (plan.solver_options.max_num_iter, plan.solver_options.tol) == (7, 0.0)
    assert plan.solver_options.schedule == "constant"  # an explicit lr with 'auto'


def test_settings_record_every_option_but_the_weight():
    result = deblur.solve(np.zeros((16, 16)), "box:size=3", max_num_iter=1)
    recorded = {f.name for f in fields(SolveOptions) if f.metadata.get("record", True)}
    assert recorded <= set(result.settings) and "weight" not in result.settings


@pytest.mark.parametrize("kwargs", [{"tol": -1}, {"batch_fraction": 2}, {"seed": 1.5}, {"weight": "high"}])
def test_the_schema_validates_when_made(kwargs):
    with pytest.raises(ValueError):
        SolveOptions(**kwargs)


def test_chosen_lists_what_differs_from_the_defaults():
    assert SolveOptions(tol=0.1, precision="float64").chosen() == {"tol": 0.1, "precision": "float64"}
