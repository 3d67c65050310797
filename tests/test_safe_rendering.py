"""Values from the data, the configuration, the credentials file and the URL are shown as text,
never as Markdown: no image is fetched, no link, HTML or emphasis comes out of them (issue 15).
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from cxm.config import load_config
from cxm.metrics.kpis import BY_ID
from cxm.ui import fmt, tiles

APP = "../app.py"
PAGES = "../app_pages/"

#: Markdown, HTML, a remote image and a script link in one value.
PAYLOAD = (
    '![x](http://example.invalid/a.png) <img src="http://example.invalid/b.png"> '
    "**bold** [link](javascript:alert(1)) :blue[blue] $x$"
)
#: What must never reach a Markdown body unescaped: each would render as markup.
RAW = ("![x](", "<img", "**bold**", "[link](", ":blue[", "$x$")
#: The image as the escaped text it must become (worked out by hand: a backslash before every
#: ASCII punctuation character).
ESCAPED_IMAGE = r"\!\[x\]\(http\:\/\/example\.invalid\/a\.png\)"


def _has_markup(text: str) -> bool:
    """Return whether one of RAW occurs in ``text`` without a backslash before it."""
    return any(
        i >= 0 and (i == 0 or text[i - 1] != "\\") for raw in RAW for i in _positions(text, raw)
    )


def _positions(text: str, raw: str) -> list[int]:
    out, i = [], text.find(raw)
    while i >= 0:
        out.append(i)
        i = text.find(raw, i + 1)
    return out


def _bodies(at: AppTest) -> list[str]:
    """Return every Markdown body the run drew: titles, captions, messages, text, tile labels."""
    kinds = ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error")
    out = [e.value for kind in kinds for e in getattr(at, kind)]
    out += [m.label for m in at.metric]
    return out


def _assert_no_markup(at: AppTest) -> list[str]:
    bodies = _bodies(at)
    for body in bodies:
        assert not _has_markup(body), f"markup reaches Markdown in {body!r}"
    return bodies


def test_md_escape_leaves_no_markup_and_keeps_every_character():
    text = fmt.md_escape(PAYLOAD)
    assert ESCAPED_IMAGE in text
    assert not _has_markup(text)
    # Removing the escapes gives the value back: nothing is dropped or changed.
    assert text.replace("\\", "") == PAYLOAD.replace("\\", "")


def test_a_value_cannot_start_a_new_markdown_block():
    assert fmt.md_escape("BR\n\n# Heading\n- item") == r"BR \# Heading \- item"


@pytest.fixture
def env(monkeypatch, tmp_path, tiny_warehouse, demo_credentials):
    """The tiny company; the analyst's name in the credentials file is the payload, and so is
    the newest load's kind and source."""
    path = demo_credentials
    raw = yaml.safe_load(path.read_text())
    raw["credentials"]["usernames"]["analyst"]["name"] = PAYLOAD
    path.write_text(yaml.safe_dump(raw))
    with duckdb.connect(str(tiny_warehouse)) as con:
        con.execute("UPDATE cxm_loads SET kind = ?, source = ?", [PAYLOAD, PAYLOAD])
    monkeypatch.setenv("CXM_WAREHOUSE", str(tiny_warehouse))
    monkeypatch.setenv("CXM_CREDENTIALS", str(path))
    monkeypatch.setenv("CXM_DEMO", "1")
    monkeypatch.delenv("CXM_COOKIE_KEY", raising=False)
    return path


def _signed_in(username: str, script: str = APP, **params: str) -> AppTest:
    """Return a run of ``script`` (the app, or one page run directly so that its own link
    parameters reach it) as ``username``, with the URL parameters ``params``."""
    at = AppTest.from_file(script, default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def test_a_user_name_from_the_credentials_file_is_shown_as_text(env):
    at = _signed_in("analyst")
    assert not at.exception
    _assert_no_markup(at)
    caption = at.sidebar.caption[0].value
    assert caption.startswith(ESCAPED_IMAGE)
    assert caption.endswith(r"· analyst · BR\, MX")


@pytest.mark.parametrize(
    ("script", "params", "expected"),
    [
        # A parameter cxm does not use, valued with the payload; then named with it.
        (APP, {"colour": PAYLOAD}, 'Link parameter colour: "{}" is not a parameter'),
        (APP, {PAYLOAD: "1"}, 'Link parameter {}: "1" is not a parameter'),
        (APP, {"markets": PAYLOAD}, 'Link parameter markets: "{}" is not a configured market'),
        (APP, {"period": PAYLOAD}, 'Link parameter period: "{}" is not a period with data'),
        (APP, {"rank_min": PAYLOAD}, 'Link parameter rank\\_min: "{}" is not a configured rank'),
        (PAGES + "kpis.py", {"kpis": PAYLOAD}, 'Link parameter kpis: "{}" is not a KPI'),
        (PAGES + "experience_gap.py", {"by": PAYLOAD}, 'Link parameter by: "{}" is not one of'),
    ],
)
def test_a_link_parameter_is_named_in_its_warning_as_text(env, script, params, expected):
    at = _signed_in("admin", script, **params)
    assert not at.exception
    bodies = _assert_no_markup(at)
    assert any(expected.format(fmt.md_escape(PAYLOAD)) in b for b in bodies), bodies


def test_the_data_page_shows_a_loads_kind_as_text(env):
    at = _signed_in("admin", PAGES + "data.py")
    assert not at.exception
    _assert_no_markup(at)
    assert ESCAPED_IMAGE in at.caption[0].value


def test_the_users_page_shows_names_from_the_credentials_file_as_text(env):
    raw = yaml.safe_load(env.read_text())
    raw["credentials"]["usernames"][PAYLOAD] = raw["credentials"]["usernames"]["exec"]
    env.write_text(yaml.safe_dump(raw))
    at = _signed_in("admin", PAGES + "users.py")
    assert not at.exception
    at.selectbox(key="change_user").select(PAYLOAD).run()
    assert not at.exception
    _assert_no_markup(at)
    labels = [e.label for e in at.expander] + [c.label for c in at.checkbox]
    assert f"Remove {fmt.md_escape(PAYLOAD)}" in labels
    assert not any(_has_markup(label) for label in labels)
    at.checkbox(key=f"change_{PAYLOAD}_sure").check().run()
    at.button(key=f"change_{PAYLOAD}_remove").click().run()
    _assert_no_markup(at)
    assert at.success[0].value == fmt.md_escape(
        f"Removed {PAYLOAD}; their open sessions are signed out."
    )


def test_an_error_naming_a_bad_user_entry_shows_the_name_as_text(env):
    raw = yaml.safe_load(env.read_text())
    raw["credentials"]["usernames"][PAYLOAD] = {**raw["credentials"]["usernames"]["exec"]}
    raw["credentials"]["usernames"][PAYLOAD]["role"] = "owner"
    env.write_text(yaml.safe_dump(raw))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    _assert_no_markup(at)
    assert len(at.error) == 1 and ESCAPED_IMAGE in at.error[0].value


# The titles and sentences the pages build from rows: a market or rank value, a configured
# market name and a survey attribute, each the payload.
CFG = load_config().model_copy(
    update={"markets": tuple(m.model_copy(update={"name": PAYLOAD}) for m in load_config().markets)}
)


def _rows(dim: str, values: list[str], kpi_id: str = "active_rate", **more) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            dim: values,
            "kpi_id": [kpi_id] * n,
            "value": [0.10 + 0.05 * i for i in range(n)],
            "previous": [0.20] * n,
            "change": [0.05 * i - 0.10 for i in range(n)],
            "n": [500] * n,
            "small": [False] * n,
            "company": [0.18] * n,
            "change_p": [0.0001] * n,  # beyond noise: the sentences name every segment
            **more,
        }
    )


@pytest.mark.parametrize(
    "title",
    [
        lambda: " ".join(tiles.mover_sentences({"market": _rows("market", ["BR", "MX"])}, CFG)[0]),
        lambda: " ".join(
            tiles.mover_sentences({"rank": _rows("rank", [PAYLOAD, "Manager"])}, CFG)[0]
        ),
        lambda: tiles.widest_gap_headline(_rows("market", ["BR", "MX"], "experience_gap_pp"), CFG),
        lambda: tiles.bars_headline(
            _rows("rank", [PAYLOAD, "x"]), BY_ID["active_rate"], "rank", CFG
        ),
        lambda: tiles.heatmap_headline(
            _rows("rank", [PAYLOAD, "x"], market=[PAYLOAD, "BR"]),
            BY_ID["active_rate"],
            CFG,
        ),
        lambda: tiles.gap_headline(
            pl.DataFrame(
                {
                    "attribute": [PAYLOAD],
                    "customer_gap_pp": [40.0],
                    "corporate_share": [0.8],
                    "customer_share": [0.4],
                    "n_customer": [50],
                    "n_corporate": [50],
                }
            )
        ),
    ],
    ids=["mover-market-name", "mover-rank", "widest-gap", "bars", "heatmap", "gap-attribute"],
)
def test_titles_and_sentences_built_from_rows_show_values_as_text(title):
    text = title()
    assert ESCAPED_IMAGE in text
    assert not _has_markup(text), text


def test_amounts_in_a_sentence_are_not_read_as_math():
    # Two dollar amounts on one line would otherwise be a $...$ formula.
    rows = _rows("market", ["BR", "MX"], "avg_order_amount")
    sentence = tiles.mover_sentences({"market": rows}, load_config())[0][0]
    assert r"\$" in sentence and "$" not in sentence.replace(r"\$", "")
