"""Lab checks: pure functions `(snapshot, params, answer) -> Verdict`, registered by name.

A lab's YAML names a check and gives its params; `CHECKS` is the one table.
A check judges the daemon's state, never the command that was typed, and a
failure says what was expected and what the daemon holds, in French (the
shipped course's language).
"""

import datetime
import ipaddress
import posixpath
import re
from dataclasses import dataclass

from grader.snapshot import BUILDKIT_STEP, http_probe_url, normalize_reference, repository_of, short_id


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str
    expected: str = ""
    found: str = ""


@dataclass(frozen=True)
class CheckSpec:
    function: object
    required: tuple
    optional: tuple = ()
    needs_answer: bool = False
    # Files of nested volumes the check reads: params -> [(volume, path)]; the snapshot fetches them.
    files: object = None
    # HTTP probes of the sandbox's published ports the check reads: params -> [(port, path)]; the snapshot fetches them.
    http: object = None


def ok(message):
    return Verdict(True, message)


def fail(message, *, expected="", found=""):
    return Verdict(False, message, expected, found)


def _list(values):
    return ", ".join(values) if values else "aucun"


def clean_answer(answer):
    """Trim what people paste around an answer: spaces, quotes, backticks, a trailing newline."""
    return (answer or "").strip().strip("`'\"").strip()


# --- Images -----------------------------------------------------------------------


def image_present(snapshot, params, answer=None):
    """The image is on the daemon under that name, pulled from a registry (`docker tag` of another image is not a pull)."""
    ref = normalize_reference(params["image"])
    image = snapshot.image(ref)
    if image and any(repository_of(digest) == repository_of(ref) for digest in image.digests):
        return ok(f"L'image {ref} est bien présente.")
    if image:
        return fail(
            f"{ref} est là, mais ce n'est pas l'image du registre : aucun digest {repository_of(ref)}@sha256:… "
            f"(une autre image étiquetée {ref} ?). Tirez-la : docker pull {ref}.",
            expected=f"{ref} tirée du registre", found=f"{ref} ({short_id(image.id)}, sans digest {repository_of(ref)})",
        )
    same_repo = snapshot.tags_of_repository(ref)
    return fail(
        f"L'image {ref} n'est pas sur le démon. Attendu : {ref} ; présent : {_list(same_repo)}.",
        expected=ref, found=_list(same_repo),
    )


def image_absent(snapshot, params, answer=None):
    """The image is gone under its name, and under each name of `also` (an image leaves the disk with its last name)."""
    refs = [normalize_reference(r) for r in [params["image"], *(params.get("also") or ())]]
    left = [r for r in refs if snapshot.image(r) is not None]
    if not left:
        return ok(f"L'image {_list(refs)} a bien été supprimée.")
    ids = {snapshot.image(r).id for r in left}
    found = ", ".join(f"{r} ({short_id(snapshot.image(r).id)})" for r in left)
    return fail(
        f"L'image {_list(left)} est encore présente : supprimez-la (docker rmi {' '.join(left)})."
        + (" Une image reste sur le disque tant qu'elle garde un nom." if len(ids) < len(left) or len(refs) > 1 else ""),
        expected=f"{_list(refs)} absente(s)", found=found,
    )


def same_image(snapshot, params, answer=None):
    refs = [normalize_reference(r) for r in params["images"]]
    missing = [r for r in refs if snapshot.image(r) is None]
    if missing:
        return fail(f"Il manque {_list(missing)} : tirez d'abord ces images.", expected=_list(refs), found=_list(snapshot.all_tags()))
    ids = {r: snapshot.image(r).id for r in refs}
    if len(set(ids.values())) == 1:
        return ok(f"{_list(refs)} désignent bien la même image ({short_id(ids[refs[0]])}).")
    found = ", ".join(f"{r} = {short_id(i)}" for r, i in ids.items())
    return fail(f"Ces tags désignent des images différentes : {found}.", expected="un seul IMAGE ID", found=found)


def normalize_image_id(text):
    return clean_answer(text).lower().removeprefix("sha256:")


def answer_image_id(snapshot, params, answer):
    ref = normalize_reference(params["image"])
    image = snapshot.image(ref)
    if image is None:
        return fail(f"L'image {ref} n'est pas sur le démon : tirez-la avant de lire son identifiant.", expected=ref)
    given = normalize_image_id(answer)
    full = image.id.removeprefix("sha256:")
    wants_full = params.get("full", False)
    if not given:
        return fail("Donnez l'identifiant (IMAGE ID) de l'image.", expected="un IMAGE ID")
    if not re.fullmatch(r"[0-9a-f]+", given):
        return fail(f"« {clean_answer(answer)} » n'est pas un identifiant : un IMAGE ID ne contient que des chiffres hexadécimaux.")
    if given == full:
        return ok(f"C'est bien l'identifiant complet de {ref}.")
    if full.startswith(given) and len(given) >= 12:
        if wants_full:
            return fail(
                "C'est le début du bon identifiant, mais la question demande l'identifiant complet (64 caractères) : "
                "utilisez docker images --no-trunc.", expected="64 caractères", found=f"{len(given)} caractères",
            )
        return ok(f"C'est bien l'identifiant de {ref} ({short_id(image.id)}).")
    if full.startswith(given):
        return fail("Identifiant trop court : donnez au moins les 12 premiers caractères.", expected="12 caractères ou plus", found=f"{len(given)} caractères")
    owner = next((i for i in snapshot.images if i.id.removeprefix("sha256:").startswith(given)), None)
    if owner is not None:
        return fail(f"Cet identifiant est celui de {_list(list(owner.references)) or 'une autre image'}, pas de {ref}.", expected=ref)
    return fail(f"Ce n'est pas l'identifiant de {ref}.", expected=ref)


def megabytes(size):
    """Bytes as `docker images` shows them (1 MB = 1000² bytes), in French: `4,1 Mo`."""
    return f"{size / 1000**2:.1f} Mo".replace(".", ",")


def _history_key(step):
    return (step.created, step.created_by)


def _is_base_of(base, image):
    """Whether `image` was built FROM `base`: it starts with base's layers and its history."""
    return (
        base.id != image.id and len(base.layers) <= len(image.layers) and tuple(image.layers[:len(base.layers)]) == tuple(base.layers)
        and len(base.history) <= len(image.history)
        and [_history_key(h) for h in image.history[:len(base.history)]] == [_history_key(h) for h in base.history]
    )


def _own_steps(snapshot, image, base=None):
    """The steps of the image's history its own Dockerfile made, its base image's left out.

    The base is the image a task names, else the image of the snapshot it starts with (the longest);
    with neither in the snapshot, the last steps BuildKit made.
    """
    if base is None:
        bases = [other for other in snapshot.images if _is_base_of(other, image)]
        base = max(bases, key=lambda b: len(b.history), default=None)
    if base is not None:
        return tuple(image.history[len(base.history):])
    own = []
    for step in reversed(image.history):
        if step.comment != BUILDKIT_STEP:
            break
        own.insert(0, step)
    return tuple(own)


def _built(snapshot, ref, base_ref=None):
    """(image, its own steps, None) for an image BuildKit built from a Dockerfile (FROM base_ref if given), else (…, failure)."""
    image = snapshot.image(ref)
    if image is None:
        return None, (), fail(f"Aucune image {ref} : construisez-la avec docker build -t {ref} .", expected=ref, found=_list(snapshot.all_tags()))
    base = snapshot.image(base_ref) if base_ref else None
    if base is not None and not _is_base_of(base, image):
        if base.id == image.id:
            return image, (), fail(
                f"{ref} est la même image que {normalize_reference(base_ref)} (une simple étiquette, docker tag) : construisez-la avec docker build.",
                expected=f"une construction FROM {normalize_reference(base_ref)}", found=f"{ref} = {normalize_reference(base_ref)} ({short_id(image.id)})",
            )
        parents = [other for other in snapshot.images if _is_base_of(other, image)]
        found = _list(sorted({r for p in parents for r in p.references})) if parents else "aucune image de base présente"
        return image, (), fail(
            f"{ref} n'est pas construite sur {normalize_reference(base_ref)} : ses couches ne commencent pas par les siennes "
            f"(image de base trouvée : {found}). Vérifiez la ligne FROM du Dockerfile.",
            expected=f"FROM {normalize_reference(base_ref)}", found=found,
        )
    own = _own_steps(snapshot, image, base)
    foreign = [step for step in own if step.comment != BUILDKIT_STEP]
    if foreign or not own:
        if not own and image.digests:
            return image, own, fail(
                f"{ref} vient d'un registre (elle a un digest) : elle doit être construite dans le bac à sable.",
                expected="construite ici", found=f"{ref} ({short_id(image.id)}, tirée d'un registre)",
            )
        step = foreign[-1].created_by if foreign else ""
        found = f"l'étape « {step[:80]} »" if step else "aucune étape au-delà de son image de base"
        return image, own, fail(
            f"{ref} n'a pas été construite par docker build depuis un Dockerfile : son historique montre {found} "
            "(un docker commit, ou l'ancien constructeur ?). Construisez-la avec docker build -t " + ref + " .",
            expected="des étapes d'un Dockerfile (BuildKit)", found=found,
        )
    return image, own, None


def _shown(command):
    return "[" + ", ".join(f'"{part}"' for part in command) + "]" if command else "rien"


def _same_command(found, wanted, workdir):
    """Whether the image's exec-form command is the one a task asks for (a path may be relative to WORKDIR)."""
    wanted = [str(part) for part in wanted]
    if len(found) != len(wanted):
        return False
    return all(f == w or (not w.startswith("/") and f == posixpath.join(workdir or "/", w)) for f, w in zip(found, wanted))


ROOT_USERS = ("", "root", "0")


def _config_problem(image, ref, params, own):
    """The first way the image's configuration or its own layers differ from what the task asks, as a failure."""
    for key, instruction in (("entrypoint", "ENTRYPOINT"), ("cmd", "CMD")):
        if key not in params:
            continue
        found, wanted = getattr(image, key), params[key]
        if _same_command(found, wanted, image.working_dir):
            continue
        if found[:2] in (("/bin/sh", "-c"), ("sh", "-c")):
            return fail(
                f"Le {instruction} de {ref} est en forme shell ({_shown(found)}) : écrivez-le en forme exec, "
                f"{instruction} {_shown(wanted)}, pour que {'CMD lui passe ses arguments' if key == 'entrypoint' else 'le programme soit le processus principal'}.",
                expected=f"{instruction} {_shown(wanted)}", found=f"{instruction} {_shown(found)}",
            )
        return fail(
            f"Le {instruction} de {ref} est {_shown(found)}, attendu : {_shown(wanted)}.",
            expected=f"{instruction} {_shown(wanted)}", found=f"{instruction} {_shown(found)}",
        )
    if params.get("non_root") and image.user.split(":")[0] in ROOT_USERS:
        shown = image.user or "aucun USER (root par défaut)"
        return fail(
            f"{ref} s'exécute en root ({shown}) : ajoutez une instruction USER avec un utilisateur non privilégié.",
            expected="un USER autre que root", found=shown,
        )
    if "max_added_mb" in params:
        added = sum(step.size for step in own)
        if added > float(params["max_added_mb"]) * 1000**2:
            biggest = max(own, key=lambda step: step.size)
            return fail(
                f"Les couches ajoutées par le Dockerfile de {ref} pèsent {megabytes(added)} (attendu : au plus {params['max_added_mb']} Mo), "
                f"dont {megabytes(biggest.size)} pour « {biggest.instruction[:60]} » : le contexte envoyé contenait-il node_modules ? Excluez-le avec .dockerignore.",
                expected=f"au plus {params['max_added_mb']} Mo ajoutés", found=megabytes(added),
            )
    return None


def image_built(snapshot, params, answer=None):
    """The image was built by BuildKit from a Dockerfile (FROM `base` if given), with the configuration the task asks for."""
    ref = normalize_reference(params["image"])
    image, own, failure = _built(snapshot, ref, params.get("base"))
    if failure:
        return failure
    failure = _config_problem(image, ref, params, own)
    if failure:
        return failure
    steps = sum(1 for step in own if not step.empty_layer)
    return ok(f"L'image {ref} a bien été construite depuis un Dockerfile ({steps} couche(s) ajoutée(s), {megabytes(image.size)}).")


def multi_stage_smaller(snapshot, params, answer=None):
    """A multi-stage build: the image copies from an earlier stage (COPY --from) and is smaller than the single-stage one."""
    ref, than = normalize_reference(params["image"]), normalize_reference(params["than"])
    image, own, failure = _built(snapshot, ref, params.get("base"))
    if failure:
        return failure
    # The history writes `COPY --from=build /a /b` as `COPY /a /b`; the step's build cache record keeps the whole instruction.
    if not any("--from=" in step.instruction or _copied_from_a_stage(snapshot, step) for step in own):
        shown = _list([step.instruction[:50] for step in own if not step.empty_layer])
        return fail(
            f"{ref} n'a pas d'étape COPY --from=… : ce n'est pas une construction multi-étapes (étapes trouvées : {shown}).",
            expected="COPY --from=<étape>", found=shown,
        )
    single = snapshot.image(than)
    if single is None:
        return fail(f"Aucune image {than} à comparer : construisez d'abord la version en une seule étape.", expected=than, found=_list(snapshot.all_tags()))
    if image.size >= single.size:
        return fail(
            f"{ref} pèse {megabytes(image.size)}, pas moins que {than} ({megabytes(single.size)}) : l'étape finale doit partir d'une image légère.",
            expected=f"moins de {megabytes(single.size)}", found=megabytes(image.size),
        )
    return ok(f"{ref} pèse {megabytes(image.size)} contre {megabytes(single.size)} pour {than} : l'étape finale ne garde que le résultat.")


def _copied_from_a_stage(snapshot, step):
    return _step_keyword(step.created_by) == "COPY" and any(
        record.created == step.created and "--from=" in record.description and _step_keyword(record.description) == "COPY"
        for record in snapshot.build_cache
    )


def _step_keyword(text):
    """The instruction of a history step or of a build cache record: `[3/5] COPY a b` and `COPY a b # buildkit` are COPY."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", text.strip())
    if text.startswith("mount / from exec "):
        return "RUN"
    return text.split(" ", 1)[0].upper()


def _from_cache(snapshot, step):
    """Whether a later build took this step from BuildKit's cache: its record (same instruction, made the second the step was) was used again."""
    return any(
        record.created == step.created and record.usage_count >= 2 and _step_keyword(record.description) == _step_keyword(step.created_by)
        for record in snapshot.build_cache
    )


def _clock(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%H:%M:%S") if seconds else "?"


def build_cache_reused(snapshot, params, answer=None):
    """A rebuild of the image took the steps before `changed_step` from the cache and redid that step and the ones after.

    BuildKit keeps a cached step's first build time in the image's history, and its cache record counts
    the builds that loaded it: both stay after `docker image prune`. WORKDIR is not judged: BuildKit
    reuses it even under --no-cache (measured on Docker 26).
    """
    ref = normalize_reference(params["image"])
    changed = params["changed_step"]
    image, own, failure = _built(snapshot, ref, params.get("base"))
    if failure:
        return failure
    layers = [step for step in own if not step.empty_layer]
    index = next((i for i, step in enumerate(layers) if step.instruction.upper().startswith(changed.upper())), None)
    if index is None:
        shown = _list([step.instruction[:50] for step in layers])
        return fail(f"Le Dockerfile de {ref} n'a pas d'étape « {changed} » (étapes : {shown}).", expected=changed, found=shown)
    before = [step for step in layers[:index] if _step_keyword(step.created_by) != "WORKDIR"]
    after = layers[index:]
    # BuildKit loads only the last cached step of a chain (its record alone counts the new use): the ones
    # before it are its ancestors, cached with it.
    if not before or not _from_cache(snapshot, before[-1]):
        shown = ", ".join(f"{step.instruction[:40]} ({_clock(step.created)})" for step in before) or "aucune"
        return fail(
            f"Les étapes avant « {changed} » n'ont pas été reprises du cache ({shown}) : {ref} a été construite d'un seul coup "
            f"(une seule construction, ou --no-cache). Modifiez le fichier que copie « {changed} », puis reconstruisez avec docker build, sans --no-cache.",
            expected=f"les étapes avant « {changed} » en cache (CACHED)", found=f"refaites : {shown}",
        )
    newest_cached = max(step.created for step in before)
    stale = [step for step in after if step.created <= newest_cached]
    if stale:
        shown = ", ".join(f"{step.instruction[:40]} ({_clock(step.created)})" for step in stale)
        return fail(
            f"« {changed} » et les étapes suivantes viennent elles aussi du cache ({shown}) : modifiez le fichier qu'elle copie, puis reconstruisez {ref}.",
            expected=f"« {changed} » et la suite refaites", found=f"en cache : {shown}",
        )
    following = f" et les {len(after) - 1} étape(s) suivante(s)" if len(after) > 1 else ""
    return ok(
        f"La reconstruction de {ref} a repris {len(before)} étape(s) du cache (jusqu'à « {before[-1].instruction[:40]} ») "
        f"et refait « {changed} »{following}."
    )


# --- Containers ---------------------------------------------------------------------


def _find_container(snapshot, params):
    container = snapshot.container(params["name"])
    if container is None:
        names = [c.name for c in snapshot.containers]
        return None, fail(f"Aucun conteneur nommé {params['name']}. Conteneurs présents : {_list(names)}.", expected=params["name"], found=_list(names))
    if "image" in params and not made_from(snapshot, container, params["image"]):
        return None, fail(
            f"Le conteneur {container.name} a été créé depuis {container.image}, pas depuis {params['image']}.",
            expected=params["image"], found=container.image,
        )
    return container, None


def _has_tag(ref):
    return "@" in ref or ":" in ref.rsplit("/", 1)[-1]


def made_from(snapshot, container, image_param):
    """Whether the container was made from the image a task names.

    With a tag (`busybox:1.35`): from that tag, or from the image it names now (same ID). Without one
    (`busybox`): from any tag of that repository, as a learner who ran `busybox:1.35` did.
    """
    used = normalize_reference(container.image)
    if not _has_tag(image_param):
        repository = repository_of(image_param)
        if repository_of(used) == repository:
            return True
        return any(repository_of(tag) == repository for image in snapshot.images if image.id == container.image_id for tag in image.tags)
    wanted = normalize_reference(image_param)
    image = snapshot.image(wanted)
    return used == wanted or (image is not None and image.id == container.image_id)


def container_ran(snapshot, params, answer=None):
    """A container made from the image ran (was started at least once), whatever its name."""
    made = [c for c in snapshot.containers if made_from(snapshot, c, params["image"])]
    ran = [c for c in made if c.ran]
    if ran:
        return ok(f"Un conteneur a bien été lancé depuis {params['image']} ({ran[0].name}).")
    if made:
        return fail(
            f"Le conteneur {made[0].name} a été créé depuis {params['image']} mais jamais démarré : lancez-le (docker run, ou docker start).",
            expected="un conteneur lancé", found=f"{made[0].name} (créé, jamais démarré)",
        )
    present = snapshot.image(normalize_reference(params["image"])) is not None
    return fail(
        f"Aucun conteneur n'a été lancé depuis {params['image']}"
        + (" : l'image est là, mais il faut la lancer (docker run)." if present else "."),
        expected=f"un conteneur de {params['image']}", found=_list([c.name for c in snapshot.containers]),
    )


def container_running(snapshot, params, answer=None):
    container, failure = _find_container(snapshot, params)
    if failure:
        return failure
    if container.status == "running":
        return ok(f"Le conteneur {container.name} tourne.")
    return fail(f"Le conteneur {container.name} existe mais ne tourne pas (état : {container.status}).", expected="running", found=container.status)


def container_exited(snapshot, params, answer=None):
    container, failure = _find_container(snapshot, params)
    if failure:
        return failure
    code = int(params.get("exit_code", 0))
    if container.status != "exited":
        return fail(f"Le conteneur {container.name} n'est pas terminé (état : {container.status}).", expected="exited", found=container.status)
    if container.exit_code != code:
        return fail(f"Le conteneur {container.name} s'est terminé avec le code {container.exit_code}, attendu : {code}.", expected=str(code), found=str(container.exit_code))
    return ok(f"Le conteneur {container.name} s'est terminé avec le code {code}.")


def container_absent(snapshot, params, answer=None):
    container = snapshot.container(params["name"])
    if container is None:
        return ok(f"Le conteneur {params['name']} a bien été supprimé.")
    if container.status == "running":
        advice = f"il tourne : arrêtez-le d'abord (docker stop {container.name}) ou forcez (docker rm -f {container.name})"
    else:
        advice = f"arrêté n'est pas supprimé : docker rm {container.name}"
    return fail(f"Le conteneur {container.name} existe encore (état : {container.status}) ; {advice}.", expected="aucun conteneur", found=f"{container.name} ({container.status})")


def container_restarted(snapshot, params, answer=None):
    """The container was stopped once, then started again, and runs."""
    container, failure = _find_container(snapshot, params)
    if failure:
        return failure
    if container.status != "running":
        hint = f"relancez-le : docker start {container.name}" if container.finished_at else f"démarrez-le : docker start {container.name}"
        return fail(f"Le conteneur {container.name} ne tourne pas (état : {container.status}) : {hint}.", expected="running", found=container.status)
    if not container.finished_at:
        return fail(f"Le conteneur {container.name} tourne, mais n'a jamais été arrêté : docker stop {container.name}, puis docker start {container.name}.",
                    expected="arrêté puis relancé", found="jamais arrêté")
    if not container.started_again:
        return fail(f"Le conteneur {container.name} n'a pas été relancé depuis son arrêt : docker start {container.name}.", expected="relancé", found="arrêté")
    return ok(f"Le conteneur {container.name} a été arrêté puis relancé ; il tourne (depuis {container.started_at[:19].replace('T', ' ')}).")


def restart_policy(snapshot, params, answer=None):
    """The container has one of the restart policies asked for, and the daemon restarted it at least `min_restarts` times."""
    container, failure = _find_container(snapshot, params)
    if failure:
        return failure
    wanted = [params["policy"]] if isinstance(params["policy"], str) else list(params["policy"])
    if container.restart_policy not in wanted:
        return fail(
            f"Le conteneur {container.name} a la politique de redémarrage {container.restart_policy}, attendu : {' ou '.join(wanted)} "
            f"(docker run --restart …, ou docker update --restart … {container.name}).",
            expected=" ou ".join(wanted), found=container.restart_policy,
        )
    minimum = int(params.get("min_restarts", 0))
    if container.restart_count < minimum:
        return fail(
            f"Docker n'a redémarré {container.name} que {container.restart_count} fois (attendu : au moins {minimum}) : "
            "sa commande doit se terminer en échec pour que la politique le relance ; attendez quelques secondes.",
            expected=f"au moins {minimum}", found=str(container.restart_count),
        )
    restarts = f" ; Docker l'a déjà relancé {container.restart_count} fois" if minimum else ""
    return ok(f"Le conteneur {container.name} a la politique {container.restart_policy}{restarts}.")


DEFAULT_NETWORKS = {"bridge", "host", "none"}


def _names(command, target):
    word = re.compile(rf"(?<![A-Za-z0-9_.-]){re.escape(target)}(?![A-Za-z0-9_-])")
    return any(word.search(arg) for arg in command)


def container_reached(snapshot, params, answer=None):
    """A container that ended with exit code 0 reached `target` by its name, on a user-defined network they share."""
    client, failure = _find_container(snapshot, {"name": params["name"], **({"image": params["image"]} if "image" in params else {})})
    if failure:
        return fail(failure.message + " (Lancé avec --rm ? Il a été supprimé en se terminant : relancez-le sans --rm.)", expected=failure.expected, found=failure.found)
    target = snapshot.container(params["target"])
    if target is None:
        return fail(f"Aucun conteneur nommé {params['target']} à joindre.", expected=params["target"], found=_list([c.name for c in snapshot.containers]))
    network = params.get("network")
    shared = (set(client.networks) & set(target.networks)) - DEFAULT_NETWORKS
    if network:
        shared &= {network}
    where = network or "un réseau défini par l'utilisateur"
    if not client.ran:
        return fail(f"{client.name} a été créé mais jamais démarré : docker start -a {client.name}.", expected="un conteneur lancé", found=f"{client.name} (créé)")
    if client.status != "exited":
        return fail(f"{client.name} n'est pas terminé (état : {client.status}) : sa commande doit joindre {target.name} puis se terminer.",
                    expected="exited (0)", found=client.status)
    if not shared:
        return fail(
            f"{client.name} et {target.name} ne sont pas tous deux sur {where} (réseaux de {client.name} : {_list(sorted(client.networks))} ; "
            f"de {target.name} : {_list(sorted(target.networks))}). Sur le pont par défaut, les noms des conteneurs ne sont pas résolus.",
            expected=f"{client.name} et {target.name} sur {where}", found=f"{client.name} : {_list(sorted(client.networks))}",
        )
    if client.exit_code != 0:
        return fail(f"{client.name} s'est terminé avec le code {client.exit_code} : il n'a pas joint {target.name} (tourne-t-il ? docker logs {client.name}).",
                    expected="code 0", found=str(client.exit_code))
    if not _names(client.command, target.name):
        shown = " ".join(client.command)
        return fail(f"{client.name} a réussi, mais sa commande ({shown}) ne nomme pas {target.name} : joignez-le par son nom, pas par son adresse.",
                    expected=f"le nom {target.name}", found=shown[:80])
    return ok(f"{client.name} a joint {target.name} par son nom sur {_list(sorted(shared))}, et s'est terminé avec le code 0.")


def answer_container_ip(snapshot, params, answer):
    container, failure = _find_container(snapshot, params)
    if failure:
        return failure
    given = clean_answer(answer)
    try:
        address = str(ipaddress.ip_address(given))
    except ValueError:
        return fail(f"« {given} » n'est pas une adresse IP (attendu : quatre nombres séparés par des points).", expected="une adresse IPv4")
    addresses = {ip for ip in [container.ip_address, *container.networks.values()] if ip}
    if not addresses:
        return fail(f"Le conteneur {container.name} n'a pas d'adresse IP : est-il démarré ?", expected="un conteneur démarré")
    if address in addresses:
        return ok(f"C'est bien l'adresse IP de {container.name}.")
    owner = next((c.name for c in snapshot.containers if address in {c.ip_address, *c.networks.values()}), None)
    hint = f" C'est celle de {owner}." if owner else ""
    return fail(f"{address} n'est pas l'adresse de {container.name}.{hint}", expected=f"l'adresse de {container.name}")


def port_published(snapshot, params, answer=None):
    container, failure = _find_container(snapshot, params)
    if failure:
        return failure
    port, host = int(params["container_port"]), params.get("host_port")
    published = [p for p in container.ports if p.container_port == port and p.host_port]
    if not published:
        shown = _list([f"{p.host_port}->{p.container_port}" for p in container.ports if p.host_port])
        return fail(f"Le port {port} de {container.name} n'est pas publié (publiés : {shown}). Utilisez -p.", expected=f"-p …:{port}", found=shown)
    if host is not None and all(p.host_port != int(host) for p in published):
        found = _list([str(p.host_port) for p in published])
        return fail(f"Le port {port} est publié sur {found}, attendu sur {host}.", expected=str(host), found=found)
    return ok(f"Le port {port} de {container.name} est publié.")


def _probe(params):
    return int(params["host_port"]) if not isinstance(params["host_port"], bool) else params["host_port"], params.get("path", "/")


def port_answers(snapshot, params, answer=None):
    """The container port is published on host_port, and a GET there, inside the sandbox, gets a real answer."""
    published = port_published(snapshot, params)
    if not published.passed:
        return published
    container = snapshot.container(params["name"])
    port, path = _probe(params)
    if container.status != "running":
        return fail(f"Le port de {container.name} est publié, mais le conteneur ne tourne pas (état : {container.status}) : docker start {container.name}.",
                    expected="running", found=container.status)
    got = snapshot.http.get((port, path))
    url = f"http://localhost:{port}{path}"
    if got is None:
        return fail(
            f"Le port {port} est publié, mais rien n'y répond en HTTP ({url}) : le serveur du conteneur écoute-t-il bien sur le port "
            f"{params['container_port']} ? Essayez curl {url} dans le terminal.",
            expected=f"une réponse HTTP sur {url}", found="aucune réponse",
        )
    status = int(params.get("status", 200))
    if got.status != status:
        return fail(f"{url} répond {got.status}, attendu : {status}.", expected=str(status), found=str(got.status))
    text = params.get("text")
    if text and text not in got.body:
        return fail(f"{url} répond, mais sa page ne contient pas « {text} ».", expected=text, found=" ".join(got.body.split())[:80] or "une page vide")
    return ok(f"{url} répond {got.status} : le port {params['container_port']} de {container.name} est publié sur {port}.")


# --- Volumes and networks ------------------------------------------------------------------


def volume_exists(snapshot, params, answer=None):
    if snapshot.volume(params["name"]):
        return ok(f"Le volume {params['name']} existe.")
    names = [v.name for v in snapshot.volumes]
    return fail(f"Aucun volume nommé {params['name']}. Volumes présents : {_list(names)}.", expected=params["name"], found=_list(names))


def container_mounts(snapshot, params, answer=None):
    container, failure = _find_container(snapshot, params)
    if failure:
        return failure
    destination = params["destination"]
    mount = next((m for m in container.mounts if m.destination.rstrip("/") == destination.rstrip("/")), None)
    if mount is None:
        shown = _list([m.destination for m in container.mounts])
        return fail(f"Le conteneur {container.name} n'a pas de montage sur {destination} (montages : {shown}).", expected=destination, found=shown)
    kind = params.get("type")
    if kind and mount.type != kind:
        return fail(f"{destination} est un montage de type {mount.type}, attendu : {kind}.", expected=kind, found=mount.type)
    if "volume" in params and mount.source != params["volume"]:
        return fail(f"{destination} monte {mount.source}, attendu : le volume {params['volume']}.", expected=params["volume"], found=mount.source)
    if "read_only" in params and mount.read_write == bool(params["read_only"]):
        expected = "lecture seule" if params["read_only"] else "lecture-écriture"
        found = "lecture-écriture" if mount.read_write else "lecture seule"
        return fail(f"{destination} est monté en {found}, attendu : {expected}.", expected=expected, found=found)
    # A task that says start or run: a container only created (docker create) has not done it.
    if params.get("started") and not container.ran:
        return fail(
            f"{container.name} monte bien {mount.source} sur {destination}, mais n'a jamais été démarré : lancez-le (docker start {container.name}).",
            expected="un conteneur démarré", found=f"{container.name} (créé, jamais démarré)",
        )
    return ok(f"{container.name} monte bien {mount.source} sur {destination}.")


def volume_file_contains(snapshot, params, answer=None):
    volume, path, text = params["volume"], params["path"], params["text"]
    if snapshot.volume(volume) is None:
        return fail(f"Aucun volume nommé {volume}.", expected=volume)
    content = snapshot.files.get((volume, path))
    if content is None:
        return fail(f"Le fichier {path} n'existe pas dans le volume {volume}.", expected=path)
    if text not in content:
        return fail(f"Le fichier {path} du volume {volume} ne contient pas « {text} ».", expected=text, found=content[:80])
    return ok(f"Le fichier {path} du volume {volume} contient bien « {text} ».")


def network_exists(snapshot, params, answer=None):
    if snapshot.network(params["name"]):
        return ok(f"Le réseau {params['name']} existe.")
    names = sorted(n.name for n in snapshot.networks)
    return fail(f"Aucun réseau nommé {params['name']}. Réseaux présents : {_list(names)}.", expected=params["name"], found=_list(names))


def container_connected(snapshot, params, answer=None):
    container, failure = _find_container(snapshot, params)
    if failure:
        return failure
    network = params["network"]
    if network in container.networks:
        return ok(f"{container.name} est connecté au réseau {network}.")
    shown = _list(sorted(container.networks))
    return fail(f"{container.name} n'est pas connecté à {network} (réseaux : {shown}).", expected=network, found=shown)


PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
DEPENDS_ON_LABEL = "com.docker.compose.depends_on"


def _compose_containers(snapshot, project):
    return [c for c in snapshot.containers if c.labels.get(PROJECT_LABEL) == project]


def _services_found(containers):
    """`web (running), cache (exited)`: each service of these containers with its state."""
    states = {}
    for c in containers:
        states.setdefault(c.labels.get(SERVICE_LABEL, c.name), set()).add(c.status)
    return _list([f"{service} ({', '.join(sorted(found))})" for service, found in sorted(states.items())])


def compose_running(snapshot, params, answer=None):
    project, services = params["project"], list(params["services"])
    mine = _compose_containers(snapshot, project)
    running = {c.labels.get(SERVICE_LABEL) for c in mine if c.status == "running"}
    missing = [s for s in services if s not in running]
    if not missing:
        return ok(f"Le projet Compose {project} tourne avec {_list(services)}.")
    expected = f"{project} : {_list(services)} en marche"
    if mine:
        stopped = [s for s in missing if any(c.labels.get(SERVICE_LABEL) == s for c in mine)]
        absent = [s for s in missing if s not in stopped]
        parts = []
        if stopped:
            parts.append(f"les conteneurs de {_list(stopped)} existent mais sont arrêtés (docker compose ps -a, puis docker compose logs pour savoir pourquoi)")
        if absent:
            parts.append(f"aucun conteneur pour {_list(absent)} (le service est-il dans compose.yaml ?)")
        return fail(f"Le projet Compose {project} n'a pas tous ses services en marche : {' ; '.join(parts)}.",
                    expected=expected, found=f"{project} : {_services_found(mine)}")
    others = {}
    for c in snapshot.containers:
        other = c.labels.get(PROJECT_LABEL)
        if other and c.labels.get(SERVICE_LABEL) in services:
            others.setdefault(other, []).append(c)
    if others:
        other, containers = sorted(others.items())[0]
        return fail(
            f"Aucun projet Compose {project} ; le projet `{other}` fait tourner ces services : {_services_found(containers)}. "
            f"Compose nomme le projet d'après le dossier : lancez docker compose depuis le dossier {project}, ou avec -p {project}.",
            expected=expected, found=f"{other} : {_services_found(containers)}",
        )
    return fail(
        f"Aucun conteneur du projet Compose {project} : démarrez-le depuis son dossier avec docker compose up -d.",
        expected=expected, found=_list(sorted({c.labels[PROJECT_LABEL] for c in snapshot.containers if PROJECT_LABEL in c.labels})),
    )


# --- Registries and clean-up (image side) ---------------------------------------------------


def image_pushed(snapshot, params, answer=None):
    """The image, named for a registry (`localhost:5000/…`), was pushed there: the daemon holds its digest in that repository."""
    ref = normalize_reference(params["image"])
    repository = repository_of(ref)
    image = snapshot.image(ref)
    if image is None:
        source = params.get("source")
        how = f"docker tag {source} {ref}, puis docker push {ref}" if source else f"docker tag <image> {ref}, puis docker push {ref}"
        return fail(
            f"Aucune image {ref} sur le démon : étiquetez-la d'abord ({how}). Images présentes : {_list(snapshot.all_tags())}.",
            expected=ref, found=_list(snapshot.all_tags()),
        )
    if any(repository_of(digest) == repository for digest in image.digests):
        return ok(f"{ref} est bien dans le registre (le démon connaît son digest {repository}@sha256:…).")
    return fail(
        f"{ref} est étiquetée mais n'a pas été poussée : aucun digest {repository}@sha256:… sur le démon. Poussez-la : docker push {ref}.",
        expected=f"{ref} poussée", found=f"{ref} ({short_id(image.id)}, jamais poussée)",
    )


STOPPED = ("exited", "created", "dead")


def stopped_containers_removed(snapshot, params, answer=None):
    """No stopped container is left but those the task keeps, and every kept container is still there."""
    keep = list(params.get("keep") or ())
    gone = [name for name in keep if snapshot.container(name) is None]
    if gone:
        return fail(
            f"Le conteneur {_list(gone)} a été supprimé alors qu'il fallait le garder : docker container prune supprime tous les conteneurs arrêtés, "
            "filtrez-le (--filter) ou supprimez les autres un par un (docker rm).",
            expected=f"{_list(keep)} gardé(s)", found=_list([c.name for c in snapshot.containers]),
        )
    stopped = [c for c in snapshot.containers if c.status in STOPPED and c.name not in keep]
    if stopped:
        shown = _list([f"{c.name} ({c.status})" for c in stopped])
        return fail(f"Il reste des conteneurs arrêtés : {shown}.", expected="aucun conteneur arrêté (sauf " + _list(keep) + ")", found=shown)
    return ok(f"Plus aucun conteneur arrêté, et {_list(keep)} est toujours là." if keep else "Plus aucun conteneur arrêté.")


def dangling_images_removed(snapshot, params, answer=None):
    """No dangling image (`<none>:<none>`) is left, and every image the task keeps is still there."""
    keep = [normalize_reference(ref) for ref in params.get("keep") or ()]
    gone = [ref for ref in keep if snapshot.image(ref) is None]
    if gone:
        return fail(
            f"L'image {_list(gone)} a été supprimée alors qu'il fallait la garder : docker image prune -a supprime aussi les images "
            "qu'aucun conteneur n'utilise ; docker image prune seul ne supprime que les images pendantes.",
            expected=f"{_list(keep)} gardée(s)", found=_list(snapshot.all_tags()),
        )
    dangling = [image for image in snapshot.images if not image.tags]
    if dangling:
        shown = _list([f"<none> {short_id(image.id)}" for image in dangling])
        return fail(f"Il reste {len(dangling)} image(s) pendante(s), sans nom : {shown}.", expected="aucune image <none>", found=shown)
    return ok(f"Plus aucune image pendante, et {_list(keep)} sont toujours là." if keep else "Plus aucune image pendante.")


def answer_image_count(snapshot, params, answer):
    """The answer is how many images the daemon holds (the TOTAL of `docker system df`'s Images line)."""
    given = clean_answer(answer)
    if not re.fullmatch(r"\d+", given):
        return fail(f"« {given} » n'est pas un nombre : donnez le TOTAL de la ligne Images.", expected="un nombre")
    if int(given) == len(snapshot.images):
        return ok(f"Oui : le démon garde {len(snapshot.images)} images.")
    return fail(
        f"Le démon ne garde pas {int(given)} images : relisez la colonne TOTAL de la ligne Images de docker system df "
        "(les images pendantes <none> comptent aussi).", expected="le TOTAL des images",
    )


def _depends_on(container):
    """What a Compose container waits for, from its label: {service: condition} ("cache:service_healthy:false,…")."""
    found = {}
    for entry in container.labels.get(DEPENDS_ON_LABEL, "").split(","):
        service, _, rest = entry.strip().partition(":")
        if service:
            found[service] = rest.split(":", 1)[0] or "service_started"
    return found


def compose_waits_healthy(snapshot, params, answer=None):
    """`service` waits for `dependency` to be healthy (depends_on: condition: service_healthy), and it is."""
    project, service, dependency = params["project"], params["service"], params["dependency"]
    mine = _compose_containers(snapshot, project)
    of = lambda name: [c for c in mine if c.labels.get(SERVICE_LABEL) == name]  # noqa: E731
    for name in (service, dependency):
        if not of(name):
            return fail(f"Aucun conteneur du service {name} dans le projet {project} : démarrez-le avec docker compose up -d.",
                        expected=f"{project} : {name}", found=f"{project} : {_services_found(mine)}" if mine else "aucun")
    waited = _depends_on(of(service)[0])
    if dependency not in waited:
        return fail(f"{service} ne dépend pas de {dependency} : ajoutez depends_on à {service} dans compose.yaml.",
                    expected=f"{dependency} : service_healthy", found=_list([f"{k} : {v}" for k, v in waited.items()]))
    if waited[dependency] != "service_healthy":
        return fail(
            f"{service} attend seulement que {dependency} soit {'démarré' if waited[dependency] == 'service_started' else 'terminé'} "
            f"(condition : {waited[dependency]}) : demandez condition: service_healthy.",
            expected="service_healthy", found=waited[dependency],
        )
    health = of(dependency)[0].health
    if health != "healthy":
        said = {
            "": f"{dependency} n'a pas de healthcheck : ajoutez healthcheck: à son service.",
            "starting": f"{dependency} n'est pas encore déclaré sain (starting) : attendez quelques secondes.",
            "unhealthy": f"{dependency} est déclaré malade (unhealthy) : sa commande de test échoue (docker compose ps, docker inspect).",
        }
        return fail(said.get(health, f"{dependency} est dans l'état de santé {health}."), expected="healthy", found=health or "aucun healthcheck")
    return ok(f"{service} attend que {dependency} soit sain, et {dependency} l'est.")


def compose_down(snapshot, params, answer=None):
    """The project was brought down with its volumes (down -v): none of its containers or volumes is left; its image was built."""
    project = params["project"]
    image = normalize_reference(params["image"])
    if snapshot.image(image) is None:
        return fail(f"Aucune image {image} : construisez et démarrez d'abord le projet (docker compose up -d --build), puis arrêtez-le.",
                    expected=image, found=_list(snapshot.all_tags()))
    left = _compose_containers(snapshot, project)
    if left:
        stopped = all(c.status != "running" for c in left)
        why = " : ils sont arrêtés mais pas supprimés (docker compose stop ne supprime rien)" if stopped else ""
        return fail(f"Le projet {project} a encore des conteneurs{why} : docker compose down -v.",
                    expected="aucun conteneur", found=_services_found(left))
    volumes = [v.name for v in snapshot.volumes if v.labels.get(PROJECT_LABEL) == project]
    if volumes:
        return fail(f"Les conteneurs sont supprimés, mais le volume {_list(volumes)} reste : docker compose down -v supprime aussi les volumes du projet.",
                    expected="aucun volume", found=_list(volumes))
    return ok(f"Le projet {project} est arrêté, conteneurs, réseau et volumes supprimés ; l'image {image} reste pour la prochaine fois.")


def different_images(snapshot, params, answer=None):
    """Each tag, pulled from the registry, is an image of its own: another version is another image."""
    refs = [normalize_reference(r) for r in params["images"]]
    missing = [r for r in refs if snapshot.image(r) is None]
    if missing:
        return fail(f"Il manque {_list(missing)} : tirez d'abord ces images.", expected=_list(refs), found=_list(snapshot.all_tags()))
    retagged = [r for r in refs if not any(repository_of(d) == repository_of(r) for d in snapshot.image(r).digests)]
    if retagged:
        return fail(
            f"{_list(retagged)} n'a pas été tirée du registre (aucun digest : un tag posé avec docker tag ?). "
            f"Tirez-la : docker pull {retagged[0]}.",
            expected=f"{_list(refs)} tirées du registre", found=_list(f"{r} ({short_id(snapshot.image(r).id)})" for r in retagged),
        )
    ids = {r: snapshot.image(r).id for r in refs}
    found = ", ".join(f"{r} = {short_id(i)}" for r, i in ids.items())
    if len(set(ids.values())) == len(refs):
        return ok(f"{_list(refs)} sont bien des images différentes : {found}.")
    return fail(f"Ces tags désignent la même image : {found}. Deux versions différentes devraient être deux images.", expected="un IMAGE ID par tag", found=found)


CHECKS = {
    "image_present": CheckSpec(image_present, ("image",)),
    "image_absent": CheckSpec(image_absent, ("image",), ("also",)),
    "same_image": CheckSpec(same_image, ("images",)),
    "answer_image_id": CheckSpec(answer_image_id, ("image",), ("full",), needs_answer=True),
    "image_built": CheckSpec(image_built, ("image",), ("base", "cmd", "entrypoint", "non_root", "max_added_mb")),
    "build_cache_reused": CheckSpec(build_cache_reused, ("image", "changed_step"), ("base",)),
    "container_running": CheckSpec(container_running, ("name",), ("image",)),
    "container_exited": CheckSpec(container_exited, ("name",), ("image", "exit_code")),
    "container_ran": CheckSpec(container_ran, ("image",)),
    "answer_container_ip": CheckSpec(answer_container_ip, ("name",), needs_answer=True),
    "port_published": CheckSpec(port_published, ("name", "container_port"), ("host_port", "image")),
    "volume_exists": CheckSpec(volume_exists, ("name",)),
    "container_mounts": CheckSpec(container_mounts, ("name", "destination"), ("volume", "type", "read_only", "image", "started")),
    "volume_file_contains": CheckSpec(
        volume_file_contains, ("volume", "path", "text"), files=lambda params: [(params["volume"], params["path"])],
    ),
    "network_exists": CheckSpec(network_exists, ("name",)),
    "container_connected": CheckSpec(container_connected, ("name", "network"), ("image",)),
    "compose_running": CheckSpec(compose_running, ("project", "services")),
    "multi_stage_smaller": CheckSpec(multi_stage_smaller, ("image", "than"), ("base",)),
    "image_pushed": CheckSpec(image_pushed, ("image",), ("source",)),
    "stopped_containers_removed": CheckSpec(stopped_containers_removed, (), ("keep",)),
    "dangling_images_removed": CheckSpec(dangling_images_removed, (), ("keep",)),
    "answer_image_count": CheckSpec(answer_image_count, (), needs_answer=True),
    "container_absent": CheckSpec(container_absent, ("name",)),
    "container_restarted": CheckSpec(container_restarted, ("name",), ("image",)),
    "restart_policy": CheckSpec(restart_policy, ("name", "policy"), ("min_restarts", "image")),
    "container_reached": CheckSpec(container_reached, ("name", "target"), ("network", "image")),
    "port_answers": CheckSpec(
        port_answers, ("name", "container_port", "host_port"), ("path", "text", "status", "image"), http=lambda params: [_probe(params)],
    ),
    "compose_waits_healthy": CheckSpec(compose_waits_healthy, ("project", "service", "dependency")),
    "compose_down": CheckSpec(compose_down, ("project", "image")),
    "different_images": CheckSpec(different_images, ("images",)),
}


def params_problems(name, params):
    """What is wrong with a lab's use of a check, as messages (empty when fine)."""
    spec = CHECKS.get(name)
    if spec is None:
        return [f"unknown check {name!r} (known: {', '.join(sorted(CHECKS))})"]
    if not isinstance(params, dict):
        return ["params must be a mapping"]
    problems = [f"missing param {key!r}" for key in spec.required if key not in params]
    allowed = set(spec.required) | set(spec.optional)
    problems += [f"unknown param {key!r} (allowed: {', '.join(sorted(allowed))})" for key in params if key not in allowed]
    if spec.http and not problems:
        try:
            probes = spec.http(params)
        except (TypeError, ValueError):
            probes = [(params.get("host_port"), params.get("path", "/"))]
        problems += [
            f"cannot probe port {port!r} at path {path!r}: a port is a number from 1 to 65535, a path starts with /"
            for port, path in probes if http_probe_url(port, path) is None
        ]
    return problems


def http_needed(name, params):
    spec = CHECKS[name]
    return spec.http(params) if spec.http else []


def files_needed(name, params):
    spec = CHECKS[name]
    return spec.files(params) if spec.files else []


def run_check(name, snapshot, params, answer=None):
    spec = CHECKS[name]
    return spec.function(snapshot, params, answer)
