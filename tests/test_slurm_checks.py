"""The submission checks of snakesweep.slurm on the outputs of real SLURM tools (as text)."""

from __future__ import annotations

import pytest

from snakesweep.errors import ConfigError
from snakesweep.slurm import (
    check_submission,
    gres_gpus,
    parse_config,
    parse_partitions,
    resource_value,
)

SINFO = "debug*|(null)\ngpu|gpu:a100:4(S:0-1)\ngpu|gpu:2,nic:1\n"
CONFIG = """Configuration data as of 2026-11-25T16:00:00
AccountingStorageEnforce = associations
AccountingStorageType   = accounting_storage/slurmdbd
ClusterName             = hpc
"""


def fake_cluster(accounts="proj\nother\n", default_account="proj\n", config=CONFIG):
    """Answers of sinfo/scontrol/sacctmgr as a cluster would give them."""

    def run(command: list[str]) -> str:
        if command[0] == "sinfo":
            return SINFO
        if command[0] == "scontrol":
            return config
        if "assoc" in command:
            return accounts
        return default_account

    return run


@pytest.mark.parametrize(
    ("gres", "gpus"),
    [("(null)", 0), ("gpu:2", 2), ("gpu:a100:4(S:0-1)", 4), ("nic:1,gpu:1", 1), ("gpu", 1)],
)
def test_gpus_are_read_from_gres(gres, gpus):
    assert gres_gpus(gres) == gpus


def test_partitions_keep_the_largest_node_and_the_default():
    assert parse_partitions(SINFO) == ({"debug": 0, "gpu": 4}, "debug")
    assert parse_config(CONFIG)["ClusterName"] == "hpc"


@pytest.mark.parametrize(
    ("raw", "value"), [("gpu", "gpu"), ("'gpu'", "gpu"), ('"a-b.c"', "a-b.c"), (None, None)]
)
def test_constant_resources_are_read_and_expressions_are_left_alone(raw, value):
    assert resource_value(raw) == value
    assert resource_value("attempt * 2 if x else 'a'") is None


def test_a_good_submission_passes():
    check_submission("gpu", "proj", 4, run=fake_cluster(), user="ada")
    check_submission(None, None, 0, run=fake_cluster(), user="ada")


@pytest.mark.parametrize(
    ("partition", "account", "gpus", "cluster", "message"),
    [
        ("nope", None, 0, {}, r"^slurm_partition: 'nope' is not a partition .*debug, gpu"),
        (None, None, 1, {}, r"^train.devices: .*1 GPU\(s\) .*'debug' have none .*: gpu\)$"),
        ("gpu", None, 8, {}, r"^train.devices: .*at most 4"),
        (None, "nosuch", 0, {}, r"^slurm_account: 'nosuch' is not an account of user ada .*proj"),
        (None, None, 0, {"accounts": ""}, r"^slurm_account: user ada has no account on cluster"),
        (None, None, 0, {"default_account": ""}, r"^slurm_account: none given .*other, proj\)\)$"),
    ],
)
def test_a_bad_submission_is_one_line_naming_the_setting(
    partition, account, gpus, cluster, message
):
    with pytest.raises(ConfigError, match=message) as error:
        check_submission(partition, account, gpus, run=fake_cluster(**cluster), user="ada")
    assert "\n" not in str(error.value)


def test_accounts_are_not_checked_without_accounting_or_enforcement():
    no_accounting = CONFIG.replace("accounting_storage/slurmdbd", "accounting_storage/none")
    check_submission(None, "anything", 0, run=fake_cluster(config=no_accounting), user="ada")
    not_enforced = CONFIG.replace("associations", "0")
    check_submission(None, None, 0, run=fake_cluster(accounts="", config=not_enforced), user="ada")


def test_a_missing_or_silent_tool_is_one_line():
    from snakesweep.slurm import run_command

    with pytest.raises(ConfigError, match=r"^executor: no-such-sinfo not found"):
        run_command(["no-such-sinfo"])
    with pytest.raises(ConfigError, match=r"^executor: `false` failed"):
        run_command(["false"])
