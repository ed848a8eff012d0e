"""The article lifecycle, declared as data: draft → in review → published → retired."""

from __future__ import annotations

from mainspring.core.states import Phase, State, StateMachine, Transition

DRAFT, IN_REVIEW, PUBLISHED, RETIRED = "draft", "in_review", "published", "retired"

# ``action`` names the knowledge policy action the actor needs (policy.may).
ARTICLE_MACHINE = StateMachine(
    states=[
        State(DRAFT, "Draft", colour="grey"),
        State(IN_REVIEW, "In review", colour="amber"),
        State(PUBLISHED, "Published", Phase.CLOSED, colour="green"),
        State(RETIRED, "Retired", Phase.CLOSED, colour="grey"),
    ],
    transitions=[
        Transition(
            "submit", frozenset({DRAFT}), IN_REVIEW, "edit", "Submit for review", (), "primary"
        ),
        Transition(
            "publish", frozenset({DRAFT, IN_REVIEW}), PUBLISHED, "review", "Publish", (), "primary"
        ),
        Transition("send_back", frozenset({IN_REVIEW}), DRAFT, "review", "Send back", ("comment",)),
        Transition("retire", frozenset({PUBLISHED}), RETIRED, "review", "Retire"),
        Transition("restore", frozenset({RETIRED}), DRAFT, "review", "Restore as draft"),
    ],
    initial=DRAFT,
)
