"""Every shipped solution, typed into a real sandbox in task order, passes its own task's check.

A solution that does not pass would teach the wrong thing at the moment a learner is stuck. Tasks
with an answer field are judged on the last line the solution printed, as a learner would copy it.
"""

import re
import time

import pytest
import yaml
from django.contrib.auth.models import User

from courses.packs import load_pack
from grader import checks, engine
from labs import sandboxes
from labs.models import Lab
from tests.conftest import SHIPPED_PACK

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
LABS = sorted(path.stem for path in (SHIPPED_PACK / "labs").glob("*.yaml"))


def answer_read_from(task, output):
    """What a learner copies from the solution's output into the answer field."""
    lines = [line.split() for line in output.splitlines() if line.strip()]
    if task["check"] == "answer_image_count":  # docker system df: the TOTAL of the Images line
        return next(words[1] for words in lines if words[0] == "Images")
    if task["check"] == "answer_container_ip":  # one address of those the range template printed
        return lines[-1][0]
    if task["check"] == "answer_image_id":
        repository, _, tag = (task.get("params") or {})["image"].rpartition(":")
        row = next((words for words in lines if words[:2] == [repository, tag]), None)  # a docker images row
        return row[2] if row else lines[-1][-1]  # else the ID an inspect printed last
    raise AssertionError(f"no way to read the answer of a {task['check']} task")


def verdict(sandbox, task, answer):
    params = task.get("params") or {}
    snapshot = engine.default().take_snapshot(
        sandbox.container_name, sandboxes.socket_dir(sandbox),
        files=checks.files_needed(task["check"], params), probes=checks.http_needed(task["check"], params),
    )
    return checks.run_check(task["check"], snapshot, params, answer)


@pytest.fixture
def course(shipped_pack, transactional_db):
    return load_pack(shipped_pack).course


@pytest.mark.parametrize("lab_slug", LABS)
def test_each_solution_passes_its_task(lab_slug, course, ready_sandbox_for):
    lab_file = yaml.safe_load((SHIPPED_PACK / "labs" / f"{lab_slug}.yaml").read_text())
    learner = User.objects.create_user(f"solution-{lab_slug}"[:150])
    sandbox = ready_sandbox_for(learner, Lab.objects.get(course=course, slug=lab_file["slug"]).slug)
    for task in lab_file["tasks"]:
        blocks = SH_BLOCK.findall(task["solution"])
        assert blocks, f"{lab_slug}/{task['slug']}: the solution has no sh block"
        output = ""
        for block in blocks:
            result = engine.default().exec_in_sandbox(sandbox.container_name, f"cd /root\n{block}", timeout=240)
            assert result.exit_code == 0, f"{lab_slug}/{task['slug']}: exit code {result.exit_code}\n{block}\n{result.output[-1500:]}"
            output = result.output
        answer = answer_read_from(task, output) if task.get("answer") else ""
        # Some states settle a moment after the command returns (a healthcheck, a server that starts listening).
        deadline = time.monotonic() + 30
        found = verdict(sandbox, task, answer)
        while not found.passed and time.monotonic() < deadline:
            time.sleep(1)
            found = verdict(sandbox, task, answer)
        assert found.passed, f"{lab_slug}/{task['slug']}: {found.message}"
