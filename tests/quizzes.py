"""A small quiz with one question of every type, for the quiz tests to load into the mini pack.

Feedback and explanations carry markers (RETOUR-…, EXPLICATION-…) so a test can
tell whether they reached a page.
"""

import copy

import yaml

QUIZ = {
    "slug": "bases-quiz",
    "title": "Quiz des bases",
    "summary": "Huit questions sur les bases.",
    "questions": [
        {
            "slug": "image-inerte", "type": "single", "prompt": "Que fait une image tant qu'on ne la lance pas ?",
            "choices": [
                {"text": "Elle s'exécute en arrière-plan", "feedback": "RETOUR-EXECUTE"},
                {"text": "Rien : elle reste inerte", "correct": True, "feedback": "RETOUR-INERTE"},
                {"text": "Elle écrit dans un volume", "feedback": "RETOUR-VOLUME"},
            ],
            "explanation": "EXPLICATION-IMAGE",
        },
        {
            "slug": "partage", "type": "multiple", "prompt": "Que partagent deux conteneurs d'une même image ?",
            "choices": [
                {"text": "Le noyau de l'hôte", "correct": True},
                {"text": "Les couches de l'image", "correct": True},
                {"text": "Un OS invité"},
                {"text": "Leur couche modifiable"},
            ],
            "explanation": "EXPLICATION-PARTAGE",
        },
        {
            "slug": "etat", "type": "true_false", "prompt": "Une base de données est un service sans état.", "answer": False,
            "feedback_true": "RETOUR-VRAI", "feedback_false": "RETOUR-FAUX", "explanation": "EXPLICATION-ETAT",
        },
        {
            "slug": "champ", "type": "short", "prompt": "Quel champ de NetworkSettings donne l'adresse ?",
            "accept": ["IPAddress"], "case_sensitive": True,
            "wrong": [{"answer": "IpAddress", "feedback": "RETOUR-CASSE"}], "explanation": "EXPLICATION-CHAMP",
        },
        {
            "slug": "caracteres", "type": "numeric", "prompt": "Combien de caractères d'un identifiant `docker images` affiche-t-il ?",
            "answer": 12, "explanation": "EXPLICATION-CARACTERES",
        },
        {
            "slug": "colonnes", "type": "matching", "prompt": "Associez chaque colonne à son sens.",
            "pairs": [
                {"left": "TAG", "right": "La version"},
                {"left": "IMAGE ID", "right": "L'empreinte tronquée"},
                {"left": "CREATED", "right": "La date de construction"},
            ],
            "distractors": ["La date du téléchargement"], "explanation": "EXPLICATION-COLONNES",
        },
        {
            "slug": "pile", "type": "ordering", "prompt": "Rangez la pile, du bas vers le haut.",
            "items": ["Machine physique", "OS hôte", "Hyperviseur", "OS invité"], "explanation": "EXPLICATION-PILE",
        },
        {
            "slug": "lister", "type": "command", "prompt": "Listez les images locales avec leur identifiant complet.",
            "accept": ["docker images --no-trunc"],
            "wrong": [{"answer": "docker images", "feedback": "RETOUR-TRONQUE"}], "explanation": "EXPLICATION-LISTER",
        },
    ],
}


def quiz(**changes):
    data = copy.deepcopy(QUIZ)
    data.update(changes)
    return data


def add_quiz(builder, data=None, *, path="quizzes/bases.yaml", chapter=0):
    """Put a quiz file in the pack and list it in a chapter; returns the builder."""
    builder.course["chapters"][chapter].setdefault("quizzes", [])
    if path not in builder.course["chapters"][chapter]["quizzes"]:
        builder.course["chapters"][chapter]["quizzes"].append(path)
    builder.files[path] = yaml.safe_dump(data or QUIZ, allow_unicode=True, sort_keys=False)
    return builder


def right_answers(slots):
    """The raw answers (as `clean` takes them) that get every slot of an attempt full marks."""
    answers = {}
    for slot in slots:
        spec = slot.spec
        if slot.kind == "single":
            answers[slot.pk] = next(c["id"] for c in spec["choices"] if c["correct"])
        elif slot.kind == "multiple":
            answers[slot.pk] = [c["id"] for c in spec["choices"] if c["correct"]]
        elif slot.kind == "true_false":
            answers[slot.pk] = "true" if spec["answer"] else "false"
        elif slot.kind in ("short", "command"):
            answers[slot.pk] = spec["accept"][0]
        elif slot.kind == "numeric":
            answers[slot.pk] = str(spec["answer"])
        elif slot.kind == "matching":
            answers[slot.pk] = {pair["id"]: pair["match"] for pair in spec["pairs"]}
        elif slot.kind == "ordering":
            answers[slot.pk] = {item["id"]: index for index, item in enumerate(spec["items"], start=1)}
    return answers
