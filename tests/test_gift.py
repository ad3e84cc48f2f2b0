"""GIFT import: every supported question type, errors that name the line, idempotent import into a quiz's pool."""

import pytest
from django.core.management import CommandError, call_command

from quizzes import attempts, gift
from quizzes.models import Question, Quiz
from courses.packs import PackError, load_pack, read_pack
from tests.quizzes import add_quiz

GIFT = """\
// Questions sur les images, au format GIFT.
$CATEGORY: docker/images

::Image inerte:: Que fait une image tant qu'on ne la lance pas ?
{
  =Rien : elle reste inerte#Oui : c'est le conteneur qui s'exécute.
  ~Elle s'exécute en arrière-plan#Non : une image est inerte, c'est le conteneur qui s'exécute.
  ~Elle écrit dans un volume
  ####Une image est au conteneur ce qu'un programme est au processus.
}

::Partage:: Que partagent deux conteneurs lancés depuis la même image ? {
  ~%50%Le noyau de l'hôte
  ~%50%Les couches de l'image
  ~%-100%Un OS invité#Non : pas d'OS invité dans un conteneur.
}

::Base sans état:: Une base de données est un service sans état. {F#Non : elle garde des données.#Exact.}

::Registre:: Quel registre le client docker utilise-t-il par défaut ? {=Docker Hub =hub.docker.com}

::Caracteres:: Combien de caractères d'un IMAGE ID \\{court\\} affiche docker images ? {#12:0}

::Plage:: Taille typique d'une image nginx, en Mo ? {#130..150}

::Colonnes:: Associez chaque colonne de docker images à son sens. {
  =TAG -> la version
  =IMAGE ID -> l'empreinte tronquée
  =CREATED -> la date de construction
  = -> la date du téléchargement
}

Sans tag, docker pull utilise le tag {=latest} par défaut.
"""


def parse(text, file="banque.gift"):
    return gift.parse(text, file=file, quiz_slug="bases-quiz")


def problems_of(text):
    with pytest.raises(PackError) as caught:
        parse(text)
    return [str(p) for p in caught.value.problems]


def test_every_supported_type_is_read():
    questions = parse(GIFT)
    assert [(q.slug, q.kind) for q in questions] == [
        ("gift-image-inerte", "single"), ("gift-partage", "multiple"), ("gift-base-sans-etat", "true_false"),
        ("gift-registre", "short"), ("gift-caracteres", "numeric"), ("gift-plage", "numeric"),
        ("gift-colonnes", "matching"), (questions[7].slug, "short"),
    ]
    single = questions[0]
    assert [c["correct"] for c in single.spec["choices"]] == [True, False, False]
    assert single.spec["choices"][1]["feedback_html"] == "<p>Non&nbsp;: une image est inerte, c'est le conteneur qui s'exécute.</p>\n"
    assert single.explanation_html == "<p>Une image est au conteneur ce qu'un programme est au processus.</p>\n"
    assert [c["correct"] for c in questions[1].spec["choices"]] == [True, True, False]
    true_false = questions[2].spec
    assert true_false["answer"] is False
    assert true_false["feedback_false_html"] == "<p>Exact.</p>\n"
    assert true_false["feedback_true_html"] == "<p>Non&nbsp;: elle garde des données.</p>\n"
    assert questions[3].spec["accept"] == ["Docker Hub", "hub.docker.com"]
    assert "{court}" in questions[4].prompt_html
    assert (questions[4].spec["answer"], questions[4].spec["tolerance"]) == (12.0, 0.0)
    assert (questions[5].spec["answer"], questions[5].spec["tolerance"]) == (140.0, 10.0)
    matching = questions[6].spec
    assert len(matching["pairs"]) == 3 and len(matching["options"]) == 4
    assert questions[7].prompt_html == "<p>Sans tag, docker pull utilise le tag _____ par défaut.</p>\n"
    assert questions[7].slug.startswith("gift-")


@pytest.mark.parametrize("text, problem", [
    ("::A:: Sans réponses.\n", "banque.gift:1: no answers: a GIFT question ends with its answers between { and }"),
    ("// commentaire\n\n::A:: Question {=oui ~non\n", "banque.gift:3: the answers opened with { are not closed with }"),
    ("::A:: Question {=oui}\n\n::B:: Rédigez. {}\n", "banque.gift:3: essay questions ({}) are not supported"),
    ("::A:: Deux bonnes ? {=a =b ~c}\n", "banque.gift:1: several answers start with =: for a multiple-choice question, weight them (~%50%…)"),
    ("::A:: Combien ? {#douze}\n", "banque.gift:1: 'douze' is not a number (write 12, 12:0.5 or 11..13)"),
    ("::A:: Une seule paire. {=TAG -> version}\n", "banque.gift:1: pairs: a matching question needs at least two pairs"),
    ("::A:: Aucune bonne. {~%-50%a ~%-50%b}\n", "banque.gift:1: choices: a multiple-choice question needs at least one correct choice"),
    ("::A:: Combien ? {#12:-1}\n", "banque.gift:1: tolerance: -1.0: a tolerance cannot be negative"),
    ("::A Titre ouvert {=a}\n", "banque.gift:1: the title opened with :: is not closed with ::"),
    ("::A:: Réponse partielle {=a =%50%b}\n", "banque.gift:1: short answers with partial credit (=%50%…) are not supported"),
])
def test_each_gift_error_names_its_line(text, problem):
    assert problem in problems_of(text)


def test_every_broken_question_is_reported_at_once():
    text = "::A:: Bonne {=a ~b}\n\n::B:: Cassée {=a\n\n\n::C:: Cassée aussi {}\n"
    assert problems_of(text) == [
        "banque.gift:3: the answers opened with { are not closed with }",
        "banque.gift:6: essay questions ({}) are not supported",
    ]


@pytest.fixture
def quiz_in_pack(db, pack_builder):
    root = add_quiz(pack_builder).write()
    load_pack(read_pack(root))
    return Quiz.objects.get(slug="bases-quiz")


def test_import_gift_adds_questions_to_the_quizs_pool_and_a_second_import_changes_nothing(quiz_in_pack, pack_builder, tmp_path, capsys, learner):
    source = tmp_path / "banque.gift"
    source.write_text(GIFT, encoding="utf-8")
    call_command("import_gift", str(source), "--quiz", "bases-quiz")
    assert "created 8, updated 0, unchanged 0" in capsys.readouterr().out
    assert Question.objects.filter(quiz=quiz_in_pack, source="gift").count() == 8
    call_command("import_gift", str(source), "--quiz", "bases-quiz")
    assert "created 0, updated 0, unchanged 8" in capsys.readouterr().out
    # Reloading the pack leaves imported questions alone, and attempts draw from both.
    load_pack(read_pack(pack_builder.root))
    assert Question.objects.filter(quiz=quiz_in_pack, is_published=True).count() == 16
    attempt = attempts.start_attempt(user=learner, quiz=quiz_in_pack)
    assert attempt.slots.count() == 16


def test_import_gift_with_errors_writes_nothing_and_names_the_lines(quiz_in_pack, tmp_path):
    source = tmp_path / "cassee.gift"
    source.write_text("::A:: Bonne {=a ~b}\n\n::B:: Cassée {=a\n", encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("import_gift", str(source), "--quiz", "bases-quiz")
    assert f"{source}:3: the answers opened with {{ are not closed with }}" in str(caught.value)
    assert "nothing was imported" in str(caught.value)
    assert not Question.objects.filter(source="gift").exists()


def test_import_gift_needs_an_existing_quiz(db, tmp_path):
    source = tmp_path / "banque.gift"
    source.write_text(GIFT, encoding="utf-8")
    with pytest.raises(CommandError, match="no quiz 'absent'"):
        call_command("import_gift", str(source), "--quiz", "absent")


def test_import_gift_check_writes_nothing(quiz_in_pack, tmp_path, capsys):
    source = tmp_path / "banque.gift"
    source.write_text(GIFT, encoding="utf-8")
    call_command("import_gift", str(source), "--quiz", "bases-quiz", "--check")
    assert "8 questions (1 matching, 1 multiple, 2 numeric, 2 short, 1 single, 1 true_false) are valid" in capsys.readouterr().out
    assert not Question.objects.filter(source="gift").exists()
