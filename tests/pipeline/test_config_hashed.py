"""The hashed kind's typed model.options: checked when the config is loaded, one line per mistake."""
import json

import pytest

from logitkit._util.errors import ConfigError
from logitkit.pipeline.cli import main
from logitkit.pipeline.config_load import load_config
from logitkit.pipeline.config_hashed import HashedOptions, hashed_options
from logitkit.predict import HashedInteractionModel, HashedLogisticRegression

BASE = {"data": {"path": "does-not-exist.tsv", "format": "criteo", "split": {"method": "none"}},
        "prep": {"hashing": {"n_bits": 16}}, "model": {"kind": "hashed"}}


def raw(**options) -> dict:
    return {**BASE, "model": {"kind": "hashed", "options": options}}


def test_unknown_option_is_a_config_error_with_the_closest_name_at_load_time():
    # the data file does not exist: the options are checked before anything is read
    with pytest.raises(ConfigError, match=r"^config: unknown key 'model.options.optimiser' for model.kind 'hashed'. "
                                          r"Did you mean 'optimizer'\? Valid keys here: optimizer, beta, "):
        load_config(raw=raw(optimiser="ftrl"))


@pytest.mark.parametrize("key,where", [("n_bits", "prep.hashing.n_bits"), ("learning_rate", "model.learning_rate"),
                                       ("device", "run.device"), ("random_state", "run.seed")])
def test_an_option_of_another_section_names_that_section(key, where):
    with pytest.raises(ConfigError, match=rf"model.options.{key} is not an option of model.kind 'hashed'; "
                                          rf"set {where} instead"):
        load_config(raw=raw(**{key: 1}))


def test_wrong_values_name_the_key():
    with pytest.raises(ConfigError, match=r"'model.options.l1': Input should be greater than or equal to 0 \(got -1\)"):
        load_config(raw=raw(l1=-1))
    with pytest.raises(ConfigError, match=r"'model.options.optimizer': Input should be 'ftrl', 'adagrad' or 'sgd'"):
        load_config(raw=raw(optimizer="adam"))
    with pytest.raises(ConfigError, match=r"^config: 'model.options.prefetch': Input should be 'thread', 'process', "
                                          r"True or False \(got 'processes'\)$"):
        load_config(raw=raw(prefetch="processes"))
    assert hashed_options({"prefetch": False}).prefetch is False


def test_other_kinds_keep_their_own_option_check():
    # model.kind logistic: checked against LogisticRegression's parameters, when the config is read
    with pytest.raises(ConfigError, match=r"model.options: 'optimiser' is not a parameter of model.kind 'logistic'"):
        load_config(raw={"data": {"dataset": "iris"}, "model": {"options": {"optimiser": 1}}})
    assert load_config(raw={"data": {"dataset": "iris"}, "model": {"options": {"warm_start": True}}}).model.options


def test_the_options_defaults_are_the_learners():
    opts = hashed_options({})
    params = HashedLogisticRegression().get_params()
    assert all(params[k] == v for k, v in opts.learner_params().items())
    inter = opts.interaction_params([])
    fm = HashedInteractionModel().get_params()
    assert all(json.dumps(fm[k]) == json.dumps(v) for k, v in inter.items() if k != "interactions")
    assert set(opts.learner_params()) | set(inter) | {"cache", "cache_plans", "sketch_every", "dense", "prefetch",
                                                      "holdout_path", "sync_every"} == set(HashedOptions.model_fields)


def test_interaction_options_are_checked_at_load_time():
    with pytest.raises(ConfigError, match=r"unknown key 'model.options.embeding_dim' for model.kind 'hashed'. "
                                          r"Did you mean 'embedding_dim'\?"):
        load_config(raw=raw(interactions="fm", embeding_dim=4))
    with pytest.raises(ConfigError, match=r"'model.options.interactions': Input should be 'none', 'fm', 'ffm' or "
                                          r"'deep' \(got 'fnn'\)"):
        load_config(raw=raw(interactions="fnn"))
    with pytest.raises(ConfigError, match=r"'model.options.hidden.1': Input should be greater than 0 \(got 0\)"):
        load_config(raw=raw(interactions="deep", hidden=[8, 0]))
    with pytest.raises(ConfigError, match=r"^config: model.options.optimizer 'sgd' \(VW's normalised update\) is the "
                                          r"linear model's; with interactions: fm use ftrl or adagrad$"):
        load_config(raw=raw(interactions="fm", optimizer="sgd"))
    with pytest.raises(ConfigError, match=r"^config: model.options.ffm_fields: 'C27' is not a token column of the "
                                          r"hasher. Did you mean 'C7'\? Its columns: I1, I2, .*, C26, C1\^C2$"):
        load_config(raw={**raw(interactions="ffm", ffm_fields=["C1", "C27"]),
                         "prep": {"hashing": {"n_bits": 16, "crosses": [["C1", "C2"]]}}})
    opts = hashed_options({"interactions": "ffm", "ffm_fields": ["C3", "C1^C2", "I1"], "hidden": [8]})
    assert opts.interaction_params(["I1", "C1", "C3", "C1^C2"])["ffm_fields"] == [2, 3, 0]
    assert opts.ignored() == ["hidden"] and hashed_options({"embedding_dim": 4}).ignored() == ["embedding_dim"]


def test_the_command_line_prints_one_line_and_exits_2(tmp_path, capsys):
    cfg = tmp_path / "ctr.yaml"
    cfg.write_text("data: {path: train.tsv, format: criteo, split: {method: none}}\nprep: {hashing: {n_bits: 16}}\n"
                   "model: {kind: hashed, options: {optimiser: sgd}}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert "ctr.yaml: unknown key 'model.options.optimiser'" in err and "Did you mean 'optimizer'?" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
