"""Fixtures for the agent workspace tests: logged-in browsers-without-a-browser."""

from __future__ import annotations

import pytest

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def requester_client(client, requester):
    client.force_login(requester)
    return client
