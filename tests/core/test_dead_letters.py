"""The dead-letter list, where an admin sees it and runs it again: the API, the admin
screen, ``mainspring tasks`` and /readyz. Nobody else sees it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from mainspring import cli
from mainspring.core.models import BackgroundTask, TaskStatus
from mainspring.core.worker import run_pending_tasks

pytestmark = pytest.mark.django_db

SEND = "mainspring.notifications.tasks.send_delivery"
SWEEP = "mainspring.sla.tasks.sweep_sla_escalations"


def dead(path: str = SEND, **fields) -> BackgroundTask:
    defaults = {
        "args": ["created:1:1:u1"] if path == SEND else [],
        "status": TaskStatus.DEAD,
        "attempts": 8,
        "finished_at": timezone.now(),
        "last_error": "smtplib.SMTPServerDisconnected: Connection unexpectedly closed",
        "traceback": "Traceback (most recent call last):\n  ...\n",
        "worker_id": "w1",
    }
    return BackgroundTask.objects.create(task_path=path, **{**defaults, **fields})


@pytest.fixture
def letters():
    done = BackgroundTask.objects.create(
        task_path=SWEEP, status=TaskStatus.DONE, attempts=1, finished_at=timezone.now()
    )
    return {"old": dead(), "sweep": dead(SWEEP), "new": dead(), "done": done}


# -- the API -----------------------------------------------------------------------------
def test_only_admins_see_or_retry_tasks(api_for, requester, agent, manager, admin, letters):
    pk = letters["old"].pk
    for user in (requester, agent, manager):
        client = api_for(user)
        for response in (
            client.get("/api/v1/tasks/?status=dead"),
            client.get(f"/api/v1/tasks/{pk}/"),
            client.post(f"/api/v1/tasks/{pk}/retry/", {}, format="json"),
        ):
            assert response.status_code == 403, (user.username, response.content)
            assert response.json()["error"]["code"] == "forbidden"
    assert BackgroundTask.objects.get(pk=pk).status == "dead"
    assert Client().get("/api/v1/tasks/").status_code in (401, 403)


def test_admins_list_the_dead_letters_newest_first(api_for, admin, letters):
    client = api_for(admin)
    body = client.get("/api/v1/tasks/?status=dead").json()
    assert [t["id"] for t in body["results"]] == [
        letters["new"].pk,
        letters["sweep"].pk,
        letters["old"].pk,
    ]
    first = body["results"][0]
    assert first["task"] == SEND and first["name"] == "send_delivery"
    assert first["attempts"] == 8 and first["status"] == "dead"
    assert first["last_error"].startswith("smtplib.SMTPServerDisconnected")
    assert first["args"] == ["created:1:1:u1"]
    assert "traceback" not in first  # the list stays light; the detail has it

    only_sweeps = client.get(f"/api/v1/tasks/?status=dead&task={SWEEP}").json()["results"]
    assert [t["id"] for t in only_sweeps] == [letters["sweep"].pk]
    detail = client.get(f"/api/v1/tasks/{letters['old'].pk}/").json()
    assert detail["traceback"].startswith("Traceback") and detail["worker_ids"] == []


def test_bad_filters_are_a_400(api_for, admin, letters):
    client = api_for(admin)
    for query in ("status=gone", "task=os.system", "colour=red", "ordering=-attempts"):
        response = client.get(f"/api/v1/tasks/?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "invalid"


def test_retry_runs_a_dead_task_again(api_for, admin, letters):
    client = api_for(admin)
    task = letters["sweep"]
    response = client.post(f"/api/v1/tasks/{task.pk}/retry/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ready" and response.json()["attempts"] == 0
    assert run_pending_tasks() == 1
    task.refresh_from_db()
    assert (task.status, task.attempts) == ("done", 1)

    again = client.post(f"/api/v1/tasks/{task.pk}/retry/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["status"] == "done"
    assert client.post("/api/v1/tasks/999999/retry/", {}, format="json").status_code == 404
    extra = client.post(f"/api/v1/tasks/{letters['old'].pk}/retry/", {"x": 1}, format="json")
    assert extra.status_code == 400
    assert BackgroundTask.objects.get(pk=letters["old"].pk).status == "dead"


# -- the admin screen --------------------------------------------------------------------
def test_admin_screen_lists_dead_letters_and_runs_them_again(admin, manager, letters):
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/core/backgroundtask/?status__exact=dead")
    assert page.status_code == 200
    html = page.content.decode()
    assert "SMTPServerDisconnected" in html and "send_delivery" in html
    assert "Run again" in html
    detail = client.get(f"/admin/core/backgroundtask/{letters['old'].pk}/change/")
    assert detail.status_code == 200 and "Traceback" in detail.content.decode()
    assert 'name="last_error"' not in detail.content.decode()  # read-only

    chosen = [letters["old"].pk, letters["done"].pk]
    response = client.post(
        "/admin/core/backgroundtask/",
        {"action": "run_again", "_selected_action": chosen},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 task(s) will run again." in text
    assert "1 task(s) left alone" in text
    assert BackgroundTask.objects.get(pk=letters["old"].pk).status == "ready"
    assert BackgroundTask.objects.get(pk=letters["done"].pk).status == "done"
    # No adding, no editing, no bulk delete; a queued task cannot be deleted.
    assert client.get("/admin/core/backgroundtask/add/").status_code == 403
    ready = letters["old"].pk
    assert client.get(f"/admin/core/backgroundtask/{ready}/delete/").status_code == 403
    assert "delete_selected" not in html

    other = Client()
    other.force_login(manager)  # not an administrator: not even the admin site
    assert other.get("/admin/core/backgroundtask/").status_code == 302


# -- the command line --------------------------------------------------------------------
def test_cli_lists_shows_and_retries(capsys, letters):
    call_command("mainspring_tasks")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ID", "TASK", "TRIES"]
    assert [int(line.split()[0]) for line in lines[1:]] == [
        letters["new"].pk,
        letters["sweep"].pk,
        letters["old"].pk,
    ]
    assert all("SMTPServerDisconnected" in line for line in lines[1:])

    call_command("mainspring_tasks", "--task", "sweep_sla_escalations")
    out = capsys.readouterr().out
    assert "sweep_sla_escalations" in out and "send_delivery" not in out

    call_command("mainspring_tasks", "--show", str(letters["old"].pk))
    out = capsys.readouterr().out
    assert "attempts: 8" in out and "Traceback" in out and '["created:1:1:u1"]' in out

    call_command("mainspring_tasks", "--retry", str(letters["old"].pk), str(letters["done"].pk))
    captured = capsys.readouterr()
    assert "1 dead task(s) will run again." in captured.out
    assert f"Not dead, left alone: {letters['done'].pk}" in captured.err
    assert BackgroundTask.objects.get(pk=letters["old"].pk).status == "ready"

    call_command("mainspring_tasks", "--retry-dead")
    assert "2 dead task(s) will run again." in capsys.readouterr().out
    assert not BackgroundTask.objects.filter(status="dead").exists()
    call_command("mainspring_tasks")
    assert "No dead tasks." in capsys.readouterr().out

    with pytest.raises(CommandError, match="No task is named"):
        call_command("mainspring_tasks", "--task", "nope")


def test_mainspring_tasks_is_the_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["mainspring", "tasks", "--help"])
    assert exit_info.value.code == 0
    assert "--retry-dead" in capsys.readouterr().out


# -- health ------------------------------------------------------------------------------
def test_readyz_reports_dead_letters_without_failing(client):
    from mainspring.core.worker import BackgroundWorker

    BackgroundWorker(worker_id="w").heartbeat()
    for _ in range(2):
        dead(finished_at=timezone.now() - timedelta(days=30))
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["dead_tasks"] == 2
