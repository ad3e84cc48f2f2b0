"""The sandboxes' CPU group and weights (grader/cpu_priority.py), on plain folders standing for /sys/fs/cgroup.

tests/test_sandbox_security.py checks a real sandbox's group and weight, and that its learner cannot raise it;
bench/class_start.py measures what it changes.
"""

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from grader import cpu_priority
from grader.fake_engine import FakeEngine
from labs import sandboxes
from labs.models import Lab, Sandbox


def test_v1_shares_become_v2_weights_as_runc_converts_them():
    assert [cpu_priority.weight_of(s) for s in (2, 256, 1024, 262144)] == [1, 10, 39, 10000]


def test_the_group_is_a_parent_of_the_cgroupfs_driver_only():
    assert cpu_priority.cgroup_parent("drydock-sandboxes", "cgroupfs") == "/drydock-sandboxes"
    assert cpu_priority.cgroup_parent("drydock-sandboxes", "systemd") == ""  # a slice of systemd's: left where the engine puts it
    assert cpu_priority.cgroup_parent("", "cgroupfs") == ""


def test_the_group_is_made_and_weighed_in_v1s_cpu_hierarchy(tmp_path):
    (tmp_path / "cpu,cpuacct").mkdir()
    (tmp_path / "cpu,cpuacct" / "cpu.shares").write_text("1024")
    folder = cpu_priority.weigh_group("drydock-sandboxes", 256, version="1", root=tmp_path)
    assert (folder / "cpu.shares").read_text() == "256"
    cpu_priority.weigh_group("drydock-sandboxes", 512, version="1", root=tmp_path)  # made already: weighed again
    assert (folder / "cpu.shares").read_text() == "512"


def test_the_group_is_weighed_in_v2_as_its_shares_would_be(tmp_path):
    folder = cpu_priority.weigh_group("drydock-sandboxes", 256, version="2", root=tmp_path)
    assert (folder / "cpu.weight").read_text() == str(cpu_priority.weight_of(256))


def test_a_group_that_cannot_be_made_says_where(tmp_path):
    with pytest.raises(cpu_priority.CpuPriorityError, match="no cgroup v1 cpu hierarchy under"):
        cpu_priority.weigh_group("drydock-sandboxes", 256, version="1", root=tmp_path)
    (tmp_path / "sandboxes-group").write_text("a file where the folder would go")
    with pytest.raises(cpu_priority.CpuPriorityError, match=r"sandboxes-group/cpu.weight could not be set to 10"):
        cpu_priority.weigh_group("sandboxes-group", 256, version="2", root=tmp_path)


@pytest.mark.django_db
def test_a_sandbox_is_settled_before_it_is_ready_and_started_in_the_settings_group(shipped_course, settings):
    settings.SANDBOX_CPU_GROUP, settings.SANDBOX_CPU_GROUP_SHARES = "drydock-sandboxes", 300
    fake = FakeEngine()
    now = timezone.now()
    row = Sandbox.objects.create(owner=User.objects.create_user("lea"), lab=Lab.objects.get(slug="premier-conteneur"),
                                 expires_at=now, last_activity_at=now, steps_total=2)
    assert sandboxes.provision(row.pk, engine=fake).status == Sandbox.Status.READY
    assert fake.settled == [row.container_name]
    assert (fake.started[0].cpu_group, fake.started[0].cpu_group_shares) == ("drydock-sandboxes", 300)


@pytest.mark.django_db
def test_a_sandbox_gone_before_it_settles_fails_as_an_engine_problem(shipped_course, monkeypatch):
    fake = FakeEngine()
    now = timezone.now()
    row = Sandbox.objects.create(owner=User.objects.create_user("lea"), lab=Lab.objects.get(slug="premier-conteneur"),
                                 expires_at=now, last_activity_at=now, steps_total=2)
    monkeypatch.setattr(fake, "settle_sandbox", lambda name: fake.sandboxes.clear() or FakeEngine.settle_sandbox(fake, name))
    assert sandboxes.provision(row.pk, engine=fake).status == Sandbox.Status.FAILED


def test_a_sandbox_weighs_the_most_only_in_the_group_and_without_a_kept_disk():
    assert cpu_priority.starting_shares(in_group=True, kept_disk=False) == cpu_priority.MOST_SHARES
    assert cpu_priority.starting_shares(in_group=False, kept_disk=False) == cpu_priority.RUNNING_SHARES  # beside the platform
    assert cpu_priority.starting_shares(in_group=True, kept_disk=True) == cpu_priority.RUNNING_SHARES  # the learner's containers restart


def test_the_group_weighed_must_be_the_one_a_sandbox_starts_in_as_this_process_sees_cgroups():
    host_view_v1 = "9:pids:/drydock-sandboxes/ab12\n2:cpu,cpuacct:/drydock-sandboxes/ab12\n0::/\n"
    cpu_priority.check_placed(host_view_v1, "/drydock-sandboxes")
    cpu_priority.check_placed("0::/drydock-sandboxes/ab12\n", "/drydock-sandboxes")  # cgroup v2
    # From a cgroup namespace of its own, the sandbox is outside this process's root: another group was weighed.
    with pytest.raises(cpu_priority.CpuPriorityError, match=r"is in /../drydock-sandboxes/ab12 as this process sees cgroups"):
        cpu_priority.check_placed("2:cpu,cpuacct:/../drydock-sandboxes/ab12\n", "/drydock-sandboxes")
    with pytest.raises(cpu_priority.CpuPriorityError, match="is in /docker/ab12"):
        cpu_priority.check_placed("2:cpu,cpuacct:/docker/ab12\n", "/drydock-sandboxes")


def test_an_engine_that_never_started_a_sandbox_at_the_starting_weight_settles_without_asking(tmp_path):
    from grader.engine import DockerEngine

    # No engine listens there: settling would fail if it asked one.
    assert DockerEngine(f"unix://{tmp_path}/nothing.sock").settle_sandbox("drydock-sandbox-1") is None


@pytest.mark.django_db
def test_a_sandbox_that_fails_to_start_waits_for_its_removal_settled(shipped_course, settings):
    settings.SANDBOX_DAEMON_ON_DEMAND = False
    fake = FakeEngine()
    fake.daemons_answer = False
    now = timezone.now()
    row = Sandbox.objects.create(owner=User.objects.create_user("lea"), lab=Lab.objects.get(slug="premier-conteneur"),
                                 expires_at=now, last_activity_at=now, steps_total=2)
    assert sandboxes.provision(row.pk, engine=fake).status == Sandbox.Status.FAILED
    assert fake.settled == [row.container_name]
