"""The company configuration is validated; a mistake names its place in the file."""

from __future__ import annotations

import pytest
import yaml

from cxm.config import DEFAULT_CONFIG, load_config
from cxm.errors import ConfigError


@pytest.fixture
def edited(tmp_path):
    def write(change) -> str:
        raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
        change(raw)
        path = tmp_path / "company.yaml"
        path.write_text(yaml.safe_dump(raw))
        return str(path)

    return write


def test_the_default_configuration_is_the_demo_company():
    cfg = load_config()
    assert cfg.ranks[0] == "Member" and cfg.ranks[-1] == "Diamond" and len(cfg.ranks) == 7
    assert cfg.languages == ("en", "es", "fr", "pt-BR", "de", "ja")
    assert cfg.enum_values("product_lines")[:2] == ("wellness", "nutrition")


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda c: c["ranks"].append("Member"), "ranks lists ['Member'] more than once"),
        (lambda c: c["markets"][0].update(code="USA"), "markets.0.code"),
        (lambda c: c["markets"][1].update(languages=["fr_CA"]), "not BCP 47 tags"),
        (lambda c: c["product_lines"][0]["markets"].append("UK"), "names unknown markets ['UK']"),
        (lambda c: c.update(colour="blue"), "colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_configuration_is_refused_with_where_and_why(edited, change, fragment):
    with pytest.raises(ConfigError, match="is invalid") as caught:
        load_config(edited(change))
    assert fragment in str(caught.value)


def test_a_missing_or_unparsable_configuration_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("ranks: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(tmp_path / "bad.yaml")
