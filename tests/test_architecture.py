"""The apps depend one way, read from the source: no cycle, no private name borrowed, no import hidden in a function."""

import ast
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
# What each app may import of the others. Everything above may use what is below it, never the reverse.
ALLOWED = {
    "grader": set(),
    "courses": set(),
    "quizzes": {"courses", "grader"},
    "labs": {"courses", "grader"},
    "classrooms": {"courses", "quizzes", "labs", "grader"},
    "lti": {"courses", "quizzes", "labs", "classrooms"},
    "drydock": {"courses", "quizzes", "labs", "grader", "classrooms", "lti"},
}


def modules():
    for app in ALLOWED:
        for path in sorted((BASE / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield app, path


def imports(tree):
    """(module imported, names taken from it, line, inside a function?) for every import statement."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((alias.name, [], child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, [alias.name for alias in child.names], child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def project_imports():
    for app, path in modules():
        for module, names, line, in_function in imports(ast.parse(path.read_text(), str(path))):
            target = module.split(".")[0]
            if target in ALLOWED:
                yield app, path.relative_to(BASE), module, names, line, in_function


def test_every_app_imports_only_the_apps_below_it():
    wrong = [
        f"{path}:{line}: {app} imports {module}"
        for app, path, module, _, line, _ in project_imports()
        if module.split(".")[0] != app and module.split(".")[0] not in ALLOWED[app]
    ]
    assert wrong == []


def test_the_allowed_layers_have_no_cycle():
    seen, done = set(), set()

    def visit(app, trail):
        assert app not in trail, f"cycle: {' -> '.join(trail + [app])}"
        if app in done:
            return
        for below in ALLOWED[app]:
            visit(below, trail + [app])
        done.add(app)

    for app in ALLOWED:
        visit(app, [])
        seen.add(app)
    assert seen == set(ALLOWED)


def test_no_module_borrows_a_private_name_of_another():
    borrowed = [
        f"{path}:{line}: {name} from {module}"
        for _, path, module, names, line, _ in project_imports()
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert borrowed == []


def test_no_project_import_hides_in_a_function_except_app_ready():
    # AppConfig.ready() is where Django lets an app import the modules that need its models.
    hidden = [
        f"{path}:{line}: {module}"
        for _, path, module, _, line, in_function in project_imports()
        if in_function and path.name != "apps.py"
    ]
    assert hidden == []


def test_the_grader_library_knows_nothing_of_models_or_the_database():
    uses = [
        f"{path}:{line}: {module}"
        for app, path, module, _, line, _ in project_imports()
        if app == "grader" and module.split(".")[0] != "grader"
    ]
    django_db = [
        f"{path.relative_to(BASE)}:{line}: {module}"
        for app, path in modules() if app == "grader"
        for module, _, line, _ in imports(ast.parse(path.read_text()))
        if module.startswith(("django.db", "django.contrib"))
    ]
    assert uses == [] and django_db == []
