"""The bug zoo (raftref/mutants.py): each mutant overrides exactly one named rule of the
reference node, the protocol package never names a mutant, and mutants compose."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from raftref.mutants import EXPECTED, MUTANTS, ZOO, node_class
from raftref.protocol.node import Node

from .conftest import ROOT

# Methods a mutant may define beside its one rule: bookkeeping, not a rule.
BOOKKEEPING = {"__init__", "__doc__", "__module__", "__qualname__", "__firstlineno__",
               "__static_attributes__", "__dict__", "__weakref__"}


def overridden_rules(cls: type[Node]) -> list[str]:
    return sorted(name for name in vars(cls) if name not in BOOKKEEPING)


@pytest.mark.parametrize("name", list(ZOO))
def test_each_mutant_overrides_exactly_one_rule_of_the_node(name: str) -> None:
    cls = ZOO[name]
    assert cls.__bases__ == (Node,), "a mutant is a direct subclass of the reference node"
    rules = overridden_rules(cls)
    assert len(rules) == 1, f"{name} overrides {rules}"
    rule = rules[0]
    assert callable(getattr(Node, rule, None)), f"{rule} is not a rule of Node"
    assert (getattr(Node, rule).__doc__ or "").strip(), f"Node.{rule} has no docstring"
    assert (cls.__doc__ or "").count("Rule") and "Bug" in (cls.__doc__ or ""), (
        f"{name}'s docstring shows the rule and the bug side by side")


def test_the_protocol_package_names_no_mutant() -> None:
    names = set(ZOO) | {cls.__name__ for cls in ZOO.values()}
    for path in sorted((ROOT / "raftref" / "protocol").rglob("*.py")):
        text = path.read_text()
        found = [n for n in names if n in text]
        assert not found, f"{path.relative_to(ROOT)} names mutants {found}"


def test_listing_and_expectations_cover_the_same_mutants() -> None:
    assert list(MUTANTS) == list(ZOO) and set(EXPECTED) == set(ZOO)
    out = subprocess.run([sys.executable, "-m", "raftref", "mutants"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert [line.split()[0] for line in out] == list(ZOO)
    assert all(MUTANTS[line.split()[0]] in line for line in out)


def test_node_class_is_the_reference_node_without_mutants_and_refuses_unknown_names() -> None:
    assert node_class(()) is Node
    assert node_class(("figure8",)) is ZOO["figure8"]
    with pytest.raises(ValueError, match="unknown mutant nope; valid mutants: figure8"):
        node_class(("nope",))


def test_two_mutants_compose_each_changing_its_own_rule() -> None:
    cls = node_class(("minority-quorum", "double-vote"))
    node = cls("s1", ["s1", "s2", "s3", "s4"], random.Random(0))
    reference = Node("s1", ["s1", "s2", "s3", "s4"], random.Random(0))
    assert node.quorum_size() == 2 and reference.quorum_size() == 3
    node.voted_for = reference.voted_for = "s2"
    assert node.vote_is_free("s3") and not reference.vote_is_free("s3")
    # a rule neither mutant touches is the reference one
    assert type(node).may_commit is Node.may_commit
