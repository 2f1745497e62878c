"""Graphs: the networkx view of a definition, Mermaid and DOT text, the process map."""

from __future__ import annotations

import itertools

import networkx as nx

import vip_workflow as vw
from vip_workflow.processes.graphs import process_map
from vip_workflow.processes.loader import bundled_definitions


def _sales():
    return vw.ProcessEngine().definition("sales")


class TestDefinitionGraph:
    """definition.graph() is a DiGraph of states and the ways between them."""

    def test_nodes_carry_kind_and_owner(self):
        """Gates, hand-offs, steps and final states are told apart."""
        graph = _sales().graph()
        assert isinstance(graph, nx.DiGraph)
        assert graph.nodes["internal_approval"]["kind"] == "gate"
        assert graph.nodes["service_activation"]["kind"] == "handoff"
        assert graph.nodes["won"]["kind"] == "final"
        assert graph.nodes["draft_agreement"]["owner"] == "account_manager"

    def test_edges_carry_every_way_between_two_states(self):
        """Rejection and recall share the edge back to the draft."""
        edge = _sales().graph().edges["internal_approval", "draft_agreement"]
        assert set(edge["kinds"]) == {"reject", "recall"}
        assert nx.has_path(_sales().graph(), "communication_plan", "won")

    def test_mermaid_and_dot_name_every_state(self):
        """Both outputs mention each state once as a node."""
        definition = _sales()
        mermaid, dot = definition.to_mermaid(), definition.to_dot()
        for name in definition.state_names:
            assert f" as {name}\n" in mermaid
            assert f'  "{name}" [shape=' in dot
        assert mermaid.count("--> [*]") == len(definition.final_states)
        assert 'label="4.2 Draft agreement\\n(account_manager)"' in dot
        assert "\\\\" not in dot


class TestProcessMap:
    """The process map links the stages through their hand-offs."""

    def test_hand_offs_and_lead_ons(self):
        """solution_design waits for 6.2 and 6.3; stages lead on 1 → 2 → 3 → 4 → 5."""
        graph = process_map(bundled_definitions())
        assert graph.edges["solution_design", "new_product_development"]["wait"] is True
        assert graph.edges["sales", "service_activation"]["kind"] == "handoff"
        chain = ["segmentation", "needs_analysis", "solution_design", "sales", "after_sales"]
        assert all(graph.has_edge(a, b) for a, b in itertools.pairwise(chain))

    def test_only_the_newest_version_is_drawn(self):
        """Two versions of one process give one node."""
        v1 = _sales()
        v2 = v1.model_copy(update={"version": 2, "title": "Sales v2"})
        graph = process_map([v1, v2])
        assert graph.nodes["sales"]["title"] == "Sales v2"
