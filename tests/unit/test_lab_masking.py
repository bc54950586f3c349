"""Masking that does not depend on key names alone (issue 12, item 7): every value that reaches a Secret
is registered and masked by value, wherever it appears."""

from __future__ import annotations

import sys

import pytest

from lab.helm import mask_values, secret_values
from lab.runner import CommandError, Runner, mask_argv

SPECIAL = "p'a\"s\\s $x `y` é ü,z"


def test_a_comma_list_after_a_secret_key_is_masked_whole() -> None:
    masked = " ".join(mask_argv(["helm", "--set", "db.password=x,y", "--set", "replicas=2,debug=true"]))
    assert "x" not in masked.split("--set")[1].replace("password", "")
    assert ",y" not in masked and "replicas=2,debug=true" in masked


def test_set_json_is_masked_when_a_secret_key_is_anywhere_inside() -> None:
    masked = " ".join(mask_argv(["helm", "--set-json", 'db={"user":"u","password":"hunter22"}']))
    assert "hunter22" not in masked
    assert " ".join(mask_argv(["helm", "--set-json", 'tags=["a","b"]'])).endswith('tags=["a","b"]')


def test_secret_values_finds_env_style_pairs_and_secret_keys() -> None:
    values = {"rhdemo": {"extraEnv": [{"name": "SPRING_DATASOURCE_PASSWORD", "value": SPECIAL},
                                      {"name": "LOG_LEVEL", "value": "debug"}]},
              "postgresql-rhdemo": {"database": {"password": "s3cret-db"}, "initScripts": {"a.sql": "x"}}}
    assert secret_values(values) == {SPECIAL, "s3cret-db"}


def test_values_are_masked_by_value_inside_other_text() -> None:
    values = {"rhdemo": {"extraEnv": [{"name": "SPRING_DATASOURCE_PASSWORD", "value": SPECIAL}]},
              "postgresql-rhdemo": {"database": {"password": "s3cret-db"},
                                    "initScripts": {"01-role.sql": "CREATE ROLE app PASSWORD 's3cret-db';"}}}
    text = repr(mask_values(values))
    assert "s3cret-db" not in text and SPECIAL not in text
    assert "CREATE ROLE app PASSWORD" in text and "SPRING_DATASOURCE_PASSWORD" in text


def test_a_failed_command_that_printed_only_to_stdout_is_masked(tmp_path: pytest.TempPathFactory) -> None:
    runner = Runner()
    runner.register_secret(SPECIAL)
    with pytest.raises(CommandError) as failure:
        runner.run([sys.executable, "-c", f"import sys; print({SPECIAL!r}); sys.exit(3)"])
    assert SPECIAL not in str(failure.value) and "*****" in str(failure.value)
