#!/usr/bin/env python3
"""Seed the course registry's volume with the course images of the Docker engine, then exit.

Run by the one-shot `registry-seed` service of docker-compose.yaml, before the
read-only `registry` starts on the same volume. It serves the volume writable
on 127.0.0.1:DRYDOCK_REGISTRY_SEED_PORT of the host (its network), has the
engine push every course tag of images/catalog.json there as
library/<name>:<tag> (plus the full-version tag the image carries, such as
nginx:1.22.1), skipping tags whose manifest already names the local image,
garbage-collects unused blobs and stops. A second run with nothing changed
takes a second.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import docker

CATALOG = "/etc/drydock/catalog.json"
WRITABLE = "/etc/docker/registry/writable.yml"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def say(text):
    print(f"registry-seed | {text}", flush=True)


def answers(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def served_image_id(port, repo, tag):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v2/{repo}/manifests/{tag}", headers={"Accept": MANIFEST_V2})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read()).get("config", {}).get("digest")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def course_tags(client):
    """(name, tag, image id) of every course tag, each checked to be on the engine."""
    found, missing = [], []
    for entry in json.load(open(CATALOG))["images"]:
        if not entry.get("course"):
            continue
        try:
            image = client.images.get(f"{entry['name']}:{entry['tags'][0]}")
        except docker.errors.ImageNotFound:
            missing.append(f"{entry['name']}:{entry['tags'][0]}")
            continue
        tags = list(entry["tags"])
        # The full upstream version tag images/build.py adds (nginx:1.22.1), if the image has one.
        for ref in image.tags:
            name, _, tag = ref.rpartition(":")
            if name == entry["name"] and re.fullmatch(r"\d+\.\d+\.\d+", tag) and tag not in tags:
                tags.append(tag)
        found += [(entry["name"], tag, image.id) for tag in tags]
    if missing:
        raise SystemExit(f"registry-seed | the engine lacks the course images {', '.join(missing)}: "
                         "build them first (bin/drydock compose-build)")
    return found


def main():
    port = int(os.environ.get("DRYDOCK_REGISTRY_SEED_PORT", "5001"))
    client = docker.DockerClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), timeout=900)
    todo = course_tags(client)
    # Its log goes to a file: a pipe nobody reads would fill up and block the registry mid-push.
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen(["docker-registry", "serve", WRITABLE], env={**os.environ, "REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}"},
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise SystemExit(f"registry-seed | the writable registry did not answer on 127.0.0.1:{port}: {log.read()[-800:]}")
            time.sleep(0.1)
        pushed = 0
        for name, tag, image_id in todo:
            if served_image_id(port, f"library/{name}", tag) == image_id:
                continue
            repo = f"127.0.0.1:{port}/library/{name}"
            started = time.monotonic()
            client.images.get(image_id).tag(repo, tag)
            try:
                for line in client.images.push(repo, tag, stream=True, decode=True):
                    if "error" in line:
                        raise SystemExit(f"registry-seed | push of {name}:{tag} failed: {line['error']}")
            finally:
                client.images.remove(f"{repo}:{tag}", noprune=True)
            pushed += 1
            say(f"pushed library/{name}:{tag} in {time.monotonic() - started:.1f} s")
        if pushed:
            collected = subprocess.run(["docker-registry", "garbage-collect", "--delete-untagged", WRITABLE],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            say(f"garbage-collect: {sum('eligible for deletion' in line for line in collected.stdout.splitlines())} unused blobs deleted")
        say(f"{len(todo)} course tags served, {pushed} pushed now")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
