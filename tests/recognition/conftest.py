"""Fixtures for the engine tests: the seed rulebook and the catalogue facts, read once per session."""

from __future__ import annotations

import pytest

from registry.recognition import parse_rulebook
from registry.rulebook import load_seed_rulebook
from tests.recognition.catalogue_facts import catalogue_facts


@pytest.fixture(scope="session")
def seed_document():
    return load_seed_rulebook()


@pytest.fixture(scope="session")
def rulebook(seed_document):
    return parse_rulebook(seed_document)


@pytest.fixture(scope="session")
def catalogue():
    return catalogue_facts()
