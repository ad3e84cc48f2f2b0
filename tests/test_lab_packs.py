import pytest
import yaml

from courses.packs import PackError, load_pack, read_pack
from labs.models import Lab, LabFile, LabTask

LAB = {
    "slug": "tirer",
    "title": "Tirer une version",
    "minutes": 10,
    "instructions": "Tirez **nginx**.",
    "setup": [
        {"label": "Copie de l'application", "copy": "resources/app", "to": "/root/app"},
        {"label": "Démarrage de web", "run": "docker run -d --name web nginx:1.22"},
    ],
    "tasks": [
        {"slug": "tirer-1-22", "title": "Tirer 1.22", "prompt": "Tirez `nginx:1.22`.", "check": "image_present", "params": {"image": "nginx:1.22"}, "hint": "docker pull"},
        {"slug": "id", "title": "L'identifiant", "prompt": "Donnez l'IMAGE ID.", "check": "answer_image_id", "params": {"image": "nginx:1.22"}, "answer": "IMAGE ID"},
    ],
}


@pytest.fixture
def lab_pack(pack_builder):
    pack_builder.course["chapters"][0]["labs"] = ["labs/tirer.yaml"]
    pack_builder.files["labs/tirer.yaml"] = yaml.safe_dump(LAB, allow_unicode=True, sort_keys=False)
    pack_builder.files["resources/app/Dockerfile"] = "FROM debian:bookworm-slim\n"
    return pack_builder


def problems_of(root):
    with pytest.raises(PackError) as caught:
        read_pack(root)
    return [str(p) for p in caught.value.problems]


def write_lab(builder, lab):
    builder.files["labs/tirer.yaml"] = yaml.safe_dump(lab, allow_unicode=True, sort_keys=False)
    return builder.write()


def test_lab_is_read_with_setup_tasks_and_files(lab_pack):
    pack = read_pack(lab_pack.write())
    [lab] = pack.activities("labs")
    assert lab.setup == [
        {"label": "Copie de l'application", "copy": "resources/app", "to": "/root/app"},
        {"label": "Démarrage de web", "run": "docker run -d --name web nginx:1.22"},
    ]
    assert [t.check_name for t in lab.tasks] == ["image_present", "answer_image_id"]
    assert lab.tasks[1].answer_label == "IMAGE ID"
    assert lab.files[0].source == "resources/app" and lab.files[0].archive


def test_archives_are_byte_identical_between_reads(lab_pack):
    root = lab_pack.write()
    assert read_pack(root).activities("labs")[0].files[0].sha256 == read_pack(root).activities("labs")[0].files[0].sha256


def test_unknown_check_names_file_line_and_field(lab_pack):
    lab = {**LAB, "tasks": [{**LAB["tasks"][0], "check": "image_here"}]}
    root = write_lab(lab_pack, lab)
    [problem] = problems_of(root)
    assert problem.startswith(f"{root}/labs/tirer.yaml:")
    assert "tasks[0].check: unknown check 'image_here'" in problem


def test_bad_check_params_are_refused(lab_pack):
    lab = {**LAB, "tasks": [{**LAB["tasks"][0], "params": {"imag": "nginx"}}]}
    problems = problems_of(write_lab(lab_pack, lab))
    assert any("tasks[0].params: missing param 'image'" in p for p in problems)
    assert any("tasks[0].params: unknown param 'imag'" in p for p in problems)


def test_answer_check_without_answer_field_is_refused(lab_pack):
    task = {k: v for k, v in LAB["tasks"][1].items() if k != "answer"}
    [problem] = problems_of(write_lab(lab_pack, {**LAB, "tasks": [task]}))
    assert "tasks[0].answer: check answer_image_id grades an answer" in problem


def test_setup_step_needs_exactly_one_action_and_existing_folders(lab_pack):
    lab = {**LAB, "setup": [{"label": "x", "run": "true", "copy": "resources/app", "to": "/x"}, {"label": "y", "copy": "resources/absent", "to": "/y"}, {"label": "z", "copy": "resources/app", "to": "relative"}]}
    problems = problems_of(write_lab(lab_pack, lab))
    assert any("setup[0]: a step has either run" in p for p in problems)
    assert any("setup[1].copy: 'resources/absent' is not a folder of the pack" in p for p in problems)
    assert any("setup[2].to: a copy step needs an absolute destination" in p for p in problems)


def test_chapter_listing_a_missing_lab_is_refused(lab_pack):
    lab_pack.course["chapters"][1]["labs"] = ["labs/absent.yaml"]
    [problem] = problems_of(lab_pack.write())
    assert "chapters[1].labs[0]: lab file 'labs/absent.yaml' does not exist" in problem


def test_lab_load_is_idempotent_and_unpublishes_removed_tasks(db, lab_pack):
    root = lab_pack.write()
    first = load_pack(read_pack(root))
    assert (first.created["labs"], first.created["tasks"]) == (1, 2)
    assert not load_pack(read_pack(root)).changed
    write_lab(lab_pack, {**LAB, "tasks": LAB["tasks"][:1]})
    report = load_pack(read_pack(root))
    assert report.unpublished["tasks"] == 1
    assert list(LabTask.objects.filter(is_published=True).values_list("slug", flat=True)) == ["tirer-1-22"]
    assert LabTask.objects.filter(slug="id", is_published=False).exists()
    assert LabFile.objects.count() == 1 and Lab.objects.get().chapter.slug == "bases"


def test_removed_lab_is_unpublished(db, lab_pack):
    root = lab_pack.write()
    load_pack(read_pack(root))
    del lab_pack.course["chapters"][0]["labs"]
    lab_pack.write()
    assert load_pack(read_pack(root)).unpublished["labs"] == 1
    assert not Lab.objects.get().is_published


def test_every_check_is_used_by_a_shipped_lab(shipped_pack):
    """A check no lab names is dead code that looks tested: wire it into a lab or delete it."""
    import yaml

    from grader.checks import CHECKS
    from tests.conftest import SHIPPED_PACK

    used = {task["check"] for path in (SHIPPED_PACK / "labs").glob("*.yaml") for task in yaml.safe_load(path.read_text())["tasks"]}
    assert set(CHECKS) - used == set()
