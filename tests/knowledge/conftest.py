import pytest

from mainspring.knowledge import services
from mainspring.knowledge.models import KnowledgeReviewer


@pytest.fixture
def reviewer(manager):
    KnowledgeReviewer.objects.create(user=manager)
    return manager


@pytest.fixture
def publish_article(agent, reviewer):
    """``publish_article(title=..., body=..., **fields)``: written by agent, published."""

    def make(**fields):
        fields.setdefault("summary", "")
        fields.setdefault("body", "")
        article = services.create_article(by=agent, **fields)
        return services.publish(article, by=reviewer)

    return make
